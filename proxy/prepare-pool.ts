// Parsing, validating and enveloping a request's events (proxy.prepareThreads): on worker threads,
// so the main thread, which alone runs HTTP, the Kafka client and the spool, does not also spend
// a third of its time on JSON. With 0 threads, or while no thread is alive, it runs inline.
import type { Worker } from 'node:worker_threads';
import type { ErrorCode } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { startThread } from '../lib/threads.js';
import type { Catalog } from '../schemas/catalog.js';
import type { EventValidator } from '../schemas/validator.js';
import { HttpError } from './http-error.js';
import { parseBody, type BodyFormat } from './parse-body.js';
import { prepareEvents, type PreparedEvent } from './prepare.js';
import { decodePrepared, type WireBatch } from './prepare-wire.js';

export interface PrepareWorkerData {
  catalog: Catalog;
}

export interface PrepareJob {
  id: number;
  body: Uint8Array;
  format: BodyFormat;
  /** Epoch ms of the request: every event of it gets the same ingest time. */
  now: number;
  test: boolean;
  defaultSource: string;
  maxEventBytes: number;
  /** The caller's event type scopes. */
  eventTypes: readonly string[];
}

export type PrepareReply =
  | { id: number; ok: true; items: number; batch: WireBatch }
  | {
      id: number;
      ok: false;
      error: { code?: ErrorCode; message: string; details?: unknown; retryAfter?: number | undefined };
    };

export interface PrepareRequest {
  body: Buffer;
  format: BodyFormat;
  now: Date;
  test: boolean;
  defaultSource: string;
  maxEventBytes: number;
  eventTypes: readonly string[];
  mayUse: (type: string) => boolean;
  /** Charges the caller for the events found (throws 429); inline, before they are validated. */
  spend: (events: number) => void;
}

interface Pending {
  resolve: (events: PreparedEvent[]) => void;
  reject: (err: unknown) => void;
  spend: (events: number) => void;
  shared: SharedArrayBuffer;
}

interface Slot {
  worker: Worker;
  ready: boolean;
  pending: Map<number, Pending>;
  started: Promise<void>;
  /** Body buffers the thread is done with, for the next requests. */
  free: SharedArrayBuffer[];
}

// Bodies reach a thread through shared memory that is reused: transferring each body's own
// ArrayBuffer cost the main thread more (fresh pages every request) than a copy into a warm one.
const MIN_SHARED_BYTES = 16 * 1024;
const KEEP_SHARED_BYTES = 1024 * 1024;
const KEEP_SHARED_BUFFERS = 32;

function sharedFor(slot: Slot, bytes: number): SharedArrayBuffer {
  const i = slot.free.findIndex((b) => b.byteLength >= bytes);
  if (i >= 0) return slot.free.splice(i, 1)[0]!;
  let size = MIN_SHARED_BYTES;
  while (size < bytes) size *= 2;
  return new SharedArrayBuffer(size);
}

function release(slot: Slot, b: SharedArrayBuffer): void {
  // Rare large bodies must not pin their memory.
  if (b.byteLength <= KEEP_SHARED_BYTES && slot.free.length < KEEP_SHARED_BUFFERS) slot.free.push(b);
}

/**
 * A thread keeps the process alive only while it starts or works, so a forgotten stop() cannot
 * hang an exit. (Called after the listeners are added: adding a 'message' listener refs it.)
 */
function holdOpen(slot: Slot): void {
  if (!slot.ready || slot.pending.size > 0) slot.worker.ref();
  else slot.worker.unref();
}

function spawn(data: PrepareWorkerData, name: string): Worker {
  return startThread(import.meta.url, 'prepare-worker', data, name);
}

export class PreparePool {
  private readonly slots: Slot[] = [];
  private nextId = 1;
  private closing = false;

  constructor(
    threads: number,
    private readonly deps: { catalog: Catalog; validator: EventValidator },
    private readonly logger: Logger,
  ) {
    for (let i = 0; i < threads; i++) this.slots.push(this.start(i));
  }

  get threads(): number {
    return this.slots.length;
  }

  /** Resolves once every thread compiled its validators (or failed to start: then inline). */
  async ready(): Promise<void> {
    await Promise.all(this.slots.map((s) => s.started));
  }

  private start(n: number): Slot {
    const worker = spawn({ catalog: this.deps.catalog }, `sluice-prepare-${n}`);
    let started!: () => void;
    const slot: Slot = {
      worker,
      ready: false,
      pending: new Map(),
      free: [],
      started: new Promise<void>((r) => (started = r)),
    };
    worker.on('message', (m: PrepareReply | { ready: true }) => {
      if ('ready' in m) {
        slot.ready = true;
        started();
        holdOpen(slot);
        return;
      }
      const p = slot.pending.get(m.id);
      if (!p) return;
      slot.pending.delete(m.id);
      release(slot, p.shared);
      holdOpen(slot);
      if (!m.ok) {
        const e = m.error;
        p.reject(e.code ? new HttpError(e.code, e.message, e.details, e.retryAfter) : new Error(e.message));
        return;
      }
      try {
        p.spend(m.items);
        p.resolve(decodePrepared(m.batch));
      } catch (err) {
        p.reject(err);
      }
    });
    worker.on('error', (err) => this.logger.error({ err, thread: n }, 'prepare thread failed'));
    worker.once('exit', (code) => {
      const wasReady = slot.ready;
      slot.ready = false;
      started();
      const err = new Error(`prepare thread ${n} exited (code ${code}) during the request; retry it`);
      for (const p of slot.pending.values()) p.reject(err);
      slot.pending.clear();
      if (this.closing) return;
      // A thread that ran before is replaced; one that could not even start would fail again.
      if (wasReady) {
        this.logger.warn({ thread: n, code }, 'prepare thread exited; starting a new one');
        this.slots[n] = this.start(n);
      } else {
        this.logger.error({ thread: n, code }, 'prepare thread did not start; preparing inline');
      }
    });
    holdOpen(slot);
    return slot;
  }

  /** The parsed, validated and enveloped events of a body; throws HttpError for whole-body errors. */
  prepare(req: PrepareRequest): Promise<PreparedEvent[]> {
    // The least busy live thread.
    let slot: Slot | undefined;
    for (const s of this.slots) if (s.ready && (!slot || s.pending.size < slot.pending.size)) slot = s;
    if (!slot) return Promise.resolve(prepareInline(req, this.deps));
    const id = this.nextId++;
    const shared = sharedFor(slot, req.body.length);
    const body = new Uint8Array(shared, 0, req.body.length);
    body.set(req.body);
    const job: PrepareJob = {
      id,
      body,
      format: req.format,
      now: req.now.getTime(),
      test: req.test,
      defaultSource: req.defaultSource,
      maxEventBytes: req.maxEventBytes,
      eventTypes: req.eventTypes,
    };
    const s = slot;
    return new Promise<PreparedEvent[]>((resolve, reject) => {
      s.pending.set(id, { resolve, reject, spend: req.spend, shared });
      holdOpen(s);
      s.worker.postMessage(job);
    });
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}

/** The same work on the calling thread; the caller is charged before validation starts. */
export function prepareInline(
  req: PrepareRequest,
  deps: { catalog: Catalog; validator: EventValidator },
): PreparedEvent[] {
  const items = parseBody(req.body, req.format);
  req.spend(items.length);
  return prepareEvents(
    items,
    req.format,
    {
      now: req.now,
      test: req.test,
      defaultSource: req.defaultSource,
      maxEventBytes: req.maxEventBytes,
      mayUse: req.mayUse,
    },
    deps,
  );
}
