// Where writeSegment's records are decoded, validated and encoded to Parquet
// (pipeline.encodeThreads): on worker threads, or with 0 threads on the activity's own thread.
// Measured reason for the threads: the worker's main thread holds Temporal, the AWS SDK and the
// workflow bundles (~80 MB of live heap), and every full collection there marks all of it; the same
// encoding costs ~20 µs per 1 KB event on a thread with a small heap and ~31 µs beside that heap.
// A segment stays on one thread from open to finish; its fetched bytes are transferred, not copied
// twice, and only the Parquet files (transferred back) and the rejects return.
import type { Worker } from 'node:worker_threads';
import type { Logger } from '../../lib/logger.js';
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
  add(chunk: ChunkInput): Promise<ChunkProgress>;
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

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  /** Open segments on this thread. */
  segments: number;
  /** The thread said it is ready (its validators compiled). */
  ready: boolean;
  /** The thread exited: nothing more can be sent to it. */
  dead: boolean;
}

// Young generation of an encode thread: 96 MB, that is 32 MB semi-spaces (V8's default is 16), so
// a chunk's short-lived garbage (record views, envelope strings) is collected in fewer scavenges
// and less of it is promoted. A small gain, measured in pairs of npm run bench:pipeline rounds: 6
// of 7 pairs faster, by 1–4% (the bench's noise is about as large); ~20 MB more RSS.
const ENCODE_THREAD_YOUNG_MB = 96;

function spawn(data: EncodeThreadData, name: string): Worker {
  return startThread(import.meta.url, 'encode-thread', data, name, {
    maxYoungGenerationSizeMb: ENCODE_THREAD_YOUNG_MB,
  });
}

/** Buffers again: structured clone hands a rejected record's key and value over as Uint8Arrays. */
function asBuffer(b: Uint8Array | null): Buffer | null {
  return b === null ? null : Buffer.from(b.buffer, b.byteOffset, b.byteLength);
}

function revive(segment: EncodedSegment): EncodedSegment {
  const rejected: RejectedRecord[] = segment.rejected.map((r) => ({
    ...r,
    record: { ...r.record, key: asBuffer(r.record.key), value: asBuffer(r.record.value) },
  }));
  return { groups: segment.groups, rejected };
}

export class EncodePool implements SegmentEncoders {
  private readonly slots: Slot[] = [];
  private readonly inline: SegmentEncoders;
  private nextId = 1;
  private nextJob = 1;
  private closing = false;

  constructor(
    threads: number,
    private readonly deps: { catalog: Catalog; validator: EventValidator; fastJson?: boolean },
    private readonly logger: Logger,
  ) {
    this.inline = inlineEncoders(deps.validator, deps.fastJson);
    for (let i = 0; i < threads; i++) this.slots.push(this.start(i));
  }

  /** Threads alive now (0: every segment is encoded on the calling thread). */
  get liveThreads(): number {
    return this.slots.filter((s) => !s.dead).length;
  }

  private start(n: number): Slot {
    const worker = spawn(
      { catalog: this.deps.catalog, fastJson: this.deps.fastJson ?? true },
      `sluice-encode-${n}`,
    );
    const slot: Slot = { worker, pending: new Map(), segments: 0, ready: false, dead: false };
    worker.on('message', (m: FromEncodeThread) => {
      if (m.kind === 'ready') {
        slot.ready = true;
        return;
      }
      const p = slot.pending.get(m.job);
      if (!p) return;
      slot.pending.delete(m.job);
      this.holdOpen(slot);
      if (m.kind === 'failed') p.reject(new Error(m.message));
      else if (m.kind === 'progress') p.resolve(m.progress as never);
      else p.resolve(revive(m.segment) as never);
    });
    worker.on('error', (err) => this.logger.error({ err, thread: n }, 'encode thread failed'));
    worker.once('exit', (code) => {
      slot.dead = true;
      const err = new Error(
        `encode thread ${n} exited (code ${code}) while encoding a segment; the activity retries it`,
      );
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      if (this.closing) return;
      // A thread that ran before is replaced; one that could not even start would fail again.
      if (slot.ready) {
        this.logger.warn({ thread: n, code }, 'encode thread exited; starting a new one');
        this.slots[n] = this.start(n);
      } else {
        this.logger.error({ thread: n, code }, 'encode thread did not start; encoding on the main thread');
      }
    });
    this.holdOpen(slot);
    return slot;
  }

  /** A thread keeps the process alive only while it works, so a forgotten close() cannot hang an exit. */
  private holdOpen(slot: Slot): void {
    if (slot.pending.size > 0) slot.worker.ref();
    else slot.worker.unref();
  }

  private ask<T>(
    slot: Slot,
    message: ToEncodeThread & { job: number },
    transfer: ArrayBuffer[] = [],
  ): Promise<T> {
    if (slot.dead)
      return Promise.reject(new Error('the encode thread of this segment exited; the activity retries it'));
    return new Promise<T>((resolve, reject) => {
      slot.pending.set(message.job, { resolve, reject });
      this.holdOpen(slot);
      slot.worker.postMessage(message, transfer);
    });
  }

  open(spec: SegmentSpec): SegmentSession {
    // The live thread with the fewest open segments; none alive (none could start): inline.
    let slot: Slot | undefined;
    for (const s of this.slots) if (!s.dead && (!slot || s.segments < slot.segments)) slot = s;
    if (!slot) return this.inline.open(spec);
    const id = this.nextId++;
    const s = slot;
    s.segments++;
    let open = true;
    const close = (): void => {
      if (!open) return;
      open = false;
      s.segments--;
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
      add: (chunk) => {
        // A copy the thread owns: the fetched bytes may be a view of the connection's buffer.
        const data = new Uint8Array(chunk.data);
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
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
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
