// backfill(input), id backfill/<type>/<uuid>: loads a type's Parquet files of a time range from S3
// into the warehouse with the loader's activities and its load-history rule. One JSON object as
// input, so operators can start it from the Temporal UI. The range is split into (version, day)
// chunks run as child workflows, a bounded number at a time; `progress` is a query.
import {
  defineQuery,
  executeChild,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities/loader.js';
import {
  addChunkResult,
  emptyChunkResult,
  type BackfillRange,
  type ChunkResult,
  type LoadPrefixInput,
} from '../activities/backfill-types.js';
import { presets } from './presets.js';

type Activities = ReturnType<typeof activities.createLoaderActivities>;

const { planBackfill } = proxyActivities<Activities>(presets.listing);
const { loadPrefix } = proxyActivities<Activities>(presets.backfill);
const { migrate } = proxyActivities<Activities>(presets.migrate);

export interface BackfillInput extends BackfillRange {
  /** Load into this table instead of the one each file's schema version maps to. */
  table?: string;
  /** skip-loaded (default): files in the load history are skipped; force: they are loaded again. */
  mode?: 'skip-loaded' | 'force';
  /** Chunks loading at once (default 4). */
  parallelism?: number;
  /**
   * Resuming a cancelled forced backfill: its start time, so the files it reloaded already are
   * skipped now. `sluice backfill resume` fills it in.
   */
  reloadBefore?: string;
}

export interface BackfillProgress extends ChunkResult {
  state: 'planning' | 'running' | 'completed' | 'cancelled';
  chunks: number;
  chunksDone: number;
  /** With mode force: files loaded from this instant on are not loaded again by a resumed run. */
  reloadBefore?: string;
}

export const backfillProgressQuery = defineQuery<BackfillProgress>('progress');

export async function backfill(input: BackfillInput): Promise<BackfillProgress> {
  const info = workflowInfo();
  const force = input.mode === 'force';
  const reloadBefore = force ? (input.reloadBefore ?? info.startTime.toISOString()) : undefined;
  const progress: BackfillProgress = {
    state: 'planning',
    chunks: 0,
    chunksDone: 0,
    ...emptyChunkResult(),
    ...(reloadBefore ? { reloadBefore } : {}),
  };
  setHandler(backfillProgressQuery, () => progress);

  const chunks = await planBackfill({
    eventType: input.eventType,
    ...(input.from ? { from: input.from } : {}),
    ...(input.to ? { to: input.to } : {}),
    ...(input.version !== undefined ? { version: input.version } : {}),
  });
  progress.chunks = chunks.length;
  progress.state = 'running';
  const parallelism = Math.min(32, Math.max(1, input.parallelism ?? 4));
  let next = 0;
  const lane = async (): Promise<void> => {
    while (next < chunks.length) {
      const i = next++;
      const r = await executeChild(backfillChunk, {
        workflowId: `${info.workflowId}/chunk-${i}`,
        args: [
          {
            eventType: input.eventType,
            chunk: chunks[i]!,
            force,
            ...(input.table ? { table: input.table } : {}),
            ...(reloadBefore ? { reloadBefore } : {}),
          },
        ],
      });
      progress.chunksDone++;
      addChunkResult(progress, r);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(parallelism, chunks.length) }, lane));
  } catch (err) {
    // Cancelled children stop between pages; each page is one transaction, so nothing is half-loaded.
    if (isCancellation(err)) progress.state = 'cancelled';
    throw err;
  }
  progress.state = 'completed';
  return progress;
}

/** One (version, day) chunk; a file of a version the warehouse has not seen migrates the table first. */
export async function backfillChunk(input: LoadPrefixInput): Promise<ChunkResult> {
  for (;;) {
    const r = await loadPrefix(input);
    if (r.needsMigration === undefined) return r;
    // The warehouse adapter runs DDL and loads one at a time, so no pause is needed here.
    await migrate({
      eventType: input.eventType,
      toVersion: r.needsMigration,
      dryRun: false,
      appliedBy: workflowInfo().workflowId,
    });
  }
}
