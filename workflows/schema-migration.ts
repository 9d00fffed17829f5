// schemaMigration({eventType, toVersion}), id migration/<type>/v<N>: moves the type's warehouse
// tables to a schema version. Additive changes are applied in place; an incompatible version gets
// its own table `<table>_v<N>` and the result offers the backfill that fills it. The type's loader
// is paused around the DDL so no insert races it.
import {
  condition,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities/loader.js';
import type { MigrateResult } from '../activities/loader-types.js';
import { loaderPausedSignal, pauseLoaderSignal, resumeLoaderSignal } from './loader-signals.js';
import { presets } from './presets.js';

type Activities = ReturnType<typeof activities.createLoaderActivities>;

const { migrate } = proxyActivities<Activities>(presets.migrate);

export interface SchemaMigrationInput {
  eventType: string;
  /** Default: the catalog's latest version. */
  toVersion?: number;
  /** Only plan: return the DDL without running it. */
  dryRun?: boolean;
  /** How long to wait for the loader to finish its current batch. */
  pauseTimeoutMs?: number;
}

export interface SchemaMigrationResult extends MigrateResult {
  /** Whether the loader was paused (false: no loader was running). */
  loaderPaused: boolean;
  /** For each new table: the backfill that loads the version's files already in S3 into it. */
  backfills: { workflowType: 'backfill'; taskQueue: string; input: Record<string, unknown> }[];
}

export async function schemaMigration(input: SchemaMigrationInput): Promise<SchemaMigrationResult> {
  const { eventType } = input;
  const me = workflowInfo();
  const request = {
    eventType,
    dryRun: true,
    appliedBy: me.workflowId,
    ...(input.toVersion ? { toVersion: input.toVersion } : {}),
  };
  const plan = await migrate(request);
  if (input.dryRun || plan.state !== 'planned') return { ...plan, loaderPaused: false, backfills: [] };

  let acknowledged = false;
  setHandler(loaderPausedSignal, () => void (acknowledged = true));
  const loader = getExternalWorkflowHandle(`loader/${eventType}`);
  let loaderPaused = false;
  try {
    await loader.signal(pauseLoaderSignal, { requestedBy: me.workflowId });
    loaderPaused = true;
  } catch {
    // No loader running for this type: nothing to pause.
  }
  try {
    if (loaderPaused && !(await condition(() => acknowledged, input.pauseTimeoutMs ?? 10 * 60_000))) {
      throw new Error(`the loader of ${eventType} did not pause in time; nothing was changed`);
    }
    const result = await migrate({ ...request, dryRun: false });
    return {
      ...result,
      loaderPaused,
      backfills: result.steps
        .filter((s) => s.kind === 'new-table')
        .map((s) => ({
          workflowType: 'backfill' as const,
          taskQueue: me.taskQueue,
          input: { eventType, version: s.version, table: s.table, mode: 'skip-loaded' },
        })),
    };
  } finally {
    if (loaderPaused) await loader.signal(resumeLoaderSignal).catch(() => undefined);
  }
}
