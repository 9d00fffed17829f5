// The produce path shared by all concurrent requests: records wait up to lingerMs (or until a batch
// is full) and go to Kafka in one produce call, so 100 requests of 100 events cost a few round
// trips, not 100. Partitions are chosen here, as the Java client does: murmur2 for keyed records,
// sticky (KIP-480) for keyless ones, a new sticky partition per batch.
import type { MessageToProduce, Producer } from '@platformatic/kafka';
import { partitionForKey, StickyPartitioner } from './partitioner.js';

export interface ProduceRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
  /** A partition the client chose (Confluent REST endpoints); otherwise the partitioner picks one. */
  partition?: number;
  /** Record timestamp in ms (Confluent v3 `timestamp`); otherwise the time of sending. */
  timestamp?: bigint;
}

type Message = MessageToProduce<Buffer, Buffer, string, string>;

export interface Delivery {
  topic: string;
  partition: number;
  /** Absent with acks=0: the broker does not say. */
  offset?: bigint;
}

export interface AccumulatorOptions {
  lingerMs: number;
  batchMaxRecords: number;
  batchMaxBytes: number;
  acks: -1 | 0 | 1;
  compression: 'none' | 'gzip' | 'snappy' | 'lz4';
  onBatch?: (records: number, bytes: number, seconds: number, error?: unknown) => void;
}

/** One send() call: its records may land in several batches; it settles when all did. */
interface Request {
  deliveries: Delivery[];
  pending: number;
  settled: boolean;
  resolve: (d: Delivery[]) => void;
  reject: (err: unknown) => void;
}

interface Waiting {
  record: ProduceRecord;
  size: number;
  request: Request;
  index: number;
}

function deliver(w: Waiting, d: Delivery): void {
  const r = w.request;
  if (r.settled) return;
  r.deliveries[w.index] = d;
  if (--r.pending === 0) {
    r.settled = true;
    r.resolve(r.deliveries);
  }
}

function fail(w: Waiting, err: unknown): void {
  if (w.request.settled) return;
  w.request.settled = true;
  w.request.reject(err);
}

export class ProduceError extends Error {
  override readonly name = 'ProduceError';
  constructor(
    message: string,
    override readonly cause: unknown,
  ) {
    super(message);
  }
}

export class Accumulator {
  private queue: Waiting[] = [];
  private queuedBytes = 0;
  private timer: NodeJS.Timeout | undefined;
  private readonly inFlight = new Set<Promise<void>>();
  private readonly partitionCounts = new Map<string, number>();
  private readonly sticky = new StickyPartitioner();

  constructor(
    private readonly producer: Producer<Buffer, Buffer, string, string>,
    private readonly opts: AccumulatorOptions,
  ) {}

  /** Learns partition counts up front so the first requests do not wait for metadata. */
  async loadMetadata(topics: string[]): Promise<void> {
    if (topics.length === 0) return;
    const meta = await this.producer.metadata({ topics });
    for (const [topic, t] of meta.topics) this.partitionCounts.set(topic, t.partitionsCount);
  }

  get pendingRecords(): number {
    return this.queue.length;
  }

  /** Resolves per record once the broker acknowledged it (as configured by acks). */
  send(records: ProduceRecord[]): Promise<Delivery[]> {
    if (records.length === 0) return Promise.resolve([]);
    // One promise per call, not per record: a 100-event request is one allocation, not 100.
    const done = new Promise<Delivery[]>((resolve, reject) => {
      const request: Request = {
        deliveries: new Array<Delivery>(records.length),
        pending: records.length,
        settled: false,
        resolve,
        reject,
      };
      records.forEach((record, index) => {
        const size = record.value.length + (record.key?.length ?? 0) + 64;
        this.queue.push({ record, size, request, index });
        this.queuedBytes += size;
      });
    });
    if (
      this.queue.length >= this.opts.batchMaxRecords ||
      this.queuedBytes >= this.opts.batchMaxBytes ||
      this.opts.lingerMs === 0
    ) {
      this.flushSoon(true);
    } else {
      this.flushSoon(false);
    }
    return done;
  }

  private flushSoon(now: boolean): void {
    if (now) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      while (this.queue.length) this.flushOne();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      while (this.queue.length) this.flushOne();
    }, this.opts.lingerMs);
  }

  private takeBatch(): Waiting[] {
    let bytes = 0;
    let n = 0;
    while (
      n < this.queue.length &&
      n < this.opts.batchMaxRecords &&
      (n === 0 || bytes + this.queue[n]!.size <= this.opts.batchMaxBytes)
    ) {
      bytes += this.queue[n]!.size;
      n++;
    }
    const batch = this.queue.splice(0, n);
    this.queuedBytes -= bytes;
    return batch;
  }

  private flushOne(): void {
    const batch = this.takeBatch();
    if (batch.length === 0) return;
    const p = this.produce(batch).finally(() => this.inFlight.delete(p));
    this.inFlight.add(p);
  }

  private async partitionsOf(topics: Set<string>): Promise<void> {
    const missing = [...topics].filter((t) => !this.partitionCounts.has(t));
    if (missing.length) await this.loadMetadata(missing);
  }

  private async produce(batch: Waiting[]): Promise<void> {
    const started = process.hrtime.bigint();
    let bytes = 0;
    const topics = new Set<string>();
    for (const w of batch) {
      bytes += w.size;
      topics.add(w.record.topic);
    }
    try {
      await this.partitionsOf(topics);
      // One pass, no per-record closures or spreads: this runs for every record on the main thread.
      const partitions = new Array<number>(batch.length);
      const messages = new Array<Message>(batch.length);
      for (let i = 0; i < batch.length; i++) {
        const r = batch[i]!.record;
        const n = this.partitionCounts.get(r.topic) ?? 1;
        const p = r.partition ?? (r.key ? partitionForKey(r.key, n) : this.sticky.partition(r.topic, n));
        partitions[i] = p;
        const m: Message = { topic: r.topic, partition: p, value: r.value, headers: r.headers };
        if (r.key) m.key = r.key;
        if (r.timestamp !== undefined) m.timestamp = r.timestamp;
        messages[i] = m;
      }
      // KIP-480: keyless records stick to one partition for a whole batch, then move on.
      for (const topic of topics) this.sticky.onNewBatch(topic, this.partitionCounts.get(topic) ?? 1);
      const result = await this.producer.send({
        messages,
        acks: this.opts.acks,
        compression: this.opts.compression,
        ...(this.opts.acks === -1 ? { idempotent: true } : {}),
      });
      // Base offset per topic and partition, then the next offset to hand out in each.
      const next = new Map<string, (bigint | undefined)[]>();
      for (const o of result.offsets ?? []) {
        let byPartition = next.get(o.topic);
        if (!byPartition) next.set(o.topic, (byPartition = []));
        byPartition[o.partition] = o.offset;
      }
      // Never answer "accepted" for a record the broker did not acknowledge.
      if (this.opts.acks !== 0) {
        const missing = new Set<string>();
        for (let i = 0; i < batch.length; i++) {
          const topic = batch[i]!.record.topic;
          if (next.get(topic)?.[partitions[i]!] === undefined) missing.add(`${topic}/${partitions[i]!}`);
        }
        if (missing.size) throw new Error(`no acknowledgement for ${[...missing].join(', ')}`);
      }
      for (let i = 0; i < batch.length; i++) {
        const w = batch[i]!;
        const partition = partitions[i]!;
        const byPartition = next.get(w.record.topic);
        const offset = byPartition?.[partition];
        if (offset === undefined) {
          deliver(w, { topic: w.record.topic, partition });
        } else {
          byPartition![partition] = offset + 1n;
          deliver(w, { topic: w.record.topic, partition, offset });
        }
      }
      this.opts.onBatch?.(batch.length, bytes, Number(process.hrtime.bigint() - started) / 1e9);
    } catch (err) {
      // Metadata may be stale (partitions added): learn it again on the next batch.
      for (const topic of topics) this.partitionCounts.delete(topic);
      this.opts.onBatch?.(batch.length, bytes, Number(process.hrtime.bigint() - started) / 1e9, err);
      const error = new ProduceError(
        `Kafka did not accept the batch: ${err instanceof Error ? err.message : String(err)}`,
        err,
      );
      for (const w of batch) fail(w, error);
    }
  }

  /** Sends everything queued and waits for every batch in flight. */
  async flush(): Promise<void> {
    this.flushSoon(true);
    while (this.inFlight.size) await Promise.allSettled([...this.inFlight]);
  }
}
