// The order of a Snowflake load, with a scripted session standing in for Snowflake (there is none
// on this machine): which statements run before BEGIN, what the transaction holds, which files end
// LOADED, SKIPPED or FAILED, the history rows and their binds, and ROLLBACK on failure. Snowpipe
// mode talks to a local HTTP server through the real SnowpipeClient.
import assert from 'node:assert/strict';
import { generateKeyPairSync } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import {
  SnowflakeWarehouse,
  type Bind,
  type Row,
  type SqlSession,
} from '../../activities/warehouse/snowflake.js';
import { SnowpipeClient } from '../../activities/warehouse/snowpipe.js';
import type { QueryResult } from '../../activities/warehouse/types.js';

type Handler = (sql: string, binds: Bind[]) => { rows?: Row[]; updated?: number } | Error | undefined;

class ScriptedSession implements SqlSession {
  readonly log: { sql: string; binds: Bind[] }[] = [];
  constructor(private readonly handler: Handler) {}
  run(sql: string, binds: Bind[] = []): Promise<{ rows: Row[]; updated?: number }> {
    this.log.push({ sql, binds });
    const out = this.handler(sql, binds);
    if (out instanceof Error) return Promise.reject(out);
    return Promise.resolve({
      rows: out?.rows ?? [],
      ...(out?.updated === undefined ? {} : { updated: out.updated }),
    });
  }
  read(): Promise<QueryResult> {
    return Promise.reject(new Error('not scripted'));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
  /** First words of each statement, to compare the order. */
  get outline(): string[] {
    return this.log.map(({ sql }) => {
      const s = sql.trim();
      if (s.startsWith('SELECT "COLUMN_NAME", "DATA_TYPE"')) return 'describe';
      if (s.startsWith('SELECT "file_key"')) return 'history check';
      if (s.startsWith('SELECT "COLUMN_NAME", "FILENAMES"')) return 'infer schema';
      if (s.startsWith('SELECT SLUICE_FILE')) return 'staging stats';
      return s
        .split(/\s+/)
        .slice(0, 3)
        .join(' ')
        .replace(/_sluice_stage_[0-9a-f]{32}/, '_sluice_stage_*');
    });
  }
}

const bucket = 'events-bucket';
const config = (mode: 'copy' | 'snowpipe') => {
  const c = parseConfig({
    s3: { bucket },
    warehouse: {
      kind: 'snowflake',
      snowflake: {
        account: 'myorg-acct',
        username: 'loader',
        warehouse: 'WH',
        database: 'analytics',
        schema: 'events',
        privateKeyPath: '/unused.pem',
        storageIntegration: 's3_int',
        mode,
      },
    },
  });
  assert.ok(c.warehouse.snowflake);
  return { sf: c.warehouse.snowflake, s3: c.s3 };
};

const key = (n: string): string => `events/e/v=1/${n}.parquet`;
const tableColumns = [
  { COLUMN_NAME: 'id', DATA_TYPE: 'TEXT', IS_NULLABLE: 'NO', CHARACTER_MAXIMUM_LENGTH: 16777216 },
  { COLUMN_NAME: 'payload', DATA_TYPE: 'VARIANT', IS_NULLABLE: 'YES' },
  { COLUMN_NAME: '_ingest_time', DATA_TYPE: 'TIMESTAMP_TZ', IS_NULLABLE: 'NO' },
  { COLUMN_NAME: '_test', DATA_TYPE: 'BOOLEAN', IS_NULLABLE: 'NO' },
];

/** Snowflake as the statements of one load see it; `historyAfterLock` is what a racing loader committed. */
function snowflakeFor(
  opts: { history?: string[]; historyAfterLock?: string[]; failOn?: RegExp } = {},
): Handler {
  let locked = false;
  return (sql, binds) => {
    if (opts.failOn?.test(sql)) return new Error('Numeric value out of range');
    if (sql.startsWith('SELECT "COLUMN_NAME", "DATA_TYPE"'))
      return { rows: ['e', 'e_test'].includes(String(binds[0])) ? tableColumns : [] };
    if (sql.startsWith('UPDATE "_sluice_locks"')) {
      locked = true;
      return { updated: 1 };
    }
    if (sql.startsWith('SELECT "file_key"')) {
      const loaded = locked ? (opts.historyAfterLock ?? opts.history ?? []) : (opts.history ?? []);
      return {
        rows: loaded.filter((k) => binds.includes(k)).map((k) => ({ file_key: k, etag: `etag-${k}` })),
      };
    }
    if (sql.startsWith('LIST')) {
      return {
        rows: ['a', 'c', 'd', 'e'].map((n) => ({
          name: `s3://${bucket}/${key(n)}`,
          size: 100,
          md5: `etag-${key(n)}`,
        })),
      };
    }
    if (sql.includes('INFER_SCHEMA')) {
      const all = [key('c'), key('d'), key('e')].filter((k) => sql.includes(k)).join(', ');
      return {
        rows: [
          { COLUMN_NAME: 'id', FILENAMES: all },
          { COLUMN_NAME: 'payload', FILENAMES: all },
          { COLUMN_NAME: '_ingest_time', FILENAMES: all },
          { COLUMN_NAME: '_test', FILENAMES: all },
          ...(sql.includes(key('c')) ? [{ COLUMN_NAME: 'surprise', FILENAMES: key('c') }] : []),
        ],
      };
    }
    if (sql.startsWith('COPY INTO')) {
      return {
        rows: [
          {
            file: `s3://${bucket}/${key('d')}`,
            status: 'LOAD_FAILED',
            first_error: "Numeric value 'x' is not recognized",
          },
          { file: `s3://${bucket}/${key('e')}`, status: 'LOADED', rows_loaded: 10 },
        ],
      };
    }
    if (sql.startsWith('SELECT SLUICE_FILE')) {
      return { rows: [{ file: key('e'), rows: 10, test_rows: 3, newest: '2025-01-01T00:00:09.000000Z' }] };
    }
    return { updated: 0 };
  };
}

const logger = createLogger('test', 'silent');
const warehouse = (session: SqlSession, mode: 'copy' | 'snowpipe' = 'copy', snowpipe?: SnowpipeClient) => {
  const { sf, s3 } = config(mode);
  return new SnowflakeWarehouse({
    config: sf,
    s3,
    writer: session,
    reader: session,
    logger,
    ...(snowpipe ? { snowpipe, snowpipePollMs: 10, snowpipeWaitMs: 2_000 } : {}),
  });
};

const files = ['a', 'b', 'c', 'd', 'e'].map((n) => ({ key: key(n) }));
const target = { eventType: 'e', table: 'e', testTable: 'e_test', skipTest: false };

describe('Snowflake copy-mode load', () => {
  test('skipped, missing, foreign columns, COPY failure and one good file: outcomes, order, history', async () => {
    const s = new ScriptedSession(snowflakeFor({ history: [key('a')] }));
    const outcomes = await warehouse(s).load({ target, files, force: false, historyDays: 64 });
    assert.deepEqual(outcomes, [
      { key: key('a'), etag: `etag-${key('a')}`, status: 'SKIPPED', rows: 0, testRows: 0 },
      {
        key: key('b'),
        etag: '',
        status: 'FAILED',
        rows: 0,
        testRows: 0,
        error: `s3://${bucket}/${key('b')} does not exist`,
      },
      {
        key: key('c'),
        etag: `etag-${key('c')}`,
        status: 'FAILED',
        rows: 0,
        testRows: 0,
        error: 'columns the table lacks: surprise',
      },
      {
        key: key('d'),
        etag: `etag-${key('d')}`,
        status: 'FAILED',
        rows: 0,
        testRows: 0,
        error: "COPY LOAD_FAILED: Numeric value 'x' is not recognized",
      },
      {
        key: key('e'),
        etag: `etag-${key('e')}`,
        status: 'LOADED',
        rows: 7,
        testRows: 3,
        newestIngestTime: '2025-01-01T00:00:09.000000Z',
      },
    ]);
    assert.deepEqual(s.outline, [
      'describe',
      'describe',
      'history check',
      "LIST '@sluice_events/events/e/v=1/' PATTERN",
      'infer schema',
      'CREATE TEMPORARY TABLE',
      'ALTER TABLE "_sluice_stage_*"',
      'COPY INTO "_sluice_stage_*"',
      'staging stats',
      'BEGIN TRANSACTION',
      'UPDATE "_sluice_locks" SET',
      'history check',
      'INSERT INTO "e"',
      'INSERT INTO "e_test"',
      'INSERT INTO "_sluice_load_history"',
      'COMMIT',
      'DROP TABLE IF',
    ]);
    const copy = s.log.find((l) => l.sql.startsWith('COPY INTO'))?.sql ?? '';
    assert.match(
      copy,
      new RegExp(`FILES = \\('${key('d')}', '${key('e')}'\\)`),
      'only files that passed the checks are copied',
    );
    const inserts = s.log
      .filter((l) => l.sql.startsWith('INSERT INTO "e'))
      .map((l) => l.sql.split('\n').at(-1));
    assert.deepEqual(inserts, [
      `WHERE SLUICE_FILE IN ('${key('e')}') AND NOT "_test"`,
      `WHERE SLUICE_FILE IN ('${key('e')}') AND "_test"`,
    ]);
    const history = s.log.find((l) => l.sql.startsWith('INSERT INTO "_sluice_load_history"'));
    assert.deepEqual(history?.binds, [
      ...['e', key('e'), `etag-${key('e')}`, 100, 7, 3, 'LOADED', null, '2025-01-01T00:00:09.000000Z'],
      ...['e', key('b'), '', 0, 0, 0, 'FAILED', `s3://${bucket}/${key('b')} does not exist`, null],
      ...['e', key('c'), `etag-${key('c')}`, 100, 0, 0, 'FAILED', 'columns the table lacks: surprise', null],
      ...[
        'e',
        key('d'),
        `etag-${key('d')}`,
        100,
        0,
        0,
        'FAILED',
        "COPY LOAD_FAILED: Numeric value 'x' is not recognized",
        null,
      ],
    ]);
  });

  test('FORCE: no history check, FORCE = TRUE on the COPY, and a loaded file loads again', async () => {
    const s = new ScriptedSession(snowflakeFor({ history: [key('e')] }));
    const outcomes = await warehouse(s).load({
      target: { eventType: 'e', table: 'e', skipTest: false },
      files: [{ key: key('e') }],
      force: true,
      historyDays: 64,
    });
    assert.deepEqual(
      outcomes.map((o) => [o.status, o.rows, o.testRows]),
      [['LOADED', 10, 0]],
    );
    assert.ok(!s.outline.includes('history check'));
    assert.match(s.log.find((l) => l.sql.startsWith('COPY INTO'))?.sql ?? '', /\nFORCE = TRUE$/);
    assert.equal(
      s.log
        .find((l) => l.sql.startsWith('INSERT INTO "e"'))
        ?.sql.split('\n')
        .at(-1),
      `WHERE SLUICE_FILE IN ('${key('e')}')`,
    );
  });

  test('a loader that committed the file while we copied wins: SKIPPED, no rows inserted', async () => {
    const s = new ScriptedSession(snowflakeFor({ historyAfterLock: [key('e')] }));
    const outcomes = await warehouse(s).load({
      target,
      files: [{ key: key('e') }],
      force: false,
      historyDays: 64,
    });
    assert.deepEqual(
      outcomes.map((o) => o.status),
      ['SKIPPED'],
    );
    assert.ok(!s.log.some((l) => l.sql.startsWith('INSERT')));
    assert.deepEqual(s.outline.slice(-4), [
      'UPDATE "_sluice_locks" SET',
      'history check',
      'COMMIT',
      'DROP TABLE IF',
    ]);
  });

  test('an INSERT that fails rolls back the rows and history, drops the staging table, and throws', async () => {
    const s = new ScriptedSession(snowflakeFor({ failOn: /^INSERT INTO "e_test"/ }));
    await assert.rejects(
      warehouse(s).load({ target, files: [{ key: key('e') }], force: false, historyDays: 64 }),
      /Numeric value out of range/,
    );
    assert.deepEqual(s.outline.slice(-4), [
      'INSERT INTO "e"',
      'INSERT INTO "e_test"',
      'ROLLBACK',
      'DROP TABLE IF',
    ]);
  });
});

describe('Snowflake snowpipe-mode load', () => {
  let server: Server;
  let base: string;
  const calls: string[] = [];
  let reports = 0;
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        calls.push(
          `${req.method} ${url.pathname} ${url.searchParams.get('beginMark') ?? ''} ${Buffer.concat(chunks).toString()}`.trim(),
        );
        const body = url.pathname.endsWith('/insertFiles')
          ? { requestId: 'r', responseCode: 'SUCCESS' }
          : // Nothing on the first poll, the file on the second.
            ++reports === 1
            ? { nextBeginMark: '1_1', files: [] }
            : { nextBeginMark: '1_2', files: [{ path: key('e'), status: 'LOADED', rowsInserted: 10 }] };
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  test('insertFiles for files not in the history, insertReport until settled, then the history rows', async () => {
    const s = new ScriptedSession(snowflakeFor({ history: [key('a')] }));
    const client = new SnowpipeClient({
      account: 'myorg-acct',
      username: 'loader',
      privateKey,
      baseUrl: base,
    });
    const w = warehouse(s, 'snowpipe', client);
    const outcomes = await w.load({
      target: { eventType: 'e', table: 'e', skipTest: false },
      files: [{ key: key('a') }, { key: key('e') }],
      force: false,
      historyDays: 64,
    });
    assert.deepEqual(
      outcomes.map((o) => [o.key, o.status, o.rows]),
      [
        [key('a'), 'SKIPPED', 0],
        [key('e'), 'LOADED', 10],
      ],
    );
    const pipe = '/v1/data/pipes/ANALYTICS.EVENTS.E_PIPE';
    assert.deepEqual(calls, [
      `POST ${pipe}/insertFiles  ${JSON.stringify({ files: [{ path: key('e'), size: 100 }] })}`,
      `GET ${pipe}/insertReport`,
      `GET ${pipe}/insertReport 1_1`,
    ]);
    assert.deepEqual(s.outline, [
      'history check',
      "LIST '@sluice_events/events/e/v=1/' PATTERN",
      'BEGIN TRANSACTION',
      'UPDATE "_sluice_locks" SET',
      'INSERT INTO "_sluice_load_history"',
      'COMMIT',
    ]);

    await assert.rejects(
      w.load({ target, files: [{ key: key('e') }], force: false, historyDays: 64 }),
      /cannot split or drop test events/,
    );
  });
});
