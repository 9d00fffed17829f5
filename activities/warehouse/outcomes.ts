// The per-file outcomes every adapter and the loader report, built one way.
import type { FileOutcome } from './types.js';

/** Identity of a loaded file in the load history: its key and ETag together. */
export const historyKey = (key: string, etag: string): string => `${etag}\u0000${key}`;

export const skipped = (key: string, etag: string): FileOutcome => ({
  key,
  etag,
  status: 'SKIPPED',
  rows: 0,
  testRows: 0,
});

/** A file that can never load (gone, not Parquet, foreign columns, unknown version). */
export const failure = (key: string, etag: string, error: string): FileOutcome => ({
  key,
  etag,
  status: 'FAILED',
  rows: 0,
  testRows: 0,
  error,
});
