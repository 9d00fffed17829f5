// The one-pass JSON row reader (activities/segment/json-row.ts) against the exact path it stands in
// for (JSON.parse → ajv → TableEncoder.append): the same records must give the same Parquet bytes
// and the same rejections, whichever path reads them. Payloads: generated valid ones, the same
// mutated at random (values of every type, removed and unknown keys, and text-level changes:
// escapes, whitespace, duplicate keys, number spellings, BOM, trailing bytes), and hand-picked edges.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { generateSync, type JsonSchema as FakerSchema } from 'json-schema-faker';
import { encodeSegment, encoderFor, type EncodedSegment } from '../../activities/segment/encode.js';
import { JsonRowParser } from '../../activities/segment/json-row.js';
import { buildEnvelope, envelopeHeaders } from '../../lib/envelope.js';
import type { RangeRecord } from '../../lib/kafka.js';
import {
  eventSettingsSchema,
  loadCatalog,
  type Catalog,
  type EventType,
  type SchemaVersion,
} from '../../schemas/catalog.js';
import type { JsonSchema } from '../../schemas/json-schema.js';
import { EventValidator } from '../../schemas/validator.js';
import { seededRandom } from '../helpers/random.js';
import { envelopeColumnValues } from '../helpers/events.js';

/** Every construct the reader implements, in one schema. */
const constructs: JsonSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'urn:sluice:schema:fast_constructs:v1',
  type: 'object',
  additionalProperties: false,
  required: ['id', 'count', 'kind'],
  properties: {
    id: { type: 'string', format: 'uuid' },
    count: { type: 'integer', minimum: -5, maximum: 1_000_000 },
    kind: { type: 'string', enum: ['a', 'bé', 'ü-ü'] },
    maybe_kind: { type: ['string', 'null'], enum: ['x', 'y', null] },
    label: { type: ['string', 'null'], minLength: 2, maxLength: 5 },
    code: { type: 'string', pattern: '^[A-Z]{2}-\\d+$' },
    email: { type: 'string', format: 'email' },
    day: { type: 'string', format: 'date' },
    at: { type: 'string', format: 'date-time' },
    ratio: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 1 },
    big: { type: 'integer' },
    score: { type: ['number', 'null'] },
    both: { type: ['integer', 'number'] },
    flag: { type: 'boolean' },
    maybe_flag: { type: ['boolean', 'null'] },
    'größe ✓': { type: 'integer', minimum: 0 },
    tags: { type: 'array', minItems: 1, maxItems: 3, items: { type: 'string', maxLength: 8 } },
    grid: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
    lines: {
      type: 'array',
      items: {
        type: 'object',
        additionalProperties: false,
        required: ['sku'],
        properties: {
          sku: { type: 'string', minLength: 1 },
          qty: { type: 'integer', minimum: 1 },
          when: { type: ['string', 'null'], format: 'date-time' },
        },
      },
    },
    address: {
      type: ['object', 'null'],
      required: ['city'],
      properties: {
        city: { type: 'string' },
        geo: {
          type: 'object',
          additionalProperties: false,
          properties: { lat: { type: 'number', minimum: -90, maximum: 90 }, lng: { type: 'number' } },
        },
      },
    },
  },
};

function memoryType(name: string, schemas: JsonSchema[]): EventType {
  const versions: SchemaVersion[] = schemas.map((schema, i) => ({
    version: i + 1,
    id: `urn:sluice:schema:${name}:v${i + 1}`,
    file: 'memory',
    schema,
  }));
  return {
    name,
    dir: 'memory',
    settings: eventSettingsSchema.parse({ owner: 'test', description: name }),
    topic: `events.${name}`,
    dlqTopic: `events.${name}.dlq`,
    consumerGroup: `sluice.${name}`,
    table: name,
    versions,
    latest: versions.at(-1)!,
  };
}

const catalog = loadCatalog();
const constructsType = memoryType('fast_constructs', [constructs]);
const memoryCatalog: Catalog = {
  dir: 'memory',
  types: new Map([...catalog.types, [constructsType.name, constructsType]]),
};
const validator = new EventValidator(memoryCatalog);
const formats = (name: string): ((s: string) => boolean) | undefined => validator.stringFormat(name);

function compiles(version: SchemaVersion): boolean {
  return JsonRowParser.compile(version.schema, encoderFor(version).payloadColumns, formats) !== undefined;
}

// ---------------------------------------------------------------------------------------------
// Payloads

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const oddValues: Json[] = [
  null,
  true,
  false,
  0,
  -0,
  -6,
  1,
  1.5,
  0.999,
  1e21,
  2 ** 53 + 2,
  -(2 ** 31),
  '',
  'a',
  'x',
  'bé',
  'ü-ü',
  'é😀',
  'abcdé',
  'abcdef',
  'AB-12',
  'ab-12',
  'a\u0000b',
  'quote " inside',
  'back \\ slash',
  '2026-11-25',
  '2026-02-30',
  '2026-11-25T12:00:00Z',
  '2026-11-25t12:00:00.123456789+05:30',
  '2016-12-31T23:59:60Z',
  '2026-11-25T25:00:00Z',
  '6f1c7a5e-3b2d-4c8e-9f0a-1b2c3d4e5f60',
  'urn:uuid:6F1C7A5E-3B2D-4C8E-9F0A-1B2C3D4E5F60',
  '6f1c7a5e3b2d4c8e9f0a1b2c3d4e5f60',
  'someone@example.com',
  [],
  ['a'],
  ['a', 'b', 'c', 'd'],
  [[1, 2], []],
  [{ sku: 'k' }],
  [{ sku: '' }],
  [{ sku: 'k', qty: 0 }],
  {},
  { city: 'Paris' },
  { city: 'Paris', extra: 1 },
  { lat: 91 },
];

/** Paths to every value inside `v` (objects and arrays included), the root excluded. */
function paths(v: Json, at: (string | number)[] = []): (string | number)[][] {
  if (v === null || typeof v !== 'object') return [];
  const keys: (string | number)[] = Array.isArray(v) ? v.map((_, i) => i) : Object.keys(v);
  return keys.flatMap((k) => {
    const child = (v as Record<string | number, Json>)[k]!;
    return [[...at, k], ...paths(child, [...at, k])];
  });
}

function parentOf(root: Json, path: (string | number)[]): Record<string | number, Json> {
  let v = root as Record<string | number, Json>;
  for (const k of path.slice(0, -1)) v = v[k] as Record<string | number, Json>;
  return v;
}

/** One random change of the value, the key set or the text of a valid payload. */
function mutate(payload: Json, rnd: () => number): string {
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const copy = structuredClone(payload);
  const all = paths(copy);
  const kind = Math.floor(rnd() * 12);
  if (kind <= 3 && all.length > 0) {
    const path = pick(all);
    parentOf(copy, path)[path.at(-1)!] = pick(oddValues);
  } else if (kind === 4 && all.length > 0) {
    const path = pick(all);
    const parent = parentOf(copy, path);
    if (Array.isArray(parent)) parent.splice(Number(path.at(-1)), 1);
    else delete parent[path.at(-1)!];
  } else if (kind === 5) {
    const objects = [[], ...all].filter((p) => {
      const v = p.length === 0 ? copy : parentOf(copy, [...p, '']);
      return v !== null && typeof v === 'object' && !Array.isArray(v);
    });
    const path = pick(objects);
    const target = (path.length === 0 ? copy : parentOf(copy, [...path, ''])) as Record<string, Json>;
    target[pick(['extra', 'sku', 'id', 'city'])] = pick(oddValues);
  }
  let text = JSON.stringify(copy);
  switch (kind) {
    case 6:
      // Whitespace between tokens.
      text = text.replace(/[,:[\]{}]/g, (c) => pick([c, ` ${c}`, `${c}\n`, `\t${c} `]));
      break;
    case 7: {
      // An escape inside a string (the same string after JSON.parse).
      const at = text.indexOf('":"');
      if (at >= 0) text = `${text.slice(0, at + 3)}\\u0041${text.slice(at + 3)}`;
      break;
    }
    case 8: {
      // A key twice: the first value is the one JSON.parse drops.
      const m = /\{"([^"]+)":/.exec(text);
      if (m) text = text.replace(m[0], `{"${m[1]}":${JSON.stringify(pick(oddValues))},"${m[1]}":`);
      break;
    }
    case 9:
      // Other spellings of numbers.
      text = text.replace(
        /:(-?\d+)([,}\]])/,
        (_, n: string, end: string) =>
          `:${pick([`${n}.0`, `${n}e0`, `0${n}`, `${n}E+00`, `-0`, `${n}.`])}${end}`,
      );
      break;
    case 10:
      text = pick([
        `\ufeff${text}`,
        `${text} x`,
        `${text},`,
        ` ${text}\n`,
        text.replace(/}$/, ',}'),
        text.slice(0, -1),
      ]);
      break;
    default:
      break;
  }
  return text;
}

function generated(version: SchemaVersion, count: number, seed: number): Json[] {
  return Array.from(
    { length: count },
    (_, i) => generateSync(version.schema as FakerSchema, { seed: seed * 1000 + i }) as Json,
  );
}

// ---------------------------------------------------------------------------------------------
// Both paths

function records(type: EventType, version: number, texts: string[]): RangeRecord[] {
  const ingestedAt = new Date('2026-11-25T14:00:00.123Z');
  return texts.map((text, i) => ({
    offset: BigInt(i),
    timestamp: BigInt(ingestedAt.getTime()),
    key: null,
    value: Buffer.from(text),
    headers: envelopeHeaders(
      buildEnvelope(
        {
          type: type.name,
          dataschema: `urn:sluice:schema:${type.name}:v${version}`,
          id: `evt-${i}`,
          source: '/test',
          time: '2026-11-25T12:00:00Z',
        },
        ingestedAt,
        '/test',
      ),
    ),
  }));
}

function encode(type: EventType, recs: RangeRecord[], fastJson: boolean): EncodedSegment {
  return encodeSegment({ type, validator, partition: 0, records: recs, fastJson });
}

const summary = (s: EncodedSegment): unknown => ({
  groups: s.groups.map((g) => ({
    ...g,
    firstOffset: String(g.firstOffset),
    lastOffset: String(g.lastOffset),
    bytes: Buffer.from(g.bytes).toString('base64'),
  })),
  rejected: s.rejected.map((r) => [String(r.offset), r.errorCode, r.reason]),
});

/** Asserts both paths agree on `texts`; on a difference, names the first payload that differs. */
function assertSame(type: EventType, version: number, texts: string[]): void {
  const recs = records(type, version, texts);
  const fast = summary(encode(type, recs, true));
  const exact = summary(encode(type, recs, false));
  if (JSON.stringify(fast) === JSON.stringify(exact)) return;
  for (const [i, r] of recs.entries()) {
    const one = [{ ...r, offset: 0n }];
    assert.deepEqual(
      summary(encode(type, one, true)),
      summary(encode(type, one, false)),
      `payload ${i} of ${type.name} v${version} reads differently: ${texts[i]}`,
    );
  }
  assert.deepEqual(fast, exact, `${type.name} v${version}: the files differ, though no payload alone does`);
}

/** How many of `texts` the reader takes on its own. */
function accepted(version: SchemaVersion, texts: string[]): number {
  const encoder = encoderFor(version);
  const reader = JsonRowParser.compile(version.schema, encoder.payloadColumns, formats);
  assert.ok(reader);
  const env = envelopeColumnValues(version.version);
  return texts.filter((t) => encoder.appendWith(() => reader.read(Buffer.from(t)), env)).length;
}

describe('JSON row reader', () => {
  test('compiles for the schemas it implements, and not for JSON-text columns or unimplemented keywords', () => {
    const order = catalog.types.get('order_created')!;
    assert.ok(compiles(order.versions[0]!));
    assert.ok(compiles(order.versions[1]!));
    assert.ok(compiles(catalog.types.get('delivery_status_changed')!.latest));
    assert.ok(compiles(constructsType.latest));
    const without = (extra: JsonSchema): SchemaVersion => ({
      version: 1,
      id: 'urn:sluice:schema:x:v1',
      file: 'memory',
      schema: { type: 'object', properties: { a: extra } },
    });
    for (const unimplemented of [
      { type: 'object' }, // no properties: a JSON-text column
      { type: ['string', 'integer'] }, // mixed: JSON text
      { type: 'integer', multipleOf: 5 },
      { type: 'string', const: 'x' },
      { type: 'array', items: { type: 'string' }, uniqueItems: true },
      { type: 'integer', enum: [1, 2] },
    ] as JsonSchema[]) {
      assert.equal(compiles(without(unimplemented)), false, JSON.stringify(unimplemented));
    }
  });

  test('takes what JSON.stringify writes of valid payloads on its own', () => {
    for (const [type, version] of [
      [constructsType, constructsType.latest],
      [catalog.types.get('order_created')!, catalog.types.get('order_created')!.latest],
    ] as const) {
      const valid = generated(version, 200, 1).map((p) => JSON.stringify(p));
      for (const t of valid) assert.ok(validator.validate(type.name, JSON.parse(t), version.version).ok);
      // Generated strings may hold characters JSON.stringify escapes; those go the exact way.
      const taken = accepted(version, valid);
      assert.ok(taken >= 0.8 * valid.length, `${type.name}: took ${taken} of ${valid.length}`);
    }
  });

  for (const name of ['fast_constructs', 'order_created', 'delivery_status_changed', 'mobile_page_load']) {
    test(`${name}: the same files and rejections as JSON.parse + ajv, on valid and mutated payloads`, () => {
      const type = memoryCatalog.types.get(name)!;
      for (const version of type.versions) {
        const rnd = seededRandom(version.version * 7919 + name.length);
        const valid = generated(version, 60, version.version);
        const texts = [
          ...valid.map((p) => JSON.stringify(p)),
          ...Array.from({ length: 600 }, () => mutate(valid[Math.floor(rnd() * valid.length)]!, rnd)),
        ];
        assertSame(type, version.version, texts);
      }
    });
  }

  test('hand-picked edges read the same both ways', () => {
    const base = {
      id: '6f1c7a5e-3b2d-4c8e-9f0a-1b2c3d4e5f60',
      count: 3,
      kind: 'a',
    };
    const text = (extra: string): string => JSON.stringify(base).replace(/}$/, `${extra}}`);
    const texts = [
      JSON.stringify(base),
      text(',"count":4'), // duplicate key
      text(',"label":"ab"'),
      text(',"label":"a😀"'), // two code points
      text(',"label":"😀😀😀😀😀"'), // five code points, ten UTF-16 units
      text(',"label":"😀😀😀😀😀😀"'),
      text(',"label":"\\u00e9t"'),
      text(',"big":9007199254740993'),
      text(',"big":123456789012345'),
      text(',"big":1234567890123456'),
      text(',"big":-0'),
      text(',"ratio":1e-7'),
      text(',"ratio":0.1e1'),
      text(',"ratio":1E400'),
      text(',"score":1e400'), // Infinity to JSON.parse, which ajv refuses
      text(',"grid":[[-1e999]]'),
      text(',"both":2'),
      text(',"both":2.5'),
      text(',"score":null'),
      text(',"maybe_kind":null'),
      text(',"maybe_kind":"z"'),
      text(',"kind":"bé"').replace('"kind":"a",', ''),
      text(',"kind":"BÉ"').replace('"kind":"a",', ''),
      text(',"address":null'),
      text(',"address":{"city":"Lyon","geo":{}}'),
      text(',"address":{"city":"Lyon","zip":"1"}'), // open content model: an extra key
      text(',"address":{"geo":{"lat":1}}'),
      // Other keys of an open content model: skipped, but checked as JSON.parse checks them.
      text(
        ',"address":{"city":"Lyon","x":{"a":[1,-2.5e3,true,null,"\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9"],"b":{}},"y":[]}',
      ),
      text(',"address":{"city":"Lyon","x":"\\x"}'),
      text(',"address":{"city":"Lyon","x":"\\u12G4"}'),
      text(',"address":{"city":"Lyon","x":"a\tb"}'),
      text(',"address":{"city":"Lyon","x":01}'),
      text(',"address":{"city":"Lyon","x":1.}'),
      text(',"address":{"city":"Lyon","x":.5}'),
      text(',"address":{"city":"Lyon","x":+1}'),
      text(',"address":{"city":"Lyon","x":-}'),
      text(',"address":{"city":"Lyon","x":NaN}'),
      text(',"address":{"city":"Lyon","x":[1,]}'),
      text(',"address":{"city":"Lyon","x":{"a":1,}}'),
      text(',"address":{"city":"Lyon","x":{"a" 1}}'),
      text(',"address":{"city":"Lyon","x":{1:1}}'),
      text(',"address":{"city":"Lyon","x":tru}'),
      text(`,"address":{"city":"Lyon","x":${'['.repeat(100)}${']'.repeat(100)}}`),
      text(`,"address":{"city":"Lyon","x":${'['.repeat(30)}${']'.repeat(30)}}`),
      text(',"address":{"city":"Lyon","ci\\u0074y":"Paris"}'), // "city" again, escaped
      text(',"address":{"city":"Lyon","x":1,"x":2}'),
      text(',"lines":[{"sku":"a","when":null},{"sku":"b","qty":2,"when":"2026-01-01T00:00:00+01:00"}]'),
      text(',"lines":[{"sku":"a","when":"2026-01-01T00:00:00"}]'),
      text(',"tags":[]'),
      text(',"grid":[[],[1.25,-3],[0]]'),
      text(',"größe ✓":7'),
      text(',"g\\u00f6\\u00dfe ✓":7'),
      text(',"flag":true,"maybe_flag":null'),
      text(',"flag":tru'),
      text(',"code":"AB-7","email":"a@b.co","day":"2024-02-29","at":"2026-11-25T12:00:00.5Z"'),
      `\ufeff${JSON.stringify(base)}`,
      `${JSON.stringify(base)}\n`,
      `${JSON.stringify(base)}{}`,
      '[]',
      '"x"',
      '',
      '{',
    ];
    assertSame(constructsType, 1, texts);
    // Not vacuous: the reader took the plain ones itself, open-model extras included.
    assert.ok(accepted(constructsType.latest, texts) >= 20);
    assert.equal(
      accepted(constructsType.latest, [
        texts[texts.indexOf(text(',"address":{"city":"Lyon","x":1,"x":2}'))]!,
      ]),
      1,
    );
    // What the reader left to JSON.parse + ajv is counted, for the segment's result and status.
    const recs = records(constructsType, 1, texts);
    const exact = encode(constructsType, recs, false);
    const rows = exact.groups.reduce((n, g) => n + g.rows, 0);
    assert.equal(exact.exactPathRows, rows);
    const fast = encode(constructsType, recs, true);
    assert.equal(fast.exactPathRows, rows - accepted(constructsType.latest, texts));
    assert.ok(fast.exactPathRows > 0 && fast.exactPathRows < rows);
  });
});
