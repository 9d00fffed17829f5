// Makes sure one eventPipeline runs per catalog type (workflow id pipeline/<type>); one that is
// already running is left alone, so `npm start` and deploys can call this every time.
import { Client, Connection, WorkflowExecutionAlreadyStartedError } from '@temporalio/client';
import type { Config } from '../lib/config.js';
import type { Catalog } from '../schemas/catalog.js';
import { eventPipeline } from '../workflows/event-pipeline.js';

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
