// The raw-event router's rule for one record of raw.<app>: which event type it is, whether it is
// valid, and the record that goes to events.<type> (or to a dead-letter topic, with the reason).
// Pure and deterministic (no clock, no randomness): routing the same raw record twice gives the
// same output record, so even a replayed range writes identical events.
//
// Which type (first match):
//   1. the item's "type" field, else its "event" field (a string naming a catalog type);
//   2. else the only type whose event.yaml lists the app in rawApps;
//   3. else unknown: sluice.dlq (UNKNOWN_EVENT_TYPE).
// A named type must list the app in rawApps (else its DLQ, FORBIDDEN): an app cannot write to
// any type it likes through the collector.
//
// Which payload:
//   - wrapped form {"type": "<t>", "data": {...}, "id"?, "time"?}: the payload is "data";
//     "id" and "time" become ce_id and ce_time;
//   - flat form (anything else): the item itself, without the routing field ("type"/"event")
//     unless the type's schema declares that property.
// The envelope keeps the collector's ce_id, ce_source, ce_test and ce_ingesttime (when Sluice
// accepted the event); ce_time is the wrapped "time", else the collector's ce_time.
import { buildEnvelope, EnvelopeError, envelopeHeaders } from '../lib/envelope.js';
import type { ErrorCode } from '../lib/errors.js';
import type { RangeRecord } from '../lib/kafka.js';
import type { Catalog, EventType } from '../schemas/catalog.js';
import { valueAtPointer } from '../schemas/json-schema.js';
import type { EventValidator, FieldError } from '../schemas/validator.js';

export const UNKNOWN_TYPE_DLQ = 'sluice.dlq';

export interface RoutedRecord {
  ok: true;
  type: EventType;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
}

export interface RejectedRawRecord {
  ok: false;
  /** events.<type>.dlq, or sluice.dlq when the type is unknown. */
  topic: string;
  typeName?: string;
  errorCode: ErrorCode;
  message: string;
  errors?: FieldError[];
}

export type RouteDecision = RoutedRecord | RejectedRawRecord;

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** Types that take raw events of `app`, by name. */
export function typesOfApp(catalog: Catalog, app: string): EventType[] {
  return [...catalog.types.values()].filter((t) => t.settings.rawApps.includes(app));
}

function declares(type: EventType, property: string): boolean {
  return property in (type.latest.schema.properties ?? {});
}

export function routeRawRecord(
  catalog: Catalog,
  validator: EventValidator,
  app: string,
  record: RangeRecord,
  position: { partition: number },
): RouteDecision {
  const h = record.headers;
  const reject = (
    type: EventType | undefined,
    errorCode: ErrorCode,
    message: string,
    typeName?: string,
    errors?: FieldError[],
  ): RejectedRawRecord => ({
    ok: false,
    topic: type ? type.dlqTopic : UNKNOWN_TYPE_DLQ,
    ...(typeName ? { typeName } : {}),
    errorCode,
    message,
    ...(errors?.length ? { errors } : {}),
  });

  let item: unknown;
  try {
    item = JSON.parse(record.value?.toString('utf8') ?? '');
  } catch (err) {
    return reject(undefined, 'MALFORMED_BODY', `the raw record is not JSON: ${(err as Error).message}`);
  }
  if (!isObject(item)) return reject(undefined, 'MALFORMED_BODY', 'the raw record is not a JSON object');

  const field = typeof item.type === 'string' ? 'type' : typeof item.event === 'string' ? 'event' : undefined;
  const candidates = typesOfApp(catalog, app);
  let typeName: string;
  if (field) typeName = item[field] as string;
  else if (candidates.length === 1) typeName = candidates[0]!.name;
  else
    return reject(
      undefined,
      'UNKNOWN_EVENT_TYPE',
      `the raw record names no type ("type" or "event" field) and app "${app}" routes to ${candidates.length} types`,
    );
  const type = catalog.types.get(typeName);
  if (!type)
    return reject(
      undefined,
      'UNKNOWN_EVENT_TYPE',
      `unknown event type "${typeName}"`,
      typeName.slice(0, 256),
    );
  if (!type.settings.rawApps.includes(app))
    return reject(
      type,
      'FORBIDDEN',
      `event type "${type.name}" does not take raw events from app "${app}"`,
      type.name,
    );

  const wrapped = field !== undefined && isObject(item.data) && !declares(type, 'data');
  let payload: Record<string, unknown>;
  let id: string | undefined;
  let time: string | undefined;
  if (wrapped) {
    payload = item.data as Record<string, unknown>;
    if (item.id !== undefined && (typeof item.id !== 'string' || item.id === ''))
      return reject(type, 'INVALID_EVENT', '"id" must be a non-empty string', type.name);
    if (item.time !== undefined && typeof item.time !== 'string')
      return reject(type, 'INVALID_EVENT', '"time" must be an RFC 3339 string', type.name);
    id = item.id;
    time = item.time;
  } else {
    payload = { ...item };
    if (field && !declares(type, field)) delete payload[field];
  }

  const result = validator.validate(type.name, payload);
  if (!result.ok) return reject(type, result.errorCode, result.message, type.name, result.errors);

  const pointer = type.settings.partitionKey;
  const keyNode = pointer ? valueAtPointer(payload, pointer) : undefined;
  const key = typeof keyNode === 'string' || typeof keyNode === 'number' ? String(keyNode) : undefined;
  // The collector's envelope; records produced to raw.<app> by other means may lack it, and then
  // get an id from their position (stable, so a re-route gives the same id).
  const recordTime = new Date(Number(record.timestamp)).toISOString();
  const ingest = h.ce_ingesttime && !Number.isNaN(Date.parse(h.ce_ingesttime)) ? h.ce_ingesttime : recordTime;
  try {
    const env = buildEnvelope(
      {
        type: type.name,
        dataschema: result.version.id,
        id: id ?? (h.ce_id || `raw.${app}/${position.partition}/${record.offset}`),
        source: h.ce_source || `/collect/${app}`,
        time: time ?? (h.ce_time || recordTime),
        partitionkey: key,
        test: h.ce_test === 'true',
      },
      new Date(ingest),
      `/collect/${app}`,
    );
    // buildEnvelope formats `now`; keep the collector's own text (it may carry another precision).
    env.ingesttime = ingest;
    return {
      ok: true,
      type,
      key: key === undefined ? null : Buffer.from(key),
      value: Buffer.from(JSON.stringify(payload)),
      headers: envelopeHeaders(env),
    };
  } catch (err) {
    if (!(err instanceof EnvelopeError)) throw err;
    return reject(type, 'INVALID_EVENT', err.message, type.name);
  }
}
