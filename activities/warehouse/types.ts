// The one interface every warehouse adapter implements (DuckDB locally, Snowflake in production).
// The loader, backfill and migration activities only talk to this, so the exactly-once rules
// (load history checked and written with the rows) live once per adapter, next to its SQL.
import type { ColumnDef, DdlStep } from '../../schemas/mapping.js';

/** One Parquet object to load, as an S3 notice or a bucket listing names it. */
export interface FileRef {
  key: string;
  /** Without quotes. Optional: the adapter reads the object's own ETag when absent. */
  etag?: string;
  size?: number;
}

/** Where one schema version's rows go (see {@link tableForVersion}). */
export interface LoadTarget {
  eventType: string;
  table: string;
  /** `<table>_test` when test events go to their own table. */
  testTable?: string;
  /** Drop rows marked `_test` (testEvents: skip). */
  skipTest: boolean;
}

export interface LoadRequest {
  target: LoadTarget;
  files: FileRef[];
  /** Load even files the history says were loaded (Snowflake's FORCE = TRUE). */
  force: boolean;
  /**
   * With force: still skip files loaded at or after this instant (ISO 8601) — the ones a resumed
   * forced backfill already reloaded before it was cancelled.
   */
  reloadBefore?: string;
  /** Skip a file loaded within this many days (Snowflake: 64). */
  historyDays: number;
}

export type FileStatus = 'LOADED' | 'SKIPPED' | 'FAILED';

export interface FileOutcome {
  key: string;
  etag: string;
  status: FileStatus;
  /** Rows inserted into the table (0 when skipped or failed). */
  rows: number;
  /** Rows inserted into the test table, or dropped when test events are skipped. */
  testRows: number;
  /** Newest `_ingest_time` of the file, ISO 8601; absent when nothing was read. */
  newestIngestTime?: string;
  /** Why a file failed for good (missing object, not Parquet, columns the table lacks). */
  error?: string;
}

/** A row of `_sluice_migrations`: the table that holds versions ≥ `version` of a type. */
export interface MigrationRecord {
  eventType: string;
  table: string;
  version: number;
  kind: MigrationKind;
  ddl: string[];
  appliedAt: string;
  appliedBy: string;
}

/** create: first load made the table; alter: additive DDL; new-table: incompatible version. */
export type MigrationKind = 'create' | 'alter' | 'new-table';

export interface QueryResult {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  /** More rows existed than maxRows. */
  truncated: boolean;
}

export interface Warehouse {
  readonly kind: 'duckdb' | 'snowflake';
  readonly dialect: 'duckdb' | 'snowflake';
  /** Creates `_sluice_load_history` and `_sluice_migrations` if missing. */
  init(): Promise<void>;
  /** Columns of a table as the warehouse reports them; undefined when it does not exist. */
  describe(table: string): Promise<ColumnDef[] | undefined>;
  migrations(eventType: string): Promise<MigrationRecord[]>;
  /**
   * Runs the DDL and records the migration in one transaction where the warehouse allows it.
   * Idempotent: a record for the same type and version already present means nothing to do.
   */
  migrate(record: Omit<MigrationRecord, 'appliedAt'>, steps: DdlStep[]): Promise<'applied' | 'present'>;
  /**
   * Loads each file at most once: the history is checked and written in the same transaction as
   * the rows. A file that can never load (gone, not Parquet, foreign columns) is recorded FAILED.
   */
  load(request: LoadRequest): Promise<FileOutcome[]>;
  /** One read-only statement. */
  query(sql: string, maxRows: number): Promise<QueryResult>;
  close(): Promise<void>;
}
