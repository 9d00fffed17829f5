// Hostile and broken requests against the real broker: each gets a 4xx (or, on the v3 stream, an
// error answer) naming what was wrong, and nothing is half-written: the end offsets of the type's
// topic, its DLQ, sluice.dlq and the raw topic move by exactly what the answer says.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadConfig, type Config } from '../../lib/config.js';
import { createAdmin, createRangeReader } from '../../lib/kafka.js';
import type { RunningProxy } from '../../proxy/server.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { orderData } from '../helpers/events.js';
import { uniqueName } from '../helpers/names.js';
import { startReadyProxy } from '../helpers/proxy.js';

let config: Config;
let cat: IsolatedCatalog;
let proxy: RunningProxy;
let spoolDir: string;
let ORDER: string;
let APP: string;
let clusterId: string;
let watched: string[];

const MAX_BODY = 1024 * 1024;

before(async () => {
  const base = loadConfig();
  spoolDir = mkdtempSync(join(tmpdir(), 'sluice-spool-'));
  config = {
    ...base,
    logLevel: 'warn',
    proxy: { ...base.proxy, port: 0, spoolDir, maxBodyBytes: MAX_BODY, maxEventBytes: 8 * 1024 },
  };
  cat = await isolatedCatalog(config);
  ORDER = cat.type('order_created');
  APP = cat.app('consumer-ios');
  watched = [`events.${ORDER}`, `events.${ORDER}.dlq`, 'sluice.dlq', `raw.${APP}`];
  proxy = await startReadyProxy(config, cat.catalog);
  const admin = createAdmin(config, 'test-bad-input');
  clusterId = (await admin.metadata({ topics: [] })).id;
  await admin.close();
});

after(async () => {
  await proxy.stop();
  await cat.cleanup(config);
  rmSync(spoolDir, { recursive: true, force: true });
});

/** Records per watched topic (sum of partition end offsets). */
async function ends(): Promise<Record<string, number>> {
  const reader = createRangeReader(config, uniqueName('test.bad-input'));
  try {
    const offsets = await reader.listOffsets({ topics: watched });
    return Object.fromEntries(
      watched.map((t) => [t, (offsets.get(t) ?? []).reduce((n, o) => n + Number(o), 0)]),
    );
  } finally {
    await reader.close();
  }
}

/** Runs `send` and asserts each watched topic grew by exactly `expected` (default: nothing). */
async function writes<T>(send: () => Promise<T>, expected: Record<string, number> = {}): Promise<T> {
  const before = await ends();
  const result = await send();
  // Synchronous answers come after Kafka acknowledged; a short wait catches late stray writes.
  await new Promise((r) => setTimeout(r, 200));
  const after = await ends();
  const grew = Object.fromEntries(watched.map((t) => [t, after[t]! - before[t]!]));
  assert.deepEqual(grew, Object.fromEntries(watched.map((t) => [t, expected[t] ?? 0])));
  return result;
}

interface Answer {
  status: number;
  text: string;
  body: { error_code?: unknown; message?: string; results?: { error_code?: string; message?: string }[] };
}

async function post(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(`${proxy.url}${path}`, { method: 'POST', headers, body });
  const text = await res.text();
  let parsed: Answer['body'] = {};
  try {
    parsed = JSON.parse(text.split('\n')[0] ?? '') as Answer['body'];
  } catch {
    // v3 answers one JSON a line; an empty or non-JSON body stays {} and fails the assertions.
  }
  return { status: res.status, text, body: parsed };
}

const json = { 'content-type': 'application/json' };
const V2 = { 'content-type': 'application/vnd.kafka.json.v2+json' };
const v3Path = () => `/v3/clusters/${clusterId}/topics/events.${ORDER}/records`;
const event = (n: number, extra: Record<string, unknown> = {}) => ({
  type: ORDER,
  data: orderData(n),
  ...extra,
});

/** Asserts a whole-request error: status, error code, and a message matching `message`. */
function refused(r: Answer, status: number, code: unknown, message: RegExp): void {
  assert.equal(r.status, status, r.text);
  assert.equal(r.body.error_code, code, r.text);
  assert.match(r.body.message ?? '', message);
}

test('malformed JSON (truncated, trailing garbage after a valid event) is 400 naming it; nothing written', async () => {
  const valid = JSON.stringify([event(1)]);
  for (const body of [valid.slice(0, -7), `${valid} trailing`, `${valid}]`]) {
    refused(await writes(() => post('/v1/events', body, json)), 400, 'MALFORMED_BODY', /not valid JSON/);
    refused(
      await writes(() => post('/v1/events', body, { 'content-type': 'application/cloudevents-batch+json' })),
      400,
      'MALFORMED_BODY',
      /not valid JSON/,
    );
  }
  refused(
    await writes(() => post(`/v1/collect/${APP}`, '{"screen": "home"} {', json)),
    400,
    'MALFORMED_BODY',
    /not valid JSON/,
  );
  refused(
    await writes(() =>
      post(`/topics/events.${ORDER}`, `{"records": [{"value": ${JSON.stringify(orderData(2))}}]}}`, V2),
    ),
    400,
    40001,
    /not valid JSON/,
  );
});

test('100k levels of [ or {"a": do not blow the stack: 400 naming the depth limit on every endpoint; nothing written', async () => {
  // Before the depth limit each of these was a 500 "Maximum call stack size exceeded".
  const n = 100_000;
  const arrays = '['.repeat(n) + ']'.repeat(n);
  const objects = '{"a":'.repeat(n) + '1' + '}'.repeat(n);
  for (const deep of [arrays, objects]) {
    const depth = /more than 512 levels deep/;
    refused(await writes(() => post('/v1/events', deep, json)), 400, 'MALFORMED_BODY', depth);
    refused(
      await writes(() => post('/v1/events', JSON.stringify([event(3)]).replace('"USD"', deep), json)),
      400,
      'MALFORMED_BODY',
      depth,
    );
    refused(
      await writes(() => post(`/v1/collect/${APP}`, `{"a": ${deep}}`, json)),
      400,
      'MALFORMED_BODY',
      depth,
    );
    refused(
      await writes(() => post(`/topics/events.${ORDER}`, `{"records": [{"value": ${deep}}]}`, V2)),
      400,
      40001,
      depth,
    );
    const v3 = await writes(() => post(v3Path(), `{"value": {"type": "JSON", "data": ${deep}}}`, json));
    assert.equal(v3.status, 200);
    assert.equal(v3.body.error_code, 400);
    assert.match(v3.body.message ?? '', depth);
  }
  // NDJSON: the deep line is that event's error only, kept in sluice.dlq; the good line is written.
  const nd = await writes(
    () =>
      post('/v1/events', `${JSON.stringify(event(4))}\n${arrays}\n`, {
        'content-type': 'application/x-ndjson',
      }),
    { [`events.${ORDER}`]: 1, 'sluice.dlq': 1 },
  );
  assert.equal(nd.status, 207);
  assert.equal(nd.body.results?.[1]?.error_code, 'MALFORMED_BODY');
  assert.match(nd.body.results?.[1]?.message ?? '', /NDJSON line nests JSON .* more than 512 levels deep/);
});

test('a body over proxy.maxBodyBytes is 413 on every endpoint, gzip bombs included; nothing written', async () => {
  const big = JSON.stringify([event(5, { id: 'x'.repeat(MAX_BODY) })]);
  const tooLarge = /larger than 1048576 bytes/;
  refused(await writes(() => post('/v1/events', big, json)), 413, 'BODY_TOO_LARGE', tooLarge);
  refused(await writes(() => post(`/v1/collect/${APP}`, big, json)), 413, 'BODY_TOO_LARGE', tooLarge);
  refused(await writes(() => post(`/topics/events.${ORDER}`, big, V2)), 413, 413, tooLarge);
  // 50 MB of spaces gzip to ~50 KB: the limit counts inflated bytes, so reading stops at 1 MiB.
  const bomb = gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20));
  assert.ok(bomb.length < 100 * 1024);
  const gz = { ...json, 'content-encoding': 'gzip' };
  refused(await writes(() => post('/v1/events', bomb, gz)), 413, 'BODY_TOO_LARGE', tooLarge);
  refused(await writes(() => post(`/v1/collect/${APP}`, bomb, gz)), 413, 'BODY_TOO_LARGE', tooLarge);
  // v3 reads a stream: one record larger than the limit is answered 413 and the stream ends.
  const v3bomb = gzipSync(`{"value": {"type": "STRING", "data": "${'x'.repeat(50 * 1024 * 1024)}"}}`);
  const v3 = await writes(() => post(v3Path(), v3bomb, gz));
  assert.equal(v3.status, 200);
  assert.equal(v3.body.error_code, 413);
  assert.match(v3.body.message ?? '', /a record is larger than 1048576 bytes/);
});

test('a body that is not the Content-Encoding it claims is 400 naming it (was a 200 with no answer on v3); nothing written', async () => {
  const gz = { ...json, 'content-encoding': 'gzip' };
  const body = JSON.stringify([event(6)]);
  refused(
    await writes(() => post('/v1/events', body, gz)),
    400,
    'MALFORMED_BODY',
    /not valid gzip data \(Content-Encoding\)/,
  );
  const v3 = await writes(() =>
    post(v3Path(), JSON.stringify({ value: { type: 'JSON', data: orderData(6) } }), gz),
  );
  assert.equal(v3.status, 200);
  assert.deepEqual(v3.body, {
    error_code: 400,
    message: 'the body is not valid gzip data (Content-Encoding): incorrect header check',
  });
  refused(
    await writes(() => post('/v1/events', body, { ...json, 'content-encoding': 'compress' })),
    415,
    'UNSUPPORTED_CONTENT_TYPE',
    /compress/,
  );
  // An empty v3 body was a 200 with no answer at all.
  const empty = await writes(() => post(v3Path(), ' \n', json));
  assert.deepEqual(empty.body, {
    error_code: 400,
    message: 'the body holds no record: send one JSON object per record',
  });
});

test('invalid UTF-8 in a JSON string or an NDJSON line fails the whole request with 400; nothing written', async () => {
  const withBadByte = (text: string): Buffer => {
    const [head, tail] = text.split('BAD');
    return Buffer.concat([Buffer.from(head!), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(tail!)]);
  };
  const utf8 = /not valid UTF-8/;
  const inString = withBadByte(JSON.stringify([event(7, { id: 'BAD' })]));
  refused(await writes(() => post('/v1/events', inString, json)), 400, 'MALFORMED_BODY', utf8);
  // One bad line poisons the whole body: the good line before it is not written either.
  const ndjson = withBadByte(`${JSON.stringify(event(8))}\n${JSON.stringify(event(9, { id: 'BAD' }))}\n`);
  refused(
    await writes(() => post('/v1/events', ndjson, { 'content-type': 'application/x-ndjson' })),
    400,
    'MALFORMED_BODY',
    utf8,
  );
  refused(
    await writes(() => post(`/v1/collect/${APP}`, withBadByte('{"screen": "BAD"}'), json)),
    400,
    'MALFORMED_BODY',
    utf8,
  );
  refused(
    await writes(() => post(`/topics/events.${ORDER}`, withBadByte(`{"records": [{"value": "BAD"}]}`), V2)),
    400,
    40001,
    utf8,
  );
  const v3 = await writes(() =>
    post(v3Path(), withBadByte('{"value": {"type": "STRING", "data": "BAD"}}'), json),
  );
  assert.deepEqual(v3.body, { error_code: 400, message: 'the body is not valid UTF-8' });
});

test('a wrong or missing Content-Type is 415 naming what to send; nothing written', async () => {
  const body = Buffer.from(JSON.stringify([event(10)]));
  // A Buffer body makes fetch send no Content-Type at all.
  refused(
    await writes(() => post('/v1/events', body)),
    415,
    'UNSUPPORTED_CONTENT_TYPE',
    /\(none\).*application\/json/,
  );
  refused(
    await writes(() => post('/v1/events', body, { 'content-type': 'text/html' })),
    415,
    'UNSUPPORTED_CONTENT_TYPE',
    /"text\/html".*application\/x-ndjson/,
  );
  refused(
    await writes(() => post(`/v1/collect/${APP}`, body, { 'content-type': 'application/xml' })),
    415,
    'UNSUPPORTED_CONTENT_TYPE',
    /application\/xml/,
  );
  refused(
    await writes(() => post(`/topics/events.${ORDER}`, body, json)),
    415,
    41501,
    /vnd\.kafka\.json\.v2\+json/,
  );
  refused(await writes(() => post(v3Path(), body)), 415, 41501, /\(none\).*application\/json/);
});

/** A request written to the socket as is, for what fetch refuses to send; resolves with the raw answer. */
function rawRequest(head: string, body: string): Promise<string> {
  const { hostname, port } = new URL(proxy.url);
  return new Promise((resolvePromise) => {
    const socket = connect(Number(port), hostname);
    let out = '';
    socket.on('data', (d: Buffer) => (out += d.toString('latin1')));
    socket.on('error', () => undefined);
    socket.on('close', () => resolvePromise(out));
    socket.write(`${head}Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`);
  });
}

test('header injection: CR, LF or NUL in an HTTP header is 400, a huge header 431; nothing written', async () => {
  const body = JSON.stringify([event(11)]);
  const head = (extra: string) =>
    `POST /v1/events HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n${extra}`;
  for (const injected of [
    'X-Sluice-Test: true\nX-Evil: 1\r\n', // bare LF
    'X-Sluice-Test: tr\rue\r\n', // bare CR
    'X-Sluice-Test: tr\0ue\r\n', // NUL
    'X-Sluice-Test: true\r\n Prefer: respond-async\r\n', // obsolete line folding
  ]) {
    const answer = await writes(() => rawRequest(head(injected), body));
    assert.match(answer, /^HTTP\/1\.1 400 /, JSON.stringify(injected));
  }
  const huge = await writes(() => rawRequest(head(`X-Big: ${'a'.repeat(64 * 1024)}\r\n`), body));
  assert.match(huge, /^HTTP\/1\.1 431 /);
  // The same request with clean headers is written: the raw requests above were well-formed otherwise.
  const clean = await writes(() => rawRequest(head('X-Sluice-Test: true\r\n'), body), {
    [`events.${ORDER}`]: 1,
  });
  assert.match(clean, /^HTTP\/1\.1 200 /);
});

test('CR/LF/NUL in envelope attributes (id, source, ce_* headers on v3, CloudEvents extensions) are INVALID_EVENT; only the DLQ gets the event', async () => {
  const control = /contains a control character/;
  const dlq = { [`events.${ORDER}.dlq`]: 1 };
  for (const extra of [{ id: 'a\r\nX-Evil: 1' }, { source: '/x\nInjected: yes' }, { id: 'nul\u0000' }]) {
    const r = await writes(() => post('/v1/events', JSON.stringify([event(12, extra)]), json), dlq);
    assert.equal(r.status, 400);
    assert.equal(r.body.results?.[0]?.error_code, 'INVALID_EVENT');
    assert.match(r.body.results?.[0]?.message ?? '', control);
  }
  const ce = {
    specversion: '1.0',
    id: 'ce-1',
    source: '/x',
    type: ORDER,
    region: 'sf\r\nX-Evil: 1',
    data: orderData(13),
  };
  const r = await writes(
    () => post('/v1/events', JSON.stringify(ce), { 'content-type': 'application/cloudevents+json' }),
    dlq,
  );
  assert.equal(r.body.results?.[0]?.error_code, 'INVALID_EVENT');
  assert.match(r.body.results?.[0]?.message ?? '', /"region" contains a control character/);

  const b64 = (s: string) => Buffer.from(s).toString('base64');
  for (const name of ['ce_id', 'ce_source']) {
    const record = {
      value: { type: 'JSON', data: orderData(14) },
      headers: [{ name, value: b64('v\r\nX-Evil: 1') }],
    };
    const v3 = await writes(() => post(v3Path(), JSON.stringify(record), json), dlq);
    assert.equal(v3.body.error_code, 422, v3.text);
    assert.match(v3.body.message ?? '', control);
  }
});
