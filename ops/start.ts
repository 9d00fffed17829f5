// `npm start`: installs what is missing, starts the local stack and the Sluice processes,
// prints where everything is, and stops what it started on Ctrl-C.
import { loadConfig } from '../lib/config.js';
import { loadCatalog } from '../schemas/catalog.js';
import { runMain } from './main.js';
import { step } from './progress.js';
import { provision } from './provision.js';
import { AppProcess } from './app-processes.js';
import { ensureLoaders, ensurePipelines, ensureRawRouters } from './pipelines.js';
import { queryEndpoint } from '../lib/warehouse-client.js';
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
    // Owns the warehouse (DuckDB allows one writer per file) and serves reads for the CLI.
    new AppProcess(config, {
      name: 'loader-worker',
      script: 'workers/loader-worker.ts',
      readyUrl: `http://${config.warehouse.queryHost}:${config.warehouse.queryPort}/healthz`,
      port: {
        host: config.warehouse.queryHost,
        port: config.warehouse.queryPort,
        key: 'warehouse.queryPort',
      },
    }),
  ];
  for (const a of apps) await a.start();
  const pipelines = await ensurePipelines(config, catalog);
  step(
    'pipelines',
    `started: ${pipelines.started.join(', ') || 'none'}; already running: ${pipelines.running.join(', ') || 'none'}`,
  );

  const routers = await ensureRawRouters(config, catalog);
  step(
    'raw routers',
    `started: ${routers.started.join(', ') || 'none'}; already running: ${routers.running.join(', ') || 'none'}`,
  );

  const loaders = await ensureLoaders(config, catalog);
  step(
    'loaders',
    `started: ${loaders.started.join(', ') || 'none'}; already running: ${loaders.running.join(', ') || 'none'}; schema checks: ${loaders.migrations.length}`,
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
    `  Warehouse        ${config.warehouse.kind === 'duckdb' ? config.warehouse.duckdbPath : `Snowflake ${config.warehouse.snowflake?.account ?? ''}`}   (read it with \`npx sluice query "<sql>"\` or POST ${queryEndpoint(config)})`,
    `  Logs             ${config.stateDir}/logs/`,
    '',
    `Press Ctrl-C to stop the proxy and workers${started.length ? ` and ${started.join(', ')}` : ' (the servers were already running and stay up)'}.`,
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
