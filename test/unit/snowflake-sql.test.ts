// The Snowflake adapter's SQL text, statement by statement: table DDL for every column type, the
// round trip DESCRIBE-side type text → diffTable, the COPY and INSERT … SELECT of a load, the
// read-only check of query(), and the DDL printed by `sluice snowflake ddl`.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { parseConfig } from '../../lib/config.js';
import { loadCatalog } from '../../schemas/catalog.js';
import type { JsonSchema } from '../../schemas/json-schema.js';
import { diffTable, snowflakeColumns, snowflakeCreateTable } from '../../schemas/mapping.js';
import { snowflakeDdl } from '../../activities/warehouse/snowflake-ddl.js';
import {
  checkReadOnly,
  columnFromInfoSchema,
  commonPrefix,
  copySql,
  insertHistorySql,
  listSql,
  moveStatements,
  pipeSql,
  plainIdent,
  qualifiedPipe,
  ReadOnlyViolation,
  stageSql,
  type InfoSchemaColumn,
} from '../../activities/warehouse/snowflake-sql.js';
import { keyOf } from '../../activities/warehouse/snowflake.js';

/** One property of every kind the mapping knows, required and optional. */
const everyType: JsonSchema = {
  type: 'object',
  required: ['s', 'ts', 'd', 'i', 'n', 'b', 'obj', 'list'],
  properties: {
    s: { type: 'string' },
    ts: { type: 'string', format: 'date-time' },
    d: { type: 'string', format: 'date' },
    i: { type: 'integer' },
    n: { type: 'number' },
    b: { type: 'boolean' },
    obj: { type: 'object', properties: { x: { type: 'integer' } } },
    list: { type: 'array', items: { type: 'string' } },
    free: { type: 'object' },
    mixed: { type: ['string', 'integer'] },
    anything: {},
    untyped_list: { type: 'array' },
    nullable_s: { type: ['string', 'null'] },
    int_or_number: { type: ['integer', 'number'] },
  },
};

const config = (snowflake: Record<string, unknown> = {}) =>
  parseConfig({
    s3: { bucket: 'events-bucket', accessKeyId: 'AKIA', secretAccessKey: "se'cret\\x" },
    warehouse: {
      kind: 'snowflake',
      snowflake: {
        account: 'myorg-acct',
        username: 'loader',
        warehouse: 'LOAD_WH',
        database: 'analytics',
        schema: 'events',
        passwordEnv: 'SF_PASSWORD',
        ...snowflake,
      },
    },
  });

const sf = (c = config()) => {
  const s = c.warehouse.snowflake;
  assert.ok(s);
  return s;
};

describe('Snowflake table DDL', () => {
  test('every column type', () => {
    assert.equal(
      snowflakeCreateTable('t', everyType),
      [
        'CREATE TABLE IF NOT EXISTS "t" (',
        '  "s" VARCHAR NOT NULL,',
        '  "ts" TIMESTAMP_TZ NOT NULL,',
        '  "d" DATE NOT NULL,',
        '  "i" NUMBER(38,0) NOT NULL,',
        '  "n" FLOAT NOT NULL,',
        '  "b" BOOLEAN NOT NULL,',
        '  "obj" VARIANT NOT NULL,',
        '  "list" VARIANT NOT NULL,',
        '  "free" VARIANT,',
        '  "mixed" VARIANT,',
        '  "anything" VARIANT,',
        '  "untyped_list" VARIANT,',
        '  "nullable_s" VARCHAR,',
        '  "int_or_number" FLOAT,',
        '  "_event_id" VARCHAR NOT NULL,',
        '  "_event_time" TIMESTAMP_TZ NOT NULL,',
        '  "_ingest_time" TIMESTAMP_TZ NOT NULL,',
        '  "_source" VARCHAR NOT NULL,',
        '  "_schema_version" NUMBER(38,0) NOT NULL,',
        '  "_kafka_partition" NUMBER(38,0) NOT NULL,',
        '  "_kafka_offset" NUMBER(38,0) NOT NULL,',
        '  "_test" BOOLEAN NOT NULL',
        ')',
      ].join('\n'),
    );
  });

  test('information_schema rows read back as type text diffTable finds unchanged', () => {
    // How information_schema.columns reports what snowflakeCreateTable made.
    const reported: Record<string, Omit<InfoSchemaColumn, 'COLUMN_NAME' | 'IS_NULLABLE'>> = {
      VARCHAR: { DATA_TYPE: 'TEXT', CHARACTER_MAXIMUM_LENGTH: 16777216 },
      TIMESTAMP_TZ: { DATA_TYPE: 'TIMESTAMP_TZ' },
      DATE: { DATA_TYPE: 'DATE' },
      'NUMBER(38,0)': { DATA_TYPE: 'NUMBER', NUMERIC_PRECISION: 38, NUMERIC_SCALE: 0 },
      FLOAT: { DATA_TYPE: 'FLOAT' },
      BOOLEAN: { DATA_TYPE: 'BOOLEAN' },
      VARIANT: { DATA_TYPE: 'VARIANT' },
    };
    const columns = snowflakeColumns(everyType).map((c) => {
      const r = reported[c.type];
      assert.ok(r, `no information_schema spelling for ${c.type}`);
      return columnFromInfoSchema({ COLUMN_NAME: c.name, IS_NULLABLE: c.nullable ? 'YES' : 'NO', ...r });
    });
    assert.deepEqual(
      columns.slice(0, 4).map((c) => c.type),
      ['VARCHAR(16777216)', 'TIMESTAMP_TZ', 'DATE', 'NUMBER(38,0)'],
    );
    assert.deepEqual(diffTable(columns, everyType, 'snowflake', 't'), { kind: 'compatible', steps: [] });
    // And a real difference still shows: a narrower NUMBER widens.
    const narrow = columns.map((c) =>
      c.name === 'i'
        ? columnFromInfoSchema({
            COLUMN_NAME: 'i',
            IS_NULLABLE: 'NO',
            DATA_TYPE: 'NUMBER',
            NUMERIC_PRECISION: 18,
            NUMERIC_SCALE: 0,
          })
        : c,
    );
    assert.deepEqual(diffTable(narrow, everyType, 'snowflake', 't'), {
      kind: 'compatible',
      steps: [
        {
          sql: 'ALTER TABLE "t" ALTER COLUMN "i" SET DATA TYPE NUMBER(38,0)',
          description: 'widen i from NUMBER(18,0) to NUMBER(38,0)',
        },
      ],
    });
  });
});

describe('Snowflake stage and pipes', () => {
  test('stage with a storage integration', () => {
    assert.equal(
      stageSql(sf(config({ storageIntegration: 's3_int' })), config().s3),
      `CREATE STAGE IF NOT EXISTS sluice_events
  URL = 's3://events-bucket/'
  STORAGE_INTEGRATION = s3_int
  FILE_FORMAT = (FORMAT_NAME = sluice_parquet)`,
    );
  });

  test('stage with keys, quoted for Snowflake (backslash and quote escaped)', () => {
    assert.equal(
      stageSql(sf(), config().s3),
      `CREATE STAGE IF NOT EXISTS sluice_events
  URL = 's3://events-bucket/'
  CREDENTIALS = (AWS_KEY_ID = 'AKIA' AWS_SECRET_KEY = 'se''cret\\\\x')
  FILE_FORMAT = (FORMAT_NAME = sluice_parquet)`,
    );
  });

  test('pipe and its REST name', () => {
    assert.equal(
      pipeSql(sf(), 'order_created'),
      `CREATE PIPE IF NOT EXISTS order_created_pipe
  AUTO_INGEST = FALSE
  AS COPY INTO "order_created"
  FROM @sluice_events
  FILE_FORMAT = (FORMAT_NAME = sluice_parquet)
  MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE`,
    );
    assert.equal(qualifiedPipe(sf(), 'order_created'), 'ANALYTICS.EVENTS.ORDER_CREATED_PIPE');
  });

  test('names that would need quoting are refused', () => {
    assert.throws(() => plainIdent('x; DROP TABLE y', 'stage'), /plain identifier/);
    assert.throws(() => stageSql(sf(config({ stage: 'a-b' })), config().s3), /warehouse.snowflake.stage/);
  });
});

const keys = [
  'events/order_created/v=1/dt=2025-01-01/p0-0-99.parquet',
  'events/order_created/v=1/dt=2025-01-01/p1-0-49.parquet',
];
const columns = [
  { name: 'order_id', type: 'VARCHAR(16777216)', nullable: false },
  { name: 'items', type: 'VARIANT', nullable: false },
  { name: '_test', type: 'BOOLEAN', nullable: false },
];

describe('copy-mode load statements', () => {
  test('COPY into the staging table, with and without FORCE', () => {
    const expected = `COPY INTO "_sluice_stage_1"
FROM @sluice_events/
FILES = ('${keys[0]}', '${keys[1]}')
FILE_FORMAT = (TYPE = PARQUET)
MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE
INCLUDE_METADATA = (SLUICE_FILE = METADATA$FILENAME)
ON_ERROR = SKIP_FILE`;
    assert.equal(copySql('sluice_events', '_sluice_stage_1', keys, false), expected);
    assert.equal(copySql('sluice_events', '_sluice_stage_1', keys, true), `${expected}\nFORCE = TRUE`);
  });

  const files = `SLUICE_FILE IN ('${keys[0]}', '${keys[1]}')`;
  const select = `SELECT "order_id", IFF(IS_VARCHAR("items"), PARSE_JSON("items"::VARCHAR), "items"), "_test"
FROM "_sluice_stage_1"`;

  test('test events in their own table', () => {
    assert.deepEqual(
      moveStatements(
        '_sluice_stage_1',
        { eventType: 'e', table: 'e', testTable: 'e_test', skipTest: false },
        columns,
        columns,
        keys,
      ),
      [
        {
          table: 'e',
          sql: `INSERT INTO "e" ("order_id", "items", "_test")\n${select}\nWHERE ${files} AND NOT "_test"`,
        },
        {
          table: 'e_test',
          sql: `INSERT INTO "e_test" ("order_id", "items", "_test")\n${select}\nWHERE ${files} AND "_test"`,
        },
      ],
    );
  });

  test('test events dropped', () => {
    assert.deepEqual(
      moveStatements(
        '_sluice_stage_1',
        { eventType: 'e', table: 'e', skipTest: true },
        columns,
        undefined,
        keys,
      ),
      [
        {
          table: 'e',
          sql: `INSERT INTO "e" ("order_id", "items", "_test")\n${select}\nWHERE ${files} AND NOT "_test"`,
        },
      ],
    );
  });

  test('test events in the same table; a test table missing a column gets the others', () => {
    assert.deepEqual(
      moveStatements(
        '_sluice_stage_1',
        { eventType: 'e', table: 'e', skipTest: false },
        columns,
        undefined,
        keys,
      ),
      [{ table: 'e', sql: `INSERT INTO "e" ("order_id", "items", "_test")\n${select}\nWHERE ${files}` }],
    );
    const [, test] = moveStatements(
      '_sluice_stage_1',
      { eventType: 'e', table: 'e', testTable: 'e_test', skipTest: false },
      columns,
      [
        ...columns.slice(0, 1),
        ...columns.slice(2),
        { name: 'only_in_test', type: 'VARCHAR', nullable: true },
      ],
      keys,
    );
    assert.equal(
      test?.sql,
      `INSERT INTO "e_test" ("order_id", "_test")\nSELECT "order_id", "_test"\nFROM "_sluice_stage_1"\nWHERE ${files} AND "_test"`,
    );
  });

  test('history rows, LIST of exact keys', () => {
    assert.equal(
      insertHistorySql(2),
      `INSERT INTO "_sluice_load_history" ("table_name", "file_key", "etag", "size", "rows", "test_rows", "status", "error", "newest_ingest_time", "loaded_at")
SELECT v."table_name", v."file_key", v."etag", v."size", v."rows", v."test_rows", v."status", v."error", TO_TIMESTAMP_TZ(v."newest_ingest_time"), CURRENT_TIMESTAMP()
FROM VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?), (?, ?, ?, ?, ?, ?, ?, ?, ?) AS v("table_name", "file_key", "etag", "size", "rows", "test_rows", "status", "error", "newest_ingest_time")`,
    );
    assert.equal(commonPrefix(keys), 'events/order_created/v=1/dt=2025-01-01/');
    assert.equal(commonPrefix(['events/a/v=1/x.parquet', 'events/a/v=10/y.parquet']), 'events/a/');
    assert.equal(
      listSql('sluice_events', keys),
      "LIST '@sluice_events/events/order_created/v=1/dt=2025-01-01/' PATTERN = " +
        "'.*(events/order_created/v=1/dt=2025-01-01/p0-0-99\\\\.parquet|events/order_created/v=1/dt=2025-01-01/p1-0-49\\\\.parquet)'",
    );
    assert.equal(keyOf(`s3://events-bucket/${keys[0]}`, 'events-bucket'), keys[0]);
    assert.equal(keyOf(keys[0] ?? '', 'events-bucket'), keys[0]);
  });
});

describe('query() read-only check', () => {
  test('reading statements pass, with comments, strings and a trailing semicolon', () => {
    assert.equal(checkReadOnly('SELECT 1;'), 'SELECT 1');
    assert.equal(
      checkReadOnly('-- note\n  with x as (select 1) select * from x'),
      '-- note\n  with x as (select 1) select * from x',
    );
    assert.equal(checkReadOnly("select 'a;b' as s"), "select 'a;b' as s");
    for (const sql of [
      'SHOW TABLES',
      'describe table "t"',
      'EXPLAIN SELECT 1',
      '(SELECT 1) UNION (SELECT 2)',
      'LIST @sluice_events',
    ]) {
      assert.doesNotThrow(() => checkReadOnly(sql), sql);
    }
  });

  test('anything else is refused with a clear error', () => {
    const refused: [string, RegExp][] = [
      ['INSERT INTO t VALUES (1)', /got INSERT/],
      ['/* select */ DELETE FROM t', /got DELETE/],
      ['SELECT 1; DROP TABLE t', /exactly one statement/],
      ['COPY INTO t FROM @s', /got COPY/],
      ['CALL p()', /got CALL/],
      ['SELECT SYSTEM$CANCEL_ALL_QUERIES(1)', /SYSTEM\$/],
      ['', /no statement/],
    ];
    for (const [sql, message] of refused) {
      assert.throws(
        () => checkReadOnly(sql),
        (e: unknown) => e instanceof ReadOnlyViolation && message.test(e.message),
        sql,
      );
    }
  });
});

describe('sluice snowflake ddl', () => {
  test('stage, file format, system tables, and every type with its test table and pipe', () => {
    const catalog = loadCatalog();
    const ddl = snowflakeDdl(config({ storageIntegration: 's3_int' }), catalog);
    const statements = ddl
      .split(/;\n/)
      .map((s) => s.trim().replace(/^(--[^\n]*\n+)+/, ''))
      .filter(Boolean);
    assert.equal(statements[0], 'CREATE FILE FORMAT IF NOT EXISTS sluice_parquet TYPE = PARQUET');
    assert.match(
      statements[1] ?? '',
      /^CREATE STAGE IF NOT EXISTS sluice_events\n {2}URL = 's3:\/\/events-bucket\/'\n {2}STORAGE_INTEGRATION = s3_int/,
    );
    for (const t of ['_sluice_load_history', '_sluice_migrations', '_sluice_locks']) {
      assert.ok(
        statements.some((s) => s.startsWith(`CREATE TABLE IF NOT EXISTS "${t}"`)),
        t,
      );
    }
    for (const type of catalog.types.values()) {
      assert.ok(statements.includes(snowflakeCreateTable(type.table, type.latest.schema)), type.name);
      assert.ok(statements.includes(pipeSql(sf(), type.table)), `${type.name} pipe`);
      const hasTest = statements.includes(snowflakeCreateTable(`${type.table}_test`, type.latest.schema));
      assert.equal(hasTest, type.settings.testEvents === 'separate-table', `${type.name} test table`);
    }
    assert.equal(
      statements.length,
      2 +
        4 +
        catalog.types.size * 2 +
        [...catalog.types.values()].filter((t) => t.settings.testEvents === 'separate-table').length,
    );
  });
});
