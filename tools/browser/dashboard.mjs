// Drives headless Chromium through the dashboard at /ui of a running secworks (base URL in
// SECWORKS_URL) whose blocklist is a test DNS server (.ci/browser starts one: ZEN's zone on
// loopback, listing one address in ten of 10.0.0.0/12). First, through the API: a watchlist of
// listed and clean addresses, queued and looked up. Then in the browser: the login form, and
// every part of the dashboard showing that data (blocklists with health and budget, the
// queue, both charts with their text alternatives, the listed watched targets with reason and
// delist link, the recent listing events). axe-core checks the page in light and dark and
// fails on a serious or critical violation. A full-page screenshot goes to
// target/artifacts/dashboard.png (CI keeps target/artifacts/).
//
// As in check.mjs: every request must stay on the service's origin, and the page may log no
// error or warning (a Content-Security-Policy refusal included).
// Prints one line per check and exits non-zero on any failure. Run by .ci/browser.
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';

const SERVICE = process.env.SECWORKS_URL;
const CHROMIUM = process.env.CHROMIUM ?? '/usr/bin/chromium';
const USER = 'secureworks';
const PASSWORD = 'supersecret';
const TOTAL_MS = 120_000;
const STEP_MS = 20_000;
// The bench DNS server lists 10.0.0.0, 10.0.0.10, ... (one in ten) and nothing else.
const LISTED = ['10.0.0.0', '10.0.0.10', '10.0.0.20'];
const CLEAN = ['10.0.0.1', '10.0.0.2'];
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const SCREENSHOT = join(ROOT, 'target', 'artifacts', 'dashboard.png');
// axe-core is a test tool only: injected into the page from node_modules, never served.
const AXE = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');

if (!SERVICE) {
  console.error('dashboard.mjs: set SECWORKS_URL (run it through .ci/with-server)');
  process.exit(2);
}
const ORIGIN = new URL(SERVICE).origin;

const timer = setTimeout(() => {
  console.error(`dashboard.mjs: gave up after ${TOTAL_MS / 1000} s`);
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

// ---- data, through the API ------------------------------------------------------------

async function apiToken() {
  const res = await fetch(`${ORIGIN}/graphql/tokens`, {
    method: 'POST',
    headers: { Authorization: 'Basic ' + Buffer.from(`${USER}:${PASSWORD}`).toString('base64') },
  });
  if (!res.ok) throw new Error(`POST /graphql/tokens: HTTP ${res.status}`);
  return (await res.json()).token;
}

async function graphql(token, query, variables = {}) {
  const res = await fetch(`${ORIGIN}/graphql`, {
    method: 'POST',
    headers: { Authorization: `Bearer ${token}`, 'Content-Type': 'application/json' },
    body: JSON.stringify({ query, variables }),
  });
  const body = await res.json();
  if (!res.ok || body.errors) throw new Error(`HTTP ${res.status}: ${JSON.stringify(body).slice(0, 300)}`);
  return body.data;
}

/** Asks `read` again until `done` holds for its answer (the lookups run in the background). */
async function until(read, done, what) {
  const deadline = Date.now() + STEP_MS;
  for (;;) {
    const value = await read();
    if (done(value)) return value;
    if (Date.now() > deadline) throw new Error(`gave up waiting for ${what}: ${JSON.stringify(value).slice(0, 300)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

let apiReady = false;
apiReady = await check('the API takes a watchlist and its lookups find the listed addresses', async () => {
  const token = await apiToken();
  await graphql(
    token,
    'mutation($t: [String!]!) { putWatchlist(name: "mail-servers", targets: $t, interval: "1h") { name } }',
    { t: [...LISTED, ...CLEAN] },
  );
  await graphql(token, 'mutation($ip: [String!]!) { enqueue(ip: $ip) }', { ip: [...LISTED, ...CLEAN] });
  const listings = await until(
    () => graphql(token, '{ watchedListings { target } queueStatus { pending running } }'),
    (d) => d.watchedListings.length === LISTED.length && d.queueStatus.pending + d.queueStatus.running === 0,
    'the listed addresses',
  );
  return listings.watchedListings.map((l) => l.target).join(', ');
});

// ---- the page ---------------------------------------------------------------------------

const requests = [];
const problems = [];
const note = (text) => problems.push(text.length > 300 ? `${text.slice(0, 300)}…` : text);

const profile = mkdtempSync(join(tmpdir(), 'secworks-chromium-'));
const context = await chromium.launchPersistentContext(profile, {
  executablePath: CHROMIUM,
  headless: true,
  viewport: { width: 1366, height: 768 },
  colorScheme: 'light',
  args: [
    '--no-sandbox',
    '--disable-gpu',
    '--disable-background-networking',
    '--disable-quic',
    '--no-first-run',
    '--disable-component-update',
    '--disable-sync',
  ],
});
context.setDefaultTimeout(STEP_MS);
context.on('request', (req) => requests.push(req));
const page = context.pages()[0] ?? (await context.newPage());
page.on('console', (msg) => {
  if (msg.type() !== 'error' && msg.type() !== 'warning') return;
  const where = msg.location().url || page.url();
  // Chromium asks every origin for /favicon.ico, which secworks does not serve.
  if (new URL(where, ORIGIN).pathname === '/favicon.ico') return;
  note(`${where}: console ${msg.type()}: ${msg.text()}`);
});
page.on('pageerror', (err) => note(`${page.url()}: page error: ${err.message}`));
page.on('requestfailed', (req) => note(`${req.method()} ${req.url()} failed: ${req.failure()?.errorText}`));
page.on('response', (res) => {
  if (res.status() >= 400 && new URL(res.url()).pathname !== '/favicon.ico') {
    note(`${res.request().method()} ${res.url()}: HTTP ${res.status()}`);
  }
});

const text = (selector) => page.locator(selector).innerText();

async function runAxe(scheme) {
  await page.emulateMedia({ colorScheme: scheme });
  // page.evaluate runs through the DevTools protocol, which the page's CSP does not govern;
  // a <script> tag with axe in it would be refused, as it should be.
  if (!(await page.evaluate(() => typeof window.axe === 'object'))) await page.evaluate(AXE);
  const result = await page.evaluate(() =>
    window.axe.run(document, { resultTypes: ['violations'] }),
  );
  const bad = result.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical');
  const minor = result.violations.filter((v) => !bad.includes(v));
  if (bad.length) {
    const lines = bad.map(
      (v) => `${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(' ')).slice(0, 5).join('; ')})`,
    );
    throw new Error(`${bad.length} serious or critical:\n  ${lines.join('\n  ')}`);
  }
  return minor.length ? `minor: ${minor.map((v) => `${v.impact} ${v.id}`).join(', ')}` : 'no violations';
}

try {
  await check('/ui shows a login form and no data before a login', async () => {
    await page.goto(`${ORIGIN}/ui`);
    await page.locator('#login input[name=username]').waitFor();
    if (await page.locator('#board').isVisible()) throw new Error('the board shows before a login');
  });

  const loggedIn = await check(
    '/ui logs in and loads the dashboard with the token',
    async () => {
      const loaded = page.waitForResponse(
        (r) => r.url() === `${ORIGIN}/graphql` && (r.request().postData() ?? '').includes('blocklistUsage'),
      );
      await page.fill('#login input[name=username]', USER);
      await page.fill('#login input[name=password]', PASSWORD);
      await page.click('#login button[type=submit]');
      const res = await loaded;
      const auth = res.request().headers().authorization ?? '';
      if (!auth.startsWith('Bearer v4.local.')) throw new Error(`sent Authorization: ${auth.slice(0, 20)}`);
      if (res.status() !== 200) throw new Error(`POST /graphql: HTTP ${res.status()}`);
      await page.locator('#board').waitFor({ state: 'visible' });
      await page.locator('#updated', { hasText: 'Updated' }).waitFor();
    },
    apiReady,
  );

  await check(
    'blocklists: ZEN with its health and budget use',
    async () => {
      const row = await text('#lists tbody tr:first-child');
      if (!row.includes('spamhaus-zen') || !row.includes('Healthy')) throw new Error(row);
      const queries = Number((await text('#lists tbody tr:first-child td:nth-child(3)')).replace(/,/g, ''));
      if (!(queries >= LISTED.length + CLEAN.length)) throw new Error(`queries today: ${queries}`);
      return row.replace(/\s+/g, ' ');
    },
    loggedIn,
  );

  await check(
    'queue: the lookups done, lookups running',
    async () => {
      const done = Number((await text('#queue [data-field=done]')).replace(/,/g, ''));
      if (!(done >= LISTED.length + CLEAN.length)) throw new Error(`done: ${done}`);
      const state = await text('#queue [data-field=state]');
      if (state !== 'Running') throw new Error(`lookups: ${state}`);
      return `${done} done`;
    },
    loggedIn,
  );

  await check(
    'chart: queries per hour, drawn, with a summary and a data table',
    async () => {
      await page.locator('#usage-chart canvas').waitFor();
      const label = await page.locator('#usage-chart').getAttribute('aria-label');
      if (!/spamhaus-zen: [\d,]+ queries/.test(label)) throw new Error(label);
      const cells = await page.locator('#usage-table tbody tr').count();
      if (cells !== 48) throw new Error(`${cells} rows in its table`);
      return label;
    },
    loggedIn,
  );

  await check(
    'chart: listed targets over time, drawn, with a summary and a data table',
    async () => {
      await page.locator('#listed-chart canvas').waitFor();
      const label = await page.locator('#listed-chart').getAttribute('aria-label');
      if (!label.includes(`spamhaus-zen: ${LISTED.length} listed now`)) throw new Error(label);
      const latest = await page.locator('#listed-table tbody tr:first-child td').first().textContent();
      if (latest.trim() !== String(LISTED.length)) throw new Error(`latest hour: ${latest}`);
      return label;
    },
    loggedIn,
  );

  await check(
    'listed watched targets: each listed address with its watchlist and a delist link',
    async () => {
      const rows = page.locator('#watched tbody tr');
      if ((await rows.count()) !== LISTED.length) throw new Error(await text('#watched tbody'));
      for (const ip of LISTED) {
        const row = rows.filter({ hasText: ip });
        const shown = await row.innerText();
        if (!shown.includes('mail-servers') || !shown.includes('127.0.0.2')) throw new Error(shown);
        const href = await row.locator('a').getAttribute('href');
        if (!/^https:\/\//.test(href ?? '')) throw new Error(`delist link: ${href}`);
      }
      return `${LISTED.length} listings`;
    },
    loggedIn,
  );

  await check(
    'recent listing events: a LISTED event for each listed address',
    async () => {
      const shown = await text('#events tbody');
      for (const ip of LISTED) {
        if (!shown.includes(ip)) throw new Error(`${ip} missing: ${shown}`);
      }
      if (CLEAN.some((ip) => shown.includes(`${ip}\t`))) throw new Error(`an event for a clean address: ${shown}`);
      return `${await page.locator('#events tbody tr').count()} events`;
    },
    loggedIn,
  );

  for (const scheme of ['light', 'dark']) {
    await check(
      `axe-core: no serious or critical violation (${scheme}, chart tables open)`,
      async () => {
        await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = true; }));
        return runAxe(scheme);
      },
      loggedIn,
    );
  }

  await check(
    `full-page screenshot saved to ${SCREENSHOT}`,
    async () => {
      await page.emulateMedia({ colorScheme: 'light' });
      await page.evaluate(() => document.querySelectorAll('details').forEach((d) => { d.open = false; }));
      mkdirSync(dirname(SCREENSHOT), { recursive: true });
      await page.screenshot({ path: SCREENSHOT, fullPage: true });
    },
    loggedIn,
  );

  await check(
    '/ui logs out: the token is revoked and the board hidden',
    async () => {
      const revoked = page.waitForResponse(
        (r) => r.url() === `${ORIGIN}/graphql/tokens` && r.request().method() === 'DELETE',
      );
      await page.click('#logout');
      const res = await revoked;
      if (res.status() !== 204) throw new Error(`DELETE /graphql/tokens: HTTP ${res.status()}`);
      await page.locator('#board').waitFor({ state: 'hidden' });
      await page.locator('#login').waitFor({ state: 'visible' });
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
console.log(`dashboard: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
process.exit(counts.failed ? 1 : 0);
