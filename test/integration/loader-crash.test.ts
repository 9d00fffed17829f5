// kill -9 of the loader worker in the middle of loading: after a restart every file is in the
// warehouse exactly once (the load history commits with the rows; notices come back after their
// visibility timeout and find their files loaded or not, never half).
import assert from 'node:assert/strict';
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { GetQueueAttributesCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { Client, Connection } from '@temporalio/client';
import { createS3Client, createSqsClient } from '../../lib/aws.js';
import { loadConfig, type Config } from '../../lib/config.js';
import { queryWarehouse, rowObjects } from '../../lib/warehouse-client.js';
import { warehouseLoader } from '../../workflows/warehouse-loader.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { orderData } from '../helpers/events.js';
import { uniqueName } from '../helpers/names.js';
import { freePort } from '../helpers/net.js';
import { announce, putSegment, type WrittenObject } from '../helpers/segments.js';
import { eventually } from '../helpers/wait.js';
import { spawnWorker } from '../helpers/worker-process.js';

const FILES = 60;
const PER_FILE = 50;

let config: Config;
let cat: IsolatedCatalog;
let dir: string;
let TYPE: string;
let connection: Connection;
let client: Client;
const workers: ChildProcess[] = [];

function startWorker(): ChildProcess {
  const child = spawnWorker(
    'workers/loader-worker.ts',
    {
      stateDir: config.stateDir,
      catalogDir: cat.dir,
      logLevel: 'warn',
      warehouse: {
        duckdbPath: config.warehouse.duckdbPath,
        taskQueue: config.warehouse.taskQueue,
        queryPort: config.warehouse.queryPort,
        maxFilesPerLoad: 2,
        visibilityTimeoutSeconds: 30,
      },
    },
    dir,
  );
  workers.push(child);
  return child;
}

const count = async (sql: string): Promise<number> =>
  Number(rowObjects(await queryWarehouse(config, sql))[0]?.n ?? -1);
const loaded = (): Promise<number> =>
  count(`SELECT count(*) AS n FROM _sluice_load_history WHERE status = 'LOADED'`).catch(() => -1);

before(async () => {
  const base = loadConfig();
  dir = mkdtempSync(join(tmpdir(), 'sluice-loader-crash-'));
  config = {
    ...base,
    warehouse: {
      ...base.warehouse,
      duckdbPath: join(dir, 'warehouse.duckdb'),
      taskQueue: uniqueName('test-loader-crash'),
      queryPort: await freePort(),
    },
  };
  cat = await isolatedCatalog(config);
  TYPE = cat.type('order_created');
  connection = await Connection.connect({ address: config.temporal.address });
  client = new Client({ connection, namespace: config.temporal.namespace });
});

after(async () => {
  await client.workflow
    .getHandle(`loader/${TYPE}`)
    .terminate('test over')
    .catch(() => undefined);
  for (const w of workers) w.kill('SIGKILL');
  await connection.close();
  await cat.cleanup(config);
  rmSync(dir, { recursive: true, force: true });
});

test('a loader worker killed with SIGKILL mid-load loses no file and loads none twice', async () => {
  const s3 = createS3Client(config);
  const written: WrittenObject[] = [];
  for (let f = 0; f < FILES; f++) {
    const from = BigInt(f * PER_FILE);
    const events = Array.from({ length: PER_FILE }, (_, i) => {
      const n = f * PER_FILE + i;
      return { id: `c-${n}`, data: orderData(n, { tip_cents: n }), version: 2 };
    });
    written.push(...(await putSegment(config, s3, cat.catalog, TYPE, f % 3, from, events)));
  }
  await announce(config, createSqsClient(config), TYPE, written);

  const first = startWorker();
  await client.workflow.start(warehouseLoader, {
    workflowId: `loader/${TYPE}`,
    taskQueue: config.warehouse.taskQueue,
    args: [{ eventType: TYPE, maxWaitMs: 1000 }],
  });
  const atKill = await eventually(loaded, (n) => n > 0, 'the first files to load', 120_000);
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));
  assert.ok(atKill < FILES, `killed mid-run (${atKill} of ${FILES} files loaded)`);

  startWorker();
  const table = cat.catalog.types.get(TYPE)!.table;
  await eventually(
    () => count(`SELECT count(*) AS n FROM ${table}`).catch(() => -1),
    (n) => n >= FILES * PER_FILE,
    'every row after the restart',
    180_000,
  ).catch((err: Error) => {
    throw new Error(
      `${err.message}\nworker log:\n${readFileSync(join(dir, 'worker.log'), 'utf8').slice(-3000)}`,
    );
  });
  // Let notices still in flight come back and be skipped before counting for good: the queue is
  // empty once every notice was taken and deleted (the killed attempt may have deleted some itself).
  const sqs = createSqsClient(config);
  const { QueueUrl } = await sqs.send(
    new GetQueueUrlCommand({ QueueName: `${config.sqs.queuePrefix}${TYPE}` }),
  );
  await eventually(
    async () => {
      const { Attributes: a } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl,
          AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
        }),
      );
      return (
        Number(a?.ApproximateNumberOfMessages ?? -1) + Number(a?.ApproximateNumberOfMessagesNotVisible ?? -1)
      );
    },
    (n) => n === 0,
    'every notice to be taken and deleted',
    120_000,
  );
  assert.equal(await count(`SELECT count(*) AS n FROM ${table}`), FILES * PER_FILE, 'no row twice');
  assert.equal(await count(`SELECT count(DISTINCT _event_id) AS n FROM ${table}`), FILES * PER_FILE);
  assert.equal(
    await count(`SELECT sum(tip_cents) AS n FROM ${table}`),
    ((FILES * PER_FILE - 1) * FILES * PER_FILE) / 2,
  );
  assert.equal(await loaded(), FILES, 'one LOADED history row per file');
  assert.equal(
    await count(
      `SELECT count(*) AS n FROM (SELECT file_key FROM _sluice_load_history GROUP BY file_key HAVING count(*) > 1)`,
    ),
    0,
  );
});
