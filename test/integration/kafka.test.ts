import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { Kafka, logLevel, type Admin } from 'kafkajs';
import { loadConfig } from '../../lib/config.js';
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

test('a record with CloudEvents headers is produced and read back unchanged', async () => {
  const headers = {
    ce_specversion: '1.0',
    ce_id: 'evt-1',
    ce_source: '/tests/kafka',
    ce_type: 'order_created',
    ce_time: '2026-11-25T12:00:00Z',
    'content-type': 'application/json',
  };
  const value = JSON.stringify({ order_id: 'o-1', total_cents: 1250 });
  const producer = kafka.producer();
  await producer.connect();
  const [meta] = await producer.send({ topic, acks: -1, messages: [{ key: 'o-1', value, headers }] });
  await producer.disconnect();
  assert.equal(meta?.errorCode, 0);

  const consumer = kafka.consumer({ groupId: uniqueName('test.group') });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const received = await new Promise<{ key: string; value: string; headers: Record<string, string> }>(
    (resolvePromise, reject) => {
      const timer = setTimeout(() => reject(new Error('no record within 30 s')), 30_000);
      void consumer.run({
        eachMessage: ({ message }) => {
          clearTimeout(timer);
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(message.headers ?? {})) h[k] = String(v);
          resolvePromise({ key: String(message.key), value: String(message.value), headers: h });
          return Promise.resolve();
        },
      });
    },
  );
  await consumer.disconnect();
  assert.equal(received.key, 'o-1');
  assert.equal(received.value, value);
  assert.deepEqual(received.headers, headers);
});

test('the broker refuses to auto-create a topic that was never declared', async () => {
  const producer = kafka.producer({ allowAutoTopicCreation: false });
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
