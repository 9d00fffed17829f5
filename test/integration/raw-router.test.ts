// The raw-event router on the real Temporal and Kafka: raw.<app> records are split into
// events.<type> (with the proxy's envelope) and the dead-letter topics, exactly once per offset
// range; a retried or zombie routing attempt leaves no duplicate; the pipeline behind it never
// sees records of aborted transactions.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import type { Config } from '../../lib/config.js';
import { buildEnvelope, envelopeHeaders } from '../../lib/envelope.js';
import { committedOffset, createAdmin, createProducer, partitionBounds } from '../../lib/kafka.js';
import { createTransactionalProducer } from '../../lib/kafka-txn.js';
import { createLogger } from '../../lib/logger.js';
import {
  createRawRouterActivities,
  rawGroup,
  rawTransactionalId,
  type RawRouterActivities,
} from '../../activities/raw-router.js';
import type { RouteResult } from '../../activities/replay-types.js';
import { eventPipeline } from '../../workflows/event-pipeline.js';
import { rawRouter, rawRouterWorkflowId } from '../../workflows/raw-router.js';
import { rawRouterStatusQuery } from '../../workflows/replay-signals.js';
import { createPipelineDeps } from '../../workers/pipeline-deps.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { produceAborted } from '../helpers/aborted.js';
import { readTopic } from '../helpers/kafka-read.js';
import { startPipelineWorker, testPlatform, type TestPlatform } from '../helpers/platform.js';
import { readParquetRows } from '../helpers/s3-parquet.js';
import { eventually } from '../helpers/wait.js';

let platform: TestPlatform;
let config: Config;
let cat: IsolatedCatalog;
let client: Client;
let worker: { stop(): Promise<void> };
let APP: string;
let TYPE: string;
let deps: ReturnType<typeof createPipelineDeps>;
let activities: RawRouterActivities;

const pageLoad = (n: number, extra: Record<string, unknown> = {}) => ({
  session_id: `s-${n}`,
  page: `/menu/${n}`,
  load_ms: 100 + n,
  occurred_at: '2026-11-25T12:00:00Z',
  device: { os: 'ios', os_version: '18.1' },
  ...extra,
});

/** Raw records as the collector writes them (value: the item as sent; envelope of raw.<app>). */
async function produceRaw(items: { partition: number; value: string; id: string }[]): Promise<void> {
  const producer = createProducer(config, 'test-raw', -1);
  await producer.send({
    messages: items.map((i) => ({
      topic: `raw.${APP}`,
      partition: i.partition,
      value: Buffer.from(i.value),
      headers: envelopeHeaders(
        buildEnvelope(
          { type: `raw.${APP}`, dataschema: 'urn:sluice:raw', source: `/collect/${APP}`, id: i.id },
          new Date('2026-11-25T12:00:01.250Z'),
          '/collect',
        ),
      ),
    })),
  });
  await producer.close();
}

/** Per partition of events.<TYPE>: Parquet rows, the pipeline's committed offset, stable end and high watermark. */
async function pipelinePositions(): Promise<string> {
  const topic = `events.${TYPE}`;
  const rows = await readParquetRows(config, `events/${TYPE}/`);
  const admin = createAdmin(config, 'test-diagnose');
  try {
    const lines: string[] = [];
    for (let p = 0; p < 6; p++) {
      const stable = await partitionBounds(admin, topic, p);
      const [hw] = await admin.listOffsets({
        topics: [{ name: topic, partitions: [{ partitionIndex: p, timestamp: -1n }] }],
      });
      lines.push(
        `p${p}: ${rows.filter((r) => Number(r._kafka_partition) === p).length} rows, committed ` +
          `${await committedOffset(admin, `sluice.${TYPE}`, topic, p)}, stable end ${stable.latest}, ` +
          `high watermark ${hw?.partitions[0]?.offset}`,
      );
    }
    return lines.join('\n');
  } finally {
    await admin.close();
  }
}

/** Records of sluice.dlq (shared by every test) that came from this test's raw topic. */
async function sharedDlq() {
  return (await readTopic(config, 'sluice.dlq')).filter(
    (r) => r.headers.sluice_source_topic === `raw.${APP}`,
  );
}

before(async () => {
  platform = await testPlatform('raw-router');
  ({ config, client } = platform);
  cat = await isolatedCatalog(config, { flush: { maxRecords: 100, maxAgeSeconds: 1 } });
  APP = cat.app('consumer-ios');
  TYPE = cat.type('mobile_page_load');
  worker = await startPipelineWorker(platform, cat.catalog);
  deps = createPipelineDeps(config, cat.catalog, createLogger('test-deps', 'warn'));
  activities = createRawRouterActivities(deps);
});

after(async () => {
  await worker.stop();
  await deps.close();
  await cat.cleanup(config);
  await platform.close([
    rawRouterWorkflowId(APP),
    `pipeline/${TYPE}`,
    ...[0, 1, 2, 3, 4, 5].map((p) => `pipeline/${TYPE}/p${p}`),
  ]);
});

test('valid raw events reach events.<type> with the proxy envelope; invalid ones reach the DLQs with reasons', async () => {
  const items: { partition: number; value: string; id: string }[] = [];
  let n = 0;
  const add = (value: unknown, id = `raw-${n}`) =>
    items.push({ partition: n++ % 3, value: typeof value === 'string' ? value : JSON.stringify(value), id });
  for (let i = 0; i < 20; i++) add(pageLoad(i)); // flat: the app's only type
  for (let i = 20; i < 25; i++)
    add({ type: TYPE, id: `w-${i}`, time: '2026-11-25T11:59:00Z', data: pageLoad(i) });
  for (let i = 25; i < 30; i++) add(pageLoad(i, { event: TYPE }));
  for (let i = 30; i < 34; i++) add(pageLoad(i, { load_ms: 'slow' })); // schema violation
  for (let i = 34; i < 37; i++) add({ type: 'no_such_type_x', data: {} }); // unknown type
  for (let i = 37; i < 39; i++) add({ type: cat.type('order_created'), data: {} }); // app not in its rawApps
  add('not json at all');
  await produceRaw(items);

  await client.workflow.start(rawRouter, {
    workflowId: rawRouterWorkflowId(APP),
    taskQueue: config.pipeline.taskQueue,
    args: [{ app: APP, idleWaitMs: 1000 }],
  });
  const status = await eventually(
    () => client.workflow.getHandle(rawRouterWorkflowId(APP)).query(rawRouterStatusQuery),
    (s) =>
      s.partitions.length === 3 &&
      s.partitions.reduce((x, p) => x + p.routed + p.rejected, 0) >= items.length,
    'the router to take every raw record',
  );
  assert.equal(
    status.partitions.reduce((x, p) => x + p.routed, 0),
    30,
  );
  assert.equal(
    status.partitions.reduce((x, p) => x + p.rejected, 0),
    10,
  );

  const events = await readTopic(config, `events.${TYPE}`);
  assert.equal(events.length, 30, 'every valid raw event once');
  const byId = new Map(events.map((e) => [e.headers.ce_id, e]));
  assert.equal(byId.size, 30);
  for (const e of events) {
    assert.equal(e.headers.ce_specversion, '1.0');
    assert.equal(e.headers.ce_type, TYPE);
    assert.equal(e.headers.ce_dataschema, `urn:sluice:schema:${TYPE}:v1`);
    assert.equal(e.headers.ce_source, `/collect/${APP}`);
    assert.equal(e.headers['content-type'], 'application/json');
    assert.equal(e.headers.ce_ingesttime, '2026-11-25T12:00:01.250Z');
    assert.equal(e.headers.ce_test, 'false');
    assert.equal(e.key, null, 'mobile_page_load has no partition key');
    const payload = JSON.parse(e.value!.toString()) as Record<string, unknown>;
    assert.ok(!('event' in payload) && !('type' in payload), 'the routing field is not part of the payload');
    assert.equal(typeof payload.session_id, 'string');
  }
  assert.equal(byId.get('raw-0')!.headers.ce_time, '2026-11-25T12:00:01.250Z', 'flat: the collector time');
  assert.equal(byId.get('w-20')!.headers.ce_time, '2026-11-25T11:59:00Z', 'wrapped: its own time');
  assert.equal((JSON.parse(byId.get('w-20')!.value!.toString()) as { page: string }).page, '/menu/20');

  const dlq = await readTopic(config, `events.${TYPE}.dlq`);
  assert.equal(dlq.length, 4);
  for (const d of dlq) {
    assert.equal(d.headers.sluice_error_code, 'SCHEMA_VALIDATION_FAILED');
    assert.match(d.headers.sluice_errors!, /load_ms/);
    assert.equal(d.headers.sluice_source_topic, `raw.${APP}`);
    assert.equal(d.headers.ce_id!.startsWith('raw-'), true, 'the raw record kept as it was');
  }
  const forbidden = await readTopic(config, `events.${cat.type('order_created')}.dlq`);
  assert.deepEqual(
    forbidden.map((d) => d.headers.sluice_error_code),
    ['FORBIDDEN', 'FORBIDDEN'],
  );
  const shared = await sharedDlq();
  assert.deepEqual(shared.map((d) => d.headers.sluice_error_code).sort(), [
    'MALFORMED_BODY',
    'UNKNOWN_EVENT_TYPE',
    'UNKNOWN_EVENT_TYPE',
    'UNKNOWN_EVENT_TYPE',
  ]);

  // The group's position is the end of every partition: Kafka tools show the router's lag.
  const admin = createAdmin(config);
  for (let p = 0; p < 3; p++) {
    const { latest } = await partitionBounds(admin, `raw.${APP}`, p);
    assert.equal(await committedOffset(admin, rawGroup(APP), `raw.${APP}`, p), latest);
  }
  await admin.close();
});

test('a retried or killed routing attempt writes each range once; aborted records never reach Parquet', async () => {
  await client.workflow.getHandle(rawRouterWorkflowId(APP)).terminate('the test drives the activity itself');
  const admin = createAdmin(config);
  const from = (await partitionBounds(admin, `raw.${APP}`, 0)).latest;
  await produceRaw(
    Array.from({ length: 10 }, (_, i) => ({
      partition: 0,
      value: JSON.stringify(pageLoad(100 + i)),
      id: `again-${i}`,
    })),
  );
  const to = (await partitionBounds(admin, `raw.${APP}`, 0)).latest;

  // A worker that died mid-transaction: its records are written but never committed.
  const zombie = createTransactionalProducer(config, rawTransactionalId(APP, 0));
  const ztx = await zombie.beginTransaction();
  await ztx.send({
    messages: [
      {
        topic: `events.${TYPE}`,
        partition: 0,
        value: Buffer.from(JSON.stringify(pageLoad(999))),
        headers: {
          ...envelopeHeaders(
            buildEnvelope(
              { type: TYPE, dataschema: `urn:sluice:schema:${TYPE}:v1`, id: 'zombie-1' },
              new Date(),
              '/test',
            ),
          ),
        },
      },
    ],
  });
  // And two transactions of one producer that aborted outright, with valid events (the client's
  // own filter misses a producer's first aborted transaction when a second one follows).
  await produceAborted(
    config,
    { type: TYPE, version: 1, partition: 1 },
    [
      [1, 2, 3],
      [4, 5, 6],
    ].map((batch) => batch.map((i) => ({ id: `aborted-${i}`, data: pageLoad(900 + i) }))),
  );

  const env = new MockActivityEnvironment();
  const route = (): Promise<RouteResult> =>
    env.run<[], RouteResult, () => Promise<RouteResult>>(() =>
      activities.routeRange({ app: APP, partition: 0, from: from.toString(), to: to.toString() }),
    );
  const first = await route();
  assert.deepEqual([first.to, first.routed, first.alreadyDone], [to.toString(), 10, false]);
  // The zombie is fenced: it can no longer commit.
  await assert.rejects(ztx.commit());
  await Promise.resolve(zombie.close(true)).catch(() => undefined);
  const second = await route();
  assert.deepEqual([second.to, second.routed, second.alreadyDone], [to.toString(), 0, true]);

  const events = await readTopic(config, `events.${TYPE}`);
  assert.equal(
    events.filter((e) => e.headers.ce_id?.startsWith('again-')).length,
    10,
    'one copy of the range',
  );
  assert.equal(events.length, 40);
  assert.ok(
    !events.some((e) => /^(zombie|aborted)-/.test(e.headers.ce_id ?? '')),
    'no uncommitted record is read',
  );
  assert.equal(await committedOffset(admin, rawGroup(APP), `raw.${APP}`, 0), to);
  await admin.close();

  // The pipeline behind the router moves exactly the committed events to Parquet.
  await client.workflow.start(eventPipeline, {
    workflowId: `pipeline/${TYPE}`,
    taskQueue: config.pipeline.taskQueue,
    args: [{ eventType: TYPE, idleWaitMs: 1000, partitionCheckMs: 5000 }],
  });
  const rows = await eventually(
    () => readParquetRows(config, `events/${TYPE}/`),
    (r) => r.length >= 40,
    'the pipeline to write the routed events',
  ).catch(async (err: Error) => {
    throw new Error(`${err.message.slice(0, 200)}…\n${await pipelinePositions()}`);
  });
  await new Promise((r) => setTimeout(r, 2000));
  const after = await readParquetRows(config, `events/${TYPE}/`);
  assert.equal(after.length, 40, `rows: ${rows.length}`);
  assert.equal(new Set(after.map((r) => r._event_id)).size, 40);
  assert.ok(!after.some((r) => /^(zombie|aborted)-/.test(String(r._event_id))));
});
