// Validated JSON payloads → Arrow columns of the schema toArrowSchema() derived. Values go straight
// from the parsed JSON into growable typed arrays (one builder per column and nested field), with
// no per-row intermediate objects: a segment holds millions of values and the garbage collector
// dominated otherwise. arrow-js's own builders are not used: they take timestamps as milliseconds.
// A value that cannot be stored (an integer JSON.parse already rounded, a date-time that does not
// parse) throws ConversionError; the record's partial values are rolled back, so it fails alone.
import * as arrow from 'apache-arrow';
import { envelopeColumns, isJsonText } from '../../schemas/mapping.js';
import { parseDateDays, parseTimestampMicros } from './time.js';

export class ConversionError extends Error {
  override readonly name = 'ConversionError';
  /** Property names and list indexes from the payload root down to the failing value. */
  readonly path: string[] = [];
  constructor(readonly detail: string) {
    super(detail);
  }

  /** JSON pointer of the failing value, e.g. `/items/3/quantity`. */
  get pointer(): string {
    return `/${this.path.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1')).join('/')}`;
  }
}

/** Adds `step` to the path of a ConversionError on its way up. */
function addStep(e: unknown, step: string): unknown {
  if (e instanceof ConversionError) e.path.unshift(step);
  return e;
}

const describe = (v: unknown): string =>
  v === null ? 'null' : Array.isArray(v) ? 'an array' : `a ${typeof v}`;

// ---------------------------------------------------------------------------------------------
// Growable buffers. Unused capacity is never handed to Arrow (finish() takes a subarray), so it
// cannot leak into the file.

type Typed = Uint8Array | Int32Array | Float64Array | BigInt64Array;

/** A copy of `a` with room for at least `need` values; callers check capacity first (hot path). */
function grow<A extends Typed>(a: A, need: number, make: (n: number) => A): A {
  const b = make(Math.max(need, a.length * 2));
  (b as Uint8Array).set(a as Uint8Array);
  return b;
}

/**
 * One flag per value. Most columns never hold a false one (no nulls), so the bytes are only made
 * at the first false: until then a push is a count.
 */
class Validity {
  private bytes: Uint8Array | null = null;
  length = 0;

  push(valid: boolean): void {
    const { bytes } = this;
    if (bytes === null) {
      if (valid) {
        this.length++;
        return;
      }
      this.materialize();
    } else if (this.length >= bytes.length)
      this.bytes = grow(bytes, this.length + 1, (n) => new Uint8Array(n));
    this.bytes![this.length++] = valid ? 1 : 0;
  }

  /** Writes the flags so far (all true) as bytes. */
  private materialize(): void {
    const bytes = new Uint8Array(Math.max(256, this.length * 2));
    bytes.fill(1, 0, this.length);
    this.bytes = bytes;
  }

  /** The flags packed into bits, least significant first (Arrow's layout). */
  pack(): Uint8Array {
    const n = this.length;
    const bits = new Uint8Array(Math.ceil(n / 8));
    const { bytes } = this;
    if (bytes === null) {
      bits.fill(0xff);
      if (n % 8 !== 0) bits[bits.length - 1] = (1 << (n % 8)) - 1;
      return bits;
    }
    for (let i = 0; i < n; i++) if (bytes[i] === 1) bits[i >> 3]! |= 1 << (i & 7);
    return bits;
  }

  /** Arrow's validity bitmap, or none when nothing is null. */
  bitmap(): { nullCount: number; nullBitmap: Uint8Array | undefined } {
    const { bytes } = this;
    if (bytes === null) return { nullCount: 0, nullBitmap: undefined };
    let nullCount = 0;
    for (let i = 0; i < this.length; i++) if (bytes[i] === 0) nullCount++;
    return { nullCount, nullBitmap: nullCount === 0 ? undefined : this.pack() };
  }
}

export interface Builder {
  /** Values appended (null included). */
  readonly length: number;
  /** Appends one JSON value; null or undefined is SQL NULL. Throws ConversionError. */
  append(v: unknown): void;
  /** Drops values back to `length`, and the nested builders' values that belonged to the dropped ones. */
  truncate(length: number): void;
  /**
   * The column so far, as Arrow Data over the builder's own buffers; the builder is empty afterwards
   * but keeps its buffers, so nothing may be appended while the Data is still read (TableEncoder
   * enforces this).
   */
  finish(): arrow.Data;
  /** Bytes of the buffers kept between finish() calls. */
  readonly capacityBytes: number;
}

interface PrimitiveProps<A> {
  length: number;
  nullCount: number;
  nullBitmap: Uint8Array | undefined;
  data: A;
}

/** makeData for one concrete type: its overloads do not accept a union of types. */
type Make<A> = (props: PrimitiveProps<A>) => arrow.Data;

const ASCII_INLINE = 64;

/** Utf8 and JSON text: encoded at append time, so the payload's strings die young. */
export class Utf8Builder implements Builder {
  private bytes = new Uint8Array(4096);
  private view = Buffer.from(this.bytes.buffer);
  private offsets = new Int32Array(256);
  private valid = new Validity();

  constructor(
    private readonly type: arrow.Utf8,
    private readonly json: boolean,
  ) {}

  get length(): number {
    return this.valid.length;
  }

  append(v: unknown): void {
    let s: string | undefined;
    if (v === null || v === undefined) s = undefined;
    // JSON text keeps the payload's own key order, so the same record gives the same text.
    else if (this.json) s = JSON.stringify(v);
    else if (typeof v === 'string') s = v;
    else throw new ConversionError(`expected a string, got ${describe(v)}`);
    const i = this.valid.length;
    if (i + 1 >= this.offsets.length) this.offsets = grow(this.offsets, i + 2, (c) => new Int32Array(c));
    let pos = this.offsets[i]!;
    if (s !== undefined) pos += this.encode(s, pos);
    // Utf8 has 32-bit offsets; a segment is far smaller, but never wrap around silently.
    if (pos > 0x7fffffff) throw new Error(`a string column of ${pos} bytes exceeds Arrow Utf8`);
    this.offsets[i + 1] = pos;
    this.valid.push(s !== undefined);
  }

  /** Appends a value that is already UTF-8: `src[start, end)`. */
  appendBytes(src: Uint8Array, start: number, end: number): void {
    const i = this.valid.length;
    if (i + 1 >= this.offsets.length) this.offsets = grow(this.offsets, i + 2, (c) => new Int32Array(c));
    const pos = this.offsets[i]!;
    const n = end - start;
    if (pos + n > this.bytes.length) {
      this.bytes = grow(this.bytes, pos + n, (c) => new Uint8Array(c));
      this.view = Buffer.from(this.bytes.buffer);
    }
    if (n <= ASCII_INLINE) {
      const { bytes } = this;
      for (let k = 0; k < n; k++) bytes[pos + k] = src[start + k]!;
    } else this.bytes.set(src.subarray(start, end), pos);
    if (pos + n > 0x7fffffff) throw new Error(`a string column of ${pos + n} bytes exceeds Arrow Utf8`);
    this.offsets[i + 1] = pos + n;
    this.valid.push(true);
  }

  /** Writes `s` as UTF-8 at `pos`; returns the bytes written. */
  private encode(s: string, pos: number): number {
    // A UTF-16 code unit takes at most 3 UTF-8 bytes.
    const n = s.length;
    const need = pos + 3 * n;
    if (need > this.bytes.length) {
      this.bytes = grow(this.bytes, need, (c) => new Uint8Array(c));
      this.view = Buffer.from(this.bytes.buffer);
    }
    // Short ASCII strings (ids, codes, SKUs: most values) are copied here; a call into Buffer.write
    // for each cost more than the copy itself.
    if (n <= ASCII_INLINE) {
      const { bytes } = this;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c > 0x7f) break;
        bytes[pos + i] = c;
      }
      if (i === n) return n;
    }
    return this.view.write(s, pos, 'utf8');
  }

  truncate(length: number): void {
    this.valid.length = length;
  }

  finish(): arrow.Data {
    const n = this.valid.length;
    const data = arrow.makeData({
      type: this.type,
      length: n,
      ...this.valid.bitmap(),
      valueOffsets: this.offsets.subarray(0, n + 1),
      data: this.bytes.subarray(0, this.offsets[n]),
    });
    this.valid = new Validity();
    return data;
  }

  get capacityBytes(): number {
    return this.bytes.byteLength + this.offsets.byteLength;
  }
}

const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;
const TWO_POW_32 = 2 ** 32;

/**
 * Builders whose values sit in one typed array: they share growth, validity, truncation and the
 * hand-over of the buffer in finish(); subclasses only say how to read a JSON value.
 */
abstract class FixedWidthBuilder<A extends Typed> implements Builder {
  protected data: A;
  protected valid = new Validity();

  constructor(
    private readonly alloc: (n: number) => A,
    private readonly make: Make<A>,
  ) {
    this.data = alloc(256);
  }

  get length(): number {
    return this.valid.length;
  }

  abstract append(v: unknown): void;

  /** Makes room for one more value and returns its index. */
  protected slot(): number {
    const i = this.valid.length;
    if (i >= this.data.length) {
      this.data = grow(this.data, i + 1, this.alloc);
      this.onGrow();
    }
    return i;
  }

  /** Called when `data` was replaced, for subclasses that keep a view of it. */
  protected onGrow(): void {}

  truncate(length: number): void {
    this.valid.length = length;
  }

  finish(): arrow.Data {
    const n = this.valid.length;
    // Hand the buffer over (no copy); it is filled again once the Data is no longer read.
    const data = this.make({ length: n, ...this.valid.bitmap(), data: this.data.subarray(0, n) as A });
    this.valid = new Validity();
    return data;
  }

  get capacityBytes(): number {
    return this.data.byteLength;
  }
}

/** Int64 and µs timestamps. Also takes bigint values (the envelope's offsets and times). */
export class Int64Builder extends FixedWidthBuilder<BigInt64Array> {
  private words = new Uint32Array(this.data.buffer);

  constructor(
    private readonly timestamp: boolean,
    make: Make<BigInt64Array>,
  ) {
    super((n) => new BigInt64Array(n), make);
  }

  protected override onGrow(): void {
    this.words = new Uint32Array(this.data.buffer);
  }

  append(v: unknown): void {
    if (v === null || v === undefined) return this.push(0, false);
    if (typeof v === 'bigint') return this.push(v, true);
    if (this.timestamp) {
      const us = typeof v === 'string' ? parseTimestampMicros(v) : undefined;
      if (us === undefined) throw new ConversionError(`expected an RFC 3339 date-time, got ${describe(v)}`);
      return this.push(us, true);
    }
    if (typeof v !== 'number' || !Number.isInteger(v))
      throw new ConversionError(`expected an integer, got ${describe(v)}`);
    // JSON.parse has already rounded anything past 2^53; storing it would silently change it.
    if (!Number.isSafeInteger(v))
      throw new ConversionError('integer beyond ±(2^53 − 1) cannot be read exactly from JSON');
    this.push(v, true);
  }

  /** Appends a safe integer the caller has checked (the JSON row reader). */
  appendSafeInteger(v: number): void {
    this.push(v, true);
  }

  private push(v: number | bigint, valid: boolean): void {
    const i = this.slot();
    if (typeof v === 'bigint' || !LITTLE_ENDIAN) this.data[i] = BigInt(v);
    else {
      // A safe integer as two 32-bit halves: no BigInt per value.
      const hi = Math.floor(v / TWO_POW_32);
      this.words[2 * i] = v - hi * TWO_POW_32;
      this.words[2 * i + 1] = hi >>> 0;
    }
    this.valid.push(valid);
  }
}

/** Int32 and dates (days since the epoch). */
export class Int32Builder extends FixedWidthBuilder<Int32Array> {
  constructor(
    private readonly date: boolean,
    make: Make<Int32Array>,
  ) {
    super((n) => new Int32Array(n), make);
  }

  append(v: unknown): void {
    let n: number | undefined;
    if (v === null || v === undefined) n = undefined;
    else {
      n = this.date
        ? typeof v === 'string'
          ? parseDateDays(v)
          : undefined
        : typeof v === 'number'
          ? v
          : undefined;
      if (n === undefined || !Number.isInteger(n) || n < -(2 ** 31) || n >= 2 ** 31)
        throw new ConversionError(
          `expected ${this.date ? 'a date' : 'a 32-bit integer'}, got ${describe(v)}`,
        );
    }
    const i = this.slot();
    this.data[i] = n ?? 0;
    this.valid.push(n !== undefined);
  }
}

export class Float64Builder extends FixedWidthBuilder<Float64Array> {
  constructor(type: arrow.Float64) {
    super(
      (n) => new Float64Array(n),
      (props) => arrow.makeData({ type, ...props }),
    );
  }

  /** Appends a number the caller has checked (the JSON row reader). */
  appendNumber(v: number): void {
    const i = this.slot();
    this.data[i] = v;
    this.valid.push(true);
  }

  append(v: unknown): void {
    if (v !== null && v !== undefined && typeof v !== 'number')
      throw new ConversionError(`expected a number, got ${describe(v)}`);
    const i = this.slot();
    this.data[i] = typeof v === 'number' ? v : 0;
    this.valid.push(typeof v === 'number');
  }
}

export class BoolBuilder implements Builder {
  // One byte per value while building; packed into bits by finish().
  private values = new Validity();
  private valid = new Validity();

  constructor(private readonly type: arrow.Bool) {}

  get length(): number {
    return this.valid.length;
  }

  append(v: unknown): void {
    if (v !== null && v !== undefined && typeof v !== 'boolean')
      throw new ConversionError(`expected a boolean, got ${describe(v)}`);
    this.values.push(v === true);
    this.valid.push(typeof v === 'boolean');
  }

  truncate(length: number): void {
    this.values.length = length;
    this.valid.length = length;
  }

  finish(): arrow.Data {
    const n = this.valid.length;
    const out = arrow.makeData({
      type: this.type,
      length: n,
      ...this.valid.bitmap(),
      data: this.values.pack(),
    });
    this.values = new Validity();
    this.valid = new Validity();
    return out;
  }

  get capacityBytes(): number {
    return 0;
  }
}

export class StructBuilder implements Builder {
  private readonly names: string[];
  private readonly children: Builder[];
  private valid = new Validity();

  constructor(private readonly type: arrow.Struct) {
    const fields: arrow.Field[] = type.children;
    this.names = fields.map((f) => f.name);
    this.children = fields.map(builderFor);
  }

  get length(): number {
    return this.valid.length;
  }

  append(v: unknown): void {
    const { names, children } = this;
    if (v === null || v === undefined) {
      // Under a null struct the children hold nulls too; the struct's own bitmap masks them.
      for (const c of children) c.append(null);
      this.valid.push(false);
      return;
    }
    if (typeof v !== 'object' || Array.isArray(v))
      throw new ConversionError(`expected an object, got ${describe(v)}`);
    const obj = v as Record<string, unknown>;
    for (let j = 0; j < children.length; j++) {
      try {
        children[j]!.append(obj[names[j]!]);
      } catch (e) {
        throw addStep(e, names[j]!);
      }
    }
    this.valid.push(true);
  }

  /** The builders of the fields, in field order. */
  get fields(): readonly Builder[] {
    return this.children;
  }

  /** Closes a present object whose children the caller has appended one value each. */
  appendPresent(): void {
    this.valid.push(true);
  }

  truncate(length: number): void {
    this.valid.length = length;
    // Children hold one value per object, null objects included.
    for (const c of this.children) c.truncate(length);
  }

  finish(): arrow.Data {
    const n = this.valid.length;
    const data = arrow.makeData({
      type: this.type,
      length: n,
      ...this.valid.bitmap(),
      children: this.children.map((c) => c.finish()),
    });
    this.valid = new Validity();
    return data;
  }

  get capacityBytes(): number {
    return this.children.reduce((n, c) => n + c.capacityBytes, 0);
  }
}

export class ListBuilder implements Builder {
  private readonly item: Builder;
  private offsets = new Int32Array(256);
  private valid = new Validity();

  constructor(private readonly type: arrow.List) {
    this.item = builderFor(type.valueField);
  }

  get length(): number {
    return this.valid.length;
  }

  append(v: unknown): void {
    if (v !== null && v !== undefined) {
      if (!Array.isArray(v)) throw new ConversionError(`expected an array, got ${describe(v)}`);
      for (let i = 0; i < v.length; i++) {
        try {
          this.item.append(v[i]);
        } catch (e) {
          throw addStep(e, String(i));
        }
      }
    }
    const i = this.valid.length;
    if (i + 1 >= this.offsets.length) this.offsets = grow(this.offsets, i + 2, (c) => new Int32Array(c));
    this.offsets[i + 1] = this.item.length;
    this.valid.push(v !== null && v !== undefined);
  }

  /** The item builder, for callers that append a present list's items themselves. */
  get items(): Builder {
    return this.item;
  }

  /** Closes a present list whose items the caller has appended to {@link items}. */
  appendPresent(): void {
    const i = this.valid.length;
    if (i + 1 >= this.offsets.length) this.offsets = grow(this.offsets, i + 2, (c) => new Int32Array(c));
    this.offsets[i + 1] = this.item.length;
    this.valid.push(true);
  }

  truncate(length: number): void {
    this.valid.length = length;
    // The items of the lists kept end where the last kept list ends.
    this.item.truncate(this.offsets[length]!);
  }

  finish(): arrow.Data {
    const n = this.valid.length;
    const data = arrow.makeData({
      type: this.type,
      length: n,
      ...this.valid.bitmap(),
      valueOffsets: this.offsets.subarray(0, n + 1),
      child: this.item.finish(),
    });
    this.valid = new Validity();
    return data;
  }

  get capacityBytes(): number {
    return this.offsets.byteLength + this.item.capacityBytes;
  }
}

function builderFor(field: arrow.Field): Builder {
  const t: unknown = field.type;
  if (arrow.DataType.isUtf8(t)) return new Utf8Builder(t, isJsonText(field));
  if (arrow.DataType.isTimestamp(t) && t.unit === arrow.TimeUnit.MICROSECOND) {
    const type = t as arrow.TimestampMicrosecond;
    return new Int64Builder(true, (props) => arrow.makeData({ type, ...props }));
  }
  if (arrow.DataType.isInt(t) && t.isSigned && t.bitWidth === 64) {
    const type = t as arrow.Int64;
    return new Int64Builder(false, (props) => arrow.makeData({ type, ...props }));
  }
  if (arrow.DataType.isInt(t) && t.isSigned && t.bitWidth === 32) {
    const type = t as arrow.Int32;
    return new Int32Builder(false, (props) => arrow.makeData({ type, ...props }));
  }
  if (arrow.DataType.isDate(t) && t.unit === arrow.DateUnit.DAY) {
    const type = t as arrow.DateDay;
    return new Int32Builder(true, (props) => arrow.makeData({ type, ...props }));
  }
  if (arrow.DataType.isFloat(t) && t.precision === arrow.Precision.DOUBLE)
    return new Float64Builder(t as arrow.Float64);
  if (arrow.DataType.isBool(t)) return new BoolBuilder(t);
  if (arrow.DataType.isStruct(t)) return new StructBuilder(t);
  if (arrow.DataType.isList(t)) return new ListBuilder(t);
  throw new Error(`no column builder for Arrow ${String(field.type)} (${field.name})`);
}

// ---------------------------------------------------------------------------------------------

/** The envelope columns' values for one record, in {@link envelopeColumns} order. */
export interface EnvelopeValues {
  eventId: string;
  eventTimeUs: bigint;
  ingestTimeUs: bigint;
  source: string;
  schemaVersion: number;
  partition: number;
  offset: bigint;
  test: boolean;
}

const envelopeOrder = [
  '_event_id',
  '_event_time',
  '_ingest_time',
  '_source',
  '_schema_version',
  '_kafka_partition',
  '_kafka_offset',
  '_test',
];

/** Collects the rows of one Parquet file; one per (schema version, hour) group. */
export class TableEncoder {
  private readonly payloadNames: string[];
  private readonly columns: Builder[];
  /** Rows appended (the rollback point of the row being appended). */
  private count = 0;
  /** finish()'s table views the builders' buffers: no append until release(). */
  private lent = false;

  constructor(readonly schema: arrow.Schema) {
    const fields: arrow.Field[] = schema.fields;
    const tail = fields.slice(-envelopeColumns.length).map((f) => f.name);
    // append() below fills them in this order; fail loudly if the mapping ever changes it.
    if (tail.join() !== envelopeOrder.join() || envelopeColumns.map((f) => f.name).join() !== tail.join())
      throw new Error(`the Arrow schema does not end with the envelope columns ${envelopeOrder.join(', ')}`);
    this.payloadNames = fields.slice(0, -envelopeColumns.length).map((f) => f.name);
    this.columns = fields.map(builderFor);
  }

  /** Rows appended since the last finish(). */
  get rows(): number {
    return this.count;
  }

  /** The payload columns' builders, in field order (the envelope columns follow them). */
  get payloadColumns(): readonly Builder[] {
    return this.columns.slice(0, this.payloadNames.length);
  }

  /** Appends one row: payload columns, then envelope columns. On ConversionError nothing is kept. */
  append(payload: Readonly<Record<string, unknown>>, env: EnvelopeValues): void {
    this.checkNotLent();
    const { columns, payloadNames } = this;
    const n = payloadNames.length;
    for (let j = 0; j < n; j++) {
      const name = payloadNames[j]!;
      try {
        columns[j]!.append(payload[name]);
      } catch (e) {
        this.rollback();
        throw addStep(e, name);
      }
    }
    this.appendEnvelope(env);
  }

  /**
   * Appends one row whose payload columns `fill` appends itself (one value to each payload column).
   * When it returns false or throws ConversionError, nothing is kept and false is returned.
   */
  appendWith(fill: () => boolean, env: EnvelopeValues): boolean {
    this.checkNotLent();
    let ok: boolean;
    try {
      ok = fill();
    } catch (e) {
      this.rollback();
      if (e instanceof ConversionError) return false;
      throw e;
    }
    if (!ok) {
      this.rollback();
      return false;
    }
    this.appendEnvelope(env);
    return true;
  }

  /** Drops what a failed row appended: every column back to the rows before it. */
  private rollback(): void {
    for (const c of this.columns) c.truncate(this.count);
  }

  private appendEnvelope(env: EnvelopeValues): void {
    const { columns } = this;
    const n = this.payloadNames.length;
    columns[n]!.append(env.eventId);
    columns[n + 1]!.append(env.eventTimeUs);
    columns[n + 2]!.append(env.ingestTimeUs);
    columns[n + 3]!.append(env.source);
    columns[n + 4]!.append(env.schemaVersion);
    columns[n + 5]!.append(env.partition);
    columns[n + 6]!.append(env.offset);
    columns[n + 7]!.append(env.test);
    this.count++;
  }

  /**
   * One record batch holding the rows appended so far, in order; the encoder is empty afterwards.
   * The table views the encoder's buffers (no copy), which the next rows fill again: call release()
   * once the table has been written, before appending.
   */
  finish(): arrow.Table {
    this.checkNotLent();
    const fields: arrow.Field[] = this.schema.fields;
    const length = this.count;
    const children = this.columns.map((c) => c.finish());
    this.count = 0;
    this.lent = true;
    const data = arrow.makeData({ type: new arrow.Struct(fields), length, nullCount: 0, children });
    return new arrow.Table([new arrow.RecordBatch(this.schema, data)]);
  }

  /** The table of the last finish() is no longer read: its buffers may be filled again. */
  release(): void {
    this.lent = false;
  }

  /** Bytes of the column buffers this encoder keeps for its next rows. */
  get capacityBytes(): number {
    return this.columns.reduce((n, c) => n + c.capacityBytes, 0);
  }

  private checkNotLent(): void {
    if (this.lent)
      throw new Error('TableEncoder: the table of finish() is still in use (release() it first)');
  }
}
