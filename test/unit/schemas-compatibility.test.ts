// Schema compatibility: one compatible and one incompatible pair (at least) for every rule, every
// mode, generated edits of a real catalog schema with known verdicts, and the shipped catalog itself.
import assert from 'node:assert/strict';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { parse } from 'yaml';
import { projectRoot } from '../../lib/paths.js';
import {
  checkCompatibility,
  compatibilityModes,
  readerCanRead,
  type CompatibilityMode,
  type CompatibilityRule,
  type Violation,
} from '../../schemas/compatibility.js';
import type { JsonSchema, JsonType } from '../../schemas/json-schema.js';

const eventsDir = join(projectRoot(), 'schemas', 'events');
const loadSchema = (event: string, version: number): JsonSchema =>
  JSON.parse(readFileSync(join(eventsDir, event, `v${version}.schema.json`), 'utf8')) as JsonSchema;

/** Violations as sorted `RULE /path` strings: compact to assert, and order-independent. */
const codes = (violations: readonly Pick<Violation, 'rule' | 'path'>[]): string[] =>
  violations.map((v) => `${v.rule} ${v.path}`).sort();

const closed = (properties: Record<string, JsonSchema>, extra: JsonSchema = {}): JsonSchema => ({
  type: 'object',
  additionalProperties: false,
  properties,
  ...extra,
});
const open = (properties: Record<string, JsonSchema>, extra: JsonSchema = {}): JsonSchema => ({
  type: 'object',
  properties,
  ...extra,
});

interface Case {
  name: string;
  writer: JsonSchema;
  reader: JsonSchema;
  /** `RULE /path` for each expected violation; empty = the reader can read everything the writer writes. */
  expect: string[];
}

// A Record keyed by the rule type, so adding a rule without fixtures fails to compile.
const ruleCases: Record<CompatibilityRule, Case[]> = {
  TYPE_NARROWED: [
    {
      name: 'null dropped',
      writer: { type: ['string', 'null'] },
      reader: { type: 'string' },
      expect: ['TYPE_NARROWED /'],
    },
    {
      name: 'number → integer',
      writer: { type: 'number' },
      reader: { type: 'integer' },
      expect: ['TYPE_NARROWED /'],
    },
    { name: 'untyped → string', writer: {}, reader: { type: 'string' }, expect: ['TYPE_NARROWED /'] },
    {
      name: 'integer → number (widened)',
      writer: { type: 'integer' },
      reader: { type: 'number' },
      expect: [],
    },
    { name: 'null added', writer: { type: 'string' }, reader: { type: ['string', 'null'] }, expect: [] },
    { name: 'typed → untyped', writer: { type: 'boolean' }, reader: {}, expect: [] },
    {
      name: 'number enum holding only integers → integer',
      writer: { type: 'number', enum: [1, 2] },
      reader: { type: 'integer' },
      expect: [],
    },
    {
      name: 'nullable type whose enum never holds null → non-null',
      writer: { type: ['string', 'null'], enum: ['a', 'b'] },
      reader: { type: 'string' },
      expect: [],
    },
  ],
  TYPE_CHANGED: [
    {
      name: 'string → integer reports only the type change',
      writer: { type: 'string', maxLength: 5 },
      reader: { type: 'integer', minimum: 3 },
      expect: ['TYPE_CHANGED /'],
    },
    { name: 'object → array', writer: open({}), reader: { type: 'array' }, expect: ['TYPE_CHANGED /'] },
    { name: 'same type', writer: { type: 'array' }, reader: { type: 'array' }, expect: [] },
  ],
  ENUM_NARROWED: [
    {
      name: 'value removed',
      writer: { type: 'string', enum: ['a', 'b', 'c'] },
      reader: { type: 'string', enum: ['a', 'b'] },
      expect: ['ENUM_NARROWED /'],
    },
    {
      name: 'enum added where there was none',
      writer: { type: 'string' },
      reader: { type: 'string', enum: ['a'] },
      expect: ['ENUM_NARROWED /'],
    },
    {
      name: 'boolean restricted to one value',
      writer: { type: 'boolean' },
      reader: { type: 'boolean', enum: [true] },
      expect: ['ENUM_NARROWED /'],
    },
    {
      name: 'value added',
      writer: { type: 'string', enum: ['a', 'b'] },
      reader: { type: 'string', enum: ['a', 'b', 'c'] },
      expect: [],
    },
    {
      name: 'const within the new enum',
      writer: { type: 'string', const: 'a' },
      reader: { type: 'string', enum: ['a', 'b'] },
      expect: [],
    },
    {
      name: 'boolean enumerated in full',
      writer: { type: 'boolean' },
      reader: { type: 'boolean', enum: [false, true] },
      expect: [],
    },
    { name: 'enum removed', writer: { type: 'string', enum: ['a'] }, reader: { type: 'string' }, expect: [] },
    {
      name: 'the dropped value was one the writer could never write',
      writer: { type: 'string', enum: ['a', 'bb'], maxLength: 1 },
      reader: { type: 'string', enum: ['a'] },
      expect: [],
    },
  ],
  CONST_CHANGED: [
    { name: 'const changed', writer: { const: 'a' }, reader: { const: 'b' }, expect: ['CONST_CHANGED /'] },
    { name: 'const added', writer: { type: 'string' }, reader: { const: 'a' }, expect: ['CONST_CHANGED /'] },
    { name: 'const kept', writer: { const: 'a' }, reader: { const: 'a' }, expect: [] },
    { name: 'const removed', writer: { const: 'a' }, reader: { type: 'string' }, expect: [] },
  ],
  REQUIRED_PROPERTY_ADDED: [
    {
      name: 'existing optional property becomes required',
      writer: closed({ a: { type: 'string' } }),
      reader: closed({ a: { type: 'string' } }, { required: ['a'] }),
      expect: ['REQUIRED_PROPERTY_ADDED /a'],
    },
    {
      name: 'new required property (closed writer)',
      writer: closed({ a: { type: 'string' } }),
      reader: closed({ a: { type: 'string' }, b: { type: 'string' } }, { required: ['b'] }),
      expect: ['REQUIRED_PROPERTY_ADDED /b'],
    },
    {
      name: 'writer default guarantees the property',
      writer: closed({ a: { type: 'string', default: 'x' } }),
      reader: closed({ a: { type: 'string' } }, { required: ['a'] }),
      expect: [],
    },
    {
      name: 'requirement dropped',
      writer: closed({ a: { type: 'string' } }, { required: ['a'] }),
      reader: closed({ a: { type: 'string' } }),
      expect: [],
    },
  ],
  PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL: [
    {
      name: 'closed reader drops a property',
      writer: closed({ a: { type: 'string' }, b: { type: 'string' } }),
      reader: closed({ a: { type: 'string' } }),
      expect: ['PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL /b'],
    },
    {
      name: 'open reader drops a property',
      writer: closed({ a: { type: 'string' }, b: { type: 'string' } }),
      reader: open({ a: { type: 'string' } }),
      expect: [],
    },
  ],
  PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL: [
    {
      name: 'constrained property added over an open writer',
      writer: open({ a: { type: 'string' } }),
      reader: open({ a: { type: 'string' }, b: { type: 'integer' } }),
      expect: ['PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL /b'],
    },
    {
      name: 'property added over a closed writer',
      writer: closed({ a: { type: 'string' } }),
      reader: closed({ a: { type: 'string' }, b: { type: 'integer' } }),
      expect: [],
    },
    {
      name: 'unconstrained property added over an open writer',
      writer: open({ a: { type: 'string' } }),
      reader: open({ a: { type: 'string' }, b: { description: 'anything' } }),
      expect: [],
    },
  ],
  ADDITIONAL_PROPERTIES_NARROWED: [
    {
      name: 'open (absent) → closed',
      writer: open({ a: { type: 'string' } }),
      reader: closed({ a: { type: 'string' } }),
      expect: ['ADDITIONAL_PROPERTIES_NARROWED /'],
    },
    {
      name: 'additionalProperties: true → false',
      writer: open({ a: { type: 'string' } }, { additionalProperties: true }),
      reader: closed({ a: { type: 'string' } }),
      expect: ['ADDITIONAL_PROPERTIES_NARROWED /'],
    },
    {
      name: 'closed → open',
      writer: closed({ a: { type: 'string' } }),
      reader: open({ a: { type: 'string' } }),
      expect: [],
    },
  ],
  MIN_LENGTH_INCREASED: [
    {
      name: 'raised',
      writer: { type: 'string', minLength: 1 },
      reader: { type: 'string', minLength: 2 },
      expect: ['MIN_LENGTH_INCREASED /'],
    },
    {
      name: 'added',
      writer: { type: 'string' },
      reader: { type: 'string', minLength: 1 },
      expect: ['MIN_LENGTH_INCREASED /'],
    },
    {
      name: 'lowered',
      writer: { type: 'string', minLength: 2 },
      reader: { type: 'string', minLength: 1 },
      expect: [],
    },
  ],
  MAX_LENGTH_DECREASED: [
    {
      name: 'lowered',
      writer: { type: 'string', maxLength: 64 },
      reader: { type: 'string', maxLength: 32 },
      expect: ['MAX_LENGTH_DECREASED /'],
    },
    {
      name: 'added',
      writer: { type: 'string' },
      reader: { type: 'string', maxLength: 10 },
      expect: ['MAX_LENGTH_DECREASED /'],
    },
    {
      name: 'an enum value is too long',
      writer: { type: 'string', enum: ['USD', 'EURO'] },
      reader: { type: 'string', maxLength: 3 },
      expect: ['MAX_LENGTH_DECREASED /'],
    },
    {
      name: 'raised',
      writer: { type: 'string', maxLength: 32 },
      reader: { type: 'string', maxLength: 64 },
      expect: [],
    },
    { name: 'removed', writer: { type: 'string', maxLength: 32 }, reader: { type: 'string' }, expect: [] },
    {
      name: 'every enum value fits',
      writer: { type: 'string', enum: ['USD', 'CAD'] },
      reader: { type: 'string', maxLength: 3 },
      expect: [],
    },
    {
      name: 'counted in code points',
      writer: { type: 'string', enum: ['😀😀'] },
      reader: { type: 'string', maxLength: 2 },
      expect: [],
    },
  ],
  PATTERN_CHANGED: [
    {
      name: 'added',
      writer: { type: 'string' },
      reader: { type: 'string', pattern: '^[a-z]+$' },
      expect: ['PATTERN_CHANGED /'],
    },
    {
      name: 'changed',
      writer: { type: 'string', pattern: '^[a-z]+$' },
      reader: { type: 'string', pattern: '^[a-z0-9]+$' },
      expect: ['PATTERN_CHANGED /'],
    },
    {
      name: 'an enum value does not match',
      writer: { type: 'string', enum: ['ab', 'cd'] },
      reader: { type: 'string', pattern: '^a' },
      expect: ['PATTERN_CHANGED /'],
    },
    {
      name: 'unchanged',
      writer: { type: 'string', pattern: '^[a-z]+$' },
      reader: { type: 'string', pattern: '^[a-z]+$' },
      expect: [],
    },
    {
      name: 'removed',
      writer: { type: 'string', pattern: '^[a-z]+$' },
      reader: { type: 'string' },
      expect: [],
    },
    {
      name: 'every enum value matches',
      writer: { type: 'string', enum: ['ab', 'cd'] },
      reader: { type: 'string', pattern: '^[a-z]{2}$' },
      expect: [],
    },
  ],
  FORMAT_CHANGED: [
    {
      name: 'added',
      writer: { type: 'string' },
      reader: { type: 'string', format: 'uuid' },
      expect: ['FORMAT_CHANGED /'],
    },
    {
      name: 'changed',
      writer: { type: 'string', format: 'date' },
      reader: { type: 'string', format: 'date-time' },
      expect: ['FORMAT_CHANGED /'],
    },
    {
      name: 'unchanged',
      writer: { type: 'string', format: 'uuid' },
      reader: { type: 'string', format: 'uuid' },
      expect: [],
    },
    { name: 'removed', writer: { type: 'string', format: 'uuid' }, reader: { type: 'string' }, expect: [] },
    {
      name: 'on a type the writer never writes',
      writer: { type: 'integer' },
      reader: { type: ['integer', 'string'], format: 'uuid' },
      expect: [],
    },
  ],
  MINIMUM_INCREASED: [
    {
      name: 'raised',
      writer: { type: 'integer', minimum: 0 },
      reader: { type: 'integer', minimum: 1 },
      expect: ['MINIMUM_INCREASED /'],
    },
    {
      name: 'added',
      writer: { type: 'number' },
      reader: { type: 'number', minimum: 0 },
      expect: ['MINIMUM_INCREASED /'],
    },
    {
      name: 'an enum value is below it',
      writer: { type: 'integer', enum: [0, 5] },
      reader: { type: 'integer', minimum: 1 },
      expect: ['MINIMUM_INCREASED /'],
    },
    {
      name: 'lowered',
      writer: { type: 'integer', minimum: 1 },
      reader: { type: 'integer', minimum: 0 },
      expect: [],
    },
    {
      name: 'integers: exclusiveMinimum 0 → minimum 1 is the same set',
      writer: { type: 'integer', exclusiveMinimum: 0 },
      reader: { type: 'integer', minimum: 1 },
      expect: [],
    },
  ],
  MAXIMUM_DECREASED: [
    {
      name: 'lowered',
      writer: { type: 'number', maximum: 100 },
      reader: { type: 'number', maximum: 99 },
      expect: ['MAXIMUM_DECREASED /'],
    },
    {
      name: 'added',
      writer: { type: 'integer' },
      reader: { type: 'integer', maximum: 10 },
      expect: ['MAXIMUM_DECREASED /'],
    },
    {
      name: 'raised',
      writer: { type: 'number', maximum: 99 },
      reader: { type: 'number', maximum: 100 },
      expect: [],
    },
    {
      name: 'integers: maximum 9.5 → maximum 9 is the same set',
      writer: { type: 'integer', maximum: 9.5 },
      reader: { type: 'integer', maximum: 9 },
      expect: [],
    },
  ],
  EXCLUSIVE_MINIMUM_INCREASED: [
    {
      name: 'minimum 0 → exclusiveMinimum 0 (numbers)',
      writer: { type: 'number', minimum: 0 },
      reader: { type: 'number', exclusiveMinimum: 0 },
      expect: ['EXCLUSIVE_MINIMUM_INCREASED /'],
    },
    {
      name: 'raised',
      writer: { type: 'number', exclusiveMinimum: 0 },
      reader: { type: 'number', exclusiveMinimum: 1 },
      expect: ['EXCLUSIVE_MINIMUM_INCREASED /'],
    },
    {
      name: 'exclusiveMinimum 0 → minimum 0',
      writer: { type: 'number', exclusiveMinimum: 0 },
      reader: { type: 'number', minimum: 0 },
      expect: [],
    },
    {
      name: 'minimum 1 → exclusiveMinimum 0.5',
      writer: { type: 'number', minimum: 1 },
      reader: { type: 'number', exclusiveMinimum: 0.5 },
      expect: [],
    },
  ],
  EXCLUSIVE_MAXIMUM_DECREASED: [
    {
      name: 'maximum 10 → exclusiveMaximum 10 (numbers)',
      writer: { type: 'number', maximum: 10 },
      reader: { type: 'number', exclusiveMaximum: 10 },
      expect: ['EXCLUSIVE_MAXIMUM_DECREASED /'],
    },
    {
      name: 'an enum value reaches it',
      writer: { type: 'integer', enum: [1, 10] },
      reader: { type: 'integer', exclusiveMaximum: 10 },
      expect: ['EXCLUSIVE_MAXIMUM_DECREASED /'],
    },
    {
      name: 'integers: maximum 9 → exclusiveMaximum 10 is the same set',
      writer: { type: 'integer', maximum: 9 },
      reader: { type: 'integer', exclusiveMaximum: 10 },
      expect: [],
    },
    {
      name: 'exclusiveMaximum removed',
      writer: { type: 'number', exclusiveMaximum: 10 },
      reader: { type: 'number' },
      expect: [],
    },
  ],
  MULTIPLE_OF_CHANGED: [
    {
      name: '2 → 4',
      writer: { type: 'integer', multipleOf: 2 },
      reader: { type: 'integer', multipleOf: 4 },
      expect: ['MULTIPLE_OF_CHANGED /'],
    },
    {
      name: 'added on numbers',
      writer: { type: 'number' },
      reader: { type: 'number', multipleOf: 0.5 },
      expect: ['MULTIPLE_OF_CHANGED /'],
    },
    {
      name: '4 → 2',
      writer: { type: 'integer', multipleOf: 4 },
      reader: { type: 'integer', multipleOf: 2 },
      expect: [],
    },
    {
      name: '0.3 → 0.1 (no float drift)',
      writer: { type: 'number', multipleOf: 0.3 },
      reader: { type: 'number', multipleOf: 0.1 },
      expect: [],
    },
    {
      name: 'multipleOf 1 added on integers',
      writer: { type: 'integer' },
      reader: { type: 'integer', multipleOf: 1 },
      expect: [],
    },
  ],
  MIN_ITEMS_INCREASED: [
    {
      name: 'raised',
      writer: { type: 'array', minItems: 1 },
      reader: { type: 'array', minItems: 2 },
      expect: ['MIN_ITEMS_INCREASED /'],
    },
    {
      name: 'lowered',
      writer: { type: 'array', minItems: 2 },
      reader: { type: 'array', minItems: 1 },
      expect: [],
    },
  ],
  MAX_ITEMS_DECREASED: [
    {
      name: 'lowered',
      writer: { type: 'array', maxItems: 200 },
      reader: { type: 'array', maxItems: 100 },
      expect: ['MAX_ITEMS_DECREASED /'],
    },
    {
      name: 'added',
      writer: { type: 'array' },
      reader: { type: 'array', maxItems: 100 },
      expect: ['MAX_ITEMS_DECREASED /'],
    },
    { name: 'removed', writer: { type: 'array', maxItems: 100 }, reader: { type: 'array' }, expect: [] },
  ],
  UNIQUE_ITEMS_ADDED: [
    {
      name: 'added',
      writer: { type: 'array' },
      reader: { type: 'array', uniqueItems: true },
      expect: ['UNIQUE_ITEMS_ADDED /'],
    },
    { name: 'removed', writer: { type: 'array', uniqueItems: true }, reader: { type: 'array' }, expect: [] },
  ],
  MIN_PROPERTIES_INCREASED: [
    {
      name: 'added',
      writer: open({}),
      reader: open({}, { minProperties: 1 }),
      expect: ['MIN_PROPERTIES_INCREASED /'],
    },
    {
      name: 'lowered',
      writer: open({}, { minProperties: 2 }),
      reader: open({}, { minProperties: 1 }),
      expect: [],
    },
  ],
  MAX_PROPERTIES_DECREASED: [
    {
      name: 'lowered',
      writer: open({}, { maxProperties: 5 }),
      reader: open({}, { maxProperties: 4 }),
      expect: ['MAX_PROPERTIES_DECREASED /'],
    },
    {
      name: 'raised',
      writer: open({}, { maxProperties: 4 }),
      reader: open({}, { maxProperties: 5 }),
      expect: [],
    },
  ],
};

describe('readerCanRead: one fixture pair per rule', () => {
  for (const [rule, cases] of Object.entries(ruleCases)) {
    for (const c of cases) {
      test(`${rule}: ${c.name} → ${c.expect.length ? 'incompatible' : 'compatible'}`, () => {
        assert.deepEqual(codes(readerCanRead(c.reader, c.writer)), [...c.expect].sort());
      });
    }
  }

  test('every rule has an incompatible and a compatible fixture', () => {
    for (const [rule, cases] of Object.entries(ruleCases)) {
      assert.ok(
        cases.some((c) => c.expect.some((e) => e.startsWith(`${rule} `))),
        `${rule} has no failing fixture`,
      );
      assert.ok(
        cases.some((c) => c.expect.length === 0),
        `${rule} has no passing fixture`,
      );
    }
  });

  test('a schema can always read its own data', () => {
    for (const c of Object.values(ruleCases).flat()) {
      assert.deepEqual(readerCanRead(c.writer, c.writer), [], c.name);
      assert.deepEqual(readerCanRead(c.reader, c.reader), [], c.name);
    }
  });
});

describe('readerCanRead: recursion and paths', () => {
  const address = (city: JsonSchema): JsonSchema =>
    closed({ delivery_address: closed({ city, postal_code: { type: 'string' } }, { required: ['city'] }) });
  const lineItems = (quantity: JsonSchema): JsonSchema =>
    closed({ items: { type: 'array', items: closed({ sku: { type: 'string' }, quantity }) } });

  test('nested object properties are checked at their own path', () => {
    const violations = readerCanRead(
      address({ type: 'string', maxLength: 64 }),
      address({ type: 'string', maxLength: 128 }),
    );
    assert.deepEqual(codes(violations), ['MAX_LENGTH_DECREASED /delivery_address/city']);
  });

  test('array elements are checked under `[]`', () => {
    assert.deepEqual(codes(readerCanRead(lineItems({ type: 'integer' }), lineItems({ type: 'number' }))), [
      'TYPE_NARROWED /items/[]/quantity',
    ]);
    assert.deepEqual(readerCanRead(lineItems({ type: 'number' }), lineItems({ type: 'integer' })), []);
  });

  test('a writer without `items` may hold anything in its arrays', () => {
    const reader = closed({ tags: { type: 'array', items: { type: 'string' } } });
    const writer = closed({ tags: { type: 'array' } });
    assert.deepEqual(codes(readerCanRead(reader, writer)), ['TYPE_NARROWED /tags/[]']);
    assert.deepEqual(readerCanRead(writer, reader), []);
  });

  test('several breaks are all reported, each at its own path', () => {
    const writer = closed(
      { a: { type: 'string', maxLength: 10 }, b: { type: 'integer' }, c: { type: 'string' } },
      { required: ['a'] },
    );
    const reader = closed(
      { a: { type: 'string', maxLength: 5 }, b: { type: 'integer', minimum: 0 }, d: { type: 'string' } },
      { required: ['a', 'd'] },
    );
    assert.deepEqual(codes(readerCanRead(reader, writer)), [
      'MAX_LENGTH_DECREASED /a',
      'MINIMUM_INCREASED /b',
      'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL /c',
      'REQUIRED_PROPERTY_ADDED /d',
    ]);
  });

  test('property names that look like Object.prototype members are ordinary names', () => {
    // Parsed from JSON, as catalog schemas are: the keys are own properties named like prototype members.
    const writer = JSON.parse(
      '{"type":"object","properties":{"constructor":{"type":"string"}}}',
    ) as JsonSchema;
    const reader = closed(JSON.parse('{"toString":{"type":"string"}}') as Record<string, JsonSchema>);
    assert.deepEqual(codes(readerCanRead(reader, writer)), [
      'ADDITIONAL_PROPERTIES_NARROWED /',
      'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL /toString',
      'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL /constructor',
    ]);
  });

  test('path segments are escaped like JSON pointers', () => {
    const writer = closed({ 'a/b': { type: 'string' } });
    assert.deepEqual(codes(readerCanRead(closed({}), writer)), [
      'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL /a~1b',
    ]);
  });
});

describe('messages', () => {
  test('name the field, the change, both versions and the direction', () => {
    const v1 = closed({ tip_cents: { type: 'integer' } });
    const v2 = closed({ tip_cents: { type: 'integer' } }, { required: ['tip_cents'] });
    const [backward] = checkCompatibility('BACKWARD', v2, [v1]);
    assert.equal(
      backward?.message,
      '/tip_cents: property is required by the new schema but version 1 did not require it, so version 1 data without it would be rejected (BACKWARD)',
    );
    const [forward] = checkCompatibility('FORWARD', v1, [v2]);
    assert.equal(forward?.against, 1);
    assert.equal(
      forward?.message,
      '/tip_cents: property is required by version 1 but the new schema does not require it, so data written with the new schema without it would be rejected (FORWARD)',
    );
  });

  test('every message starts with its path and says what would be rejected', () => {
    for (const c of Object.values(ruleCases).flat()) {
      for (const v of readerCanRead(c.reader, c.writer)) {
        assert.ok(v.message.startsWith(`${v.path}: `), v.message);
        assert.match(v.message, /would be rejected/, v.message);
      }
    }
  });

  test('tightened constraints show both values', () => {
    const [v] = readerCanRead({ type: 'string', maxLength: 32 }, { type: 'string', maxLength: 64 });
    assert.match(v?.message ?? '', /maxLength is 32 in the reader schema but 64 in the writer schema/);
    const [n] = readerCanRead({ type: 'number' }, { type: ['number', 'null'] });
    assert.match(n?.message ?? '', /holding null/);
  });
});

describe('checkCompatibility: modes', () => {
  const name = (maxLength: number): JsonSchema =>
    closed({ name: { type: 'string', maxLength } }, { required: ['name'] });
  const status = (...values: string[]): JsonSchema =>
    closed({ status: { type: 'string', enum: values } }, { required: ['status'] });
  const verdicts = (candidate: JsonSchema, earlier: JsonSchema[]): Record<CompatibilityMode, string[]> =>
    Object.fromEntries(
      compatibilityModes.map((m) => [
        m,
        checkCompatibility(m, candidate, earlier).map((v) => `${v.rule} v${v.against}`),
      ]),
    ) as Record<CompatibilityMode, string[]>;

  test('compatibilityModes lists the seven Confluent modes', () => {
    assert.deepEqual([...compatibilityModes].sort(), [
      'BACKWARD',
      'BACKWARD_TRANSITIVE',
      'FORWARD',
      'FORWARD_TRANSITIVE',
      'FULL',
      'FULL_TRANSITIVE',
      'NONE',
    ]);
  });

  test('a tightened constraint breaks BACKWARD and FULL only', () => {
    assert.deepEqual(verdicts(name(32), [name(64)]), {
      NONE: [],
      BACKWARD: ['MAX_LENGTH_DECREASED v1'],
      BACKWARD_TRANSITIVE: ['MAX_LENGTH_DECREASED v1'],
      FORWARD: [],
      FORWARD_TRANSITIVE: [],
      FULL: ['MAX_LENGTH_DECREASED v1'],
      FULL_TRANSITIVE: ['MAX_LENGTH_DECREASED v1'],
    });
  });

  test('a loosened constraint breaks FORWARD and FULL only', () => {
    assert.deepEqual(verdicts(name(64), [name(32)]), {
      NONE: [],
      BACKWARD: [],
      BACKWARD_TRANSITIVE: [],
      FORWARD: ['MAX_LENGTH_DECREASED v1'],
      FORWARD_TRANSITIVE: ['MAX_LENGTH_DECREASED v1'],
      FULL: ['MAX_LENGTH_DECREASED v1'],
      FULL_TRANSITIVE: ['MAX_LENGTH_DECREASED v1'],
    });
  });

  test('a change that is neither-way-safe fails both directions under FULL, BACKWARD first', () => {
    const v = checkCompatibility('FULL', status('a', 'c'), [status('a', 'b')]);
    assert.deepEqual(
      v.map((x) => [x.rule, x.path, x.message.endsWith('(BACKWARD)') ? 'BACKWARD' : 'FORWARD']),
      [
        ['ENUM_NARROWED', '/status', 'BACKWARD'],
        ['ENUM_NARROWED', '/status', 'FORWARD'],
      ],
    );
  });

  test('an identical schema passes every mode', () => {
    for (const [mode, found] of Object.entries(verdicts(name(10), [name(10), name(10)])))
      assert.deepEqual(found, [], mode);
  });

  test('no earlier version means nothing to break', () => {
    for (const mode of compatibilityModes) assert.deepEqual(checkCompatibility(mode, name(1), []), [], mode);
  });

  test('BACKWARD checks the latest version only; BACKWARD_TRANSITIVE checks them all', () => {
    // v2 dropped "void" (registered under NONE); v3 reads v2 data but not v1 data holding "void".
    const history = [status('new', 'paid', 'void'), status('new', 'paid')];
    const v3 = status('new', 'paid', 'shipped');
    assert.deepEqual(checkCompatibility('BACKWARD', v3, history), []);
    const transitive = checkCompatibility('BACKWARD_TRANSITIVE', v3, history);
    assert.deepEqual(
      transitive.map((v) => [v.rule, v.path, v.against]),
      [['ENUM_NARROWED', '/status', 1]],
    );
    assert.match(
      transitive[0]?.message ?? '',
      /version 1 allows "void", which the new schema rejects.*\(BACKWARD\)$/,
    );
  });

  test('FORWARD checks the latest version only; FORWARD_TRANSITIVE checks them all', () => {
    // v1 readers know nothing of "shipped", which v3 still writes; v2 readers do.
    const history = [status('new', 'paid'), status('new', 'paid', 'shipped')];
    const v3 = status('new', 'shipped');
    assert.deepEqual(checkCompatibility('FORWARD', v3, history), []);
    assert.deepEqual(
      checkCompatibility('FORWARD_TRANSITIVE', v3, history).map((v) => [v.rule, v.path, v.against]),
      [['ENUM_NARROWED', '/status', 1]],
    );
  });

  test('FULL checks the latest version only; FULL_TRANSITIVE checks them all', () => {
    const history = [status('a', 'b'), status('a', 'b', 'c')];
    const v3 = status('a', 'b', 'c');
    assert.deepEqual(checkCompatibility('FULL', v3, history), []);
    const transitive = checkCompatibility('FULL_TRANSITIVE', v3, history);
    assert.deepEqual(
      transitive.map((v) => [v.rule, v.against, v.message.endsWith('(FORWARD)')]),
      [['ENUM_NARROWED', 1, true]],
    );
  });

  test('transitive violations come oldest version first', () => {
    const v = checkCompatibility('BACKWARD_TRANSITIVE', name(8), [name(64), name(32), name(16)]);
    assert.deepEqual(
      v.map((x) => x.against),
      [1, 2, 3],
    );
    assert.ok(v.every((x) => x.rule === 'MAX_LENGTH_DECREASED'));
  });

  test('NONE accepts even a type change', () => {
    assert.deepEqual(checkCompatibility('NONE', { type: 'string' }, [{ type: 'integer' }]), []);
  });

  test('an unknown mode (a typo in event.yaml) is refused, not treated as NONE', () => {
    assert.throws(
      () => checkCompatibility('BACKWARDS' as CompatibilityMode, name(1), [name(1)]),
      /unknown compatibility mode/,
    );
  });
});

// --- generated edits of a real schema ---------------------------------------------------------

const orderV1 = loadSchema('order_created', 1);

/** The node at a violation-style path: `/items/[]/quantity` → properties.items.items.properties.quantity. */
function nodeAt(schema: JsonSchema, path: string): JsonSchema {
  let node = schema;
  for (const seg of path.split('/').filter(Boolean)) {
    const next = seg === '[]' ? node.items : node.properties?.[seg];
    assert.ok(next, `no node at ${path}`);
    node = next;
  }
  return node;
}

function parentOf(path: string): { parent: string; name: string } {
  const i = path.lastIndexOf('/');
  return { parent: path.slice(0, i) || '/', name: path.slice(i + 1) };
}

/** Every path in the schema with the object nodes and the property nodes listed separately. */
function collect(schema: JsonSchema, path = '/'): { objects: string[]; properties: string[] } {
  const objects: string[] = [];
  const properties: string[] = [];
  const visit = (node: JsonSchema, at: string): void => {
    if (node.properties) {
      objects.push(at);
      for (const [name, child] of Object.entries(node.properties)) {
        const childPath = at === '/' ? `/${name}` : `${at}/${name}`;
        properties.push(childPath);
        visit(child, childPath);
      }
    }
    if (node.items) visit(node.items, `${at}/[]`);
  };
  visit(schema, path);
  return { objects, properties };
}

interface Edit {
  kind: string;
  name: string;
  before: JsonSchema;
  after: JsonSchema;
  backward: string[];
  forward: string[];
}

const typeList = (s: JsonSchema): JsonType[] =>
  s.type === undefined ? [] : Array.isArray(s.type) ? s.type : [s.type];

function edit(base: JsonSchema, path: string, change: (node: JsonSchema) => void): JsonSchema {
  const copy = structuredClone(base);
  change(nodeAt(copy, path));
  return copy;
}

function addNull(base: JsonSchema, path: string): JsonSchema {
  return edit(base, path, (n) => {
    n.type = [...typeList(n), 'null'];
    if (n.enum) n.enum = [...n.enum, null]; // otherwise the enum alone would still exclude null
  });
}

function generateEdits(v1: JsonSchema): Edit[] {
  const { objects, properties } = collect(v1);
  const edits: Edit[] = [];
  const add = (e: Omit<Edit, 'before'> & { before?: JsonSchema }): void =>
    void edits.push({ before: v1, ...e });
  const at = (parent: string, name: string): string => (parent === '/' ? `/${name}` : `${parent}/${name}`);
  const opened = structuredClone(v1);
  for (const o of objects) delete nodeAt(opened, o).additionalProperties;

  for (const o of objects) {
    const note = at(o, 'note');
    add({
      kind: 'add optional property',
      name: `add optional ${note}`,
      after: edit(
        v1,
        o,
        (n) => (n.properties = { ...n.properties, note: { type: 'string', maxLength: 10 } }),
      ),
      backward: [],
      forward: [`PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL ${note}`],
    });
    add({
      kind: 'add required property',
      name: `add required ${note}`,
      after: edit(v1, o, (n) => {
        n.properties = { ...n.properties, note: { type: 'string' } };
        n.required = [...(n.required ?? []), 'note'];
      }),
      backward: [`REQUIRED_PROPERTY_ADDED ${note}`],
      forward: [`PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL ${note}`],
    });
    add({
      kind: 'open content model',
      name: `open ${o}`,
      after: edit(v1, o, (n) => delete n.additionalProperties),
      backward: [],
      forward: [`ADDITIONAL_PROPERTIES_NARROWED ${o}`],
    });
    add({
      kind: 'close content model',
      name: `close ${o}`,
      before: opened,
      after: edit(opened, o, (n) => (n.additionalProperties = false)),
      backward: [`ADDITIONAL_PROPERTIES_NARROWED ${o}`],
      forward: [],
    });
  }

  for (const p of properties) {
    const { parent, name } = parentOf(p);
    const required = nodeAt(v1, parent).required?.includes(name) ?? false;
    const node = nodeAt(v1, p);
    const types = typeList(node);
    add({
      kind: 'remove property',
      name: `remove ${p}`,
      after: edit(v1, parent, (n) => {
        delete n.properties?.[name];
        n.required = n.required?.filter((r) => r !== name);
      }),
      backward: [`PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL ${p}`],
      forward: required ? [`REQUIRED_PROPERTY_ADDED ${p}`] : [],
    });
    add({
      kind: required ? 'make property optional' : 'make property required',
      name: `${required ? 'stop requiring' : 'require'} ${p}`,
      after: edit(v1, parent, (n) => {
        n.required = required ? n.required?.filter((r) => r !== name) : [...(n.required ?? []), name];
      }),
      backward: required ? [] : [`REQUIRED_PROPERTY_ADDED ${p}`],
      forward: required ? [`REQUIRED_PROPERTY_ADDED ${p}`] : [],
    });
    add({
      kind: 'add null',
      name: `add null to ${p}`,
      after: addNull(v1, p),
      backward: [],
      forward: [`TYPE_NARROWED ${p}`],
    });
    add({
      kind: 'drop null',
      name: `drop null from ${p}`,
      before: addNull(v1, p),
      after: v1,
      backward: [`TYPE_NARROWED ${p}`],
      forward: [],
    });
    if (types.includes('integer')) {
      add({
        kind: 'widen integer → number',
        name: `widen ${p} to number`,
        after: edit(v1, p, (n) => (n.type = 'number')),
        backward: [],
        forward: [`TYPE_NARROWED ${p}`],
      });
    }
    if (types.includes('number')) {
      add({
        kind: 'narrow number → integer',
        name: `narrow ${p} to integer`,
        after: edit(v1, p, (n) => (n.type = 'integer')),
        backward: [`TYPE_NARROWED ${p}`],
        forward: [],
      });
    }
    if (node.enum) {
      add({
        kind: 'extend enum',
        name: `extend the enum of ${p}`,
        after: edit(v1, p, (n) => (n.enum = [...(n.enum ?? []), 'ZZZ'])),
        backward: [],
        forward: [`ENUM_NARROWED ${p}`],
      });
      add({
        kind: 'shrink enum',
        name: `shrink the enum of ${p}`,
        after: edit(v1, p, (n) => (n.enum = n.enum?.slice(1))),
        backward: [`ENUM_NARROWED ${p}`],
        forward: [],
      });
    }
    // Limits: tightening breaks old data for new readers (BACKWARD), loosening the reverse (FORWARD).
    const limits = [
      ['maxLength', 'MAX_LENGTH_DECREASED', -1],
      ['minLength', 'MIN_LENGTH_INCREASED', 1],
      ['maximum', 'MAXIMUM_DECREASED', -1],
      ['minimum', 'MINIMUM_INCREASED', 1],
      ['maxItems', 'MAX_ITEMS_DECREASED', -1],
      ['minItems', 'MIN_ITEMS_INCREASED', 1],
    ] as const;
    for (const [keyword, rule, tighter] of limits) {
      const value = node[keyword];
      if (value === undefined) continue;
      add({
        kind: `tighten ${keyword}`,
        name: `tighten ${keyword} of ${p}`,
        after: edit(v1, p, (n) => (n[keyword] = value + tighter)),
        backward: [`${rule} ${p}`],
        forward: [],
      });
      add({
        kind: `loosen ${keyword}`,
        name: `loosen ${keyword} of ${p}`,
        after: edit(v1, p, (n) => (n[keyword] = value - tighter)),
        backward: [],
        forward: [`${rule} ${p}`],
      });
    }
  }
  return edits;
}

describe('generated edits of order_created v1', () => {
  const edits = generateEdits(orderV1);

  test('cover every kind of edit the catalog relies on', () => {
    const kinds = new Set(edits.map((e) => e.kind));
    for (const kind of [
      'add optional property',
      'add required property',
      'make property required',
      'remove property',
      'widen integer → number',
      'narrow number → integer',
      'extend enum',
      'shrink enum',
      'add null',
      'drop null',
      'tighten maxLength',
      'loosen maxLength',
      'open content model',
      'close content model',
    ]) {
      assert.ok(kinds.has(kind), `no generated edit of kind "${kind}"`);
    }
    assert.ok(edits.length > 80, `only ${edits.length} edits generated`);
  });

  for (const e of edits) {
    test(`${e.name}: BACKWARD ${e.backward.length ? 'breaks' : 'ok'}, FORWARD ${e.forward.length ? 'breaks' : 'ok'}`, () => {
      assert.deepEqual(
        codes(checkCompatibility('BACKWARD', e.after, [e.before])),
        [...e.backward].sort(),
        'BACKWARD',
      );
      assert.deepEqual(
        codes(checkCompatibility('FORWARD', e.after, [e.before])),
        [...e.forward].sort(),
        'FORWARD',
      );
      assert.deepEqual(
        codes(checkCompatibility('FULL', e.after, [e.before])),
        [...e.backward, ...e.forward].sort(),
        'FULL is both directions',
      );
      assert.deepEqual(checkCompatibility('NONE', e.after, [e.before]), []);
      // Reversing an edit swaps the directions.
      assert.deepEqual(
        codes(checkCompatibility('BACKWARD', e.before, [e.after])),
        [...e.forward].sort(),
        'reversed',
      );
    });
  }
});

describe('the shipped catalog', () => {
  test('order_created v2 is BACKWARD compatible with v1, and not FORWARD (v1 is closed to its new fields)', () => {
    const [v1, v2] = [loadSchema('order_created', 1), loadSchema('order_created', 2)];
    assert.deepEqual(checkCompatibility('BACKWARD', v2, [v1]), []);
    assert.deepEqual(codes(checkCompatibility('FORWARD', v2, [v1])), [
      'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL /promo_code',
      'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL /tip_cents',
    ]);
  });

  test('every event version is compatible with its predecessors under the mode in its event.yaml', () => {
    const events = readdirSync(eventsDir).filter((e) => existsSync(join(eventsDir, e, 'event.yaml')));
    assert.ok(events.includes('order_created'));
    for (const event of events) {
      const meta: unknown = parse(readFileSync(join(eventsDir, event, 'event.yaml'), 'utf8'));
      const mode =
        typeof meta === 'object' && meta !== null && 'compatibility' in meta ? meta.compatibility : undefined;
      assert.ok(
        compatibilityModes.includes(mode as CompatibilityMode),
        `${event}: compatibility ${String(mode)}`,
      );
      const count = readdirSync(join(eventsDir, event)).filter((f) => /^v\d+\.schema\.json$/.test(f)).length;
      const versions = Array.from({ length: count }, (_, i) => loadSchema(event, i + 1)); // throws on a gap
      for (let n = 2; n <= versions.length; n++) {
        const found = checkCompatibility(
          mode as CompatibilityMode,
          versions[n - 1] ?? {},
          versions.slice(0, n - 1),
        );
        assert.deepEqual(found, [], `${event} v${n} under ${String(mode)}`);
      }
      for (const v of versions) assert.deepEqual(readerCanRead(v, v), [], `${event} reads itself`);
    }
  });
});
