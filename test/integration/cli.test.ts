// The `sluice` CLI as a user runs it (the bin, in a child process) against the running stack: a
// proxy, a pipeline worker and a loader worker in this process, an isolated catalog.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { type Config } from '../../lib/config.js';
import { projectRoot } from '../../lib/paths.js';
import type { RunningProxy } from '../../proxy/server.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { startReadyProxy } from '../helpers/proxy.js';
import {
  startLoaderWorker,
  startPipelineWorker,
  startTypeWorkflows,
  testPlatform,
  workflowIdsOf,
  type TestPlatform,
} from '../helpers/platform.js';
import { eventually } from '../helpers/wait.js';

const run = promisify(execFile);

let config: Config;
let cat: IsolatedCatalog;
let dir: string;
let configFile: string;
let proxy: RunningProxy;
let platform: TestPlatform;
let loader: Awaited<ReturnType<typeof startLoaderWorker>>;
let pipeline: Awaited<ReturnType<typeof startPipelineWorker>>;
let TYPE: string;

/** Runs the bin; never throws: returns the exit code and both streams. */
async function sluice(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [join(projectRoot(), 'ops/cli/bin.js'), ...args], {
      env: { ...process.env, SLUICE_CONFIG: configFile },
      cwd: projectRoot(),
      timeout: 120_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' };
  }
}

async function sluiceJson<T>(...args: string[]): Promise<T> {
  const r = await sluice(...args, '--json');
  assert.equal(r.code, 0, `sluice ${args.join(' ')} → ${r.code}: ${r.stderr}`);
  return JSON.parse(r.stdout) as T;
}

before(async () => {
  platform = await testPlatform('cli');
  ({ config, dir } = platform);
  cat = await isolatedCatalog(config, { flush: { maxRecords: 1000, maxAgeSeconds: 1 } });
  TYPE = cat.type('delivery_status_changed');
  proxy = await startReadyProxy(config, cat.catalog);
  configFile = join(dir, 'sluice.config.json');
  writeFileSync(
    configFile,
    JSON.stringify({
      stateDir: config.stateDir,
      catalogDir: cat.dir,
      proxy: { port: Number(new URL(proxy.url).port) },
      pipeline: { taskQueue: config.pipeline.taskQueue },
      warehouse: {
        duckdbPath: config.warehouse.duckdbPath,
        taskQueue: config.warehouse.taskQueue,
        queryPort: config.warehouse.queryPort,
        snowflake: { account: 'myorg-acct', username: 'loader', warehouse: 'load_wh', database: 'events' },
      },
    }),
  );
  loader = await startLoaderWorker(platform, cat.catalog);
  pipeline = await startPipelineWorker(platform, cat.catalog);
  await startTypeWorkflows(platform, TYPE);
});

after(async () => {
  await loader.stop();
  await pipeline.stop();
  await proxy.stop();
  await platform.close(workflowIdsOf(TYPE));
  await cat.cleanup(config);
});

test('send samples, see them in status and query them; the DLQ shows what was rejected', async () => {
  const sent = await sluiceJson<{ accepted: number; rejected: number }>('send', TYPE, '--sample', '40');
  assert.deepEqual([sent.accepted, sent.rejected], [40, 0]);
  const bad = join(dir, 'bad.ndjson');
  writeFileSync(bad, `${JSON.stringify({ delivery_id: 'x', status: 'lost' })}\n`);
  const rejected = await sluice('send', TYPE, '--file', bad);
  assert.equal(rejected.code, 1, 'a rejected event is a failed command');
  assert.match(rejected.stdout, /0 accepted, 1 rejected/);
  assert.match(rejected.stdout, /SCHEMA_VALIDATION_FAILED/);

  const table = cat.catalog.types.get(TYPE)!.table;
  await eventually(
    () =>
      sluiceJson<{ rows: string[][] }>('query', `SELECT count(*) AS n FROM ${table}`).catch(() => ({
        rows: [['0']],
      })),
    (r) => r.rows[0]?.[0] === '40',
    'the samples to reach the warehouse',
    90_000,
  );
  const plain = await sluice('query', `SELECT count(*) AS n FROM ${table}`);
  assert.equal(plain.code, 0);
  assert.match(plain.stdout, /^n\s*\n-+\s*\n40\s*\n\(1 row\)/);

  const status = await sluiceJson<{
    types: {
      type: string;
      pipeline?: { lag: string };
      loader?: { filesLoaded: number; rows: number; freshnessSeconds?: number };
    }[];
  }>('status');
  const mine = status.types.find((t) => t.type === TYPE);
  assert.equal(mine?.pipeline?.lag, '0');
  assert.equal(mine?.loader?.rows, 40);
  assert.ok((mine?.loader?.freshnessSeconds ?? -1) >= 0);

  const dlq = await sluiceJson<{ entries: { errorCode: string; value: string }[] }>(
    'dlq',
    'tail',
    TYPE,
    '-n',
    '5',
  );
  assert.equal(dlq.entries.length, 1);
  assert.equal(dlq.entries[0]?.errorCode, 'SCHEMA_VALIDATION_FAILED');
  assert.match(dlq.entries[0]?.value ?? '', /"status":"lost"/);
});

test('pipelines pause, flush and resume; schema diff and migrate; backfill waits and reports', async () => {
  for (const action of ['pause', 'flush', 'resume']) {
    const r = await sluice('pipelines', action, TYPE);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`${action} sent to pipeline/${TYPE}`));
  }
  const diff = await sluiceJson<{ state: string; fromVersion: number }>('schema', 'diff', TYPE);
  assert.equal(diff.state, 'current', 'the table was created at v1 by the first load');
  const migrate = await sluice('schema', 'migrate', TYPE);
  assert.equal(migrate.code, 0, migrate.stderr);
  assert.match(migrate.stdout, /v1 → v1: the warehouse is at this version already/);

  const backfill = await sluiceJson<{ state: string; files: number; loaded: number; skipped: number }>(
    'backfill',
    TYPE,
    '--wait',
  );
  assert.equal(backfill.state, 'completed');
  assert.ok(backfill.files >= 1);
  assert.equal(backfill.loaded, 0, 'every file was loaded by the loader already');
  assert.equal(backfill.skipped, backfill.files);
});

test('schema check, snowflake ddl, and errors with their exit codes', async () => {
  const unreleased = await sluice('schema', 'check');
  assert.equal(unreleased.code, 1, 'the test catalog has no lock file: its versions are not released');
  assert.match(unreleased.stdout, /not yet in .*\.lock\.json/);
  assert.equal((await sluice('schema', 'check', '--release')).code, 0);
  const check = await sluice('schema', 'check');
  assert.equal(check.code, 0, check.stdout + check.stderr);
  assert.match(check.stdout, /✓ v2 is BACKWARD compatible[\s\S]*schemas: ok/);
  const ddl = await sluice('snowflake', 'ddl');
  assert.equal(ddl.code, 0, ddl.stderr);
  assert.match(ddl.stdout, /CREATE STAGE IF NOT EXISTS/i);
  assert.match(ddl.stdout, new RegExp(`CREATE TABLE IF NOT EXISTS "${cat.catalog.types.get(TYPE)!.table}"`));

  const unknown = await sluice('send', 'no_such_type', '--sample', '1');
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown event type "no_such_type"; the catalog has: /);
  const badTime = await sluice('backfill', TYPE, '--from', 'yesterday');
  assert.equal(badTime.code, 2);
  assert.match(badTime.stderr, /--from must be an ISO 8601 time/);
  const write = await sluice('query', `DROP TABLE ${cat.catalog.types.get(TYPE)!.table}`);
  assert.equal(write.code, 1);
  assert.match(write.stderr, /QUERY_NOT_READ_ONLY/);
  const missing = await sluice('backfill', 'resume', 'backfill/nope/nope');
  assert.equal(missing.code, 4);
  assert.equal((await sluice('no-such-command')).code, 2);
});

test('replay from Kafka onto the type’s topic waits, reports, and the pipeline loads the copies once', async () => {
  const r = await sluiceJson<{ state: string; records: number; partitions: { from: string; to: string }[] }>(
    'replay',
    TYPE,
    '--source',
    'kafka',
    '--from',
    '0:0,1:0,2:0',
    '--wait',
  );
  assert.equal(r.state, 'done');
  assert.equal(r.records, 40, 'the 40 accepted events (the rejected one went to the DLQ, not the topic)');
  const table = cat.catalog.types.get(TYPE)!.table;
  await eventually(
    () => sluiceJson<{ rows: string[][] }>('query', `SELECT count(*) AS n FROM ${table}`),
    (q) => Number(q.rows[0]?.[0]) >= 80,
    'the replayed copies to be loaded',
    90_000,
  );
  const q = await sluiceJson<{ rows: string[][] }>(
    'query',
    `SELECT count(*) AS n, count(DISTINCT _event_id) AS ids FROM ${table}`,
  );
  assert.deepEqual(q.rows[0], ['80', '40'], 'each event twice: the original and one replayed copy');
  const usageError = await sluice('replay', TYPE, '--source', 's3');
  assert.equal(usageError.code, 2);
  assert.match(usageError.stderr, /--source s3 needs --from and --to/);
});
