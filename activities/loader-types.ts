// What the loader, migration and backfill activities take and return: object keys and counts,
// never rows, so workflow history stays small.
import type { FileRef } from './warehouse/types.js';

export interface LoadQueueInput {
  eventType: string;
  /** How long to long-poll the queue when nothing waits; default warehouse.pollWaitSeconds. */
  maxWaitMs?: number;
}

export interface LoadFilesInput {
  eventType: string;
  files: FileRef[];
  /** Load files the history says were loaded (Snowflake's FORCE = TRUE). */
  force: boolean;
  /** Load every file into this table instead of the one its schema version maps to. */
  table?: string;
}

export interface LoadSummary {
  /** Queue messages taken (0 for loadFiles). */
  notices: number;
  /** Distinct files named by the notices or the input. */
  files: number;
  loaded: number;
  skipped: number;
  failed: number;
  rows: number;
  testRows: number;
  /** Newest `_ingest_time` loaded, ISO 8601. */
  newestIngestTime?: string;
  /** The last file loaded. */
  lastKey?: string;
  /** Keys that failed for good, with why (at most 20). */
  failures: { key: string; error: string }[];
  /** Files of a schema version the warehouse has no table for yet: migrate, then they load. */
  needsMigration?: number;
  /** Notices that named no object of this type (S3 test events, other prefixes, bad JSON). */
  ignoredNotices: number;
}

export interface MigrateInput {
  eventType: string;
  /** Default: the catalog's latest version. */
  toVersion?: number;
  dryRun: boolean;
  /** Recorded in _sluice_migrations.applied_by. */
  appliedBy: string;
}

export interface MigrationStepSummary {
  version: number;
  kind: 'create' | 'alter' | 'new-table';
  table: string;
  ddl: string[];
  descriptions: string[];
  reasons: { column: string; message: string }[];
}

export interface MigrateResult {
  eventType: string;
  /** The version the warehouse had before (0: no table yet). */
  fromVersion: number;
  toVersion: number;
  /**
   * no-table: nothing to migrate, the first load creates the table; current: already there;
   * planned: a dry run; applied: done.
   */
  state: 'no-table' | 'current' | 'planned' | 'applied';
  steps: MigrationStepSummary[];
}
