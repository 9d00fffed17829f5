// Makes sure one eventPipeline and one warehouseLoader run per catalog type (workflow ids
// pipeline/<type>, loader/<type>); one already running is left alone, so `npm start` and deploys
// can call this every time.
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Config } from '../lib/config.js';
import type { Catalog } from '../schemas/catalog.js';
import { eventPipeline } from '../workflows/event-pipeline.js';
import { rawRouter, rawRouterWorkflowId } from '../workflows/raw-router.js';
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

/**
 * One rawRouter per raw app of the catalog (id raw-router/<app>), on the task queue of the first
 * type (by name) that lists the app in rawApps; one already running is left alone.
 */
export async function ensureRawRouters(
  config: Config,
  catalog: Catalog,
): Promise<{ started: string[]; running: string[] }> {
  const apps = new Map<string, string>();
  for (const t of [...catalog.types.values()].sort((a, b) => a.name.localeCompare(b.name)))
    for (const app of t.settings.rawApps) if (!apps.has(app)) apps.set(app, t.name);
  const started: string[] = [];
  const running: string[] = [];
  if (apps.size === 0) return { started, running };
  const connection = await Connection.connect({ address: config.temporal.address });
  const client = new Client({ connection, namespace: config.temporal.namespace });
  try {
    for (const [app, type] of [...apps].sort(([a], [b]) => a.localeCompare(b))) {
      try {
        await client.workflow.start(rawRouter, {
          workflowId: rawRouterWorkflowId(app),
          taskQueue: pipelineTaskQueue(config, type),
          args: [{ app, idleWaitMs: config.pipeline.idleWaitMs }],
        });
        started.push(app);
      } catch (err) {
        if (!(err instanceof WorkflowExecutionAlreadyStartedError)) throw err;
        running.push(app);
      }
    }
  } finally {
    await connection.close();
  }
  return { started, running };
}
