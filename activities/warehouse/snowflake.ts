// The Snowflake warehouse over snowflake-sdk. Two sessions: the writer runs loads and migrations
// one at a time (a Snowflake transaction belongs to its session, so statements of two loads must
// not interleave on it), the reader serves describe, migrations and query.
//
// Exactly-once in copy mode: our own `_sluice_load_history`, checked and written in the
// transaction that inserts the rows. Snowflake DDL commits implicitly, so the temporary staging
// table is made (and the COPY into it run) before BEGIN; the transaction holds only the lock
// UPDATE, the history re-check, the INSERT … SELECTs and the history rows.
import { createPrivateKey, randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import snowflake from 'snowflake-sdk';
import { failure, historyKey, skipped } from './outcomes.js';
import type { Config } from '../../lib/config.js';
import type { Logger } from '../../lib/logger.js';
import type { ColumnDef, DdlStep } from '../../schemas/mapping.js';
import {
  checkReadOnly,
  columnFromInfoSchema,
  copySql,
  describeSql,
  fileFormatSql,
  historyColumns,
  inferSchemaSql,
  insertHistorySql,
  insertMigrationSql,
  listSql,
  loadedFilesSql,
  lockStatement,
  migrationsSql,
  moveStatements,
  pipeSql,
  plainIdent,
  qualifiedPipe,
  stageSql,
  stagingStatsSql,
  stagingTableSql,
  systemTables,
  type InfoSchemaColumn,
  type SnowflakeConfig,
} from './snowflake-sql.js';
import { SnowpipeClient, type ReportedFile } from './snowpipe.js';
import type { FileOutcome, FileRef, LoadRequest, MigrationRecord, QueryResult, Warehouse } from './types.js';

export { ReadOnlyViolation } from './snowflake-sql.js';

export type Bind = snowflake.Bind;
export type Row = Record<string, unknown>;

/** What the adapter needs of a Snowflake session: the unit tests script one, production wraps snowflake-sdk. */
export interface SqlSession {
  /** Runs one statement; `updated` is the driver's count of rows changed, when it reports one. */
  run(sql: string, binds?: Bind[]): Promise<{ rows: Row[]; updated?: number }>;
  /** Runs one statement and reads at most `maxRows + 1` rows, as arrays. */
  read(sql: string, maxRows: number): Promise<QueryResult>;
  close(): Promise<void>;
}

/** Sessions over snowflake-sdk. */
class DriverSession implements SqlSession {
  constructor(private readonly conn: snowflake.Connection) {}

  static async connect(options: snowflake.ConnectionOptions): Promise<DriverSession> {
    const conn = snowflake.createConnection(options);
    await new Promise<void>((resolve, reject) => conn.connect((err) => (err ? reject(err) : resolve())));
    return new DriverSession(conn);
  }

  run(sql: string, binds: Bind[] = []): Promise<{ rows: Row[]; updated?: number }> {
    return new Promise((resolve, reject) => {
      this.conn.execute({
        sqlText: sql,
        binds,
        // Timestamps as text: Date objects would drop the time zone and sub-millisecond digits.
        fetchAsString: ['Date'],
        complete: (err, stmt, rows) => {
          if (err) return reject(err);
          const updated = 'getNumUpdatedRows' in stmt ? stmt.getNumUpdatedRows() : undefined;
          resolve({ rows: (rows ?? []) as Row[], ...(updated === undefined ? {} : { updated }) });
        },
      });
    });
  }

  read(sql: string, maxRows: number): Promise<QueryResult> {
    return new Promise((resolve, reject) => {
      this.conn.execute({
        sqlText: sql,
        streamResult: true,
        rowMode: 'array',
        fetchAsString: ['Date'],
        // The server refuses a text holding more statements than this.
        parameters: { MULTI_STATEMENT_COUNT: 1 },
        complete: (err, stmt) => {
          if (err) return reject(err);
          if (!('streamRows' in stmt)) return reject(new Error('statement returned no rows'));
          const rows: unknown[][] = [];
          const total = stmt.getNumRows();
          stmt
            .streamRows({ start: 0, end: Math.max(0, Math.min(total, maxRows) - 1) })
            .on('data', (row: unknown[]) => rows.push(row))
            .on('error', reject)
            .on('end', () =>
              resolve({
                columns: (stmt.getColumns() ?? []).map((c) => ({ name: c.getName(), type: c.getType() })),
                rows: total === 0 ? [] : rows,
                truncated: total > maxRows,
              }),
            );
        },
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.conn.destroy(() => resolve()));
  }
}

export interface SnowflakeWarehouseOptions {
  config: SnowflakeConfig;
  s3: Config['s3'];
  writer: SqlSession;
  reader: SqlSession;
  logger: Logger;
  snowpipe?: SnowpipeClient;
  /** Snowpipe mode: how long load() waits for insertReport to settle every file. */
  snowpipeWaitMs?: number;
  snowpipePollMs?: number;
}

const num = (v: unknown): number => (v === null || v === undefined ? 0 : Number(v));
function str(v: unknown): string {
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
  if (v === null || v === undefined) return '';
  return JSON.stringify(v);
}

/** The key of a file as Snowflake names it in LIST or COPY results (`s3://bucket/key` or the key). */
export function keyOf(name: string, bucket: string): string {
  const prefix = `s3://${bucket}/`;
  return name.startsWith(prefix) ? name.slice(prefix.length) : name;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

export class SnowflakeWarehouse implements Warehouse {
  readonly kind = 'snowflake';
  readonly dialect = 'snowflake';
  private writes: Promise<unknown> = Promise.resolve();
  private readonly config: SnowflakeConfig;
  private readonly stage: string;

  constructor(private readonly o: SnowflakeWarehouseOptions) {
    this.config = o.config;
    this.stage = plainIdent(o.config.stage, 'warehouse.snowflake.stage');
  }

  /** Connects both sessions (key-pair JWT, or the password in `passwordEnv`) and runs init(). */
  static async open(config: Config, logger: Logger): Promise<SnowflakeWarehouse> {
    const sf = config.warehouse.snowflake;
    if (!sf) throw new Error('warehouse.snowflake is not configured');
    const options: snowflake.ConnectionOptions = {
      account: sf.account,
      username: sf.username,
      warehouse: sf.warehouse,
      database: sf.database,
      schema: sf.schema,
      application: 'sluice',
      clientSessionKeepAlive: true,
      ...(sf.role ? { role: sf.role } : {}),
      ...(sf.accessUrl ? { accessUrl: sf.accessUrl } : {}),
    };
    let privateKeyPem: string | undefined;
    if (sf.privateKeyPath) {
      privateKeyPem = await readFile(sf.privateKeyPath, 'utf8');
      Object.assign(options, { authenticator: 'SNOWFLAKE_JWT', privateKey: privateKeyPem });
    } else if (sf.passwordEnv) {
      const password = process.env[sf.passwordEnv];
      if (!password)
        throw new Error(`environment variable ${sf.passwordEnv} (warehouse.snowflake.passwordEnv) is empty`);
      options.password = password;
    } else {
      throw new Error('warehouse.snowflake needs privateKeyPath (key-pair auth) or passwordEnv');
    }
    // The driver logs through pino too, at warn and above: its info level is one line per request.
    const driverLog = logger.child({ component: 'snowflake-sdk' });
    snowflake.configure({
      logLevel: 'WARN',
      customLogger: {
        error: (m) => driverLog.error(m),
        warn: (m) => driverLog.warn(m),
        info: (m) => driverLog.info(m),
        debug: (m) => driverLog.debug(m),
        trace: (m) => driverLog.trace(m),
      },
    });
    const writer = await DriverSession.connect(options);
    const reader = await DriverSession.connect(options).catch(async (err: unknown) => {
      await writer.close();
      throw err;
    });
    const w = new SnowflakeWarehouse({
      config: sf,
      s3: config.s3,
      writer,
      reader,
      logger,
      ...(sf.mode === 'snowpipe' && privateKeyPem
        ? {
            snowpipe: new SnowpipeClient({
              account: sf.account,
              username: sf.username,
              privateKey: createPrivateKey(privateKeyPem),
              ...(sf.accessUrl ? { baseUrl: sf.accessUrl } : {}),
            }),
          }
        : {}),
    });
    await w.init();
    return w;
  }

  /** Runs `fn` on the writer after every write queued before it. */
  private exclusive<T>(fn: (s: SqlSession) => Promise<T>): Promise<T> {
    const run = this.writes.then(() => fn(this.o.writer));
    this.writes = run.catch(() => undefined);
    return run;
  }

  /** BEGIN, the lock UPDATE, `fn`, COMMIT; ROLLBACK when anything fails. */
  private async transaction<T>(s: SqlSession, fn: () => Promise<T>): Promise<T> {
    await s.run('BEGIN TRANSACTION');
    try {
      await s.run(lockStatement);
      const out = await fn();
      await s.run('COMMIT');
      return out;
    } catch (err) {
      await s.run('ROLLBACK').catch(() => undefined);
      throw err;
    }
  }

  async init(): Promise<void> {
    await this.exclusive(async (s) => {
      for (const sql of systemTables) await s.run(sql);
      await s.run(fileFormatSql());
      await s.run(stageSql(this.config, this.o.s3));
    });
  }

  async describe(table: string): Promise<ColumnDef[] | undefined> {
    const { rows } = await this.o.reader.run(describeSql, [table]);
    if (rows.length === 0) return undefined;
    return rows.map((r) => columnFromInfoSchema(r as unknown as InfoSchemaColumn));
  }

  async migrations(eventType: string): Promise<MigrationRecord[]> {
    return readMigrations(this.o.reader, eventType);
  }

  /**
   * Snowflake commits every DDL statement on its own, so the steps cannot share the record's
   * transaction. They are idempotent (IF NOT EXISTS, widen to the same type, DROP NOT NULL), and
   * the record is written after them: a crash in between runs them again, harmlessly, next time.
   */
  migrate(record: Omit<MigrationRecord, 'appliedAt'>, steps: DdlStep[]): Promise<'applied' | 'present'> {
    return this.exclusive(async (s) => {
      const present = await readMigrations(s, record.eventType);
      if (present.some((m) => m.version === record.version)) return 'present';
      for (const step of steps) await s.run(step.sql);
      if (this.config.mode === 'snowpipe' && record.kind !== 'alter')
        await s.run(pipeSql(this.config, record.table));
      return this.transaction(s, async () => {
        const { updated } = await s.run(insertMigrationSql, [
          record.eventType,
          record.table,
          record.version,
          record.kind,
          JSON.stringify(steps.map((st) => st.sql)),
          record.appliedBy,
          record.eventType,
          record.version,
        ]);
        return updated === 0 ? 'present' : 'applied';
      });
    });
  }

  load(request: LoadRequest): Promise<FileOutcome[]> {
    return this.exclusive((s) =>
      this.config.mode === 'snowpipe' ? this.loadSnowpipe(s, request) : this.loadCopy(s, request),
    );
  }

  /** Keys loaded within `days`, or with `force` and `reloadBefore`: loaded since that instant. */
  private async loadedFiles(
    s: SqlSession,
    table: string,
    keys: string[],
    request: Pick<LoadRequest, 'force' | 'historyDays' | 'reloadBefore'>,
  ): Promise<Set<string>> {
    if (keys.length === 0 || (request.force && !request.reloadBefore)) return new Set();
    const since = request.force ? request.reloadBefore : undefined;
    const { rows } = await s.run(loadedFilesSql(keys.length, since !== undefined), [
      table,
      since ?? request.historyDays,
      ...keys,
    ]);
    return new Set(rows.map((r) => historyKey(str(r.file_key), str(r.etag))));
  }

  /** Size and ETag of each key that exists (LIST's md5 is the S3 ETag). */
  private async listFiles(
    s: SqlSession,
    keys: string[],
  ): Promise<Map<string, { size: number; etag: string }>> {
    const found = new Map<string, { size: number; etag: string }>();
    if (keys.length === 0) return found;
    const wanted = new Set(keys);
    const { rows } = await s.run(listSql(this.stage, keys));
    for (const r of rows) {
      const key = keyOf(str(r.name), this.o.s3.bucket);
      if (wanted.has(key)) found.set(key, { size: num(r.size), etag: str(r.md5).replaceAll('"', '') });
    }
    return found;
  }

  /** Why each file cannot load into `columns` (foreign columns, no envelope, unreadable), by key. */
  private async checkColumns(
    s: SqlSession,
    keys: string[],
    columns: Set<string>,
  ): Promise<Map<string, string>> {
    const problems = new Map<string, string>();
    if (keys.length === 0) return problems;
    let rows: Row[];
    try {
      rows = (await s.run(inferSchemaSql(this.stage, keys))).rows;
    } catch (err) {
      // One unreadable file fails the whole call: ask file by file to find it.
      if (keys.length === 1) {
        problems.set(
          keys[0] ?? '',
          `not a readable Parquet file: ${err instanceof Error ? err.message : String(err)}`,
        );
        return problems;
      }
      for (const k of keys)
        for (const [key, why] of await this.checkColumns(s, [k], columns)) problems.set(key, why);
      return problems;
    }
    const byFile = new Map<string, string[]>(keys.map((k) => [k, []]));
    for (const r of rows) {
      const files = str(r.FILENAMES)
        .split(',')
        .map((f) => keyOf(f.trim(), this.o.s3.bucket));
      for (const f of keys.length === 1 ? keys : files) byFile.get(f)?.push(str(r.COLUMN_NAME));
    }
    for (const [key, names] of byFile) {
      const lower = names.map((n) => n.toLowerCase());
      const foreign = names.filter((n) => !columns.has(n.toLowerCase()));
      if (foreign.length > 0) problems.set(key, `columns the table lacks: ${foreign.join(', ')}`);
      else if (!lower.includes('_test') || !lower.includes('_ingest_time')) {
        problems.set(key, 'not a Sluice segment: the envelope columns _test and _ingest_time are missing');
      }
    }
    return problems;
  }

  private async loadCopy(s: SqlSession, request: LoadRequest): Promise<FileOutcome[]> {
    const { target, force } = request;
    const columns = await this.describe(target.table);
    if (!columns) throw new Error(`table ${target.table} does not exist: create it before loading`);
    const testColumns = target.testTable ? await this.describe(target.testTable) : undefined;
    if (target.testTable && !testColumns) throw new Error(`table ${target.testTable} does not exist`);

    const files = [...new Map(request.files.map((f) => [f.key, f])).values()];
    const keys = files.map((f) => f.key);
    const outcomes = new Map<string, FileOutcome>();
    const failed: { outcome: FileOutcome; size: number }[] = [];
    const fail = (key: string, etag: string, size: number, error: string): void => {
      const outcome = failure(key, etag, error);
      outcomes.set(key, outcome);
      failed.push({ outcome, size });
    };

    const loaded = await this.loadedFiles(s, target.table, keys, request);
    const listed = await this.listFiles(s, keys);
    const candidates: (FileRef & { etag: string; size: number })[] = [];
    for (const f of files) {
      const found = listed.get(f.key);
      if (!found) {
        fail(f.key, f.etag ?? '', f.size ?? 0, `s3://${this.o.s3.bucket}/${f.key} does not exist`);
        continue;
      }
      // The object may have been rewritten since the notice: the history rule uses its own ETag.
      if (loaded.has(historyKey(f.key, found.etag))) {
        outcomes.set(f.key, skipped(f.key, found.etag));
        continue;
      }
      candidates.push({ ...f, ...found });
    }

    const problems = await this.checkColumns(
      s,
      candidates.map((c) => c.key),
      new Set(columns.map((c) => c.name.toLowerCase())),
    );
    const ready = candidates.filter((c) => {
      const why = problems.get(c.key);
      if (why) fail(c.key, c.etag, c.size, why);
      return !why;
    });

    const staging = `_sluice_stage_${randomUUID().replaceAll('-', '')}`;
    let created = false;
    try {
      const stats = new Map<string, { rows: number; testRows: number; newest?: string }>();
      if (ready.length > 0) {
        for (const sql of stagingTableSql(staging, target.table)) {
          await s.run(sql);
          created = true;
        }
        const copied = await s.run(
          copySql(
            this.stage,
            staging,
            ready.map((f) => f.key),
            force,
          ),
        );
        const reported = new Map(copied.rows.map((r) => [keyOf(str(r.file), this.o.s3.bucket), r]));
        for (const f of [...ready]) {
          const r = reported.get(f.key);
          if (!r) throw new Error(`COPY did not report ${f.key}: ${JSON.stringify(copied.rows)}`);
          if (str(r.status) !== 'LOADED') {
            fail(f.key, f.etag, f.size, `COPY ${str(r.status)}: ${str(r.first_error) || 'no error text'}`);
            ready.splice(ready.indexOf(f), 1);
          }
        }
        for (const r of (await s.run(stagingStatsSql(staging))).rows) {
          stats.set(str(r.file), {
            rows: num(r.rows),
            testRows: num(r.test_rows),
            ...(r.newest ? { newest: str(r.newest) } : {}),
          });
        }
      }

      const split = target.testTable !== undefined || target.skipTest;
      await this.transaction(s, async () => {
        // Under the lock: a load that committed while we copied wins, and these become SKIPPED.
        const nowLoaded = await this.loadedFiles(
          s,
          target.table,
          ready.map((f) => f.key),
          request,
        );
        const take = ready.filter((f) => {
          if (!nowLoaded.has(historyKey(f.key, f.etag))) return true;
          outcomes.set(f.key, skipped(f.key, f.etag));
          return false;
        });
        const history: { outcome: FileOutcome; size: number }[] = [];
        if (take.length > 0) {
          for (const move of moveStatements(
            staging,
            target,
            columns,
            testColumns,
            take.map((f) => f.key),
          )) {
            await s.run(move.sql);
          }
          for (const f of take) {
            const st = stats.get(f.key) ?? { rows: 0, testRows: 0 };
            const outcome: FileOutcome = {
              key: f.key,
              etag: f.etag,
              status: 'LOADED',
              rows: split ? st.rows - st.testRows : st.rows,
              testRows: split ? st.testRows : 0,
              ...(st.newest ? { newestIngestTime: st.newest } : {}),
            };
            outcomes.set(f.key, outcome);
            history.push({ outcome, size: f.size });
          }
        }
        history.push(...failed);
        if (history.length > 0) await this.recordHistory(s, target.table, history);
      });
    } finally {
      if (created) await s.run(`DROP TABLE IF EXISTS "${staging}"`).catch(() => undefined);
    }
    for (const f of failed) {
      this.o.logger.warn(
        { table: target.table, key: f.outcome.key, error: f.outcome.error },
        'file cannot be loaded',
      );
    }
    return keys.map((k) => outcomes.get(k)).filter((o): o is FileOutcome => o !== undefined);
  }

  private async recordHistory(
    s: SqlSession,
    table: string,
    rows: { outcome: FileOutcome; size: number }[],
  ): Promise<void> {
    const binds: Bind[] = [];
    for (const { outcome: o, size } of rows) {
      const values: Record<(typeof historyColumns)[number], Bind> = {
        table_name: table,
        file_key: o.key,
        etag: o.etag,
        size,
        rows: o.rows,
        test_rows: o.testRows,
        status: o.status,
        error: o.error ?? null,
        newest_ingest_time: o.newestIngestTime ?? null,
      };
      binds.push(...historyColumns.map((c) => values[c]));
    }
    await s.run(insertHistorySql(rows.length), binds);
  }

  /**
   * Snowpipe mode: insertFiles for the files our history lacks, then insertReport until each one
   * is LOADED or LOAD_FAILED, and only then the history rows. The rows are committed by Snowpipe,
   * not in our transaction, so exactly-once here rests on Snowpipe's own dedupe: a pipe skips a
   * file (same path and ETag) it loaded within 14 days, so a retry after a crash between its
   * commit and our history row does not load it twice. FORCE cannot override that dedupe, and a
   * COPY in a pipe cannot filter rows, so test events cannot be split or dropped in this mode.
   */
  private async loadSnowpipe(s: SqlSession, request: LoadRequest): Promise<FileOutcome[]> {
    const { target } = request;
    const client = this.o.snowpipe;
    if (!client) throw new Error('snowpipe mode needs warehouse.snowflake.privateKeyPath (key-pair JWT)');
    if (target.testTable || target.skipTest) {
      throw new Error(
        `${target.eventType}: snowpipe mode cannot split or drop test events (a pipe's COPY cannot filter rows); ` +
          'set testEvents: same-table for this type or use mode copy',
      );
    }
    const files = [...new Map(request.files.map((f) => [f.key, f])).values()];
    const keys = files.map((f) => f.key);
    const loaded = await this.loadedFiles(s, target.table, keys, request);
    const listed = await this.listFiles(s, keys);
    const outcomes = new Map<string, FileOutcome>();
    const history: { outcome: FileOutcome; size: number }[] = [];
    const send: { key: string; etag: string; size: number }[] = [];
    for (const f of files) {
      const found = listed.get(f.key);
      if (!found) {
        const o = failure(f.key, f.etag ?? '', `s3://${this.o.s3.bucket}/${f.key} does not exist`);
        outcomes.set(f.key, o);
        history.push({ outcome: o, size: 0 });
      } else if (loaded.has(historyKey(f.key, found.etag))) {
        outcomes.set(f.key, skipped(f.key, found.etag));
      } else {
        send.push({ key: f.key, ...found });
      }
    }
    if (send.length > 0) {
      const pipe = qualifiedPipe(this.config, target.table);
      await client.insertFiles(
        pipe,
        send.map((f) => ({ path: f.key, size: f.size })),
      );
      // The first report starts without a mark, so it holds the last 10 minutes of events: a
      // retry of files Snowpipe already loaded (and now dedupes silently) still finds their result.
      const settled = await this.awaitReport(client, pipe, new Set(send.map((f) => f.key)));
      for (const f of send) {
        const r = settled.get(f.key);
        if (!r) continue;
        const o: FileOutcome =
          r.status === 'LOADED'
            ? { key: f.key, etag: f.etag, status: 'LOADED', rows: num(r.rowsInserted), testRows: 0 }
            : failure(f.key, f.etag, `Snowpipe ${r.status}: ${r.firstError ?? 'no error text'}`);
        outcomes.set(f.key, o);
        history.push({ outcome: o, size: f.size });
      }
      const pending = send.filter((f) => !settled.has(f.key)).map((f) => f.key);
      if (history.length > 0) await this.transaction(s, () => this.recordHistory(s, target.table, history));
      if (pending.length > 0) {
        // Unsettled files have no history row: the retry sends them again and Snowpipe dedupes.
        throw new Error(`Snowpipe did not report ${pending.length} file(s) in time: ${pending.join(', ')}`);
      }
    } else if (history.length > 0) {
      await this.transaction(s, () => this.recordHistory(s, target.table, history));
    }
    return keys.map((k) => outcomes.get(k)).filter((o): o is FileOutcome => o !== undefined);
  }

  private async awaitReport(
    client: SnowpipeClient,
    pipe: string,
    keys: Set<string>,
  ): Promise<Map<string, ReportedFile>> {
    const settled = new Map<string, ReportedFile>();
    const deadline = Date.now() + (this.o.snowpipeWaitMs ?? 10 * 60_000);
    let mark: string | undefined;
    for (;;) {
      const report = await client.insertReport(pipe, mark);
      mark = report.nextBeginMark ?? mark;
      for (const f of report.files) {
        if (keys.has(f.path) && (f.status === 'LOADED' || f.status === 'LOAD_FAILED')) settled.set(f.path, f);
      }
      if (settled.size === keys.size || Date.now() >= deadline) return settled;
      await sleep(this.o.snowpipePollMs ?? 5_000);
    }
  }

  async query(sql: string, maxRows: number): Promise<QueryResult> {
    return this.o.reader.read(checkReadOnly(sql), maxRows);
  }

  async close(): Promise<void> {
    await this.writes;
    await Promise.all([this.o.writer.close(), this.o.reader.close()]);
  }
}

async function readMigrations(s: SqlSession, eventType: string): Promise<MigrationRecord[]> {
  const { rows } = await s.run(migrationsSql, [eventType]);
  return rows.map((r) => ({
    eventType: str(r.event_type),
    table: str(r.table_name),
    version: num(r.version),
    kind: str(r.kind) as MigrationRecord['kind'],
    ddl: JSON.parse(str(r.ddl)) as string[],
    appliedAt: str(r.applied_at),
    appliedBy: str(r.applied_by),
  }));
}
