// `npm start`: installs what is missing, starts the local stack and the Sluice processes,
// prints where everything is, and stops what it started on Ctrl-C.
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { DuckDBInstance } from '@duckdb/node-api';
import { loadConfig } from '../lib/config.js';
import { loadCatalog } from '../schemas/catalog.js';
import { runMain } from './main.js';
import { step } from './progress.js';
import { provision } from './provision.js';
import { AppProcess } from './app-processes.js';
import { ensurePipelines } from './pipelines.js';
import { restartCrashed, stackDown, stackUp } from './stack-lib.js';

runMain(async () => {
  const config = loadConfig();
  // Checked before anything starts: a broken catalog should fail fast, not after a 5-minute build.
  const catalog = loadCatalog(config.catalogDir);
  step(
    'sluice',
    `starting the local stack (state in ${config.stateDir}, tools cached in ${config.cacheDir})`,
  );
  const started = await stackUp(config);

  const changes = await provision(config, catalog);
  const changed = changes.filter((c) => c.kind !== 'unchanged');
  for (const c of changed) step('apply', `${c.kind} ${c.resource} ${c.detail}`);
  step(
    'apply',
    `catalog of ${catalog.types.size} event types applied (${changes.length - changed.length} resources already in place)`,
  );

  // The warehouse is a DuckDB file; create it so the path printed below exists.
  mkdirSync(dirname(config.warehouse.duckdbPath), { recursive: true });
  const db = await DuckDBInstance.create(config.warehouse.duckdbPath);
  db.closeSync();

  const { host, port } = config.proxy;
  const proxyUrl = `http://${host}:${port}`;
  const apps = [
    new AppProcess(config, {
      name: 'proxy',
      script: 'proxy/server.ts',
      readyUrl: `${proxyUrl}/readyz`,
      port: { host, port, key: 'proxy.port' },
    }),
    new AppProcess(config, { name: 'pipeline-worker', script: 'workers/pipeline-worker.ts' }),
  ];
  for (const a of apps) await a.start();
  const pipelines = await ensurePipelines(config, catalog);
  step(
    'pipelines',
    `started: ${pipelines.started.join(', ') || 'none'}; already running: ${pipelines.running.join(', ') || 'none'}`,
  );

  const lines = [
    '',
    'Sluice is running:',
    `  Proxy            ${proxyUrl}   (POST /v1/events, /openapi.json, /metrics)`,
    `  Kafka            ${config.kafka.brokers.join(',')}`,
    `  Temporal         ${config.temporal.address}   namespace ${config.temporal.namespace}`,
    `  Temporal UI      ${config.temporal.uiUrl}`,
    `  S3               ${config.s3.endpoint}   bucket ${config.s3.bucket}`,
    `  SQS              ${config.sqs.endpoint}`,
    `  Warehouse        ${config.warehouse.duckdbPath}`,
    `  Logs             ${config.stateDir}/logs/`,
    '',
    `Press Ctrl-C to stop the proxy${started.length ? ` and ${started.join(', ')}` : ' (the servers were already running and stay up)'}.`,
    '',
  ];
  process.stdout.write(lines.join('\n'));

  // Watch the servers while running: one that crashed is reported and started again. The timer
  // also keeps the process alive until Ctrl-C (signal handlers alone do not).
  let checking = false;
  const watchdog = setInterval(() => {
    if (checking) return;
    checking = true;
    void restartCrashed(config)
      .catch((err: unknown) =>
        step('sluice', `watchdog: ${err instanceof Error ? err.message : String(err)}`),
      )
      .finally(() => {
        checking = false;
      });
  }, 10_000);
  await new Promise<void>((resolvePromise) => {
    const onSignal = (): void => resolvePromise();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
  });
  clearInterval(watchdog);
  for (const a of apps.reverse()) await a.stop();
  step('sluice', 'stopping');
  await stackDown(config, started);
  return 0;
});
