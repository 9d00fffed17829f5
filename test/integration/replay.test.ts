// Replays on the real Temporal, Kafka, S3 and DuckDB: from Kafka by timestamp and from the S3
// archive by event time onto a topic (exact counts, original envelope plus ce_replay), a retried
// replay step writes nothing twice, and archived files reload into the warehouse via the loader.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, test } from 'node:test';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { Client } from '@temporalio/client';
import { createS3Client } from '../../lib/aws.js';
import type { Config } from '../../lib/config.js';
import { buildEnvelope, envelopeHeaders } from '../../lib/envelope.js';
import { createAdmin, createProducer } from '../../lib/kafka.js';
import { createLogger } from '../../lib/logger.js';
import { queryWarehouse, rowObjects } from '../../lib/warehouse-client.js';
import { partitionForKey } from '../../proxy/partitioner.js';
import { createReplayActivities } from '../../activities/replay.js';
import type { ReplayChunkResult } from '../../activities/replay-types.js';
import { replay, type ReplayInput } from '../../workflows/replay.js';
import { replayStatusQuery } from '../../workflows/replay-signals.js';
import { createPipelineDeps } from '../../workers/pipeline-deps.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { orderData } from '../helpers/events.js';
import { readTopic } from '../helpers/kafka-read.js';
import { uniqueName } from '../helpers/names.js';
import {
  startLoaderWorker,
  startPipelineWorker,
  testPlatform,
  type TestPlatform,
} from '../helpers/platform.js';
import { putSegment, type TestEvent } from '../helpers/segments.js';

let platform: TestPlatform;
let config: Config;
let cat: IsolatedCatalog;
let client: Client;
let workers: { stop(): Promise<void> }[];
let TYPE: string;
const topics: string[] = [];

async function newTopic(): Promise<string> {
  const name = uniqueName('test.replay');
  const admin = createAdmin(config);
  await admin.createTopics({ topics: [name], partitions: 3, replicas: 1 });
  await admin.close();
  topics.push(name);
  return name;
}

async function produceOrders(from: number, count: number): Promise<void> {
  const producer = createProducer(config, 'test-replay', -1);
  await producer.send({
    messages: Array.from({ length: count }, (_, i) => {
      const data = orderData(from + i);
      return {
        topic: `events.${TYPE}`,
        partition: partitionForKey(Buffer.from(data.order_id), 3),
        key: Buffer.from(data.order_id),
        value: Buffer.from(JSON.stringify(data)),
        headers: envelopeHeaders(
          buildEnvelope(
            {
              type: TYPE,
              dataschema: `urn:sluice:schema:${TYPE}:v2`,
              id: `k-${from + i}`,
              time: data.placed_at,
              partitionkey: data.order_id,
            },
            new Date(),
            '/test',
          ),
        ),
      };
    }),
  });
  await producer.close();
}

async function runReplay(
  input: ReplayInput,
): Promise<{ id: string; status: Awaited<ReturnType<typeof replay>> }> {
  const id = randomUUID();
  const status = await client.workflow.execute(replay, {
    workflowId: `replay/${input.eventType}/${id}`,
    taskQueue: config.pipeline.taskQueue,
    args: [input],
  });
  return { id, status };
}

before(async () => {
  platform = await testPlatform('replay');
  ({ config, client } = platform);
  cat = await isolatedCatalog(config);
  TYPE = cat.type('order_created');
  workers = [
    await startPipelineWorker(platform, cat.catalog),
    await startLoaderWorker(platform, cat.catalog),
  ];
});

after(async () => {
  await Promise.all(workers.map((w) => w.stop()));
  const admin = createAdmin(config);
  await admin.deleteTopics({ topics }).catch(() => undefined);
  await admin.close();
  await cat.cleanup(config);
  await platform.close();
});

test('replay from Kafka by timestamp onto a topic: exactly the events after the time, with ce_replay; a retried step writes nothing', async () => {
  await produceOrders(0, 30);
  await new Promise((r) => setTimeout(r, 1100));
  const since = new Date().toISOString();
  await new Promise((r) => setTimeout(r, 1100));
  await produceOrders(100, 30);
  const target = await newTopic();

  const { id, status } = await runReplay({
    eventType: TYPE,
    source: 'kafka',
    from: since,
    target: { topic: target },
    parallelism: 2,
    maxRecords: 7,
  });
  assert.equal(status.state, 'done');
  assert.equal(status.records, 30);
  const out = await readTopic(config, target);
  assert.equal(out.length, 30);
  assert.deepEqual(
    out.map((r) => r.headers.ce_id).sort(),
    Array.from({ length: 30 }, (_, i) => `k-${100 + i}`).sort(),
  );
  const original = new Map((await readTopic(config, `events.${TYPE}`)).map((r) => [r.headers.ce_id, r]));
  for (const r of out) {
    assert.equal(r.headers.ce_replay, id);
    const o = original.get(r.headers.ce_id)!;
    const { ce_replay: _, ...headers } = r.headers;
    assert.deepEqual(headers, o.headers, 'the original envelope');
    assert.deepEqual(r.key, o.key);
    assert.deepEqual(r.value, o.value);
    assert.equal(r.partition, o.partition, 'keyed: same partition as the original');
  }

  // The same step again (an activity retry after its commit): the committed position says done.
  const deps = createPipelineDeps(config, cat.catalog, createLogger('test-deps', 'warn'));
  try {
    const activities = createReplayActivities(deps);
    const range = status.partitions!.find((p) => p.from !== p.to)!;
    const again = await new MockActivityEnvironment().run<
      [],
      ReplayChunkResult,
      () => Promise<ReplayChunkResult>
    >(() =>
      activities.replayKafkaChunk({
        replayId: id,
        eventType: TYPE,
        partition: range.partition,
        from: range.from,
        to: range.to,
        targetTopic: target,
        maxRecords: 7,
      }),
    );
    assert.deepEqual(again, { position: range.to, records: 0, alreadyDone: true });
  } finally {
    await deps.close();
  }
  assert.equal((await readTopic(config, target)).length, 30);
});

const archived: TestEvent[] = [];

test('replay from the S3 archive onto a topic: exactly the events of the time range, envelope rebuilt, with ce_replay', async () => {
  const s3 = createS3Client(config);
  for (const partition of [0, 1, 2]) {
    const events: TestEvent[] = [];
    for (let i = 0; i < 12; i++) {
      const n = partition * 100 + i;
      // Two thirds in 12:00–13:00, one third at 13:xx (outside the replayed range).
      const placed =
        i % 3 === 2 ? '2026-11-25T13:15:00Z' : `2026-11-25T12:${String(10 + i).padStart(2, '0')}:00Z`;
      events.push({ id: `s-${n}`, data: orderData(n, { placed_at: placed }), version: 2 });
    }
    archived.push(...events);
    await putSegment(config, s3, cat.catalog, TYPE, partition, 500n, events);
  }
  s3.destroy();
  const target = await newTopic();
  const { id, status } = await runReplay({
    eventType: TYPE,
    source: 's3',
    from: '2026-11-25T12:00:00Z',
    to: '2026-11-25T13:00:00Z',
    target: { topic: target },
    parallelism: 3,
  });
  assert.equal(status.state, 'done');
  assert.equal(status.hoursTotal, 1);
  assert.equal(status.files, 3);
  const expected = archived.filter((e) => e.data.placed_at !== '2026-11-25T13:15:00Z');
  assert.equal(expected.length, 24);
  const out = await readTopic(config, target);
  assert.equal(out.length, 24, `status ${JSON.stringify(status)}`);
  const byId = new Map(expected.map((e) => [e.id, e]));
  for (const r of out) {
    const e = byId.get(r.headers.ce_id!);
    assert.ok(e, `unexpected ${r.headers.ce_id}`);
    assert.equal(r.headers.ce_replay, id);
    assert.equal(r.headers.ce_type, TYPE);
    assert.equal(r.headers.ce_dataschema, `urn:sluice:schema:${TYPE}:v2`);
    assert.equal(r.headers.ce_source, '/test');
    assert.equal(r.headers.ce_time, e.data.placed_at);
    assert.equal(r.headers.ce_partitionkey, e.data.order_id);
    assert.equal(r.key?.toString(), e.data.order_id);
    assert.deepEqual(JSON.parse(r.value!.toString()), e.data, 'the payload as it was sent');
  }
  assert.equal(new Set(out.map((r) => r.headers.ce_id)).size, 24);
  const q = await client.workflow.getHandle(`replay/${TYPE}/${id}`).query(replayStatusQuery);
  assert.equal(q.filesDone, 3);
});

test('replay from the S3 archive into the warehouse table through the loader', async () => {
  const { status } = await runReplay({
    eventType: TYPE,
    source: 's3',
    from: '2026-11-25T12:00:00Z',
    to: '2026-11-25T14:00:00Z',
    target: 'table',
    loaderTaskQueue: config.warehouse.taskQueue,
  });
  assert.equal(status.state, 'done');
  assert.equal(status.files, 6, 'three partitions × two hours');
  assert.equal(status.records, 36);
  const table = cat.catalog.types.get(TYPE)!.table;
  const rows = rowObjects(
    await queryWarehouse(config, `SELECT count(*) AS n, count(DISTINCT _event_id) AS d FROM ${table}`),
  );
  assert.deepEqual(
    rows.map((r) => [Number(r.n), Number(r.d)]),
    [[36, 36]],
  );
});
