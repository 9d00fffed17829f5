// The Snowflake adapter through the real snowflake-sdk against fakesnow (Snowflake SQL on DuckDB):
// connect with a password from the env, init, migrate, migrations, describe, query. fakesnow has
// no S3 stage, LIST … PATTERN, INFER_SCHEMA or IS_VARCHAR, so load() is not run here (see
// docs/snowflake.md). Skipped unless fakesnow is installed: ops/install-fakesnow.sh.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { loadCatalog } from '../../schemas/catalog.js';
import { diffTable, snowflakeCreateTable } from '../../schemas/mapping.js';
import { SnowflakeWarehouse, ReadOnlyViolation } from '../../activities/warehouse/snowflake.js';
import { planStep } from '../../activities/warehouse/tables.js';
import { fakesnowBin, fakesnowInstalled, startFakesnow, type Fakesnow } from '../helpers/fakesnow.js';

const skip = fakesnowInstalled()
  ? false
  : `fakesnow is not installed (${fakesnowBin()}): run ops/install-fakesnow.sh`;

describe('Snowflake adapter on fakesnow', { skip }, () => {
  let fs: Fakesnow;
  let w: SnowflakeWarehouse;
  const type = loadCatalog().types.get('order_created');
  assert.ok(type);

  before(async () => {
    fs = await startFakesnow();
    process.env.SLUICE_TEST_SF_PASSWORD = 'any';
    const config = parseConfig({
      warehouse: {
        kind: 'snowflake',
        snowflake: {
          account: 'fake',
          username: 'loader',
          warehouse: 'WH',
          database: 'SLUICE',
          schema: 'PUBLIC',
          passwordEnv: 'SLUICE_TEST_SF_PASSWORD',
          accessUrl: fs.url,
        },
      },
    });
    w = await SnowflakeWarehouse.open(config, createLogger('test', 'silent'));
  });
  after(async () => {
    await w?.close();
    await fs?.stop();
  });

  test('init is idempotent', async () => {
    await w.init();
    const r = await w.query('SELECT "name" FROM "_sluice_locks"', 10);
    assert.deepEqual(r.rows, [['load']]);
  });

  test('migrate creates the table once; migrations() reads the record back', async () => {
    const steps = [
      { sql: snowflakeCreateTable(type.table, type.versions[0]!.schema), description: 'create' },
    ];
    const record = {
      eventType: type.name,
      table: type.table,
      version: 1,
      kind: 'create' as const,
      ddl: [],
      appliedBy: 'test',
    };
    assert.equal(await w.migrate(record, steps), 'applied');
    assert.equal(await w.migrate(record, steps), 'present');
    const [m, ...rest] = await w.migrations(type.name);
    assert.equal(rest.length, 0);
    assert.deepEqual(
      { ...m, appliedAt: undefined },
      { ...record, ddl: [steps[0]!.sql], appliedAt: undefined },
    );
    assert.match(m?.appliedAt ?? '', /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
  });

  test('describe reads information_schema into types diffTable finds unchanged; v2 plans two ADD COLUMNs', async () => {
    assert.equal(await w.describe('no_such_table'), undefined);
    const columns = await w.describe(type.table);
    assert.ok(columns);
    assert.equal(columns[0]?.name, 'order_id');
    assert.deepEqual(diffTable(columns, type.versions[0]!.schema, 'snowflake', type.table), {
      kind: 'compatible',
      steps: [],
    });
    const step = await planStep(w, type, await w.migrations(type.name), 2, (t) => w.describe(t));
    assert.equal(step.kind, 'alter');
    assert.deepEqual(
      step.steps.filter((s) => s.sql.includes(`"${type.table}"`)).map((s) => s.sql),
      [
        `ALTER TABLE "${type.table}" ADD COLUMN IF NOT EXISTS "promo_code" VARCHAR`,
        `ALTER TABLE "${type.table}" ADD COLUMN IF NOT EXISTS "tip_cents" NUMBER(38,0)`,
      ],
    );
    assert.equal(
      await w.migrate(
        { eventType: type.name, table: type.table, version: 2, kind: 'alter', ddl: [], appliedBy: 'test' },
        step.steps,
      ),
      'applied',
    );
    const after = await w.describe(type.table);
    assert.deepEqual(
      after?.filter((c) => ['promo_code', 'tip_cents'].includes(c.name)).map((c) => [c.name, c.nullable]),
      [
        ['promo_code', true],
        ['tip_cents', true],
      ],
    );
  });

  test('query: rows, columns, truncation; writes refused before they reach Snowflake', async () => {
    const r = await w.query('SELECT "version", "kind" FROM "_sluice_migrations" ORDER BY "version"', 1);
    assert.deepEqual(
      r.columns.map((c) => c.name),
      ['version', 'kind'],
    );
    assert.deepEqual(r.rows, [[1, 'create']]);
    assert.equal(r.truncated, true);
    await assert.rejects(w.query('DELETE FROM "_sluice_migrations"', 10), ReadOnlyViolation);
    assert.equal((await w.query('SELECT COUNT(*) AS n FROM "_sluice_migrations"', 10)).rows[0]?.[0], 2);
  });
});
