// backfill on the real Temporal, S3 and DuckDB, started the way the Temporal UI starts it (workflow
// type by name, one JSON object): a range loads exactly the files missing from the load history,
// force reloads them, and a cancelled backfill resumed loads the rest, each file once.
import assert from 'node:assert/strict';

import { after, before, test } from 'node:test';
import { type Client, WorkflowFailedError } from '@temporalio/client';
import { MockActivityEnvironment } from '@temporalio/testing';
import type { LoadSummary } from '../../activities/loader-types.js';
import { createS3Client } from '../../lib/aws.js';
import { type Config } from '../../lib/config.js';
import { queryWarehouse, rowObjects } from '../../lib/warehouse-client.js';
import type { BackfillProgress } from '../../workflows/backfill.js';

import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { orderData } from '../helpers/events.js';
import { uniqueName } from '../helpers/names.js';
import { putSegment, type WrittenObject } from '../helpers/segments.js';
import { startLoaderWorker, testPlatform, type TestPlatform } from '../helpers/platform.js';
import { eventually } from '../helpers/wait.js';

let config: Config;
let cat: IsolatedCatalog;
let client: Client;
let loader: Awaited<ReturnType<typeof startLoaderWorker>>;
let platform: TestPlatform;

const count = async (sql: string): Promise<number> =>
  Number(rowObjects(await queryWarehouse(config, sql))[0]?.n ?? -1);

/** One file of `rows` events per (day, hour), event time in that hour. */
async function putFiles(
  type: string,
  days: string[],
  hours: number[],
  rows: number,
): Promise<WrittenObject[]> {
  const s3 = createS3Client(config);
  const out: WrittenObject[] = [];
  let offset = 0n;
  for (const day of days) {
    for (const hour of hours) {
      const time = `${day}T${String(hour).padStart(2, '0')}:30:00Z`;
      const events = Array.from({ length: rows }, (_, i) => ({
        id: `${type}-${day}-${hour}-${i}`,
        data: orderData(Number(offset) + i, { placed_at: time }),
        version: 2,
        time,
      }));
      out.push(...(await putSegment(config, s3, cat.catalog, type, 0, offset, events)));
      offset += BigInt(rows);
    }
  }
  return out;
}

/** Starts a backfill by workflow type name with one JSON object, as the Temporal UI form does. */
async function startBackfill(type: string, input: Record<string, unknown>) {
  return client.workflow.start('backfill', {
    workflowId: `backfill/${type}/${uniqueName('b')}`,
    taskQueue: config.warehouse.taskQueue,
    args: [{ eventType: type, ...input }],
  });
}

before(async () => {
  platform = await testPlatform('backfill');
  config = platform.config;
  client = platform.client;
  cat = await isolatedCatalog(config);
  loader = await startLoaderWorker(platform, cat.catalog);
});

after(async () => {
  await loader.stop();
  await platform.close();
  await cat.cleanup(config);
});

test('a backfill of a range loads exactly the missing files, and force loads them again', async () => {
  const TYPE = cat.type('order_created');
  const table = cat.catalog.types.get(TYPE)!.table;
  const days = ['2026-11-20', '2026-11-21', '2026-11-22', '2026-11-23', '2026-11-24'];
  const files = await putFiles(TYPE, days, [10, 14], 5);
  const inRange = files.filter((f) => /dt=2026-11-2[12]|dt=2026-11-23\/hr=10/.test(f.key));
  assert.equal(inRange.length, 5);
  // One file of the range was loaded already (by the loader, say).
  const first = await new MockActivityEnvironment().run<[], LoadSummary, () => Promise<LoadSummary>>(() =>
    loader.activities.loadFiles({ eventType: TYPE, files: [{ key: inRange[0]!.key }], force: false }),
  );
  assert.equal(first.loaded, 1);

  const range = { from: '2026-11-21T00:00:00Z', to: '2026-11-23T12:00:00Z' };
  const handle = await startBackfill(TYPE, range);
  const done = (await handle.result()) as BackfillProgress;
  assert.equal(done.state, 'completed');
  assert.deepEqual([done.chunks, done.files, done.loaded, done.skipped, done.failed], [3, 5, 4, 1, 0]);
  assert.equal(
    await count(`SELECT count(*) AS n FROM ${table}`),
    25,
    'the five files of the range, once each',
  );
  assert.equal(
    await count(
      `SELECT count(*) AS n FROM ${table} WHERE placed_at < '2026-11-21' OR placed_at >= '2026-11-23T12:00:00Z'`,
    ),
    0,
  );

  const forced = (await (
    await startBackfill(TYPE, { ...range, mode: 'force' })
  ).result()) as BackfillProgress;
  assert.deepEqual([forced.loaded, forced.skipped], [5, 0]);
  assert.equal(await count(`SELECT count(*) AS n FROM ${table}`), 50, 'force loads the files again');
  assert.equal(
    await count(
      `SELECT count(*) AS n FROM _sluice_load_history WHERE table_name = '${table}' AND status = 'LOADED'`,
    ),
    10,
  );
});

test('a backfill cancelled half-way and resumed loads every file once; a resumed forced one too', async () => {
  const TYPE = cat.type('delivery_status_changed');
  const table = cat.catalog.types.get(TYPE)!.table;
  const s3 = createS3Client(config);
  const days = Array.from({ length: 24 }, (_, i) => `2026-10-${String(i + 1).padStart(2, '0')}`);
  for (const [i, day] of days.entries()) {
    const time = `${day}T08:00:00Z`;
    await putSegment(
      config,
      s3,
      cat.catalog,
      TYPE,
      0,
      BigInt(i * 4),
      Array.from({ length: 4 }, (_, j) => ({
        id: `${day}-${j}`,
        data: {
          delivery_id: `${day}-${j}`,
          order_id: orderData(j).order_id,
          status: 'delivered',
          changed_at: time,
        },
        version: 1,
        time,
      })),
    );
  }

  for (const mode of ['skip-loaded', 'force'] as const) {
    const handle = await startBackfill(TYPE, { mode, parallelism: 1 });
    await eventually(
      () => handle.query<BackfillProgress>('progress'),
      (p) => p.chunksDone >= 3,
      'a few chunks to load',
    );
    await handle.cancel();
    await assert.rejects(handle.result(), WorkflowFailedError);
    const cancelled = await handle.query<BackfillProgress>('progress');
    assert.equal(cancelled.state, 'cancelled');
    assert.ok(cancelled.chunksDone < 24, `cancelled half-way (${cancelled.chunksDone} of 24 days)`);

    const resumed = (await (
      await startBackfill(TYPE, {
        mode,
        ...(cancelled.reloadBefore ? { reloadBefore: cancelled.reloadBefore } : {}),
      })
    ).result()) as BackfillProgress;
    assert.equal(resumed.loaded + resumed.skipped, 24);
    assert.ok(resumed.skipped >= cancelled.loaded, 'what the cancelled run loaded is not loaded again');
    const copies = mode === 'force' ? 2 : 1;
    assert.equal(
      await count(`SELECT count(*) AS n FROM ${table}`),
      96 * copies,
      `${mode}: every row ${copies}×`,
    );
    assert.equal(
      await count(
        `SELECT count(*) AS n FROM _sluice_load_history WHERE table_name = '${table}' AND status = 'LOADED'`,
      ),
      24 * copies,
    );
  }
});
