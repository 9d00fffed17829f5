// Parquet rows of the archive (as DuckDB's getRowObjectsJson gives them) back to the JSON payload
// and envelope they were made from, following the same schema → column rules as schemas/mapping.ts.
// Pure. What a row cannot give back: extra fields of an open content model (never stored), the
// difference between an absent property and a JSON null (NULL becomes null for a required
// property and is left out otherwise), the original text of timestamps (they come back as the
// same instant in UTC, `…Z`), and a Kafka key the producer set by hand (the key is derived again
// from the type's partitionKey).
import type { EventEnvelope } from '../../lib/envelope.js';
import { schemaId, type EventType } from '../../schemas/catalog.js';
import { typesOf, valueAtPointer, type JsonSchema } from '../../schemas/json-schema.js';

/** DuckDB's TIMESTAMPTZ text (`2026-11-25 12:00:00.123456+00`) → RFC 3339 UTC. */
export function duckTimestampToRfc3339(v: string): string {
  const m = /^(-?\d{4,}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(?:\+00(?::?00)?|Z)?$/.exec(v);
  if (!m) throw new Error(`unexpected timestamp text from DuckDB: ${v}`);
  return `${m[1]}T${m[2]}Z`;
}

type Kind = 'json' | 'timestamp' | 'integer' | 'number' | 'plain' | 'object' | 'array';

function kindOf(schema: JsonSchema): Kind {
  const distinct = new Set(typesOf(schema).types);
  if (distinct.has('number')) distinct.delete('integer');
  if (distinct.size !== 1) return 'json';
  const [only] = distinct;
  switch (only) {
    case 'string':
      return schema.format === 'date-time' ? 'timestamp' : 'plain';
    case 'integer':
      return 'integer';
    case 'number':
      return 'number';
    case 'boolean':
      return 'plain';
    case 'object':
      return Object.keys(schema.properties ?? {}).length > 0 ? 'object' : 'json';
    case 'array':
      return 'array';
    default:
      return 'json';
  }
}

const text = (v: unknown): string => (typeof v === 'string' ? v : JSON.stringify(v));

function valueOf(schema: JsonSchema, v: unknown): unknown {
  if (v === null || v === undefined) return null;
  switch (kindOf(schema)) {
    case 'json':
      return JSON.parse(text(v)) as unknown;
    case 'timestamp':
      return duckTimestampToRfc3339(text(v));
    case 'integer':
    case 'number':
      return Number(v);
    case 'object':
      return objectOf(schema, v as Record<string, unknown>);
    case 'array':
      return (v as unknown[]).map((x) => valueOf(schema.items ?? {}, x));
    default:
      return v;
  }
}

function objectOf(schema: JsonSchema, row: Record<string, unknown>): Record<string, unknown> {
  const required = new Set(schema.required ?? []);
  const out: Record<string, unknown> = {};
  for (const [name, sub] of Object.entries(schema.properties ?? {})) {
    const v = valueOf(sub, row[name]);
    if (v === null && !required.has(name)) continue;
    out[name] = v;
  }
  return out;
}

export interface ArchivedEvent {
  payload: Record<string, unknown>;
  envelope: EventEnvelope;
  partition: number;
  offset: bigint;
  eventTimeMs: number;
}

/** One archive row of `type` (any schema version the catalog has) → payload and envelope. */
export function archivedEvent(type: EventType, row: Record<string, unknown>): ArchivedEvent {
  const version = Number(row._schema_version);
  const sv = type.versions[version - 1];
  if (!sv) throw new Error(`${type.name} has no schema version ${version} in this worker's catalog`);
  const payload = objectOf(sv.schema, row);
  const time = duckTimestampToRfc3339(String(row._event_time));
  const pointer = type.settings.partitionKey;
  const key = pointer ? valueAtPointer(payload, pointer) : undefined;
  const envelope: EventEnvelope = {
    specversion: '1.0',
    id: String(row._event_id),
    source: String(row._source),
    type: type.name,
    time,
    datacontenttype: 'application/json',
    dataschema: schemaId(type.name, version),
    ingesttime: duckTimestampToRfc3339(String(row._ingest_time)),
    test: row._test === true,
  };
  if (pointer && (typeof key === 'string' || typeof key === 'number')) envelope.partitionkey = String(key);
  return {
    payload,
    envelope,
    partition: Number(row._kafka_partition),
    offset: BigInt(String(row._kafka_offset)),
    eventTimeMs: Date.parse(time),
  };
}
