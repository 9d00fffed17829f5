// The SQL text of the Snowflake adapter, as pure functions: the adapter only runs what these
// return, so the unit tests check the exact statements a load, a migration or init sends.
// Every table and column is a quoted lower-case name, like the event tables (schemas/mapping.ts).
import type { Config } from '../../lib/config.js';
import { quoteIdent, quoteLiteral, type ColumnDef } from '../../schemas/mapping.js';
import type { LoadTarget } from './types.js';

export type SnowflakeConfig = NonNullable<Config['warehouse']['snowflake']>;

export const loadHistoryTable = '_sluice_load_history';
export const migrationsTable = '_sluice_migrations';
/** One row per lock name; an UPDATE of it is how one Snowflake transaction excludes another. */
export const locksTable = '_sluice_locks';
/** Named file format the stage, pipes and INFER_SCHEMA share. */
export const fileFormatName = 'sluice_parquet';
/** Column of a load's staging table that holds METADATA$FILENAME (unquoted: INCLUDE_METADATA takes a plain name). */
export const stagingFileColumn = 'SLUICE_FILE';

const q = quoteIdent;
const lit = (s: string): string => quoteLiteral(s, 'snowflake');

/** Stage, integration and pipe names go into SQL unquoted (so they resolve upper case): plain identifiers only. */
export function plainIdent(name: string, what: string): string {
  if (!/^[A-Za-z_][A-Za-z0-9_$]{0,254}$/.test(name)) {
    throw new Error(`${what} ${JSON.stringify(name)} must be a plain identifier (letters, digits, _ and $)`);
  }
  return name;
}

export const systemTables: readonly string[] = [
  `CREATE TABLE IF NOT EXISTS ${q(loadHistoryTable)} (
  "table_name" VARCHAR NOT NULL,
  "file_key" VARCHAR NOT NULL,
  "etag" VARCHAR NOT NULL,
  "size" NUMBER(38,0) NOT NULL,
  "rows" NUMBER(38,0) NOT NULL,
  "test_rows" NUMBER(38,0) NOT NULL,
  "status" VARCHAR NOT NULL,
  "error" VARCHAR,
  "newest_ingest_time" TIMESTAMP_TZ,
  "loaded_at" TIMESTAMP_TZ NOT NULL
)`,
  `CREATE TABLE IF NOT EXISTS ${q(migrationsTable)} (
  "event_type" VARCHAR NOT NULL,
  "table_name" VARCHAR NOT NULL,
  "version" NUMBER(38,0) NOT NULL,
  "kind" VARCHAR NOT NULL,
  "ddl" ARRAY NOT NULL,
  "applied_at" TIMESTAMP_TZ NOT NULL,
  "applied_by" VARCHAR NOT NULL
)`,
  `CREATE TABLE IF NOT EXISTS ${q(locksTable)} (
  "name" VARCHAR NOT NULL,
  "locked_at" TIMESTAMP_TZ
)`,
  // Two concurrent inits may both insert: the lock UPDATE then takes both rows, which is fine.
  `INSERT INTO ${q(locksTable)} ("name", "locked_at")
SELECT 'load', NULL WHERE NOT EXISTS (SELECT 1 FROM ${q(locksTable)} WHERE "name" = 'load')`,
];

/**
 * The first statement of every writing transaction. Snowflake has no row locks and runs at READ
 * COMMITTED, but UPDATE statements on one table exclude each other until commit: whoever updates
 * the lock row first makes the other wait, and the waiter's later reads see the winner's history.
 */
export const lockStatement = `UPDATE ${q(locksTable)} SET "locked_at" = CURRENT_TIMESTAMP() WHERE "name" = 'load'`;

export function fileFormatSql(): string {
  return `CREATE FILE FORMAT IF NOT EXISTS ${fileFormatName} TYPE = PARQUET`;
}

export function stageSql(config: SnowflakeConfig, s3: Config['s3']): string {
  const stage = plainIdent(config.stage, 'warehouse.snowflake.stage');
  const auth = config.storageIntegration
    ? `STORAGE_INTEGRATION = ${plainIdent(config.storageIntegration, 'warehouse.snowflake.storageIntegration')}`
    : `CREDENTIALS = (AWS_KEY_ID = ${lit(s3.accessKeyId)} AWS_SECRET_KEY = ${lit(s3.secretAccessKey)})`;
  return `CREATE STAGE IF NOT EXISTS ${stage}
  URL = ${lit(`s3://${s3.bucket}/`)}
  ${auth}
  FILE_FORMAT = (FORMAT_NAME = ${fileFormatName})`;
}

/** Pipe of one table: Snowpipe loads the files the loader names with insertFiles. */
export const pipeName = (table: string): string => `${plainIdent(table, 'table')}_pipe`;

export function pipeSql(config: SnowflakeConfig, table: string): string {
  // The stage is the bucket root, so insertFiles paths are the object keys.
  return `CREATE PIPE IF NOT EXISTS ${pipeName(table)}
  AUTO_INGEST = FALSE
  AS COPY INTO ${q(table)}
  FROM @${plainIdent(config.stage, 'warehouse.snowflake.stage')}
  FILE_FORMAT = (FORMAT_NAME = ${fileFormatName})
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE`;
}

/** DATABASE.SCHEMA.PIPE as the REST API names a pipe created with unquoted (upper-case) names. */
export function qualifiedPipe(config: SnowflakeConfig, table: string): string {
  return [config.database, config.schema, pipeName(table)].map((p) => p.toUpperCase()).join('.');
}

// ---------------------------------------------------------------------------------------------
// describe()

export const describeSql = `SELECT "COLUMN_NAME", "DATA_TYPE", "IS_NULLABLE", "CHARACTER_MAXIMUM_LENGTH", "NUMERIC_PRECISION", "NUMERIC_SCALE"
FROM information_schema.columns
WHERE "TABLE_SCHEMA" = CURRENT_SCHEMA() AND "TABLE_NAME" = ?
ORDER BY "ORDINAL_POSITION"`;

export interface InfoSchemaColumn {
  COLUMN_NAME: string;
  DATA_TYPE: string;
  IS_NULLABLE: string;
  CHARACTER_MAXIMUM_LENGTH?: number | string | null;
  NUMERIC_PRECISION?: number | string | null;
  NUMERIC_SCALE?: number | string | null;
}

/** information_schema.columns → the type text diffTable's Snowflake rules parse (`VARCHAR(16777216)`, `NUMBER(38,0)`). */
export function columnFromInfoSchema(r: InfoSchemaColumn): ColumnDef {
  const dataType = r.DATA_TYPE.toUpperCase();
  let type = dataType;
  if (dataType === 'TEXT' && r.CHARACTER_MAXIMUM_LENGTH != null) {
    type = `VARCHAR(${Number(r.CHARACTER_MAXIMUM_LENGTH)})`;
  } else if (dataType === 'TEXT') {
    type = 'VARCHAR';
  } else if (dataType === 'NUMBER' && r.NUMERIC_PRECISION != null) {
    type = `NUMBER(${Number(r.NUMERIC_PRECISION)},${Number(r.NUMERIC_SCALE ?? 0)})`;
  }
  return { name: r.COLUMN_NAME, type, nullable: r.IS_NULLABLE.toUpperCase() === 'YES' };
}

// ---------------------------------------------------------------------------------------------
// Load history and migrations

// The Z is appended, not quoted in the format: NULL stays NULL, and fakesnow reads the format too.
const isoUtc = (expr: string): string =>
  `TO_VARCHAR(CONVERT_TIMEZONE('UTC', ${expr}), 'YYYY-MM-DD"T"HH24:MI:SS.FF6') || 'Z'`;

const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(', ');

/** (file_key, etag) pairs loaded into `table` within the window; binds: table, days, keys… */
/** Binds: table, then days (or, with `since`, an ISO instant), then the keys. */
export function loadedFilesSql(keyCount: number, since = false): string {
  const after = since ? 'TO_TIMESTAMP_TZ(?)' : 'DATEADD(day, -?, CURRENT_TIMESTAMP())';
  return `SELECT "file_key", "etag" FROM ${q(loadHistoryTable)}
WHERE "table_name" = ? AND "status" = 'LOADED' AND "loaded_at" >= ${after}
  AND "file_key" IN (${placeholders(keyCount)})`;
}

export const historyColumns = [
  'table_name',
  'file_key',
  'etag',
  'size',
  'rows',
  'test_rows',
  'status',
  'error',
  'newest_ingest_time',
] as const;

/** One history row per file, written in the transaction of the rows; binds: 9 values a row. */
export function insertHistorySql(rowCount: number): string {
  const row = `(${placeholders(historyColumns.length)})`;
  const cols = historyColumns.map((c) => q(c)).join(', ');
  const select = historyColumns
    .map((c) => (c === 'newest_ingest_time' ? `TO_TIMESTAMP_TZ(v.${q(c)})` : `v.${q(c)}`))
    .join(', ');
  // INSERT … SELECT FROM VALUES: Snowflake refuses most function calls inside a VALUES clause.
  return `INSERT INTO ${q(loadHistoryTable)} (${cols}, "loaded_at")
SELECT ${select}, CURRENT_TIMESTAMP()
FROM VALUES ${Array.from({ length: rowCount }, () => row).join(', ')} AS v(${cols})`;
}

export const migrationsSql = `SELECT "event_type", "table_name", "version", "kind", TO_JSON("ddl") AS "ddl", ${isoUtc('"applied_at"')} AS "applied_at", "applied_by"
FROM ${q(migrationsTable)} WHERE "event_type" = ? ORDER BY "version"`;

/** Binds: event type, table, version, kind, ddl JSON, applied by, then event type and version again. */
export const insertMigrationSql = `INSERT INTO ${q(migrationsTable)} ("event_type", "table_name", "version", "kind", "ddl", "applied_at", "applied_by")
SELECT ?, ?, ?, ?, PARSE_JSON(?), CURRENT_TIMESTAMP(), ?
WHERE NOT EXISTS (SELECT 1 FROM ${q(migrationsTable)} WHERE "event_type" = ? AND "version" = ?)`;

// ---------------------------------------------------------------------------------------------
// Copy-mode load: COPY the files into a temporary staging table shaped like the target, then
// move the rows with INSERT … SELECT in the transaction that writes the history.

const regexEscape = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Longest common directory of the keys, so LIST reads one prefix, not the whole bucket. */
export function commonPrefix(keys: string[]): string {
  if (keys.length === 0) return '';
  let prefix = keys[0] ?? '';
  for (const k of keys) while (!k.startsWith(prefix)) prefix = prefix.slice(0, -1);
  return prefix.slice(0, prefix.lastIndexOf('/') + 1);
}

/** LIST of exactly these keys: size, and md5 (for S3 the object's ETag). */
export function listSql(stage: string, keys: string[]): string {
  const prefix = commonPrefix(keys);
  const pattern = `.*(${keys.map(regexEscape).join('|')})`;
  // Quoted: keys hold `=` (v=1), which an unquoted stage path may not.
  return `LIST ${lit(`@${stage}/${prefix}`)} PATTERN = ${lit(pattern)}`;
}

/** Columns of the files, with the files that hold each (comma-separated), to find foreign columns. */
export function inferSchemaSql(stage: string, keys: string[]): string {
  return `SELECT "COLUMN_NAME", "FILENAMES" FROM TABLE(INFER_SCHEMA(
  LOCATION => '@${stage}/',
  FILES => (${keys.map(lit).join(', ')}),
  FILE_FORMAT => '${fileFormatName}'
))`;
}

export function stagingTableSql(staging: string, table: string): string[] {
  return [
    `CREATE TEMPORARY TABLE ${q(staging)} LIKE ${q(table)}`,
    `ALTER TABLE ${q(staging)} ADD COLUMN ${stagingFileColumn} VARCHAR`,
  ];
}

export function copySql(stage: string, staging: string, keys: string[], force: boolean): string {
  // ON_ERROR = SKIP_FILE: a file that cannot load is reported in the result and the rest load.
  // FORCE only matters if the staging table were reused: a fresh one has no load metadata.
  return `COPY INTO ${q(staging)}
FROM @${stage}/
FILES = (${keys.map(lit).join(', ')})
FILE_FORMAT = (TYPE = PARQUET)
MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
INCLUDE_METADATA = (${stagingFileColumn} = METADATA$FILENAME)
ON_ERROR = SKIP_FILE${force ? '\nFORCE = TRUE' : ''}`;
}

/** Rows, test rows and newest _ingest_time of each staged file. */
export function stagingStatsSql(staging: string): string {
  return `SELECT ${stagingFileColumn} AS "file", COUNT(*) AS "rows", COUNT_IF("_test") AS "test_rows", ${isoUtc('MAX("_ingest_time")')} AS "newest"
FROM ${q(staging)} GROUP BY ${stagingFileColumn}`;
}

/**
 * A staged column as the target receives it. Parquet groups and lists land in VARIANT as objects
 * and arrays; a JSON-text column arrives as a Parquet string, i.e. a VARIANT string, and is parsed
 * so the table holds the document. (No Sluice column is a VARIANT that holds a bare string.)
 */
function selectColumn(c: ColumnDef): string {
  if (c.type.toUpperCase() === 'VARIANT') {
    return `IFF(IS_VARCHAR(${q(c.name)}), PARSE_JSON(${q(c.name)}::VARCHAR), ${q(c.name)})`;
  }
  return q(c.name);
}

export type RowFilter = 'all' | 'not-test' | 'test';

/** INSERT of the staged rows of `keys` into `table` (its columns that the staging table has). */
export function moveSql(
  staging: string,
  table: string,
  columns: ColumnDef[],
  stagedNames: Set<string>,
  keys: string[],
  filter: RowFilter,
): string {
  const cols = columns.filter((c) => stagedNames.has(c.name.toLowerCase()));
  const where = [`${stagingFileColumn} IN (${keys.map(lit).join(', ')})`];
  if (filter === 'not-test') where.push('NOT "_test"');
  if (filter === 'test') where.push('"_test"');
  return `INSERT INTO ${q(table)} (${cols.map((c) => q(c.name)).join(', ')})
SELECT ${cols.map(selectColumn).join(', ')}
FROM ${q(staging)}
WHERE ${where.join(' AND ')}`;
}

/** The INSERTs of one load: main table, and the test table when test events go there. */
export function moveStatements(
  staging: string,
  target: LoadTarget,
  columns: ColumnDef[],
  testColumns: ColumnDef[] | undefined,
  keys: string[],
): { table: string; sql: string }[] {
  const staged = new Set(columns.map((c) => c.name.toLowerCase()));
  const split = target.testTable !== undefined || target.skipTest;
  const out = [
    {
      table: target.table,
      sql: moveSql(staging, target.table, columns, staged, keys, split ? 'not-test' : 'all'),
    },
  ];
  if (target.testTable && testColumns) {
    out.push({
      table: target.testTable,
      sql: moveSql(staging, target.testTable, testColumns, staged, keys, 'test'),
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// query(): one read-only statement

export class ReadOnlyViolation extends Error {
  override readonly name = 'ReadOnlyViolation';
}

const readOnlyKeywords = new Set(['SELECT', 'WITH', 'SHOW', 'DESCRIBE', 'DESC', 'EXPLAIN', 'LIST', 'LS']);

/** Strips comments and string literals (kept as ''), so keyword and `;` checks see only SQL. */
function skeleton(sql: string): string {
  return sql
    .replace(/'(?:[^'\\]|\\.|'')*'/g, "''")
    .replace(/\$\$[\s\S]*?\$\$/g, "''")
    .replace(/--[^\n]*|\/\/[^\n]*/g, ' ')
    .replace(/\/\*[\s\S]*?\*\//g, ' ');
}

/**
 * A lexical check (the driver does not expose the statement type before running it): exactly one
 * statement whose first keyword reads. Snowflake's WITH only precedes a SELECT. It cannot see side
 * effects of functions (SYSTEM$…), so the role should hold read privileges only where that matters.
 */
export function checkReadOnly(sql: string): string {
  const text = skeleton(sql).trim().replace(/;\s*$/, '');
  if (text.includes(';')) throw new ReadOnlyViolation('send exactly one statement');
  const keyword = /^\(*\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase();
  if (!keyword || !readOnlyKeywords.has(keyword)) {
    throw new ReadOnlyViolation(
      `only SELECT, WITH … SELECT, SHOW, DESCRIBE, EXPLAIN and LIST are allowed here (got ${keyword ?? 'no statement'})`,
    );
  }
  if (/\bSYSTEM\$/i.test(text)) throw new ReadOnlyViolation('SYSTEM$ functions are not allowed here');
  return sql.trim().replace(/;\s*$/, '');
}
