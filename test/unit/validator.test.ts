import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadCatalog } from '../../schemas/catalog.js';
import { Ajv2020 } from 'ajv/dist/2020.js';
import * as ajvFormats from 'ajv-formats';
import { EventValidator, isCanonicalUtcDateTime } from '../../schemas/validator.js';

const addFormats = ajvFormats.default.default;

const validator = new EventValidator(loadCatalog());

const order = {
  order_id: '4b5e2f1c-8f7a-4a8e-9d7e-2a1c3b4d5e6f',
  customer_id: 'c-1',
  store_id: 's-9',
  items: [{ sku: 'burrito', quantity: 2, unit_price_cents: 899 }],
  subtotal_cents: 1798,
  currency: 'USD',
  placed_at: '2026-11-25T12:00:00Z',
};

test('a valid event passes against the latest version, and names the version that validated it', () => {
  const r = validator.validate('order_created', { ...order, tip_cents: 300, promo_code: null });
  assert.equal(r.ok, true);
  assert.equal(r.ok && r.version.id, 'urn:sluice:schema:order_created:v2');
});

test('an explicit older version is used when asked, and its closed content model applies', () => {
  assert.equal(validator.validate('order_created', order, 1).ok, true);
  const r = validator.validate('order_created', { ...order, tip_cents: 300 }, 1);
  assert.equal(r.ok, false);
  assert.deepEqual(!r.ok && r.errors.map((e) => [e.path, e.rule]), [['/tip_cents', 'additionalProperties']]);
});

test('every failing field is reported with path, rule, expected and got', () => {
  const r = validator.validate('order_created', {
    ...order,
    store_id: undefined,
    items: [{ sku: 'x', quantity: 0, unit_price_cents: 1.5 }],
    currency: 'GBP',
    placed_at: 'yesterday',
  });
  assert.equal(r.ok, false);
  if (r.ok) return;
  assert.equal(r.errorCode, 'SCHEMA_VALIDATION_FAILED');
  assert.deepEqual(
    r.errors.map((e) => ({ path: e.path, rule: e.rule, expected: e.expected, got: e.got })),
    [
      { path: '/store_id', rule: 'required', expected: undefined, got: undefined },
      { path: '/items/0/quantity', rule: 'minimum', expected: '>= 1', got: 0 },
      { path: '/items/0/unit_price_cents', rule: 'type', expected: 'integer', got: 1.5 },
      { path: '/currency', rule: 'enum', expected: ['USD', 'CAD', 'EUR', 'AUD', 'NZD'], got: 'GBP' },
      { path: '/placed_at', rule: 'format', expected: 'date-time', got: 'yesterday' },
    ],
  );
  assert.match(r.message, /^order_created v2: 5 field error\(s\): \/store_id is required but missing/);
});

test('a long bad value is echoed shortened, and objects are not echoed at all', () => {
  const r = validator.validate('order_created', { ...order, customer_id: 'x'.repeat(5000), items: 'none' });
  assert.equal(r.ok, false);
  if (r.ok) return;
  const byPath = Object.fromEntries(r.errors.map((e) => [e.path, e.got]));
  assert.equal((byPath['/customer_id'] as string).length, 80);
  assert.equal(byPath['/items'], 'none');
});

test('unknown types and versions get their own error codes and say what exists', () => {
  const t = validator.validate('order_placed', order);
  assert.equal(!t.ok && t.errorCode, 'UNKNOWN_EVENT_TYPE');
  assert.match(
    !t.ok ? t.message : '',
    /known types: delivery_status_changed, mobile_page_load, order_created/,
  );
  const v = validator.validate('order_created', order, 3);
  assert.equal(!v.ok && v.errorCode, 'UNKNOWN_SCHEMA_VERSION');
  assert.match(!v.ok ? v.message : '', /versions: 1, 2/);
});

test('an open content model keeps extra fields valid', () => {
  const r = validator.validate('mobile_page_load', {
    session_id: 's',
    page: '/store/42',
    load_ms: 812.5,
    occurred_at: '2026-11-25T12:00:00.123+01:00',
    battery_level: 0.4,
  });
  assert.equal(r.ok, true);
});

test('the date-time check the pipeline runs agrees with ajv-formats on every string, its shortcut never says yes alone', () => {
  const ajv = new Ajv2020({ strict: true });
  addFormats(ajv);
  const byAjv = ajv.compile({ type: 'string', format: 'date-time' });
  const check = validator.stringFormat('date-time');
  assert.ok(check);
  const strings: string[] = [];
  for (const year of ['0000', '1900', '2000', '2023', '2024', '9999'])
    for (let month = 0; month <= 13; month++)
      for (const day of [0, 1, 28, 29, 30, 31, 32]) {
        const date = `${year}-${String(month).padStart(2, '0')}-${String(day).padStart(2, '0')}`;
        for (const time of [
          'T00:00:00Z',
          'T23:59:59.999999Z',
          'T23:59:60Z',
          'T24:00:00Z',
          't12:00:00z',
          'T12:00:00+01:00',
          'T12:00:00',
        ])
          strings.push(date + time);
      }
  strings.push(
    '',
    'Z',
    '2026-11-25T12:00:00.Z',
    '2026-11-25T12:00:00.1234567890Z',
    '2026-11-25 12:00:00Z',
    '2026-1-25T12:00:00Z',
  );
  let shortcut = 0;
  for (const s of strings) {
    assert.equal(check(s), byAjv(s), s);
    if (isCanonicalUtcDateTime(s)) {
      shortcut++;
      assert.ok(byAjv(s), `the shortcut took ${s}, which ajv-formats refuses`);
    }
  }
  assert.ok(shortcut > 100);
});
