// Parsing, validating and enveloping a request's events (proxy.prepareThreads): on worker threads,
// so the main thread, which alone runs HTTP, the Kafka client and the spool, does not also spend
// a third of its time on JSON. With 0 threads, or while no thread is alive, it runs inline.
import type { ErrorCode } from '../lib/errors.js';
import type { Logger } from '../lib/logger.js';
import { ThreadSlots, type ThreadSlot } from '../lib/thread-slots.js';
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

/** Per thread: body buffers it is done with, for the next requests. */
interface Buffers {
  free: SharedArrayBuffer[];
}

type Slot = ThreadSlot<Pending, Buffers>;

// Bodies reach a thread through shared memory that is reused: transferring each body's own
// ArrayBuffer cost the main thread more (fresh pages every request) than a copy into a warm one.
const MIN_SHARED_BYTES = 16 * 1024;
const KEEP_SHARED_BYTES = 1024 * 1024;
const KEEP_SHARED_BUFFERS = 32;

function sharedFor(slot: Slot, bytes: number): SharedArrayBuffer {
  const { free } = slot.state;
  const i = free.findIndex((b) => b.byteLength >= bytes);
  if (i >= 0) return free.splice(i, 1)[0]!;
  let size = MIN_SHARED_BYTES;
  while (size < bytes) size *= 2;
  return new SharedArrayBuffer(size);
}

function release(slot: Slot, b: SharedArrayBuffer): void {
  // Rare large bodies must not pin their memory.
  const { free } = slot.state;
  if (b.byteLength <= KEEP_SHARED_BYTES && free.length < KEEP_SHARED_BUFFERS) free.push(b);
}

export class PreparePool {
  private readonly pool: ThreadSlots<Pending, Buffers, PrepareReply | { ready: true }>;
  private nextId = 1;

  constructor(
    threads: number,
    private readonly deps: { catalog: Catalog; validator: EventValidator },
    logger: Logger,
  ) {
    this.pool = new ThreadSlots({
      threads,
      what: 'prepare',
      fallback: 'preparing inline',
      spawn: (n) =>
        startThread(
          import.meta.url,
          'prepare-worker',
          { catalog: deps.catalog } satisfies PrepareWorkerData,
          `sluice-prepare-${n}`,
        ),
      newState: () => ({ free: [] }),
      isReady: (m) => 'ready' in m,
      onMessage: (slot, m) => {
        if ('ready' in m) return;
        const p = this.pool.answered(slot, m.id);
        if (!p) return;
        release(slot, p.shared);
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
      },
      exitError: (n, code) =>
        new Error(`prepare thread ${n} exited (code ${code}) during the request; retry it`),
      // The proxy waits for its threads before it listens.
      refWhileStarting: true,
      logger,
    });
  }

  get threads(): number {
    return this.pool.slots.length;
  }

  /** The threads' slots (tests look at them). */
  get slots(): readonly Slot[] {
    return this.pool.slots;
  }

  /** Resolves once every thread compiled its validators (or failed to start: then inline). */
  async ready(): Promise<void> {
    await Promise.all(this.pool.slots.map((s) => s.started));
  }

  /** The parsed, validated and enveloped events of a body; throws HttpError for whole-body errors. */
  prepare(req: PrepareRequest): Promise<PreparedEvent[]> {
    // The least busy thread that is ready; while none is, the calling thread.
    const slot = this.pool.pick(
      (s) => s.ready && !s.dead,
      (s) => s.pending.size,
    );
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
    return new Promise<PreparedEvent[]>((resolve, reject) => {
      this.pool.send(slot, id, { resolve, reject, spend: req.spend, shared }, job);
    });
  }

  async close(): Promise<void> {
    await this.pool.close();
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
