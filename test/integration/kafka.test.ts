import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { Admin, Producer } from '@platformatic/kafka';
import { CloudEvent, Kafka as CloudEventsKafka, type Message } from 'cloudevents';
import { loadConfig } from '../../lib/config.js';
import { buildEnvelope, envelopeHeaders, readEnvelope } from '../../lib/envelope.js';
import {
  createAdmin,
  createProducer,
  createRangeReader,
  KafkaRangeError,
  readRange,
  readRangeChunks,
  type RangeReader,
  type RangeRecord,
} from '../../lib/kafka.js';
import { uniqueName } from '../helpers/names.js';

const config = loadConfig();
const topic = uniqueName('test.kafka');
let admin: Admin;
let producer: Producer<Buffer, Buffer, string, string>;
let reader: RangeReader;

before(async () => {
  admin = createAdmin(config);
  await admin.createTopics({ topics: [topic], partitions: 2, replicas: 1 });
  producer = createProducer(config, 'test', -1);
  reader = createRangeReader(config, uniqueName('test.reader'));
});

after(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await Promise.all([admin.close(), producer.close(), reader.close()]);
});

async function collect(from: bigint, to: bigint, partition = 1): Promise<RangeRecord[]> {
  const out: RangeRecord[] = [];
  for await (const chunk of readRange(reader, { topic, partition, from, to, maxBytes: 4096 }))
    out.push(...chunk);
  return out;
}

test('a record with the CloudEvents envelope is produced, read back, and understood by the cloudevents SDK', async () => {
  const data = { order_id: '4b5e2f1c-8f7a-4a8e-9d7e-2a1c3b4d5e6f', subtotal_cents: 1250 };
  const envelope = buildEnvelope(
    {
      type: 'order_created',
      dataschema: 'urn:sluice:schema:order_created:v2',
      source: '/tests/kafka',
      time: '2026-11-25T12:00:00Z',
      partitionkey: data.order_id,
    },
    new Date(),
    '/sluice/test',
  );
  const headers = envelopeHeaders(envelope);
  const result = await producer.send({
    messages: [
      {
        topic,
        partition: 0,
        key: Buffer.from(data.order_id),
        value: Buffer.from(JSON.stringify(data)),
        headers,
      },
    ],
  });
  assert.equal(result.offsets?.[0]?.offset, 0n);

  const [record] = await collect(0n, 1n, 0);
  assert.ok(record);
  assert.equal(String(record.key), data.order_id);
  assert.deepEqual(JSON.parse(String(record.value)), data);
  assert.deepEqual(record.headers, headers);
  assert.deepEqual(readEnvelope(record.headers), envelope);

  // The SDK types toEvent with its generic Message; at run time the Kafka binding reads key/value.
  const event = CloudEventsKafka.toEvent(record as unknown as Message);
  assert.ok(event instanceof CloudEvent);
  assert.equal(event.validate(), true);
  assert.deepEqual(
    [event.id, event.source, event.type, event.dataschema, event.ingesttime, String(event.partitionkey)],
    [envelope.id, '/tests/kafka', 'order_created', envelope.dataschema, envelope.ingesttime, data.order_id],
  );
  assert.deepEqual(event.data, data);
});

test('an exact offset range is read: nothing before it, nothing after it, across many fetches', async () => {
  // 10 sends of 20 records: batches straddle both ends of the range on purpose.
  for (let b = 0; b < 10; b++) {
    await producer.send({
      messages: Array.from({ length: 20 }, (_, i) => ({
        topic,
        partition: 1,
        value: Buffer.from(JSON.stringify({ n: b * 20 + i, pad: 'x'.repeat(100) })),
      })),
    });
  }
  const records = await collect(33n, 171n);
  assert.deepEqual(
    records.map((r) => r.offset),
    Array.from({ length: 171 - 33 }, (_, i) => BigInt(33 + i)),
  );
  assert.deepEqual(
    records.map((r) => (JSON.parse(String(r.value)) as { n: number }).n),
    Array.from({ length: 171 - 33 }, (_, i) => 33 + i),
  );
  assert.deepEqual(await collect(5n, 5n), []);
  // Each fetch's records fill a Buffer of their own, so they can be handed to an encode thread.
  let chunks = 0;
  for await (const c of readRangeChunks(reader, {
    topic,
    partition: 1,
    from: 0n,
    to: 200n,
    maxBytes: 4096,
  })) {
    assert.equal(c.data.byteOffset, 0);
    assert.equal(c.data.byteLength, c.data.buffer.byteLength);
    chunks++;
  }
  assert.ok(chunks > 3, `${chunks} fetches`);
});

test('a range past the end of the partition is an error, not a wait', async () => {
  await assert.rejects(collect(190n, 250n), (err: unknown) => {
    assert.ok(err instanceof KafkaRangeError);
    assert.equal(err.code, 'RANGE_BEYOND_HIGH_WATERMARK');
    assert.equal(err.details.highWatermark, 200n);
    return true;
  });
});

test('the broker refuses to auto-create a topic that was never declared', async () => {
  await assert.rejects(
    producer.send({ messages: [{ topic: uniqueName('test.undeclared'), value: Buffer.from('x') }] }),
  );
});
