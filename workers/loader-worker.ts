// The loader worker: `npm run worker:loader`. Runs the loader and migration workflows (and their
// activities) on `warehouse.taskQueue`, owns the warehouse connection (for DuckDB: the only
// read-write process of the file) and serves reads and /metrics on warehouse.queryPort.
import { existsSync } from 'node:fs';
import type { Server } from 'node:http';
import { NativeConnection, Runtime, DefaultLogger, Worker, type WorkerOptions } from '@temporalio/worker';
import { createLoaderActivities } from '../activities/loader.js';
import { loadConfig, type Config } from '../lib/config.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { loadCatalog, type Catalog } from '../schemas/catalog.js';
import { createLoaderDeps } from './loader-deps.js';
import { workflowBundlePath, workflowsPath } from './pipeline-worker.js';
import { createQueryApp, startQueryServer } from './query-server.js';

export interface LoaderWorkerOptions {
  /** Serve the query endpoint (default true); tests that query in-process turn it off. */
  queryServer?: boolean;
  worker?: Partial<WorkerOptions>;
}

export async function createLoaderWorker(
  config: Config,
  catalog: Catalog,
  logger: Logger,
  options: LoaderWorkerOptions = {},
) {
  const deps = await createLoaderDeps(config, catalog, logger);
  let connection: NativeConnection | undefined;
  let server: Server | undefined;
  try {
    connection = await NativeConnection.connect({ address: config.temporal.address });
    const code =
      existsSync(workflowBundlePath) && !options.worker?.workflowsPath
        ? { workflowBundle: { codePath: workflowBundlePath } }
        : { workflowsPath };
    const activities = createLoaderActivities(deps);
    const worker = await Worker.create({
      connection,
      namespace: config.temporal.namespace,
      taskQueue: config.warehouse.taskQueue,
      ...code,
      activities,
      maxConcurrentActivityTaskExecutions: Math.max(4, catalog.types.size * 2),
      shutdownGraceTime: '20 seconds',
      ...options.worker,
    });
    if (options.queryServer ?? true) {
      server = await startQueryServer(
        createQueryApp(deps.warehouse, deps.metrics.registry, logger),
        config.warehouse.queryHost,
        config.warehouse.queryPort,
      );
    }
    const conn = connection;
    return {
      worker,
      activities,
      warehouse: deps.warehouse,
      metrics: deps.metrics,
      run: () => worker.run(),
      shutdown: () => {
        if (worker.getState() === 'RUNNING') worker.shutdown();
      },
      close: async () => {
        await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
        await deps.close();
        await conn.close();
      },
    };
  } catch (err) {
    server?.close();
    await deps.close();
    await connection?.close();
    throw err;
  }
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfig();
  const logger = createLogger('loader-worker', config.logLevel);
  Runtime.install({
    logger: new DefaultLogger(config.logLevel === 'debug' || config.logLevel === 'trace' ? 'DEBUG' : 'WARN'),
  });
  const lw = await createLoaderWorker(config, loadCatalog(config.catalogDir), logger);
  const stop = (): void => void lw.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  logger.info(
    {
      taskQueue: config.warehouse.taskQueue,
      warehouse: config.warehouse.kind,
      query: `http://${config.warehouse.queryHost}:${config.warehouse.queryPort}/v1/query`,
    },
    'loader worker running',
  );
  await lw.run();
  await lw.close();
  logger.info('loader worker stopped');
}
