// Makes sure one eventPipeline and one warehouseLoader run per catalog type (workflow ids
// pipeline/<type>, loader/<type>); one already running is left alone, so `npm start` and deploys
// can call this every time.
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Config } from '../lib/config.js';
import type { Catalog } from '../schemas/catalog.js';
import { eventPipeline } from '../workflows/event-pipeline.js';
import { schemaMigration } from '../workflows/schema-migration.js';
import { warehouseLoader } from '../workflows/warehouse-loader.js';

export function pipelineTaskQueue(config: Config, eventType: string): string {
  return config.pipeline.taskQueuePerType
    ? `${config.pipeline.taskQueue}-${eventType}`
    : config.pipeline.taskQueue;
}

export async function ensurePipelines(
  config: Config,
  catalog: Catalog,
): Promise<{ started: string[]; running: string[] }> {
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const started: string[] = [];
  const running: string[] = [];
  try {
    for (const t of catalog.types.values()) {
      try {
        await client.workflow.start(eventPipeline, {
          workflowId: `pipeline/${t.name}`,
          taskQueue: pipelineTaskQueue(config, t.name),
          args: [{ eventType: t.name, idleWaitMs: config.pipeline.idleWaitMs }],
        });
        started.push(t.name);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        running.push(t.name);
      }
    }
  } finally {
    await connection.close();
  }
  return { started, running };
}

/**
 * One warehouseLoader per type (id loader/<type>), and a schemaMigration check per type to its
 * latest version (a no-op when the warehouse is there already or has no table yet).
 */
export async function ensureLoaders(
  config: Config,
  catalog: Catalog,
): Promise<{ started: string[]; running: string[]; migrations: string[] }> {
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  const started: string[] = [];
  const running: string[] = [];
  const migrations: string[] = [];
  try {
    for (const t of catalog.types.values()) {
      try {
        await client.workflow.start(warehouseLoader, {
          workflowId: `loader/${t.name}`,
          taskQueue: config.warehouse.taskQueue,
          args: [{ eventType: t.name }],
        });
        started.push(t.name);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        running.push(t.name);
      }
      const id = `migration/${t.name}/v${t.latest.version}`;
      try {
        await client.workflow.start(schemaMigration, {
          workflowId: id,
          taskQueue: config.warehouse.taskQueue,
          args: [{ eventType: t.name, toVersion: t.latest.version }],
        });
        migrations.push(id);
      } catch (err) {
        // The same check is already running (a deploy racing a start): let it finish.
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
      }
    }
  } finally {
    await connection.close();
  }
  return { started, running, migrations };
}
