// How prepared events cross from a prepare thread to the main thread. Structured clone of the
// events as they are costs the main thread more than preparing them saved (every Buffer clones its
// whole 8 KB pool slab, and each record's headers object is rebuilt key by key), so the thread packs
// them: payload bytes in a few transferred ArrayBuffers, strings once each in a table (header names
// and most values repeat from event to event), and the rest as integers.
import type { ErrorCode } from '../lib/errors.js';
import type { FieldError } from '../schemas/validator.js';
import type { OutRecord, PreparedEvent, RejectedEvent } from './prepare.js';

/** Payload and key bytes of one request's events, in as few transferable buffers as fit. */
export class Arena {
  readonly chunks: ArrayBuffer[] = [];
  private readonly index = new Map<ArrayBufferLike, number>();
  private current = Buffer.alloc(0);
  private used = 0;

  constructor(private readonly chunkBytes: number) {}

  private reserve(bytes: number): void {
    // Not zero-filled (every byte handed out is written first) and never from the shared pool,
    // so its ArrayBuffer is the chunk's own and can be transferred.
    this.current = Buffer.allocUnsafeSlow(Math.max(this.chunkBytes, bytes));
    const ab = this.current.buffer;
    this.index.set(ab, this.chunks.length);
    this.chunks.push(ab);
    this.used = 0;
  }

  /** UTF-8 of `s`, written straight into the arena (no intermediate Buffer). */
  encode = (s: string): Buffer => {
    // A UTF-16 unit is at most 3 UTF-8 bytes: measure exactly only when that bound does not fit.
    const room = this.current.length - this.used;
    if (s.length * 3 > room) {
      const bytes = Buffer.byteLength(s);
      if (bytes > room) this.reserve(bytes);
    }
    const start = this.used;
    this.used += this.current.write(s, start);
    return this.current.subarray(start, this.used);
  };

  /** Where `b` is: [chunk, offset, length]; bytes from outside the arena are copied in. */
  span(b: Buffer): [number, number, number] {
    const at = this.index.get(b.buffer);
    if (at !== undefined) return [at, b.byteOffset, b.length];
    if (b.length > this.current.length - this.used) this.reserve(b.length);
    const start = this.used;
    this.used += b.copy(this.current, start);
    return [this.chunks.length - 1, start, b.length];
  }
}

type Span = [number, number, number];

interface WireRecord {
  cluster: string;
  topic: string;
  key: Span | null;
  value: Span;
  headers: Record<string, string>;
}

interface WireRejected {
  ok: false;
  index: number;
  id?: string;
  type?: string;
  errorCode: ErrorCode;
  message: string;
  errors?: FieldError[];
  dlq?: WireRecord;
}

export interface WireBatch {
  chunks: ArrayBuffer[];
  strings: string[];
  /** Per event: 0 then a rejected index, or 1 then the fields of an accepted event (see encode). */
  ints: Int32Array;
  rejected: WireRejected[];
}

const ACCEPTED = 1;
const REJECTED = 0;

/** Packs events whose Buffers point into `arena` (others are copied in). */
export function encodePrepared(events: PreparedEvent[], arena: Arena): WireBatch {
  const strings: string[] = [];
  const ids = new Map<string, number>();
  const str = (s: string): number => {
    let i = ids.get(s);
    if (i === undefined) {
      i = strings.length;
      strings.push(s);
      ids.set(s, i);
    }
    return i;
  };
  // Header values that repeat (type, schema, source, ingest time) are mostly the very same string
  // as the previous event's; ids never repeat. Comparing with the last value of each header name
  // finds the first without hashing the second.
  const lastValue = new Map<string, { s: string; i: number }>();
  const headerValue = (name: string, s: string): number => {
    const last = lastValue.get(name);
    if (last?.s === s) return last.i;
    const i = strings.length;
    strings.push(s);
    if (last) {
      last.s = s;
      last.i = i;
    } else lastValue.set(name, { s, i });
    return i;
  };
  const ints: number[] = [];
  const span = (b: Buffer): void => {
    const [chunk, offset, length] = arena.span(b);
    ints.push(chunk, offset, length);
  };
  const rejected: WireRejected[] = [];
  const wireRecord = (r: OutRecord): WireRecord => ({
    cluster: r.cluster,
    topic: r.topic,
    key: r.key ? arena.span(r.key) : null,
    value: arena.span(r.value),
    headers: r.headers,
  });
  for (const e of events) {
    if (!e.ok) {
      const { dlq, ...rest } = e;
      ints.push(REJECTED, rejected.length);
      rejected.push(dlq ? { ...rest, dlq: wireRecord(dlq) } : rest);
      continue;
    }
    // Every record of an event shares its key, value, headers and topic; only clusters differ.
    const first = e.records[0]!;
    ints.push(ACCEPTED, e.index, headerValue('\u0000id', e.id), str(e.type), e.test ? 1 : 0);
    if (first.key) span(first.key);
    else ints.push(-1, 0, 0);
    span(first.value);
    ints.push(str(first.topic), e.records.length);
    for (const r of e.records) ints.push(str(r.cluster));
    const names = Object.keys(first.headers);
    ints.push(names.length);
    for (const n of names) ints.push(str(n), headerValue(n, first.headers[n]!));
  }
  return { chunks: arena.chunks, strings, ints: Int32Array.from(ints), rejected };
}

export function decodePrepared(w: WireBatch): PreparedEvent[] {
  const { chunks, strings, ints } = w;
  const buf = (chunk: number, offset: number, length: number): Buffer =>
    Buffer.from(chunks[chunk]!, offset, length);
  const fromWire = (r: WireRecord): OutRecord => ({
    cluster: r.cluster,
    topic: r.topic,
    key: r.key ? buf(...r.key) : null,
    value: buf(...r.value),
    headers: r.headers,
  });
  const out: PreparedEvent[] = [];
  let p = 0;
  const next = (): number => ints[p++]!;
  const s = (): string => strings[ints[p++]!]!;
  while (p < ints.length) {
    if (next() === REJECTED) {
      const { dlq, ...rest } = w.rejected[next()]!;
      const e: RejectedEvent = dlq ? { ...rest, dlq: fromWire(dlq) } : rest;
      out.push(e);
      continue;
    }
    const index = next();
    const id = s();
    const type = s();
    const test = next() === 1;
    const keyChunk = next();
    const keyOffset = next();
    const keyLength = next();
    const key = keyChunk < 0 ? null : buf(keyChunk, keyOffset, keyLength);
    const value = buf(next(), next(), next());
    const topic = s();
    const clusters: string[] = [];
    for (let n = next(); n > 0; n--) clusters.push(s());
    const headers: Record<string, string> = {};
    for (let n = next(); n > 0; n--) {
      const name = s();
      headers[name] = s();
    }
    out.push({
      ok: true,
      index,
      id,
      type,
      test,
      records: clusters.map((cluster) => ({ cluster, topic, key, value, headers })),
    });
  }
  return out;
}
