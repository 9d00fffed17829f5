// The project's Kafka client is @platformatic/kafka (chosen by `npm run bench:kafka-client`, see
// docs/kafka-client.md). Exact offset ranges are read with plain Fetch requests, without joining a
// consumer group, which is what a pipeline that owns its offsets needs; their record batches are
// parsed by lib/kafka-records.ts (lib/kafka-fetch.ts sends them on the client's connections).
import { Admin, FetchIsolationLevels, Producer, type BaseOptions, type Broker } from '@platformatic/kafka';
import type { Config } from './config.js';
import { RangeReader } from './kafka-fetch.js';
import {
  headerPairs,
  recordBatches,
  wholeBatchesEnd,
  type AbortedTransaction,
  type HeaderPair,
  type RawRangeRecord,
} from './kafka-records.js';

export { RangeReader } from './kafka-fetch.js';
export { headerPairs, type HeaderPair, type RawRangeRecord } from './kafka-records.js';

export function kafkaOptions(config: Config, clientId: string): BaseOptions {
  return {
    clientId: `${config.kafka.clientId}-${clientId}`,
    bootstrapBrokers: config.kafka.brokers,
    connectTimeout: 5000,
    requestTimeout: 30_000,
    retries: 3,
  };
}

export function createAdmin(config: Config, clientId = 'admin'): Admin {
  return new Admin(kafkaOptions(config, clientId));
}

// Header names and most values (spec version, type, schema, content type, ingest time of a
// request) repeat from record to record: encode each once. Bounded, so odd inputs cannot grow it.
const headerBuffers = new Map<string, Buffer>();

function cachedBuffer(s: string): Buffer {
  let b = headerBuffers.get(s);
  if (!b) {
    if (headerBuffers.size >= 4096) headerBuffers.clear();
    b = Buffer.from(s);
    headerBuffers.set(s, b);
  }
  return b;
}

export function createProducer(
  config: Config,
  clientId = 'producer',
  acks = 1,
): Producer<Buffer, Buffer, string, string> {
  return new Producer({
    ...kafkaOptions(config, clientId),
    acks,
    autocreateTopics: false,
    serializers: {
      key: (k?: Buffer) => k,
      value: (v?: Buffer) => v,
      headerKey: (k?: string) => (k === undefined ? undefined : cachedBuffer(k)),
      headerValue: (v?: string) => (v === undefined ? undefined : cachedBuffer(v)),
    },
  });
}

/** A consumer used for exact-range fetches and offset look-ups; it never joins its group. */
export function createRangeReader(config: Config, groupId: string, clientId = 'reader'): RangeReader {
  return new RangeReader({ ...kafkaOptions(config, clientId), groupId });
}

export interface RangeRecord {
  offset: bigint;
  timestamp: bigint;
  key: Buffer | null;
  value: Buffer | null;
  headers: Record<string, string>;
}

export type KafkaRangeErrorCode =
  'OFFSET_OUT_OF_RANGE' | 'RANGE_BEYOND_HIGH_WATERMARK' | 'UNKNOWN_TOPIC_OR_PARTITION' | 'FETCH_FAILED';

export class KafkaRangeError extends Error {
  override readonly name = 'KafkaRangeError';
  constructor(
    readonly code: KafkaRangeErrorCode,
    message: string,
    readonly details: { logStartOffset?: bigint; highWatermark?: bigint; kafkaErrorCode?: number } = {},
  ) {
    super(message);
  }
}

// Kafka protocol error codes we act on.
const OFFSET_OUT_OF_RANGE = 1;
const UNKNOWN_TOPIC_OR_PARTITION = 3;

/** Header pairs as strings (UTF-8); a later header of the same name wins. */
export function headerMap(pairs: readonly HeaderPair[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of pairs) if (k) out[k.toString('utf8')] = v ? v.toString('utf8') : '';
  return out;
}

/**
 * Bytes per fetch of one partition unless a caller says otherwise. Measured on a range read of 1 KB
 * records (lz4): 1–2 MiB cost ~11 µs of CPU per record, 8 MiB ~15 µs; a big response is buffered,
 * copied into one piece and parsed into records all at once, which outlive young-generation GCs.
 */
export const DEFAULT_FETCH_BYTES = 2 * 1024 * 1024;

export interface RangeOptions {
  topic: string;
  partition: number;
  /** First offset of the range (inclusive). */
  from: bigint;
  /** End of the range (exclusive). */
  to: bigint;
  /** Bytes per fetch for this partition; default DEFAULT_FETCH_BYTES. */
  maxBytes?: number;
  maxWaitMs?: number;
}

/**
 * Yields the records of `[from, to)` of one partition, in offset order, a record batch at a time.
 * Offsets missing inside the range (compaction, transaction markers) are skipped, not waited for.
 * Reads committed data only (READ_COMMITTED): the broker stops at the last stable offset, and the
 * records of aborted transactions are dropped here, as the Java consumer does (the client's own
 * filter misses a second aborted transaction of the same producer in one response).
 * Throws KafkaRangeError when `from` was already deleted by retention, or `to` is past the end.
 */
export async function* readRange(reader: RangeReader, opts: RangeOptions): AsyncGenerator<RangeRecord[]> {
  for await (const chunk of readRawRange(reader, opts)) {
    yield chunk.map((r) => ({
      offset: r.offset,
      timestamp: r.timestamp,
      key: r.key,
      value: r.value,
      headers: headerMap(headerPairs(r)),
    }));
  }
}

/** readRange with the headers left as bytes (see RawRangeRecord), a record batch at a time. */
export async function* readRawRange(
  reader: RangeReader,
  opts: RangeOptions,
): AsyncGenerator<RawRangeRecord[]> {
  for await (const chunk of readRangeChunks(reader, opts)) {
    // Batch by batch (see recordBatches): a batch's records are worked through by the caller
    // before the next batch is decoded.
    yield* recordBatches(chunk.data, chunk.from, chunk.to, chunk.aborted);
  }
}

/** One fetch's record batches of a range, undecoded (lib/kafka-records.ts reads them). */
export interface RangeChunk {
  /** Whole record batches, the first may start before `from`, the last may end after `to`. */
  data: Buffer;
  /** The range's part this chunk covers: records of [from, to) are the caller's. */
  from: bigint;
  to: bigint;
  /** Where the next chunk starts: after the last whole batch. */
  next: bigint;
  /** The aborted transactions the broker listed for this fetch (READ_COMMITTED). */
  aborted: AbortedTransaction[];
}

/** readRawRange's fetches, their batches left undecoded (for a thread that decodes them). */
export async function* readRangeChunks(reader: RangeReader, opts: RangeOptions): AsyncGenerator<RangeChunk> {
  const { topic, partition, from, to } = opts;
  if (to <= from) return;
  const metadata = await reader.metadata({ topics: [topic] });
  const topicMeta = metadata.topics.get(topic);
  const partMeta = topicMeta?.partitions[partition];
  if (!topicMeta || !partMeta) {
    throw new KafkaRangeError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} has no partition ${partition}`);
  }
  const broker = metadata.brokers.get(partMeta.leader);
  if (!broker)
    throw new KafkaRangeError(
      'FETCH_FAILED',
      `no address for broker ${partMeta.leader}, leader of ${topic}/${partition}`,
    );
  const target: FetchTarget = {
    broker,
    topicId: topicMeta.id,
    leader: partMeta.leader,
    leaderEpoch: partMeta.leaderEpoch,
  };
  let offset = from;
  while (offset < to) {
    const chunk = await fetchChunk(reader, target, opts, offset);
    offset = chunk.next;
    if (chunk.data.length) yield chunk;
  }
}

interface FetchTarget {
  broker: Broker;
  topicId: string;
  leader: number;
  leaderEpoch: number;
}

/** One Fetch at `offset`: its record batches (maybe none) and where to go on. */
async function fetchChunk(
  reader: RangeReader,
  target: FetchTarget,
  opts: RangeOptions,
  offset: bigint,
): Promise<RangeChunk> {
  const { topic, partition, to } = opts;
  const part = await reader.fetchPartition({
    broker: target.broker,
    topicId: target.topicId,
    partition,
    leaderEpoch: target.leaderEpoch,
    offset,
    maxBytes: opts.maxBytes ?? DEFAULT_FETCH_BYTES,
    maxWaitMs: opts.maxWaitMs ?? 500,
    isolationLevel: FetchIsolationLevels.READ_COMMITTED,
  });
  if (!part)
    throw new KafkaRangeError('FETCH_FAILED', `fetch of ${topic}/${partition} at ${offset} returned no data`);
  const where = `${topic}/${partition} at offset ${offset}`;
  if (part.errorCode === OFFSET_OUT_OF_RANGE) {
    throw new KafkaRangeError(
      'OFFSET_OUT_OF_RANGE',
      `${where} is out of range (log start ${part.logStartOffset}, high watermark ${part.highWatermark})`,
      {
        logStartOffset: part.logStartOffset,
        highWatermark: part.highWatermark,
        kafkaErrorCode: part.errorCode,
      },
    );
  }
  if (part.errorCode === UNKNOWN_TOPIC_OR_PARTITION) {
    throw new KafkaRangeError('UNKNOWN_TOPIC_OR_PARTITION', `${where}: unknown topic or partition`, {
      kafkaErrorCode: part.errorCode,
    });
  }
  if (part.errorCode !== 0) {
    throw new KafkaRangeError('FETCH_FAILED', `${where}: Kafka error code ${part.errorCode}`, {
      kafkaErrorCode: part.errorCode,
    });
  }
  if (!part.records) {
    if (part.highWatermark <= offset) {
      throw new KafkaRangeError(
        'RANGE_BEYOND_HIGH_WATERMARK',
        `${where}: the range ends at ${to} but the partition ends at ${part.highWatermark}`,
        {
          highWatermark: part.highWatermark,
        },
      );
    }
    return { data: Buffer.alloc(0), from: offset, to, next: offset, aborted: [] };
  }
  return {
    data: part.records,
    from: offset,
    to,
    next: wholeBatchesEnd(part.records, offset),
    aborted: part.abortedTransactions,
  };
}

// Kafka's special ListOffsets timestamps.
const LATEST = -1n;
const EARLIEST = -2n;

/**
 * The first offset still on the broker and the last stable offset (the high watermark unless a
 * transaction is open): what a READ_COMMITTED reader can read up to, so a range planned to
 * `latest` never waits for a transaction to end.
 */
export async function partitionBounds(
  admin: Admin,
  topic: string,
  partition: number,
): Promise<{ earliest: bigint; latest: bigint }> {
  const ask = async (timestamp: bigint): Promise<bigint> => {
    const [t] = await admin.listOffsets({
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
      topics: [{ name: topic, partitions: [{ partitionIndex: partition, timestamp }] }],
    });
    const p = t?.partitions.find((x) => x.partitionIndex === partition);
    if (!p)
      throw new KafkaRangeError('UNKNOWN_TOPIC_OR_PARTITION', `topic ${topic} has no partition ${partition}`);
    return p.offset;
  };
  const [earliest, latest] = await Promise.all([ask(EARLIEST), ask(LATEST)]);
  return { earliest, latest };
}

/** The consumer group's committed offset of one partition, or undefined when it has none. */
export async function committedOffset(
  admin: Admin,
  groupId: string,
  topic: string,
  partition: number,
): Promise<bigint | undefined> {
  const [group] = await admin.listConsumerGroupOffsets({
    groups: [{ groupId, topics: [{ name: topic, partitionIndexes: [partition] }] }],
  });
  const p = group?.topics
    .find((t) => t.name === topic)
    ?.partitions.find((x) => x.partitionIndex === partition);
  return p && p.committedOffset >= 0n ? p.committedOffset : undefined;
}

/** Commits an offset for a group that never joins (the pipeline owns its position), so standard Kafka tools show its lag. */
export async function commitOffset(
  admin: Admin,
  groupId: string,
  topic: string,
  partition: number,
  offset: bigint,
): Promise<void> {
  await admin.alterConsumerGroupOffsets({
    groupId,
    topics: [{ name: topic, partitionOffsets: [{ partition, offset }] }],
  });
}
