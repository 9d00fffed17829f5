import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { CloudEvent, Kafka as CloudEventsKafka, type Message } from 'cloudevents';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { loadConfig } from '../../lib/config.js';
import { buildEnvelope, envelopeHeaders, readEnvelope } from '../../lib/envelope.js';
import { uniqueName } from '../helpers/names.js';

const config = loadConfig();
const kafka = new Kafka({
  clientId: 'sluice-test',
  brokers: config.kafka.brokers,
  logLevel: logLevel.NOTHING,
});
const topic = uniqueName('test.kafka');
let admin: Admin;

before(async () => {
  admin = kafka.admin();
  await admin.connect();
  await admin.createTopics({ topics: [{ topic, numPartitions: 1 }], waitForLeaders: true });
});

after(async () => {
  await admin.deleteTopics({ topics: [topic] }).catch(() => undefined);
  await admin.disconnect();
});

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
  const producer = kafka.producer();
  await producer.connect();
  const [meta] = await producer.send({
    topic,
    acks: -1,
    messages: [{ key: data.order_id, value: JSON.stringify(data), headers }],
  });
  await producer.disconnect();
  assert.equal(meta?.errorCode, 0);

  const consumer = kafka.consumer({ groupId: uniqueName('test.group') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const record = await new Promise<{
    key: Buffer | null;
    value: Buffer | null;
    headers: Record<string, string>;
  }>((resolvePromise, reject) => {
    const timer = setTimeout(() => reject(new Error('no record within 30 s')), 30_000);
    void consumer.run({
      eachMessage: ({ message }) => {
        clearTimeout(timer);
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) h[k] = String(v);
        resolvePromise({ key: message.key, value: message.value, headers: h });
        return Promise.resolve();
      },
    });
  });
  await consumer.disconnect();
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

test('the broker refuses to auto-create a topic that was never declared', async () => {
  const producer = kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 0 } });
  await producer.connect();
  await assert.rejects(
    producer.send({
      topic: uniqueName('test.undeclared'),
      acks: 1,
      timeout: 2000,
      messages: [{ value: 'x' }],
    }),
  );
  await producer.disconnect();
});
