// The column mapping, checked against the real consumers: Arrow schemas field by field, DuckDB
// DDL against DESCRIBE, Parquet files written with parquet-wasm and loaded by DuckDB, and table
// evolution DDL applied (twice) to live DuckDB tables.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import * as arrow from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { projectRoot } from '../../lib/paths.js';
import type { JsonSchema } from '../../schemas/json-schema.js';
import {
  diffTable,
  duckdbColumns,
  duckdbCreateTable,
  envelopeColumns,
  isJsonText,
  quoteIdent,
  snowflakeColumns,
  snowflakeCreateTable,
  toArrowSchema,
  type ColumnDef,
  type TableDiff,
} from '../../schemas/mapping.js';

const sampleSchema = (type: string, version: number): JsonSchema =>
  JSON.parse(
    readFileSync(join(projectRoot(), 'schemas', 'events', type, `v${version}.schema.json`), 'utf8'),
  ) as JsonSchema;

const orderV1 = sampleSchema('order_created', 1);
const orderV2 = sampleSchema('order_created', 2);
const pageLoadV1 = sampleSchema('mobile_page_load', 1);

const object = (properties: Record<string, JsonSchema>, required: string[] = []): JsonSchema => ({
  type: 'object',
  required,
  properties,
});

/** `name?: Type` (? = nullable), nested types spelled out, JSON text shown as `JSON`. */
function shape(field: arrow.Field): string {
  const t: unknown = field.type;
  let type: string;
  if (arrow.DataType.isStruct(t)) {
    const children: arrow.Field[] = t.children;
    type = `Struct<${children.map(shape).join(', ')}>`;
  } else if (arrow.DataType.isList(t)) {
    const element: arrow.Field = t.valueField;
    type = `List<${shape(element)}>`;
  } else {
    type = isJsonText(field) ? 'JSON' : String(t);
  }
  return `${field.name}${field.nullable ? '?' : ''}: ${type}`;
}

const envelopeNames = new Set(envelopeColumns.map((f) => f.name));
const payloadShape = (schema: JsonSchema): string[] =>
  toArrowSchema(schema)
    .fields.filter((f) => !envelopeNames.has(f.name))
    .map(shape);

describe('JSON Schema → Arrow', () => {
  test('strings: formats date-time and date get temporal types, other formats, enums and const stay Utf8', () => {
    const schema = object(
      {
        name: { type: 'string', minLength: 1 },
        placed_at: { type: 'string', format: 'date-time' },
        birthday: { type: 'string', format: 'date' },
        order_id: { type: 'string', format: 'uuid' },
        email: { type: 'string', format: 'email' },
        site: { type: 'string', format: 'uri' },
        opens: { type: 'string', format: 'time' },
        status: { type: 'string', enum: ['new', 'done'] },
        channel: { enum: ['web', 'app'] },
        kind: { const: 'order' },
      },
      ['name', 'placed_at', 'birthday', 'order_id', 'email', 'site', 'opens', 'status', 'channel', 'kind'],
    );
    assert.deepEqual(payloadShape(schema), [
      'name: Utf8',
      'placed_at: Timestamp<MICROSECOND, UTC>',
      'birthday: Date32<DAY>',
      'order_id: Utf8',
      'email: Utf8',
      'site: Utf8',
      'opens: Utf8',
      'status: Utf8',
      'channel: Utf8',
      'kind: Utf8',
    ]);
  });

  test('integer → Int64, number → Float64, boolean → Bool; integer+number and numeric enums too', () => {
    const schema = object(
      {
        count: { type: 'integer' },
        ratio: { type: 'number' },
        flag: { type: 'boolean' },
        amount: { type: ['integer', 'number'] },
        level: { enum: [1, 2, 3] },
        weight: { enum: [1, 2.5] },
      },
      ['count', 'ratio', 'flag', 'amount', 'level', 'weight'],
    );
    assert.deepEqual(payloadShape(schema), [
      'count: Int64',
      'ratio: Float64',
      'flag: Bool',
      'amount: Float64',
      'level: Int64',
      'weight: Float64',
    ]);
  });

  test('a field is NOT NULL only when required and its type excludes null', () => {
    const schema = object(
      {
        required_plain: { type: 'string' },
        optional_plain: { type: 'string' },
        required_null_type: { type: ['string', 'null'] },
        optional_null_type: { type: ['integer', 'null'] },
        required_null_enum: { enum: ['a', null] },
        required_date_time: { type: ['string', 'null'], format: 'date-time' },
      },
      ['required_plain', 'required_null_type', 'required_null_enum', 'required_date_time'],
    );
    assert.deepEqual(payloadShape(schema), [
      'required_plain: Utf8',
      'optional_plain?: Utf8',
      'required_null_type?: Utf8',
      'optional_null_type?: Int64',
      'required_null_enum?: Utf8',
      'required_date_time?: Timestamp<MICROSECOND, UTC>',
    ]);
  });

  test('objects with properties become structs; nested nullability is relative to the parent', () => {
    const geo = object({ lat: { type: 'number' }, lng: { type: 'number' } }, ['lat', 'lng']);
    const schema = object(
      {
        address: object({ city: { type: 'string' }, zip: { type: 'string' }, geo }, ['city']),
        owner: { ...object({ id: { type: 'integer' } }, ['id']), type: ['object', 'null'] },
        shape_only: { properties: { a: { type: 'boolean' } }, required: ['a'] },
      },
      ['owner', 'shape_only'],
    );
    assert.deepEqual(payloadShape(schema), [
      'address?: Struct<city: Utf8, zip?: Utf8, geo?: Struct<lat: Float64, lng: Float64>>',
      'owner?: Struct<id: Int64>',
      'shape_only: Struct<a: Bool>',
    ]);
  });

  test('arrays become lists: of primitives, of nullable items, of objects, of arrays', () => {
    const schema = object(
      {
        tags: { type: 'array', items: { type: 'string' } },
        scores: { type: 'array', items: { type: ['number', 'null'] } },
        lines: {
          type: 'array',
          items: object({ sku: { type: 'string' }, qty: { type: 'integer' } }, ['sku']),
        },
        matrix: { type: 'array', items: { type: 'array', items: { type: 'integer' } } },
        days: { type: 'array', items: { type: 'string', format: 'date' } },
      },
      ['tags'],
    );
    assert.deepEqual(payloadShape(schema), [
      'tags: List<item: Utf8>',
      'scores?: List<item?: Float64>',
      'lines?: List<item: Struct<sku: Utf8, qty?: Int64>>',
      'matrix?: List<item: List<item: Int64>>',
      'days?: List<item: Date32<DAY>>',
    ]);
  });

  test('free-form objects, mixed types and untyped values are Utf8 columns of JSON text', () => {
    const schema = object(
      {
        attributes: { type: 'object' },
        open_object: { type: 'object', properties: {}, additionalProperties: true },
        value: { type: ['string', 'integer'] },
        mixed_enum: { enum: ['a', 1] },
        anything: {},
        raw_list: { type: 'array' },
      },
      ['attributes', 'value', 'anything'],
    );
    assert.deepEqual(payloadShape(schema), [
      'attributes: JSON',
      'open_object?: JSON',
      'value: JSON',
      'mixed_enum?: JSON',
      'anything?: JSON',
      'raw_list?: List<item?: JSON>',
    ]);
    const attributes = toArrowSchema(schema).fields[0];
    assert.ok(attributes && arrow.DataType.isUtf8(attributes.type));
    // The canonical Arrow extension name, so any Arrow reader can tell the column holds JSON.
    assert.equal(attributes.metadata.get('ARROW:extension:name'), 'arrow.json');
  });

  test('the envelope columns follow the payload, all NOT NULL', () => {
    const fields = toArrowSchema(orderV2).fields;
    assert.deepEqual(fields.slice(-envelopeColumns.length).map(shape), [
      '_event_id: Utf8',
      '_event_time: Timestamp<MICROSECOND, UTC>',
      '_ingest_time: Timestamp<MICROSECOND, UTC>',
      '_source: Utf8',
      '_schema_version: Int32',
      '_kafka_partition: Int32',
      '_kafka_offset: Int64',
      '_test: Bool',
    ]);
    assert.equal(fields.length, Object.keys(orderV2.properties ?? {}).length + envelopeColumns.length);
  });

  test('the sample schemas map as documented (the open content model adds no columns)', () => {
    assert.deepEqual(payloadShape(orderV2), [
      'order_id: Utf8',
      'customer_id: Utf8',
      'store_id: Utf8',
      'items: List<item: Struct<sku: Utf8, quantity: Int64, unit_price_cents: Int64>>',
      'subtotal_cents: Int64',
      'currency: Utf8',
      'placed_at: Timestamp<MICROSECOND, UTC>',
      'platform?: Utf8',
      'delivery_address?: Struct<city: Utf8, postal_code: Utf8, lat?: Float64, lng?: Float64>',
      'promo_code?: Utf8',
      'tip_cents?: Int64',
    ]);
    assert.deepEqual(payloadShape(pageLoadV1), [
      'session_id: Utf8',
      'user_id?: Utf8',
      'page: Utf8',
      'load_ms: Float64',
      'occurred_at: Timestamp<MICROSECOND, UTC>',
      'network?: Utf8',
      'device?: Struct<os?: Utf8, os_version?: Utf8, model?: Utf8>',
      'tags?: List<item: Utf8>',
    ]);
  });

  test('a property named like an envelope column, or a schema that is not an object, is refused', () => {
    assert.throws(() => toArrowSchema(object({ _source: { type: 'string' } })), /\/_source clashes/);
    assert.throws(() => toArrowSchema({ type: 'string' }), /must be an object/);
  });
});

// ---------------------------------------------------------------------------------------------
// DuckDB and Parquet

let dir: string;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-mapping-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function withDuckdb(fn: (conn: DuckDBConnection) => Promise<void>): Promise<void> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    await fn(conn);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

async function query(conn: DuckDBConnection, sql: string): Promise<Record<string, unknown>[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJson();
}

const text = (v: unknown): string => {
  assert.equal(typeof v, 'string');
  return v as string;
};

/** The table as DuckDB reports it, in the shape diffTable() takes. */
async function describeTable(conn: DuckDBConnection, table: string): Promise<ColumnDef[]> {
  return (await query(conn, `DESCRIBE ${quoteIdent(table)}`)).map((r) => ({
    name: text(r.column_name),
    type: text(r.column_type),
    nullable: r.null === 'YES',
  }));
}

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

/** `2026-11-25T12:00:00.123456Z` → microseconds since the epoch, exactly. */
function micros(iso: string): bigint {
  const m = /^(.+?)(?:\.(\d{1,6}))?Z$/.exec(iso);
  assert.ok(m?.[1], `not a UTC timestamp: ${iso}`);
  return BigInt(Date.parse(`${m[1]}Z`)) * 1000n + BigInt((m[2] ?? '').padEnd(6, '0'));
}

type Row = Record<string, unknown>;

function columnData(field: arrow.Field, values: unknown[]): arrow.Data {
  const type: unknown = field.type;
  if (arrow.DataType.isTimestamp(type)) {
    // arrow-js builders take epoch *milliseconds* for every timestamp unit (and throw on
    // fractional results), so microseconds are written as Int64 data retyped as the timestamp.
    const us = values.map((v) => (v === null ? null : micros(text(v))));
    const raw = arrow.vectorFromArray(us, new arrow.Int64()).data[0];
    assert.ok(raw);
    return arrow.makeData({
      type,
      length: raw.length,
      nullCount: raw.nullCount,
      nullBitmap: raw.nullBitmap,
      data: raw.values,
    });
  }
  if (arrow.DataType.isDate(type)) {
    const days = values.map((v) => (v === null ? null : new Date(text(v))));
    const data = arrow.vectorFromArray(days, type).data[0];
    assert.ok(data);
    return data;
  }
  assert.ok(arrow.DataType.isDataType(type));
  const data = arrow.vectorFromArray(values, type).data[0];
  assert.ok(data);
  return data;
}

/** An Arrow table of `schema` from plain rows (Int64 as bigint, timestamps/dates as ISO text). */
function arrowTable(schema: arrow.Schema, rows: Row[]): arrow.Table {
  const fields: arrow.Field[] = schema.fields;
  const children = fields.map((f) =>
    columnData(
      f,
      rows.map((r) => r[f.name] ?? null),
    ),
  );
  const data = arrow.makeData({
    type: new arrow.Struct(fields),
    length: rows.length,
    nullCount: 0,
    children,
  });
  return new arrow.Table([new arrow.RecordBatch(schema, data)]);
}

function writeParquetFile(table: arrow.Table, name: string): string {
  const file = join(dir, name);
  // writeParquet consumes (frees) both the wasm table and the writer properties.
  const wasmTable = WasmTable.fromIPCStream(arrow.tableToIPC(table, 'stream'));
  const props = new WriterPropertiesBuilder().setCompression(Compression.ZSTD).build();
  writeFileSync(file, writeParquet(wasmTable, props));
  return file;
}

/** Rows as DuckDB returns them as JSON, timestamps rendered like the ISO input. */
async function loadedRows(conn: DuckDBConnection, table: string, schema: arrow.Schema): Promise<Row[]> {
  const timestamps = schema.fields
    .filter((f) => arrow.DataType.isTimestamp(f.type))
    .map(
      (f) =>
        `strftime(${quoteIdent(f.name)} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') AS ${quoteIdent(f.name)}`,
    );
  return query(
    conn,
    `SELECT * REPLACE (${timestamps.join(', ')}) FROM ${quoteIdent(table)} ORDER BY _kafka_offset`,
  );
}

/** What getRowObjectsJson() gives back for an input row: BIGINTs come back as strings. */
const asDuckdbJson = (v: unknown): unknown =>
  typeof v === 'bigint'
    ? String(v)
    : Array.isArray(v)
      ? v.map(asDuckdbJson)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k, asDuckdbJson(x)]))
        : v;

const envelope = (offset: number, eventTime: string, test = false): Row => ({
  _event_id: `evt-${offset}`,
  _event_time: eventTime,
  _ingest_time: '2026-11-25T12:00:01.000001Z',
  _source: 'checkout-service',
  _schema_version: 2,
  _kafka_partition: offset % 3,
  _kafka_offset: BigInt(offset),
  _test: test,
});

/** Parquet file → `INSERT … BY NAME` into the table duckdbCreateTable() made → same values out. */
async function roundTrip(
  conn: DuckDBConnection,
  table: string,
  schema: JsonSchema,
  rows: Row[],
): Promise<{ file: string; loaded: Row[] }> {
  const arrowSchema = toArrowSchema(schema);
  const file = writeParquetFile(arrowTable(arrowSchema, rows), `${table}.parquet`);
  await conn.run(duckdbCreateTable(table, schema));
  await conn.run(`INSERT INTO ${quoteIdent(table)} BY NAME SELECT * FROM read_parquet(${sqlString(file)})`);
  const loaded = await loadedRows(conn, table, arrowSchema);
  assert.deepEqual(loaded, rows.map(asDuckdbJson));
  const codecs = await query(conn, `SELECT DISTINCT compression FROM parquet_metadata(${sqlString(file)})`);
  assert.deepEqual(codecs, [{ compression: 'ZSTD' }]);
  return { file, loaded };
}

const allConstructs = object(
  {
    id: { type: 'string', format: 'uuid' },
    at: { type: 'string', format: 'date-time' },
    day: { type: 'string', format: 'date' },
    status: { type: 'string', enum: ['new', 'done'] },
    count: { type: 'integer' },
    ratio: { type: ['number', 'null'] },
    flag: { type: 'boolean' },
    profile: object({ name: { type: 'string' }, tags: { type: 'array', items: { type: 'string' } } }, [
      'name',
    ]),
    lines: { type: 'array', items: object({ sku: { type: 'string' }, qty: { type: 'integer' } }, ['sku']) },
    matrix: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
    attributes: { type: 'object' },
    value: { type: ['string', 'integer'] },
  },
  ['id', 'at', 'count', 'flag', 'profile'],
);

describe('DuckDB DDL', () => {
  test('creates the table DESCRIBE reports: every construct, nullability, envelope', () =>
    withDuckdb(async (conn) => {
      await conn.run(duckdbCreateTable('all_constructs', allConstructs));
      const described = (await describeTable(conn, 'all_constructs')).map(
        (c) => `${c.name} ${c.type}${c.nullable ? '' : ' NOT NULL'}`,
      );
      assert.deepEqual(described, [
        'id VARCHAR NOT NULL',
        'at TIMESTAMP WITH TIME ZONE NOT NULL',
        'day DATE',
        'status VARCHAR',
        'count BIGINT NOT NULL',
        'ratio DOUBLE',
        'flag BOOLEAN NOT NULL',
        'profile STRUCT("name" VARCHAR, tags VARCHAR[]) NOT NULL',
        'lines STRUCT(sku VARCHAR, qty BIGINT)[]',
        'matrix DOUBLE[][]',
        'attributes JSON',
        'value JSON',
        '_event_id VARCHAR NOT NULL',
        '_event_time TIMESTAMP WITH TIME ZONE NOT NULL',
        '_ingest_time TIMESTAMP WITH TIME ZONE NOT NULL',
        '_source VARCHAR NOT NULL',
        '_schema_version INTEGER NOT NULL',
        '_kafka_partition INTEGER NOT NULL',
        '_kafka_offset BIGINT NOT NULL',
        '_test BOOLEAN NOT NULL',
      ]);
      // JSON is DuckDB's built-in json type (statically linked: no extension download).
      const [jsonOk] = await query(conn, `SELECT '{"a": 1}'::JSON ->> 'a' AS a`);
      assert.deepEqual(jsonOk, { a: '1' });
    }));

  test('DESCRIBE of a created table reads back as no change, odd nested names included', () =>
    withDuckdb(async (conn) => {
      const odd = object({
        outer: object({
          'Foo Bar': { type: 'integer' },
          'say "hi"': { type: 'string' },
          select: { type: 'array', items: object({ 'a,b': { type: 'boolean' } }) },
        }),
      });
      const schemas: [string, JsonSchema][] = [
        ['order_created', orderV2],
        ['mobile_page_load', pageLoadV1],
        ['all_constructs', allConstructs],
        ['odd "names"', odd],
      ];
      for (const [table, schema] of schemas) {
        await conn.run(duckdbCreateTable(table, schema));
        const current = await describeTable(conn, table);
        assert.deepEqual(
          current.map((c) => [c.name, c.nullable]),
          duckdbColumns(schema).map((c) => [c.name, c.nullable]),
        );
        assert.deepEqual(
          diffTable(current, schema, 'duckdb', table),
          { kind: 'compatible', steps: [] },
          table,
        );
      }
      const [outer] = await describeTable(conn, 'odd "names"');
      assert.equal(
        outer?.type,
        'STRUCT("Foo Bar" BIGINT, "say ""hi""" VARCHAR, "select" STRUCT("a,b" BOOLEAN)[])',
      );
    }));
});

describe('Parquet (apache-arrow + parquet-wasm) → DuckDB', () => {
  test('order_created v2 round-trips: nulls, list of structs, nested struct, µs timestamps', () =>
    withDuckdb(async (conn) => {
      const rows: Row[] = [
        {
          order_id: '0b6e5f5e-4c1a-4d8e-9a57-0f6f1d6c1a01',
          customer_id: 'cust-1',
          store_id: 'store-9',
          items: [
            { sku: 'burger', quantity: 2n, unit_price_cents: 1099n },
            { sku: 'fries', quantity: 1n, unit_price_cents: 399n },
          ],
          subtotal_cents: 2597n,
          currency: 'CAD',
          placed_at: '2026-11-25T12:00:00.123456Z',
          platform: 'ios',
          delivery_address: { city: 'Toronto', postal_code: 'M5V 2T6', lat: 43.6426, lng: -79.3871 },
          promo_code: 'BLACKFRIDAY',
          tip_cents: 300n,
          ...envelope(41, '2026-11-25T12:00:00.123456Z'),
        },
        {
          order_id: '0b6e5f5e-4c1a-4d8e-9a57-0f6f1d6c1a02',
          customer_id: 'cust-2',
          store_id: 'store-9',
          items: [{ sku: 'salad', quantity: 1n, unit_price_cents: 0n }],
          subtotal_cents: 0n,
          currency: 'EUR',
          placed_at: '1999-12-31T23:59:59.999999Z',
          platform: null,
          delivery_address: { city: 'Paris', postal_code: '75001', lat: null, lng: null },
          promo_code: null,
          tip_cents: null,
          ...envelope(42, '1999-12-31T23:59:59.999999Z', true),
        },
        {
          order_id: '0b6e5f5e-4c1a-4d8e-9a57-0f6f1d6c1a03',
          customer_id: 'cust-3',
          store_id: 'store-1',
          items: [],
          subtotal_cents: 9007199254740993n,
          currency: 'USD',
          placed_at: '2026-11-25T12:00:00.000000Z',
          platform: 'web',
          delivery_address: null,
          promo_code: null,
          tip_cents: 0n,
          ...envelope(43, '2026-11-25T12:00:00.000000Z'),
        },
      ];
      const { file } = await roundTrip(conn, 'order_created', orderV2, rows);
      // Nullability reaches the file: required properties are REQUIRED Parquet columns.
      const repetition = await query(
        conn,
        `SELECT name, repetition_type FROM parquet_schema(${sqlString(file)})
         WHERE name IN ('placed_at', 'promo_code', 'city', 'lat')`,
      );
      assert.deepEqual(repetition, [
        { name: 'placed_at', repetition_type: 'REQUIRED' },
        { name: 'city', repetition_type: 'REQUIRED' },
        { name: 'lat', repetition_type: 'OPTIONAL' },
        { name: 'promo_code', repetition_type: 'OPTIONAL' },
      ]);
      const [typed] = await query(
        conn,
        `SELECT epoch_us(placed_at)::VARCHAR AS us, items[1].quantity + 1 AS q FROM order_created WHERE _kafka_offset = 41`,
      );
      assert.deepEqual(typed, { us: String(micros('2026-11-25T12:00:00.123456Z')), q: '3' });
    }));

  test('mobile_page_load v1 round-trips: optional struct fields, lists of strings, doubles', () =>
    withDuckdb(async (conn) => {
      const rows: Row[] = [
        {
          session_id: 's-1',
          user_id: 'u-1',
          page: '/home',
          load_ms: 123.5,
          occurred_at: '2026-11-25T08:15:30.000250Z',
          network: 'wifi',
          device: { os: 'ios', os_version: '18.1', model: 'iPhone16,2' },
          tags: ['cold-start', 'beta'],
          ...envelope(1, '2026-11-25T08:15:30.000250Z'),
        },
        {
          session_id: 's-2',
          user_id: null,
          page: '/cart',
          load_ms: 0,
          occurred_at: '2026-11-25T08:15:31.500000Z',
          network: null,
          device: { os: 'android', os_version: null, model: null },
          tags: [],
          ...envelope(2, '2026-11-25T08:15:31.500000Z'),
        },
        {
          session_id: 's-3',
          user_id: null,
          page: '/',
          load_ms: 99999.25,
          occurred_at: '2026-11-25T08:15:32.000001Z',
          network: 'offline',
          device: null,
          tags: null,
          ...envelope(3, '2026-11-25T08:15:32.000001Z', true),
        },
      ];
      await roundTrip(conn, 'mobile_page_load', pageLoadV1, rows);
    }));

  test('every construct round-trips, JSON text arrives as queryable JSON, dates as DATE', () =>
    withDuckdb(async (conn) => {
      const rows: Row[] = [
        {
          id: 'a1',
          at: '2026-01-01T00:00:00.000001Z',
          day: '2026-11-25',
          status: 'new',
          count: -5n,
          ratio: 0.25,
          flag: true,
          profile: { name: 'Ada', tags: ['x'] },
          lines: [
            { sku: 'k1', qty: 3n },
            { sku: 'k2', qty: null },
          ],
          matrix: [[1.5, 2], [], [3]],
          attributes: JSON.stringify({ color: 'red', size: 3 }),
          value: JSON.stringify('abc'),
          ...envelope(1, '2026-01-01T00:00:00.000001Z'),
        },
        {
          id: 'a2',
          at: '2026-01-01T00:00:00.000002Z',
          day: null,
          status: null,
          count: 0n,
          ratio: null,
          flag: false,
          profile: { name: 'Bob', tags: null },
          lines: null,
          matrix: null,
          attributes: null,
          value: JSON.stringify(42),
          ...envelope(2, '2026-01-01T00:00:00.000002Z'),
        },
      ];
      await roundTrip(conn, 'all_constructs', allConstructs, rows);
      const json = await query(
        conn,
        `SELECT attributes ->> 'color' AS color, json_type(value) AS value_type FROM all_constructs ORDER BY id`,
      );
      assert.deepEqual(json, [
        { color: 'red', value_type: 'VARCHAR' },
        { color: null, value_type: 'UBIGINT' },
      ]);
    }));
});

// ---------------------------------------------------------------------------------------------
// Table evolution

const advice = '; publish it under a new property name or load this version into a new table';

const stepsOf = (diff: TableDiff): string[] => {
  assert.equal(diff.kind, 'compatible', JSON.stringify(diff));
  return diff.kind === 'compatible' ? diff.steps.map((s) => s.sql) : [];
};

const reasonsOf = (diff: TableDiff): { column: string; message: string }[] => {
  assert.equal(diff.kind, 'incompatible', JSON.stringify(diff));
  return diff.kind === 'incompatible' ? diff.reasons : [];
};

async function applyTwice(conn: DuckDBConnection, steps: string[]): Promise<void> {
  for (let round = 0; round < 2; round++) for (const sql of steps) await conn.run(sql);
}

describe('diffTable', () => {
  test('order_created v1 → v2 adds exactly promo_code and tip_cents; DuckDB applies it twice, then loads v2 files', () =>
    withDuckdb(async (conn) => {
      await conn.run(duckdbCreateTable('order_created', orderV1));
      const current = await describeTable(conn, 'order_created');
      const expected = [
        'ALTER TABLE "order_created" ADD COLUMN IF NOT EXISTS "promo_code" VARCHAR',
        'ALTER TABLE "order_created" ADD COLUMN IF NOT EXISTS "tip_cents" BIGINT',
      ];
      assert.deepEqual(stepsOf(diffTable(current, orderV2, 'duckdb', 'order_created')), expected);
      assert.deepEqual(
        stepsOf(diffTable(duckdbColumns(orderV1), orderV2, 'duckdb', 'order_created')),
        expected,
      );

      await applyTwice(conn, expected);
      const evolved = await describeTable(conn, 'order_created');
      assert.deepEqual(
        evolved.slice(-2).map((c) => [c.name, c.type, c.nullable]),
        [
          ['promo_code', 'VARCHAR', true],
          ['tip_cents', 'BIGINT', true],
        ],
      );
      assert.deepEqual(diffTable(evolved, orderV2, 'duckdb', 'order_created'), {
        kind: 'compatible',
        steps: [],
      });

      // Columns now sit in a different order than in a fresh v2 table; BY NAME does not care.
      const row: Row = {
        order_id: 'o-1',
        customer_id: 'c',
        store_id: 's',
        items: [{ sku: 'x', quantity: 1n, unit_price_cents: 5n }],
        subtotal_cents: 5n,
        currency: 'USD',
        placed_at: '2026-11-25T12:00:00.000000Z',
        platform: null,
        delivery_address: null,
        promo_code: 'TEN',
        tip_cents: 100n,
        ...envelope(7, '2026-11-25T12:00:00.000000Z'),
      };
      const file = writeParquetFile(
        arrowTable(toArrowSchema(orderV2), [row]),
        'order_created_v2_after_evolve.parquet',
      );
      await conn.run(`INSERT INTO order_created BY NAME SELECT * FROM read_parquet(${sqlString(file)})`);
      assert.deepEqual(await query(conn, 'SELECT promo_code, tip_cents FROM order_created'), [
        { promo_code: 'TEN', tip_cents: '100' },
      ]);
    }));

  test('string → integer (and other non-widenings) are incompatible, naming the column and both types', () => {
    const older = object({
      code: { type: 'string' },
      amount: { type: 'number' },
      meta: object({ a: { type: 'string' } }),
    });
    const newer = object({
      code: { type: 'integer' },
      amount: { type: 'integer' },
      meta: { type: 'object' },
    });
    assert.deepEqual(reasonsOf(diffTable(duckdbColumns(older), newer, 'duckdb', 't')), [
      {
        column: 'code',
        message: `/code changes from VARCHAR to BIGINT: not a widening DuckDB can apply in place${advice}`,
      },
      {
        column: 'amount',
        message: `/amount changes from DOUBLE to BIGINT: not a widening DuckDB can apply in place${advice}`,
      },
      {
        column: 'meta',
        message: `/meta changes from STRUCT("a" VARCHAR) to JSON: a different kind of value${advice}`,
      },
    ]);
    const [snowflake] = reasonsOf(diffTable(snowflakeColumns(older), newer, 'snowflake', 't'));
    assert.equal(snowflake?.column, 'code');
    assert.match(snowflake?.message ?? '', /VARCHAR to NUMBER\(38,0\)/);
    // integer → string is no widening either: old numbers and new strings would not sort or sum alike.
    const [back] = reasonsOf(
      diffTable(duckdbColumns(newer), object({ code: { type: 'string' } }), 'duckdb', 't'),
    );
    assert.match(back?.message ?? '', /\/code changes from BIGINT to VARCHAR/);
  });

  test('integer → number widens BIGINT to DOUBLE (and INTEGER to BIGINT) in DuckDB, keeping the data', () =>
    withDuckdb(async (conn) => {
      const v1 = object({ amount: { type: 'integer' }, count: { type: 'integer' } }, ['amount']);
      const v2 = object({ amount: { type: 'number' }, count: { type: 'integer' } }, ['amount']);
      await conn.run(duckdbCreateTable('t', v1));
      // A table made by hand may use a narrower integer than ours.
      await conn.run('ALTER TABLE t ALTER COLUMN count SET DATA TYPE INTEGER');
      await conn.run(`INSERT INTO t VALUES (42, 7, 'e', now(), now(), 'src', 1, 0, 0, false)`);
      const steps = stepsOf(diffTable(await describeTable(conn, 't'), v2, 'duckdb', 't'));
      assert.deepEqual(steps, [
        'ALTER TABLE "t" ALTER COLUMN "amount" SET DATA TYPE DOUBLE',
        'ALTER TABLE "t" ALTER COLUMN "count" SET DATA TYPE BIGINT',
      ]);
      await applyTwice(conn, steps);
      await conn.run(`INSERT INTO t VALUES (42.5, 8, 'e', now(), now(), 'src', 1, 0, 1, false)`);
      assert.deepEqual(await query(conn, 'SELECT amount, count FROM t ORDER BY _kafka_offset'), [
        { amount: 42, count: '7' },
        { amount: 42.5, count: '8' },
      ]);
      const amount = (await describeTable(conn, 't')).find((c) => c.name === 'amount');
      assert.deepEqual(amount, { name: 'amount', type: 'DOUBLE', nullable: false });

      // Snowflake cannot turn NUMBER into FLOAT in place.
      const [reason] = reasonsOf(diffTable(snowflakeColumns(v1), v2, 'snowflake', 't'));
      assert.deepEqual(reason, {
        column: 'amount',
        message: `/amount changes from NUMBER(38,0) to FLOAT: not a widening Snowflake can apply in place${advice}`,
      });
    }));

  test('DuckDB adds struct fields in place, also inside lists and nested structs, and widens nested numbers', () =>
    withDuckdb(async (conn) => {
      const v1 = object({
        profile: object({
          name: { type: 'string' },
          age: { type: 'integer' },
          address: object({ city: { type: 'string' } }),
        }),
        orders: { type: 'array', items: object({ sku: { type: 'string' } }) },
      });
      const v2 = object({
        profile: object({
          name: { type: 'string' },
          age: { type: 'number' },
          address: object({ city: { type: 'string' }, zip: { type: 'string' } }),
          email: { type: 'string' },
        }),
        orders: { type: 'array', items: object({ sku: { type: 'string' }, qty: { type: 'integer' } }) },
      });
      await conn.run(duckdbCreateTable('t', v1));
      await conn.run(
        `INSERT INTO t VALUES ({'name': 'Ada', 'age': 36, 'address': {'city': 'London'}}, [{'sku': 'k'}],
         'e', now(), now(), 'src', 1, 0, 0, false)`,
      );
      const diff = diffTable(await describeTable(conn, 't'), v2, 'duckdb', 't');
      const steps = stepsOf(diff);
      assert.deepEqual(steps, [
        'ALTER TABLE "t" ADD COLUMN IF NOT EXISTS "profile"."address"."zip" VARCHAR',
        'ALTER TABLE "t" ADD COLUMN IF NOT EXISTS "profile"."email" VARCHAR',
        'ALTER TABLE "t" ALTER COLUMN "profile" SET DATA TYPE STRUCT("name" VARCHAR, "age" DOUBLE, "address" STRUCT("city" VARCHAR, "zip" VARCHAR), "email" VARCHAR)',
        'ALTER TABLE "t" ADD COLUMN IF NOT EXISTS "orders"."element"."qty" BIGINT',
      ]);
      assert.deepEqual(diff.kind === 'compatible' ? diff.steps.map((s) => s.description) : [], [
        'add field /profile/address/zip VARCHAR to profile',
        'add field /profile/email VARCHAR to profile',
        'widen profile from STRUCT("name" VARCHAR, age BIGINT, address STRUCT(city VARCHAR)) to STRUCT("name" VARCHAR, "age" DOUBLE, "address" STRUCT("city" VARCHAR, "zip" VARCHAR), "email" VARCHAR)',
        'add field /orders/[]/qty BIGINT to orders',
      ]);
      await applyTwice(conn, steps);
      assert.deepEqual(diffTable(await describeTable(conn, 't'), v2, 'duckdb', 't'), {
        kind: 'compatible',
        steps: [],
      });
      assert.deepEqual(await query(conn, 'SELECT profile, orders FROM t'), [
        {
          profile: { name: 'Ada', age: 36, address: { city: 'London', zip: null }, email: null },
          orders: [{ sku: 'k', qty: null }],
        },
      ]);
      // In Snowflake both columns are VARIANT: nothing to do.
      assert.deepEqual(diffTable(snowflakeColumns(v1), v2, 'snowflake', 't'), {
        kind: 'compatible',
        steps: [],
      });
    }));

  test('optional, removed and new required properties: nullable columns and DROP NOT NULL, never SET NOT NULL', () =>
    withDuckdb(async (conn) => {
      const v1 = object(
        { a: { type: 'string' }, b: { type: 'string' }, c: { type: 'string' }, e: { type: 'string' } },
        ['a', 'b', 'c'],
      );
      const v2 = object(
        { a: { type: 'string' }, b: { type: 'string' }, e: { type: 'string' }, d: { type: 'string' } },
        ['a', 'e', 'd'],
      );
      await conn.run(duckdbCreateTable('t', v1));
      const diff = diffTable(await describeTable(conn, 't'), v2, 'duckdb', 't');
      assert.deepEqual(diff, {
        kind: 'compatible',
        steps: [
          {
            sql: 'ALTER TABLE "t" ALTER COLUMN "b" DROP NOT NULL',
            description: 'drop NOT NULL on b: the property is no longer required',
          },
          {
            sql: 'ALTER TABLE "t" ADD COLUMN IF NOT EXISTS "d" VARCHAR',
            description: 'add column d VARCHAR (nullable: rows loaded before have no value)',
          },
          {
            sql: 'ALTER TABLE "t" ALTER COLUMN "c" DROP NOT NULL',
            description: 'drop NOT NULL on c: the property left the schema; the column stays for old rows',
          },
        ],
      });
      await applyTwice(conn, stepsOf(diff));
      const nullable = Object.fromEntries(
        (await describeTable(conn, 't'))
          .filter((c) => !c.name.startsWith('_'))
          .map((c) => [c.name, c.nullable]),
      );
      assert.deepEqual(nullable, { a: false, b: true, c: true, e: true, d: true });
    }));

  test('Snowflake: DESCRIBE-style types diff cleanly; v1 → v2 adds two columns; precision and length widen', () => {
    // How Snowflake's DESCRIBE TABLE spells the types snowflakeCreateTable() used.
    const described = snowflakeColumns(orderV1).map((c) => ({
      ...c,
      type: c.type.replace(/^VARCHAR$/, 'VARCHAR(16777216)').replace(/^TIMESTAMP_TZ$/, 'TIMESTAMP_TZ(9)'),
    }));
    assert.ok(described.some((c) => c.type === 'TIMESTAMP_TZ(9)'));
    assert.deepEqual(stepsOf(diffTable(described, orderV2, 'snowflake', 'order_created')), [
      'ALTER TABLE "order_created" ADD COLUMN IF NOT EXISTS "promo_code" VARCHAR',
      'ALTER TABLE "order_created" ADD COLUMN IF NOT EXISTS "tip_cents" NUMBER(38,0)',
    ]);
    const narrow = described.map((c) =>
      c.name === 'subtotal_cents'
        ? { ...c, type: 'NUMBER(18,0)' }
        : c.name === 'store_id'
          ? { ...c, type: 'VARCHAR(64)' }
          : c,
    );
    assert.deepEqual(stepsOf(diffTable(narrow, orderV1, 'snowflake', 'order_created')), [
      'ALTER TABLE "order_created" ALTER COLUMN "store_id" SET DATA TYPE VARCHAR',
      'ALTER TABLE "order_created" ALTER COLUMN "subtotal_cents" SET DATA TYPE NUMBER(38,0)',
    ]);
  });
});

describe('Snowflake DDL', () => {
  test('order_created v2', () => {
    assert.equal(
      snowflakeCreateTable('order_created', orderV2),
      [
        'CREATE TABLE IF NOT EXISTS "order_created" (',
        '  "order_id" VARCHAR NOT NULL,',
        '  "customer_id" VARCHAR NOT NULL,',
        '  "store_id" VARCHAR NOT NULL,',
        '  "items" VARIANT NOT NULL,',
        '  "subtotal_cents" NUMBER(38,0) NOT NULL,',
        '  "currency" VARCHAR NOT NULL,',
        '  "placed_at" TIMESTAMP_TZ NOT NULL,',
        '  "platform" VARCHAR,',
        '  "delivery_address" VARIANT,',
        '  "promo_code" VARCHAR,',
        '  "tip_cents" NUMBER(38,0),',
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

  test('free-form JSON, dates and booleans', () => {
    const schema = object({
      attributes: { type: 'object' },
      day: { type: 'string', format: 'date' },
      ok: { type: 'boolean' },
    });
    assert.deepEqual(snowflakeColumns(schema).slice(0, 3), [
      { name: 'attributes', type: 'VARIANT', nullable: true },
      { name: 'day', type: 'DATE', nullable: true },
      { name: 'ok', type: 'BOOLEAN', nullable: true },
    ]);
  });
});
