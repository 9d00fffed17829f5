// One Kafka offset range of an event type → Parquet files, one per (schema version, event hour).
// Records produced straight to Kafka never met the proxy, so every record is checked again here:
// envelope, type, schema version and payload. What fails is returned as rejected (the caller
// sends it to the DLQ) and never stops the segment.
//
// Deterministic: no I/O, no clock, no randomness. The same records give byte-identical files, so a
// retried activity overwrites its object with the very same bytes. The only state kept between
// segments is memory (each thread's kept encoders and IPC buffer), which never shows in the bytes
// (test/unit/encoder-reuse.test.ts). parquet-wasm's
// footer holds only `created_by` ("parquet-rs version X", constant for a release) and the
// ARROW:schema key; upgrading parquet-wasm may change the bytes (never the values).
import { isUtf8 } from 'node:buffer';
import * as arrow from 'apache-arrow';
import { Compression, Table as WasmTable, WriterPropertiesBuilder, writeParquet } from 'parquet-wasm';
import { EnvelopeError, RawEnvelopeReader, readEnvelope, type EventEnvelope } from '../../lib/envelope.js';
import type { ErrorCode } from '../../lib/errors.js';
import { headerMap, headerPairs, type RangeRecord, type RawRangeRecord } from '../../lib/kafka.js';
import type { EventType, SchemaVersion } from '../../schemas/catalog.js';
import { toArrowSchema } from '../../schemas/mapping.js';
import type { EventValidator } from '../../schemas/validator.js';
import { ConversionError, TableEncoder, type EnvelopeValues } from './columns.js';
import { JsonRowParser } from './json-row.js';
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

/** A record as readRange (headers as strings) or readRawRange (header bytes) yields it. */
export type SegmentRecord = RangeRecord | RawRangeRecord;

export interface SegmentEncoderOptions {
  type: EventType;
  validator: EventValidator;
  partition: number;
  /** Default ZSTD. */
  compression?: ParquetCompression;
  /**
   * Read payloads with the one-pass JSON row reader (json-row.ts) where the schema allows, and
   * JSON.parse + ajv only for what it gives up on. Default true; false is for tests and benches
   * that compare both (the files are the same).
   */
  fastJson?: boolean;
}

export interface EncodeSegmentInput extends SegmentEncoderOptions {
  records: SegmentRecord[];
}

export interface EncodedSegment {
  /** Ordered by schema version, then dt, then hr. */
  groups: SegmentGroup[];
  /** In offset order. */
  rejected: RejectedRecord[];
  /** Rows read with JSON.parse + ajv: the JSON row reader gave up on them, cannot read the schema or is off. */
  exactPathRows: number;
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

/** A record whose envelope and value passed the checks that come before the payload's. */
export interface RecordHead {
  offset: bigint;
  envelope: EventEnvelope;
  /** The version ce_dataschema names; the type may not have it. */
  versionNumber: number;
  eventTimeUs: bigint;
  ingestTimeUs: bigint;
  /** The value: valid UTF-8, not parsed yet. */
  value: Buffer;
}

export type HeadResult = { ok: true; head: RecordHead } | { ok: false; errorCode: ErrorCode; reason: string };

const SCHEMA_URN = /^urn:sluice:schema:([^:]+):v([1-9]\d{0,8})$/;

type Rejection = { ok: false; errorCode: ErrorCode; reason: string };

/**
 * Parses and checks records of one event type. Kept for a whole segment: the envelope attributes
 * that repeat from record to record (schema, content type, ingest time) are checked once per
 * distinct value, not once per record.
 */
export class RecordDecoder {
  private readonly envelopes = new RawEnvelopeReader();
  private lastSchema: string | undefined;
  private lastSchemaResult: number | Rejection = 0;
  private lastContentType: string | undefined;
  private lastContentTypeOk = false;
  private lastIngest: string | undefined;
  private lastIngestUs: bigint | undefined;

  constructor(
    private readonly type: EventType,
    private readonly validator: EventValidator,
  ) {}

  /** The version number a `ce_dataschema` names, or why it is not one of this type. */
  private schemaVersion(dataschema: string): number | Rejection {
    if (dataschema === this.lastSchema) return this.lastSchemaResult;
    const urn = SCHEMA_URN.exec(dataschema);
    const result: number | Rejection =
      urn && urn[1] === this.type.name
        ? Number(urn[2])
        : {
            ok: false,
            errorCode: 'INVALID_EVENT',
            reason: `ce_dataschema ${JSON.stringify(dataschema)} is not urn:sluice:schema:${this.type.name}:v<N>`,
          };
    this.lastSchema = dataschema;
    this.lastSchemaResult = result;
    return result;
  }

  private isJson(contentType: string): boolean {
    if (contentType !== this.lastContentType) {
      this.lastContentType = contentType;
      this.lastContentTypeOk = contentType.split(';')[0]?.trim().toLowerCase() === 'application/json';
    }
    return this.lastContentTypeOk;
  }

  private ingestMicros(text: string): bigint | undefined {
    if (text !== this.lastIngest) {
      this.lastIngest = text;
      this.lastIngestUs = parseTimestampMicros(text);
    }
    return this.lastIngestUs;
  }

  /** Parses and checks one record; returns why it cannot be loaded, or the record ready to encode. */
  decode(record: SegmentRecord): DecodeResult {
    const head = this.head(record);
    return head.ok ? this.payload(head.head) : head;
  }

  /** Checks the envelope and that the value is UTF-8: everything but the payload itself. */
  head(record: SegmentRecord): HeadResult {
    const { type } = this;
    let envelope: EventEnvelope;
    try {
      envelope = 'headerBuf' in record ? this.envelopes.read(record) : readEnvelope(record.headers);
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
    const version = this.schemaVersion(envelope.dataschema);
    if (typeof version !== 'number') return version;
    if (!this.isJson(envelope.datacontenttype)) {
      return {
        ok: false,
        errorCode: 'INVALID_EVENT',
        reason: `content-type is ${JSON.stringify(envelope.datacontenttype)}; only application/json is loaded`,
      };
    }
    const eventTimeUs = parseTimestampMicros(envelope.time);
    const ingestTimeUs = this.ingestMicros(envelope.ingesttime);
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

    const { value } = record;
    if (value === null) return { ok: false, errorCode: 'MALFORMED_BODY', reason: 'the record has no value' };
    // isUtf8 (simdutf) and then a plain decode: cheaper than a fatal TextDecoder.
    if (!isUtf8(value))
      return { ok: false, errorCode: 'MALFORMED_BODY', reason: 'the value is not JSON: not valid UTF-8' };
    return {
      ok: true,
      head: { offset: record.offset, envelope, versionNumber: version, eventTimeUs, ingestTimeUs, value },
    };
  }

  /** Parses and validates the payload of a record whose head passed. */
  payload(head: RecordHead): DecodeResult {
    const { value } = head;
    let data: unknown;
    try {
      // A leading byte order mark is skipped, as TextDecoder did.
      const bom = value.length >= 3 && value[0] === 0xef && value[1] === 0xbb && value[2] === 0xbf;
      data = JSON.parse(value.toString('utf8', bom ? 3 : 0));
    } catch (e) {
      const why = e instanceof SyntaxError ? e.message : String(e);
      return { ok: false, errorCode: 'MALFORMED_BODY', reason: `the value is not JSON: ${why}` };
    }
    const result = this.validator.validate(this.type.name, data, head.versionNumber);
    if (!result.ok) return { ok: false, errorCode: result.errorCode, reason: result.message };
    const decoded: DecodedRecord = {
      offset: head.offset,
      version: result.version,
      envelope: head.envelope,
      eventTimeUs: head.eventTimeUs,
      ingestTimeUs: head.ingestTimeUs,
      // The schema's root type is "object", so a valid payload is one.
      payload: data as Record<string, unknown>,
    };
    return { ok: true, record: decoded };
  }
}

/** Parses and checks one record; returns why it cannot be loaded, or the record ready to encode. */
export function decodeRecord(
  type: EventType,
  validator: EventValidator,
  record: SegmentRecord,
): DecodeResult {
  return new RecordDecoder(type, validator).decode(record);
}

// Derived once per schema version; SchemaVersion objects live as long as their catalog.
const arrowSchemas = new WeakMap<SchemaVersion, arrow.Schema>();

/**
 * Encoders whose table was written, kept with their column buffers for the next file of their
 * schema version on this thread: a segment's columns then fill buffers of the last segment's size
 * instead of growing new ones from 4 KB by doubling (~2× the table's bytes allocated and copied per
 * file; V8 answers that much external memory with extra collections). Several per version, as a
 * thread encodes the segments of several partitions at once; bounded in bytes, the least recently
 * kept going first.
 */
const idleEncoders: { version: SchemaVersion; encoder: TableEncoder; bytes: number }[] = [];
let idleBytes = 0;
const IDLE_ENCODER_BYTES = 256 * 1024 * 1024;

/** An empty encoder for the rows of one file of `version` (a kept one if there is). */
export function encoderFor(version: SchemaVersion): TableEncoder {
  for (let i = idleEncoders.length - 1; i >= 0; i--) {
    const kept = idleEncoders[i]!;
    if (kept.version !== version) continue;
    idleEncoders.splice(i, 1);
    idleBytes -= kept.bytes;
    return kept.encoder;
  }
  let schema = arrowSchemas.get(version);
  if (!schema) {
    schema = toArrowSchema(version.schema);
    arrowSchemas.set(version, schema);
  }
  return new TableEncoder(schema);
}

/** Keeps an encoder whose table has been written for the next file of `version`. */
function keepEncoder(version: SchemaVersion, encoder: TableEncoder): void {
  encoder.release();
  const bytes = encoder.capacityBytes;
  if (bytes > IDLE_ENCODER_BYTES) return;
  while (idleBytes + bytes > IDLE_ENCODER_BYTES) idleBytes -= idleEncoders.shift()!.bytes;
  idleEncoders.push({ version, encoder, bytes });
  idleBytes += bytes;
}

/** The envelope columns of a decoded record at `partition`. */
export function envelopeValues(d: DecodedRecord, partition: number): EnvelopeValues {
  return headValues(d, d.version.version, partition);
}

/** The envelope columns of a record whose head passed, as `version` of its type. */
function headValues(
  h: Pick<RecordHead, 'envelope' | 'eventTimeUs' | 'ingestTimeUs' | 'offset'>,
  version: number,
  partition: number,
): EnvelopeValues {
  return {
    eventId: h.envelope.id,
    eventTimeUs: h.eventTimeUs,
    ingestTimeUs: h.ingestTimeUs,
    source: h.envelope.source,
    schemaVersion: version,
    partition,
    offset: h.offset,
    test: h.envelope.test,
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

/**
 * The Arrow IPC stream of a table, written into one buffer kept for the next table on this thread:
 * tableToIPC would join the writer's pieces into a new buffer of the table's size (~36 MB for a
 * segment of 50,000 1 KB events) per file, only to copy it into parquet-wasm's memory.
 */
class KeptIpcBuffer extends arrow.AsyncByteQueue {
  private bytes = new Uint8Array(1024 * 1024);
  private length = 0;

  // The writer hands each piece of the stream (metadata, padding, column buffers) to its sink.
  override write(piece: Parameters<arrow.AsyncByteQueue['write']>[0]): void {
    // RecordBatchWriter._write passes Uint8Arrays only (toUint8Array of each piece).
    if (!(piece instanceof Uint8Array)) throw new Error('Arrow IPC writer: expected bytes');
    const need = this.length + piece.byteLength;
    if (need > this.bytes.length) {
      const bigger = new Uint8Array(Math.max(need, this.bytes.length * 2));
      bigger.set(this.bytes.subarray(0, this.length));
      this.bytes = bigger;
    }
    this.bytes.set(piece, this.length);
    this.length = need;
  }

  /** The stream of `table`, valid until the next call. */
  stream(table: arrow.Table): Uint8Array {
    this.length = 0;
    const writer = new arrow.RecordBatchStreamWriter();
    writer.reset(this);
    writer.write(table);
    writer.finish();
    return this.bytes.subarray(0, this.length);
  }
}

const ipcBuffer = new KeptIpcBuffer();

/** tableToIPC(table, 'stream')'s bytes, in a buffer kept by this thread: valid until the next call. */
export function arrowIpcStream(table: arrow.Table): Uint8Array {
  return ipcBuffer.stream(table);
}

/** An Arrow table → one Parquet file (one row group up to 1 Mi rows, parquet-rs defaults otherwise but for the dictionary page limit). */
export function writeParquetBytes(table: arrow.Table, compression: ParquetCompression = 'ZSTD'): Uint8Array {
  // fromIPCStream copies the stream into wasm memory; writeParquet frees both wasm objects, and the
  // result is copied out of wasm memory.
  const wasmTable = WasmTable.fromIPCStream(arrowIpcStream(table));
  // A dictionary page is capped at 64 KiB instead of parquet-rs's 1 MiB: columns of unique values
  // (ids, names) then give up the dictionary after a few thousand values instead of hashing the whole
  // segment into one that is never smaller than the values; measured: ~0.5 µs less per 1 KB event and
  // ~4% smaller files (docs/benchmarks-pipeline.md). Few-valued columns (SKUs, codes) keep theirs.
  let builder = new WriterPropertiesBuilder()
    .setCompression(Compression[compression])
    .setDictionaryPageSizeLimit(64 * 1024);
  for (const column of undictionaried(table.schema))
    builder = builder.setColumnDictionaryEnabled(column, false);
  return writeParquet(wasmTable, builder.build());
}

interface PendingGroup {
  version: SchemaVersion;
  schemaVersion: number;
  dt: string;
  hr: string;
  encoder: TableEncoder;
  /** The one-pass reader into `encoder`'s columns, if the schema allows one and it is enabled. */
  reader: JsonRowParser | undefined;
  minEventUs: bigint;
  maxEventUs: bigint;
  firstOffset: bigint;
  lastOffset: bigint;
}

const US_PER_HOUR = 3_600_000_000n;

/** A group and the hour of it a row falls in; `fresh` is the key of a group not registered yet. */
interface Target {
  group: PendingGroup;
  version: SchemaVersion;
  hourStart: bigint;
  fresh?: string;
}

/** The record as the DLQ needs it, headers as strings. */
function withHeaderStrings(r: SegmentRecord): RangeRecord {
  if (!('headerBuf' in r)) return r;
  // Copies: the record's bytes are a view of its batch, which may be scratch memory (Lz4Scratch).
  return {
    offset: r.offset,
    timestamp: r.timestamp,
    key: r.key && Buffer.from(r.key),
    value: r.value && Buffer.from(r.value),
    headers: headerMap(headerPairs(r)),
  };
}

/**
 * Encodes a segment record by record, in offset order, as the records arrive: a fetched chunk's
 * records can be dropped as soon as they are appended, instead of a whole segment of them (and
 * their buffers) living long enough to be promoted and then collected by full GCs.
 */
export class SegmentEncoder {
  private readonly decoder: RecordDecoder;
  private readonly rejected: RejectedRecord[] = [];
  private readonly groups = new Map<string, PendingGroup>();
  private lastOffset: bigint | undefined;
  private added = 0;
  private exactPathRows = 0;
  // The group of the previous row and the hour it covers [hourStart, hourStart + 1 h): consecutive
  // records mostly share both, so the dt/hr text is formatted once per hour, not once per row.
  private current: Target | undefined;
  // A new group not registered yet (see target()).
  private unbooked: Target | undefined;

  constructor(private readonly options: SegmentEncoderOptions) {
    this.decoder = new RecordDecoder(options.type, options.validator);
  }

  /** Records added so far, rejected ones included. */
  get records(): number {
    return this.added;
  }

  /** Adds the next record; offsets must increase (rows, and so the bytes, follow offset order). */
  add(record: SegmentRecord): void {
    const { type, partition } = this.options;
    if (this.lastOffset !== undefined && record.offset <= this.lastOffset) {
      throw new Error(
        record.offset === this.lastOffset
          ? `offset ${record.offset} appears twice in the segment of partition ${partition}`
          : `offset ${record.offset} comes after ${this.lastOffset} in the segment of partition ${partition}`,
      );
    }
    this.lastOffset = record.offset;
    this.added++;
    const checked = this.decoder.head(record);
    if (!checked.ok) return this.reject(record, checked.errorCode, checked.reason);
    const { head } = checked;
    const known = type.versions[head.versionNumber - 1];
    let target = known && this.target(known, head.eventTimeUs);
    // The fast reader first; what it gives up on (rolled back) takes JSON.parse and ajv.
    const reader = target?.group.reader;
    if (target && reader) {
      const env = headValues(head, target.version.version, partition);
      if (target.group.encoder.appendWith(() => reader.read(head.value), env)) {
        return this.book(target, head.eventTimeUs, record.offset);
      }
    }
    const result = this.decoder.payload(head);
    if (!result.ok) return this.reject(record, result.errorCode, result.reason);
    const decoded = result.record;
    if (target?.version !== decoded.version) target = this.target(decoded.version, decoded.eventTimeUs);
    try {
      target.group.encoder.append(decoded.payload, envelopeValues(decoded, partition));
    } catch (e) {
      if (!(e instanceof ConversionError)) throw e;
      return this.reject(
        record,
        'SCHEMA_VALIDATION_FAILED',
        `${type.name} v${decoded.version.version}: ${e.pointer} ${e.detail}`,
      );
    }
    this.exactPathRows++;
    this.book(target, decoded.eventTimeUs, record.offset);
  }

  private reject(record: SegmentRecord, errorCode: ErrorCode, reason: string): void {
    this.rejected.push({ offset: record.offset, reason, errorCode, record: withHeaderStrings(record) });
  }

  /** The group a row of `version` at `us` goes to; new groups are registered by book(). */
  private target(version: SchemaVersion, us: bigint): Target {
    const cur = this.current;
    if (cur && cur.version === version && us >= cur.hourStart && us < cur.hourStart + US_PER_HOUR) return cur;
    const iso = formatMicros(us);
    const [dt, hr] = [iso.slice(0, 10), iso.slice(11, 13)];
    const key = `${version.version}/${dt}/${hr}`;
    const q = us / US_PER_HOUR;
    const hourStart = (us % US_PER_HOUR < 0n ? q - 1n : q) * US_PER_HOUR;
    const group = this.groups.get(key);
    if (group) return { group, version, hourStart };
    // A new group whose first record was rejected is kept for the next one: a run of rejected
    // records must not build an encoder and a row reader each. (Its columns were rolled back.)
    if (this.unbooked?.fresh === key) return this.unbooked;
    const encoder = encoderFor(version);
    const reader =
      this.options.fastJson === false
        ? undefined
        : JsonRowParser.compile(version.schema, encoder.payloadColumns, (name) =>
            this.options.validator.stringFormat(name),
          );
    this.unbooked = {
      // The offsets and times are set by book() with the first row.
      group: {
        version,
        schemaVersion: version.version,
        dt,
        hr,
        encoder,
        reader,
        minEventUs: us,
        maxEventUs: us,
        firstOffset: -1n,
        lastOffset: -1n,
      },
      version,
      hourStart,
      fresh: key,
    };
    return this.unbooked;
  }

  /** Books a row appended to the target's group. */
  private book(target: Target, us: bigint, offset: bigint): void {
    const { group } = target;
    // Registered only once a row is in: a group never ends up empty.
    if (target.fresh !== undefined) {
      this.groups.set(target.fresh, group);
      this.current = { group, version: target.version, hourStart: target.hourStart };
      this.unbooked = undefined;
      group.firstOffset = offset;
      group.minEventUs = us;
      group.maxEventUs = us;
    } else this.current = target;
    if (us < group.minEventUs) group.minEventUs = us;
    if (us > group.maxEventUs) group.maxEventUs = us;
    group.lastOffset = offset;
  }

  /** One Parquet file per (schema version, dt, hr) group, and the rejected records. */
  finish(): EncodedSegment {
    const ordered = [...this.groups.values()].sort(
      (a, b) => a.schemaVersion - b.schemaVersion || a.dt.localeCompare(b.dt) || a.hr.localeCompare(b.hr),
    );
    return {
      groups: ordered.map((g) => {
        const rows = g.encoder.rows;
        const bytes = writeParquetBytes(g.encoder.finish(), this.options.compression);
        keepEncoder(g.version, g.encoder);
        return {
          schemaVersion: g.schemaVersion,
          dt: g.dt,
          hr: g.hr,
          rows,
          bytes,
          minEventTime: formatMicros(g.minEventUs),
          maxEventTime: formatMicros(g.maxEventUs),
          firstOffset: g.firstOffset,
          lastOffset: g.lastOffset,
        };
      }),
      rejected: this.rejected,
      exactPathRows: this.exactPathRows,
    };
  }
}

const byOffset = (a: SegmentRecord, b: SegmentRecord): number =>
  a.offset < b.offset ? -1 : a.offset > b.offset ? 1 : 0;

/** A whole segment at once; records may come in any order (rows follow offset order). */
export function encodeSegment(input: EncodeSegmentInput): EncodedSegment {
  const encoder = new SegmentEncoder(input);
  for (const record of [...input.records].sort(byOffset)) encoder.add(record);
  return encoder.finish();
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
