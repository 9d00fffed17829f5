import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CloudEvent, Kafka as CloudEventsKafka, type Message } from 'cloudevents';
import {
  buildEnvelope,
  checkExtensionName,
  EnvelopeError,
  envelopeHeaders,
  isRfc3339,
  RawEnvelopeReader,
  readEnvelope,
  type EventEnvelope,
} from '../../lib/envelope.js';
import { headerMap, type HeaderPair } from '../../lib/kafka.js';
import { rawRecord } from '../helpers/record-batch.js';

const now = new Date('2026-11-25T12:00:01.250Z');
const payload = { order_id: '4b5e2f1c-8f7a-4a8e-9d7e-2a1c3b4d5e6f', subtotal_cents: 1250 };

function sample(): EventEnvelope {
  return buildEnvelope(
    {
      type: 'order_created',
      dataschema: 'urn:sluice:schema:order_created:v2',
      id: 'evt-42',
      source: '/checkout-service',
      time: '2026-11-25T11:59:58.100Z',
      partitionkey: payload.order_id,
      test: true,
    },
    now,
    '/sluice/proxy',
  );
}

test('the envelope becomes ce_ headers in binary mode and reads back the same', () => {
  const env = sample();
  const headers = envelopeHeaders(env);
  assert.deepEqual(headers, {
    ce_specversion: '1.0',
    ce_id: 'evt-42',
    ce_source: '/checkout-service',
    ce_type: 'order_created',
    ce_time: '2026-11-25T11:59:58.100Z',
    'content-type': 'application/json',
    ce_dataschema: 'urn:sluice:schema:order_created:v2',
    ce_ingesttime: '2026-11-25T12:00:01.250Z',
    ce_test: 'true',
    ce_partitionkey: payload.order_id,
  });
  const asBuffers = Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)]));
  assert.deepEqual(readEnvelope(asBuffers), env);
});

test('the official cloudevents SDK reads our Kafka message with the same attributes and data', () => {
  const env = sample();
  // A record as kafkajs hands it over: key and value are Buffers, headers strings.
  const record = {
    key: Buffer.from(payload.order_id),
    value: Buffer.from(JSON.stringify(payload)),
    headers: envelopeHeaders(env),
  };
  // The SDK types toEvent with its generic Message; at run time the Kafka binding reads key/value.
  const event = CloudEventsKafka.toEvent(record as unknown as Message);
  assert.ok(event instanceof CloudEvent, 'one event, not a batch');
  assert.equal(event.specversion, '1.0');
  assert.equal(event.id, env.id);
  assert.equal(event.source, env.source);
  assert.equal(event.type, env.type);
  assert.equal(new Date(event.time!).toISOString(), env.time);
  assert.equal(event.datacontenttype, 'application/json');
  assert.equal(event.dataschema, env.dataschema);
  assert.equal(event.ingesttime, env.ingesttime);
  assert.equal(String(event.test), 'true');
  assert.equal(String(event.partitionkey), payload.order_id);
  assert.deepEqual(event.data, payload);
  // The SDK's own validation accepts it (spec rules for id, source, time, extension names).
  assert.equal(event.validate(), true);
});

test('defaults: a generated id, ingest time as event time, keyless events have no partitionkey', () => {
  const env = buildEnvelope(
    { type: 'mobile_page_load', dataschema: 'urn:sluice:schema:mobile_page_load:v1' },
    now,
    '/sluice/proxy',
  );
  assert.match(env.id, /^[0-9a-f-]{36}$/);
  assert.equal(env.time, now.toISOString());
  assert.equal(env.source, '/sluice/proxy');
  assert.equal(env.test, false);
  assert.equal('partitionkey' in env, false);
  assert.equal('ce_partitionkey' in envelopeHeaders(env), false);
});

test('attribute rules: a bad time, an empty id or a wrong specversion name the attribute', () => {
  const base = { type: 'order_created', dataschema: 'urn:sluice:schema:order_created:v1' };
  for (const time of ['2026-11-25 12:00:00', '2026-13-01T00:00:00Z', 'yesterday', '2026-11-25T12:00:00']) {
    assert.throws(
      () => buildEnvelope({ ...base, time }, now, '/s'),
      (e: unknown) => e instanceof EnvelopeError && e.attribute === 'time',
    );
  }
  assert.throws(() => buildEnvelope({ ...base, id: '' }, now, '/s'), /"id": must be a non-empty string/);
  const headers = envelopeHeaders(buildEnvelope(base, now, '/s'));
  assert.throws(() => readEnvelope({ ...headers, ce_specversion: '0.3' }), /"specversion": must be "1.0"/);
  assert.throws(() => readEnvelope({ ...headers, ce_test: 'yes' }), /"test"/);
  const { ce_id: _dropped, ...noId } = headers;
  assert.throws(() => readEnvelope(noId), /"id"/);
});

test('extension names must be lower-case alphanumeric', () => {
  for (const ok of ['ingesttime', 'test', 'partitionkey', 'replay2']) checkExtensionName(ok);
  for (const bad of ['ingestTime', 'ingest_time', 'ce-test', ''])
    assert.throws(() => checkExtensionName(bad), EnvelopeError);
});

test('RawEnvelopeReader reads header bytes of records as readEnvelope(headerMap()) does, record after record', () => {
  const reader = new RawEnvelopeReader();
  const pairs = (h: Record<string, string | null>, extra: HeaderPair[] = []): HeaderPair[] => [
    ...Object.entries(h).map(([k, v]): HeaderPair => [Buffer.from(k), v === null ? null : Buffer.from(v)]),
    ...extra,
  ];
  const outcome = (f: () => EventEnvelope): EventEnvelope | string => {
    try {
      return f();
    } catch (e) {
      return e instanceof EnvelopeError ? `EnvelopeError ${e.message}` : assert.fail(String(e));
    }
  };
  const base = envelopeHeaders(sample());
  const cases: HeaderPair[][] = [
    pairs(base),
    // The same again (cached values), then each repeating attribute changed in turn.
    pairs(base),
    pairs({ ...base, ce_source: '/other' }),
    pairs({ ...base, ce_ingesttime: '2026-11-25T12:00:02Z' }),
    pairs({ ...base, ce_dataschema: 'urn:sluice:schema:order_created:v1' }),
    pairs({ ...base, ce_test: 'false' }),
    pairs({ ...base, ce_test: 'yes' }),
    pairs({ ...base, ce_specversion: '0.3' }),
    pairs({ ...base, ce_time: '2026-11-25T11:59:60Z' }),
    pairs({ ...base, ce_time: '2026-11-25t11:59:58+01:00' }),
    pairs({ ...base, ce_ingesttime: 'yesterday' }),
    pairs({ ...base, ce_id: null }),
    pairs({ ...base, ce_partitionkey: null }),
    pairs({ ...base, 'content-type': 'application/json; charset=utf-8' }),
    // A later header of the same name wins; unknown headers and nameless ones are ignored.
    pairs(base, [
      [Buffer.from('ce_id'), Buffer.from('evt-43')],
      [Buffer.from('trace'), Buffer.from('t-1')],
      [null, Buffer.from('x')],
    ]),
    pairs(base, [[Buffer.from('ce_source'), Buffer.from([0xff, 0x2f])]]),
    pairs(Object.fromEntries(Object.entries(base).filter(([k]) => k !== 'content-type' && k !== 'ce_test'))),
    pairs(base),
  ];
  for (const [i, c] of cases.entries()) {
    assert.deepEqual(
      outcome(() => reader.read(rawRecord(c))),
      outcome(() => readEnvelope(headerMap(c))),
      `case ${i}`,
    );
  }
});

test('isRfc3339: the one-scan path agrees with the general rule', () => {
  for (const [s, ok] of [
    ['2026-11-25T12:00:00Z', true],
    ['2026-11-25T12:00:00.1Z', true],
    ['2026-11-25T12:00:00.123456789Z', true],
    ['0000-01-01T00:00:00Z', true],
    ['2026-02-31T23:59:59Z', true],
    ['2016-12-31T23:59:60Z', false],
    ['2026-11-25T12:00:00.Z', false],
    ['2026-11-25T24:00:00Z', false],
    ['2026-00-25T12:00:00Z', false],
    ['2026-11-32T12:00:00Z', false],
    ['2026-11-25T12:60:00Z', false],
    ['2026-11-25T12:00:00', false],
    ['2026-11-25 12:00:00Z', false],
    ['2026-11-25t12:00:00z', true],
    ['2026-11-25T12:00:00+01:00', true],
  ] as const)
    assert.equal(isRfc3339(s), ok, s);
});
