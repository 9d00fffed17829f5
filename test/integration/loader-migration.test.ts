// schemaMigration on the real Temporal and DuckDB: an additive version is applied in place with
// the type's loader paused around the DDL; an incompatible version gets its own table, old files
// keep loading into the old one, and the result offers the backfill for the new table.
import assert from 'node:assert/strict';

import { after, before, test } from 'node:test';
import { type Client } from '@temporalio/client';
import { createS3Client, createSqsClient } from '../../lib/aws.js';
import { type Config } from '../../lib/config.js';
import { queryWarehouse, rowObjects } from '../../lib/warehouse-client.js';
import { loaderStatusQuery, type LoaderStatus } from '../../workflows/loader-signals.js';
import { schemaMigration } from '../../workflows/schema-migration.js';
import { warehouseLoader } from '../../workflows/warehouse-loader.js';

import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { orderData } from '../helpers/events.js';
import { uniqueName } from '../helpers/names.js';
import { announce, putSegment } from '../helpers/segments.js';
import { recordHistories, recording } from '../helpers/histories.js';
import { startLoaderWorker, testPlatform, type TestPlatform } from '../helpers/platform.js';
import { eventually } from '../helpers/wait.js';

const widget = (version: 1 | 2) =>
  JSON.stringify({
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: `urn:sluice:schema:{{type}}:v${version}`,
    title: `widget v${version}`,
    type: 'object',
    additionalProperties: false,
    required: ['widget_id', 'size'],
    properties: {
      widget_id: { type: 'string' },
      // v2 turns the size from a number of millimetres into a label: no table can hold both.
      size: version === 1 ? { type: 'integer' } : { type: 'string', enum: ['S', 'M', 'L'] },
      note: { type: ['string', 'null'] },
    },
  });

let config: Config;
let cat: IsolatedCatalog;
let client: Client;
let loader: Awaited<ReturnType<typeof startLoaderWorker>>;
let platform: TestPlatform;

const rows = async (sql: string) => rowObjects(await queryWarehouse(config, sql));
const tableOf = (shipped: string): string => cat.catalog.types.get(cat.type(shipped))!.table;
const loaderStatus = (type: string): Promise<LoaderStatus> =>
  client.workflow.getHandle(`loader/${type}`).query(loaderStatusQuery);

async function startLoader(type: string): Promise<void> {
  await client.workflow.start(warehouseLoader, {
    workflowId: `loader/${type}`,
    taskQueue: config.warehouse.taskQueue,
    args: [{ eventType: type, maxWaitMs: 1000 }],
  });
}

before(async () => {
  platform = await testPlatform('migration');
  config = platform.config;
  client = platform.client;
  cat = await isolatedCatalog(config, {
    extraTypes: {
      widget: {
        'event.yaml': [
          'owner: test',
          'description: A widget was made.',
          'partitions: 1',
          'compatibility: NONE',
          'testEvents: same-table',
          '',
        ].join('\n'),
        'v1.schema.json': widget(1),
        'v2.schema.json': widget(2),
      },
    },
  });
  loader = await startLoaderWorker(platform, cat.catalog);
});

after(async () => {
  if (recording)
    recordHistories(config, {
      'warehouse-loader': `loader/${cat.type('widget')}`,
      'schema-migration': `migration/${cat.type('order_created')}/v2`,
    });
  await loader.stop();
  await platform.close(['widget', 'order_created'].map((t) => `loader/${cat.type(t)}`));
  await cat.cleanup(config);
});

test('an additive version is planned by a dry run, then applied with the loader paused around it', async () => {
  const TYPE = cat.type('order_created');
  const table = tableOf('order_created');
  const none = await client.workflow.execute(schemaMigration, {
    workflowId: uniqueName(`migration/${TYPE}`),
    taskQueue: config.warehouse.taskQueue,
    args: [{ eventType: TYPE, toVersion: 2 }],
  });
  assert.equal(none.state, 'no-table', 'no table yet: the first load creates it');

  const v1 = await putSegment(config, createS3Client(config), cat.catalog, TYPE, 0, 0n, [
    { id: 'a', data: orderData(1), version: 1 },
    { id: 'b', data: orderData(2), version: 1 },
  ]);
  await announce(config, createSqsClient(config), TYPE, v1);
  await startLoader(TYPE);
  await eventually(
    () => loaderStatus(TYPE),
    (s) => s.loaded >= 1,
    'the v1 file to load',
  );

  const plan = await client.workflow.execute(schemaMigration, {
    workflowId: uniqueName(`migration/${TYPE}`),
    taskQueue: config.warehouse.taskQueue,
    args: [{ eventType: TYPE, toVersion: 2, dryRun: true }],
  });
  assert.equal(plan.state, 'planned');
  assert.deepEqual(
    plan.steps.map((s) => [s.version, s.kind]),
    [[2, 'alter']],
  );
  assert.ok(plan.steps[0]!.ddl.some((sql) => sql.includes('ADD COLUMN IF NOT EXISTS "tip_cents" BIGINT')));
  assert.ok(
    !(await rows(`DESCRIBE ${table}`)).some((c) => c.column_name === 'tip_cents'),
    'a dry run changes nothing',
  );

  const applied = await client.workflow.execute(schemaMigration, {
    workflowId: `migration/${TYPE}/v2`,
    taskQueue: config.warehouse.taskQueue,
    args: [{ eventType: TYPE }],
  });
  assert.equal(applied.state, 'applied');
  assert.equal(applied.fromVersion, 1);
  assert.equal(applied.toVersion, 2);
  assert.equal(applied.loaderPaused, true, 'the running loader was paused around the DDL');
  assert.deepEqual(applied.backfills, []);
  assert.equal((await loaderStatus(TYPE)).state, 'running', 'and resumed after it');
  const cols = await rows(`SELECT tip_cents, promo_code FROM ${table} ORDER BY _event_id`);
  assert.deepEqual(cols, [
    { tip_cents: null, promo_code: null },
    { tip_cents: null, promo_code: null },
  ]);

  const again = await client.workflow.execute(schemaMigration, {
    workflowId: uniqueName(`migration/${TYPE}`),
    taskQueue: config.warehouse.taskQueue,
    args: [{ eventType: TYPE }],
  });
  assert.equal(again.state, 'current');
});

test('an incompatible version gets its own table, old files keep their table, and a backfill is offered', async () => {
  const TYPE = cat.type('widget');
  const table = cat.catalog.types.get(TYPE)!.table;
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  await announce(
    config,
    sqs,
    TYPE,
    await putSegment(config, s3, cat.catalog, TYPE, 0, 0n, [
      { id: 'w1', data: { widget_id: 'w1', size: 120 }, version: 1 },
    ]),
  );
  await startLoader(TYPE);
  await eventually(
    () => loaderStatus(TYPE),
    (s) => s.loaded >= 1,
    'the v1 widget file to load',
  );

  const result = await client.workflow.execute(schemaMigration, {
    workflowId: `migration/${TYPE}/v2`,
    taskQueue: config.warehouse.taskQueue,
    args: [{ eventType: TYPE, toVersion: 2 }],
  });
  assert.equal(result.state, 'applied');
  assert.equal(result.steps.length, 1);
  const step = result.steps[0]!;
  assert.equal(step.kind, 'new-table');
  assert.equal(step.table, `${table}_v2`);
  assert.equal(step.reasons[0]?.column, 'size');
  assert.deepEqual(result.backfills, [
    {
      workflowType: 'backfill',
      taskQueue: config.warehouse.taskQueue,
      input: { eventType: TYPE, version: 2, table: `${table}_v2`, mode: 'skip-loaded' },
    },
  ]);

  // New files go to the new table; a late v1 file still goes to the old one.
  await announce(config, sqs, TYPE, [
    ...(await putSegment(config, s3, cat.catalog, TYPE, 0, 1n, [
      { id: 'w2', data: { widget_id: 'w2', size: 'M' }, version: 2 },
    ])),
    ...(await putSegment(config, s3, cat.catalog, TYPE, 0, 2n, [
      { id: 'w3', data: { widget_id: 'w3', size: 90, note: 'late' }, version: 1 },
    ])),
  ]);
  await eventually(
    () => loaderStatus(TYPE),
    (s) => s.loaded >= 3,
    'both files to load',
  );
  assert.deepEqual(await rows(`SELECT widget_id, size FROM ${table} ORDER BY widget_id`), [
    { widget_id: 'w1', size: '120' },
    { widget_id: 'w3', size: '90' },
  ]);
  assert.deepEqual(await rows(`SELECT widget_id, size FROM ${table}_v2`), [{ widget_id: 'w2', size: 'M' }]);
});
