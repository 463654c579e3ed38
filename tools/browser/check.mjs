// Drives headless Chromium through a running secworks (base URL in SECWORKS_URL): Swagger UI at
// /docs lists the token operations; GraphiQL at /graphiql renders, obtains a token with its
// login form and runs a query with it. Every request the pages make must stay on the service's
// origin, and no page may log an error or warning (a Content-Security-Policy refusal included).
//
// With BROWSER_HOST set (e.g. secworks.test), Chromium reaches the service under that name,
// mapped to SECWORKS_URL's address with --host-resolver-rules: scripts such as Swagger UI
// behave differently for loopback names (its validator badge skips localhost and 127.0.0.1),
// so .ci/browser runs this once each way.
// Prints one line per check and exits non-zero on any failure. Run by .ci/browser.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';

const SERVICE = process.env.SECWORKS_URL;
const HOST = process.env.BROWSER_HOST;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const USER = 'secureworks';
const PASSWORD = 'supersecret';
const TOTAL_MS = 60_000;
const STEP_MS = 15_000;
// The visible editor of GraphiQL's editor tools: the Headers tab, which the page opens.
const HEADERS_EDITOR = '.graphiql-editor-tool .graphiql-editor:not(.hidden) .CodeMirror';
const QUERY_EDITOR = '.graphiql-query-editor .CodeMirror';

if (!SERVICE) {
  console.error('check.mjs: set SECWORKS_URL (run it through .ci/with-server)');
  process.exit(2);
}
const service = new URL(SERVICE);
const base = new URL(SERVICE);
if (HOST) base.hostname = HOST;
const BASE = base.origin;
const ORIGIN = base.origin;
const hostArgs = HOST ? [`--host-resolver-rules=MAP ${HOST} ${service.hostname}`] : [];

const timer = setTimeout(() => {
  console.error(`check.mjs: gave up after ${TOTAL_MS / 1000} s`);
  process.exit(1);
}, TOTAL_MS);

const counts = { passed: 0, failed: 0, skipped: 0 };

/** Runs one check and prints its line; `ready: false` skips it (what it needs failed). */
async function check(name, fn, ready = true) {
  if (!ready) {
    counts.skipped += 1;
    console.log(`skip  ${name}`);
    return false;
  }
  try {
    const detail = await fn();
    counts.passed += 1;
    console.log(`ok    ${name}${detail ? ` (${detail})` : ''}`);
    return true;
  } catch (err) {
    counts.failed += 1;
    console.log(`FAIL  ${name}: ${err.message}`);
    return false;
  }
}

const requests = [];
const problems = [];
// While set, a 401 from POST /graphql/tokens is the answer a check asks for, not a problem.
let refusalExpected = false;
const isRefusal = (url, status) => refusalExpected && url === `${BASE}/graphql/tokens` && status === 401;
// One line each, short: a CSP refusal quotes the whole data: URL it refused.
const note = (text) => problems.push(text.length > 300 ? `${text.slice(0, 300)}…` : text);

function watch(page) {
  page.on('console', (msg) => {
    if (msg.type() !== 'error' && msg.type() !== 'warning') return;
    const where = msg.location().url || page.url();
    // Chromium asks every origin for /favicon.ico, which secworks does not serve.
    if (new URL(where, BASE).pathname === '/favicon.ico') return;
    if (isRefusal(where, 401) && msg.text().includes('status of 401')) return;
    note(`${where}: console ${msg.type()}: ${msg.text()}`);
  });
  page.on('pageerror', (err) => note(`${page.url()}: page error: ${err.message}`));
  page.on('requestfailed', (req) =>
    note(`${req.method()} ${req.url()} failed: ${req.failure()?.errorText}`),
  );
  page.on('response', (res) => {
    if (res.status() >= 400 && !isRefusal(res.url(), res.status())) {
      note(`${res.request().method()} ${res.url()}: HTTP ${res.status()}`);
    }
  });
}

/** Resolves with the first response `match` accepts; a rejection nobody awaits is not fatal. */
function responseTo(page, match) {
  const promise = page.waitForResponse(match);
  promise.catch(() => {});
  return promise;
}

const profile = mkdtempSync(join(tmpdir(), 'secworks-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-quic',
    '--no-first-run',
    '--disable-component-update',
    '--disable-sync',
    ...hostArgs,
  ],
});
context.setDefaultTimeout(STEP_MS);
context.on('request', (req) => requests.push(req));
const page = context.pages()[0] ?? (await context.newPage());
watch(page);

let token = null;
let introspected = null;
try {
  await check('/docs lists POST and DELETE /graphql/tokens', async () => {
    await page.goto(`${BASE}/docs`);
    const ops = page.locator('.opblock');
    await ops.first().waitFor();
    const listed = await ops.evaluateAll((blocks) =>
      blocks.map((b) => {
        const method = b.querySelector('.opblock-summary-method')?.textContent.trim();
        const path = b.querySelector('.opblock-summary-path')?.getAttribute('data-path');
        return `${method} ${path}`;
      }),
    );
    for (const want of ['POST /graphql/tokens', 'DELETE /graphql/tokens']) {
      if (!listed.includes(want)) throw new Error(`${want} not listed; listed: ${listed.join(', ')}`);
    }
    return listed.join(', ');
  });

  const rendered = await check('/graphiql renders its editors, the Headers tab holding the template', async () => {
    await page.goto(`${BASE}/graphiql`);
    await page.locator(QUERY_EDITOR).waitFor();
    await page.locator(HEADERS_EDITOR).waitFor();
    await page.waitForFunction(
      (sel) => document.querySelector(sel)?.CodeMirror.getValue().includes('"Authorization": "Bearer <token>"'),
      HEADERS_EDITOR,
    );
  });

  // GraphiQL's dialogs inject <style> elements: what the page's style-src has to allow.
  await check(
    '/graphiql opens its settings dialog',
    async () => {
      await page.click('[aria-label="Open settings dialog"]');
      await page.locator('[role=dialog]').waitFor();
      await page.keyboard.press('Escape');
      await page.locator('[role=dialog]').waitFor({ state: 'detached' });
    },
    rendered,
  );

  // The browser must not answer the server's Basic challenge with a login dialog of its own,
  // which would leave the form waiting.
  await check(
    '/graphiql login form reports a refused password',
    async () => {
      refusalExpected = true;
      await page.fill('#login input[name=username]', USER);
      await page.fill('#login input[name=password]', `${PASSWORD}-wrong`);
      await page.click('#login button[type=submit]');
      await page.locator('#login-status', { hasText: 'No token: Unauthorized.' }).waitFor();
      refusalExpected = false;
    },
    rendered,
  );

  const loggedIn = await check(
    '/graphiql login form puts a bearer token into the Headers tab',
    async () => {
      const issued = responseTo(
        page,
        (r) => r.url() === `${BASE}/graphql/tokens` && r.request().method() === 'POST',
      );
      // GraphiQL fetches the schema again once it has the token: watch from before the click.
      introspected = responseTo(
        page,
        (r) =>
          r.url() === `${BASE}/graphql` &&
          (r.request().postData() ?? '').includes('IntrospectionQuery') &&
          r.request().headers().authorization === `Bearer ${token}`,
      );
      await page.fill('#login input[name=username]', USER);
      await page.fill('#login input[name=password]', PASSWORD);
      await page.click('#login button[type=submit]');
      const res = await issued;
      if (!res.ok()) throw new Error(`POST /graphql/tokens: HTTP ${res.status()}`);
      ({ token } = await res.json());
      await page.waitForFunction(
        ([sel, t]) => document.querySelector(sel)?.CodeMirror.getValue().includes(`"Bearer ${t}"`),
        [HEADERS_EDITOR, token],
      );
    },
    rendered,
  );

  await check(
    '/graphiql fetches the schema with the token',
    async () => {
      const res = await introspected;
      const body = await res.json();
      if (res.status() !== 200 || !body.data?.__schema) {
        throw new Error(`HTTP ${res.status()}: ${JSON.stringify(body).slice(0, 200)}`);
      }
    },
    loggedIn,
  );

  await check(
    '/graphiql runs getIpDetails with the token',
    async () => {
      await page.evaluate(
        (sel) =>
          document
            .querySelector(sel)
            .CodeMirror.setValue('{ getIpDetails(ip: "127.0.0.2") { ip_address response_code } }'),
        QUERY_EDITOR,
      );
      const sent = page.waitForRequest(
        (r) => r.url() === `${BASE}/graphql` && (r.postData() ?? '').includes('getIpDetails'),
      );
      await page.click('.graphiql-execute-button');
      const auth = (await sent).headers().authorization;
      if (auth !== `Bearer ${token}`) throw new Error(`sent Authorization: ${auth}`);
      await page.waitForFunction(() =>
        document.querySelector('.result-window')?.innerText.includes('"ip_address": "127.0.0.2"'),
      );
      const shown = await page.locator('.result-window').innerText();
      return shown.match(/"response_code": "[^"]*"/)?.[0];
    },
    loggedIn,
  );

  await check(
    '/graphiql revokes the token and puts the template back',
    async () => {
      const revoked = responseTo(
        page,
        (r) => r.url() === `${BASE}/graphql/tokens` && r.request().method() === 'DELETE',
      );
      await page.click('#revoke');
      const res = await revoked;
      if (res.status() !== 204) throw new Error(`DELETE /graphql/tokens: HTTP ${res.status()}`);
      if (res.request().headers().authorization !== `Bearer ${token}`) throw new Error('revoked another token');
      await page.waitForFunction(
        (sel) => document.querySelector(sel)?.CodeMirror.getValue().includes('"Bearer <token>"'),
        HEADERS_EDITOR,
      );
    },
    loggedIn,
  );
} finally {
  await context.close();
  rmSync(profile, { recursive: true, force: true });
}

await check(`every request stayed on ${ORIGIN}`, async () => {
  const away = requests
    .map((r) => new URL(r.url()))
    .filter((url) => url.protocol !== 'data:' && url.protocol !== 'blob:' && url.origin !== ORIGIN);
  if (away.length) throw new Error(`left ${ORIGIN}: ${[...new Set(away.map(String))].join(', ')}`);
  return `${requests.length} requests`;
});

await check('no page error, console error or warning, failed request or HTTP error', async () => {
  if (problems.length) throw new Error(`${problems.length} found:\n  ${problems.join('\n  ')}`);
});

clearTimeout(timer);
console.log(`browser: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
process.exit(counts.failed ? 1 : 0);
