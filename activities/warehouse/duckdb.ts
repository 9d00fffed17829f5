// The DuckDB warehouse. DuckDB allows one read-write process per file, so the loader worker owns
// it; everything else (CLI, tests) queries through that process's query endpoint. Writes are
// serialised in this process: the load-history check and the rows it guards then form one
// transaction no concurrent load can interleave with.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DuckDBInstance, StatementType, type DuckDBConnection } from '@duckdb/node-api';
import type { Logger } from '../../lib/logger.js';
import { quoteIdent, quoteLiteral, type ColumnDef, type DdlStep } from '../../schemas/mapping.js';
import { failure, historyKey, skipped } from './outcomes.js';
import { ObjectMissing, type FetchedObject, type ObjectFetcher } from './fetch.js';
import type { FileOutcome, FileRef, LoadRequest, MigrationRecord, QueryResult, Warehouse } from './types.js';

export const loadHistoryTable = '_sluice_load_history';
export const migrationsTable = '_sluice_migrations';

const systemTables = [
  `CREATE TABLE IF NOT EXISTS ${loadHistoryTable} (
  table_name VARCHAR NOT NULL,
  file_key VARCHAR NOT NULL,
  etag VARCHAR NOT NULL,
  size BIGINT NOT NULL,
  rows BIGINT NOT NULL,
  test_rows BIGINT NOT NULL,
  status VARCHAR NOT NULL,
  error VARCHAR,
  newest_ingest_time TIMESTAMPTZ,
  loaded_at TIMESTAMPTZ NOT NULL
)`,
  `CREATE TABLE IF NOT EXISTS ${migrationsTable} (
  event_type VARCHAR NOT NULL,
  table_name VARCHAR NOT NULL,
  version INTEGER NOT NULL,
  kind VARCHAR NOT NULL,
  ddl JSON NOT NULL,
  applied_at TIMESTAMPTZ NOT NULL,
  applied_by VARCHAR NOT NULL
)`,
];

/** Statement types the query endpoint runs: reading only. */
const readOnlyStatements = new Set<StatementType>([
  StatementType.SELECT,
  StatementType.EXPLAIN,
  StatementType.RELATION,
]);

export class ReadOnlyViolation extends Error {
  override readonly name = 'ReadOnlyViolation';
}

interface Inspected {
  file: FileRef & { etag: string };
  fetched: FetchedObject;
  rows: number;
  testRows: number;
  newestIngestTime?: string;
}

export class DuckDbWarehouse implements Warehouse {
  readonly kind = 'duckdb';
  readonly dialect = 'duckdb';
  private writes: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly fetchObject: ObjectFetcher,
    private readonly logger: Logger,
  ) {}

  static async open(path: string, fetchObject: ObjectFetcher, logger: Logger): Promise<DuckDbWarehouse> {
    const instance = await DuckDBInstance.create(path);
    const w = new DuckDbWarehouse(instance, fetchObject, logger);
    await w.init();
    return w;
  }

  /** Runs `fn` after every write queued before it: one writer at a time. */
  private exclusive<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
    const run = this.writes.then(async () => {
      const conn = await this.instance.connect();
      try {
        return await fn(conn);
      } finally {
        conn.closeSync();
      }
    });
    this.writes = run.catch(() => undefined);
    return run;
  }

  async init(): Promise<void> {
    await this.exclusive(async (conn) => {
      for (const sql of systemTables) await conn.run(sql);
    });
  }

  async describe(table: string): Promise<ColumnDef[] | undefined> {
    const conn = await this.instance.connect();
    try {
      const exists = await conn.runAndReadAll(
        `SELECT 1 FROM information_schema.tables WHERE table_schema = 'main' AND table_name = $1`,
        [table],
      );
      if (exists.currentRowCount === 0) return undefined;
      const rows = (await conn.runAndReadAll(`DESCRIBE ${quoteIdent(table)}`)).getRowObjectsJson();
      return rows.map((r) => ({
        name: text(r.column_name),
        type: text(r.column_type),
        nullable: r.null === 'YES',
      }));
    } finally {
      conn.closeSync();
    }
  }

  async migrations(eventType: string): Promise<MigrationRecord[]> {
    const conn = await this.instance.connect();
    try {
      return await readMigrations(conn, eventType);
    } finally {
      conn.closeSync();
    }
  }

  migrate(record: Omit<MigrationRecord, 'appliedAt'>, steps: DdlStep[]): Promise<'applied' | 'present'> {
    return this.exclusive(async (conn) => {
      const present = await readMigrations(conn, record.eventType);
      if (present.some((m) => m.version === record.version)) return 'present';
      await conn.run('BEGIN TRANSACTION');
      try {
        for (const step of steps) await conn.run(step.sql);
        await conn.run(`INSERT INTO ${migrationsTable} VALUES ($1, $2, $3, $4, $5, now(), $6)`, [
          record.eventType,
          record.table,
          record.version,
          record.kind,
          JSON.stringify(steps.map((s) => s.sql)),
          record.appliedBy,
        ]);
        await conn.run('COMMIT');
      } catch (err) {
        await conn.run('ROLLBACK').catch(() => undefined);
        throw err;
      }
      return 'applied';
    });
  }

  load(request: LoadRequest): Promise<FileOutcome[]> {
    return this.exclusive(async (conn) => {
      const dir = await mkdtemp(join(tmpdir(), 'sluice-load-'));
      try {
        return await this.loadLocked(conn, request, dir);
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    });
  }

  private async loadLocked(
    conn: DuckDBConnection,
    request: LoadRequest,
    dir: string,
  ): Promise<FileOutcome[]> {
    const { target, force, historyDays } = request;
    const loaded = force
      ? request.reloadBefore
        ? await loadedFiles(conn, target.table, request.files, { since: request.reloadBefore })
        : new Set<string>()
      : await loadedFiles(conn, target.table, request.files, { days: historyDays });
    const outcomes = new Map<string, FileOutcome>();
    const ready: Inspected[] = [];
    const failed: { file: FileRef & { etag: string }; size: number; error: string }[] = [];
    const columns = new Set((await this.describe(target.table))?.map((c) => c.name) ?? []);
    if (columns.size === 0) throw new Error(`table ${target.table} does not exist: create it before loading`);

    for (const file of request.files) {
      if (outcomes.has(file.key)) continue;
      if (file.etag && loaded.has(historyKey(file.key, file.etag))) {
        outcomes.set(file.key, skipped(file.key, file.etag));
        continue;
      }
      let fetched: FetchedObject;
      try {
        fetched = await this.fetchObject(file.key, dir);
      } catch (err) {
        if (!(err instanceof ObjectMissing)) throw err;
        const f = { ...file, etag: file.etag ?? '' };
        failed.push({ file: f, size: file.size ?? 0, error: err.message });
        outcomes.set(file.key, failure(f.key, f.etag, err.message));
        continue;
      }
      const ref = { ...file, etag: fetched.etag };
      // The object may have been rewritten since the notice: the history rule uses its own ETag.
      if (loaded.has(historyKey(file.key, fetched.etag))) {
        outcomes.set(file.key, skipped(file.key, fetched.etag));
        continue;
      }
      const inspected = await inspect(conn, ref, fetched, columns);
      if (typeof inspected === 'string') {
        failed.push({ file: ref, size: fetched.size, error: inspected });
        outcomes.set(file.key, failure(ref.key, ref.etag, inspected));
      } else {
        ready.push(inspected);
      }
    }

    await conn.run('BEGIN TRANSACTION');
    try {
      for (const f of ready) {
        const source = `read_parquet(${quoteLiteral(f.fetched.path)})`;
        const main = quoteIdent(target.table);
        const split = target.testTable !== undefined || target.skipTest;
        const inserted = await conn.run(
          `INSERT INTO ${main} BY NAME SELECT * FROM ${source}${split ? ' WHERE NOT "_test"' : ''}`,
        );
        if (target.testTable) {
          await conn.run(
            `INSERT INTO ${quoteIdent(target.testTable)} BY NAME SELECT * FROM ${source} WHERE "_test"`,
          );
        }
        const outcome: FileOutcome = {
          key: f.file.key,
          etag: f.file.etag,
          status: 'LOADED',
          rows: inserted.rowsChanged,
          testRows: split ? f.testRows : 0,
          ...(f.newestIngestTime ? { newestIngestTime: f.newestIngestTime } : {}),
        };
        await recordHistory(conn, target.table, outcome, f.fetched.size);
        outcomes.set(f.file.key, outcome);
      }
      for (const f of failed) {
        const outcome = outcomes.get(f.file.key);
        if (outcome) await recordHistory(conn, target.table, outcome, f.size);
      }
      await conn.run('COMMIT');
    } catch (err) {
      await conn.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
    for (const f of failed) {
      this.logger.warn({ table: target.table, key: f.file.key, error: f.error }, 'file cannot be loaded');
    }
    return [...outcomes.values()];
  }

  async query(sql: string, maxRows: number): Promise<QueryResult> {
    const conn = await this.instance.connect();
    try {
      const statements = await conn.extractStatements(sql);
      if (statements.count !== 1) {
        throw new ReadOnlyViolation(`send exactly one statement (got ${statements.count})`);
      }
      const prepared = await statements.prepare(0);
      if (!readOnlyStatements.has(prepared.statementType)) {
        throw new ReadOnlyViolation(
          `only SELECT, WITH … SELECT and EXPLAIN are allowed here (got a ${StatementType[prepared.statementType]} statement)`,
        );
      }
      const reader = await prepared.runAndReadUntil(maxRows + 1);
      const rows = reader.getRowsJson();
      return {
        columns: reader.columnNames().map((name, i) => ({ name, type: reader.columnType(i).toString() })),
        rows: rows.slice(0, maxRows),
        truncated: rows.length > maxRows,
      };
    } finally {
      conn.closeSync();
    }
  }

  async close(): Promise<void> {
    await this.writes;
    this.instance.closeSync();
  }
}

/** A scalar DuckDB returned as JSON, as text. */
function text(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean') return String(v);
  throw new Error(`expected a scalar from DuckDB, got ${JSON.stringify(v)}`);
}

async function readMigrations(conn: DuckDBConnection, eventType: string): Promise<MigrationRecord[]> {
  const rows = (
    await conn.runAndReadAll(
      `SELECT event_type, table_name, version, kind, ddl::VARCHAR AS ddl, strftime(applied_at AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') AS applied_at, applied_by
       FROM ${migrationsTable} WHERE event_type = $1 ORDER BY version`,
      [eventType],
    )
  ).getRowObjectsJson();
  return rows.map((r) => ({
    eventType: text(r.event_type),
    table: text(r.table_name),
    version: Number(r.version),
    kind: text(r.kind) as MigrationRecord['kind'],
    ddl: JSON.parse(text(r.ddl)) as string[],
    appliedAt: text(r.applied_at),
    appliedBy: text(r.applied_by),
  }));
}

/** (key, etag) pairs of these files the history says were loaded within the window (or since an instant). */
async function loadedFiles(
  conn: DuckDBConnection,
  table: string,
  files: FileRef[],
  window: { days: number } | { since: string },
): Promise<Set<string>> {
  if (files.length === 0) return new Set();
  const keys = files.map((f) => quoteLiteral(f.key)).join(', ');
  const after =
    'days' in window
      ? `now() - to_days(${Math.trunc(window.days)})`
      : `${quoteLiteral(window.since)}::TIMESTAMPTZ`;
  const rows = (
    await conn.runAndReadAll(
      `SELECT file_key, etag FROM ${loadHistoryTable}
       WHERE table_name = $1 AND status = 'LOADED' AND loaded_at >= ${after}
         AND file_key IN (${keys})`,
      [table],
    )
  ).getRowObjectsJson();
  return new Set(rows.map((r) => historyKey(text(r.file_key), text(r.etag))));
}

/** Counts and columns of a downloaded file, or why it cannot be loaded into `columns`. */
async function inspect(
  conn: DuckDBConnection,
  file: FileRef & { etag: string },
  fetched: FetchedObject,
  columns: Set<string>,
): Promise<Inspected | string> {
  const source = `read_parquet(${quoteLiteral(fetched.path)})`;
  try {
    const described = (await conn.runAndReadAll(`DESCRIBE SELECT * FROM ${source}`)).getRowObjectsJson();
    const names = described.map((r) => text(r.column_name));
    const foreign = names.filter((n) => !columns.has(n));
    if (foreign.length > 0) return `columns the table lacks: ${foreign.join(', ')}`;
    if (!names.includes('_test') || !names.includes('_ingest_time')) {
      return 'not a Sluice segment: the envelope columns _test and _ingest_time are missing';
    }
    const [stats] = (
      await conn.runAndReadAll(
        `SELECT count(*)::BIGINT AS n, count(*) FILTER (WHERE "_test")::BIGINT AS t,
           strftime(max("_ingest_time") AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') AS newest
         FROM ${source}`,
      )
    ).getRowObjectsJson();
    return {
      file,
      fetched,
      rows: Number(stats?.n ?? 0),
      testRows: Number(stats?.t ?? 0),
      ...(stats?.newest ? { newestIngestTime: text(stats.newest) } : {}),
    };
  } catch (err) {
    return `not a readable Parquet file: ${err instanceof Error ? err.message : String(err)}`;
  }
}

async function recordHistory(
  conn: DuckDBConnection,
  table: string,
  o: FileOutcome,
  size: number,
): Promise<void> {
  await conn.run(
    `INSERT INTO ${loadHistoryTable} VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9::TIMESTAMPTZ, now())`,
    [table, o.key, o.etag, size, o.rows, o.testRows, o.status, o.error ?? null, o.newestIngestTime ?? null],
  );
}
