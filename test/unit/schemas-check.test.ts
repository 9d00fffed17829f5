// `npm run schemas:check` as CI runs it: a subprocess on a copy of the catalog with one change.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { projectRoot } from '../../lib/paths.js';
import { defaultCatalogDir } from '../../schemas/catalog.js';
import { lockFileOf } from '../../schemas/check.js';

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-check-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

function copy(name: string): string {
  const target = join(dir, name, 'events');
  cpSync(defaultCatalogDir(), target, { recursive: true });
  cpSync(lockFileOf(defaultCatalogDir()), lockFileOf(target));
  return target;
}

function check(catalog: string, ...args: string[]): { code: number | null; out: string } {
  const r = spawnSync(
    process.execPath,
    ['--import', 'tsx', 'schemas/check.ts', '--catalog', catalog, ...args],
    {
      cwd: projectRoot(),
      encoding: 'utf8',
    },
  );
  return { code: r.status, out: r.stdout + r.stderr };
}

type Schema = { $id: string; required: string[]; properties: Record<string, unknown> };
const readSchema = (f: string): Schema => JSON.parse(readFileSync(f, 'utf8')) as Schema;

test('the shipped catalog passes', () => {
  const r = check(defaultCatalogDir());
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /✓ v2 is BACKWARD compatible/);
  assert.match(r.out, /schemas: ok$/m);
});

test('a new version that breaks the mode fails, naming the field and the rule', () => {
  const c = copy('breaking');
  const v3 = readSchema(join(c, 'order_created', 'v2.schema.json'));
  v3.$id = 'urn:sluice:schema:order_created:v3';
  v3.properties.loyalty_tier = { type: 'string' };
  v3.required.push('loyalty_tier');
  v3.properties.subtotal_cents = { type: 'string' };
  writeFileSync(join(c, 'order_created', 'v3.schema.json'), JSON.stringify(v3, null, 2));
  const r = check(c, '--release');
  assert.equal(r.code, 1);
  assert.match(r.out, /✖ v3 vs v2: \/loyalty_tier: .*\[REQUIRED_PROPERTY_ADDED\]/);
  assert.match(r.out, /✖ v3 vs v2: \/subtotal_cents: .*\[TYPE_CHANGED\]/);
  assert.match(r.out, /v3 needs a new warehouse table: subtotal_cents/);
  assert.match(r.out, /schemas: FAILED$/m);
});

test('a compatible new version passes once released into the lock file', () => {
  const c = copy('compatible');
  const v3 = readSchema(join(c, 'order_created', 'v2.schema.json'));
  v3.$id = 'urn:sluice:schema:order_created:v3';
  v3.properties.loyalty_tier = { type: 'string', enum: ['none', 'dashpass'] };
  writeFileSync(join(c, 'order_created', 'v3.schema.json'), JSON.stringify(v3, null, 2));
  const unreleased = check(c);
  assert.equal(unreleased.code, 1);
  assert.match(unreleased.out, /new version\(s\) order_created\/v3 not yet in .*--release/);
  assert.equal(check(c, '--release').code, 0);
  const released = check(c);
  assert.equal(released.code, 0, released.out);
  assert.match(released.out, /warehouse order_created: add column loyalty_tier VARCHAR/);
});

test('editing a released version in place fails, but reformatting it does not', () => {
  const c = copy('edited');
  const f = join(c, 'order_created', 'v1.schema.json');
  const v1 = readSchema(f);
  writeFileSync(f, JSON.stringify(v1)); // same content, other whitespace
  assert.equal(check(c).code, 0);
  v1.properties.currency = { type: 'string', enum: ['USD'] };
  writeFileSync(f, JSON.stringify(v1, null, 2));
  const r = check(c);
  assert.equal(r.code, 1);
  assert.match(r.out, /✖ order_created\/v1 was edited after release: released versions are immutable/);
});
