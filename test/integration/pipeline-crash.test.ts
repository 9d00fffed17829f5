// kill -9 of the pipeline worker in the middle of a run: a new worker resumes from the durable
// position; every event ends up in Parquet exactly once, and the segments never overlap (a
// retried segment rewrote the same object key instead of writing another).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, type Config } from '../../lib/config.js';
import { buildEnvelope, envelopeHeaders } from '../../lib/envelope.js';
import { createProducer } from '../../lib/kafka.js';
import { partitionForKey } from '../../proxy/partitioner.js';
import { eventPipeline } from '../../workflows/event-pipeline.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { uniqueName } from '../helpers/names.js';
import { spawnWorker } from '../helpers/worker-process.js';
import { uncommitted } from '../helpers/pipeline.js';
import { listKeys, readParquetRows } from '../helpers/s3-parquet.js';

const EVENTS = 6000;
let config: Config;
let cat: IsolatedCatalog;
let TYPE: string;
let dir: string;
let connection: Connection;
let client: Client;
const workers: ChildProcess[] = [];

function startWorker(): ChildProcess {
  const child = spawnWorker(
    'workers/pipeline-worker.ts',
    {
      catalogDir: cat.dir,
      logLevel: 'warn',
      pipeline: { taskQueue: config.pipeline.taskQueue, idleWaitMs: 1000 },
    },
    dir,
  );
  workers.push(child);
  return child;
}

before(async () => {
  const base = loadConfig();
  config = { ...base, pipeline: { ...base.pipeline, taskQueue: uniqueName('test-crash') } };
  cat = await isolatedCatalog(config, { flush: { maxRecords: 500, maxAgeSeconds: 1 } });
  TYPE = cat.type('order_created');
  dir = mkdtempSync(join(tmpdir(), 'sluice-worker-'));
  connection = await Connection.connect({ address: config.temporal.address });
  client = new Client({ connection, namespace: config.temporal.namespace });
});

after(async () => {
  for (const id of [`pipeline/${TYPE}`, ...[0, 1, 2].map((p) => `pipeline/${TYPE}/p${p}`)]) {
    await client.workflow
      .getHandle(id)
      .terminate('test over')
      .catch(() => undefined);
  }
  for (const w of workers) w.kill('SIGKILL');
  await connection.close();
  await cat.cleanup(config);
  rmSync(dir, { recursive: true, force: true });
});

test('a worker killed with SIGKILL mid-run loses nothing and duplicates nothing', async () => {
  const producer = createProducer(config, 'test-crash', -1);
  // About 1 KB per event: many line items (the schema is closed, so no free-form padding).
  const items = Array.from({ length: 20 }, (_, i) => ({
    sku: `sku-${i}`,
    quantity: 1,
    unit_price_cents: 100 + i,
  }));
  for (let b = 0; b < EVENTS / 500; b++) {
    await producer.send({
      messages: Array.from({ length: 500 }, (_, i) => {
        const n = b * 500 + i;
        const order_id = `4b5e2f1c-8f7a-4a8e-9d7e-${String(n).padStart(12, '0')}`;
        const data = {
          order_id,
          customer_id: `c-${n}`,
          store_id: 's-1',
          items,
          subtotal_cents: 2190,
          currency: 'USD',
          placed_at: '2026-11-25T12:00:00Z',
        };
        const env = buildEnvelope(
          { type: TYPE, dataschema: `urn:sluice:schema:${TYPE}:v2`, id: `k-${n}`, partitionkey: order_id },
          new Date(),
          '/test',
        );
        return {
          topic: `events.${TYPE}`,
          partition: partitionForKey(Buffer.from(order_id), 3),
          key: Buffer.from(order_id),
          value: Buffer.from(JSON.stringify(data)),
          headers: envelopeHeaders(env),
        };
      }),
    });
  }
  await producer.close();

  const first = startWorker();
  await client.workflow.start(eventPipeline, {
    workflowId: `pipeline/${TYPE}`,
    taskQueue: config.pipeline.taskQueue,
    args: [{ eventType: TYPE, idleWaitMs: 1000 }],
  });
  // Kill it once some, but not all, segments are done.
  const deadline = Date.now() + 60_000;
  while ((await listKeys(config, `events/${TYPE}/`)).length < 2) {
    if (Date.now() > deadline)
      throw new Error(
        `no segment written within 60 s; worker log:\n${readFileSync(join(dir, 'worker.log'), 'utf8').slice(-3000)}`,
      );
    await new Promise((r) => setTimeout(r, 100));
  }
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  assert.ok((await uncommitted(config, TYPE)) > 0n, 'the worker died before finishing');

  startWorker();
  const until = Date.now() + 120_000;
  for (let behind = await uncommitted(config, TYPE); behind > 0n; behind = await uncommitted(config, TYPE)) {
    if (Date.now() > until)
      throw new Error(`did not catch up after restart: ${behind} records not committed`);
    await new Promise((r) => setTimeout(r, 250));
  }

  const rows = await readParquetRows(config, `events/${TYPE}/`);
  const ids = rows.map((r) => String(r._event_id));
  assert.equal(new Set(ids).size, EVENTS, 'every event is there');
  assert.equal(ids.length, EVENTS, 'and none twice');

  // Segments of a partition tile its offsets without overlap: a retry reused the same key.
  const keys = await listKeys(config, `events/${TYPE}/`);
  const ranges = new Map<number, [bigint, bigint][]>();
  for (const k of keys) {
    const m = /-p(\d+)-(\d+)-(\d+)\.parquet$/.exec(k);
    assert.ok(m, k);
    const list = ranges.get(Number(m[1])) ?? [];
    // Objects of one segment (other hours or versions) share its range.
    if (!list.some(([a, b]) => a === BigInt(m[2]!) && b === BigInt(m[3]!)))
      list.push([BigInt(m[2]!), BigInt(m[3]!)]);
    ranges.set(Number(m[1]), list);
  }
  for (const [p, list] of ranges) {
    list.sort((a, b) => (a[0] < b[0] ? -1 : 1));
    for (let i = 1; i < list.length; i++)
      assert.ok(list[i]![0] >= list[i - 1]![1], `partition ${p}: segments overlap`);
  }
});
