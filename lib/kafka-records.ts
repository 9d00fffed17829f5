// A lean reader of Kafka record batches (message format v2, the only one Kafka 4 writes) for the
// exact-range reads of the pipelines. The client's own parser makes ~22 Buffers and 11 arrays per
// record (every header name and value a Buffer of its own) and cost most of a plain read's CPU;
// here a record is one object whose key and value are views of the batch and whose headers stay
// bytes, walked in place by whoever needs a few of them (lib/envelope.ts RawEnvelopeReader).
import { compressionsAlgorithms, compressionsAlgorithmsByBitmask } from '@platformatic/kafka';
import type { Lz4Scratch } from './lz4-scratch.js';

/** A record of a range read: key, value and the header bytes are views of its (decompressed) batch. */
export interface RawRangeRecord {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  /** The record's bytes; its headers start at `headerStart`. */
  headerBuf: Buffer;
  headerStart: number;
  headerCount: number;
}

/** A header as name and value bytes (null for a null value), in record order (names may repeat). */
export type HeaderPair = [Buffer | null, Buffer | null];

export class RecordBatchError extends Error {
  override readonly name = 'RecordBatchError';
}

// Record batch attribute bits.
const COMPRESSION_MASK = 0x07;
const TRANSACTIONAL_BATCH = 0x10;
const CONTROL_BATCH = 0x20;
// The client's names of the compression attribute's values, for error messages.
const COMPRESSION_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(compressionsAlgorithms).map(([name, a]) => [a.bitmask, name]),
);
const LZ4 = compressionsAlgorithms.lz4.bitmask;
// Fixed part of a batch: baseOffset (8) + batchLength (4); the length counts what follows it.
const BATCH_LENGTH_AT = 8;
const BATCH_OVERHEAD = 12;
const MAGIC_AT = 16;
const ATTRIBUTES_AT = 21;
const LAST_OFFSET_DELTA_AT = 23;
const BASE_TIMESTAMP_AT = 27;
const PRODUCER_ID_AT = 43;
const RECORD_COUNT_AT = 57;
const RECORDS_AT = 61;

/**
 * A cursor over one batch's record bytes. Varints are zigzag-encoded (Kafka's record format);
 * lengths and deltas fit in 32 bits, the timestamp delta is read as a 64-bit varint.
 */
export class Cursor {
  pos = 0;
  constructor(public buf: Buffer) {}

  /** Points the cursor at `pos` of `buf` (a reader reuses one cursor for many records). */
  reset(buf: Buffer, pos: number): void {
    this.buf = buf;
    this.pos = pos;
  }

  uvarint(): number {
    const { buf } = this;
    // Most lengths and deltas fit one byte.
    const first = buf[this.pos];
    if (first !== undefined && first < 0x80) {
      this.pos++;
      return first;
    }
    let result = 0;
    let shift = 0;
    for (;;) {
      if (this.pos >= buf.length) throw new RecordBatchError('a record ends inside a varint');
      const b = buf[this.pos++]!;
      result += (b & 0x7f) * 2 ** shift;
      if (b < 0x80) return result;
      shift += 7;
      if (shift > 63) throw new RecordBatchError('a varint is longer than 10 bytes');
    }
  }

  /** A zigzag varint as a number: exact up to 2^53, which every length and delta is. */
  varint(): number {
    const u = this.uvarint();
    return u % 2 === 0 ? u / 2 : -(u + 1) / 2;
  }

  /** Bytes of a varint length (-1: null) as a view, or null. */
  bytes(): Buffer | null {
    const n = this.varint();
    if (n < 0) return null;
    return this.view(n);
  }

  private view(n: number): Buffer {
    const end = this.pos + n;
    if (end > this.buf.length) throw new RecordBatchError('a record field runs past its batch');
    const v = this.buf.subarray(this.pos, end);
    this.pos = end;
    return v;
  }
}

/** The header pairs of a record (for the dead-letter copy and tests; the hot path reads bytes). */
export function headerPairs(r: RawRangeRecord): HeaderPair[] {
  const c = new Cursor(r.headerBuf);
  c.pos = r.headerStart;
  const out: HeaderPair[] = [];
  for (let i = 0; i < r.headerCount; i++) out.push([c.bytes(), c.bytes()]);
  return out;
}

export interface AbortedTransaction {
  producerId: bigint;
  firstOffset: bigint;
}

export interface ParsedRange {
  /** Records of [from, to) in offset order, aborted transactions and control records left out. */
  records: RawRangeRecord[];
  /** The offset after the last whole batch (where the next fetch starts); `from` if none was whole. */
  next: bigint;
}

/**
 * The records of [from, to) in the record-batch bytes of one fetched partition, a batch at a time
 * (only batches with records in the range); returns the offset after the last whole batch. A last
 * batch cut off by the fetch size is left for the next fetch. Transactional batches of a producer
 * are skipped from its aborted transaction's first offset up to its abort marker, as the Java
 * consumer does in READ_COMMITTED.
 *
 * Batch by batch because a 2 MiB fetch of lz4 data holds ~7,500 records of 1 KB: made all at once,
 * they outlived the young generation while the pipeline worked through them, and every fetch
 * promoted ~1.8 MB to the old generation, which then cost full collections of the worker's heap.
 * A batch (what one producer request sent) is worked through before the next is decoded. With
 * `lz4` (a reader that copies what it keeps), lz4 batches are decompressed into its scratch memory
 * instead of a new Buffer each, and a batch's records are valid only until the next is asked for.
 */
export function* recordBatches(
  data: Buffer,
  from: bigint,
  to: bigint,
  abortedTransactions: readonly AbortedTransaction[] = [],
  lz4?: Lz4Scratch,
): Generator<RawRangeRecord[], bigint, undefined> {
  try {
    return yield* batchRecords(data, from, to, abortedTransactions, lz4);
  } finally {
    lz4?.release();
  }
}

function* batchRecords(
  data: Buffer,
  from: bigint,
  to: bigint,
  abortedTransactions: readonly AbortedTransaction[],
  lz4: Lz4Scratch | undefined,
): Generator<RawRangeRecord[], bigint, undefined> {
  let next = from;
  const aborted = [...abortedTransactions].sort((a, b) =>
    a.firstOffset < b.firstOffset ? -1 : a.firstOffset > b.firstOffset ? 1 : 0,
  );
  const abortedProducers = new Set<bigint>();
  let nextAborted = 0;
  for (const { batch, baseOffset, end: batchEnd } of wholeBatches(data)) {
    const magic = batch.readInt8(MAGIC_AT);
    if (magic !== 2) throw new RecordBatchError(`record batch format ${magic} is not supported (only v2)`);
    if (batchEnd > next) next = batchEnd;
    while (nextAborted < aborted.length && aborted[nextAborted]!.firstOffset < batchEnd)
      abortedProducers.add(aborted[nextAborted++]!.producerId);
    const attributes = batch.readInt16BE(ATTRIBUTES_AT);
    const producerId = batch.readBigInt64BE(PRODUCER_ID_AT);
    const count = batch.readInt32BE(RECORD_COUNT_AT);
    let body = batch.subarray(RECORDS_AT);
    if (attributes & CONTROL_BATCH) {
      // One control record; its key is int16 version, int16 type (0 = abort, 1 = commit).
      const c = new Cursor(body);
      c.varint(); // length
      c.pos += 1; // attributes
      c.varint(); // timestamp delta
      c.varint(); // offset delta
      const key = c.bytes();
      if (key && key.length >= 4 && key.readInt16BE(2) === 0) abortedProducers.delete(producerId);
      continue;
    }
    if (attributes & TRANSACTIONAL_BATCH && abortedProducers.has(producerId)) continue;
    // A batch can start before `from` and end after `to`: the broker only sends whole batches.
    if (batchEnd <= from || baseOffset >= to) continue;
    // Only batches with records in the range are decompressed (control batches never are).
    const compression = attributes & COMPRESSION_MASK;
    if (compression !== 0) {
      const algorithm = compressionsAlgorithmsByBitmask[compression];
      if (!algorithm) throw new RecordBatchError(`record batch compression ${compression} is unknown`);
      try {
        body = lz4 && compression === LZ4 ? lz4.decompress(body) : algorithm.decompressSync(body);
      } catch (err) {
        // The decoders are WebAssembly: a corrupt frame is a trap ("unreachable"), which names nothing.
        throw new RecordBatchError(
          `the record batch at offset ${baseOffset} cannot be decompressed (${COMPRESSION_NAMES[compression] ?? compression}): ${err instanceof Error ? err.message : String(err)}`,
        );
      }
    }
    const baseTimestamp = batch.readBigInt64BE(BASE_TIMESTAMP_AT);
    const records: RawRangeRecord[] = [];
    const c = new Cursor(body);
    for (let i = 0; i < count; i++) {
      const length = c.varint();
      const end = c.pos + length;
      c.pos += 1; // attributes: unused in v2 records
      const timestampDelta = c.varint();
      const offset = baseOffset + BigInt(c.varint());
      const key = c.bytes();
      const value = c.bytes();
      const headerCount = c.varint();
      const headerStart = c.pos;
      if (end > body.length) throw new RecordBatchError(`record at offset ${offset} runs past its batch`);
      c.pos = end;
      if (offset < from || offset >= to) continue;
      records.push({
        offset,
        timestamp: baseTimestamp + BigInt(timestampDelta),
        key,
        value,
        headerBuf: body,
        headerStart,
        headerCount,
      });
    }
    if (records.length) yield records;
  }
  return next;
}

/** The whole record batches in `data`, with their first offset and the offset after their last; a last batch cut off by the fetch size is left out. */
function* wholeBatches(data: Buffer): Generator<{ batch: Buffer; baseOffset: bigint; end: bigint }> {
  let at = 0;
  while (data.length - at >= RECORDS_AT) {
    const size = BATCH_OVERHEAD + data.readInt32BE(at + BATCH_LENGTH_AT);
    if (at + size > data.length) return;
    const batch = data.subarray(at, at + size);
    at += size;
    const baseOffset = batch.readBigInt64BE(0);
    yield { batch, baseOffset, end: baseOffset + BigInt(batch.readInt32BE(LAST_OFFSET_DELTA_AT)) + 1n };
  }
}

/** The offset after the last whole batch in `data` (where the next fetch starts), or `from`. */
export function wholeBatchesEnd(data: Buffer, from: bigint): bigint {
  let next = from;
  for (const { end } of wholeBatches(data)) if (end > next) next = end;
  return next;
}

/** recordBatches, all at once. */
export function parseRecordBatches(
  data: Buffer,
  from: bigint,
  to: bigint,
  abortedTransactions: readonly AbortedTransaction[] = [],
): ParsedRange {
  const records: RawRangeRecord[] = [];
  const batches = recordBatches(data, from, to, abortedTransactions);
  for (;;) {
    const step = batches.next();
    if (step.done) return { records, next: step.value };
    for (const r of step.value) records.push(r);
  }
}
