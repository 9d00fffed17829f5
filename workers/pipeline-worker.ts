// The pipeline worker: `npm run worker:pipeline`. One process runs every event type on the task
// queue `sluice-pipeline` (or one queue per type with pipeline.taskQueuePerType).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { NativeConnection, Runtime, DefaultLogger, Worker, type WorkerOptions } from '@temporalio/worker';
import { createPipelineActivities } from '../activities/pipeline.js';
import { createRawRouterActivities } from '../activities/raw-router.js';
import { createReplayActivities } from '../activities/replay.js';
import { loadConfig, type Config } from '../lib/config.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { loadCatalog, type Catalog } from '../schemas/catalog.js';
import { createPipelineDeps } from './pipeline-deps.js';
import { setPipelineHeapGrowth } from './heap-growth.js';

export const workflowsPath = fileURLToPath(new URL('../workflows/index.ts', import.meta.url));
/**
 * Built by `npm run build:workflows`; used when NODE_ENV=production, so a stale bundle can never
 * run in development, where workers bundle from source at start.
 */
export const workflowBundlePath = fileURLToPath(new URL('../dist/workflow-bundle.js', import.meta.url));

export function pipelineTaskQueues(config: Config, catalog: Catalog): string[] {
  return config.pipeline.taskQueuePerType
    ? [...catalog.types.keys()].map((t) => `${config.pipeline.taskQueue}-${t}`)
    : [config.pipeline.taskQueue];
}

export async function createPipelineWorkers(
  config: Config,
  catalog: Catalog,
  logger: Logger,
  overrides: Partial<WorkerOptions> = {},
) {
  const connection = await NativeConnection.connect({ address: config.temporal.address });
  const deps = createPipelineDeps(config, catalog, logger);
  const activities = {
    ...createPipelineActivities(deps),
    ...createRawRouterActivities(deps),
    ...createReplayActivities(deps),
  };
  const code =
    existsSync(workflowBundlePath) && !overrides.workflowsPath
      ? { workflowBundle: { codePath: workflowBundlePath } }
      : { workflowsPath };
  const workers = await Promise.all(
    pipelineTaskQueues(config, catalog).map((taskQueue) =>
      Worker.create({
        connection,
        namespace: config.temporal.namespace,
        taskQueue,
        ...code,
        activities,
        maxConcurrentActivityTaskExecutions: config.pipeline.maxConcurrentActivities,
        // A worker told to stop gives running activities this long to finish before cancelling them.
        shutdownGraceTime: '20 seconds',
        ...overrides,
      }),
    ),
  );
  return {
    workers,
    run: () => Promise.all(workers.map((w) => w.run())),
    shutdown: () => {
      for (const w of workers) if (w.getState() === 'RUNNING') w.shutdown();
    },
    close: async () => {
      await deps.close();
      await connection.close();
    },
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  setPipelineHeapGrowth();
  const config = loadConfig();
  const logger = createLogger('pipeline-worker', config.logLevel);
  Runtime.install({
    logger: new DefaultLogger(config.logLevel === 'debug' || config.logLevel === 'trace' ? 'DEBUG' : 'WARN'),
  });
  const pw = await createPipelineWorkers(config, loadCatalog(config.catalogDir), logger);
  const stop = (): void => void pw.shutdown();
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  logger.info({ taskQueues: pw.workers.map((w) => w.options.taskQueue) }, 'pipeline worker running');
  await pw.run();
  await pw.close();
  logger.info('pipeline worker stopped');
}
