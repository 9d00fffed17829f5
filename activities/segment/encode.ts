// One Kafka offset range of an event type → Parquet files, one per (schema version, event hour).
// Records produced straight to Kafka never met the proxy, so every record is checked again here:
// envelope, type, schema version and payload. What fails is returned as rejected (the caller
// sends it to the DLQ) and never stops the segment.
//
// Pure and deterministic: no I/O, no clock, no randomness. The same records give byte-identical
// files, so a retried activity overwrites its object with the very same bytes. parquet-wasm's
// footer holds only `created_by` ("parquet-rs version X", constant for a release) and the
// ARROW:schema key; upgrading parquet-wasm may change the bytes (never the values).
import * as arrow from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { EnvelopeError, readEnvelope, type EventEnvelope } from '../../lib/envelope.js';
import type { ErrorCode } from '../../lib/errors.js';
import type { RangeRecord } from '../../lib/kafka.js';
import type { EventType, SchemaVersion } from '../../schemas/catalog.js';
import { toArrowSchema } from '../../schemas/mapping.js';
import type { EventValidator } from '../../schemas/validator.js';
import { ConversionError, TableEncoder, type EnvelopeValues } from './columns.js';
import { formatMicros, MAX_EVENT_MICROS, MIN_EVENT_MICROS, parseTimestampMicros } from './time.js';

export interface SegmentGroup {
  schemaVersion: number;
  /** UTC date of the event time (ce_time), `YYYY-MM-DD`. */
  dt: string;
  /** UTC hour of the event time, `HH`. */
  hr: string;
  rows: number;
  /** One Parquet file. */
  bytes: Uint8Array;
  /** Earliest and latest ce_time of the rows, `YYYY-MM-DDTHH:MM:SS.ffffffZ`. */
  minEventTime: string;
  maxEventTime: string;
  /** Lowest and highest Kafka offset of the rows (both inclusive). */
  firstOffset: bigint;
  lastOffset: bigint;
}

export interface RejectedRecord {
  offset: bigint;
  /** What is wrong, for a human reading the DLQ. */
  reason: string;
  /** A code of lib/errors.ts: INVALID_EVENT, MALFORMED_BODY, UNKNOWN_SCHEMA_VERSION or SCHEMA_VALIDATION_FAILED. */
  errorCode: string;
  record: RangeRecord;
}

export type ParquetCompression = 'ZSTD' | 'SNAPPY';

export interface EncodeSegmentInput {
  type: EventType;
  validator: EventValidator;
  partition: number;
  records: RangeRecord[];
  /** Default ZSTD. */
  compression?: ParquetCompression;
}

export interface EncodedSegment {
  /** Ordered by schema version, then dt, then hr. */
  groups: SegmentGroup[];
  /** In offset order. */
  rejected: RejectedRecord[];
}

/** A record that passed every check, as its Parquet row. */
export interface DecodedRecord {
  offset: bigint;
  version: SchemaVersion;
  envelope: EventEnvelope;
  eventTimeUs: bigint;
  ingestTimeUs: bigint;
  payload: Record<string, unknown>;
}

export type DecodeResult =
  { ok: true; record: DecodedRecord } | { ok: false; errorCode: ErrorCode; reason: string };

const SCHEMA_URN = /^urn:sluice:schema:([^:]+):v([1-9]\d{0,8})$/;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Parses and checks one record; returns why it cannot be loaded, or the record ready to encode. */
export function decodeRecord(type: EventType, validator: EventValidator, record: RangeRecord): DecodeResult {
  let envelope: EventEnvelope;
  try {
    envelope = readEnvelope(record.headers);
  } catch (e) {
    if (e instanceof EnvelopeError)
      return { ok: false, errorCode: 'INVALID_EVENT', reason: `broken envelope: ${e.message}` };
    throw e;
  }
  if (envelope.type !== type.name) {
    return {
      ok: false,
      errorCode: 'INVALID_EVENT',
      reason: `ce_type is ${JSON.stringify(envelope.type)} but this topic carries ${type.name}`,
    };
  }
  const urn = SCHEMA_URN.exec(envelope.dataschema);
  if (!urn || urn[1] !== type.name) {
    return {
      ok: false,
      errorCode: 'INVALID_EVENT',
      reason: `ce_dataschema ${JSON.stringify(envelope.dataschema)} is not urn:sluice:schema:${type.name}:v<N>`,
    };
  }
  const mediaType = envelope.datacontenttype.split(';')[0]?.trim().toLowerCase();
  if (mediaType !== 'application/json') {
    return {
      ok: false,
      errorCode: 'INVALID_EVENT',
      reason: `content-type is ${JSON.stringify(envelope.datacontenttype)}; only application/json is loaded`,
    };
  }
  const eventTimeUs = parseTimestampMicros(envelope.time);
  const ingestTimeUs = parseTimestampMicros(envelope.ingesttime);
  if (eventTimeUs === undefined || eventTimeUs < MIN_EVENT_MICROS || eventTimeUs >= MAX_EVENT_MICROS) {
    return {
      ok: false,
      errorCode: 'INVALID_EVENT',
      reason: `ce_time ${envelope.time} is not in years 0000–9999 UTC`,
    };
  }
  if (ingestTimeUs === undefined) {
    return {
      ok: false,
      errorCode: 'INVALID_EVENT',
      reason: `ce_ingesttime ${envelope.ingesttime} cannot be read`,
    };
  }

  if (record.value === null)
    return { ok: false, errorCode: 'MALFORMED_BODY', reason: 'the record has no value' };
  let data: unknown;
  try {
    data = JSON.parse(utf8.decode(record.value));
  } catch (e) {
    const why = e instanceof SyntaxError ? e.message : 'not valid UTF-8';
    return { ok: false, errorCode: 'MALFORMED_BODY', reason: `the value is not JSON: ${why}` };
  }
  const result = validator.validate(type.name, data, Number(urn[2]));
  if (!result.ok) return { ok: false, errorCode: result.errorCode, reason: result.message };
  const decoded: DecodedRecord = {
    offset: record.offset,
    version: result.version,
    envelope,
    eventTimeUs,
    ingestTimeUs,
    // The schema's root type is "object", so a valid payload is one.
    payload: data as Record<string, unknown>,
  };
  return { ok: true, record: decoded };
}

// Derived once per schema version; SchemaVersion objects live as long as their catalog.
const arrowSchemas = new WeakMap<SchemaVersion, arrow.Schema>();

/** A new, empty encoder for the rows of one file of `version`. */
export function encoderFor(version: SchemaVersion): TableEncoder {
  let schema = arrowSchemas.get(version);
  if (!schema) {
    schema = toArrowSchema(version.schema);
    arrowSchemas.set(version, schema);
  }
  return new TableEncoder(schema);
}

/** The envelope columns of a decoded record at `partition`. */
export function envelopeValues(d: DecodedRecord, partition: number): EnvelopeValues {
  return {
    eventId: d.envelope.id,
    eventTimeUs: d.eventTimeUs,
    ingestTimeUs: d.ingestTimeUs,
    source: d.envelope.source,
    schemaVersion: d.version.version,
    partition,
    offset: d.offset,
    test: d.envelope.test,
  };
}

/**
 * Top-level columns whose values rarely repeat (event ids, offsets, timestamps, floats): parquet-rs
 * would try a dictionary first and only fall back to plain after 1 MB of it, which costs time and
 * ~8% of the file. parquet-wasm can only name top-level columns.
 */
function undictionaried(schema: arrow.Schema): string[] {
  const fields: arrow.Field[] = schema.fields;
  return fields
    .filter(
      (f) =>
        f.name === '_event_id' ||
        f.name === '_kafka_offset' ||
        arrow.DataType.isTimestamp(f.type) ||
        arrow.DataType.isFloat(f.type),
    )
    .map((f) => f.name);
}

/** An Arrow table → one Parquet file (one row group up to 1 Mi rows, parquet-rs defaults otherwise). */
export function writeParquetBytes(table: arrow.Table, compression: ParquetCompression = 'ZSTD'): Uint8Array {
  // writeParquet frees both wasm objects; the result is copied out of wasm memory.
  const wasmTable = WasmTable.fromIPCStream(arrow.tableToIPC(table, 'stream'));
  let builder = new WriterPropertiesBuilder().setCompression(Compression[compression]);
  for (const column of undictionaried(table.schema))
    builder = builder.setColumnDictionaryEnabled(column, false);
  return writeParquet(wasmTable, builder.build());
}

interface PendingGroup {
  schemaVersion: number;
  dt: string;
  hr: string;
  encoder: TableEncoder;
  minEventUs: bigint;
  maxEventUs: bigint;
  firstOffset: bigint;
  lastOffset: bigint;
}

const byOffset = (a: RangeRecord, b: RangeRecord): number =>
  a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0;

export function encodeSegment(input: EncodeSegmentInput): EncodedSegment {
  const { type, validator, partition } = input;
  // Offset order makes rows (and so the bytes) independent of how the records were collected.
  const records = [...input.records].sort(byOffset);
  for (let i = 1; i < records.length; i++) {
    if (records[i]!.offset === records[i - 1]!.offset)
      throw new Error(`offset ${records[i]!.offset} appears twice in the segment of partition ${partition}`);
  }

  const rejected: RejectedRecord[] = [];
  const groups = new Map<string, PendingGroup>();
  for (const record of records) {
    const result = decodeRecord(type, validator, record);
    if (!result.ok) {
      rejected.push({ offset: record.offset, reason: result.reason, errorCode: result.errorCode, record });
      continue;
    }
    const decoded = result.record;
    const iso = formatMicros(decoded.eventTimeUs);
    const [dt, hr] = [iso.slice(0, 10), iso.slice(11, 13)];
    const key = `${decoded.version.version}/${dt}/${hr}`;
    let group = groups.get(key);
    if (!group) {
      group = {
        schemaVersion: decoded.version.version,
        dt,
        hr,
        encoder: encoderFor(decoded.version),
        minEventUs: decoded.eventTimeUs,
        maxEventUs: decoded.eventTimeUs,
        firstOffset: record.offset,
        lastOffset: record.offset,
      };
    }
    try {
      group.encoder.append(decoded.payload, envelopeValues(decoded, partition));
    } catch (e) {
      if (!(e instanceof ConversionError)) throw e;
      rejected.push({
        offset: record.offset,
        reason: `${type.name} v${decoded.version.version}: ${e.pointer} ${e.detail}`,
        errorCode: 'SCHEMA_VALIDATION_FAILED',
        record,
      });
      continue;
    }
    // Registered only once a row is in: a group never ends up empty.
    groups.set(key, group);
    if (decoded.eventTimeUs < group.minEventUs) group.minEventUs = decoded.eventTimeUs;
    if (decoded.eventTimeUs > group.maxEventUs) group.maxEventUs = decoded.eventTimeUs;
    group.lastOffset = record.offset;
  }

  const ordered = [...groups.values()].sort(
    (a, b) => a.schemaVersion - b.schemaVersion || a.dt.localeCompare(b.dt) || a.hr.localeCompare(b.hr),
  );
  return {
    groups: ordered.map((g) => {
      const rows = g.encoder.rows;
      return {
        schemaVersion: g.schemaVersion,
        dt: g.dt,
        hr: g.hr,
        rows,
        bytes: writeParquetBytes(g.encoder.finish(), input.compression),
        minEventTime: formatMicros(g.minEventUs),
        maxEventTime: formatMicros(g.maxEventUs),
        firstOffset: g.firstOffset,
        lastOffset: g.lastOffset,
      };
    }),
    rejected,
  };
}

/**
 * `events/<type>/v=<N>/dt=<YYYY-MM-DD>/hr=<HH>/<type>-p<partition>-<from>-<to>.parquet`, where
 * [from, to) is the offset range of the whole segment (to exclusive, as readRange takes it).
 *
 * Every group of a segment carries the segment's range, not its own first..last offsets: the
 * groups of one segment differ in (v, dt, hr), which are all in the path, and the segments of a
 * partition never overlap, so keys stay unique — and every object of a segment can be found (and
 * rewritten by a retry) by its range alone, however its records split into hours and versions.
 */
export function segmentObjectKey(
  type: string,
  g: SegmentGroup,
  partition: number,
  from: bigint,
  to: bigint,
): string {
  // A group outside [from, to) would take another segment's name and could overwrite its object.
  if (g.firstOffset < from || g.lastOffset >= to) {
    throw new Error(
      `group offsets ${g.firstOffset}..${g.lastOffset} lie outside the segment [${from}, ${to})`,
    );
  }
  if (!/^\d{4}-\d{2}-\d{2}$/.test(g.dt) || !/^\d{2}$/.test(g.hr)) {
    throw new Error(`group dt=${g.dt} hr=${g.hr} is not a UTC date and hour`);
  }
  return `events/${type}/v=${g.schemaVersion}/dt=${g.dt}/hr=${g.hr}/${type}-p${partition}-${from}-${to}.parquet`;
}
