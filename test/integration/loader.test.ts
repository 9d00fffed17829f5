// The Snowpipe-style loader on the real Temporal, S3, SQS and DuckDB: each file loads once however
// often it is announced or a load is retried; test events go where event.yaml says; a new schema
// version migrates the table (old rows read NULL); files the pipeline writes become rows.
import assert from 'node:assert/strict';

import { after, before, test } from 'node:test';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { MockActivityEnvironment } from '@temporalio/testing';
import { type Client } from '@temporalio/client';
import { createS3Client, createSqsClient } from '../../lib/aws.js';
import { type Config } from '../../lib/config.js';
import { buildEnvelope, envelopeHeaders } from '../../lib/envelope.js';
import { createProducer } from '../../lib/kafka.js';
import { createLogger } from '../../lib/logger.js';
import { queryWarehouse, rowObjects } from '../../lib/warehouse-client.js';
import { partitionForKey } from '../../proxy/partitioner.js';
import { eventPipeline } from '../../workflows/event-pipeline.js';
import { loaderStatusQuery, type LoaderStatus } from '../../workflows/loader-signals.js';
import { warehouseLoader } from '../../workflows/warehouse-loader.js';
import type { LoadSummary } from '../../activities/loader-types.js';
import { createPipelineWorkers, workflowsPath } from '../../workers/pipeline-worker.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { orderData } from '../helpers/events.js';

import { announce, putSegment, type TestEvent, type WrittenObject } from '../helpers/segments.js';
import { startLoaderWorker, testPlatform, workflowIdsOf, type TestPlatform } from '../helpers/platform.js';
import { eventually } from '../helpers/wait.js';

let config: Config;
let cat: IsolatedCatalog;
let client: Client;
let loader: Awaited<ReturnType<typeof startLoaderWorker>>;
let platform: TestPlatform;
const s3 = () => createS3Client(config);
const sqs = () => createSqsClient(config);

const rows = async (sql: string): Promise<Record<string, unknown>[]> =>
  rowObjects(await queryWarehouse(config, sql));
const tableOf = (shipped: string): string => cat.catalog.types.get(cat.type(shipped))!.table;
const count = async (sql: string): Promise<number> => Number((await rows(sql))[0]?.n ?? -1);

async function startLoader(type: string): Promise<void> {
  await client.workflow.start(warehouseLoader, {
    workflowId: `loader/${type}`,
    taskQueue: config.warehouse.taskQueue,
    args: [{ eventType: type, maxWaitMs: 1000 }],
  });
}

const loaderStatus = (type: string): Promise<LoaderStatus> =>
  client.workflow.getHandle(`loader/${type}`).query(loaderStatusQuery);

const delivery = (n: number): Record<string, unknown> => ({
  delivery_id: `d-${n}`,
  order_id: orderData(n).order_id,
  status: 'assigned',
  changed_at: '2026-11-25T12:00:00Z',
  ...(n % 2 ? { location: { lat: 40.7, lng: -74 } } : {}),
});

before(async () => {
  platform = await testPlatform('loader');
  config = platform.config;
  client = platform.client;
  cat = await isolatedCatalog(config, { flush: { maxRecords: 100, maxAgeSeconds: 1 } });
  loader = await startLoaderWorker(platform, cat.catalog);
});

after(async () => {
  await loader.stop();
  await platform.close(
    ['delivery_status_changed', 'order_created'].flatMap((t) => workflowIdsOf(cat.type(t))),
  );
  await cat.cleanup(config);
});

test('each file loads once however often it is announced or a load is retried; test events are skipped as event.yaml says', async () => {
  const TYPE = cat.type('delivery_status_changed');
  const written: WrittenObject[] = [];
  let n = 0;
  for (const partition of [0, 1, 2]) {
    const events: TestEvent[] = [];
    for (let i = 0; i < 40; i++, n++) {
      events.push({ id: `d-${n}`, data: delivery(n), version: 1, test: n % 10 === 0 });
    }
    written.push(...(await putSegment(config, s3(), cat.catalog, TYPE, partition, 100n, events)));
  }
  const testEvents = 12;
  await announce(config, sqs(), TYPE, written);
  await startLoader(TYPE);
  const table = tableOf('delivery_status_changed');
  await eventually(
    () => loaderStatus(TYPE),
    (s) => s.loaded >= 3,
    'the three files to load',
  );
  // Every notice twice more, as S3's at-least-once delivery may do.
  for (let i = 0; i < 2; i++) await announce(config, sqs(), TYPE, written);
  await eventually(
    () => loaderStatus(TYPE),
    (s) => s.notices >= 9,
    'the loader to take the repeated notices',
  );

  assert.equal(
    await count(`SELECT count(*) AS n FROM ${table}`),
    120 - testEvents,
    'every non-test row once',
  );
  assert.equal(await count(`SELECT count(DISTINCT _event_id) AS n FROM ${table}`), 120 - testEvents);
  assert.equal(await count(`SELECT count(*) AS n FROM ${table} WHERE _test`), 0);
  const history = await rows(
    `SELECT file_key, status, rows, test_rows FROM _sluice_load_history WHERE table_name = '${table}' ORDER BY file_key`,
  );
  assert.deepEqual(
    history.map((h) => [h.file_key, h.status]),
    written.map((w) => [w.key, 'LOADED']).sort(),
    'one LOADED history row per file',
  );
  const status = await loaderStatus(TYPE);
  assert.equal(status.loaded, 3);
  assert.ok(
    status.skipped >= 3,
    `the repeated files were skipped by the load history: ${JSON.stringify(status)}`,
  );
  assert.equal(status.rows, 120 - testEvents);
  assert.equal(status.testRows, testEvents, 'test rows counted as dropped');

  // A retried activity (the same files again) loads nothing.
  const retry = await new MockActivityEnvironment().run<[], LoadSummary, () => Promise<LoadSummary>>(() =>
    loader.activities.loadFiles({
      eventType: TYPE,
      files: written.map((w) => ({ key: w.key })),
      force: false,
    }),
  );
  assert.deepEqual([retry.loaded, retry.skipped, retry.rows], [0, 3, 0]);
  assert.equal(await count(`SELECT count(*) AS n FROM ${table}`), 120 - testEvents);

  // Envelope columns are loaded by name with their types.
  const [one] = await rows(
    `SELECT _event_id, _source, _schema_version, _kafka_partition, _kafka_offset, location.lat AS lat FROM ${table} WHERE _event_id = 'd-41'`,
  );
  assert.deepEqual(one, {
    _event_id: 'd-41',
    _source: '/test',
    _schema_version: 1,
    _kafka_partition: 1,
    _kafka_offset: '101',
    lat: 40.7,
  });
});

test('a file that can never load is recorded FAILED with its reason and does not block the others', async () => {
  const TYPE = cat.type('delivery_status_changed');
  const good = await putSegment(config, s3(), cat.catalog, TYPE, 0, 500n, [
    { id: 'late-1', data: delivery(1001), version: 1 },
  ]);
  const missing = { ...good[0]!, key: good[0]!.key.replace('-500-501', '-900-901') };
  await announce(config, sqs(), TYPE, [missing, ...good]);
  await eventually(
    () => loaderStatus(TYPE),
    (s) => s.failed >= 1 && s.loaded >= 4,
    'the good file to load and the missing one to fail',
  );
  const status = await loaderStatus(TYPE);
  assert.equal(status.recentFailures[0]?.key, missing.key);
  assert.match(status.recentFailures[0]?.error ?? '', /does not exist/);
  assert.equal(
    await count(`SELECT count(*) AS n FROM ${tableOf('delivery_status_changed')} WHERE _event_id = 'late-1'`),
    1,
  );
  assert.equal(
    await count(
      `SELECT count(*) AS n FROM _sluice_load_history WHERE status = 'FAILED' AND file_key = '${missing.key}'`,
    ),
    1,
  );
});

test('a file of a schema version this worker does not know waits in the queue; the loader goes on', async () => {
  const TYPE = cat.type('delivery_status_changed');
  const before = await loaderStatus(TYPE);
  const key = `events/${TYPE}/v=9/dt=2026-11-25/hr=12/${TYPE}-p0-0-1.parquet`;
  await announce(config, sqs(), TYPE, [{ key, etag: 'x', size: 1, rows: 1 }]);
  await eventually(
    () => loaderStatus(TYPE),
    (s) => s.notices > before.notices,
    'the notice to be taken',
  );
  const queue = await sqs().send(new GetQueueUrlCommand({ QueueName: `${config.sqs.queuePrefix}${TYPE}` }));
  const attrs = await sqs().send(
    new GetQueueAttributesCommand({
      QueueUrl: queue.QueueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  assert.equal(
    attrs.Attributes?.ApproximateNumberOfMessagesNotVisible,
    '1',
    'kept, hidden until it is retried',
  );
  const after = await loaderStatus(TYPE);
  assert.equal(after.loaded, before.loaded);
  assert.equal(after.failed, before.failed, 'not failed: it loads once the catalog has v9');
  const { status } = await client.workflow.getHandle(`loader/${TYPE}`).describe();
  assert.equal(status.name, 'RUNNING');
});

test('a v1 → v2 migration adds the new columns, old rows read NULL, and test events land in <table>_test', async () => {
  const TYPE = cat.type('order_created');
  const v1 = await putSegment(
    config,
    s3(),
    cat.catalog,
    TYPE,
    0,
    0n,
    Array.from({ length: 20 }, (_, i) => ({ id: `v1-${i}`, data: orderData(i), version: 1, test: i === 0 })),
  );
  await announce(config, sqs(), TYPE, v1);
  await startLoader(TYPE);
  await eventually(
    () => loaderStatus(TYPE),
    (s) => s.loaded >= 1,
    'the v1 file to load',
  );
  const before = await rows(`DESCRIBE ${tableOf('order_created')}`);
  assert.ok(!before.some((c) => c.column_name === 'tip_cents'), 'created at v1: no tip_cents yet');

  const v2 = await putSegment(
    config,
    s3(),
    cat.catalog,
    TYPE,
    0,
    20n,
    Array.from({ length: 10 }, (_, i) => ({
      id: `v2-${i}`,
      data: orderData(100 + i, { tip_cents: 100 + i, promo_code: i % 2 ? 'TACO' : null }),
      version: 2,
    })),
  );
  await announce(config, sqs(), TYPE, v2);
  await eventually(
    () => loaderStatus(TYPE),
    (s) => s.loaded >= 2,
    'the v2 file to load after the migration',
  );

  const columns = await rows(`DESCRIBE ${tableOf('order_created')}`);
  const tip = columns.find((c) => c.column_name === 'tip_cents');
  assert.deepEqual([tip?.column_type, tip?.null], ['BIGINT', 'YES']);
  assert.equal(
    await count(
      `SELECT count(*) AS n FROM ${tableOf('order_created')} WHERE _schema_version = 1 AND tip_cents IS NULL`,
    ),
    19,
  );
  assert.equal(
    await count(`SELECT sum(tip_cents) AS n FROM ${tableOf('order_created')} WHERE _schema_version = 2`),
    1045,
  );
  assert.equal(
    await count(`SELECT count(*) AS n FROM ${tableOf('order_created')}_test`),
    1,
    'the test event went to <table>_test',
  );
  const migrations = await rows(
    `SELECT version, kind, table_name FROM _sluice_migrations WHERE event_type = '${TYPE}' ORDER BY version`,
  );
  assert.deepEqual(migrations, [
    { version: 1, kind: 'create', table_name: tableOf('order_created') },
    { version: 2, kind: 'alter', table_name: tableOf('order_created') },
  ]);
  const status = await loaderStatus(TYPE);
  assert.equal(status.migrations[0]?.version, 2);
});

test('files the pipeline writes from Kafka become rows in DuckDB, each event once', async () => {
  const TYPE = cat.type('order_created');
  const pipeline = await createPipelineWorkers(config, cat.catalog, createLogger('test-pipeline', 'warn'), {
    workflowsPath,
  });
  const pipelineRunning = pipeline.run();
  try {
    const producer = createProducer(config, 'test-loader', -1);
    const messages = Array.from({ length: 250 }, (_, i) => {
      const data = orderData(1000 + i, { tip_cents: i });
      const env = buildEnvelope(
        {
          type: TYPE,
          dataschema: `urn:sluice:schema:${TYPE}:v2`,
          id: `k-${i}`,
          time: data.placed_at,
          partitionkey: data.order_id,
        },
        new Date(),
        '/test',
      );
      return {
        topic: `events.${TYPE}`,
        partition: partitionForKey(Buffer.from(data.order_id), 3),
        key: Buffer.from(data.order_id),
        value: Buffer.from(JSON.stringify(data)),
        headers: envelopeHeaders(env),
      };
    });
    await producer.send({ messages });
    await producer.close();
    await client.workflow.start(eventPipeline, {
      workflowId: `pipeline/${TYPE}`,
      taskQueue: config.pipeline.taskQueue,
      args: [{ eventType: TYPE, idleWaitMs: 1000 }],
    });
    await eventually(
      () => count(`SELECT count(*) AS n FROM ${tableOf('order_created')} WHERE _event_id LIKE 'k-%'`),
      (n) => n >= 250,
      'the pipeline’s files to be loaded',
      90_000,
    );
    assert.equal(
      await count(
        `SELECT count(DISTINCT _event_id) AS n FROM ${tableOf('order_created')} WHERE _event_id LIKE 'k-%'`,
      ),
      250,
    );
    assert.equal(
      await count(`SELECT count(*) AS n FROM ${tableOf('order_created')} WHERE _event_id LIKE 'k-%'`),
      250,
    );
    assert.equal(
      await count(`SELECT sum(tip_cents) AS n FROM ${tableOf('order_created')} WHERE _event_id LIKE 'k-%'`),
      (249 * 250) / 2,
    );
  } finally {
    pipeline.shutdown();
    await pipelineRunning;
    await pipeline.close();
  }
});

test('the query endpoint answers reads only, with the one error body', async () => {
  await assert.rejects(
    queryWarehouse(config, `DELETE FROM ${tableOf('order_created')}`),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'QUERY_NOT_READ_ONLY');
      assert.match(err.message, /DELETE/);
      return true;
    },
  );
  await assert.rejects(queryWarehouse(config, 'SELECT 1; SELECT 2'), /exactly one statement/);
  await assert.rejects(
    queryWarehouse(config, 'SELECT * FROM no_such_table'),
    (err: Error & { code?: string }) => {
      assert.equal(err.code, 'QUERY_FAILED');
      assert.match(err.message, /no_such_table/);
      return true;
    },
  );
  const res = await fetch(`http://${config.warehouse.queryHost}:${config.warehouse.queryPort}/v1/query`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{"sql": ',
  });
  assert.equal(res.status, 400);
  assert.equal(((await res.json()) as { error_code: string }).error_code, 'MALFORMED_BODY');
  const metrics = await (
    await fetch(`http://${config.warehouse.queryHost}:${config.warehouse.queryPort}/metrics`)
  ).text();
  assert.match(metrics, /sluice_loader_files_total\{type="[a-z_0-9]+",status="LOADED"\} \d+/);
  assert.match(metrics, /sluice_loader_freshness_seconds\{type="[a-z_0-9]+"\} [\d.e+-]+/);
  assert.match(metrics, /sluice_loader_load_latency_seconds_bucket/);
});
