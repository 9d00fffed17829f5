import { defineQuery, defineSignal } from '@temporalio/workflow';

export interface LoaderStatus {
  eventType: string;
  state: 'running' | 'paused';
  /** Totals since the loader started (carried across continue-as-new). */
  batches: number;
  notices: number;
  files: number;
  loaded: number;
  skipped: number;
  failed: number;
  rows: number;
  testRows: number;
  /** Newest `_ingest_time` loaded, ISO 8601: freshness is now minus this. */
  newestIngestTime?: string;
  lastKey?: string;
  lastLoadAt?: string;
  /** The most recent files that could not be loaded, with why. */
  recentFailures: { key: string; error: string }[];
  migrations: { version: number; state: string; at: string }[];
}

export function newLoaderStatus(eventType: string): LoaderStatus {
  return {
    eventType,
    state: 'running',
    batches: 0,
    notices: 0,
    files: 0,
    loaded: 0,
    skipped: 0,
    failed: 0,
    rows: 0,
    testRows: 0,
    recentFailures: [],
    migrations: [],
  };
}

/** Stop loading after the current batch; `requestedBy` (a workflow id) gets `loaderPaused` then. */
export const pauseLoaderSignal = defineSignal<[{ requestedBy?: string }?]>('pause');
export const resumeLoaderSignal = defineSignal('resume');
/** Sent by a loader to whoever asked it to pause, once no load is in flight. */
export const loaderPausedSignal = defineSignal<[{ eventType: string }]>('loaderPaused');
export const loaderStatusQuery = defineQuery<LoaderStatus>('status');
