// Worker threads started, watched and replaced the same way for every pool that has them (the
// proxy's prepare threads, the pipeline's encode threads): a thread that exits fails the requests
// it held at once, and is replaced if it had started; one that never got ready is not restarted
// (it would fail again in a loop) and its pool works on the calling thread instead. A thread keeps
// the process alive only while it has work (or, if asked, while it starts), so a pool nobody
// closed cannot hang an exit.
import type { Worker } from 'node:worker_threads';
import type { Logger } from './logger.js';

/** A request sent to a thread and not answered yet. */
export interface Waiter {
  reject(err: unknown): void;
}

export interface ThreadSlot<W extends Waiter, S> {
  readonly worker: Worker;
  /** The thread said it is ready. */
  ready: boolean;
  /** The thread exited: nothing more can be sent to it. */
  dead: boolean;
  /** Requests sent and not answered, by id. */
  readonly pending: Map<number, W>;
  /** Settles when the thread is ready, or exited without getting there. */
  readonly started: Promise<void>;
  /** What the pool keeps per thread. */
  readonly state: S;
}

export interface ThreadSlotsOptions<W extends Waiter, S, M> {
  threads: number;
  /** In log lines and errors: `<what> thread 0 exited`. */
  what: string;
  /** What the pool does while no thread is alive, for the log line, e.g. "preparing inline". */
  fallback: string;
  spawn(n: number): Worker;
  newState(): S;
  /** Whether a message from a thread is its "ready". */
  isReady(m: M): boolean;
  /** Every other message. */
  onMessage(slot: ThreadSlot<W, S>, m: M): void;
  /** The error requests held by a thread that exited are rejected with. */
  exitError(n: number, code: number): Error;
  /** Keep the process alive while a thread starts (the proxy waits for its threads before it listens). */
  refWhileStarting: boolean;
  logger: Logger;
}

export class ThreadSlots<W extends Waiter, S, M> {
  /** One per thread; a replaced thread gets a new slot at the same index. */
  readonly slots: ThreadSlot<W, S>[] = [];
  private closing = false;

  constructor(private readonly o: ThreadSlotsOptions<W, S, M>) {
    for (let n = 0; n < o.threads; n++) this.slots.push(this.start(n));
  }

  private start(n: number): ThreadSlot<W, S> {
    const { o } = this;
    const worker = o.spawn(n);
    let started!: () => void;
    const slot: ThreadSlot<W, S> = {
      worker,
      ready: false,
      dead: false,
      pending: new Map(),
      started: new Promise<void>((resolve) => (started = resolve)),
      state: o.newState(),
    };
    worker.on('message', (m: M) => {
      if (o.isReady(m)) {
        slot.ready = true;
        started();
        this.holdOpen(slot);
        return;
      }
      o.onMessage(slot, m);
    });
    worker.on('error', (err) => o.logger.error({ err, thread: n }, `${o.what} thread failed`));
    worker.once('exit', (code) => {
      slot.dead = true;
      started();
      const err = o.exitError(n, code);
      for (const w of slot.pending.values()) w.reject(err);
      slot.pending.clear();
      if (this.closing) return;
      if (slot.ready) {
        o.logger.warn({ thread: n, code }, `${o.what} thread exited; starting a new one`);
        this.slots[n] = this.start(n);
      } else {
        o.logger.error({ thread: n, code }, `${o.what} thread did not start; ${o.fallback}`);
      }
    });
    this.holdOpen(slot);
    return slot;
  }

  /** Refs the thread while it has work (or starts, if asked), unrefs it otherwise. */
  holdOpen(slot: ThreadSlot<W, S>): void {
    if (slot.pending.size > 0 || (this.o.refWhileStarting && !slot.ready && !slot.dead)) slot.worker.ref();
    else slot.worker.unref();
  }

  /** Sends a request; `waiter` is answered by onMessage or rejected if the thread exits. */
  send(slot: ThreadSlot<W, S>, id: number, waiter: W, message: unknown, transfer: ArrayBuffer[] = []): void {
    slot.pending.set(id, waiter);
    this.holdOpen(slot);
    slot.worker.postMessage(message, transfer);
  }

  /** The waiter of an answer, removed from the slot's pending requests. */
  answered(slot: ThreadSlot<W, S>, id: number): W | undefined {
    const w = slot.pending.get(id);
    if (!w) return undefined;
    slot.pending.delete(id);
    this.holdOpen(slot);
    return w;
  }

  /** The slot `usable` admits with the lowest `load`, or undefined. */
  pick(
    usable: (s: ThreadSlot<W, S>) => boolean,
    load: (s: ThreadSlot<W, S>) => number,
  ): ThreadSlot<W, S> | undefined {
    let best: ThreadSlot<W, S> | undefined;
    for (const s of this.slots) if (usable(s) && (!best || load(s) < load(best))) best = s;
    return best;
  }

  async close(): Promise<void> {
    this.closing = true;
    await Promise.all(this.slots.map((s) => s.worker.terminate()));
  }
}
