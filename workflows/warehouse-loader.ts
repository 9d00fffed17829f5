// One per event type, id loader/<type>: the Snowpipe of Sluice. Each turn an activity long-polls
// the type's queue of S3 object notices and loads the files (each once, by the load history); a
// file of a schema version the warehouse has not seen triggers the migration first.
import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities/loader.js';
import {
  loaderPausedSignal,
  loaderStatusQuery,
  newLoaderStatus,
  pauseLoaderSignal,
  resumeLoaderSignal,
  type LoaderStatus,
} from './loader-signals.js';
import { presets } from './presets.js';

type Activities = ReturnType<typeof activities.createLoaderActivities>;

const { loadFromQueue } = proxyActivities<Activities>(presets.load);
const { migrate } = proxyActivities<Activities>(presets.migrate);

export interface WarehouseLoaderInput {
  eventType: string;
  paused?: boolean;
  /** Carried across continue-as-new. */
  status?: LoaderStatus;
  /** How long one activity long-polls the queue when idle; default warehouse.pollWaitSeconds. */
  maxWaitMs?: number;
}

export async function warehouseLoader(input: WarehouseLoaderInput): Promise<void> {
  const { eventType } = input;
  const status = input.status ?? newLoaderStatus(eventType);
  let paused = input.paused ?? false;
  const waiting: string[] = [];

  setHandler(pauseLoaderSignal, (arg) => {
    paused = true;
    if (arg?.requestedBy) waiting.push(arg.requestedBy);
  });
  setHandler(resumeLoaderSignal, () => void (paused = false));
  setHandler(loaderStatusQuery, () => ({ ...status, state: paused ? 'paused' : 'running' }));

  for (;;) {
    if (paused) {
      status.state = 'paused';
      // No load is in flight here: tell whoever asked (a migration) it may change the tables.
      for (const id of waiting.splice(0)) {
        await getExternalWorkflowHandle(id)
          .signal(loaderPausedSignal, { eventType })
          .catch(() => undefined);
      }
      await condition(() => !paused || waiting.length > 0);
      if (paused) continue;
      status.state = 'running';
    }
    const batch = await loadFromQueue({
      eventType,
      ...(input.maxWaitMs ? { maxWaitMs: input.maxWaitMs } : {}),
    });
    if (batch.notices > 0) {
      status.batches++;
      status.notices += batch.notices;
      status.files += batch.files;
      status.loaded += batch.loaded;
      status.skipped += batch.skipped;
      status.failed += batch.failed;
      status.rows += batch.rows;
      status.testRows += batch.testRows;
      if (batch.lastKey) status.lastKey = batch.lastKey;
      if (
        batch.newestIngestTime &&
        (!status.newestIngestTime || batch.newestIngestTime > status.newestIngestTime)
      ) {
        status.newestIngestTime = batch.newestIngestTime;
      }
      status.lastLoadAt = new Date().toISOString();
      status.recentFailures = [...batch.failures, ...status.recentFailures].slice(0, 20);
    }
    if (batch.needsMigration !== undefined) {
      // This loader is between loads, so the DDL cannot race one of its inserts.
      const result = await migrate({
        eventType,
        toVersion: batch.needsMigration,
        dryRun: false,
        appliedBy: workflowInfo().workflowId,
      });
      status.migrations = [
        { version: result.toVersion, state: result.state, at: new Date().toISOString() },
        ...status.migrations,
      ].slice(0, 10);
    }
    const historyFull = workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 2000;
    // A pending pause request is answered first: it would not survive the new run.
    if (historyFull && waiting.length === 0) {
      await continueAsNew<typeof warehouseLoader>({ ...input, paused, status });
    }
  }
}
