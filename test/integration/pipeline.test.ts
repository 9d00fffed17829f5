// The Kafka → Parquet pipeline on the real Temporal, Kafka, S3 and SQS: exactly the produced events
// end up in Parquet, each once, with their envelope columns; invalid records go to the DLQ; pause
// and resume work; offsets are committed on the consumer group.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { createSqsClient } from '../../lib/aws.js';
import { loadConfig, type Config } from '../../lib/config.js';
import { buildEnvelope, envelopeHeaders } from '../../lib/envelope.js';
import { createProducer } from '../../lib/kafka.js';
import { createLogger } from '../../lib/logger.js';
import { partitionForKey } from '../../proxy/partitioner.js';
import { eventPipeline } from '../../workflows/event-pipeline.js';
import { statusQuery, pauseSignal, resumeSignal, type PipelineStatus } from '../../workflows/signals.js';
import { createPipelineWorkers, workflowsPath } from '../../workers/pipeline-worker.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { produceAborted } from '../helpers/aborted.js';
import { readTopic } from '../helpers/kafka-read.js';
import { uniqueName } from '../helpers/names.js';
import { uncommitted } from '../helpers/pipeline.js';
import { recordHistories, recording } from '../helpers/histories.js';
import { listKeys, readParquetRows } from '../helpers/s3-parquet.js';

let config: Config;
let cat: IsolatedCatalog;
let client: Client;
let connection: Connection;
let worker: Awaited<ReturnType<typeof createPipelineWorkers>>;
let running: Promise<unknown>;
let TYPE: string;
const produced = new Map<string, { partition: number }>();

const order = (n: number) => ({
  order_id: `4b5e2f1c-8f7a-4a8e-9d7e-${String(n).padStart(12, '0')}`,
  customer_id: `c-${n}`,
  store_id: 's-1',
  items: [{ sku: 'taco', quantity: 1 + (n % 3), unit_price_cents: 450 }],
  subtotal_cents: 450 * (1 + (n % 3)),
  currency: 'USD',
  placed_at: `2026-11-25T1${n % 2}:00:00Z`,
  ...(n % 4 === 0 ? { tip_cents: 100, promo_code: null } : {}),
});

async function produce(
  from: number,
  count: number,
  extra: { value: string; headers: Record<string, string> }[] = [],
): Promise<void> {
  const producer = createProducer(config, 'test-pipeline', -1);
  const messages = [];
  for (let n = from; n < from + count; n++) {
    const data = order(n);
    const env = buildEnvelope(
      {
        type: TYPE,
        dataschema: `urn:sluice:schema:${TYPE}:v2`,
        id: `e-${n}`,
        time: data.placed_at,
        partitionkey: data.order_id,
      },
      new Date(),
      '/test',
    );
    const partition = partitionForKey(Buffer.from(data.order_id), 3);
    produced.set(`e-${n}`, { partition });
    messages.push({
      topic: `events.${TYPE}`,
      partition,
      key: Buffer.from(data.order_id),
      value: Buffer.from(JSON.stringify(data)),
      headers: envelopeHeaders(env),
    });
  }
  for (const x of extra)
    messages.push({
      topic: `events.${TYPE}`,
      partition: 0,
      key: undefined,
      value: Buffer.from(x.value),
      headers: x.headers,
    });
  await producer.send({ messages });
  await producer.close();
}

async function status(): Promise<PipelineStatus> {
  return client.workflow.getHandle(`pipeline/${TYPE}`).query(statusQuery);
}

/** Waits until every partition's committed offset reached its end. */
async function caughtUp(timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while ((await uncommitted(config, TYPE)) > 0n) {
    if (Date.now() > deadline)
      throw new Error(`pipeline did not catch up: ${JSON.stringify(await status())}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

/** Rows in S3 once `enough` holds (or after 20 s, for the assertion to show what is there). */
async function rowsWhen(enough: (n: number) => boolean): Promise<Record<string, unknown>[]> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const rows = await readParquetRows(config, `events/${TYPE}/`);
    if (enough(rows.length) || Date.now() > deadline) return rows;
    await new Promise((r) => setTimeout(r, 500));
  }
}

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const base = loadConfig();
  config = {
    ...base,
    pipeline: { ...base.pipeline, taskQueue: uniqueName('test-pipeline'), idleWaitMs: 1000 },
  };
  cat = await isolatedCatalog(config, { flush: { maxRecords: 150, maxAgeSeconds: 1 } });
  TYPE = cat.type('order_created');
  worker = await createPipelineWorkers(config, cat.catalog, createLogger('test-worker', 'warn'), {
    workflowsPath,
  });
  running = worker.run();
  connection = await Connection.connect({ address: config.temporal.address });
  client = new Client({ connection, namespace: config.temporal.namespace });
});

after(async () => {
  if (recording)
    recordHistories(config, {
      'event-pipeline': `pipeline/${TYPE}`,
      'partition-pipeline': `pipeline/${TYPE}/p0`,
    });
  for (const id of [`pipeline/${TYPE}`, ...[0, 1, 2].map((p) => `pipeline/${TYPE}/p${p}`)]) {
    await client.workflow
      .getHandle(id)
      .terminate('test over')
      .catch(() => undefined);
  }
  worker.shutdown();
  await running;
  await worker.close();
  await connection.close();
  await cat.cleanup(config);
});

test('every produced event is in Parquet exactly once with its envelope columns; invalid records go to the DLQ', async () => {
  const bad = buildEnvelope(
    { type: TYPE, dataschema: `urn:sluice:schema:${TYPE}:v2`, id: 'bad-1' },
    new Date(),
    '/test',
  );
  await produce(0, 400, [
    { value: JSON.stringify({ order_id: 'not-a-uuid' }), headers: envelopeHeaders(bad) },
    { value: '{"no envelope": true}', headers: {} },
  ]);
  await client.workflow.start(eventPipeline, {
    workflowId: `pipeline/${TYPE}`,
    taskQueue: config.pipeline.taskQueue,
    args: [{ eventType: TYPE, idleWaitMs: 1000, partitionCheckMs: 5000 }],
  });
  await caughtUp();

  const rows = await rowsWhen((n) => n >= 400);
  const ids = rows.map((r) => r._event_id as string);
  assert.equal(
    ids.length,
    400,
    `one row per valid event; status ${JSON.stringify(await status())}; keys ${(await listKeys(config, `events/${TYPE}/`)).join(' ')}`,
  );
  assert.equal(new Set(ids).size, 400, 'no duplicates');
  for (const r of rows) {
    const want = produced.get(r._event_id as string);
    assert.ok(want, `unexpected row ${String(r._event_id)}`);
    assert.equal(r._kafka_partition, want.partition);
    assert.equal(r._source, '/test');
    assert.equal(r._test, false);
    assert.ok([1, 2].includes(r._schema_version as number));
    const n = Number(String(r._event_id).slice(2));
    assert.equal(r.customer_id, `c-${n}`);
    assert.match(
      String(r.object_key),
      new RegExp(
        `^events/${TYPE}/v=2/dt=2026-11-25/hr=1${n % 2}/${TYPE}-p${want.partition}-\\d+-\\d+\\.parquet$`,
      ),
    );
  }

  // Plain JSON.stringify payloads: the JSON row reader read every row, none took JSON.parse + ajv.
  let segments = (await status()).partitions.flatMap((p) => (p.lastSegment ? [p.lastSegment] : []));
  for (let i = 0; i < 40 && !segments.some((g) => g.rows > 0); i++) {
    await new Promise((r) => setTimeout(r, 250));
    segments = (await status()).partitions.flatMap((p) => (p.lastSegment ? [p.lastSegment] : []));
  }
  assert.ok(
    segments.some((g) => g.rows > 0),
    'a partition reports its last segment',
  );
  assert.deepEqual(
    segments.map((g) => g.exactPathRows),
    segments.map(() => 0),
  );

  const dlq = await readTopic(config, `events.${TYPE}.dlq`);
  assert.deepEqual(dlq.map((d) => d.headers.sluice_error_code).sort(), [
    'INVALID_EVENT',
    'SCHEMA_VALIDATION_FAILED',
  ]);

  // One S3 ObjectCreated notice per object, for the loader.
  const sqs = createSqsClient(config);
  const { QueueUrl } = await sqs.send(
    new GetQueueUrlCommand({ QueueName: `${config.sqs.queuePrefix}${TYPE}` }),
  );
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({ QueueUrl, AttributeNames: ['ApproximateNumberOfMessages'] }),
  );
  sqs.destroy();
  assert.equal(
    Number(attrs.Attributes?.ApproximateNumberOfMessages),
    (await listKeys(config, `events/${TYPE}/`)).length,
  );

  // Partitions report progress to the parent by signal after each segment: eventually consistent.
  let s = await status();
  for (let i = 0; i < 100 && s.partitions.reduce((n, p) => n + p.rows, 0) < 400; i++) {
    await new Promise((r) => setTimeout(r, 100));
    s = await status();
  }
  assert.equal(s.partitions.length, 3);
  assert.equal(
    s.partitions.reduce((n, p) => n + p.rows, 0),
    400,
  );
  assert.ok(s.partitions.every((p) => p.lag === '0' && p.segments > 0));
});

test('pause stops new segments; resume moves what arrived meanwhile', async () => {
  const handle = client.workflow.getHandle(`pipeline/${TYPE}`);
  await handle.signal(pauseSignal);
  await new Promise((r) => setTimeout(r, 1500));
  const before = (await listKeys(config, `events/${TYPE}/`)).length;
  await produce(1000, 30);
  await new Promise((r) => setTimeout(r, 4000));
  assert.equal((await listKeys(config, `events/${TYPE}/`)).length, before, 'nothing written while paused');
  assert.ok((await status()).paused);
  await handle.signal(resumeSignal);
  await caughtUp();
  const rows = await rowsWhen((n) => n >= 430);
  assert.equal(rows.length, 430);
  assert.equal(new Set(rows.map((r) => r._event_id)).size, 430);
});

test('an aborted transaction at the end of a partition is stepped over at once; none of it reaches Parquet', async () => {
  await produceAborted(config, { type: TYPE, version: 2, partition: 2 }, [
    [0, 1, 2].map((i) => ({ id: `aborted-${i}`, data: order(2000 + i) })),
  ]);
  // Four offsets wait (three records and the abort marker), far below maxRecords: without the
  // step the position would stay before them until 150 more records arrived.
  await caughtUp(20_000);
  const rows = await readParquetRows(config, `events/${TYPE}/`);
  assert.equal(rows.length, 430);
  assert.ok(!rows.some((r) => String(r._event_id).startsWith('aborted-')));
});
