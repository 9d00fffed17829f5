// The Sluice envelope: CloudEvents 1.0, Kafka protocol binding, binary mode. The Kafka value is the
// JSON payload; every context attribute is a `ce_` header, so any CloudEvents SDK can read our
// records as they are, and consumers that ignore headers still see plain JSON.
import { randomUUID } from 'node:crypto';
import { bytesEqualAt } from './bytes.js';
import { Cursor, type RawRangeRecord } from './kafka-records.js';

export interface EventEnvelope {
  specversion: '1.0';
  id: string;
  source: string;
  type: string;
  /** RFC 3339: when the event happened, as the producer says. */
  time: string;
  datacontenttype: string;
  /** Which schema version validated the payload, e.g. urn:sluice:schema:order_created:v2. */
  dataschema: string;
  /** RFC 3339: when Sluice accepted it. */
  ingesttime: string;
  /** Test traffic, kept apart in the warehouse as the type's event.yaml says. */
  test: boolean;
  /** The Kafka key (CloudEvents partitioning extension); absent for keyless events. */
  partitionkey?: string;
}

export class EnvelopeError extends Error {
  override readonly name = 'EnvelopeError';
  constructor(
    readonly attribute: string,
    message: string,
  ) {
    super(`CloudEvents attribute "${attribute}": ${message}`);
  }
}

// RFC 3339 date-time (the `T` and `Z` may be lower case, seconds may have a fraction).
const RFC3339 =
  /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])[Tt]([01]\d|2[0-3]):[0-5]\d:([0-5]\d|60)(\.\d+)?([Zz]|[+-]([01]\d|2[0-3]):[0-5]\d)$/;
// Extension names: lower-case a–z and 0–9 only (CloudEvents 1.0 "Attribute Naming Convention").
const EXTENSION_NAME = /^[a-z0-9]+$/;

const ZERO = 48;
const twoDigits = (s: string, i: number): number => {
  const a = s.charCodeAt(i) - ZERO;
  const b = s.charCodeAt(i + 1) - ZERO;
  return a >= 0 && a <= 9 && b >= 0 && b <= 9 ? a * 10 + b : -1;
};

/**
 * True for the common shape `YYYY-MM-DDTHH:MM:SS[.f…]Z` with fields in range (no leap second): one
 * scan instead of a regex and Date.parse, the one form every Sluice producer writes. False only
 * means "not this shape", not "invalid": isRfc3339 then checks the general rule.
 */
export function isCanonicalUtc(s: string): boolean {
  const n = s.length;
  if (n < 20 || s.charCodeAt(n - 1) !== 90 /* Z */) return false;
  if (s.charCodeAt(4) !== 45 || s.charCodeAt(7) !== 45 || s.charCodeAt(10) !== 84) return false;
  if (s.charCodeAt(13) !== 58 || s.charCodeAt(16) !== 58) return false;
  if (twoDigits(s, 0) < 0 || twoDigits(s, 2) < 0) return false;
  const month = twoDigits(s, 5);
  const day = twoDigits(s, 8);
  const hour = twoDigits(s, 11);
  const minute = twoDigits(s, 14);
  const second = twoDigits(s, 17);
  if (month < 1 || month > 12 || day < 1 || day > 31 || hour < 0 || hour > 23) return false;
  if (minute < 0 || minute > 59 || second < 0 || second > 59) return false;
  if (n === 20) return true;
  // A fraction: a dot and at least one digit, up to the Z.
  if (s.charCodeAt(19) !== 46 || n === 21) return false;
  for (let i = 20; i < n - 1; i++) {
    const c = s.charCodeAt(i) - ZERO;
    if (c < 0 || c > 9) return false;
  }
  return true;
}

export function isRfc3339(value: string): boolean {
  return isCanonicalUtc(value) || (RFC3339.test(value) && !Number.isNaN(Date.parse(value)));
}

export function checkExtensionName(name: string): void {
  if (!EXTENSION_NAME.test(name))
    throw new EnvelopeError(name, 'extension names must be lower-case letters and digits only');
}

function requireNonEmpty(attribute: string, value: string | undefined): string {
  if (value === undefined || value.length === 0)
    throw new EnvelopeError(attribute, 'must be a non-empty string');
  return value;
}

export interface EnvelopeInput {
  type: string;
  dataschema: string;
  id?: string | undefined;
  source?: string | undefined;
  time?: string | undefined;
  partitionkey?: string | undefined;
  test?: boolean | undefined;
}

// A request's events share one `now`: format it once, not once per event.
let lastMs = Number.NaN;
let lastIso = '';

/** Fills in what the producer left out (id, time, source) and checks the attribute rules. */
export function buildEnvelope(input: EnvelopeInput, now: Date, defaultSource: string): EventEnvelope {
  if (now.getTime() !== lastMs) {
    lastMs = now.getTime();
    lastIso = now.toISOString();
  }
  const ingesttime = lastIso;
  const time = input.time ?? ingesttime;
  if (!isRfc3339(time))
    throw new EnvelopeError(
      'time',
      `must be an RFC 3339 timestamp such as 2026-11-25T12:00:00Z (got ${JSON.stringify(time)})`,
    );
  const env: EventEnvelope = {
    specversion: '1.0',
    id: requireNonEmpty('id', input.id ?? randomUUID()),
    source: requireNonEmpty('source', input.source ?? defaultSource),
    type: requireNonEmpty('type', input.type),
    time,
    datacontenttype: 'application/json',
    dataschema: requireNonEmpty('dataschema', input.dataschema),
    ingesttime,
    test: input.test ?? false,
  };
  if (input.partitionkey !== undefined && input.partitionkey !== '') env.partitionkey = input.partitionkey;
  return env;
}

/** The Kafka headers of an envelope (binary content mode). */
export function envelopeHeaders(env: EventEnvelope): Record<string, string> {
  const headers: Record<string, string> = {
    ce_specversion: env.specversion,
    ce_id: env.id,
    ce_source: env.source,
    ce_type: env.type,
    ce_time: env.time,
    'content-type': env.datacontenttype,
    ce_dataschema: env.dataschema,
    ce_ingesttime: env.ingesttime,
    ce_test: env.test ? 'true' : 'false',
  };
  if (env.partitionkey !== undefined) headers.ce_partitionkey = env.partitionkey;
  return headers;
}

export type KafkaHeaderValue = Buffer | string | (Buffer | string)[] | undefined;

function headerString(headers: Record<string, KafkaHeaderValue>, name: string): string | undefined {
  const v = headers[name];
  const first = Array.isArray(v) ? v[0] : v;
  return first === undefined ? undefined : Buffer.isBuffer(first) ? first.toString('utf8') : first;
}

// The headers an envelope is read from.
const ATTRIBUTE_HEADERS = [
  'ce_specversion',
  'ce_id',
  'ce_source',
  'ce_type',
  'ce_time',
  'content-type',
  'ce_dataschema',
  'ce_ingesttime',
  'ce_test',
  'ce_partitionkey',
] as const;
type AttributeHeader = (typeof ATTRIBUTE_HEADERS)[number];

function envelopeOf(get: (name: AttributeHeader) => string | undefined): EventEnvelope {
  const specversion = get('ce_specversion');
  if (specversion !== '1.0')
    throw new EnvelopeError('specversion', `must be "1.0" (got ${JSON.stringify(specversion)})`);
  const time = requireNonEmpty('time', get('ce_time'));
  if (!isRfc3339(time)) throw new EnvelopeError('time', `must be RFC 3339 (got ${JSON.stringify(time)})`);
  const ingesttime = requireNonEmpty('ingesttime', get('ce_ingesttime'));
  if (!isRfc3339(ingesttime))
    throw new EnvelopeError('ingesttime', `must be RFC 3339 (got ${JSON.stringify(ingesttime)})`);
  const test = get('ce_test') ?? 'false';
  if (test !== 'true' && test !== 'false')
    throw new EnvelopeError('test', `must be "true" or "false" (got ${JSON.stringify(test)})`);
  const env: EventEnvelope = {
    specversion: '1.0',
    id: requireNonEmpty('id', get('ce_id')),
    source: requireNonEmpty('source', get('ce_source')),
    type: requireNonEmpty('type', get('ce_type')),
    time,
    datacontenttype: get('content-type') ?? 'application/json',
    dataschema: requireNonEmpty('dataschema', get('ce_dataschema')),
    ingesttime,
    test: test === 'true',
  };
  const key = get('ce_partitionkey');
  if (key !== undefined && key !== '') env.partitionkey = key;
  return env;
}

/** Reads and checks the envelope from a record's headers; throws EnvelopeError naming the attribute. */
export function readEnvelope(headers: Record<string, KafkaHeaderValue>): EventEnvelope {
  return envelopeOf((n) => headerString(headers, n));
}

const HEADER_NAMES = ATTRIBUTE_HEADERS.map((n) => Buffer.from(n));
// Slots by name length, so a header name is compared with one or two candidates, not all ten.
const BY_LENGTH: number[][] = [];
HEADER_NAMES.forEach((n, i) => (BY_LENGTH[n.length] ??= []).push(i));
const SLOT = Object.fromEntries(ATTRIBUTE_HEADERS.map((n, i) => [n, i])) as Record<AttributeHeader, number>;
// Values unique to each event: never worth comparing with the previous record's.
const UNIQUE = ATTRIBUTE_HEADERS.map((n) => n === 'ce_id' || n === 'ce_time' || n === 'ce_partitionkey');
const EMPTY = Buffer.alloc(0);

/**
 * readEnvelope over a record's header bytes (RawRangeRecord), with the same result and errors as
 * readEnvelope(headerMap(headerPairs(record))), for a reader that goes through many records in a
 * row: only the envelope's headers are decoded, and a value with the bytes of the previous
 * record's (spec version, source, type, content type, schema, ingest time, test flag: the same for
 * a whole request or producer) reuses its string.
 */
export class RawEnvelopeReader {
  // Per attribute: where its value lies in `buf` (start -1: a null value; undefined: absent).
  private readonly starts: (number | undefined)[] = ATTRIBUTE_HEADERS.map(() => undefined);
  private readonly ends: number[] = ATTRIBUTE_HEADERS.map(() => 0);
  private buf: Buffer = EMPTY;
  private readonly lastBytes: (Buffer | undefined)[] = ATTRIBUTE_HEADERS.map(() => undefined);
  private readonly lastText: string[] = ATTRIBUTE_HEADERS.map(() => '');
  private readonly get = (name: AttributeHeader): string | undefined => this.text(SLOT[name]);
  private readonly cursor = new Cursor(EMPTY);

  read(record: RawRangeRecord): EventEnvelope {
    const { starts, ends, cursor: c } = this;
    starts.fill(undefined);
    const buf = record.headerBuf;
    this.buf = buf;
    c.reset(buf, record.headerStart);
    try {
      for (let h = 0; h < record.headerCount; h++) {
        const nameLength = c.varint();
        const nameStart = c.pos;
        if (nameLength > 0) c.pos += nameLength;
        const valueLength = c.varint();
        const valueStart = c.pos;
        if (valueLength > 0) c.pos += valueLength;
        if (c.pos > buf.length) throw new EnvelopeError('headers', "the record's headers run past its end");
        const candidates = nameLength > 0 ? BY_LENGTH[nameLength] : undefined;
        if (!candidates) continue;
        for (const i of candidates) {
          // A later header of the same name wins, as in headerMap.
          if (bytesEqualAt(buf, nameStart, nameStart + nameLength, HEADER_NAMES[i]!)) {
            starts[i] = valueLength < 0 ? -1 : valueStart;
            ends[i] = valueStart + Math.max(valueLength, 0);
            break;
          }
        }
      }
      return envelopeOf(this.get);
    } finally {
      // The batch the record is a view of must not stay alive through this reader.
      this.buf = EMPTY;
      c.reset(EMPTY, 0);
    }
  }

  private text(i: number): string | undefined {
    const start = this.starts[i];
    if (start === undefined) return undefined;
    if (start === -1) return '';
    const end = this.ends[i]!;
    const { buf } = this;
    if (UNIQUE[i]) return buf.toString('utf8', start, end);
    const last = this.lastBytes[i];
    if (last !== undefined && bytesEqualAt(buf, start, end, last)) return this.lastText[i];
    const text = buf.toString('utf8', start, end);
    // A copy: the bytes are a view of a whole fetched batch, which must not be kept alive.
    this.lastBytes[i] = Buffer.from(buf.subarray(start, end));
    this.lastText[i] = text;
    return text;
  }
}
