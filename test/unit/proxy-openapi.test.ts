// proxy/openapi.json is checked against itself (structure, references, schemas) and against the
// code (the routes Express serves, the error codes of lib/errors.ts), so it cannot drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as ajvFormats from 'ajv-formats';
import { errorCatalogue } from '../../lib/errors.js';
import { createApp } from '../../proxy/app.js';
import type { ProxyContext } from '../../proxy/context.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext that lands one level down.
const addFormats = ajvFormats.default.default;

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = Record<string, Json>;

const doc = JSON.parse(readFileSync(new URL('../../proxy/openapi.json', import.meta.url), 'utf8')) as Obj;
const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

const isObj = (v: Json | undefined): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const obj = (v: Json | undefined, what: string): Obj => {
  assert.ok(isObj(v), `${what} must be an object`);
  return v;
};

/** Every [pointer, value] of the document, depth first. */
function* walk(node: Json, pointer = ''): Generator<[string, Json]> {
  yield [pointer, node];
  if (Array.isArray(node)) for (const [i, v] of node.entries()) yield* walk(v, `${pointer}/${i}`);
  else if (isObj(node))
    for (const [k, v] of Object.entries(node))
      yield* walk(v, `${pointer}/${k.replaceAll('~', '~0').replaceAll('/', '~1')}`);
}

function resolve(pointer: string): Json | undefined {
  let node: Json | undefined = doc;
  for (const raw of pointer.split('/').slice(1)) {
    const key = raw.replaceAll('~1', '/').replaceAll('~0', '~');
    node = Array.isArray(node) ? node[Number(key)] : isObj(node) ? node[key] : undefined;
  }
  return node;
}

const operations = (): [string, string, Obj][] =>
  Object.entries(obj(doc.paths, 'paths')).flatMap(([path, item]) =>
    METHODS.filter((m) => m in obj(item, path)).map((m): [string, string, Obj] => [
      path,
      m,
      obj(obj(item, path)[m], `${m} ${path}`),
    ]),
  );

test('it is an OpenAPI 3.1 document with info, paths, components and security schemes', () => {
  assert.equal(typeof doc.openapi, 'string');
  assert.match(doc.openapi as string, /^3\.1\.\d+$/);
  const info = obj(doc.info, 'info');
  assert.equal(typeof info.title, 'string');
  assert.equal(typeof info.version, 'string');
  assert.ok(Object.keys(obj(doc.paths, 'paths')).every((p) => p.startsWith('/')));
  const schemes = obj(obj(doc.components, 'components').securitySchemes, 'securitySchemes');
  assert.deepEqual(schemes.bearer, { ...obj(schemes.bearer, 'bearer'), type: 'http', scheme: 'bearer' });
  assert.deepEqual(schemes.apiKey, { ...obj(schemes.apiKey, 'apiKey'), type: 'apiKey', in: 'header' });
  for (const requirement of doc.security as Json[])
    for (const name of Object.keys(obj(requirement, 'security'))) assert.ok(name in schemes, name);
});

test('every $ref resolves, and points at the right kind of component', () => {
  const expectedKind = (pointer: string): string | undefined =>
    /\/schema(\/|$)/.test(pointer) || pointer.startsWith('/components/schemas/')
      ? 'schemas'
      : /\/responses\/[^/]+$/.test(pointer)
        ? 'responses'
        : /\/parameters\/\d+$/.test(pointer)
          ? 'parameters'
          : undefined;
  let refs = 0;
  for (const [pointer, node] of walk(doc)) {
    if (!isObj(node) || typeof node.$ref !== 'string') continue;
    refs++;
    const ref = node.$ref;
    assert.ok(ref.startsWith('#/'), `${pointer}: only local references (${ref})`);
    assert.notEqual(resolve(ref.slice(1)), undefined, `${pointer}: ${ref} does not resolve`);
    const kind = /^#\/components\/(\w+)\/[^/]+$/.exec(ref)?.[1];
    assert.equal(kind, expectedKind(pointer), `${pointer}: ${ref} is the wrong kind of component`);
  }
  assert.ok(refs > 50, `only ${refs} references`);
});

test('every operation has an id, responses with descriptions and valid status codes', () => {
  const ids = new Set<string>();
  const ops = operations();
  assert.ok(ops.length >= 12, `only ${ops.length} operations`);
  for (const [path, method, op] of ops) {
    const where = `${method.toUpperCase()} ${path}`;
    assert.equal(typeof op.operationId, 'string', `${where}: operationId`);
    assert.ok(!ids.has(op.operationId as string), `${where}: duplicate operationId`);
    ids.add(op.operationId as string);
    const responses = obj(op.responses, `${where} responses`);
    assert.ok(Object.keys(responses).length > 0, `${where} has no responses`);
    for (const [status, r] of Object.entries(responses)) {
      assert.match(status, /^([1-5]\d\d|[1-5]XX|default)$/, `${where}: status ${status}`);
      const response = obj(
        isObj(r) && typeof r.$ref === 'string' ? resolve(r.$ref.slice(1)) : r,
        `${where} ${status}`,
      );
      assert.equal(typeof response.description, 'string', `${where} ${status}: description`);
      for (const media of Object.keys(isObj(response.content) ? response.content : {}))
        assert.match(media, /^[a-z]+\/[a-z0-9.+-]+$/, `${where} ${status}: media type ${media}`);
    }
  }
});

test('every path template parameter is declared (required, in: path) and every declared one used', () => {
  for (const [path, itemJson] of Object.entries(obj(doc.paths, 'paths'))) {
    const item = obj(itemJson, path);
    const inTemplate = [...path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]!).sort();
    for (const method of METHODS.filter((m) => m in item)) {
      const params = [
        ...((item.parameters as Json[] | undefined) ?? []),
        ...((obj(item[method], method).parameters as Json[] | undefined) ?? []),
      ].map((p) => obj(isObj(p) && typeof p.$ref === 'string' ? resolve(p.$ref.slice(1)) : p, 'parameter'));
      const inPath = params.filter((p) => p.in === 'path');
      assert.deepEqual(inPath.map((p) => p.name).sort(), inTemplate, `${method} ${path}: path parameters`);
      for (const p of inPath) assert.equal(p.required, true, `${method} ${path}: ${JSON.stringify(p.name)}`);
      for (const p of params) assert.ok(['path', 'query', 'header', 'cookie'].includes(p.in as string));
    }
  }
});

test('every component schema compiles as JSON Schema 2020-12 (strict)', () => {
  const schemas = obj(obj(doc.components, 'components').schemas, 'schemas');
  // OpenAPI references (#/components/schemas/X) become $defs of one schema resource.
  const defs = JSON.parse(
    JSON.stringify(schemas).replaceAll('"#/components/schemas/', '"sluice-openapi#/$defs/'),
  ) as Obj;
  const ajv = new Ajv2020({ strict: true, allowUnionTypes: true });
  addFormats(ajv);
  ajv.addSchema({ $id: 'sluice-openapi', $defs: defs });
  for (const name of Object.keys(schemas)) {
    assert.doesNotThrow(() => ajv.compile({ $ref: `sluice-openapi#/$defs/${name}` }), name);
  }
  // Inline schemas of parameters, request bodies and responses too.
  for (const [pointer, node] of walk(obj(doc.paths, 'paths'), '/paths')) {
    if (!pointer.endsWith('/schema') || !isObj(node)) continue;
    const schema = JSON.parse(
      JSON.stringify(node).replaceAll('"#/components/schemas/', '"sluice-openapi#/$defs/'),
    ) as Obj;
    assert.doesNotThrow(() => ajv.compile(schema), pointer);
  }
  const error = ajv.compile({ $ref: 'sluice-openapi#/$defs/Error' });
  assert.equal(error({ error_code: 'NOT_FOUND', message: 'x' }), true);
  assert.equal(error({ error_code: 'NO_SUCH_CODE', message: 'x' }), false);
});

test('the error_code enum is exactly the HTTP error codes of lib/errors.ts', () => {
  const errorCode = obj(obj(obj(doc.components, 'components').schemas, 'schemas').ErrorCode, 'ErrorCode');
  const http = Object.entries(errorCatalogue)
    .filter(([, e]) => 'status' in e && !('endpoint' in e))
    .map(([code]) => code);
  assert.deepEqual([...(errorCode.enum as string[])].sort(), http.sort());
});

test('the document describes exactly the routes the proxy serves', () => {
  // Only what createApp reads while wiring routes; no request is served.
  const ctx = {
    config: { proxy: { corsOrigins: ['*'], maxBodyBytes: 1024, requestTimeoutMs: 1000 } },
  } as unknown as ProxyContext;
  interface Layer {
    route?: { path: string; methods: Record<string, boolean> };
    handle?: { stack?: Layer[] };
  }
  const walkRoutes = (stack: Layer[]): string[] =>
    stack.flatMap((l) => {
      if (!l.route) return l.handle?.stack ? walkRoutes(l.handle.stack) : [];
      const methods = Object.keys(l.route.methods).filter((m) => METHODS.includes(m));
      // app.all(...) is the 405 answer for every other method, not an operation.
      if (METHODS.every((m) => methods.includes(m))) return [];
      return methods.map((m) => `${m} ${l.route!.path.replace(/:\w+/g, '{}')}`);
    });
  const app = createApp(ctx) as unknown as { router: { stack: Layer[] } };
  const served = walkRoutes(app.router.stack).sort();
  const documented = operations()
    .map(([path, method]) => `${method} ${path.replace(/\{[^}]+\}/g, '{}')}`)
    .sort();
  assert.deepEqual(documented, served);
});

test('every documented path answers a method it does not take with 405, Allow and its error body', async () => {
  // Found by schemathesis (unsupported_method): these were 404, as if the path did not exist.
  const ctx = {
    config: { proxy: { corsOrigins: [], maxBodyBytes: 1024, requestTimeoutMs: 1000 } },
    metrics: { requests: { inc: () => undefined } },
    logger: { error: () => undefined },
  } as unknown as ProxyContext;
  const server = createApp(ctx).listen(0, '127.0.0.1');
  await new Promise((r) => server.once('listening', r));
  const { port } = server.address() as { port: number };
  try {
    for (const [path, item] of Object.entries(obj(doc.paths, 'paths'))) {
      const url = `http://127.0.0.1:${port}${path.replace(/\{[^}]+\}/g, 'x')}`;
      const res = await fetch(url, { method: 'PATCH' });
      const body = (await res.json()) as { error_code: unknown; message: string };
      assert.equal(res.status, 405, path);
      const allow = METHODS.filter((m) => m in obj(item, path)).map((m) => m.toUpperCase());
      if (allow.includes('GET')) allow.push('HEAD');
      assert.equal(res.headers.get('allow'), allow.join(', '), path);
      const confluent = path.startsWith('/topics') || path.startsWith('/v3/');
      assert.equal(body.error_code, confluent ? 405 : 'METHOD_NOT_ALLOWED', path);
      assert.match(body.message, /PATCH is not allowed on .*; use /, path);
    }
    const unknown = await fetch(`http://127.0.0.1:${port}/v1/nope`, { method: 'PATCH' });
    assert.equal(unknown.status, 404);
  } finally {
    await new Promise((r) => server.close(r));
  }
});
