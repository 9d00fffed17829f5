// Turns parsed request items into what goes to Kafka: a validated event with its CloudEvents
// envelope for each of its clusters, or a rejection with its reasons and the dead-letter record
// that keeps it. Pure: no I/O, so the rules are easy to test.
import { buildEnvelope, checkExtensionName, EnvelopeError, envelopeHeaders } from '../lib/envelope.js';
import type { ErrorCode } from '../lib/errors.js';
import type { Catalog, EventType } from '../schemas/catalog.js';
import { valueAtPointer } from '../schemas/json-schema.js';
import type { FieldError, EventValidator } from '../schemas/validator.js';
import type { ProduceRecord } from './accumulator.js';
import type { BodyFormat, ParsedItem } from './parse-body.js';

/** A record and the Kafka cluster it goes to. `partition` and `timestamp` are only set by the
 * Confluent REST endpoints, which are synchronous: the spool does not keep them. */
export interface OutRecord extends ProduceRecord {
  cluster: string;
}

export interface AcceptedEvent {
  ok: true;
  index: number;
  id: string;
  type: string;
  test: boolean;
  records: OutRecord[];
}

export interface RejectedEvent {
  ok: false;
  index: number;
  id?: string;
  type?: string;
  errorCode: ErrorCode;
  message: string;
  errors?: FieldError[];
  /** Where the event is kept with its reasons; absent when it must not reach Kafka at all (auth). */
  dlq?: OutRecord;
}

export type PreparedEvent = AcceptedEvent | RejectedEvent;

export interface PrepareContext {
  now: Date;
  /** X-Sluice-Test: true marks every event of the request as test traffic. */
  test: boolean;
  defaultSource: string;
  maxEventBytes: number;
  mayUse: (type: string) => boolean;
}

export interface PrepareDeps {
  catalog: Catalog;
  validator: EventValidator;
  /** Encodes an accepted payload's JSON; the prepare threads write into one transferable buffer. */
  encodeValue?: (json: string) => Buffer;
}

const encodeUtf8 = (json: string): Buffer => Buffer.from(json);

interface Candidate {
  type: string;
  data: unknown;
  id?: string | undefined;
  source?: string | undefined;
  time?: string | undefined;
  key?: string | undefined;
  schemaVersion?: number | undefined;
  test?: boolean | undefined;
  extensions: Record<string, string>;
}

class Invalid extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

const NATIVE_FIELDS = new Set(['type', 'id', 'source', 'time', 'key', 'data', 'schemaVersion', 'test']);
const CE_CORE = new Set([
  'specversion',
  'id',
  'source',
  'type',
  'time',
  'datacontenttype',
  'dataschema',
  'data',
  'subject',
]);
const RESERVED_EXTENSIONS = new Set(['ingesttime', 'test', 'partitionkey', 'data_base64']);

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

// Envelope attributes become ce_ headers, which CloudEvents HTTP binary mode turns into HTTP
// headers downstream: CR/LF (header injection), NUL and other control characters are refused.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

function noControl(field: string, v: string): string {
  if (CONTROL.test(v))
    throw new Invalid(
      'INVALID_EVENT',
      `"${field}" contains a control character (CR, LF, NUL, …); envelope attributes become headers`,
    );
  return v;
}

function optString(o: Record<string, unknown>, field: string): string | undefined {
  const v = o[field];
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string' || v === '')
    throw new Invalid('INVALID_EVENT', `"${field}" must be a non-empty string`);
  return noControl(field, v);
}

function fromNative(o: Record<string, unknown>): Candidate {
  const unknown = Object.keys(o).filter((k) => !NATIVE_FIELDS.has(k));
  if (unknown.length) {
    throw new Invalid(
      'INVALID_EVENT',
      `unknown field(s) ${unknown.map((k) => `"${k}"`).join(', ')}; an event has type, data and optionally id, source, time, key, schemaVersion, test`,
    );
  }
  const type = optString(o, 'type');
  if (!type) throw new Invalid('INVALID_EVENT', '"type" is required: the event type, e.g. "order_created"');
  if (!('data' in o)) throw new Invalid('INVALID_EVENT', '"data" is required: the event payload');
  const sv = o.schemaVersion;
  if (sv !== undefined && !(typeof sv === 'number' && Number.isInteger(sv) && sv > 0)) {
    throw new Invalid('INVALID_EVENT', '"schemaVersion" must be a positive integer');
  }
  if (o.test !== undefined && typeof o.test !== 'boolean')
    throw new Invalid('INVALID_EVENT', '"test" must be true or false');
  const key = o.key;
  if (key !== undefined && key !== null && typeof key !== 'string')
    throw new Invalid('INVALID_EVENT', '"key" must be a string');
  return {
    type,
    data: o.data,
    id: optString(o, 'id'),
    source: optString(o, 'source'),
    time: optString(o, 'time'),
    key: typeof key === 'string' && key !== '' ? key : undefined,
    schemaVersion: sv,
    test: o.test,
    extensions: {},
  };
}

function fromCloudEvent(o: Record<string, unknown>): Candidate {
  if (o.specversion !== '1.0') throw new Invalid('INVALID_EVENT', '"specversion" must be "1.0"');
  const id = optString(o, 'id');
  const source = optString(o, 'source');
  const type = optString(o, 'type');
  if (!id || !source || !type)
    throw new Invalid('INVALID_EVENT', 'a CloudEvent needs "id", "source" and "type"');
  const ct = o.datacontenttype;
  if (ct !== undefined && !(typeof ct === 'string' && /^application\/(.+\+)?json\b/.test(ct))) {
    throw new Invalid('INVALID_EVENT', `"datacontenttype" must be JSON (got ${JSON.stringify(ct)})`);
  }
  if ('data_base64' in o)
    throw new Invalid('INVALID_EVENT', 'binary data (data_base64) is not accepted: send JSON "data"');
  let schemaVersion: number | undefined;
  if (typeof o.dataschema === 'string') {
    const m = /^urn:sluice:schema:([a-z0-9_]+):v([1-9]\d*)$/.exec(o.dataschema);
    if (!m || m[1] !== type)
      throw new Invalid(
        'INVALID_EVENT',
        `"dataschema" must be urn:sluice:schema:${type}:v<N> (got "${o.dataschema}")`,
      );
    schemaVersion = Number(m[2]);
  }
  const extensions: Record<string, string> = {};
  for (const [k, v] of Object.entries(o)) {
    if (CE_CORE.has(k) || RESERVED_EXTENSIONS.has(k)) continue;
    try {
      checkExtensionName(k);
    } catch (err) {
      throw new Invalid('INVALID_EVENT', (err as Error).message);
    }
    if (typeof v !== 'string' && typeof v !== 'number' && typeof v !== 'boolean') {
      throw new Invalid('INVALID_EVENT', `extension "${k}" must be a string, number or boolean`);
    }
    extensions[`ce_${k}`] = noControl(k, String(v));
  }
  const test = o.test;
  if (test !== undefined && test !== true && test !== false && test !== 'true' && test !== 'false') {
    throw new Invalid('INVALID_EVENT', '"test" must be true or false');
  }
  const key = o.partitionkey;
  return {
    type,
    data: o.data,
    id,
    source,
    time: optString(o, 'time'),
    key: typeof key === 'string' && key !== '' ? key : undefined,
    schemaVersion,
    test: test === undefined ? undefined : test === true || test === 'true',
    extensions,
  };
}

function keyFromPointer(type: EventType, data: unknown): string | undefined {
  const pointer = type.settings.partitionKey;
  if (!pointer) return undefined;
  const node = valueAtPointer(data, pointer);
  return typeof node === 'string' || typeof node === 'number' ? String(node) : undefined;
}

function dlqRecord(
  catalog: Catalog,
  raw: unknown,
  typeName: string | undefined,
  errorCode: ErrorCode,
  message: string,
  errors: FieldError[] | undefined,
  now: Date,
): OutRecord {
  const type = typeName ? catalog.types.get(typeName) : undefined;
  const headers: Record<string, string> = {
    sluice_error_code: errorCode,
    sluice_error_message: message.slice(0, 4000),
    sluice_rejected_at: now.toISOString(),
  };
  if (errors?.length) headers.sluice_errors = JSON.stringify(errors).slice(0, 16_000);
  if (typeName) headers.sluice_event_type = typeName.slice(0, 256);
  return {
    cluster: type?.settings.clusters[0] ?? 'default',
    topic: type ? type.dlqTopic : 'sluice.dlq',
    key: null,
    value: Buffer.from(typeof raw === 'string' ? raw : (JSON.stringify(raw) ?? 'null')),
    headers,
  };
}

export function prepareEvents(
  items: ParsedItem[],
  format: BodyFormat,
  ctx: PrepareContext,
  deps: PrepareDeps,
): PreparedEvent[] {
  const cloudEvents = format === 'cloudevent' || format === 'cloudevents-batch';
  return items.map((item, index): PreparedEvent => {
    if (!item.ok) {
      return {
        ok: false,
        index,
        errorCode: 'MALFORMED_BODY',
        message: item.message,
        // The line as it was sent, so nothing of it is lost.
        dlq: dlqRecord(deps.catalog, item.raw, undefined, 'MALFORMED_BODY', item.message, undefined, ctx.now),
      };
    }
    const raw = item.value;
    let c: Candidate;
    try {
      if (!isObject(raw)) throw new Invalid('INVALID_EVENT', 'an event must be a JSON object');
      c = cloudEvents ? fromCloudEvent(raw) : fromNative(raw);
    } catch (err) {
      if (!(err instanceof Invalid)) throw err;
      const t = isObject(raw) && typeof raw.type === 'string' ? raw.type : undefined;
      return {
        ok: false,
        index,
        ...(t ? { type: t } : {}),
        errorCode: err.code,
        message: err.message,
        dlq: dlqRecord(deps.catalog, raw, t, err.code, err.message, undefined, ctx.now),
      };
    }
    const base = { index, type: c.type, ...(c.id ? { id: c.id } : {}) };
    if (!ctx.mayUse(c.type)) {
      // Not kept in the DLQ: a key without rights must not be able to write to Kafka at all.
      return {
        ok: false,
        ...base,
        errorCode: 'FORBIDDEN',
        message: `this API key may not send events of type "${c.type}"`,
      };
    }
    const result = deps.validator.validate(c.type, c.data, c.schemaVersion);
    if (!result.ok) {
      return {
        ok: false,
        ...base,
        errorCode: result.errorCode,
        message: result.message,
        errors: result.errors,
        dlq: dlqRecord(deps.catalog, raw, c.type, result.errorCode, result.message, result.errors, ctx.now),
      };
    }
    const value = (deps.encodeValue ?? encodeUtf8)(JSON.stringify(c.data));
    if (value.length > ctx.maxEventBytes) {
      const message = `the payload is ${value.length} bytes; the limit is ${ctx.maxEventBytes}`;
      return {
        ok: false,
        ...base,
        errorCode: 'EVENT_TOO_LARGE',
        message,
        dlq: dlqRecord(
          deps.catalog,
          { type: c.type, id: c.id, truncated: true },
          c.type,
          'EVENT_TOO_LARGE',
          message,
          undefined,
          ctx.now,
        ),
      };
    }
    const key = c.key ?? keyFromPointer(result.type, c.data);
    let headers: Record<string, string>;
    let id: string;
    try {
      const env = buildEnvelope(
        {
          type: c.type,
          dataschema: result.version.id,
          id: c.id,
          source: c.source,
          time: c.time,
          partitionkey: key,
          test: ctx.test || c.test === true,
        },
        ctx.now,
        ctx.defaultSource,
      );
      id = env.id;
      headers = { ...c.extensions, ...envelopeHeaders(env) };
    } catch (err) {
      if (!(err instanceof EnvelopeError)) throw err;
      return {
        ok: false,
        ...base,
        errorCode: 'INVALID_EVENT',
        message: err.message,
        dlq: dlqRecord(deps.catalog, raw, c.type, 'INVALID_EVENT', err.message, undefined, ctx.now),
      };
    }
    const keyBuf = key === undefined ? null : Buffer.from(key);
    return {
      ok: true,
      index,
      id,
      type: c.type,
      test: headers.ce_test === 'true',
      records: result.type.settings.clusters.map((cluster) => ({
        cluster,
        topic: result.type.topic,
        key: keyBuf,
        value,
        headers,
      })),
    };
  });
}
