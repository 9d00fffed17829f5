import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { CatalogError, defaultCatalogDir, loadCatalog } from '../../schemas/catalog.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-catalog-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

/** A copy of the shipped catalog to break in one way. */
function copyCatalog(name: string): string {
  const target = join(dir, name);
  cpSync(defaultCatalogDir(), target, { recursive: true });
  return target;
}

function problemsOf(catalogDir: string): string[] {
  try {
    loadCatalog(catalogDir);
  } catch (err) {
    assert.ok(err instanceof CatalogError);
    return err.problems.map((p) => `${p.file}: ${p.message}`);
  }
  return [];
}

test('the shipped catalog loads with names, topics and versions derived from the folders', () => {
  const catalog = loadCatalog();
  assert.deepEqual(
    [...catalog.types.keys()],
    ['delivery_status_changed', 'mobile_page_load', 'order_created'],
  );
  const order = catalog.types.get('order_created')!;
  assert.equal(order.topic, 'events.order_created');
  assert.equal(order.dlqTopic, 'events.order_created.dlq');
  assert.equal(order.consumerGroup, 'sluice.order_created');
  assert.equal(order.table, 'order_created');
  assert.deepEqual(
    order.versions.map((v) => [v.version, v.id]),
    [
      [1, 'urn:sluice:schema:order_created:v1'],
      [2, 'urn:sluice:schema:order_created:v2'],
    ],
  );
  assert.equal(order.latest.version, 2);
  assert.equal(order.settings.partitionKey, '/order_id');
  assert.deepEqual(catalog.types.get('mobile_page_load')!.settings.rawApps, [
    'consumer-ios',
    'consumer-android',
  ]);
});

test('an unknown key in event.yaml is refused, naming the file and the key', () => {
  const c = copyCatalog('unknown-key');
  const f = join(c, 'order_created', 'event.yaml');
  writeFileSync(f, readFileSync(f, 'utf8') + 'partitons: 12\n');
  const problems = problemsOf(c);
  assert.equal(problems.length, 1);
  assert.match(problems[0]!, /order_created\/event\.yaml: .*partitons/);
});

test('a broken schema is reported with its file and the problem', () => {
  const c = copyCatalog('broken');
  writeFileSync(join(c, 'order_created', 'v2.schema.json'), '{ "type": "object", ');
  const schemaFile = join(c, 'delivery_status_changed', 'v1.schema.json');
  const schema = JSON.parse(readFileSync(schemaFile, 'utf8')) as Record<string, unknown>;
  writeFileSync(
    schemaFile,
    JSON.stringify({
      ...schema,
      $id: 'urn:sluice:schema:delivery_status_changed:v7',
      properties: {
        ...(schema.properties as object),
        extra: { oneOf: [{ type: 'string' }] },
        BadName: { type: 'string' },
      },
    }),
  );
  const problems = problemsOf(c).join('\n');
  assert.match(problems, /order_created\/v2\.schema\.json: not valid JSON/);
  assert.match(
    problems,
    /delivery_status_changed\/v1\.schema\.json: "\$id" must be "urn:sluice:schema:delivery_status_changed:v1"/,
  );
  assert.match(problems, /\/extra: keyword "oneOf" is not supported/);
  assert.match(problems, /\/BadName: top-level property names become columns and must be lower snake_case/);
});

test('versions must run without gaps, and the partition key must be a required scalar', () => {
  const c = copyCatalog('gaps');
  cpSync(join(c, 'order_created', 'v2.schema.json'), join(c, 'order_created', 'v4.schema.json'));
  const yaml = join(c, 'delivery_status_changed', 'event.yaml');
  writeFileSync(
    yaml,
    readFileSync(yaml, 'utf8').replace('partitionKey: /delivery_id', 'partitionKey: /dasher_id'),
  );
  const problems = problemsOf(c).join('\n');
  assert.match(problems, /order_created\/v3\.schema\.json: missing: versions must run 1, 2, 3/);
  assert.match(
    problems,
    /delivery_status_changed\/v1\.schema\.json: partitionKey \/dasher_id: "dasher_id" must be required/,
  );
});
