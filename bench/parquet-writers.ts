// Which library writes the pipeline's Parquet files? One segment of N order_created v2 events (~1 KB
// of JSON, ~10 items each) is written by every candidate, from the same validated records:
//   1. apache-arrow + parquet-wasm (what activities/segment/encode.ts uses), ZSTD and SNAPPY;
//   2. DuckDB (@duckdb/node-api, in-memory): raw values + envelope as NDJSON → read_json → COPY … TO;
//   3. parquetjs-lite and 4. @dsnp/parquetjs, row by row (SNAPPY: neither has ZSTD).
// Every run is a fresh child process (so peak RSS and wasm memory growth are per writer) that warms
// the writer up on a small batch first; rounds rotate the order. Each writer's file is then checked
// with DuckDB against the mapping: column types, INSERT … BY NAME into duckdbCreateTable()'s table,
// and the same values as parquet-wasm's file. Results go to docs/parquet-writer.md.
// Usage: npm run bench:parquet -- [--rows 100000] [--rounds 5] [--no-doc]
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import * as arrow from 'apache-arrow';
import type { TableEncoder } from '../activities/segment/columns.js';
import {
  decodeRecord,
  encodeSegment,
  encoderFor,
  envelopeValues,
  writeParquetBytes,
  type DecodedRecord,
} from '../activities/segment/encode.js';
import { parseDateDays, parseTimestampMicros } from '../activities/segment/time.js';
import { buildEnvelope, envelopeHeaders } from '../lib/envelope.js';
import type { RangeRecord } from '../lib/kafka.js';
import { loadCatalog, type EventType } from '../schemas/catalog.js';
import {
  duckdbColumns,
  duckdbCreateTable,
  isJsonText,
  quoteIdent,
  toArrowSchema,
} from '../schemas/mapping.js';
import { EventValidator } from '../schemas/validator.js';
import {
  errorMessage,
  fail,
  int,
  machine,
  markdownTable,
  mb,
  median,
  packageVersion,
  parseFlags,
  positiveInt,
  ratio,
  runMain,
  statusKb,
  writeDoc,
  writeSummary,
  type Machine,
} from './common.js';
import { seededRandom } from '../test/helpers/random.js';

const WRITERS = ['wasm-zstd', 'wasm-snappy', 'duckdb-zstd', 'parquetjs-lite', 'dsnp-parquetjs'] as const;
type WriterName = (typeof WRITERS)[number];
const LABEL: Record<WriterName, string> = {
  'wasm-zstd': 'apache-arrow + parquet-wasm',
  'wasm-snappy': 'apache-arrow + parquet-wasm',
  'duckdb-zstd': 'DuckDB COPY (read_json)',
  'parquetjs-lite': 'parquetjs-lite',
  'dsnp-parquetjs': '@dsnp/parquetjs',
};
const CODEC: Record<WriterName, string> = {
  'wasm-zstd': 'ZSTD',
  'wasm-snappy': 'SNAPPY',
  'duckdb-zstd': 'ZSTD',
  'parquetjs-lite': 'SNAPPY',
  'dsnp-parquetjs': 'SNAPPY',
};
const REFERENCE: WriterName = 'wasm-zstd';
const PARTITION = 0;
const TYPE = 'order_created';

// ---------------------------------------------------------------------------------------------
// The batch: deterministic, so every child process builds the very same records.

const CITIES = ['Toronto', 'Montréal', 'Vancouver', 'Calgary', 'New York', 'Chicago', 'Austin', 'Seattle'];
const SKU_WORDS = ['burrito', 'taco', 'bowl', 'salad', 'soda', 'chips', 'salsa', 'churro', 'quesadilla'];

function buildRecords(rows: number): RangeRecord[] {
  const rnd = seededRandom(42);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)]!;
  const hex = (n: number): string =>
    Array.from({ length: n }, () => Math.floor(rnd() * 16).toString(16)).join('');
  const skus = Array.from(
    { length: 5000 },
    (_, i) => `sku-${pick(SKU_WORDS)}-${String(i).padStart(6, '0')}-lg`,
  );
  const base = Date.parse('2026-11-25T12:00:00Z');
  const now = new Date('2026-11-25T13:00:05Z');
  const out: RangeRecord[] = [];
  for (let i = 0; i < rows; i++) {
    // One hour of traffic, so the batch is one (v2, dt, hr) group = one file.
    const ms = base + Math.floor((i / rows) * 3_599_000);
    const micros = String(Math.floor(rnd() * 1000)).padStart(3, '0');
    const time = `${new Date(ms).toISOString().slice(0, -1)}${micros}Z`;
    const items = Array.from({ length: 8 + Math.floor(rnd() * 5) }, () => ({
      sku: pick(skus),
      quantity: 1 + Math.floor(rnd() * 4),
      unit_price_cents: 99 + Math.floor(rnd() * 4900),
    }));
    const payload = {
      order_id: `${hex(8)}-${hex(4)}-4${hex(3)}-a${hex(3)}-${hex(12)}`,
      customer_id: `cust-${Math.floor(rnd() * 50_000)}`,
      store_id: `store-${String(Math.floor(rnd() * 500)).padStart(4, '0')}`,
      items,
      subtotal_cents: items.reduce((s, it) => s + it.quantity * it.unit_price_cents, 0),
      currency: pick(['USD', 'CAD', 'EUR'] as const),
      placed_at: time,
      platform: pick(['ios', 'android', 'web'] as const),
      delivery_address:
        rnd() < 0.9
          ? {
              city: pick(CITIES),
              postal_code: `${hex(3).toUpperCase()} ${hex(3).toUpperCase()}`,
              lat: Math.round((40 + rnd() * 10) * 1e6) / 1e6,
              lng: Math.round((-120 + rnd() * 50) * 1e6) / 1e6,
            }
          : undefined,
      promo_code: rnd() < 0.2 ? `PROMO${Math.floor(rnd() * 100)}` : null,
      tip_cents: rnd() < 0.7 ? Math.floor(rnd() * 1500) : undefined,
    };
    const env = buildEnvelope(
      {
        type: TYPE,
        dataschema: `urn:sluice:schema:${TYPE}:v2`,
        id: `evt-${String(i).padStart(9, '0')}-${hex(8)}`,
        source: '/checkout-service',
        time,
        partitionkey: payload.order_id,
      },
      now,
      '/sluice/proxy',
    );
    out.push({
      offset: BigInt(1_000_000 + i),
      timestamp: BigInt(now.getTime()),
      key: Buffer.from(payload.order_id),
      value: Buffer.from(JSON.stringify(payload)),
      headers: envelopeHeaders(env),
    });
  }
  return out;
}

interface Ctx {
  type: EventType;
  validator: EventValidator;
}

interface Batch {
  ctx: Ctx;
  records: RangeRecord[];
  jsonBytes: number;
}

function prepareBatch(rows: number): Batch {
  const catalog = loadCatalog();
  const type = catalog.types.get(TYPE) ?? fail(`no ${TYPE} in the catalog`);
  const records = buildRecords(rows);
  return {
    ctx: { type, validator: new EventValidator(catalog) },
    records,
    jsonBytes: records.reduce((s, r) => s + (r.value?.length ?? 0), 0),
  };
}

/** Envelope, JSON.parse and ajv: what every writer needs first (the encoder's own decodeRecord). */
function decode(ctx: Ctx, r: RangeRecord): DecodedRecord {
  const d = decodeRecord(ctx.type, ctx.validator, r);
  return d.ok ? d.record : fail(`generated record ${r.offset} is invalid: ${d.reason}`);
}

// ---------------------------------------------------------------------------------------------
// Writers: Kafka records of one segment in, one Parquet file out. Each parses and validates the
// records as it goes (payloads are garbage right after, as in the pipeline).

interface WriterOutput {
  bytes: Uint8Array;
  /** apache-arrow only: TableEncoder.append + finish (JSON values → Arrow table). */
  buildMs?: number;
  /** apache-arrow only: IPC hand-over + parquet-wasm. */
  writeMs?: number;
}

type Writer = (ctx: Ctx, records: RangeRecord[]) => Promise<WriterOutput>;

/** encodeSegment's loop for a one-group batch, with the Arrow part timed. */
function wasmWriter(compression: 'ZSTD' | 'SNAPPY'): Writer {
  return (ctx, records) => {
    let encoder: TableEncoder | undefined;
    let buildMs = 0;
    for (const r of records) {
      const d = decode(ctx, r);
      const t = performance.now();
      encoder ??= encoderFor(d.version);
      encoder.append(d.payload, envelopeValues(d, PARTITION));
      buildMs += performance.now() - t;
    }
    if (!encoder) return fail('empty batch');
    const t0 = performance.now();
    const table = encoder.finish();
    const t1 = performance.now();
    const bytes = writeParquetBytes(table, compression);
    return Promise.resolve({ bytes, buildMs: buildMs + (t1 - t0), writeMs: performance.now() - t1 });
  };
}

// One in-process DuckDB per worker: created outside the measured run (in the warm-up).
let duckdb: { instance: DuckDBInstance; conn: DuckDBConnection; dir: string } | undefined;

const sqlString = (s: string): string => `'${s.replaceAll("'", "''")}'`;

const duckdbWriter: Writer = async (ctx, records) => {
  if (!duckdb) {
    const instance = await DuckDBInstance.create(':memory:');
    duckdb = {
      instance,
      conn: await instance.connect(),
      dir: mkdtempSync(join(tmpdir(), 'sluice-bench-duckdb-')),
    };
  }
  const { conn, dir } = duckdb;
  const input = join(dir, 'segment.ndjson');
  const output = join(dir, 'segment.parquet');
  // The Kafka value is already JSON: splice the envelope columns in front of its first key
  // rather than re-serialising. Valid JSON has no raw newline inside strings, so replacing CR/LF
  // by spaces keeps one record per line.
  const chunks: Buffer[] = [];
  let version: DecodedRecord['version'] | undefined;
  for (const r of records) {
    const d = decode(ctx, r);
    version ??= d.version;
    const value = r.value ?? fail('record without value');
    const body =
      value.includes(0x0a) || value.includes(0x0d)
        ? Buffer.from(value.toString().replace(/[\r\n]/g, ' '))
        : value;
    const empty = body.length < 16 && /^\s*\{\s*\}\s*$/.test(body.toString('latin1'));
    const head =
      `{"_event_id":${JSON.stringify(d.envelope.id)},"_event_time":${JSON.stringify(d.envelope.time)},` +
      `"_ingest_time":${JSON.stringify(d.envelope.ingesttime)},"_source":${JSON.stringify(d.envelope.source)},` +
      `"_schema_version":${d.version.version},"_kafka_partition":${PARTITION},"_kafka_offset":${d.offset},` +
      `"_test":${d.envelope.test}${empty ? '}' : ','}`;
    chunks.push(Buffer.from(head), empty ? NEWLINE : body.subarray(body.indexOf(0x7b) + 1), NEWLINE);
  }
  if (!version) return fail('empty batch');
  writeFileSync(input, Buffer.concat(chunks));
  const columns = duckdbColumns(version.schema)
    .map((c) => `${sqlString(c.name)}: ${sqlString(c.type)}`)
    .join(', ');
  await conn.run(
    `COPY (SELECT * FROM read_json(${sqlString(input)}, format = 'newline_delimited', columns = {${columns}}))
     TO ${sqlString(output)} (FORMAT parquet, COMPRESSION zstd)`,
  );
  return { bytes: readFileSync(output) };
};

const NEWLINE = Buffer.from('\n');

// The two parquetjs forks are optional dev dependencies, loaded at run time (a writer whose
// package is missing is skipped). This is the part of their shared API the bench uses.
interface ParquetjsField {
  type?: string;
  optional?: boolean;
  repeated?: boolean;
  compression?: string;
  fields?: Record<string, ParquetjsField>;
}
interface ParquetjsWriter {
  appendRow(row: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}
interface ParquetjsModule {
  ParquetSchema: new (fields: Record<string, ParquetjsField>) => object;
  ParquetWriter: {
    openStream(schema: object, out: Writable, opts?: { rowGroupSize?: number }): Promise<ParquetjsWriter>;
  };
}

const requireHere = createRequire(import.meta.url);
const PACKAGE: Partial<Record<WriterName, string>> = {
  'parquetjs-lite': 'parquetjs-lite',
  'dsnp-parquetjs': '@dsnp/parquetjs',
};

function installed(w: WriterName): boolean {
  const pkg = PACKAGE[w];
  if (!pkg) return true;
  try {
    requireHere.resolve(pkg);
    return true;
  } catch {
    return false;
  }
}

/** The Arrow schema as a parquetjs schema: lists become repeated fields (parquetjs has no LIST). */
function parquetjsFields(fields: arrow.Field[]): Record<string, ParquetjsField> {
  const out: Record<string, ParquetjsField> = {};
  for (const f of fields) {
    const t: unknown = f.type;
    let def: ParquetjsField;
    let field = f;
    let repeated = false;
    if (arrow.DataType.isList(t)) {
      field = t.valueField;
      repeated = true;
      if (arrow.DataType.isList(field.type)) fail(`${f.name}: parquetjs cannot write a list of lists`);
    }
    const inner: unknown = field.type;
    if (arrow.DataType.isStruct(inner)) def = { fields: parquetjsFields(inner.children) };
    else if (isJsonText(field) || arrow.DataType.isUtf8(inner)) def = { type: 'UTF8', compression: 'SNAPPY' };
    else if (arrow.DataType.isTimestamp(inner)) def = { type: 'TIMESTAMP_MICROS', compression: 'SNAPPY' };
    else if (arrow.DataType.isDate(inner)) def = { type: 'DATE', compression: 'SNAPPY' };
    else if (arrow.DataType.isInt(inner))
      def = { type: inner.bitWidth === 64 ? 'INT64' : 'INT32', compression: 'SNAPPY' };
    else if (arrow.DataType.isFloat(inner)) def = { type: 'DOUBLE', compression: 'SNAPPY' };
    else if (arrow.DataType.isBool(inner)) def = { type: 'BOOLEAN', compression: 'SNAPPY' };
    else def = fail(`${f.name}: no parquetjs type for ${String(inner)}`);
    if (repeated) def.repeated = true;
    else if (f.nullable) def.optional = true;
    out[f.name] = def;
  }
  return out;
}

/** A payload (+ envelope) as a parquetjs row: timestamps as bigint µs, absent values left out. */
function parquetjsValue(field: arrow.Field, v: unknown): unknown {
  if (v === null || v === undefined) return undefined;
  const t: unknown = field.type;
  if (isJsonText(field)) return JSON.stringify(v);
  // Validated: date-time and date values are strings.
  if (arrow.DataType.isTimestamp(t)) return parseTimestampMicros(v as string);
  if (arrow.DataType.isDate(t)) return parseDateDays(v as string);
  if (arrow.DataType.isList(t)) return (v as unknown[]).map((x) => parquetjsValue(t.valueField, x));
  if (arrow.DataType.isStruct(t)) return parquetjsRow(t.children, v as Record<string, unknown>);
  return v;
}

function parquetjsRow(fields: arrow.Field[], obj: Record<string, unknown>): Record<string, unknown> {
  const row: Record<string, unknown> = {};
  for (const f of fields) {
    const v = parquetjsValue(f, obj[f.name]);
    if (v !== undefined) row[f.name] = v;
  }
  return row;
}

/** parquetjs rows of the records (parsed and validated one by one), and the schema's fields. */
function parquetjsRows(
  ctx: Ctx,
  records: RangeRecord[],
): { fields: arrow.Field[]; rows: Iterable<Record<string, unknown>> } {
  const fields: arrow.Field[] = toArrowSchema(ctx.type.latest.schema).fields;
  const payloadFields = fields.filter((f) => !f.name.startsWith('_'));
  function* rows(): Iterable<Record<string, unknown>> {
    for (const r of records) {
      const d = decode(ctx, r);
      yield {
        ...parquetjsRow(payloadFields, d.payload),
        _event_id: d.envelope.id,
        _event_time: d.eventTimeUs,
        _ingest_time: d.ingestTimeUs,
        _source: d.envelope.source,
        _schema_version: d.version.version,
        _kafka_partition: PARTITION,
        _kafka_offset: d.offset,
        _test: d.envelope.test,
      };
    }
  }
  return { fields, rows: rows() };
}

class MemorySink extends Writable {
  readonly chunks: Buffer[] = [];
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.chunks.push(chunk);
    done();
  }
}

function parquetjsWriter(pkg: string): Writer {
  return async (ctx, records) => {
    const lib = requireHere(pkg) as ParquetjsModule;
    const { fields, rows } = parquetjsRows(ctx, records);
    const sink = new MemorySink();
    // One row group for the whole batch, like the other writers (the libraries' default is 4096 rows).
    const writer = await lib.ParquetWriter.openStream(new lib.ParquetSchema(parquetjsFields(fields)), sink, {
      rowGroupSize: records.length,
    });
    // parquetjs-lite reads INT64 with parseInt, @dsnp/parquetjs takes bigint or number: hand both numbers.
    for (const row of rows) await writer.appendRow({ ...row, _kafka_offset: Number(row._kafka_offset) });
    await writer.close();
    return { bytes: Buffer.concat(sink.chunks) };
  };
}

const WRITER: Record<WriterName, Writer> = {
  'wasm-zstd': wasmWriter('ZSTD'),
  'wasm-snappy': wasmWriter('SNAPPY'),
  'duckdb-zstd': duckdbWriter,
  'parquetjs-lite': parquetjsWriter('parquetjs-lite'),
  'dsnp-parquetjs': parquetjsWriter('@dsnp/parquetjs'),
};

// ---------------------------------------------------------------------------------------------
// Child: one measured run of one writer.

interface RunResult {
  writer: WriterName;
  rows: number;
  /** Records → Parquet bytes, parsing and validating included. */
  wallMs: number;
  cpuMs: number;
  /** Parsing and validating alone (decodeRecord), in the same process. */
  decodeMs: number;
  decodeCpuMs: number;
  buildMs: number | null;
  writeMs: number | null;
  bytes: number;
  sha256: string;
  /** The warm-up run in the same process gave the same bytes. */
  sameAsWarmup: boolean;
  /** apache-arrow only: encodeSegment() over the same records gave the same bytes. */
  sameAsEncodeSegment: boolean | null;
  peakRssDeltaMb: number | null;
  jsonBytes: number;
}

const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

/** This process's VmRSS or VmHWM in bytes; null where /proc cannot tell. */
const procStatus = (field: 'VmHWM' | 'VmRSS'): number | null => {
  try {
    return statusKb('self', field) * 1024;
  } catch {
    return null;
  }
};

/** Resets the kernel's peak-RSS mark (Linux ≥ 4.0), so VmHWM afterwards is this run's peak. */
function resetPeakRss(): boolean {
  try {
    writeFileSync('/proc/self/clear_refs', '5');
    return true;
  } catch {
    return false;
  }
}

async function child(writer: WriterName, rows: number, out: string): Promise<void> {
  const { ctx, records, jsonBytes } = prepareBatch(rows);
  const run = WRITER[writer];
  const gc = (globalThis as { gc?: () => void }).gc;
  const timed = async <T>(fn: () => Promise<T> | T): Promise<{ value: T; ms: number; cpuMs: number }> => {
    gc?.();
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    const value = await fn();
    const ms = performance.now() - t0;
    const cpu = process.cpuUsage(c0);
    return { value, ms, cpuMs: (cpu.user + cpu.system) / 1000 };
  };
  gc?.();
  // Peak memory counts from here, across the warm-up and the measured run (same size), so memory a
  // writer keeps after its first run (wasm memory never shrinks) is included.
  const peakReset = resetPeakRss();
  const rss0 = procStatus('VmRSS');
  // Warm-up on the whole batch: a worker writes segment after segment, so the timed run is the
  // steady state (JIT-compiled, wasm memory grown, DuckDB instance up).
  const warm = await run(ctx, records);
  const decodeOnly = await timed(() => records.forEach((r) => decode(ctx, r)));
  const measured = await timed(() => run(ctx, records));
  const hwm = procStatus('VmHWM');
  const result = measured.value;
  writeFileSync(out, result.bytes);
  let sameAsEncodeSegment: boolean | null = null;
  if (writer === 'wasm-zstd' || writer === 'wasm-snappy') {
    const { groups } = encodeSegment({
      type: ctx.type,
      validator: ctx.validator,
      partition: PARTITION,
      records,
      compression: CODEC[writer] as 'ZSTD' | 'SNAPPY',
    });
    sameAsEncodeSegment = groups.length === 1 && sha256(groups[0]!.bytes) === sha256(result.bytes);
  }
  const report: RunResult = {
    writer,
    rows,
    wallMs: measured.ms,
    cpuMs: measured.cpuMs,
    decodeMs: decodeOnly.ms,
    decodeCpuMs: decodeOnly.cpuMs,
    buildMs: result.buildMs ?? null,
    writeMs: result.writeMs ?? null,
    bytes: result.bytes.byteLength,
    sha256: sha256(result.bytes),
    sameAsWarmup: sha256(result.bytes) === sha256(warm.bytes),
    sameAsEncodeSegment,
    peakRssDeltaMb: peakReset && hwm !== null && rss0 !== null ? Math.max(0, hwm - rss0) / 1e6 : null,
    jsonBytes,
  };
  if (duckdb) {
    duckdb.conn.closeSync();
    duckdb.instance.closeSync();
    rmSync(duckdb.dir, { recursive: true, force: true });
  }
  console.log(`RESULT ${JSON.stringify(report)}`);
}

// ---------------------------------------------------------------------------------------------
// Parent: rounds, checks, report.

interface Options {
  rows: number;
  rounds: number;
  doc: string | null;
}

function parseOptions(): Options & { child?: { writer: WriterName; out: string } } {
  const { values } = parseFlags(
    {
      rows: { type: 'string', default: '100000' },
      rounds: { type: 'string', default: '5' },
      doc: { type: 'string', default: 'docs/parquet-writer.md' },
      'no-doc': { type: 'boolean', default: false },
      // How the parent starts a child run (see runChild).
      child: { type: 'string' },
      out: { type: 'string' },
    },
    ['child', 'out'],
  );
  const opts = {
    rows: positiveInt('rows', values.rows),
    rounds: positiveInt('rounds', values.rounds),
    doc: values['no-doc'] ? null : values.doc,
  };
  if (values.child === undefined) return opts;
  const writer = WRITERS.find((w) => w === values.child) ?? fail(`unknown writer ${values.child}`);
  return { ...opts, child: { writer, out: values.out ?? fail('--out is required with --child') } };
}

function runChild(writer: WriterName, opts: Options, out: string): RunResult {
  const script = fileURLToPath(import.meta.url);
  const args = [
    ...process.execArgv,
    '--expose-gc',
    script,
    '--child',
    writer,
    '--out',
    out,
    '--rows',
    String(opts.rows),
  ];
  const r = spawnSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const line = r.stdout.split('\n').find((l) => l.startsWith('RESULT '));
  if (r.status !== 0 || !line) fail(`${writer} run failed (exit ${r.status}):\n${r.stderr}${r.stdout}`);
  return JSON.parse(line.slice('RESULT '.length)) as RunResult;
}

/** `TimestampType(isAdjustedToUTC=1, unit=TimeUnit(…MICROS=MicroSeconds()…))` → `TIMESTAMP(UTC, MICROS)`. */
function timestampText(t: string): string {
  const m = /^TimestampType\(isAdjustedToUTC=(\d).*?(MILLIS|MICROS|NANOS)=(?!<null>)/.exec(t);
  return m ? `TIMESTAMP(${m[1] === '1' ? 'UTC' : 'local'}, ${m[2]})` : t;
}

interface Check {
  typesMatch: boolean;
  typeDiffs: string[];
  loads: string;
  sameValues: string;
  parquetShape: string;
}

async function checkFiles(
  files: Partial<Record<WriterName, string>>,
  type: EventType,
): Promise<Partial<Record<WriterName, Check>>> {
  const schema = type.latest.schema;
  // DESCRIBE spells TIMESTAMPTZ out and leaves simple struct field names unquoted.
  const normalize = (t: string): string =>
    t.replaceAll('TIMESTAMP WITH TIME ZONE', 'TIMESTAMPTZ').replaceAll('"', '');
  const expected = duckdbColumns(schema).map((c) => [c.name, normalize(c.type)] as const);
  const db = await DuckDBInstance.create(':memory:');
  const conn = await db.connect();
  const rowsOf = async (sql: string): Promise<Record<string, unknown>[]> =>
    (await conn.runAndReadAll(sql)).getRowObjectsJson();
  const out: Partial<Record<WriterName, Check>> = {};
  try {
    const written = WRITERS.filter((w) => w in files);
    for (const w of [REFERENCE, ...written.filter((x) => x !== REFERENCE)]) {
      const file = sqlString(files[w] ?? fail(`no file from ${w}`));
      const described = await rowsOf(`DESCRIBE SELECT * FROM read_parquet(${file})`);
      const got = described.map((r) => [String(r.column_name), normalize(String(r.column_type))] as const);
      const typeDiffs = expected.flatMap(([name, t]) => {
        const g = got.find(([n]) => n === name);
        return g?.[1] === t ? [] : [`${name}: ${g ? g[1] : 'missing'} (mapping: ${t})`];
      });
      const table = quoteIdent(`t_${w}`);
      let loads = 'yes';
      try {
        await conn.run(duckdbCreateTable(`t_${w}`, schema));
        await conn.run(`INSERT INTO ${table} BY NAME SELECT * FROM read_parquet(${file})`);
      } catch (e) {
        loads = `no: ${errorMessage(e).split('\n')[0] ?? ''}`;
      }
      let sameValues = 'reference';
      if (w !== REFERENCE) {
        const ref = quoteIdent(`t_${REFERENCE}`);
        const [diff] = await rowsOf(
          `SELECT (SELECT count(*) FROM (FROM ${ref} EXCEPT ALL FROM ${table})) +
                  (SELECT count(*) FROM (FROM ${table} EXCEPT ALL FROM ${ref})) AS n`,
        );
        sameValues = loads !== 'yes' ? '—' : diff?.n === '0' ? 'yes' : `no: ${String(diff?.n)} rows differ`;
      }
      const leaves = await rowsOf(
        `SELECT repetition_type AS rep, count(*)::INTEGER AS n FROM parquet_schema(${file})
         WHERE num_children IS NULL OR num_children = 0 GROUP BY ALL ORDER BY ALL`,
      );
      const lists = await rowsOf(
        `SELECT count(*)::INTEGER AS n FROM parquet_schema(${file}) WHERE converted_type = 'LIST'`,
      );
      const ts = await rowsOf(
        `SELECT DISTINCT coalesce(logical_type, converted_type) AS t FROM parquet_schema(${file})
         WHERE name = '_event_time'`,
      );
      const parquetShape = [
        `leaves ${leaves.map((l) => `${String(l.rep)} ${String(l.n)}`).join(', ')}`,
        `LIST groups ${String(lists[0]?.n)}`,
        `_event_time ${timestampText(String(ts[0]?.t))}`,
      ].join('; ');
      out[w] = { typesMatch: typeDiffs.length === 0, typeDiffs, loads, sameValues, parquetShape };
    }
  } finally {
    conn.closeSync();
    db.closeSync();
  }
  return out;
}

const perSec = (rows: number, ms: number): number => rows / (ms / 1000);

interface Summary {
  writer: WriterName;
  /** Records → file, parse + validate included. */
  e2eRowsPerSec: number;
  e2eRowsPerCpuSec: number;
  /** The same minus the decode-only run of the same process: the writer's own cost. */
  writerRowsPerSec: number;
  writerRowsPerCpuSec: number;
  buildRowsPerSec: number | null;
  writeRowsPerSec: number | null;
  fileBytes: number;
  peakRssMb: number | null;
  deterministic: boolean;
  sameAsEncodeSegment: boolean | null;
}

function summarize(results: RunResult[]): Summary[] {
  return WRITERS.filter((w) => results.some((r) => r.writer === w)).map((writer) => {
    const rs = results.filter((r) => r.writer === writer);
    const m = (f: (r: RunResult) => number): number => median(rs.map(f));
    const peaks = rs.flatMap((r) => (r.peakRssDeltaMb === null ? [] : [r.peakRssDeltaMb]));
    const wasm = rs.every((r) => r.buildMs !== null && r.writeMs !== null);
    return {
      writer,
      e2eRowsPerSec: m((r) => perSec(r.rows, r.wallMs)),
      e2eRowsPerCpuSec: m((r) => perSec(r.rows, r.cpuMs)),
      writerRowsPerSec: m((r) => perSec(r.rows, r.wallMs - r.decodeMs)),
      writerRowsPerCpuSec: m((r) => perSec(r.rows, r.cpuMs - r.decodeCpuMs)),
      buildRowsPerSec: wasm ? m((r) => perSec(r.rows, r.buildMs ?? 0)) : null,
      writeRowsPerSec: wasm ? m((r) => perSec(r.rows, r.writeMs ?? 0)) : null,
      fileBytes: m((r) => r.bytes),
      peakRssMb: peaks.length ? median(peaks) : null,
      deterministic: new Set(rs.map((r) => r.sha256)).size === 1 && rs.every((r) => r.sameAsWarmup),
      sameAsEncodeSegment: wasm ? rs.every((r) => r.sameAsEncodeSegment === true) : null,
    };
  });
}

function speedTable(summary: Summary[], rounds: number): string {
  return markdownTable(
    [
      `Median of ${rounds} rounds`,
      'Codec',
      'Writer rows/s',
      'Writer rows per CPU-s',
      'End-to-end rows/s',
      'End-to-end rows per CPU-s',
      'File MB',
      'Peak RSS Δ MB',
      'Same bytes every run',
    ],
    'llrrrrrrl',
    summary.map((s) => [
      LABEL[s.writer],
      CODEC[s.writer],
      int(s.writerRowsPerSec),
      int(s.writerRowsPerCpuSec),
      int(s.e2eRowsPerSec),
      int(s.e2eRowsPerCpuSec),
      mb(s.fileBytes),
      s.peakRssMb === null ? 'n/a' : s.peakRssMb.toFixed(0),
      s.deterministic ? 'yes' : 'no',
    ]),
  );
}

function typesTable(checks: Partial<Record<WriterName, Check>>): string {
  const rows = WRITERS.flatMap((w) => {
    const c = checks[w];
    if (!c) return [];
    const types = c.typesMatch ? 'yes' : `no: ${c.typeDiffs.join('; ')}`;
    return [[LABEL[w], CODEC[w], types, c.loads, c.sameValues, c.parquetShape]];
  });
  return markdownTable(
    [
      'Writer',
      'Codec',
      'DuckDB types = mapping',
      'Loads BY NAME',
      'Same values as parquet-wasm',
      'Parquet schema',
    ],
    'llllll',
    rows,
  );
}

interface Env extends Machine {
  versions: Record<string, string>;
  jsonMb: number;
  decodeRowsPerSec: number;
  decodeRowsPerCpuSec: number;
  /** 1-minute load average before and after: other work on the machine skews the figures. */
  load: [number, number];
}

function renderDoc(
  opts: Options,
  env: Env,
  summary: Summary[],
  checks: Partial<Record<WriterName, Check>>,
  runs: RunResult[],
  skipped: WriterName[],
): string {
  const by = (w: WriterName): Summary => summary.find((s) => s.writer === w) ?? fail(`no results for ${w}`);
  const wasm = by('wasm-zstd');
  const snappy = by('wasm-snappy');
  const duck = by('duckdb-zstd');
  const decodeShare = median(runs.filter((r) => r.writer === 'wasm-zstd').map((r) => r.decodeMs / r.wallMs));
  const duckClearlyFaster =
    duck.e2eRowsPerSec >= 1.5 * wasm.e2eRowsPerSec && duck.e2eRowsPerCpuSec >= 1.5 * wasm.e2eRowsPerCpuSec;
  const active = summary.length;
  const perRound = markdownTable(
    [
      'Round',
      'Writer',
      'Codec',
      'End-to-end ms',
      'CPU ms',
      'Decode-only ms',
      'Arrow build ms',
      'parquet-wasm ms',
      'File MB',
      'Peak RSS Δ MB',
    ],
    'rllrrrrrrr',
    runs.map((r, i) => [
      String(Math.floor(i / active) + 1),
      LABEL[r.writer],
      CODEC[r.writer],
      int(r.wallMs),
      int(r.cpuMs),
      int(r.decodeMs),
      r.buildMs === null ? '—' : int(r.buildMs),
      r.writeMs === null ? '—' : int(r.writeMs),
      mb(r.bytes),
      r.peakRssDeltaMb === null ? 'n/a' : r.peakRssDeltaMb.toFixed(0),
    ]),
  );
  return `# Parquet writer benchmark

Generated by \`npm run bench:parquet\` (\`bench/parquet-writers.ts\`); rerun it to refresh this page.

- Date: ${env.date}
- Node ${env.node}, ${env.nproc} × ${env.cpu}
- Libraries: apache-arrow ${env.versions['apache-arrow']}, parquet-wasm ${env.versions['parquet-wasm']}, @duckdb/node-api ${env.versions['@duckdb/node-api']}, parquetjs-lite ${env.versions['parquetjs-lite']}, @dsnp/parquetjs ${env.versions['@dsnp/parquetjs']}
- Batch: N = ${int(opts.rows)} order_created v2 events, ${mb(env.jsonMb * 1e6)} MB of JSON (${int((env.jsonMb * 1e6) / opts.rows)} bytes each, 8–12 items), one event hour, so one file
- ${opts.rounds} rounds; every run is a fresh process; the writer order rotates every round${
    skipped.length ? `\n- Skipped, not installed: ${skipped.map((w) => PACKAGE[w] ?? w).join(', ')}` : ''
  }
- 1-minute load average ${env.load[0].toFixed(1)} at the start, ${env.load[1].toFixed(1)} at the end (${env.nproc} CPUs): other work on the machine shows up as noise between rounds

## Results

${speedTable(summary, opts.rounds)}

- **End-to-end**: Kafka records → Parquet bytes in memory, including what every writer needs first: envelope, JSON.parse and
  ajv validation (\`decodeRecord\`). For DuckDB this includes writing its input file and reading its output back.
- **Writer**: end-to-end minus a decode-only pass over the same records in the same process, i.e. the writer's own cost.
  Decoding alone runs at ${int(env.decodeRowsPerSec)} rows/s (${int(env.decodeRowsPerCpuSec)} per CPU-second), so it bounds every writer's end-to-end rate.
- **Per CPU-s**: rows divided by user + system CPU time of the whole process (all threads; DuckDB uses ${env.nproc} here).
- **Peak RSS Δ**: the process's peak resident memory over a warm-up run and the measured run, above its resident memory
  before the first (records already in memory). Memory a writer keeps between runs (wasm memory never shrinks) counts.

apache-arrow + parquet-wasm, ZSTD, split: building the Arrow table (\`TableEncoder.append\` + \`finish\`: JSON values → typed
arrays) runs at ${int(wasm.buildRowsPerSec ?? 0)} rows/s; the IPC hand-over and parquet-wasm's encoding and compression
at ${int(wasm.writeRowsPerSec ?? 0)} rows/s (SNAPPY: ${int(snappy.writeRowsPerSec ?? 0)} rows/s). The bench's loop is
\`encodeSegment\`'s; every run checks that \`encodeSegment\` over the same records gives the same bytes: ${
    wasm.sameAsEncodeSegment && snappy.sameAsEncodeSegment ? 'it did' : '**it did not**'
  }.

### Column types

Every writer's file was read back by DuckDB: \`DESCRIBE\` compared with the mapping (\`duckdbColumns\`), \`INSERT … BY NAME\`
into the table \`duckdbCreateTable\` makes, and the loaded rows compared with parquet-wasm's (\`EXCEPT ALL\` both ways). The
last column is the Parquet schema: leaf columns by repetition (REQUIRED = NOT NULL), LIST-annotated groups, and the
logical type of \`_event_time\`.

${typesTable(checks)}

### Every run

${perRound}

## Method

The batch is generated from a fixed seed, so every process builds the same records: real envelope headers
(\`buildEnvelope\` / \`envelopeHeaders\`) and JSON values as a producer sends them. Each child process collects garbage, resets
the kernel's peak-RSS mark (\`/proc/self/clear_refs\`), runs the writer once over the whole batch to warm it up (a worker writes
segment after segment: JIT, grown wasm memory, a running DuckDB instance), then times a decode-only pass and a second writer
run with \`performance.now()\` and \`process.cpuUsage()\` (garbage collected before each). Both writer runs' files are hashed:
"same bytes" means identical across the two runs of every process and across all rounds.

- **apache-arrow + parquet-wasm**: \`encodeSegment\`'s loop — \`decodeRecord\`, \`TableEncoder.append\` (activities/segment/columns.ts:
  values go straight into growable typed arrays), \`finish\`, then \`tableToIPC\` → \`Table.fromIPCStream\` → \`writeParquet\` with
  parquet-rs' defaults, the codec named, and no dictionary for top-level columns that rarely repeat (\`_event_id\`,
  \`_kafka_offset\`, timestamps, floats: parquet-rs would try one and fall back after 1 MB, ~8% larger and slower).
- **DuckDB**: one in-memory instance per process (created in the warm-up, not timed). Each record is decoded (validation is
  needed anyway), then the envelope columns are spliced in front of its raw Kafka value (no re-serialisation), written as NDJSON
  to a temp file, and \`COPY (SELECT * FROM read_json(…, columns = {…})) TO … (FORMAT parquet, COMPRESSION zstd)\` runs with the
  column types of \`duckdbColumns\`; the output is read back into memory. DuckDB parses every value a second time.
- **parquetjs-lite / @dsnp/parquetjs**: the schema is derived from the same Arrow schema (lists as repeated fields: neither writes
  the LIST annotation); each record is decoded, converted and appended with \`await appendRow\` into an in-memory stream, one
  row group for the batch (their default is 4,096 rows). Neither has ZSTD.

## Recommendation

${
  duckClearlyFaster
    ? `DuckDB COPY is clearly faster end to end (${ratio(duck.e2eRowsPerSec, wasm.e2eRowsPerSec)} the rows/s, ${ratio(
        duck.e2eRowsPerCpuSec,
        wasm.e2eRowsPerCpuSec,
      )} the rows per CPU-second, the rule being ≥ 1.5× on both); weigh that against the costs below before switching.`
    : `Keep **apache-arrow + parquet-wasm (ZSTD)**, as \`activities/segment/encode.ts\` uses it. DuckDB COPY is not clearly
better (the rule: ≥ 1.5× both the end-to-end rows/s and rows per CPU-second, with the mapping's types): end to end it
runs at ${ratio(duck.e2eRowsPerSec, wasm.e2eRowsPerSec)} parquet-wasm's rows/s and ${ratio(
        duck.e2eRowsPerCpuSec,
        wasm.e2eRowsPerCpuSec,
      )} its rows per CPU-second. Parsing and validating every record, which both need, takes ${(decodeShare * 100).toFixed(0)}%
of parquet-wasm's end-to-end time.`
}
On the writer part alone DuckDB runs at ${ratio(duck.writerRowsPerSec, wasm.writerRowsPerSec)} parquet-wasm's rows/s
(${ratio(duck.writerRowsPerCpuSec, wasm.writerRowsPerCpuSec)} per CPU-second), with ${ratio(
    duck.fileBytes,
    wasm.fileBytes,
  )} the file size and ${
    wasm.peakRssMb !== null && duck.peakRssMb !== null ? ratio(duck.peakRssMb, wasm.peakRssMb) : 'n/a'
  } the peak memory.

What parquet-wasm gives that DuckDB's COPY does not: exactly the mapping's Parquet schema (NOT NULL columns REQUIRED,
DuckDB writes every column OPTIONAL; the \`arrow.json\` marker on JSON-text columns; the ARROW:schema footer), conversion
rules owned by the encoder and tested with it, a bad value failing only its own record, and a pure, synchronous
\`encodeSegment\` with no temp files.

How the encoder could use DuckDB, and what it would cost: one in-process DuckDB instance per worker (its own thread pool
and memory limit next to the worker's; kept open between segments), each segment's validated records spliced with their
envelope columns into NDJSON in a temp file (or, with more code, fed through the appender), then
\`COPY (SELECT * FROM read_json(…, columns = <duckdbColumns>)) TO …\` and the file read back for the upload. The activity
would do file I/O, every value would be parsed twice (ajv, then DuckDB), and the JSON → column conversion would follow
DuckDB's casts instead of the encoder's: DuckDB 1.5 refuses date-times that the schema's \`date-time\` format accepts (a leap
second \`23:59:60Z\`, lower-case \`t\`/\`z\`), and one such value fails the whole \`COPY\`, i.e. the segment
(\`ignore_errors\` would hide it instead of sending the record to the DLQ); it does read integers past 2^53 exactly, which the encoder rejects to the
DLQ because JSON.parse has already rounded them.
${
  summary.some((x) => x.writer === 'parquetjs-lite' || x.writer === 'dsnp-parquetjs')
    ? `
The pure-JS writers (parquetjs-lite, @dsnp/parquetjs) are out: ${int(
        Math.max(...summary.filter((x) => PACKAGE[x.writer]).map((x) => x.e2eRowsPerSec)),
      )} rows/s at best end to end, no ZSTD, timestamps written as legacy TIMESTAMP_MICROS that DuckDB reads as TIMESTAMP
(not TIMESTAMPTZ; \`BY NAME\` loading then casts them in the session time zone), lists as bare repeated fields (no LIST
annotation, so a null list and an empty one are the same) and no timestamps before 1970 (both refuse them).
`
    : ''
}`;
}

async function main(): Promise<void> {
  const opts = parseOptions();
  if (opts.child) {
    await child(opts.child.writer, opts.rows, opts.child.out);
    return;
  }
  const loadBefore = loadavg()[0] ?? 0;
  const dir = mkdtempSync(join(tmpdir(), 'sluice-bench-parquet-'));
  try {
    const runs: RunResult[] = [];
    const files: Partial<Record<WriterName, string>> = {};
    const active = WRITERS.filter(installed);
    const skipped = WRITERS.filter((w) => !installed(w));
    for (const w of skipped)
      console.log(`skipping ${LABEL[w]}: npm install --no-save ${PACKAGE[w]} to include it`);
    for (let round = 0; round < opts.rounds; round++) {
      const order = active.map((_, i) => active[(i + round) % active.length]!);
      for (const w of order) {
        const out = join(dir, `${w}.parquet`);
        const r = runChild(w, opts, out);
        files[w] = out;
        runs.push(r);
        console.log(
          `round ${round + 1} ${LABEL[w]} ${CODEC[w]}: ${int(r.wallMs)} ms end to end (decode ${int(r.decodeMs)} ms), ${int(r.cpuMs)} ms CPU, ${mb(r.bytes)} MB`,
        );
      }
    }
    const catalog = loadCatalog();
    const type = catalog.types.get(TYPE) ?? fail(`no ${TYPE}`);
    const checks = await checkFiles(files, type);
    const summary = summarize(runs);
    const env: Env = {
      ...machine(),
      versions: Object.fromEntries(
        ['apache-arrow', 'parquet-wasm', '@duckdb/node-api', 'parquetjs-lite', '@dsnp/parquetjs'].map((p) => [
          p,
          packageVersion(p),
        ]),
      ),
      jsonMb: median(runs.map((r) => r.jsonBytes)) / 1e6,
      decodeRowsPerSec: median(runs.map((r) => r.rows / (r.decodeMs / 1000))),
      decodeRowsPerCpuSec: median(runs.map((r) => r.rows / (r.decodeCpuMs / 1000))),
      load: [loadBefore, loadavg()[0] ?? 0],
    };
    console.log(`\n${speedTable(summary, opts.rounds)}\n\n${typesTable(checks)}\n`);
    if (opts.doc) await writeDoc(opts.doc, renderDoc(opts, env, summary, checks, runs, skipped));
    // Headline figures for docs/benchmarks.md (npm run bench:report).
    writeSummary('parquet', { bench: 'parquet', date: env.date, rounds: opts.rounds, writers: summary });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await runMain('bench:parquet', main);
