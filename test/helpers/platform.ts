// What integration tests that run workers in-process share: a config of their own (DuckDB file in a
// temp dir, unique task queues, a free query port), workers that stop cleanly, and the teardown
// of the workflows they started.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig, type Config } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import type { Catalog } from '../../schemas/catalog.js';
import { eventPipeline } from '../../workflows/event-pipeline.js';
import { warehouseLoader } from '../../workflows/warehouse-loader.js';
import { createLoaderWorker } from '../../workers/loader-worker.js';
import { createPipelineWorkers, workflowsPath } from '../../workers/pipeline-worker.js';
import { uniqueName } from './names.js';
import { freePort } from './net.js';

export interface TestPlatform {
  config: Config;
  /** Temp dir of the DuckDB file and whatever else the test writes. */
  dir: string;
  client: Client;
  /** Terminates the workflows, closes the connection, removes the dir. */
  close(workflowIds?: string[]): Promise<void>;
}

export async function testPlatform(name: string): Promise<TestPlatform> {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const dir = mkdtempSync(join(tmpdir(), `sluice-${name}-`));
  const base = loadConfig();
  const config: Config = {
    ...base,
    warehouse: {
      ...base.warehouse,
      duckdbPath: join(dir, 'warehouse.duckdb'),
      taskQueue: uniqueName(`${name}-loader`),
      queryPort: await freePort(),
    },
    pipeline: { ...base.pipeline, taskQueue: uniqueName(`${name}-pipeline`), idleWaitMs: 1000 },
  };
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  return {
    config,
    dir,
    client,
    async close(workflowIds = []) {
      for (const id of workflowIds) {
        await client.workflow
          .getHandle(id)
          .terminate('test over')
          .catch(() => undefined);
      }
      await connection.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** The workflow ids `npm start` would run for a type: its loader, pipeline and partition children. */
export const workflowIdsOf = (type: string, partitions = 3): string[] => [
  `loader/${type}`,
  `pipeline/${type}`,
  ...Array.from({ length: partitions }, (_, p) => `pipeline/${type}/p${p}`),
];

interface WorkerLike {
  run(): Promise<unknown>;
  shutdown(): void;
  close(): Promise<void>;
}

/** Runs a worker (pipeline or loader) in this process; `stop()` drains and closes it. */
export function running<W extends WorkerLike>(worker: W): W & { stop(): Promise<void> } {
  const done = worker.run();
  return Object.assign(worker, {
    async stop() {
      worker.shutdown();
      await done;
      await worker.close();
    },
  });
}

/** A loader worker in this process on the platform's task queue, DuckDB file and query port. */
export async function startLoaderWorker(p: TestPlatform, catalog: Catalog) {
  return running(
    await createLoaderWorker(p.config, catalog, createLogger('test-loader', 'warn'), {
      worker: { workflowsPath },
    }),
  );
}

/** A pipeline worker in this process on the platform's task queue. */
export async function startPipelineWorker(p: TestPlatform, catalog: Catalog) {
  return running(
    await createPipelineWorkers(p.config, catalog, createLogger('test-pipeline', 'warn'), { workflowsPath }),
  );
}

/** Starts what `npm start` runs for a type: its eventPipeline and its warehouseLoader, polling every second. */
export async function startTypeWorkflows(p: TestPlatform, type: string): Promise<void> {
  await p.client.workflow.start(eventPipeline, {
    workflowId: `pipeline/${type}`,
    taskQueue: p.config.pipeline.taskQueue,
    args: [{ eventType: type, idleWaitMs: 1000 }],
  });
  await p.client.workflow.start(warehouseLoader, {
    workflowId: `loader/${type}`,
    taskQueue: p.config.warehouse.taskQueue,
    args: [{ eventType: type, maxWaitMs: 1000 }],
  });
}
