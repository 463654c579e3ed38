#!/usr/bin/env node
// Self-test of the secworks contract guard (guard.mjs).
//
// Each case copies contract/published/ into a fresh temporary directory, changes the copy (one
// breaking change, a harmless addition, or an entry in the intended-changes record), runs the
// guard on it, and checks that the guard fails or passes as it must and names the change it
// found. The guard runs in this process (its main(), with the command line's arguments) to keep
// the test quick; the cases marked `cli` run it as a separate `node guard.mjs` to prove the exit
// status CI sees. The mutations are computed from the published contract itself, so the test
// keeps working after the contract is published again.
//
// Usage: node self-test.mjs   (normally through .ci/contract-guard --self-test)

import { execFile } from 'node:child_process';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

import { parse as parseGraphql, print as printGraphql } from 'graphql';
import YAML from 'yaml';

import { main as guard } from './guard.mjs';

const run = promisify(execFile);
const HERE = path.dirname(fileURLToPath(import.meta.url));
const ROOT = path.resolve(HERE, '..', '..');
const PUBLISHED = path.join(ROOT, 'contract', 'published');
const GUARD = path.join(HERE, 'guard.mjs');
const EMPTY_RECORD = 'changes: []\n';
const TODAY = new Date().toISOString().slice(0, 10);
const ROOT_TYPES = ['Query', 'Mutation', 'Subscription'];
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

// ---------------------------------------------------------------------------------------------
// What the published contract offers to mutate.

const publishedSdl = await readFile(path.join(PUBLISHED, 'schema.graphql'), 'utf8');
const publishedOpenapi = await readFile(path.join(PUBLISHED, 'openapi.yaml'), 'utf8');

const sdl = () => parseGraphql(publishedSdl, { noLocation: true });
const objectTypes = (doc) => doc.definitions.filter((d) => d.kind === 'ObjectTypeDefinition');
const namedType = (t) => (t.kind === 'NamedType' ? t.name.value : namedType(t.type));
const withNamedType = (t, name) =>
  t.kind === 'NamedType' ? { ...t, name: { ...t.name, value: name } } : { ...t, type: withNamedType(t.type, name) };

const gql = (() => {
  const doc = sdl();
  const plain = objectTypes(doc).filter((t) => !ROOT_TYPES.includes(t.name.value));
  const removeFrom = plain.find((t) => t.fields.length >= 2);
  const retype = objectTypes(doc)
    .flatMap((t) => t.fields.map((f) => ({ type: t.name.value, field: f.name.value, named: namedType(f.type) })))
    .find((f) => f.named === 'String' || f.named === 'Int');
  const query = objectTypes(doc).find((t) => t.name.value === 'Query');
  if (!removeFrom || !retype || !query?.fields.length || !plain.length) {
    throw new Error('the published schema.graphql lacks the types the self-test mutates');
  }
  return {
    removeType: removeFrom.name.value,
    removeField: removeFrom.fields.at(-1).name.value,
    retype: { ...retype, to: retype.named === 'String' ? 'Int' : 'String' },
    queryField: query.fields[0].name.value,
    addTo: plain[0].name.value,
  };
})();

function mutateSdl(change) {
  const doc = sdl();
  const type = (name) => objectTypes(doc).find((t) => t.name.value === name);
  change(type);
  return printGraphql(doc) + '\n';
}

const api = () => YAML.parse(publishedOpenapi);
const operations = (doc) =>
  Object.entries(doc.paths ?? {}).flatMap(([p, item]) =>
    METHODS.filter((m) => item[m]).map((m) => ({ path: p, method: m, op: item[m] })),
  );
const resolve = (doc, schema) =>
  schema?.$ref?.startsWith('#/components/schemas/')
    ? doc.components.schemas[schema.$ref.slice('#/components/schemas/'.length)]
    : schema;

/** The first JSON response schema with properties, preferring success responses. */
function responseSchema(doc) {
  const candidates = operations(doc).flatMap(({ op }) =>
    Object.entries(op.responses ?? {})
      .sort(([a], [b]) => Number(!a.startsWith('2')) - Number(!b.startsWith('2')))
      .map(([, r]) => resolve(doc, r.content?.['application/json']?.schema)),
  );
  const schema = candidates.find((s) => s && s.properties && Object.keys(s.properties).length);
  if (!schema) throw new Error('the published openapi.yaml has no JSON response with properties to mutate');
  return schema;
}

const oas = (() => {
  const doc = api();
  const ops = operations(doc);
  if (!ops.length) throw new Error('the published openapi.yaml has no operation to mutate');
  const schema = responseSchema(doc);
  const names = Object.keys(schema.properties);
  const retype = names.find((n) => ['string', 'integer'].includes(schema.properties[n].type));
  if (!retype) throw new Error('the published openapi.yaml has no string or integer response property');
  const last = ops.at(-1);
  return {
    removeOp: `${last.method.toUpperCase()} ${last.path}`,
    removeProp: names.at(-1),
    retype,
    retypeTo: schema.properties[retype].type === 'string' ? 'integer' : 'string',
    first: `${ops[0].method.toUpperCase()} ${ops[0].path}`,
  };
})();

function mutateOpenapi(change) {
  const doc = api();
  change(doc, operations(doc));
  return YAML.stringify(doc);
}

const enumParam = (values) => ({ name: 'self_test_mode', in: 'query', required: false, schema: { type: 'string', enum: values } });
const addParam = (op, param) => (op.parameters = [...(op.parameters ?? []), param]);

// ---------------------------------------------------------------------------------------------
// The cases. `files` replaces files of the working-tree copy, `published` files of the published
// copy, `record` the intended-changes file; `expect` is the guard's verdict and `shows` what its
// output must contain.

const entry = (file, change, at) => ({ file, change, at, reason: 'self-test', date: TODAY });
const record = (...entries) => YAML.stringify({ changes: entries });

const cases = [
  {
    name: 'unchanged contract (as a separate process)',
    cli: true,
    expect: 'pass',
    shows: ['contract guard: OK'],
  },
  {
    name: `graphql: remove field ${gql.removeType}.${gql.removeField} (as a separate process)`,
    cli: true,
    files: {
      'schema.graphql': mutateSdl((type) => {
        const t = type(gql.removeType);
        t.fields = t.fields.filter((f) => f.name.value !== gql.removeField);
      }),
    },
    expect: 'fail',
    shows: [`[FIELD_REMOVED] ${gql.removeType}.${gql.removeField}`],
  },
  {
    name: `graphql: change type of ${gql.retype.type}.${gql.retype.field} to ${gql.retype.to}`,
    files: {
      'schema.graphql': mutateSdl((type) => {
        const f = type(gql.retype.type).fields.find((x) => x.name.value === gql.retype.field);
        f.type = withNamedType(f.type, gql.retype.to);
      }),
    },
    expect: 'fail',
    shows: [`[FIELD_TYPE_CHANGED] ${gql.retype.type}.${gql.retype.field}`],
  },
  {
    name: `graphql: add required argument to Query.${gql.queryField}`,
    files: {
      'schema.graphql': mutateSdl((type) => {
        const f = type('Query').fields.find((x) => x.name.value === gql.queryField);
        f.arguments = [...(f.arguments ?? []), parseArgument('selfTestRequired: String!')];
      }),
    },
    expect: 'fail',
    shows: [`[FIELD_ARGUMENT_ADDED] Query.${gql.queryField}.selfTestRequired`],
  },
  {
    name: `graphql: add optional field ${gql.addTo}.selfTestOptional (harmless)`,
    files: {
      'schema.graphql': mutateSdl((type) => {
        const t = type(gql.addTo);
        t.fields = [...t.fields, parseField('selfTestOptional: String')];
      }),
    },
    expect: 'pass',
    shows: [`[FIELD_ADDED] ${gql.addTo}.selfTestOptional`, 'contract guard: OK'],
  },
  {
    name: `openapi: remove operation ${oas.removeOp}`,
    files: {
      'openapi.yaml': mutateOpenapi((doc) => {
        const [method, p] = oas.removeOp.split(' ');
        delete doc.paths[p][method.toLowerCase()];
      }),
    },
    expect: 'fail',
    shows: [`[prevent operation removal] ${oas.removeOp}`],
  },
  {
    name: `openapi: remove operation ${oas.removeOp} and bump info.version's major number`,
    files: {
      'openapi.yaml': mutateOpenapi((doc) => {
        const [method, p] = oas.removeOp.split(' ');
        delete doc.paths[p][method.toLowerCase()];
        doc.info.version = `${Number.parseInt(String(doc.info.version), 10) + 1}.0.0`;
      }),
    },
    expect: 'fail',
    shows: [`[prevent operation removal] ${oas.removeOp}`],
  },
  {
    name: `openapi: remove response property ${oas.removeProp}`,
    files: {
      'openapi.yaml': mutateOpenapi((doc) => {
        const s = responseSchema(doc);
        delete s.properties[oas.removeProp];
        if (s.required) s.required = s.required.filter((n) => n !== oas.removeProp);
      }),
    },
    expect: 'fail',
    shows: ['[prevent removing response property]', `property ${oas.removeProp}`],
  },
  {
    name: `openapi: change type of response property ${oas.retype} to ${oas.retypeTo}`,
    files: {
      'openapi.yaml': mutateOpenapi((doc) => {
        const s = responseSchema(doc);
        const { description } = s.properties[oas.retype];
        s.properties[oas.retype] = { type: oas.retypeTo, description };
      }),
    },
    expect: 'fail',
    shows: ['[prevent response property type changes]', `property ${oas.retype}`],
  },
  {
    name: `openapi: add required query parameter to ${oas.first}`,
    files: {
      'openapi.yaml': mutateOpenapi((doc, ops) =>
        addParam(ops[0].op, { name: 'self_test_required', in: 'query', required: true, schema: { type: 'string' } }),
      ),
    },
    expect: 'fail',
    shows: [`[prevent new required query parameters] ${oas.first} query parameter: self_test_required`],
  },
  {
    name: `openapi: require a new request body property on ${oas.first}`,
    files: {
      'openapi.yaml': mutateOpenapi((doc, ops) => {
        ops[0].op.requestBody = {
          required: true,
          content: {
            'application/json': {
              schema: { type: 'object', required: ['self_test'], properties: { self_test: { type: 'string' } } },
            },
          },
        };
      }),
    },
    expect: 'fail',
    shows: ['[prevent changing request property to required]', 'property: self_test'],
  },
  {
    name: `openapi: remove an enum value of a query parameter of ${oas.first}`,
    published: { 'openapi.yaml': mutateOpenapi((doc, ops) => addParam(ops[0].op, enumParam(['fast', 'slow']))) },
    files: { 'openapi.yaml': mutateOpenapi((doc, ops) => addParam(ops[0].op, enumParam(['fast']))) },
    expect: 'fail',
    shows: [`[prevent query parameters enum breaking changes] ${oas.first} query parameter: self_test_mode`],
  },
  {
    name: 'openapi: add optional response property self_test_optional (harmless)',
    files: {
      'openapi.yaml': mutateOpenapi((doc) => {
        responseSchema(doc).properties.self_test_optional = { type: 'string' };
      }),
    },
    expect: 'pass',
    shows: ['self_test_optional', 'contract guard: OK'],
  },
  {
    name: 'record: breaking changes recorded as intended',
    files: {
      'schema.graphql': mutateSdl((type) => {
        const t = type(gql.removeType);
        t.fields = t.fields.filter((f) => f.name.value !== gql.removeField);
      }),
      'openapi.yaml': mutateOpenapi((doc) => {
        const [method, p] = oas.removeOp.split(' ');
        delete doc.paths[p][method.toLowerCase()];
      }),
    },
    record: record(
      entry('schema.graphql', 'FIELD_REMOVED', `${gql.removeType}.${gql.removeField}`),
      entry('openapi.yaml', 'prevent operation removal', oas.removeOp),
    ),
    expect: 'pass',
    shows: ['BREAKING (recorded as intended)', '2 breaking changes recorded as intended'],
  },
  {
    name: 'record: stale entry whose change does not occur',
    record: record(entry('schema.graphql', 'FIELD_REMOVED', `${gql.removeType}.${gql.removeField}`)),
    expect: 'fail',
    shows: ['1 recorded intended change no longer occurs', `FIELD_REMOVED at ${gql.removeType}.${gql.removeField}`],
  },
  {
    name: 'record: entry naming a different place than the break',
    files: {
      'schema.graphql': mutateSdl((type) => {
        const t = type(gql.removeType);
        t.fields = t.fields.filter((f) => f.name.value !== gql.removeField);
      }),
    },
    record: record(entry('schema.graphql', 'FIELD_REMOVED', `${gql.removeType}.someOtherField`)),
    expect: 'fail',
    shows: ['1 breaking change would break clients', 'no longer occurs'],
  },
  {
    name: 'record: entry without a reason',
    record: 'changes:\n  - file: schema.graphql\n    change: FIELD_REMOVED\n    at: Lookup.uuid\n    date: 2026-01-01\n',
    expect: 'fail',
    shows: ["'reason' must be a non-empty string"],
  },
  {
    name: 'graphql: schema that does not parse',
    files: { 'schema.graphql': publishedSdl.replace(/type /, 'type type ') },
    expect: 'fail',
    shows: ['is not a valid GraphQL schema'],
  },
  {
    name: 'publish: copies the contract and empties the record',
    files: {
      'schema.graphql': mutateSdl((type) => {
        const t = type(gql.removeType);
        t.fields = t.fields.filter((f) => f.name.value !== gql.removeField);
      }),
    },
    record: `# kept comment\n${record(entry('schema.graphql', 'FIELD_REMOVED', `${gql.removeType}.${gql.removeField}`))}`,
    publish: true,
    expect: 'pass',
    shows: ['Cleared 1 recorded breaking change'],
  },
];

function parseArgument(text) {
  return objectTypes(parseGraphql(`type T { f(${text}): Int }`, { noLocation: true }))[0].fields[0].arguments[0];
}
function parseField(text) {
  return objectTypes(parseGraphql(`type T { ${text} }`, { noLocation: true }))[0].fields[0];
}

// ---------------------------------------------------------------------------------------------
// Running them.

async function runCase(c) {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'secworks-contract-self-test-'));
  try {
    const published = path.join(dir, 'published');
    const current = path.join(dir, 'current');
    const intended = path.join(dir, 'intended-breaking-changes.yaml');
    await cp(PUBLISHED, published, { recursive: true });
    for (const [f, text] of Object.entries(c.published ?? {})) await writeFile(path.join(published, f), text);
    await cp(published, current, { recursive: true });
    for (const [f, text] of Object.entries(c.files ?? {})) await writeFile(path.join(current, f), text);
    await writeFile(intended, c.record ?? EMPTY_RECORD);

    const args = ['--published', published, '--current', current, '--intended', intended];
    if (c.publish) args.push('--publish');
    const { code, output } = await (c.cli ? runCli : runInProcess)(args);
    const problems = [];
    const want = c.expect === 'pass' ? 0 : 1;
    if (code !== want) problems.push(`guard exited ${code}, expected ${want} (${c.expect})`);
    for (const s of c.shows) if (!output.includes(s)) problems.push(`output lacks: ${s}`);
    if (c.publish && code === 0) problems.push(...(await afterPublish(published, current, intended)));
    return { problems, output };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

async function runCli(args) {
  try {
    const { stdout } = await run(process.execPath, [GUARD, ...args], { maxBuffer: 16 << 20 });
    return { code: 0, output: stdout };
  } catch (e) {
    return { code: e.code, output: `${e.stdout ?? ''}${e.stderr ?? ''}` };
  }
}

async function runInProcess(args) {
  const lines = [];
  const code = await guard(args, (...parts) => lines.push(parts.join(' ')));
  return { code, output: lines.join('\n') };
}

/** After --publish: the published copy is the working tree, the record is empty, comments kept. */
async function afterPublish(published, current, intended) {
  const problems = [];
  for (const f of ['schema.graphql', 'openapi.yaml']) {
    const [a, b] = await Promise.all([readFile(path.join(published, f), 'utf8'), readFile(path.join(current, f), 'utf8')]);
    if (a !== b) problems.push(`published ${f} differs from the working tree after --publish`);
  }
  const text = await readFile(intended, 'utf8');
  if (YAML.parse(text)?.changes?.length !== 0) problems.push('record not emptied by --publish');
  if (!text.includes('# kept comment')) problems.push('--publish dropped the comments of the record');
  const again = await runInProcess(['--published', published, '--current', current, '--intended', intended]);
  if (again.code !== 0) problems.push(`guard fails right after --publish:\n${again.output}`);
  return problems;
}

const started = Date.now();
// The separate processes run alongside the in-process cases; those run one after another, each
// in a few tens of milliseconds once the tools are loaded.
const results = new Array(cases.length);
const cli = cases.map((c, i) => (c.cli ? runCase(c).then((r) => (results[i] = r)) : null));
for (const [i, c] of cases.entries()) if (!c.cli) results[i] = await runCase(c);
await Promise.all(cli.filter(Boolean));

let failed = 0;
cases.forEach((c, i) => {
  const { problems, output } = results[i];
  const verdict = c.expect === 'pass' ? 'passes' : 'fails ';
  if (problems.length === 0) {
    console.log(`ok      guard ${verdict}: ${c.name}`);
  } else {
    failed++;
    console.log(`FAILED  guard should have ${c.expect}ed: ${c.name}`);
    for (const p of problems) console.log(`        ${p}`);
    console.log(output.replace(/^/gm, '        | '));
  }
});
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(`\ncontract guard self-test (${seconds} s)`);
console.log(`self-test: ${cases.length - failed} passed, ${failed} failed`);
process.exitCode = failed ? 1 : 0;
