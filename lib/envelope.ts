// The Sluice envelope: CloudEvents 1.0, Kafka protocol binding, binary mode. The Kafka value is the
// JSON payload; every context attribute is a `ce_` header, so any CloudEvents SDK can read our
// records as they are, and consumers that ignore headers still see plain JSON.
import { randomUUID } from 'node:crypto';

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

export function isRfc3339(value: string): boolean {
  return RFC3339.test(value) && !Number.isNaN(Date.parse(value));
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

/** Reads and checks the envelope from a record's headers; throws EnvelopeError naming the attribute. */
export function readEnvelope(headers: Record<string, KafkaHeaderValue>): EventEnvelope {
  const get = (n: string): string | undefined => headerString(headers, n);
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
