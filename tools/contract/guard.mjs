#!/usr/bin/env node
// secworks contract guard.
//
// Compares the working-tree contract (schema.graphql, openapi.yaml) with the contract last
// published to clients (contract/published/) and fails when a change breaks existing clients,
// unless contract/intended-breaking-changes.yaml records that exact change. A recorded change
// that no longer occurs (a stale entry) fails too, so the list stays honest.
//
// The comparisons are done by established tools, not by this file (tools/contract/README.md says
// which and why):
//   schema.graphql  @graphql-inspector/core  diff(): each change has a type, a path and a
//                                            criticality (BREAKING / DANGEROUS / NON_BREAKING)
//   openapi.yaml    Optic's breaking-changes ruleset (@useoptic/standard-rulesets) run by
//                   @useoptic/openapi-utilities compareSpecs(): each failed rule has a name
//                   and a location ("where")
// This file only loads the files, runs the tools, matches their findings against the record
// and prints the result.
//
// Usage (normally through .ci/contract-guard):
//   node guard.mjs [--published DIR] [--current DIR] [--intended FILE]
//   node guard.mjs --publish
// Exit status: 0 no unrecorded breaking change; 1 the guard refuses (unrecorded breaking change,
// stale or invalid record, contract file that does not parse); 2 usage error or crash.

import { readFile, writeFile, copyFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import { buildSchema } from 'graphql';
import { diff as graphqlDiff, CriticalityLevel } from '@graphql-inspector/core';
import YAML from 'yaml';
import openapiIo from '@useoptic/openapi-io';
import openapiUtilities from '@useoptic/openapi-utilities';
import rulesetsBase from '@useoptic/rulesets-base';
import standardRulesets from '@useoptic/standard-rulesets';

const { parseOpenAPIWithSourcemap, checkOpenAPIVersion, validateOpenApiV3Document, denormalize } =
  openapiIo;
const { compareSpecs } = openapiUtilities;
const { RuleRunner } = rulesetsBase;
const { BreakingChangesRuleset } = standardRulesets;

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const GRAPHQL = 'schema.graphql';
const OPENAPI = 'openapi.yaml';
const FILES = [GRAPHQL, OPENAPI];
const ENTRY_KEYS = ['file', 'change', 'at', 'reason', 'date'];

/** A finding that makes the guard refuse, with a message meant for the developer. */
class GuardError extends Error {}

/** A command line the guard does not understand. */
class UsageError extends Error {}

const USAGE =
  'usage: guard.mjs [--published DIR] [--current DIR] [--intended FILE]\n' +
  '       guard.mjs --publish [--published DIR] [--current DIR] [--intended FILE]';

function usage(message) {
  throw new UsageError(`contract guard: ${message}\n${USAGE}`);
}

function parseArgs(argv) {
  const opts = {
    published: path.join(ROOT, 'contract', 'published'),
    current: ROOT,
    intended: path.join(ROOT, 'contract', 'intended-breaking-changes.yaml'),
    publish: false,
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--publish') opts.publish = true;
    else if (['--published', '--current', '--intended'].includes(arg)) {
      const value = argv[++i];
      if (!value) usage(`${arg} needs a value`);
      opts[arg.slice(2)] = path.resolve(value);
    } else usage(`unknown argument ${arg}`);
  }
  return opts;
}

/** The path as a reader of the CI log would type it: relative to the repository if inside it. */
function shown(p) {
  const rel = path.relative(ROOT, p);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : p;
}

async function readText(file) {
  try {
    return await readFile(file, 'utf8');
  } catch (e) {
    throw new GuardError(`cannot read ${shown(file)}: ${e.code ?? e.message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The record of intended breaking changes.

async function loadIntended(file) {
  const text = await readText(file);
  const doc = YAML.parseDocument(text);
  if (doc.errors.length) {
    throw new GuardError(`${shown(file)} is not valid YAML: ${doc.errors[0].message}`);
  }
  const data = doc.toJS();
  const problems = [];
  if (data === null || typeof data !== 'object' || Array.isArray(data)) {
    throw new GuardError(`${shown(file)} must be a mapping with a 'changes' list`);
  }
  for (const key of Object.keys(data)) {
    if (key !== 'changes') problems.push(`unknown top-level key '${key}' (only 'changes')`);
  }
  if (!Array.isArray(data.changes)) {
    throw new GuardError(`${shown(file)}: 'changes' must be a list (use 'changes: []' for none)`);
  }
  const seen = new Set();
  data.changes.forEach((entry, i) => {
    const where = `changes[${i}]`;
    if (entry === null || typeof entry !== 'object' || Array.isArray(entry)) {
      problems.push(`${where} must be a mapping with keys ${ENTRY_KEYS.join(', ')}`);
      return;
    }
    for (const key of Object.keys(entry)) {
      if (!ENTRY_KEYS.includes(key)) problems.push(`${where}: unknown key '${key}'`);
    }
    for (const key of ENTRY_KEYS) {
      if (typeof entry[key] !== 'string' || entry[key].trim() === '') {
        problems.push(`${where}: '${key}' must be a non-empty string`);
      }
    }
    if (typeof entry.file === 'string' && !FILES.includes(entry.file)) {
      problems.push(`${where}: 'file' must be one of ${FILES.join(', ')}, not '${entry.file}'`);
    }
    if (typeof entry.date === 'string' && !isIsoDate(entry.date)) {
      problems.push(`${where}: 'date' must be a date written YYYY-MM-DD, not '${entry.date}'`);
    }
    const k = key(entry);
    if (seen.has(k)) problems.push(`${where} repeats an earlier entry (${entry.file} ${entry.change} ${entry.at})`);
    seen.add(k);
  });
  if (problems.length) {
    throw new GuardError(
      `${shown(file)} has ${problems.length} invalid entr${problems.length === 1 ? 'y' : 'ies'}:\n` +
        problems.map((p) => `  - ${p}`).join('\n'),
    );
  }
  return data.changes;
}

function isIsoDate(s) {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(s)) return false;
  const d = new Date(`${s}T00:00:00Z`);
  return !Number.isNaN(d.getTime()) && d.toISOString().slice(0, 10) === s;
}

const key = (c) => `${c.file}\u0000${c.change}\u0000${c.at}`;

// ---------------------------------------------------------------------------------------------
// schema.graphql through graphql-inspector.

async function loadSchema(file) {
  const text = await readText(file);
  try {
    return buildSchema(text);
  } catch (e) {
    throw new GuardError(`${shown(file)} is not a valid GraphQL schema: ${e.message}`);
  }
}

async function graphqlChanges(publishedFile, currentFile) {
  const [before, after] = await Promise.all([loadSchema(publishedFile), loadSchema(currentFile)]);
  const changes = await graphqlDiff(before, after);
  const level = {
    [CriticalityLevel.Breaking]: 'breaking',
    [CriticalityLevel.Dangerous]: 'dangerous',
    [CriticalityLevel.NonBreaking]: 'safe',
  };
  return changes.map((c) => ({
    file: GRAPHQL,
    level: level[c.criticality.level] ?? 'breaking',
    change: c.type,
    at: c.path ?? c.message,
    message: c.message,
    reason: c.criticality.reason,
  }));
}

// ---------------------------------------------------------------------------------------------
// openapi.yaml through Optic's breaking-changes ruleset.

async function loadOpenApi(file) {
  await readText(file); // a clear error for a missing file before the parser's own
  try {
    const parsed = await parseOpenAPIWithSourcemap(file);
    const version = checkOpenAPIVersion(parsed.jsonLike);
    if (version === '2.x.x') throw new Error('Swagger 2 is not supported; the contract is OpenAPI 3');
    validateOpenApiV3Document(parsed.jsonLike, parsed.sourcemap, { strictOpenAPI: true });
    return denormalize({ ...parsed, version, isEmptySpec: false }, version, []);
  } catch (e) {
    throw new GuardError(`${shown(file)} is not a valid OpenAPI document: ${e.message}`);
  }
}

function decodePointer(pointer) {
  return pointer
    .split('/')
    .slice(1)
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join(' > ');
}

async function openapiChanges(publishedFile, currentFile) {
  const [before, after] = await Promise.all([loadOpenApi(publishedFile), loadOpenApi(currentFile)]);
  // Constructed directly, the ruleset checks every change; built from an Optic config file it
  // would by default skip all checks when info.version changes major, which would let a version
  // bump silence the guard.
  const runner = new RuleRunner([new BreakingChangesRuleset()]);
  const { diffs, results } = await compareSpecs(before, after, runner, {});

  const failed = results
    .filter((r) => !r.passed && !r.exempted)
    .map((r) => ({ ...r, pointer: r.location?.jsonPath ?? '' }));
  // Removing an operation also removes its responses and their properties; removing a response
  // removes its properties. Report only the outermost break and count what it implies, so that
  // one deliberate removal is one record.
  const breaking = failed
    .filter((r) => !failed.some((o) => o !== r && o.pointer && r.pointer.startsWith(`${o.pointer}/`)))
    .map((r) => ({
      file: OPENAPI,
      level: 'breaking',
      change: r.name,
      at: r.where,
      message: r.error ?? r.name,
      implied: r.pointer ? failed.filter((o) => o.pointer.startsWith(`${r.pointer}/`)).length : 0,
    }));

  // Everything else the diff found, for the log: what lies at or inside a break is part of it,
  // and component schemas are reported where they are used (the ruleset reads them inlined
  // under paths), so their own copies are left out.
  const partOfBreak = (p) => failed.some((r) => r.pointer && (p === r.pointer || p.startsWith(`${r.pointer}/`)));
  const safe = diffs
    .map((d) => {
      const kind = d.before && d.after ? 'changed' : d.after ? 'added' : 'removed';
      return { kind, pointer: d.after ?? d.before };
    })
    .filter((d) => !d.pointer.startsWith('/components/schemas/') && !partOfBreak(d.pointer))
    .map((d) => ({
      file: OPENAPI,
      level: 'safe',
      change: d.kind,
      at: decodePointer(d.pointer),
      message: `${d.kind} ${decodePointer(d.pointer)}`,
    }));
  return [...breaking, ...safe];
}

// ---------------------------------------------------------------------------------------------
// Matching and the report.

async function check(opts, log) {
  const intended = await loadIntended(opts.intended);
  const errors = [];
  const found = [];
  const compared = [
    [GRAPHQL, graphqlChanges],
    [OPENAPI, openapiChanges],
  ];
  for (const [file, compare] of compared) {
    try {
      found.push(...(await compare(path.join(opts.published, file), path.join(opts.current, file))));
    } catch (e) {
      if (!(e instanceof GuardError)) throw e;
      errors.push({ file, message: e.message });
    }
  }

  const recorded = new Map(intended.map((e) => [key(e), e]));
  const breaking = found.filter((c) => c.level === 'breaking');
  const unrecorded = breaking.filter((c) => !recorded.has(key(c)));
  const occurring = new Set(breaking.map(key));
  // A stale entry only counts when its file could be compared: a file that fails to parse is
  // reported as such, not as a flood of stale records.
  const failedFiles = new Set(errors.map((e) => e.file));
  const stale = intended.filter((e) => !occurring.has(key(e)) && !failedFiles.has(e.file));

  for (const file of FILES) {
    log(`== ${file}: ${shown(path.join(opts.current, file))} vs ${shown(path.join(opts.published, file))}`);
    const mine = found.filter((c) => c.file === file);
    if (failedFiles.has(file)) log('   not compared (see below)');
    else if (mine.length === 0) log('   no changes');
    for (const level of ['breaking', 'dangerous', 'safe']) {
      for (const c of mine.filter((m) => m.level === level)) {
        const tag =
          level === 'breaking'
            ? recorded.has(key(c))
              ? 'BREAKING (recorded as intended)'
              : 'BREAKING'
            : level === 'dangerous'
              ? 'dangerous (allowed)'
              : 'safe';
        const head = file === OPENAPI && level === 'safe' ? c.message : `[${c.change}] ${c.at}`;
        log(`   ${tag.padEnd(10)} ${head}`);
        if (level !== 'safe') {
          if (c.message !== head) log(`   ${''.padEnd(10)}   ${c.message}`);
          if (c.reason) log(`   ${''.padEnd(10)}   why: ${c.reason}`);
          if (c.implied) log(`   ${''.padEnd(10)}   (and ${c.implied} break${c.implied === 1 ? '' : 's'} inside it)`);
        }
      }
    }
  }

  const ok = errors.length === 0 && unrecorded.length === 0 && stale.length === 0;
  log('');
  if (ok) {
    const n = breaking.length;
    log(
      `contract guard: OK: no unrecorded breaking change` +
        (n ? ` (${n} breaking change${n === 1 ? '' : 's'} recorded as intended)` : ''),
    );
    return { ok, breaking };
  }
  log('contract guard: FAILED');
  for (const e of errors) log(`\n${e.message}`);
  if (unrecorded.length) {
    const today = new Date().toISOString().slice(0, 10);
    log(
      `\n${unrecorded.length} breaking change${unrecorded.length === 1 ? '' : 's'} would break clients ` +
        `built against ${shown(opts.published)}:`,
    );
    for (const c of unrecorded) log(`  - ${c.file}: ${c.change} at ${c.at}\n      ${c.message}`);
    log(
      `\nIf the contract files are wrong, change them back. If the break is deliberate, add ` +
        `to the 'changes' list in ${shown(opts.intended)}:\n`,
    );
    const snippet = YAML.stringify(
      unrecorded.map((c) => ({
        file: c.file,
        change: c.change,
        at: c.at,
        reason: 'WHY CLIENTS MUST ACCEPT THIS BREAK',
        date: today,
      })),
      { lineWidth: 0 },
    );
    log(snippet.replace(/^/gm, '  ').trimEnd());
  }
  if (stale.length) {
    log(
      `\n${stale.length} recorded intended change${stale.length === 1 ? ' no longer occurs' : 's no longer occur'}; ` +
        `remove ${stale.length === 1 ? 'it' : 'them'} from ${shown(opts.intended)}:`,
    );
    for (const e of stale) log(`  - ${e.file}: ${e.change} at ${e.at} (recorded ${e.date})`);
  }
  return { ok, breaking };
}

async function publish(opts, log) {
  const { ok } = await check(opts, log);
  if (!ok) {
    log('\ncontract guard: not publishing while the check fails.');
    return false;
  }
  const intended = await loadIntended(opts.intended);
  for (const file of FILES) await copyFile(path.join(opts.current, file), path.join(opts.published, file));
  const doc = YAML.parseDocument(await readText(opts.intended));
  doc.set('changes', doc.createNode([], { flow: true }));
  await writeFile(opts.intended, doc.toString());
  log(`\ncontract guard: published ${FILES.join(' and ')} to ${shown(opts.published)}.`);
  if (intended.length) {
    log(`Cleared ${intended.length} recorded breaking change${intended.length === 1 ? '' : 's'}; ` +
      'name them in the release notes and the commit message:');
    for (const e of intended) log(`  - ${e.file}: ${e.change} at ${e.at}: ${e.reason}`);
  }
  log(`Commit ${shown(opts.published)} and ${shown(opts.intended)} together.`);
  return true;
}

/**
 * Runs the guard as its command line does and returns the exit status; `log` receives the
 * report line by line. The self-test calls this in-process.
 */
export async function main(argv, log = console.log) {
  try {
    const opts = parseArgs(argv);
    const ok = opts.publish ? await publish(opts, log) : (await check(opts, log)).ok;
    return ok ? 0 : 1;
  } catch (e) {
    if (e instanceof GuardError) {
      log(`contract guard: FAILED\n\n${e.message}`);
      return 1;
    }
    if (e instanceof UsageError) {
      log(e.message);
      return 2;
    }
    throw e;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  try {
    process.exitCode = await main(process.argv.slice(2));
  } catch (e) {
    console.error(e);
    process.exitCode = 2;
  }
}
