// Where writeSegment's records are decoded, validated and encoded to Parquet
// (pipeline.encodeThreads): on worker threads, or with 0 threads on the activity's own thread.
// Measured reason for the threads: the worker's main thread holds Temporal, the AWS SDK and the
// workflow bundles (~80 MB of live heap), and every full collection there marks all of it; the same
// encoding costs ~20 µs per 1 KB event on a thread with a small heap and ~31 µs beside that heap.
// A segment stays on one thread from open to finish; its fetched bytes are transferred, not copied
// twice, and only the Parquet files (transferred back) and the rejects return.
import type { Logger } from '../../lib/logger.js';
import { ThreadSlots, type ThreadSlot } from '../../lib/thread-slots.js';
import { startThread } from '../../lib/threads.js';
import type { Catalog, EventType } from '../../schemas/catalog.js';
import type { EventValidator } from '../../schemas/validator.js';
import { ChunkEncoder, type ChunkInput, type ChunkProgress } from './chunk-encoder.js';
import type { EncodedSegment, ParquetCompression, RejectedRecord } from './encode.js';

export interface SegmentSpec {
  type: EventType;
  partition: number;
  maxBytes: number;
  compression?: ParquetCompression;
}

/** One segment being encoded: chunks in offset order, then finish (or discard on failure). */
export interface SegmentSession {
  /**
   * `handOver`: the caller is done with `chunk.data` and lets an encode thread take its memory
   * (no copy) when the bytes fill their own ArrayBuffer, as lib/kafka-fetch.ts gives them; the
   * chunk's data is empty afterwards.
   */
  add(chunk: ChunkInput, handOver?: boolean): Promise<ChunkProgress>;
  finish(): Promise<EncodedSegment>;
  /** Drops the segment's state (after a failure); safe to call after finish. */
  discard(): void;
}

export interface SegmentEncoders {
  open(spec: SegmentSpec): SegmentSession;
  close(): Promise<void>;
}

/** Encoding on the calling thread; `fastJson` as SegmentEncoderOptions (default true). */
export function inlineEncoders(validator: EventValidator, fastJson = true): SegmentEncoders {
  return {
    open(spec) {
      const encoder = new ChunkEncoder({ ...spec, validator, fastJson });
      return {
        add: (chunk) => Promise.resolve(encoder.add(chunk)),
        finish: () => Promise.resolve(encoder.finish()),
        discard: () => undefined,
      };
    },
    close: () => Promise.resolve(),
  };
}

// Messages between the pool and a thread (structured clone: bigints and typed arrays pass as they are).
export type ToEncodeThread =
  | {
      kind: 'open';
      id: number;
      type: string;
      partition: number;
      maxBytes: number;
      compression?: ParquetCompression;
    }
  | { kind: 'add'; id: number; job: number; chunk: ChunkInput }
  | { kind: 'finish'; id: number; job: number }
  | { kind: 'discard'; id: number };

export type FromEncodeThread =
  | { kind: 'ready' }
  | { kind: 'progress'; id: number; job: number; progress: ChunkProgress }
  | { kind: 'finished'; id: number; job: number; segment: EncodedSegment }
  | { kind: 'failed'; id: number; job: number; message: string };

export interface EncodeThreadData {
  catalog: Catalog;
  /** pipeline.fastJsonReader */
  fastJson: boolean;
}

interface Pending {
  resolve: (value: never) => void;
  reject: (err: unknown) => void;
}

/** Per thread: its open segments (a segment stays on its thread from open to finish). */
interface Segments {
  open: number;
}

type Slot = ThreadSlot<Pending, Segments>;

// Young generation of an encode thread: 96 MB, that is 32 MB semi-spaces (V8's default is 16), so
// a chunk's short-lived garbage (record views, envelope strings) is collected in fewer scavenges
// and less of it is promoted. A small gain, measured in pairs of npm run bench:pipeline rounds: 6
// of 7 pairs faster, by 1–4% (the bench's noise is about as large); ~20 MB more RSS.
const ENCODE_THREAD_YOUNG_MB = 96;

/** Buffers again: structured clone hands a rejected record's key and value over as Uint8Arrays. */
function asBuffer(b: Uint8Array | null): Buffer | null {
  return b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function revive(segment: EncodedSegment): EncodedSegment {
  const rejected: RejectedRecord[] = segment.rejected.map((r) => ({
    ...r,
    record: { ...r.record, key: asBuffer(r.record.key), value: asBuffer(r.record.value) },
  }));
  return { groups: segment.groups, rejected, exactPathRows: segment.exactPathRows };
}

export class EncodePool implements SegmentEncoders {
  private readonly pool: ThreadSlots<Pending, Segments, FromEncodeThread>;
  private readonly inline: SegmentEncoders;
  private nextId = 1;
  private nextJob = 1;

  constructor(
    threads: number,
    deps: { catalog: Catalog; validator: EventValidator; fastJson?: boolean },
    logger: Logger,
  ) {
    this.inline = inlineEncoders(deps.validator, deps.fastJson);
    const data: EncodeThreadData = { catalog: deps.catalog, fastJson: deps.fastJson ?? true };
    this.pool = new ThreadSlots({
      threads,
      what: 'encode',
      fallback: 'encoding on the main thread',
      spawn: (n) =>
        startThread(import.meta.url, 'encode-thread', data, `sluice-encode-${n}`, {
          maxYoungGenerationSizeMb: ENCODE_THREAD_YOUNG_MB,
        }),
      newState: () => ({ open: 0 }),
      isReady: (m) => m.kind === 'ready',
      onMessage: (slot, m) => {
        if (m.kind === 'ready') return;
        const p = this.pool.answered(slot, m.job);
        if (!p) return;
        if (m.kind === 'failed') p.reject(new Error(m.message));
        else if (m.kind === 'progress') p.resolve(m.progress as never);
        else p.resolve(revive(m.segment) as never);
      },
      exitError: (n, code) =>
        new Error(
          `encode thread ${n} exited (code ${code}) while encoding a segment; the activity retries it`,
        ),
      refWhileStarting: false,
      logger,
    });
  }

  /** Threads alive now (0: every segment is encoded on the calling thread). */
  get liveThreads(): number {
    return this.pool.slots.filter((s) => !s.dead).length;
  }

  private ask<T>(
    slot: Slot,
    message: ToEncodeThread & { job: number },
    transfer: ArrayBuffer[] = [],
  ): Promise<T> {
    if (slot.dead)
      return Promise.reject(new Error('the encode thread of this segment exited; the activity retries it'));
    return new Promise<T>((resolve, reject) =>
      this.pool.send(slot, message.job, { resolve, reject }, message, transfer),
    );
  }

  open(spec: SegmentSpec): SegmentSession {
    // The live thread with the fewest open segments (a starting one queues the messages); none
    // alive (none could start): inline.
    const s = this.pool.pick(
      (t) => !t.dead,
      (t) => t.state.open,
    );
    if (!s) return this.inline.open(spec);
    const id = this.nextId++;
    s.state.open++;
    let open = true;
    const close = (): void => {
      if (!open) return;
      open = false;
      s.state.open--;
    };
    s.worker.postMessage({
      kind: 'open',
      id,
      type: spec.type.name,
      partition: spec.partition,
      maxBytes: spec.maxBytes,
      ...(spec.compression ? { compression: spec.compression } : {}),
    } satisfies ToEncodeThread);
    return {
      add: (chunk, handOver = false) => {
        // The thread gets memory of its own: the bytes' own if handed over and they fill it, else a
        // copy (they may be a view of a larger buffer, or still the caller's).
        const d = chunk.data;
        const data =
          handOver &&
          d.buffer instanceof ArrayBuffer &&
          d.byteOffset === 0 &&
          d.byteLength === d.buffer.byteLength
            ? new Uint8Array(d.buffer)
            : new Uint8Array(d);
        return this.ask<ChunkProgress>(
          s,
          { kind: 'add', id, job: this.nextJob++, chunk: { ...chunk, data } },
          [data.buffer],
        );
      },
      finish: async () => {
        try {
          return await this.ask<EncodedSegment>(s, { kind: 'finish', id, job: this.nextJob++ });
        } finally {
          close();
        }
      },
      discard: () => {
        if (!open) return;
        close();
        s.worker.postMessage({ kind: 'discard', id } satisfies ToEncodeThread);
      },
    };
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** The encoders pipeline.encodeThreads asks for. */
export function segmentEncoders(
  threads: number,
  deps: { catalog: Catalog; validator: EventValidator; logger: Logger; fastJson?: boolean },
): SegmentEncoders {
  return threads > 0
    ? new EncodePool(threads, deps, deps.logger)
    : inlineEncoders(deps.validator, deps.fastJson);
}
