// The Confluent REST Proxy endpoints against the real broker (what a REST Proxy client sees, and
// what lands in Kafka), and every answer of the proxy checked against proxy/openapi.json.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import * as ajvFormats from 'ajv-formats';
import { loadConfig, type Config } from '../../lib/config.js';
import { readEnvelope } from '../../lib/envelope.js';
import { createAdmin, type RangeRecord } from '../../lib/kafka.js';
import { hashKey } from '../../proxy/auth.js';
import { partitionForKey } from '../../proxy/partitioner.js';
import type { RunningProxy } from '../../proxy/server.js';
import { orderData } from '../helpers/events.js';
import { startReadyProxy } from '../helpers/proxy.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { readTopic } from '../helpers/kafka-read.js';

const addFormats = ajvFormats.default.default;

let config: Config;
let cat: IsolatedCatalog;
let proxy: RunningProxy;
let spoolDir: string;
let ORDER: string;
let DELIVERY: string;
let ORDERS: string;
let clusterId: string;

const V2 = 'application/vnd.kafka.v2+json';
const V2_JSON = 'application/vnd.kafka.json.v2+json';
const V2_BINARY = 'application/vnd.kafka.binary.v2+json';

before(async () => {
  const base = loadConfig();
  spoolDir = mkdtempSync(join(tmpdir(), 'sluice-spool-'));
  config = {
    ...base,
    proxy: {
      ...base.proxy,
      port: 0,
      spoolDir: join(spoolDir, 'open'),
      maxBodyBytes: 64 * 1024,
      maxEventBytes: 8 * 1024,
    },
  };
  cat = await isolatedCatalog(config);
  ORDER = cat.type('order_created');
  DELIVERY = cat.type('delivery_status_changed');
  ORDERS = `events.${ORDER}`;
  proxy = await startReadyProxy(config, cat.catalog);
  const admin = createAdmin(config, 'test-cluster-id');
  clusterId = (await admin.metadata({ topics: [] })).id;
  await admin.close();
});

after(async () => {
  await proxy.stop();
  await cat.cleanup(config);
  rmSync(spoolDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------------
// The OpenAPI document as a validator of real answers

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = Record<string, Json>;

const spec = JSON.parse(readFileSync(new URL('../../proxy/openapi.json', import.meta.url), 'utf8')) as Obj;
const toDefs = (schema: Json): Json =>
  JSON.parse(JSON.stringify(schema).replaceAll('"#/components/schemas/', '"sluice-openapi#/$defs/')) as Json;
const ajv = new Ajv2020({ strict: false, allowUnionTypes: true });
addFormats(ajv);
ajv.addSchema({ $id: 'sluice-openapi', $defs: toDefs((spec.components as Obj).schemas!) });
const validators = new Map<string, ValidateFunction>();
const documented = new Set<string>();

interface Answer {
  status: number;
  contentType: string;
  headers: Headers;
  text: string;
  body: unknown;
}

/** Asserts the answer is one the document describes for this operation, status and media type. */
function conforms(method: string, template: string, a: Answer, body: unknown = a.body): void {
  const op = ((spec.paths as Obj)[template] as Obj | undefined)?.[method] as Obj | undefined;
  assert.ok(op, `${method.toUpperCase()} ${template} is not in openapi.json`);
  let response = (op.responses as Obj)[String(a.status)] as Obj | undefined;
  const ref = response?.$ref;
  if (typeof ref === 'string')
    response = ((spec.components as Obj).responses as Obj)[ref.split('/').pop()!] as Obj;
  assert.ok(response, `${method.toUpperCase()} ${template} documents no ${a.status}`);
  const media = a.contentType.split(';')[0]!.trim();
  const schema = ((response.content as Obj | undefined)?.[media] as Obj | undefined)?.schema;
  assert.ok(schema !== undefined, `${method.toUpperCase()} ${template} ${a.status}: no ${media} content`);
  const key = `${method} ${template} ${a.status} ${media}`;
  let validate = validators.get(key);
  if (!validate) validators.set(key, (validate = ajv.compile(toDefs(schema) as object)));
  assert.ok(validate(body), `${key}: ${ajv.errorsText(validate.errors)}\n${JSON.stringify(body)}`);
  documented.add(key);
}

async function call(
  method: string,
  path: string,
  body?: unknown,
  headers: Record<string, string> = {},
  url = proxy.url,
): Promise<Answer> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers,
    ...(body === undefined ? {} : { body: typeof body === 'string' ? body : JSON.stringify(body) }),
  });
  const text = await res.text();
  let parsed: unknown = text;
  try {
    parsed = JSON.parse(text) as unknown;
  } catch {
    // not JSON (metrics, streamed answers): keep the text
  }
  return {
    status: res.status,
    contentType: res.headers.get('content-type') ?? '',
    headers: res.headers,
    text,
    body: parsed,
  };
}

const v2Post = (topic: string, body: unknown, headers: Record<string, string> = {}, url = proxy.url) =>
  call('POST', `/topics/${topic}`, body, { 'content-type': V2_JSON, ...headers }, url);

// ---------------------------------------------------------------------------------------------
// Test data

const order = orderData;
const delivery = (id: string) => ({
  delivery_id: id,
  order_id: order(1).order_id,
  status: 'assigned',
  changed_at: '2026-11-25T12:00:00Z',
});
const b64 = (s: string | Buffer): string => Buffer.from(s).toString('base64');

type Offset = {
  partition: number | null;
  offset: number | null;
  error_code: number | null;
  error: string | null;
};
type V2Body = { offsets: Offset[]; key_schema_id: null; value_schema_id: null };

/** The v2 success shape, field by field: exactly Confluent's keys and types. */
function assertV2Shape(a: Answer): V2Body {
  assert.equal(a.status, 200, a.text);
  const body = a.body as V2Body;
  assert.deepEqual(Object.keys(body), ['offsets', 'key_schema_id', 'value_schema_id']);
  assert.equal(body.key_schema_id, null);
  assert.equal(body.value_schema_id, null);
  for (const o of body.offsets) {
    assert.deepEqual(Object.keys(o), ['partition', 'offset', 'error_code', 'error']);
    if (o.error_code === null) {
      assert.ok(Number.isInteger(o.partition) && Number.isInteger(o.offset), JSON.stringify(o));
      assert.equal(o.error, null);
    } else {
      assert.deepEqual(
        [o.partition, o.offset, typeof o.error_code, typeof o.error],
        [null, null, 'number', 'string'],
      );
    }
  }
  return body;
}

const at = (records: (RangeRecord & { partition: number })[], o: Offset) => {
  const r = records.find((x) => x.partition === o.partition && x.offset === BigInt(o.offset!));
  assert.ok(r, `no record at ${o.partition}/${o.offset}`);
  return r;
};

// ---------------------------------------------------------------------------------------------
// v2

test('v2 json: Confluent’s answer shape; keys are JSON text, keyless records use the catalog key, an explicit partition wins', async () => {
  const objectKey = { id: 7 };
  const natural = partitionForKey(Buffer.from(JSON.stringify(objectKey)), 3);
  const chosen = (natural + 1) % 3;
  const a = await v2Post(ORDERS, {
    records: [
      { key: 'k-1', value: order(1) },
      { value: order(2) },
      { key: objectKey, value: order(3), partition: chosen },
    ],
  });
  assert.equal(a.contentType, V2);
  conforms('post', '/topics/{topic_name}', a);
  const { offsets } = assertV2Shape(a);
  assert.equal(offsets.length, 3);
  assert.equal(offsets[0]!.partition, partitionForKey(Buffer.from('"k-1"'), 3));
  assert.equal(offsets[1]!.partition, partitionForKey(Buffer.from(order(2).order_id), 3));
  assert.equal(offsets[2]!.partition, chosen);

  const records = await readTopic(config, ORDERS);
  const [r1, r2, r3] = offsets.map((o) => at(records, o));
  assert.equal(String(r1!.key), '"k-1"');
  assert.deepEqual(JSON.parse(String(r1!.value)), order(1));
  assert.equal(String(r2!.key), order(2).order_id);
  assert.equal(String(r3!.key), '{"id":7}');
  for (const [i, r] of [r1!, r2!, r3!].entries()) {
    const env = readEnvelope(r.headers);
    assert.equal(env.type, ORDER);
    assert.equal(env.dataschema, `urn:sluice:schema:${ORDER}:v2`);
    assert.equal(env.source, config.proxy.defaultSource);
    assert.equal(env.partitionkey, String(r.key));
    assert.deepEqual(JSON.parse(String(r.value)), order(i + 1));
  }
});

test('v2 binary: keys are the decoded bytes (even non-UTF-8), values base64 JSON; Accept: application/json is honoured', async () => {
  const rawKey = Buffer.from([0xff, 0x00, 0x10, 0x80]);
  const a = await call(
    'POST',
    `/topics/${ORDERS}`,
    {
      records: [
        { key: b64(rawKey), value: b64(JSON.stringify(order(11))) },
        { key: b64('plain-key'), value: b64(JSON.stringify(order(12))) },
      ],
    },
    { 'content-type': V2_BINARY, accept: 'application/json' },
  );
  assert.equal(a.contentType, 'application/json');
  conforms('post', '/topics/{topic_name}', a);
  const { offsets } = assertV2Shape(a);
  assert.equal(offsets[0]!.partition, partitionForKey(rawKey, 3));
  const records = await readTopic(config, ORDERS);
  const [binary, text] = offsets.map((o) => at(records, o));
  assert.deepEqual(binary!.key, rawKey);
  assert.equal(binary!.headers.ce_partitionkey, undefined, 'a binary key is no partitionkey attribute');
  assert.deepEqual(JSON.parse(String(binary!.value)), order(11));
  assert.equal(String(text!.key), 'plain-key');
  assert.equal(text!.headers.ce_partitionkey, 'plain-key');
});

test('v2: an invalid record of a catalog topic gets error_code 42202 naming its fields and goes to the DLQ; the others are written', async () => {
  const bad = order(21, { currency: 'GBP', items: [], customer_id: 'c-dlq-v2' });
  const a = await v2Post(ORDERS, {
    records: [{ value: order(20) }, { key: 'bad', value: bad }, { value: order(22) }],
  });
  conforms('post', '/topics/{topic_name}', a);
  const { offsets } = assertV2Shape(a);
  assert.equal(offsets[0]!.error_code, null);
  assert.equal(offsets[2]!.error_code, null);
  assert.equal(offsets[1]!.error_code, 42202);
  assert.match(offsets[1]!.error!, /\/items .*\/currency|\/currency .*\/items/);

  const binary = await call(
    'POST',
    `/topics/${ORDERS}`,
    { records: [{ value: b64('not json') }] },
    { 'content-type': V2_BINARY },
  );
  assert.equal(assertV2Shape(binary).offsets[0]!.error_code, 42202);

  const dlq = await readTopic(config, `${ORDERS}.dlq`);
  const kept = dlq.find((d) => String(d.value).includes('c-dlq-v2'));
  assert.ok(kept, 'the invalid record is in the DLQ');
  assert.equal(kept.headers.sluice_error_code, 'SCHEMA_VALIDATION_FAILED');
  assert.equal(kept.headers.sluice_event_type, ORDER);
  assert.match(kept.headers.sluice_errors ?? '', /"\/currency"/);
  assert.ok(dlq.some((d) => String(d.value).includes('not json')));
  assert.equal(
    (await readTopic(config, ORDERS)).some((r) => String(r.value).includes('c-dlq-v2')),
    false,
  );
});

test('v2: only catalog topics exist (404 40401); wrong media types 415; bad bodies 400/422; unknown partitions 40402', async () => {
  for (const topic of ['no.such.topic', `${ORDERS}.dlq`, `raw.${cat.app('consumer-ios')}`]) {
    const a = await v2Post(topic, { records: [{ value: {} }] });
    assert.equal(a.status, 404, topic);
    assert.deepEqual(Object.keys(a.body as object), ['error_code', 'message']);
    assert.equal((a.body as { error_code: number }).error_code, 40401);
    assert.match((a.body as { message: string }).message, /^Topic not found\./);
    assert.equal(a.contentType.split(';')[0], V2);
    conforms('post', '/topics/{topic_name}', a);
  }
  const raw = await v2Post(`raw.${cat.app('consumer-ios')}`, { records: [{ value: {} }] });
  assert.match((raw.body as { message: string }).message, /\/v1\/collect\//);

  const plain = await v2Post(
    ORDERS,
    { records: [{ value: order(1) }] },
    { 'content-type': 'application/json' },
  );
  assert.deepEqual([plain.status, (plain.body as { error_code: number }).error_code], [415, 41501]);
  conforms('post', '/topics/{topic_name}', plain);
  const avro = await v2Post(
    ORDERS,
    { records: [] },
    { 'content-type': 'application/vnd.kafka.avro.v2+json' },
  );
  assert.equal(avro.status, 415);
  assert.match((avro.body as { message: string }).message, /Schema Registry/);

  const empty = await v2Post(ORDERS, { records: [] });
  assert.deepEqual([empty.status, (empty.body as { error_code: number }).error_code], [422, 422]);
  conforms('post', '/topics/{topic_name}', empty);
  const notJson = await v2Post(ORDERS, '{"records": [');
  assert.deepEqual([notJson.status, (notJson.body as { error_code: number }).error_code], [400, 40001]);
  conforms('post', '/topics/{topic_name}', notJson);

  const far = await v2Post(ORDERS, { records: [{ value: order(30), partition: 99 }, { value: order(31) }] });
  const { offsets } = assertV2Shape(far);
  assert.deepEqual(offsets[0], {
    partition: null,
    offset: null,
    error_code: 40402,
    error: 'Partition not found.',
  });
  assert.equal(offsets[1]!.error_code, null);

  const toPartition = await call(
    'POST',
    `/topics/${ORDERS}/partitions/1`,
    { records: [{ key: 'x', value: order(32) }, { value: order(33) }] },
    { 'content-type': V2_JSON },
  );
  conforms('post', '/topics/{topic_name}/partitions/{partition_id}', toPartition);
  assert.deepEqual(
    assertV2Shape(toPartition).offsets.map((o) => o.partition),
    [1, 1],
  );
});

test('v2 GET /topics lists the catalog topics; GET /topics/{topic} gives configs and partitions from Kafka', async () => {
  const list = await call('GET', '/topics');
  assert.equal(list.status, 200);
  assert.equal(list.contentType, V2);
  conforms('get', '/topics', list);
  assert.deepEqual(list.body, [...cat.catalog.types.values()].map((t) => t.topic).sort());

  const one = await call('GET', `/topics/${ORDERS}`);
  assert.equal(one.status, 200, one.text);
  conforms('get', '/topics/{topic_name}', one);
  const topic = one.body as {
    name: string;
    configs: Record<string, string>;
    partitions: {
      partition: number;
      leader: number;
      replicas: { broker: number; leader: boolean; in_sync: boolean }[];
    }[];
  };
  assert.deepEqual(Object.keys(topic), ['name', 'configs', 'partitions']);
  assert.equal(topic.name, ORDERS);
  assert.equal(topic.configs['retention.ms'], String(168 * 3600 * 1000));
  assert.ok(Object.values(topic.configs).every((v) => typeof v === 'string'));
  assert.deepEqual(
    topic.partitions.map((p) => p.partition),
    [0, 1, 2],
  );
  for (const p of topic.partitions) {
    assert.deepEqual(Object.keys(p), ['partition', 'leader', 'replicas']);
    assert.ok(p.replicas.length >= 1);
    for (const r of p.replicas) {
      assert.deepEqual(Object.keys(r), ['broker', 'leader', 'in_sync']);
      assert.equal(r.leader, r.broker === p.leader);
      assert.equal(r.in_sync, true);
    }
  }
  const missing = await call('GET', '/topics/no.such.topic');
  assert.deepEqual([missing.status, (missing.body as { error_code: number }).error_code], [404, 40401]);
  conforms('get', '/topics/{topic_name}', missing);
});

// ---------------------------------------------------------------------------------------------
// v3

const CLUSTER_KEYS = [
  'kind',
  'metadata',
  'cluster_id',
  'controller',
  'acls',
  'brokers',
  'broker_configs',
  'consumer_groups',
  'topics',
  'partition_reassignments',
];

test('v3 GET /v3/clusters: a KafkaClusterList of the Kafka cluster, with its id from Kafka metadata', async () => {
  const a = await call('GET', '/v3/clusters');
  assert.equal(a.status, 200);
  assert.equal(a.contentType, 'application/json');
  conforms('get', '/v3/clusters', a);
  const list = a.body as {
    kind: string;
    metadata: { self: string; next: null };
    data: Record<string, unknown>[];
  };
  assert.deepEqual(Object.keys(list), ['kind', 'metadata', 'data']);
  assert.equal(list.kind, 'KafkaClusterList');
  assert.deepEqual(list.metadata, { self: `${proxy.url}/v3/clusters`, next: null });
  assert.equal(list.data.length, 1);
  const c = list.data[0]!;
  assert.deepEqual(Object.keys(c), CLUSTER_KEYS);
  assert.equal(c.kind, 'KafkaCluster');
  assert.equal(c.cluster_id, clusterId);
  const self = `${proxy.url}/v3/clusters/${clusterId}`;
  assert.deepEqual(c.metadata, { self, resource_name: `crn:///kafka=${clusterId}` });
  assert.match((c.controller as { related: string }).related, new RegExp(`^${self}/brokers/\\d+$`));
  assert.deepEqual(c.topics, { related: `${self}/topics` });

  const one = await call('GET', `/v3/clusters/${clusterId}`);
  conforms('get', '/v3/clusters/{cluster_id}', one);
  assert.deepEqual(one.body, c);
  const none = await call('GET', '/v3/clusters/no-such-cluster');
  assert.deepEqual(none.body, { error_code: 404, message: 'Cluster no-such-cluster cannot be found.' });
  conforms('get', '/v3/clusters/{cluster_id}', none);
});

const v3Path = (topic = ORDERS, cluster = clusterId) => `/v3/clusters/${cluster}/topics/${topic}/records`;
const V3_RECORDS = '/v3/clusters/{cluster_id}/topics/{topic_name}/records';

test('v3 one record: the delivery report has Confluent’s fields; partition, key, headers and timestamp land in Kafka', async () => {
  const value = order(40);
  const a = await call(
    'POST',
    v3Path(),
    {
      partition_id: 1,
      headers: [
        { name: 'trace', value: b64('t-1') },
        { name: 'ce_id', value: b64('v3-single') },
      ],
      key: { type: 'STRING', data: 'k-v3' },
      value: { type: 'JSON', data: value },
      timestamp: '2026-11-25T12:00:00.123Z',
    },
    { 'content-type': 'application/json' },
  );
  assert.equal(a.status, 200, a.text);
  assert.equal(a.contentType, 'application/json');
  conforms('post', V3_RECORDS, a);
  const r = a.body as Record<string, unknown>;
  assert.deepEqual(Object.keys(r), [
    'error_code',
    'cluster_id',
    'topic_name',
    'partition_id',
    'offset',
    'timestamp',
    'key',
    'value',
  ]);
  assert.equal(r.error_code, 200);
  assert.equal(r.cluster_id, clusterId);
  assert.equal(r.topic_name, ORDERS);
  assert.equal(r.partition_id, 1);
  assert.ok(Number.isInteger(r.offset));
  assert.equal(r.timestamp, '2026-11-25T12:00:00.123Z');
  assert.deepEqual(r.key, { type: 'STRING', size: 4 });
  assert.deepEqual(r.value, { type: 'JSON', size: Buffer.byteLength(JSON.stringify(value)) });

  const rec = at(await readTopic(config, ORDERS), {
    partition: 1,
    offset: r.offset as number,
    error_code: null,
    error: null,
  });
  assert.equal(String(rec.key), 'k-v3');
  assert.equal(rec.headers.trace, 't-1');
  assert.equal(rec.headers.ce_id, 'v3-single');
  assert.equal(rec.timestamp, BigInt(Date.parse('2026-11-25T12:00:00.123Z')));
  assert.deepEqual(JSON.parse(String(rec.value)), value);

  const keyless = await call(
    'POST',
    v3Path(),
    { value: { type: 'BINARY', data: b64(JSON.stringify(order(41))) } },
    { 'content-type': 'application/json' },
  );
  conforms('post', V3_RECORDS, keyless);
  const k = keyless.body as Record<string, unknown>;
  assert.equal(k.error_code, 200);
  assert.equal('key' in k, false, 'no key in the request, no key in the report');
  assert.equal(k.partition_id, partitionForKey(Buffer.from(order(41).order_id), 3));

  const noCluster = await call(
    'POST',
    v3Path(ORDERS, 'nope'),
    { value: { type: 'JSON', data: value } },
    {
      'content-type': 'application/json',
    },
  );
  assert.deepEqual([noCluster.status, (noCluster.body as { error_code: number }).error_code], [404, 404]);
  conforms('post', V3_RECORDS, noCluster);
  const noTopic = await call(
    'POST',
    v3Path('no.such.topic'),
    { value: { type: 'JSON', data: value } },
    {
      'content-type': 'application/json',
    },
  );
  assert.deepEqual([noTopic.status, (noTopic.body as { error_code: number }).error_code], [404, 40401]);
  conforms('post', V3_RECORDS, noTopic);
  const wrongType = await call('POST', v3Path(), '{}', { 'content-type': 'text/plain' });
  assert.deepEqual([wrongType.status, (wrongType.body as { error_code: number }).error_code], [415, 41501]);
  conforms('post', V3_RECORDS, wrongType);
});

/** Parses concatenated JSON answers (one per line, as the proxy writes them). */
const answersOf = (text: string): Record<string, unknown>[] =>
  text
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => JSON.parse(l) as Record<string, unknown>);

test('v3 streamed: records over one chunked request are answered one by one, as they arrive; a bad one in the middle does not stop the stream', async () => {
  const rec = (id: string, data: unknown) =>
    JSON.stringify({
      headers: [{ name: 'ce_id', value: b64(id) }],
      value: { type: 'JSON', data },
    });
  const bad = rec('stream-bad', order(51, { currency: 'XXX', customer_id: 'c-dlq-v3' }));
  const req = httpRequest(`${proxy.url}${v3Path()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
  });
  const resP = once(req, 'response') as Promise<[IncomingMessage]>;
  req.flushHeaders();
  const [res] = await resP;
  assert.equal(res.statusCode, 200);
  assert.equal(res.headers['content-type'], 'application/json');
  res.setEncoding('utf8');
  let received = '';
  res.on('data', (c: string) => (received += c));
  const until = async (n: number): Promise<void> => {
    while (answersOf(received).length < n) await once(res, 'data');
  };

  req.write(rec('stream-a', order(50)));
  await until(1); // answered while the request is still open: a real stream
  assert.equal(answersOf(received)[0]!.error_code, 200);
  req.write(`\n  ${bad.slice(0, 40)}`);
  req.write(`${bad.slice(40)}\r\n\t{"value": }`);
  req.write(`${rec('stream-c', order(52))}${rec('stream-d', order(53))}\n`);
  req.end();
  await once(res, 'end');

  const answers = answersOf(received);
  assert.deepEqual(
    answers.map((x) => x.error_code),
    [200, 422, 400, 200, 200],
  );
  for (const x of answers)
    conforms(
      'post',
      V3_RECORDS,
      { status: 200, contentType: 'application/json', headers: new Headers(), text: '', body: x },
      x,
    );
  assert.match(String(answers[1]!.message), /\/currency/);
  assert.deepEqual(Object.keys(answers[1]!), ['error_code', 'message']);
  const records = await readTopic(config, ORDERS);
  const ids = new Set(records.map((r) => r.headers.ce_id));
  for (const id of ['stream-a', 'stream-c', 'stream-d']) assert.ok(ids.has(id), id);
  assert.equal(ids.has('stream-bad'), false);
  const dlq = await readTopic(config, `${ORDERS}.dlq`);
  assert.ok(
    dlq.some((d) => String(d.value).includes('c-dlq-v3')),
    'the invalid record is in the DLQ',
  );
});

test('v3 streamed: a body that is not JSON objects ends the answers with the reason, after the records before it', async () => {
  const rec = (id: string) =>
    JSON.stringify({
      headers: [{ name: 'ce_id', value: b64(id) }],
      value: { type: 'JSON', data: order(55) },
    });
  const req = httpRequest(`${proxy.url}${v3Path()}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'transfer-encoding': 'chunked' },
  });
  const resP = once(req, 'response') as Promise<[IncomingMessage]>;
  req.write(`${rec('broken-a')}\n[1]\n${rec('broken-b')}`);
  const [res] = await resP;
  res.setEncoding('utf8');
  let received = '';
  res.on('data', (c: string) => (received += c));
  await once(res, 'end'); // the answers end although the request is still open
  req.end(rec('broken-c'));
  const answers = answersOf(received);
  assert.deepEqual(
    answers.map((x) => x.error_code),
    [200, 400],
  );
  assert.match(String(answers[1]!.message), /expected a JSON object/);
  const ids = new Set((await readTopic(config, ORDERS)).map((r) => r.headers.ce_id));
  assert.deepEqual(
    ['broken-a', 'broken-b', 'broken-c'].map((id) => ids.has(id)),
    [true, false, false],
  );
});

// ---------------------------------------------------------------------------------------------
// Auth, and the native API against the document

test('auth: API keys, their event-type scopes and rate limits apply to the Confluent endpoints', async () => {
  const keyed = await startReadyProxy(
    {
      ...config,
      proxy: {
        ...config.proxy,
        spoolDir: join(spoolDir, 'keyed'),
        apiKeys: [
          {
            id: 'delivery-only',
            sha256: hashKey('secret-d'),
            eventTypes: [DELIVERY],
            apps: ['*'],
            ratePerSecond: 1000,
            burst: 10_000,
          },
          {
            id: 'tiny',
            sha256: hashKey('secret-t'),
            eventTypes: ['*'],
            apps: ['*'],
            ratePerSecond: 1,
            burst: 2,
          },
        ],
      },
    },
    cat.catalog,
  );
  try {
    const url = keyed.url;
    const records = { records: [{ value: order(60) }] };
    const none = await v2Post(ORDERS, records, {}, url);
    assert.deepEqual([none.status, (none.body as { error_code: number }).error_code], [401, 401]);
    conforms('post', '/topics/{topic_name}', none);
    const unknown = await v2Post(ORDERS, records, { authorization: 'Bearer nope' }, url);
    assert.equal(unknown.status, 401);

    const d = { authorization: 'Bearer secret-d' };
    const forbidden = await v2Post(ORDERS, records, d, url);
    assert.deepEqual([forbidden.status, (forbidden.body as { error_code: number }).error_code], [403, 40301]);
    conforms('post', '/topics/{topic_name}', forbidden);
    const allowed = await v2Post(
      `events.${DELIVERY}`,
      { records: [{ value: delivery('d-auth') }] },
      { 'x-api-key': 'secret-d' },
      url,
    );
    assert.equal(assertV2Shape(allowed).offsets[0]!.error_code, null);
    const list = await call('GET', '/topics', undefined, d, url);
    assert.deepEqual(list.body, [`events.${DELIVERY}`]);
    const describe = await call('GET', `/topics/${ORDERS}`, undefined, d, url);
    assert.equal(describe.status, 403);
    conforms('get', '/topics/{topic_name}', describe);

    const json = { 'content-type': 'application/json', ...d };
    const v3Forbidden = await call('POST', v3Path(), { value: { type: 'JSON', data: order(61) } }, json, url);
    assert.deepEqual(
      [v3Forbidden.status, (v3Forbidden.body as { error_code: number }).error_code],
      [403, 40301],
    );
    conforms('post', V3_RECORDS, v3Forbidden);
    const v3Allowed = await call(
      'POST',
      v3Path(`events.${DELIVERY}`),
      { value: { type: 'JSON', data: delivery('d-v3') } },
      json,
      url,
    );
    assert.equal((v3Allowed.body as { error_code: number }).error_code, 200);

    const tiny = { authorization: 'Bearer secret-t' };
    const limited = await v2Post(
      ORDERS,
      { records: [1, 2, 3].map((n) => ({ value: order(70 + n) })) },
      tiny,
      url,
    );
    assert.deepEqual([limited.status, (limited.body as { error_code: number }).error_code], [429, 429]);
    assert.ok(Number(limited.headers.get('retry-after')) >= 1);
    conforms('post', '/topics/{topic_name}', limited);

    // The native API's 401 and 403 against the document.
    const native401 = await call(
      'POST',
      '/v1/events',
      [{ type: ORDER, data: order(80) }],
      { 'content-type': 'application/json' },
      url,
    );
    assert.equal(native401.status, 401);
    conforms('post', '/v1/events', native401);
    const native403 = await call(
      'POST',
      '/v1/events',
      [{ type: ORDER, data: order(80) }],
      { 'content-type': 'application/json', ...d },
      url,
    );
    assert.equal(native403.status, 403);
    conforms('post', '/v1/events', native403);
  } finally {
    await keyed.stop();
  }
});

test('the native API answers as openapi.json describes (200, 202, 207, 400, 404, 413, 415, health, metrics)', async () => {
  const json = { 'content-type': 'application/json' };
  const ok = await call('POST', '/v1/events', [{ type: ORDER, data: order(90) }], json);
  assert.equal(ok.status, 200);
  conforms('post', '/v1/events', ok);
  const spooled = await call(
    'POST',
    '/v1/events',
    { type: ORDER, data: order(91) },
    { ...json, prefer: 'respond-async' },
  );
  assert.equal(spooled.status, 202);
  conforms('post', '/v1/events', spooled);
  const mixed = await call(
    'POST',
    '/v1/events',
    [
      { type: ORDER, data: order(92) },
      { type: ORDER, data: { currency: 'GBP' } },
    ],
    json,
  );
  assert.equal(mixed.status, 207);
  conforms('post', '/v1/events', mixed);
  const rejected = await call('POST', '/v1/events', [{ type: 'no_such_type', data: {} }], json);
  assert.equal(rejected.status, 400);
  conforms('post', '/v1/events', rejected);
  const ndjson = await call(
    'POST',
    '/v1/events',
    `${JSON.stringify({ type: DELIVERY, data: delivery('d-nd') })}\n`,
    {
      'content-type': 'application/x-ndjson',
    },
  );
  assert.equal(ndjson.status, 200);
  conforms('post', '/v1/events', ndjson);
  const malformed = await call('POST', '/v1/events', '[{', json);
  assert.equal(malformed.status, 400);
  conforms('post', '/v1/events', malformed);
  const large = await call(
    'POST',
    '/v1/events',
    JSON.stringify([{ type: ORDER, data: { pad: 'x'.repeat(70 * 1024) } }]),
    json,
  );
  assert.equal(large.status, 413);
  conforms('post', '/v1/events', large);
  const xml = await call('POST', '/v1/events', '<events/>', { 'content-type': 'application/xml' });
  assert.equal(xml.status, 415);
  conforms('post', '/v1/events', xml);

  const app = cat.app('consumer-ios');
  const collected = await call('POST', `/v1/collect/${app}`, { screen: 'home' }, json);
  assert.equal(collected.status, 200);
  conforms('post', '/v1/collect/{app}', collected);
  const noApp = await call('POST', '/v1/collect/no-such-app', { screen: 'home' }, json);
  assert.equal(noApp.status, 404);
  conforms('post', '/v1/collect/{app}', noApp);
  const preflight = await call('OPTIONS', `/v1/collect/${app}`, undefined, { origin: 'https://example.com' });
  assert.equal(preflight.status, 204);
  assert.ok((spec.paths as Obj)['/v1/collect/{app}'] && preflight.headers.get('access-control-allow-origin'));

  conforms('get', '/healthz', await call('GET', '/healthz'));
  conforms('get', '/readyz', await call('GET', '/readyz'));
  const metrics = await call('GET', '/metrics');
  conforms('get', '/metrics', metrics);
  const doc = await call('GET', '/openapi.json');
  conforms('get', '/openapi.json', doc);
  assert.deepEqual(doc.body, spec);
});

test('every operation of the document was checked against a real answer above', () => {
  const checked = new Set([...documented].map((k) => k.split(' ').slice(0, 2).join(' ')));
  const missing = Object.entries(spec.paths as Obj).flatMap(([path, item]) =>
    Object.keys(item as Obj)
      .filter((m) => ['get', 'post', 'put', 'delete', 'patch'].includes(m))
      .map((m) => `${m} ${path}`)
      .filter((op) => !checked.has(op)),
  );
  assert.deepEqual(missing, []);
});
