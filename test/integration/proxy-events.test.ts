// POST /v1/events against the real broker: what a producer sees, and what lands in Kafka.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { gzipSync } from 'node:zlib';
import { loadConfig, type Config } from '../../lib/config.js';
import { readEnvelope } from '../../lib/envelope.js';
import { partitionForKey } from '../../proxy/partitioner.js';
import type { RunningProxy } from '../../proxy/server.js';
import { orderData } from '../helpers/events.js';
import { startReadyProxy } from '../helpers/proxy.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { readTopic, waitForRecords } from '../helpers/kafka-read.js';

let config: Config;
let cat: IsolatedCatalog;
let proxy: RunningProxy;
let spoolDir: string;
let ORDER: string;
let DELIVERY: string;

before(async () => {
  const base = loadConfig();
  spoolDir = mkdtempSync(join(tmpdir(), 'sluice-spool-'));
  config = {
    ...base,
    proxy: { ...base.proxy, port: 0, spoolDir, maxBodyBytes: 64 * 1024, maxEventBytes: 8 * 1024 },
  };
  cat = await isolatedCatalog(config);
  ORDER = cat.type('order_created');
  DELIVERY = cat.type('delivery_status_changed');
  proxy = await startReadyProxy(config, cat.catalog);
});

after(async () => {
  await proxy.stop();
  await cat.cleanup(config);
  rmSync(spoolDir, { recursive: true, force: true });
});

const order = orderData;

async function post(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await fetch(`${proxy.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body,
  });
  const text = await res.text();
  return {
    status: res.status,
    headers: res.headers,
    body: (text ? JSON.parse(text) : undefined) as Record<string, unknown> & {
      results: Record<string, unknown>[];
    },
  };
}

test('a valid batch is accepted (200), each event lands on the partition the Java client would pick, with its envelope', async () => {
  const events = [1, 2, 3].map((n) => ({ type: ORDER, id: `evt-${n}`, source: '/checkout', data: order(n) }));
  const r = await post('/v1/events', JSON.stringify(events));
  assert.equal(r.status, 200);
  assert.equal(r.body.accepted, 3);
  assert.equal(r.body.rejected, 0);
  const records = await readTopic(config, `events.${ORDER}`);
  for (const [i, res] of r.body.results.entries()) {
    assert.equal(res.status, 'accepted');
    const key = order(i + 1).order_id;
    assert.equal(res.partition, partitionForKey(Buffer.from(key), 3));
    const rec = records.find(
      (x) => x.partition === res.partition && x.offset === BigInt(res.offset as string),
    );
    assert.ok(rec, `record ${i} at ${String(res.partition)}/${String(res.offset)}`);
    assert.equal(String(rec.key), key);
    assert.deepEqual(JSON.parse(String(rec.value)), order(i + 1));
    const env = readEnvelope(rec.headers);
    assert.equal(env.id, `evt-${i + 1}`);
    assert.equal(env.type, ORDER);
    assert.equal(env.source, '/checkout');
    assert.equal(env.dataschema, `urn:sluice:schema:${ORDER}:v2`);
    assert.equal(env.partitionkey, key);
    assert.equal(env.test, false);
  }
});

test('a mixed batch answers 207; the invalid event is explained per field and kept in the DLQ with its reasons', async () => {
  const bad = { ...order(9), currency: 'GBP', items: [] };
  const r = await post(
    '/v1/events',
    JSON.stringify([
      { type: ORDER, data: order(8) },
      { type: ORDER, id: 'bad-1', data: bad },
    ]),
  );
  assert.equal(r.status, 207);
  assert.deepEqual([r.body.accepted, r.body.rejected], [1, 1]);
  const rejected = r.body.results[1]!;
  assert.equal(rejected.status, 'rejected');
  assert.equal(rejected.id, 'bad-1');
  assert.equal(rejected.error_code, 'SCHEMA_VALIDATION_FAILED');
  assert.deepEqual(
    (rejected.errors as { path: string; rule: string }[]).map((e) => [e.path, e.rule]),
    [
      ['/items', 'minItems'],
      ['/currency', 'enum'],
    ],
  );
  const dlq = await readTopic(config, `events.${ORDER}.dlq`);
  const kept = dlq.find((d) => (JSON.parse(String(d.value)) as { id?: string }).id === 'bad-1');
  assert.ok(kept, 'the invalid event is in the DLQ');
  assert.equal(kept.headers.sluice_error_code, 'SCHEMA_VALIDATION_FAILED');
  assert.match(kept.headers.sluice_errors ?? '', /"\/currency"/);
  assert.equal(
    (await readTopic(config, `events.${ORDER}`)).some((x) => String(x.value).includes('GBP')),
    false,
  );
});

test('every event rejected answers 400 EVENTS_REJECTED; an unknown type goes to sluice.dlq', async () => {
  const before = (await readTopic(config, 'sluice.dlq')).length;
  const r = await post(
    '/v1/events',
    JSON.stringify([{ type: 'no_such_type', id: `${ORDER}-unknown`, data: {} }]),
  );
  assert.equal(r.status, 400);
  assert.equal(r.body.error_code, 'EVENTS_REJECTED');
  assert.equal(r.body.results[0]!.error_code, 'UNKNOWN_EVENT_TYPE');
  const dlq = await readTopic(config, 'sluice.dlq');
  assert.equal(dlq.length, before + 1);
  const kept = dlq.find((d) => String(d.value).includes(`${ORDER}-unknown`));
  assert.equal(kept?.headers.sluice_event_type, 'no_such_type');
  assert.equal(kept?.headers.sluice_error_code, 'UNKNOWN_EVENT_TYPE');
});

test('NDJSON: a line that is not JSON is that event’s error only', async () => {
  const body = `${JSON.stringify({ type: DELIVERY, data: { delivery_id: 'd1', order_id: order(1).order_id, status: 'assigned', changed_at: '2026-11-25T12:00:00Z' } })}\n{not json\n`;
  const r = await post('/v1/events', body, { 'content-type': 'application/x-ndjson' });
  assert.equal(r.status, 207);
  assert.equal(r.body.results[1]!.error_code, 'MALFORMED_BODY');
  // The bad line is kept as it was sent.
  const dlq = await readTopic(config, 'sluice.dlq');
  assert.ok(
    dlq.some((d) => String(d.value) === '{not json' && d.headers.sluice_error_code === 'MALFORMED_BODY'),
  );
});

test('a CloudEvents structured batch keeps its id, source, time and extensions', async () => {
  const ce = {
    specversion: '1.0',
    id: 'ce-1',
    source: '//logistics/dispatch',
    type: DELIVERY,
    time: '2026-11-25T12:34:56.789Z',
    dataschema: `urn:sluice:schema:${DELIVERY}:v1`,
    region: 'sf',
    data: {
      delivery_id: 'd-ce',
      order_id: order(1).order_id,
      status: 'picked_up',
      changed_at: '2026-11-25T12:34:56Z',
    },
  };
  const r = await post('/v1/events', JSON.stringify([ce]), {
    'content-type': 'application/cloudevents-batch+json',
  });
  assert.equal(r.status, 200);
  const rec = (await readTopic(config, `events.${DELIVERY}`)).find((x) => x.headers.ce_id === 'ce-1');
  assert.ok(rec);
  assert.equal(rec.headers.ce_source, '//logistics/dispatch');
  assert.equal(rec.headers.ce_time, '2026-11-25T12:34:56.789Z');
  assert.equal(rec.headers.ce_region, 'sf');
  assert.equal(String(rec.key), 'd-ce');
});

test('X-Sluice-Test marks events as test traffic (ce_test=true)', async () => {
  const r = await post('/v1/events', JSON.stringify([{ type: ORDER, id: 'test-1', data: order(5) }]), {
    'x-sluice-test': 'true',
  });
  assert.equal(r.status, 200);
  const rec = (await readTopic(config, `events.${ORDER}`)).find((x) => x.headers.ce_id === 'test-1');
  assert.equal(rec?.headers.ce_test, 'true');
});

test('whole-request errors: bad JSON, bad UTF-8, wrong content type, too large, gzip accepted', async () => {
  const bad = await post('/v1/events', '[{"type": ');
  assert.equal(bad.status, 400);
  assert.equal(bad.body.error_code, 'MALFORMED_BODY');
  assert.match(String(bad.body.message), /not valid JSON/);

  const utf = await post('/v1/events', Buffer.from([0x5b, 0x22, 0xff, 0xfe, 0x22, 0x5d]));
  assert.equal(utf.status, 400);
  assert.match(String(utf.body.message), /UTF-8/);

  const xml = await post('/v1/events', '<events/>', { 'content-type': 'application/xml' });
  assert.equal(xml.status, 415);
  assert.equal(xml.body.error_code, 'UNSUPPORTED_CONTENT_TYPE');

  const huge = await post(
    '/v1/events',
    JSON.stringify([{ type: ORDER, data: { pad: 'x'.repeat(70 * 1024) } }]),
  );
  assert.equal(huge.status, 413);
  assert.equal(huge.body.error_code, 'BODY_TOO_LARGE');

  const gz = await post('/v1/events', gzipSync(JSON.stringify([{ type: ORDER, data: order(6) }])), {
    'content-encoding': 'gzip',
  });
  assert.equal(gz.status, 200);
});

test('async mode answers 202 once spooled, and the events then reach Kafka', async () => {
  const events = Array.from({ length: 20 }, (_, i) => ({
    type: DELIVERY,
    id: `async-${i}`,
    data: {
      delivery_id: `da-${i}`,
      order_id: order(1).order_id,
      status: 'created',
      changed_at: '2026-11-25T12:00:00Z',
    },
  }));
  const r = await post('/v1/events', JSON.stringify(events), { prefer: 'respond-async' });
  assert.equal(r.status, 202);
  assert.equal(r.headers.get('preference-applied'), 'respond-async');
  assert.equal(r.body.accepted, 20);
  const records = await waitForRecords(config, `events.${DELIVERY}`, 20);
  const ids = new Set(records.map((x) => x.headers.ce_id));
  for (let i = 0; i < 20; i++) assert.ok(ids.has(`async-${i}`), `async-${i} delivered`);
});

test('health, readiness and Prometheus metrics', async () => {
  assert.equal((await fetch(`${proxy.url}/healthz`)).status, 200);
  const ready = await fetch(`${proxy.url}/readyz`);
  assert.deepEqual(await ready.json(), { ready: true, reason: 'ready' });
  const metrics = await (await fetch(`${proxy.url}/metrics`)).text();
  assert.match(
    metrics,
    new RegExp(`sluice_events_total\\{type="${ORDER}",outcome="accepted",reason=""\\} \\d+`),
  );
  assert.match(
    metrics,
    /sluice_events_total\{type="[a-z_0-9]+",outcome="rejected",reason="SCHEMA_VALIDATION_FAILED"\} 1/,
  );
  assert.match(metrics, /sluice_produce_latency_seconds_bucket/);
  assert.match(metrics, /sluice_http_requests_total\{route="POST \/v1\/events",status="207"\}/);
});

test('unknown paths and methods get the one error body', async () => {
  const r = await fetch(`${proxy.url}/v2/nope`);
  assert.equal(r.status, 404);
  assert.deepEqual(Object.keys((await r.json()) as object), ['error_code', 'message']);
  const m = await fetch(`${proxy.url}/v1/events`);
  assert.equal(m.status, 405);
});
