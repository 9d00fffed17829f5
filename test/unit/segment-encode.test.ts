// The segment encoder against its real consumer: records with real envelope headers go in, the
// Parquet files that come out are read by DuckDB (read_parquet, and INSERT … BY NAME into the
// table duckdbCreateTable() makes) and checked value by value; broken records come out rejected.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import {
  encodeSegment,
  SegmentEncoder,
  segmentObjectKey,
  type EncodedSegment,
  type SegmentGroup,
} from '../../activities/segment/encode.js';
import { formatMicros, parseDateDays, parseTimestampMicros } from '../../activities/segment/time.js';
import { buildEnvelope, envelopeHeaders, type EnvelopeInput } from '../../lib/envelope.js';
import type { HeaderPair, RangeRecord, RawRangeRecord } from '../../lib/kafka.js';
import { rawRecord } from '../helpers/record-batch.js';
import {
  eventSettingsSchema,
  loadCatalog,
  type Catalog,
  type EventType,
  type SchemaVersion,
} from '../../schemas/catalog.js';
import type { JsonSchema } from '../../schemas/json-schema.js';
import { duckdbCreateTable, quoteIdent } from '../../schemas/mapping.js';
import { EventValidator } from '../../schemas/validator.js';

const catalog = loadCatalog();
const validator = new EventValidator(catalog);
const typeOf = (name: string): EventType => {
  const t = catalog.types.get(name);
  assert.ok(t, name);
  return t;
};
const orderType = typeOf('order_created');
const pageLoadType = typeOf('mobile_page_load');

// ---------------------------------------------------------------------------------------------
// Records as a producer (or the proxy) writes them to Kafka

const ingestedAt = new Date('2026-11-25T14:00:00.123Z');

interface RecordSpec {
  offset: number;
  type: string;
  version: number;
  time: string;
  payload: unknown;
  test?: boolean;
  /** Replaces the JSON value. */
  raw?: Buffer;
  headers?: (h: Record<string, string>) => void;
}

function rec(spec: RecordSpec): RangeRecord {
  const input: EnvelopeInput = {
    type: spec.type,
    dataschema: `urn:sluice:schema:${spec.type}:v${spec.version}`,
    id: `evt-${spec.offset}`,
    source: '/checkout-service',
    time: spec.time,
    test: spec.test,
  };
  const headers = envelopeHeaders(buildEnvelope(input, ingestedAt, '/sluice/proxy'));
  spec.headers?.(headers);
  return {
    offset: BigInt(spec.offset),
    timestamp: BigInt(ingestedAt.getTime()),
    key: null,
    value: spec.raw ?? Buffer.from(JSON.stringify(spec.payload)),
    headers,
  };
}

/** JSON.parse's own message for `text` (it differs between Node versions). */
function syntaxError(text: string): string {
  try {
    JSON.parse(text);
  } catch (e) {
    if (e instanceof SyntaxError) return e.message;
  }
  return assert.fail(`${text} parsed`);
}

const item = (sku: string, quantity: number, unit: number): Record<string, unknown> => ({
  sku,
  quantity,
  unit_price_cents: unit,
});

const orderV1 = (n: number): Record<string, unknown> => ({
  order_id: `4b5e2f1c-8f7a-4a8e-9d7e-2a1c3b4d${String(n).padStart(4, '0')}`,
  customer_id: `c-${n}`,
  store_id: 's-9',
  items: [item('burrito', 2, 899)],
  subtotal_cents: 1798,
  currency: 'USD',
  placed_at: '2026-11-25T12:00:00Z',
});

const orderRecords: RangeRecord[] = [
  rec({
    offset: 100,
    type: 'order_created',
    version: 1,
    time: '2026-11-25T12:05:00Z',
    payload: {
      ...orderV1(100),
      platform: 'ios',
      delivery_address: { city: 'Toronto', postal_code: 'M5V 2T6', lat: 43.6426, lng: -79.3871 },
    },
  }),
  rec({
    offset: 101,
    type: 'order_created',
    version: 2,
    time: '2026-11-25T12:59:59.999999Z',
    payload: {
      ...orderV1(101),
      placed_at: '2026-11-25T12:59:59.1234567Z',
      promo_code: null,
      tip_cents: 150,
    },
  }),
  // No ce_id: a producer writing to Kafka directly got the envelope wrong.
  rec({
    offset: 102,
    type: 'order_created',
    version: 2,
    time: '2026-11-25T12:10:00Z',
    payload: orderV1(102),
    headers: (h) => delete h.ce_id,
  }),
  rec({
    offset: 103,
    type: 'order_created',
    version: 2,
    time: '2026-11-25T15:10:00+02:00',
    test: true,
    payload: {
      ...orderV1(103),
      items: [item('taco', 3, 350), item('salsa "verde"', 1, 0), item('agua fresca', 1000, 299)],
      subtotal_cents: 300_349,
      currency: 'CAD',
      placed_at: '2026-11-25T14:10:00.5+01:00',
      platform: 'web',
      delivery_address: { city: 'Montréal', postal_code: 'H2X 1Y4' },
      promo_code: 'FALL10',
      tip_cents: 0,
    },
  }),
  rec({
    offset: 104,
    type: 'order_created',
    version: 2,
    time: '2026-11-25T12:20:00Z',
    payload: { ...orderV1(104), items: [item('burrito', 0, 899)] },
  }),
  rec({
    offset: 105,
    type: 'mobile_page_load',
    version: 1,
    time: '2026-11-25T12:21:00Z',
    payload: { session_id: 's', page: '/home', load_ms: 10, occurred_at: '2026-11-25T12:21:00Z' },
  }),
  rec({
    offset: 106,
    type: 'order_created',
    version: 1,
    time: '2026-11-25T13:00:00Z',
    payload: orderV1(106),
  }),
  rec({
    offset: 107,
    type: 'order_created',
    version: 3,
    time: '2026-11-25T12:30:00Z',
    payload: orderV1(107),
  }),
  rec({
    offset: 108,
    type: 'order_created',
    version: 2,
    time: '2026-11-25T12:31:00Z',
    payload: null,
    raw: Buffer.from('{"order_id": '),
  }),
  rec({
    offset: 109,
    type: 'order_created',
    version: 2,
    time: '2026-11-25T12:32:00Z',
    payload: null,
    raw: Buffer.from(JSON.stringify(orderV1(109)).replace(/}$/, ',"tip_cents":9007199254740993}')),
  }),
  rec({
    offset: 110,
    type: 'order_created',
    version: 2,
    time: '2026-11-25T12:30:00.000001Z',
    payload: { ...orderV1(110), tip_cents: 9_007_199_254_740_991 },
  }),
  rec({
    offset: 111,
    type: 'order_created',
    version: 2,
    time: '2026-11-25T23:30:00-01:00',
    payload: { ...orderV1(111), placed_at: '2026-11-26T00:29:59Z' },
  }),
  // Valid JSON Schema, but JSON.parse already rounded the number: rejected after some of its
  // columns (and list items) were appended, which must leave no trace in the file.
  rec({
    offset: 112,
    type: 'order_created',
    version: 2,
    time: '2026-11-25T12:40:00Z',
    payload: null,
    raw: Buffer.from(
      JSON.stringify({ ...orderV1(112), items: [item('taco', 1, 350), item('tostada', 2, 1)] }).replace(
        '"unit_price_cents":1}',
        '"unit_price_cents":9007199254740993}',
      ),
    ),
  }),
  rec({
    offset: 113,
    type: 'order_created',
    version: 2,
    time: '2026-11-25T12:41:00Z',
    payload: { ...orderV1(113), items: [item('nachos', 4, 650)], promo_code: 'WELCOME' },
  }),
];

const orderFrom = 100n;
const orderTo = 114n;

// ---------------------------------------------------------------------------------------------
// DuckDB

let dir: string;
let fileCount = 0;
before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-segment-'));
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function withDuckdb<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
    db.closeSync();
  }
}

type Row = Record<string, unknown>;

async function query(conn: DuckDBConnection, sql: string): Promise<Row[]> {
  return (await conn.runAndReadAll(sql)).getRowObjectsJson();
}

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

function writeGroup(g: SegmentGroup): string {
  const file = join(dir, `group-${fileCount++}.parquet`);
  writeFileSync(file, g.bytes);
  return file;
}

const isoUs = (column: string): string =>
  `strftime(${quoteIdent(column)} AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ') AS ${quoteIdent(column)}`;

/** Every row of a file, timestamps as `…ffffffZ` text, BIGINTs as strings (getRowObjectsJson). */
async function readFile(conn: DuckDBConnection, file: string, timestamps: string[]): Promise<Row[]> {
  return query(
    conn,
    `SELECT * REPLACE (${timestamps.map(isoUs).join(', ')})
     FROM read_parquet(${sqlString(file)}) ORDER BY _kafka_offset`,
  );
}

const envelopeOf = (
  offset: number,
  version: number,
  partition: number,
  eventTime: string,
  isTest = false,
): Row => ({
  _event_id: `evt-${offset}`,
  _event_time: eventTime,
  _ingest_time: '2026-11-25T14:00:00.123000Z',
  _source: '/checkout-service',
  _schema_version: version,
  _kafka_partition: partition,
  _kafka_offset: String(offset),
  _test: isTest,
});

const orderColumns = (n: number): Row => ({
  order_id: `4b5e2f1c-8f7a-4a8e-9d7e-2a1c3b4d${String(n).padStart(4, '0')}`,
  customer_id: `c-${n}`,
  store_id: 's-9',
  items: [{ sku: 'burrito', quantity: '2', unit_price_cents: '899' }],
  subtotal_cents: '1798',
  currency: 'USD',
  placed_at: '2026-11-25T12:00:00.000000Z',
  platform: null,
  delivery_address: null,
});

const v2Columns = (n: number): Row => ({ ...orderColumns(n), promo_code: null, tip_cents: null });

// ---------------------------------------------------------------------------------------------

describe('encodeSegment: order_created, v1 and v2 across hours, with broken records', () => {
  let encoded: EncodedSegment;
  before(() => {
    encoded = encodeSegment({ type: orderType, validator, partition: 1, records: orderRecords });
  });

  test('groups by schema version and UTC event hour, with row counts, offsets and event-time bounds', () => {
    assert.deepEqual(
      encoded.groups.map(({ bytes: _bytes, ...g }) => g),
      [
        {
          schemaVersion: 1,
          dt: '2026-11-25',
          hr: '12',
          rows: 1,
          minEventTime: '2026-11-25T12:05:00.000000Z',
          maxEventTime: '2026-11-25T12:05:00.000000Z',
          firstOffset: 100n,
          lastOffset: 100n,
        },
        {
          schemaVersion: 1,
          dt: '2026-11-25',
          hr: '13',
          rows: 1,
          minEventTime: '2026-11-25T13:00:00.000000Z',
          maxEventTime: '2026-11-25T13:00:00.000000Z',
          firstOffset: 106n,
          lastOffset: 106n,
        },
        {
          schemaVersion: 2,
          dt: '2026-11-25',
          hr: '12',
          rows: 3,
          minEventTime: '2026-11-25T12:30:00.000001Z',
          maxEventTime: '2026-11-25T12:59:59.999999Z',
          firstOffset: 101n,
          lastOffset: 113n,
        },
        {
          schemaVersion: 2,
          dt: '2026-11-25',
          hr: '13',
          rows: 1,
          minEventTime: '2026-11-25T13:10:00.000000Z',
          maxEventTime: '2026-11-25T13:10:00.000000Z',
          firstOffset: 103n,
          lastOffset: 103n,
        },
        {
          schemaVersion: 2,
          dt: '2026-11-26',
          hr: '00',
          rows: 1,
          minEventTime: '2026-11-26T00:30:00.000000Z',
          maxEventTime: '2026-11-26T00:30:00.000000Z',
          firstOffset: 111n,
          lastOffset: 111n,
        },
      ],
    );
  });

  test('broken envelope, failing validation, type mismatch, unknown version, bad JSON and an inexact integer are rejected with reasons', () => {
    const byOffset = new Map(orderRecords.map((r) => [r.offset, r]));
    assert.deepEqual(
      encoded.rejected.map((r) => {
        assert.equal(r.record, byOffset.get(r.offset), 'the original record is handed back for the DLQ');
        return [r.offset, r.errorCode, r.reason];
      }),
      [
        [102n, 'INVALID_EVENT', 'broken envelope: CloudEvents attribute "id": must be a non-empty string'],
        [
          104n,
          'SCHEMA_VALIDATION_FAILED',
          'order_created v2: 1 field error(s): /items/0/quantity must be >= 1',
        ],
        [105n, 'INVALID_EVENT', 'ce_type is "mobile_page_load" but this topic carries order_created'],
        [
          107n,
          'UNKNOWN_SCHEMA_VERSION',
          'event type "order_created" has no schema version 3; versions: 1, 2',
        ],
        [108n, 'MALFORMED_BODY', `the value is not JSON: ${syntaxError('{"order_id": ')}`],
        [
          109n,
          'SCHEMA_VALIDATION_FAILED',
          'order_created v2: /tip_cents integer beyond ±(2^53 − 1) cannot be read exactly from JSON',
        ],
        [
          112n,
          'SCHEMA_VALIDATION_FAILED',
          'order_created v2: /items/1/unit_price_cents integer beyond ±(2^53 − 1) cannot be read exactly from JSON',
        ],
      ],
    );
  });

  test('DuckDB reads every row back: payload columns, nested structs and lists, envelope columns', () =>
    withDuckdb(async (conn) => {
      const rowsOf = async (i: number): Promise<Row[]> => {
        const g = encoded.groups[i];
        assert.ok(g);
        return readFile(conn, writeGroup(g), ['placed_at', '_event_time', '_ingest_time']);
      };
      assert.deepEqual(await rowsOf(0), [
        {
          ...orderColumns(100),
          platform: 'ios',
          delivery_address: { city: 'Toronto', postal_code: 'M5V 2T6', lat: 43.6426, lng: -79.3871 },
          ...envelopeOf(100, 1, 1, '2026-11-25T12:05:00.000000Z'),
        },
      ]);
      assert.deepEqual(await rowsOf(1), [
        { ...orderColumns(106), ...envelopeOf(106, 1, 1, '2026-11-25T13:00:00.000000Z') },
      ]);
      assert.deepEqual(await rowsOf(2), [
        {
          ...v2Columns(101),
          placed_at: '2026-11-25T12:59:59.123456Z',
          tip_cents: '150',
          ...envelopeOf(101, 2, 1, '2026-11-25T12:59:59.999999Z'),
        },
        {
          ...v2Columns(110),
          tip_cents: '9007199254740991',
          ...envelopeOf(110, 2, 1, '2026-11-25T12:30:00.000001Z'),
        },
        {
          ...v2Columns(113),
          items: [{ sku: 'nachos', quantity: '4', unit_price_cents: '650' }],
          promo_code: 'WELCOME',
          ...envelopeOf(113, 2, 1, '2026-11-25T12:41:00.000000Z'),
        },
      ]);
      assert.deepEqual(await rowsOf(3), [
        {
          ...v2Columns(103),
          items: [
            { sku: 'taco', quantity: '3', unit_price_cents: '350' },
            { sku: 'salsa "verde"', quantity: '1', unit_price_cents: '0' },
            { sku: 'agua fresca', quantity: '1000', unit_price_cents: '299' },
          ],
          subtotal_cents: '300349',
          currency: 'CAD',
          placed_at: '2026-11-25T13:10:00.500000Z',
          platform: 'web',
          delivery_address: { city: 'Montréal', postal_code: 'H2X 1Y4', lat: null, lng: null },
          promo_code: 'FALL10',
          tip_cents: '0',
          ...envelopeOf(103, 2, 1, '2026-11-25T13:10:00.000000Z', true),
        },
      ]);
      assert.deepEqual(await rowsOf(4), [
        {
          ...v2Columns(111),
          placed_at: '2026-11-26T00:29:59.000000Z',
          ...envelopeOf(111, 2, 1, '2026-11-26T00:30:00.000000Z'),
        },
      ]);
    }));

  test('the files load BY NAME into the table duckdbCreateTable() makes, v1 and v2 alike, ZSTD-compressed', () =>
    withDuckdb(async (conn) => {
      await conn.run(duckdbCreateTable('order_created', orderType.latest.schema));
      for (const g of encoded.groups) {
        const file = writeGroup(g);
        await conn.run(`INSERT INTO order_created BY NAME SELECT * FROM read_parquet(${sqlString(file)})`);
        assert.deepEqual(
          await query(conn, `SELECT DISTINCT compression FROM parquet_metadata(${sqlString(file)})`),
          [{ compression: 'ZSTD' }],
        );
      }
      assert.deepEqual(
        await query(
          conn,
          `SELECT _kafka_offset, _schema_version, _test, tip_cents, len(items) AS items
           FROM order_created ORDER BY _kafka_offset`,
        ),
        [
          { _kafka_offset: '100', _schema_version: 1, _test: false, tip_cents: null, items: '1' },
          { _kafka_offset: '101', _schema_version: 2, _test: false, tip_cents: '150', items: '1' },
          { _kafka_offset: '103', _schema_version: 2, _test: true, tip_cents: '0', items: '3' },
          { _kafka_offset: '106', _schema_version: 1, _test: false, tip_cents: null, items: '1' },
          {
            _kafka_offset: '110',
            _schema_version: 2,
            _test: false,
            tip_cents: '9007199254740991',
            items: '1',
          },
          { _kafka_offset: '111', _schema_version: 2, _test: false, tip_cents: null, items: '1' },
          { _kafka_offset: '113', _schema_version: 2, _test: false, tip_cents: null, items: '1' },
        ],
      );
    }));

  test('deterministic: the same records, in any order, give byte-identical files with no clock in them', () =>
    withDuckdb(async (conn) => {
      const again = encodeSegment({
        type: orderType,
        validator,
        partition: 1,
        records: [...orderRecords].reverse(),
      });
      assert.equal(again.groups.length, encoded.groups.length);
      encoded.groups.forEach((g, i) => {
        const other = again.groups[i];
        assert.ok(other);
        assert.equal(Buffer.compare(Buffer.from(g.bytes), Buffer.from(other.bytes)), 0, `group ${i} differs`);
      });
      assert.deepEqual(
        again.rejected.map((r) => r.offset),
        encoded.rejected.map((r) => r.offset),
      );
      // The footer holds the writer's name and version and the Arrow schema: nothing per run.
      const g = encoded.groups[0];
      assert.ok(g);
      const file = writeGroup(g);
      const [meta] = await query(conn, `SELECT created_by FROM parquet_file_metadata(${sqlString(file)})`);
      assert.match(String(meta?.created_by), /^parquet-rs version \d+\.\d+\.\d+$/);
      assert.deepEqual(
        await query(conn, `SELECT decode(key) AS key FROM parquet_kv_metadata(${sqlString(file)})`),
        [{ key: 'ARROW:schema' }],
      );
    }));

  test('records with raw header bytes (readRawRange), added one by one, give the same files and rejections', () => {
    const raw = orderRecords.map((r): RawRangeRecord => ({
      ...rawRecord(
        Object.entries(r.headers).map(([k, v]): HeaderPair => [Buffer.from(k), Buffer.from(v)]),
        r.value,
        r.offset,
      ),
      timestamp: r.timestamp,
      key: r.key,
    }));
    const encoder = new SegmentEncoder({ type: orderType, validator, partition: 1 });
    for (const r of raw) encoder.add(r);
    assert.equal(encoder.records, raw.length);
    const streamed = encoder.finish();
    assert.deepEqual(
      streamed.groups.map((g) => ({ ...g, bytes: Buffer.from(g.bytes).toString('base64') })),
      encoded.groups.map((g) => ({ ...g, bytes: Buffer.from(g.bytes).toString('base64') })),
    );
    assert.deepEqual(
      streamed.rejected.map((r) => [r.offset, r.errorCode, r.reason, r.record.headers]),
      encoded.rejected.map((r) => [r.offset, r.errorCode, r.reason, r.record.headers]),
    );
    const again = new SegmentEncoder({ type: orderType, validator, partition: 1 });
    again.add(raw[1]!);
    assert.throws(() => again.add(raw[1]!), /offset 101 appears twice/);
    assert.throws(() => again.add(raw[0]!), /offset 100 comes after 101/);
  });

  test('a UTF-8 byte order mark before the JSON is skipped; invalid UTF-8 is rejected', () => {
    const payload = { ...orderV1(120) };
    const withBom = rec({
      offset: 120,
      type: 'order_created',
      version: 1,
      time: '2026-11-25T12:05:00Z',
      payload,
    });
    withBom.value = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), withBom.value ?? Buffer.alloc(0)]);
    const broken = rec({
      offset: 121,
      type: 'order_created',
      version: 1,
      time: '2026-11-25T12:05:00Z',
      payload,
      raw: Buffer.from([0x7b, 0xff, 0x7d]),
    });
    const { groups, rejected } = encodeSegment({
      type: orderType,
      validator,
      partition: 1,
      records: [withBom, broken],
    });
    assert.equal(groups[0]?.rows, 1);
    assert.deepEqual(
      rejected.map((r) => [r.offset, r.errorCode, r.reason]),
      [[121n, 'MALFORMED_BODY', 'the value is not JSON: not valid UTF-8']],
    );
  });

  test('a group whose first records are rejected starts at its first row: offsets and event times', () => {
    const at = (offset: number, time: string, payload: unknown): RangeRecord =>
      rec({ offset, type: 'order_created', version: 1, time, payload });
    const { groups, rejected } = encodeSegment({
      type: orderType,
      validator,
      partition: 1,
      records: [
        at(200, '2026-11-25T12:01:00Z', { ...orderV1(200), currency: 'XXX' }),
        at(201, '2026-11-25T12:02:00Z', { ...orderV1(201), items: [] }),
        at(202, '2026-11-25T12:30:00Z', orderV1(202)),
        at(203, '2026-11-25T12:10:00Z', { ...orderV1(203), store_id: 7 }),
        at(204, '2026-11-25T12:20:00Z', orderV1(204)),
      ],
    });
    assert.deepEqual(
      rejected.map((r) => r.offset),
      [200n, 201n, 203n],
    );
    assert.equal(groups.length, 1);
    const [g] = groups;
    assert.deepEqual(
      [g?.rows, g?.firstOffset, g?.lastOffset, g?.minEventTime, g?.maxEventTime],
      [2, 202n, 204n, '2026-11-25T12:20:00.000000Z', '2026-11-25T12:30:00.000000Z'],
    );
  });

  test('object keys: one per group, under v=/dt=/hr=, all named after the whole segment range', () => {
    const keys = encoded.groups.map((g) => segmentObjectKey('order_created', g, 1, orderFrom, orderTo));
    assert.deepEqual(keys, [
      'events/order_created/v=1/dt=2026-11-25/hr=12/order_created-p1-100-114.parquet',
      'events/order_created/v=1/dt=2026-11-25/hr=13/order_created-p1-100-114.parquet',
      'events/order_created/v=2/dt=2026-11-25/hr=12/order_created-p1-100-114.parquet',
      'events/order_created/v=2/dt=2026-11-25/hr=13/order_created-p1-100-114.parquet',
      'events/order_created/v=2/dt=2026-11-26/hr=00/order_created-p1-100-114.parquet',
    ]);
    assert.equal(new Set(keys).size, keys.length);
    const g = encoded.groups[0];
    assert.ok(g);
    // A group that is not inside the range named would take another segment's key.
    assert.throws(
      () => segmentObjectKey('order_created', g, 1, 101n, 114n),
      /outside the segment \[101, 114\)/,
    );
    assert.throws(() => segmentObjectKey('order_created', g, 1, 90n, 100n), /outside the segment/);
  });
});

describe('encodeSegment: mobile_page_load (open content model)', () => {
  const records = [
    rec({
      offset: 7,
      type: 'mobile_page_load',
      version: 1,
      time: '2026-11-25T08:15:32.250Z',
      test: true,
      payload: {
        session_id: 'sess-1',
        user_id: null,
        page: '/store/42',
        load_ms: 812.5,
        occurred_at: '2026-11-25T08:15:32.000001Z',
        network: 'wifi',
        device: { os: 'ios', os_version: '18.1', model: 'iPhone16,2' },
        tags: ['cold-start', 'ünïcødé ✓'],
        app_build: '2026.11.3',
      },
    }),
    rec({
      offset: 8,
      type: 'mobile_page_load',
      version: 1,
      time: '2026-11-25T08:59:00Z',
      payload: {
        session_id: 'sess-2',
        page: '/',
        load_ms: 250,
        occurred_at: '2026-11-25T08:59:00Z',
        device: {},
        tags: [],
      },
    }),
  ];

  test('declared properties become columns (extras stay in Kafka), empty structs and lists survive', () =>
    withDuckdb(async (conn) => {
      const { groups, rejected } = encodeSegment({ type: pageLoadType, validator, partition: 4, records });
      assert.deepEqual(rejected, []);
      assert.equal(groups.length, 1);
      const [g] = groups;
      assert.ok(g);
      assert.equal(
        segmentObjectKey('mobile_page_load', g, 4, 7n, 9n),
        'events/mobile_page_load/v=1/dt=2026-11-25/hr=08/mobile_page_load-p4-7-9.parquet',
      );
      const src = (r: Row): Row => ({ ...r, _source: '/checkout-service' });
      assert.deepEqual(await readFile(conn, writeGroup(g), ['occurred_at', '_event_time', '_ingest_time']), [
        src({
          session_id: 'sess-1',
          user_id: null,
          page: '/store/42',
          load_ms: 812.5,
          occurred_at: '2026-11-25T08:15:32.000001Z',
          network: 'wifi',
          device: { os: 'ios', os_version: '18.1', model: 'iPhone16,2' },
          tags: ['cold-start', 'ünïcødé ✓'],
          ...envelopeOf(7, 1, 4, '2026-11-25T08:15:32.250000Z', true),
        }),
        src({
          session_id: 'sess-2',
          user_id: null,
          page: '/',
          load_ms: 250,
          occurred_at: '2026-11-25T08:59:00.000000Z',
          network: null,
          device: { os: null, os_version: null, model: null },
          tags: [],
          ...envelopeOf(8, 1, 4, '2026-11-25T08:59:00.000000Z'),
        }),
      ]);
    }));
});

describe('encodeSegment: every column construct', () => {
  const schema: JsonSchema = {
    $schema: 'https://json-schema.org/draft/2020-12/schema',
    $id: 'urn:sluice:schema:all_constructs:v1',
    type: 'object',
    required: ['id', 'value'],
    properties: {
      id: { type: 'string' },
      attributes: { type: 'object' },
      value: { type: ['string', 'integer'] },
      day: { type: 'string', format: 'date' },
      seen_at: { type: 'array', items: { type: 'string', format: 'date-time' } },
      matrix: { type: 'array', items: { type: 'array', items: { type: 'number' } } },
      flags: { type: 'array', items: { type: ['boolean', 'null'] } },
      profile: {
        type: 'object',
        required: ['name'],
        properties: {
          name: { type: 'string' },
          address: { type: 'object', properties: { city: { type: 'string' }, zip: { type: 'string' } } },
        },
      },
      ok: { type: 'boolean' },
      ratio: { type: 'number' },
    },
  };
  const version: SchemaVersion = { version: 1, id: String(schema.$id), file: 'memory', schema };
  const type: EventType = {
    name: 'all_constructs',
    dir: 'memory',
    settings: eventSettingsSchema.parse({ owner: 'test', description: 'every construct' }),
    topic: 'events.all_constructs',
    dlqTopic: 'events.all_constructs.dlq',
    consumerGroup: 'sluice.all_constructs',
    table: 'all_constructs',
    versions: [version],
    latest: version,
  };
  const memoryCatalog: Catalog = { dir: 'memory', types: new Map([[type.name, type]]) };
  const at = (offset: number, payload: unknown): RangeRecord =>
    rec({ offset, type: 'all_constructs', version: 1, time: '2026-01-01T00:00:00Z', payload });

  test('JSON text, dates, lists of timestamps, lists of lists, nullable list items, nested structs', () =>
    withDuckdb(async (conn) => {
      const { groups, rejected } = encodeSegment({
        type,
        validator: new EventValidator(memoryCatalog),
        partition: 0,
        compression: 'SNAPPY',
        records: [
          at(0, {
            id: 'a',
            attributes: { color: 'red', sizes: [1, 2], nested: { deep: null } },
            value: 'abc',
            day: '0050-03-01',
            seen_at: ['1969-12-31T23:59:59.999999Z', '2026-01-01T00:00:00.1Z'],
            matrix: [[1.5, 2], [], [3]],
            flags: [true, null, false],
            profile: { name: 'Ada', address: { city: 'London' } },
            ok: true,
            ratio: 0.25,
          }),
          at(1, { id: 'b', value: 42, profile: { name: 'Bob' }, ok: false }),
          at(2, { id: 'c', value: 'x', day: '2026-02-30x' }),
        ],
      });
      assert.deepEqual(
        rejected.map((r) => [r.offset, r.errorCode]),
        [[2n, 'SCHEMA_VALIDATION_FAILED']],
      );
      const [g] = groups;
      assert.ok(g && groups.length === 1);
      const file = writeGroup(g);
      await conn.run(duckdbCreateTable('all_constructs', schema));
      await conn.run(`INSERT INTO all_constructs BY NAME SELECT * FROM read_parquet(${sqlString(file)})`);
      assert.deepEqual(
        await query(
          conn,
          `SELECT id, attributes, attributes ->> 'color' AS color, value, json_type(value) AS value_type,
             day, list_transform(seen_at, t -> strftime(t AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%fZ')) AS seen_at,
             matrix, flags, profile, ok, ratio
           FROM all_constructs ORDER BY _kafka_offset`,
        ),
        [
          {
            id: 'a',
            attributes: '{"color":"red","sizes":[1,2],"nested":{"deep":null}}',
            color: 'red',
            value: '"abc"',
            value_type: 'VARCHAR',
            day: '0050-03-01',
            seen_at: ['1969-12-31T23:59:59.999999Z', '2026-01-01T00:00:00.100000Z'],
            matrix: [[1.5, 2], [], [3]],
            flags: [true, null, false],
            profile: { name: 'Ada', address: { city: 'London', zip: null } },
            ok: true,
            ratio: 0.25,
          },
          {
            id: 'b',
            attributes: null,
            color: null,
            value: '42',
            value_type: 'UBIGINT',
            day: null,
            seen_at: null,
            matrix: null,
            flags: null,
            profile: { name: 'Bob', address: null },
            ok: false,
            ratio: null,
          },
        ],
      );
      assert.deepEqual(
        await query(conn, `SELECT DISTINCT compression FROM parquet_metadata(${sqlString(file)})`),
        [{ compression: 'SNAPPY' }],
      );
    }));
});

describe('time arithmetic', () => {
  test('RFC 3339 → µs: offsets, fractions past µs truncated, two-digit years, leap seconds, ajv spellings', () => {
    const us = (s: string): string | undefined => {
      const v = parseTimestampMicros(s);
      return v === undefined ? undefined : formatMicros(v);
    };
    assert.equal(us('2026-11-25T12:00:00Z'), '2026-11-25T12:00:00.000000Z');
    assert.equal(us('2026-11-25t12:00:00.1234569z'), '2026-11-25T12:00:00.123456Z');
    assert.equal(us('2026-11-25T00:30:00+05:30'), '2026-11-24T19:00:00.000000Z');
    assert.equal(us('2026-11-25 00:30:00-0130'), '2026-11-25T02:00:00.000000Z');
    assert.equal(us('2026-11-25T00:30:00-01'), '2026-11-25T01:30:00.000000Z');
    assert.equal(us('0050-01-01T00:00:00Z'), '0050-01-01T00:00:00.000000Z');
    assert.equal(us('1969-12-31T23:59:59.5Z'), '1969-12-31T23:59:59.500000Z');
    assert.equal(us('2016-12-31T23:59:60Z'), '2017-01-01T00:00:00.000000Z');
    assert.equal(parseTimestampMicros('1970-01-01T00:00:00.000001Z'), 1n);
    // The one-scan path (…Z, no offset) far from the epoch, where µs no longer fit a double exactly.
    assert.equal(us('0000-01-01T00:00:00.9Z'), '0000-01-01T00:00:00.900000Z');
    assert.equal(us('9999-12-31T23:59:59.9999999Z'), '9999-12-31T23:59:59.999999Z');
    assert.equal(parseTimestampMicros('2256-01-01T00:00:00.000001Z'), 9_025_257_600_000_001n);
    assert.equal(parseTimestampMicros('2026-11-25T12:00:00'), undefined);
    assert.equal(parseTimestampMicros('2026-13-01T00:00:00Z'), undefined);
    assert.equal(parseDateDays('1970-01-02'), 1);
    assert.equal(parseDateDays('1969-12-31'), -1);
    assert.equal(parseDateDays('2000-03-01'), 11017);
  });
});
