// Confluent REST Proxy compatibility, so existing REST Proxy clients can point at Sluice unchanged:
// v2 produce (json and binary embedded formats) and topic metadata, v3 cluster list and record
// produce (one record, or a stream of concatenated JSON records). Records are validated and
// enveloped exactly as POST /v1/events does it, and invalid ones are kept in the type's DLQ.
//
// Deliberate differences from Confluent (docs: openapi.json):
// - Only catalog topics (events.<type>) exist here: Sluice writes every record through the catalog,
//   so any other topic (DLQs, raw.<app>, topics of other services) is 404 / 40401 "Topic not found."
//   raw.<app> is refused too: the raw collector is POST /v1/collect/<app>, which keeps its envelope.
// - No Schema Registry: avro/protobuf/jsonschema content types are 415; v3 schema fields are 400.
// - Records without a key get the type's catalog key (partitionKey), as on /v1/events.
// - The value written is the payload re-serialized as compact JSON (binary/string values must be JSON).
// - A Kafka failure fails the whole v2 request with 503 (nothing is guaranteed, retry), not per record.
import { once } from 'node:events';
import type { Readable } from 'node:stream';
import { createGunzip, createInflate } from 'node:zlib';
import { ConfigResourceTypes } from '@platformatic/kafka';
import { Router, type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import type { Config } from '../lib/config.js';
import type { ErrorCode } from '../lib/errors.js';
import { createAdmin } from '../lib/kafka.js';
import type { EventType } from '../schemas/catalog.js';
import type { Caller } from './auth.js';
import type { ProxyContext } from './context.js';
import { HttpError, inflateError } from './http-error.js';
import { decodeUtf8, depthProblem, parseJson } from './parse-body.js';
import { prepareEvents, type OutRecord } from './prepare.js';
import { isTestRequest } from './routes-events.js';

const V2_JSON = 'application/vnd.kafka.json.v2+json';
const V2_BINARY = 'application/vnd.kafka.binary.v2+json';
const V2_RESPONSE = 'application/vnd.kafka.v2+json';
const SCHEMA_FORMATS = ['avro', 'protobuf', 'jsonschema'].map((f) => `application/vnd.kafka.${f}.v2+json`);
/** Answers a v3 stream may owe before we stop reading more records (backpressure). */
const MAX_PENDING_ANSWERS = 1000;

/** An error answered with Confluent's own status and code (those app.ts does not derive). */
class ConfluentError extends Error {
  constructor(
    readonly status: number,
    readonly errorCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** A record as the client sent it, decoded; `value` is the payload to validate. */
interface InRecord {
  /** The Kafka key bytes exactly as the client meant them; null for none. */
  key: Buffer | null;
  value: unknown;
  partition?: number;
  timestamp?: bigint;
  /** Extra Kafka headers (v3); the envelope's own headers always win. */
  headers: Record<string, string>;
  /** CloudEvents attributes the client set as ce_ headers (v3). */
  ce: { id?: string; source?: string; time?: string; test?: boolean };
}

type Outcome =
  | { ok: true; partition: number; offset: number; timestamp: number; keySize: number; valueSize: number }
  | { ok: false; reason: 'partition' | 'invalid'; errorCode: ErrorCode; message: string };

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

const mimeOf = (req: Request): string => (req.get('content-type') ?? '').split(';')[0]!.trim().toLowerCase();

// ---------------------------------------------------------------------------------------------
// Topics and clusters

function typeOfTopic(ctx: ProxyContext, topic: string): EventType | undefined {
  for (const t of ctx.catalog.types.values()) if (t.topic === topic) return t;
  return undefined;
}

function topicNotFound(ctx: ProxyContext, topic: string): HttpError {
  const app = topic.startsWith('raw.') ? topic.slice(4) : undefined;
  const hint =
    app !== undefined && ctx.rawApps.has(app)
      ? `raw.${app} is written by the raw collector: POST /v1/collect/${app}`
      : 'Sluice only writes the topics of catalog event types (events.<type>); see GET /topics';
  return new HttpError('NOT_FOUND', `Topic not found. ${hint}`);
}

/** The event type behind a topic the caller may write (or describe). */
function allowedType(ctx: ProxyContext, caller: Caller, topic: string): EventType {
  const type = typeOfTopic(ctx, topic);
  if (!type) throw topicNotFound(ctx, topic);
  if (!caller.mayUseType(type.name)) {
    // 40301: Confluent's code for an authorization failure.
    throw new ConfluentError(
      403,
      40301,
      `API key "${caller.keyId}" may not use topic ${topic} (event type ${type.name})`,
    );
  }
  return type;
}

function clusterConfig(config: Config, cluster: string): Config {
  return { ...config, kafka: { ...config.kafka, brokers: config.kafka.clusters[cluster]!.brokers } };
}

/** Metadata and admin calls: their failure is Kafka's, so 503 and retry, not a 500. */
async function fromKafka<T>(what: string, call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (err instanceof HttpError || err instanceof ConfluentError) throw err;
    const reason = err instanceof Error ? err.message : String(err);
    throw new HttpError('KAFKA_UNAVAILABLE', `${what} failed: ${reason}; retry`, undefined, 5);
  }
}

interface KafkaCluster {
  id: string;
  controllerId: number;
  /** The names in kafka.clusters that point at this cluster. */
  names: string[];
}

/** The Kafka clusters Sluice writes to, once each, by their Kafka cluster id. */
async function kafkaClusters(ctx: ProxyContext): Promise<KafkaCluster[]> {
  const out: KafkaCluster[] = [];
  for (const [name, c] of ctx.clusters) {
    const meta = await fromKafka('Kafka metadata', () => c.producer.metadata({ topics: [] }));
    const known = out.find((k) => k.id === meta.id);
    if (known) known.names.push(name);
    else out.push({ id: meta.id, controllerId: meta.controllerId, names: [name] });
  }
  return out;
}

async function clusterById(ctx: ProxyContext, id: string): Promise<KafkaCluster> {
  const cluster = (await kafkaClusters(ctx)).find((k) => k.id === id);
  if (!cluster) throw new ConfluentError(404, 404, `Cluster ${id} cannot be found.`);
  return cluster;
}

/** Partition counts per cluster, refreshed once when a record names a partition we do not know. */
async function partitionCount(ctx: ProxyContext, cluster: string, topic: string, needed: number) {
  const producer = ctx.clusters.get(cluster)!.producer;
  const count = async (forceUpdate: boolean): Promise<number> =>
    (await producer.metadata({ topics: [topic], forceUpdate })).topics.get(topic)?.partitionsCount ?? 0;
  const cached = await fromKafka('Kafka metadata', () => count(false));
  return cached > needed ? cached : fromKafka('Kafka metadata', () => count(true));
}

// ---------------------------------------------------------------------------------------------
// Decoding keys and values

const BASE64 = /^(?:[A-Za-z0-9+/_-]{4})*(?:[A-Za-z0-9+/_-]{2}(?:==)?|[A-Za-z0-9+/_-]{3}=?)?$/;

function base64(value: unknown, what: string, fail: (m: string) => Error): Buffer {
  if (typeof value !== 'string' || !BASE64.test(value)) throw fail(`${what} must be a base64 string`);
  return Buffer.from(value, 'base64');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function textOf(bytes: Buffer): string | undefined {
  try {
    return utf8.decode(bytes);
  } catch {
    return undefined;
  }
}

/** The payload in value bytes: their JSON, or (to be rejected by the schema) their text. */
function payloadOf(bytes: Buffer): unknown {
  const text = textOf(bytes);
  if (text === undefined) return bytes.toString('base64');
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

function partitionOf(value: unknown, what: string, fail: (m: string) => Error): number | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0)
    throw fail(`${what} must be a non-negative integer`);
  return value;
}

// ---------------------------------------------------------------------------------------------
// Validating, enveloping and producing (shared by v2 and v3)

function nativeEvent(type: EventType, r: InRecord): Record<string, unknown> {
  const keyText = r.key ? textOf(r.key) : undefined;
  return {
    type: type.name,
    data: r.value ?? null,
    ...(keyText ? { key: keyText } : {}),
    ...(r.ce.id !== undefined ? { id: r.ce.id } : {}),
    ...(r.ce.source !== undefined ? { source: r.ce.source } : {}),
    ...(r.ce.time !== undefined ? { time: r.ce.time } : {}),
    ...(r.ce.test !== undefined ? { test: r.ce.test } : {}),
  };
}

/** Applies what the client chose (exact key bytes, partition, time, extra headers) to a record. */
function finishRecord(rec: OutRecord, r: InRecord, timestamp: bigint): OutRecord {
  const headers = { ...r.headers, ...rec.headers };
  // A binary key cannot be the (string) partitionkey attribute: drop the catalog key's.
  if (r.key && textOf(r.key) === undefined) delete headers.ce_partitionkey;
  return {
    ...rec,
    key: r.key ?? rec.key,
    headers,
    timestamp,
    ...(r.partition !== undefined ? { partition: r.partition } : {}),
  };
}

async function badPartitions(
  ctx: ProxyContext,
  clusters: string[],
  topic: string,
  records: InRecord[],
): Promise<boolean[]> {
  const highest = records.reduce((n, r) => Math.max(n, r.partition ?? -1), -1);
  if (highest < 0) return records.map(() => false);
  const counts = await Promise.all(clusters.map((c) => partitionCount(ctx, c, topic, highest)));
  const limit = Math.min(...counts);
  return records.map((r) => r.partition !== undefined && r.partition >= limit);
}

interface ProduceOptions {
  caller: Caller;
  test: boolean;
  /** Only this configured cluster (v3 names one); default: every cluster of the type. */
  cluster?: string;
}

async function produceRecords(
  ctx: ProxyContext,
  type: EventType,
  records: InRecord[],
  opts: ProduceOptions,
): Promise<Outcome[]> {
  const now = new Date();
  const clusters = opts.cluster ? [opts.cluster] : type.settings.clusters;
  const bad = await badPartitions(ctx, clusters, type.topic, records);
  const prepared = prepareEvents(
    records.map((r) => ({ ok: true, value: nativeEvent(type, r) })),
    'json',
    {
      now,
      test: opts.test,
      defaultSource: ctx.config.proxy.defaultSource,
      maxEventBytes: ctx.config.proxy.maxEventBytes,
      mayUse: opts.caller.mayUseType,
    },
    ctx,
  );
  const out: OutRecord[] = [];
  /** Record index → where its first Kafka record is in `out` (its offset is the one reported). */
  const first = new Map<number, number>();
  const outcomes: Outcome[] = prepared.map((e, i): Outcome => {
    const r = records[i]!;
    if (bad[i]) {
      return { ok: false, reason: 'partition', errorCode: 'NOT_FOUND', message: 'Partition not found.' };
    }
    if (!e.ok) {
      if (e.dlq) out.push(e.dlq);
      return { ok: false, reason: 'invalid', errorCode: e.errorCode, message: e.message };
    }
    const timestamp = r.timestamp ?? BigInt(now.getTime());
    const recs = e.records
      .filter((x) => clusters.includes(x.cluster))
      .map((x) => finishRecord(x, r, timestamp));
    first.set(i, out.length);
    out.push(...recs);
    return { ok: true, partition: -1, offset: -1, timestamp: Number(timestamp), keySize: 0, valueSize: 0 };
  });
  const deliveries = out.length ? await ctx.produce(out) : [];
  for (const [i, at] of first) {
    const rec = out[at]!;
    const d = deliveries[at]!;
    outcomes[i] = {
      ok: true,
      partition: d.partition,
      // acks=0: the broker does not say; the Java client reports -1 too.
      offset: d.offset === undefined ? -1 : Number(d.offset),
      timestamp: Number(rec.timestamp),
      keySize: rec.key?.length ?? 0,
      valueSize: rec.value.length,
    };
  }
  countEvents(ctx, type, outcomes);
  return outcomes;
}

function countEvents(ctx: ProxyContext, type: EventType, outcomes: Outcome[]): void {
  for (const o of outcomes) {
    ctx.metrics.events.inc({
      type: type.name,
      outcome: o.ok ? 'accepted' : 'rejected',
      reason: o.ok ? '' : o.errorCode,
    });
  }
}

// ---------------------------------------------------------------------------------------------
// v2: POST /topics/{topic}, POST /topics/{topic}/partitions/{partition}, GET /topics[/{topic}]

type V2Format = 'json' | 'binary';

function v2Format(req: Request): V2Format {
  const mime = mimeOf(req);
  if (mime === V2_JSON) return 'json';
  if (mime === V2_BINARY) return 'binary';
  const why = SCHEMA_FORMATS.includes(mime)
    ? 'Sluice has no Schema Registry: send the json or binary embedded format'
    : `send ${V2_JSON} or ${V2_BINARY}`;
  throw new HttpError(
    'UNSUPPORTED_CONTENT_TYPE',
    `Content-Type "${mime || '(none)'}" is not accepted: ${why}`,
  );
}

/** Confluent answers v2 in its own media type unless the client only accepts plain JSON. */
function v2ResponseType(req: Request): string {
  return req.accepts([V2_RESPONSE, 'application/vnd.kafka+json', 'application/json']) === 'application/json'
    ? 'application/json'
    : V2_RESPONSE;
}

const unprocessable = (message: string): Error => new ConfluentError(422, 422, message);

function v2Record(raw: unknown, i: number, format: V2Format, partition?: number): InRecord {
  if (!isObject(raw)) throw unprocessable(`records[${i}] must be a JSON object`);
  const p = partition ?? partitionOf(raw.partition, `records[${i}].partition`, unprocessable);
  let key: Buffer | null = null;
  let value: unknown = raw.value;
  if (format === 'json') {
    if (raw.key !== undefined && raw.key !== null) key = Buffer.from(JSON.stringify(raw.key));
  } else {
    if (raw.key !== undefined && raw.key !== null) key = base64(raw.key, `records[${i}].key`, unprocessable);
    value =
      raw.value === undefined || raw.value === null
        ? null
        : payloadOf(base64(raw.value, `records[${i}].value`, unprocessable));
  }
  return {
    key: key?.length ? key : null,
    value,
    ...(p !== undefined ? { partition: p } : {}),
    headers: {},
    ce: {},
  };
}

function v2Records(body: unknown, format: V2Format, partition?: number): InRecord[] {
  const text = decodeUtf8(Buffer.isBuffer(body) ? body : Buffer.alloc(0));
  const parsed = parseJson(text, 'the body');
  if (!isObject(parsed) || !Array.isArray(parsed.records) || parsed.records.length === 0)
    throw unprocessable('records may not be empty: send {"records": [{"value": ...}]}');
  return parsed.records.map((r: unknown, i) => v2Record(r, i, format, partition));
}

function v2Offset(o: Outcome) {
  if (o.ok) return { partition: o.partition, offset: o.offset, error_code: null, error: null };
  // 40402: Confluent's "Partition not found."; 42202: the value does not match the topic's schema.
  return {
    partition: null,
    offset: null,
    error_code: o.reason === 'partition' ? 40402 : 42202,
    error: o.message,
  };
}

function sendJson(res: Response, status: number, contentType: string, body: unknown): void {
  // Node's setHeader and a Buffer body: Express would add "; charset=utf-8", Confluent does not.
  res.setHeader('Content-Type', contentType);
  res.status(status).send(Buffer.from(JSON.stringify(body)));
}

function v2Produce(ctx: ProxyContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const caller = ctx.auth.authenticate(req.headers);
    const format = v2Format(req);
    const type = allowedType(ctx, caller, String(req.params.topic));
    const forced =
      req.params.partition === undefined
        ? undefined
        : partitionOf(Number(req.params.partition), 'the partition', unprocessable);
    const records = v2Records(req.body, format, forced);
    caller.spend(records.length);
    const outcomes = await produceRecords(ctx, type, records, { caller, test: isTestRequest(req) });
    sendJson(res, 200, v2ResponseType(req), {
      offsets: outcomes.map(v2Offset),
      key_schema_id: null,
      value_schema_id: null,
    });
  };
}

function v2ListTopics(ctx: ProxyContext) {
  return (req: Request, res: Response): void => {
    const caller = ctx.auth.authenticate(req.headers);
    const topics = [...ctx.catalog.types.values()]
      .filter((t) => caller.mayUseType(t.name))
      .map((t) => t.topic);
    sendJson(res, 200, v2ResponseType(req), topics.sort());
  };
}

async function describeTopic(ctx: ProxyContext, cluster: string, topic: string) {
  const admin = createAdmin(clusterConfig(ctx.config, cluster), 'proxy-confluent');
  try {
    const meta = await admin.metadata({ topics: [topic], forceUpdate: true });
    const [described] = await admin.describeConfigs({
      resources: [{ resourceType: ConfigResourceTypes.TOPIC, resourceName: topic }],
    });
    const configs: Record<string, string> = {};
    for (const c of described?.configs ?? [])
      if (typeof c.value === 'string' && !c.isSensitive) configs[c.name] = c.value;
    const partitions = (meta.topics.get(topic)?.partitions ?? []).map((p, partition) => ({
      partition,
      leader: p.leader,
      replicas: p.replicas.map((broker) => ({
        broker,
        leader: broker === p.leader,
        in_sync: p.isr.includes(broker),
      })),
    }));
    return { name: topic, configs, partitions };
  } finally {
    await admin.close();
  }
}

function v2GetTopic(ctx: ProxyContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const caller = ctx.auth.authenticate(req.headers);
    const type = allowedType(ctx, caller, String(req.params.topic));
    const topic = await fromKafka(`describing ${type.topic}`, () =>
      describeTopic(ctx, type.settings.clusters[0]!, type.topic),
    );
    sendJson(res, 200, v2ResponseType(req), topic);
  };
}

// ---------------------------------------------------------------------------------------------
// v3: GET /v3/clusters[/{cluster_id}], POST /v3/clusters/{cluster_id}/topics/{topic}/records

function clusterData(req: Request, k: KafkaCluster) {
  const base = `${req.protocol}://${req.get('host') ?? 'localhost'}/v3/clusters/${k.id}`;
  return {
    kind: 'KafkaCluster',
    metadata: { self: base, resource_name: `crn:///kafka=${k.id}` },
    cluster_id: k.id,
    controller: k.controllerId >= 0 ? { related: `${base}/brokers/${k.controllerId}` } : null,
    acls: { related: `${base}/acls` },
    brokers: { related: `${base}/brokers` },
    broker_configs: { related: `${base}/broker-configs` },
    consumer_groups: { related: `${base}/consumer-groups` },
    topics: { related: `${base}/topics` },
    partition_reassignments: { related: `${base}/topics/-/partitions/-/reassignment` },
  };
}

function v3ListClusters(ctx: ProxyContext) {
  return async (req: Request, res: Response): Promise<void> => {
    ctx.auth.authenticate(req.headers);
    const data = (await kafkaClusters(ctx)).map((k) => clusterData(req, k));
    sendJson(res, 200, 'application/json', {
      kind: 'KafkaClusterList',
      metadata: { self: `${req.protocol}://${req.get('host') ?? 'localhost'}/v3/clusters`, next: null },
      data,
    });
  };
}

function v3GetCluster(ctx: ProxyContext) {
  return async (req: Request, res: Response): Promise<void> => {
    ctx.auth.authenticate(req.headers);
    sendJson(
      res,
      200,
      'application/json',
      clusterData(req, await clusterById(ctx, String(req.params.clusterId))),
    );
  };
}

const badRequest = (message: string): Error => new ConfluentError(400, 400, message);
const V3_TYPES = new Set(['JSON', 'BINARY', 'STRING']);
const SCHEMA_FIELDS = ['schema', 'schema_id', 'schema_version', 'subject', 'subject_name_strategy'];

interface V3Data {
  type: string;
  bytes: Buffer | null;
  payload: unknown;
}

function v3Data(raw: unknown, what: string): V3Data {
  if (!isObject(raw)) throw badRequest(`${what} must be an object {"type", "data"}`);
  const type = typeof raw.type === 'string' ? raw.type.toUpperCase() : undefined;
  if (!type || !V3_TYPES.has(type) || SCHEMA_FIELDS.some((f) => f in raw))
    throw badRequest(`${what}.type must be JSON, BINARY or STRING (Sluice has no Schema Registry)`);
  const data = raw.data;
  if (data === undefined || data === null) return { type, bytes: null, payload: null };
  if (type === 'JSON') return { type, bytes: Buffer.from(JSON.stringify(data)), payload: data };
  if (type === 'STRING' && typeof data !== 'string') throw badRequest(`${what}.data must be a string`);
  const bytes = type === 'BINARY' ? base64(data, `${what}.data`, badRequest) : Buffer.from(data as string);
  return { type, bytes, payload: payloadOf(bytes) };
}

/** Kafka headers of a v3 record; ce_id, ce_source, ce_time and ce_test feed the envelope. */
function v3Headers(raw: unknown): Pick<InRecord, 'headers' | 'ce'> {
  if (raw === undefined || raw === null) return { headers: {}, ce: {} };
  if (!Array.isArray(raw)) throw badRequest('headers must be an array of {"name", "value"}');
  const entries: [string, string][] = [];
  for (const h of raw as unknown[]) {
    if (!isObject(h) || typeof h.name !== 'string' || h.name === '')
      throw badRequest('each header needs a "name" and a base64 "value"');
    const bytes =
      h.value === undefined || h.value === null
        ? Buffer.alloc(0)
        : base64(h.value, `header ${h.name}`, badRequest);
    const text = textOf(bytes);
    if (text === undefined) throw badRequest(`header ${h.name}: Sluice keeps header values as UTF-8 text`);
    entries.push([h.name, text]);
  }
  // Kafka allows a name twice; Sluice's records keep one value per name (the last).
  const headers = Object.fromEntries(entries);
  const ce: InRecord['ce'] = {};
  if (headers.ce_id) ce.id = headers.ce_id;
  if (headers.ce_source) ce.source = headers.ce_source;
  if (headers.ce_time) ce.time = headers.ce_time;
  if (headers.ce_test === 'true') ce.test = true;
  // The envelope owns these (and ce_type/ce_dataschema must match the topic's type anyway).
  for (const name of Object.keys(headers))
    if (
      /^(ce_(specversion|id|source|type|time|dataschema|ingesttime|test|partitionkey)|content-type|sluice_.*)$/i.test(
        name,
      )
    )
      delete headers[name];
  return { headers, ce };
}

function v3Timestamp(raw: unknown): bigint | undefined {
  if (raw === undefined || raw === null) return undefined;
  const ms = typeof raw === 'string' ? Date.parse(raw) : NaN;
  if (Number.isNaN(ms))
    throw badRequest('timestamp must be an ISO 8601 date-time such as 2026-11-25T12:00:00Z');
  return BigInt(ms);
}

function v3Record(raw: unknown): { record: InRecord; key?: V3Data; value?: V3Data } {
  if (!isObject(raw)) throw badRequest('a record must be a JSON object');
  const key = raw.key === undefined || raw.key === null ? undefined : v3Data(raw.key, 'key');
  const value = raw.value === undefined || raw.value === null ? undefined : v3Data(raw.value, 'value');
  const partition = partitionOf(raw.partition_id, 'partition_id', badRequest);
  const timestamp = v3Timestamp(raw.timestamp);
  const record: InRecord = {
    key: key?.bytes?.length ? key.bytes : null,
    value: value?.payload ?? null,
    ...(partition !== undefined ? { partition } : {}),
    ...(timestamp !== undefined ? { timestamp } : {}),
    ...v3Headers(raw.headers),
  };
  return { record, ...(key ? { key } : {}), ...(value ? { value } : {}) };
}

/** v3 codes of a rejected record: plain statuses, as Confluent's v3 answers use. */
function v3Rejection(o: Extract<Outcome, { ok: false }>) {
  if (o.reason === 'partition') return { error_code: 404, message: o.message };
  return { error_code: o.errorCode === 'EVENT_TOO_LARGE' ? 413 : 422, message: o.message };
}

function errorAnswer(ctx: ProxyContext, err: unknown) {
  if (err instanceof ConfluentError) return { error_code: err.errorCode, message: err.message };
  if (err instanceof HttpError) return { error_code: err.status, message: err.message };
  ctx.logger.error({ err }, 'v3 record failed');
  return { error_code: 500, message: err instanceof Error ? err.message : String(err) };
}

interface V3Target {
  caller: Caller;
  type: EventType;
  clusterId: string;
  /** The name in kafka.clusters the records go to. */
  cluster: string;
  test: boolean;
}

async function v3One(ctx: ProxyContext, t: V3Target, text: string): Promise<object> {
  try {
    if (text.length > ctx.config.proxy.maxBodyBytes)
      throw new HttpError(
        'BODY_TOO_LARGE',
        `the record is larger than ${ctx.config.proxy.maxBodyBytes} bytes`,
      );
    const deep = depthProblem(text, 'the record');
    if (deep) throw badRequest(deep);
    let raw: unknown;
    try {
      raw = JSON.parse(text) as unknown;
    } catch (err) {
      throw badRequest(`Error processing JSON: ${(err as Error).message}`);
    }
    const { record, key, value } = v3Record(raw);
    t.caller.spend(1);
    const [o] = await produceRecords(ctx, t.type, [record], t);
    if (!o!.ok) return v3Rejection(o!);
    return {
      error_code: 200,
      cluster_id: t.clusterId,
      topic_name: t.type.topic,
      partition_id: o!.partition,
      offset: o!.offset,
      timestamp: new Date(o!.timestamp).toISOString(),
      ...(key ? { key: { type: key.type, size: o!.keySize } } : {}),
      ...(value ? { value: { type: value.type, size: o!.valueSize } } : {}),
    };
  } catch (err) {
    return errorAnswer(ctx, err);
  }
}

/**
 * Splits a text stream of concatenated JSON objects (any whitespace between them) into the text
 * of each object, without parsing: strings and nesting are tracked so braces inside strings count
 * for nothing. Anything but an object at the top level ends the stream (as Confluent does).
 */
class ConcatenatedJson {
  /** Set once the stream cannot be split on; the records before it were returned. */
  error: HttpError | undefined;
  private buf = '';
  private pos = 0;
  private start = -1;
  private depth = 0;
  private inString = false;
  private escaped = false;

  constructor(private readonly maxChars: number) {}

  push(text: string): string[] {
    this.buf += text;
    const out: string[] = [];
    for (; this.pos < this.buf.length && !this.error; this.pos++) {
      const c = this.buf[this.pos]!;
      if (this.depth === 0) this.outside(c);
      else if (this.inString) this.inside(c);
      else if (c === '"') this.inString = true;
      else if (c === '{' || c === '[') this.depth++;
      else if ((c === '}' || c === ']') && --this.depth === 0)
        out.push(this.buf.slice(this.start, this.pos + 1));
    }
    // Keep only the object still open, so memory is one record, not the stream.
    this.buf = this.depth > 0 ? this.buf.slice(this.start) : '';
    this.pos = this.buf.length;
    this.start = 0;
    if (this.buf.length > this.maxChars)
      this.error ??= new HttpError('BODY_TOO_LARGE', `a record is larger than ${this.maxChars} bytes`);
    return out;
  }

  end(): void {
    if (this.depth > 0) this.error ??= new HttpError('MALFORMED_BODY', 'the body ends inside a JSON object');
  }

  private outside(c: string): void {
    if (c === ' ' || c === '\n' || c === '\r' || c === '\t') return;
    if (c !== '{') {
      this.error = new HttpError('MALFORMED_BODY', `expected a JSON object (a record), found "${c}"`);
      return;
    }
    this.start = this.pos;
    this.depth = 1;
  }

  private inside(c: string): void {
    if (this.escaped) this.escaped = false;
    else if (c === '\\') this.escaped = true;
    else if (c === '"') this.inString = false;
  }
}

/** Writes one answer per record, in record order, each as soon as it and those before it are done. */
class AnswerStream {
  private tail: Promise<void> = Promise.resolve();
  private pending = 0;

  constructor(private readonly res: Response) {}

  push(answer: Promise<object>): void {
    this.pending++;
    this.tail = this.tail.then(async () => {
      const body = await answer;
      this.pending--;
      if (this.res.writableEnded || this.res.destroyed) return;
      // Concatenated JSON, one answer a line: fine for streaming JSON parsers and line readers.
      if (!this.res.write(`${JSON.stringify(body)}\n`))
        await Promise.race([once(this.res, 'drain'), once(this.res, 'close')]);
    });
  }

  /** Waits while too many answers are owed, so a fast client cannot queue unbounded work. */
  async backpressure(): Promise<void> {
    if (this.pending >= MAX_PENDING_ANSWERS) await this.tail;
  }

  async end(): Promise<void> {
    await this.tail;
    if (!this.res.writableEnded) this.res.end();
  }
}

function requestStream(req: Request): Readable {
  const encoding = (req.get('content-encoding') ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity') return req;
  const inflate = encoding === 'gzip' ? createGunzip() : encoding === 'deflate' ? createInflate() : undefined;
  if (!inflate)
    throw new HttpError('UNSUPPORTED_CONTENT_TYPE', `Content-Encoding "${encoding}" is not supported`);
  req.on('error', (err) => inflate.destroy(err));
  return req.pipe(inflate);
}

/**
 * Reads records as they arrive and answers each. When the body cannot be read on (not JSON
 * objects, not UTF-8, bad gzip), the last answer says why and the response ends, as Confluent's
 * does; what the client still sends is read and dropped, so the connection stays usable.
 */
async function v3Stream(ctx: ProxyContext, req: Request, res: Response, t: V3Target): Promise<void> {
  const input = requestStream(req);
  res.status(200).setHeader('Content-Type', 'application/json');
  res.flushHeaders();
  const answers = new AnswerStream(res);
  const splitter = new ConcatenatedJson(ctx.config.proxy.maxBodyBytes);
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let failed: unknown;
  let records = 0;
  const fail = async (err: unknown): Promise<void> => {
    failed = err;
    answers.push(Promise.resolve(errorAnswer(ctx, err)));
    await answers.end();
  };
  try {
    // Never left early: leaving a for-await loop destroys the request, and with it the socket.
    for await (const chunk of input) {
      if (failed) continue;
      let text: string;
      try {
        text = decoder.decode(chunk as Buffer, { stream: true });
      } catch {
        await fail(new HttpError('MALFORMED_BODY', 'the body is not valid UTF-8'));
        continue;
      }
      for (const obj of splitter.push(text)) {
        records++;
        answers.push(v3One(ctx, t, obj));
      }
      if (splitter.error) await fail(splitter.error);
      else await answers.backpressure();
    }
    splitter.end();
    if (!failed && splitter.error) await fail(splitter.error);
    // An empty (or all-whitespace) body would otherwise be a 200 with no answer at all.
    if (!failed && records === 0)
      await fail(
        new HttpError('MALFORMED_BODY', 'the body holds no record: send one JSON object per record'),
      );
  } catch (err) {
    // The body did not inflate, or the request broke off. A fully received request is destroyed
    // too (autoDestroy), so only an incomplete one means the client is gone.
    if (!failed && (req.complete || !req.destroyed))
      await fail(inflateError(req.get('content-encoding'), err) ?? err);
    req.resume();
  }
  await answers.end();
}

function v3Produce(ctx: ProxyContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const caller = ctx.auth.authenticate(req.headers);
    if (mimeOf(req) !== 'application/json')
      throw new HttpError(
        'UNSUPPORTED_CONTENT_TYPE',
        `Content-Type "${mimeOf(req) || '(none)'}" is not accepted: send application/json`,
      );
    const cluster = await clusterById(ctx, String(req.params.clusterId));
    const type = allowedType(ctx, caller, String(req.params.topic));
    // The topic exists on this cluster only if the type routes there (under any of its names).
    const name = type.settings.clusters.find((c) => cluster.names.includes(c));
    if (!name) throw topicNotFound(ctx, type.topic);
    const target = { caller, type, clusterId: cluster.id, cluster: name, test: isTestRequest(req) };
    await v3Stream(ctx, req, res, target);
  };
}

// ---------------------------------------------------------------------------------------------

export function confluentRoutes(ctx: ProxyContext, raw: RequestHandler, ready: RequestHandler): Router {
  const router = Router();
  router.get('/topics', v2ListTopics(ctx));
  router.get('/topics/:topic', ready, v2GetTopic(ctx));
  router.post('/topics/:topic', ready, raw, v2Produce(ctx));
  router.post('/topics/:topic/partitions/:partition', ready, raw, v2Produce(ctx));
  router.get('/v3/clusters', ready, v3ListClusters(ctx));
  router.get('/v3/clusters/:clusterId', ready, v3GetCluster(ctx));
  // Not `raw`: records are read and answered as they stream in.
  router.post('/v3/clusters/:clusterId/topics/:topic/records', ready, v3Produce(ctx));
  router.use((err: unknown, req: Request, res: Response, next: NextFunction) => {
    const v2 = req.path.startsWith('/topics');
    if (err instanceof ConfluentError && !res.headersSent) {
      sendJson(res, err.status, v2 ? v2ResponseType(req) : 'application/json', {
        error_code: err.errorCode,
        message: err.message,
      });
      return;
    }
    // app.ts writes the error body; res.json keeps a Content-Type set before it.
    if (v2 && !res.headersSent) res.type(v2ResponseType(req));
    next(err);
  });
  return router;
}
