// Inputs and results of the backfill activities: prefixes and counts, never file lists, so a
// backfill over months of data keeps a small workflow history.

export interface BackfillRange {
  eventType: string;
  /** Inclusive, ISO 8601; the hour it falls in is the first hour loaded. Default: the beginning. */
  from?: string;
  /** Exclusive, ISO 8601; files of hours from `to`'s hour on are left out. Default: no end. */
  to?: string;
  /** Only this schema version's files (`v=<N>/`). */
  version?: number;
}

/** One day of one schema version: `events/<type>/v=<N>/dt=<day>/`, hours [hrFrom, hrTo]. */
export interface BackfillChunk {
  prefix: string;
  version: number;
  day: string;
  hrFrom: number;
  hrTo: number;
}

export interface LoadPrefixInput {
  eventType: string;
  chunk: BackfillChunk;
  table?: string;
  force: boolean;
  /** See LoadRequest.reloadBefore. */
  reloadBefore?: string;
}

export interface ChunkResult {
  files: number;
  loaded: number;
  skipped: number;
  failed: number;
  rows: number;
  failures: { key: string; error: string }[];
}

/** An empty ChunkResult, to add to. */
export const emptyChunkResult = (): ChunkResult => ({
  files: 0,
  loaded: 0,
  skipped: 0,
  failed: 0,
  rows: 0,
  failures: [],
});

/**
 * Adds `r` (a page's or a chunk's counts) to `total`, keeping the first 20 failures. Pure: the
 * loadPrefix activity sums pages with it and the backfill workflow sums chunks.
 */
export function addChunkResult(total: ChunkResult, r: ChunkResult): void {
  total.files += r.files;
  total.loaded += r.loaded;
  total.skipped += r.skipped;
  total.failed += r.failed;
  total.rows += r.rows;
  total.failures = [...total.failures, ...r.failures].slice(0, 20);
}
