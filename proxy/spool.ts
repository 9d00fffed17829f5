// The async mode's durable queue: `Prefer: respond-async` answers 202 once a batch is in here,
// and a background loop delivers it to Kafka. Bounded, append-only, crash-safe.
//
// On disk, one directory per spool:
//   00000000000000000001.spool, ...  segments, each a run of frames:
//     frame   = [u32 BE payload length][u32 BE crc32(payload)][payload]      (one frame = one batch)
//     payload = [u8 version = 1][u32 record count], then per record:
//               [u32 topic length][topic utf8][u32 key length, 0xffffffff = null][key bytes]
//               [u32 value length][value bytes][u32 header count],
//               then per header [u32 name length][name utf8][u32 value length][value utf8]
//   checkpoint.json  {"version":1,"segment":S,"offset":O}: every frame before byte O of segment S
//     (and in any lower segment) has been delivered. Replaced via temp file + fsync + rename.
//
// Guarantees:
// - append() resolves only after its frame is written and fdatasync'ed (and the directory fsync'ed
//   when a new segment file was created), so a resolved append survives kill -9 and power loss.
// - A batch is a single checksummed frame: after a crash it is there entirely or not at all.
// - Delivery is AT-LEAST-ONCE: deliver() resolving and the checkpoint becoming durable are two
//   steps, so a crash between them delivers that batch (only that one) again after restart.
// - Nothing is dropped silently: a full spool throws SpoolFullError; deliver() failures are retried
//   forever in order; a bad frame is only discarded when it is the torn tail of the last segment
//   (an append that never resolved), anything else makes open() fail with SpoolCorruptError.
// - maxBytes bounds pendingBytes (undelivered frames, headers included). Segments are deleted
//   whole once delivered, so the disk may hold up to one more segment of delivered frames.
// - One Spool per directory: enforced within a process only (there is no cross-process lock).
import { mkdir, open, readdir, readFile, rename, rm, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { crc32 } from 'node:zlib';

export interface SpoolRecord {
  topic: string;
  key: Buffer | null;
  value: Buffer;
  headers: Record<string, string>;
}

export class SpoolFullError extends Error {
  readonly code = 'SPOOL_FULL';
  override readonly name = 'SpoolFullError';
  constructor(
    readonly usedBytes: number,
    readonly maxBytes: number,
    readonly batchBytes: number,
  ) {
    super(
      `spool full: ${usedBytes} of ${maxBytes} bytes (${Math.floor((usedBytes / maxBytes) * 100)}%) ` +
        `are waiting for delivery; a batch of ${batchBytes} bytes does not fit`,
    );
  }
}

/** A frame that is not a torn tail failed its checks: the spool cannot be trusted to continue. */
export class SpoolCorruptError extends Error {
  readonly code = 'SPOOL_CORRUPT';
  override readonly name = 'SpoolCorruptError';
  constructor(
    readonly file: string,
    readonly offset: number,
    reason: string,
  ) {
    super(`corrupt spool: ${file} at offset ${offset}: ${reason}`);
  }
}

export interface SpoolOptions {
  maxBytes: number;
  /** A segment is closed and a new one started once the next frame would exceed this. Default 64 MiB. */
  segmentBytes?: number;
}

export interface DeliveryOptions {
  /** First backoff after a failed deliver(); doubles per failure up to 5 s. Default 100 ms. */
  retryMs?: number;
  onError?: (err: unknown) => void;
}

const FRAME_HEADER = 8;
const FORMAT_VERSION = 1;
const MIN_PAYLOAD = 5; // version + record count: rejects zero-filled tails (crc32 of nothing is 0)
const NULL_KEY = 0xffffffff;
const MAX_BACKOFF_MS = 5000;
const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const MAX_SEGMENT_BYTES = 1024 * 1024 * 1024; // open() reads a whole segment into memory
const CHECKPOINT = 'checkpoint.json';
const CHECKPOINT_TMP = 'checkpoint.json.tmp';
const SEGMENT_RE = /^(\d{20})\.spool$/;

interface FrameRef {
  segment: number;
  offset: number;
  bytes: number;
  records: number;
}

interface Position {
  segment: number;
  offset: number;
}

interface QueuedAppend {
  frame: Buffer;
  records: number;
  settled: boolean;
  resolve: () => void;
  reject: (err: unknown) => void;
}

interface ActiveSegment {
  segment: number;
  size: number;
  fh: FileHandle;
}

interface DeliveryState {
  stopping: boolean;
  done: Promise<void>;
  onError: ((err: unknown) => void) | undefined;
  /** Cuts a backoff pause or an idle wait short; set while the loop is waiting. */
  interrupt: (() => void) | null;
}

const segmentName = (segment: number): string => `${String(segment).padStart(20, '0')}.spool`;

/** Opened spool directories in this process: two writers on one directory would corrupt it. */
const openDirs = new Set<string>();

export class Spool {
  private readonly pending = new FrameQueue();
  private pendingBytesCount = 0;
  private pendingRecordsCount = 0;
  /** Appends accepted but not yet durable; counted against maxBytes so concurrent callers cannot overshoot. */
  private queue: QueuedAppend[] = [];
  private queuedBytes = 0;
  private flushing: Promise<void> | null = null;
  /** Set when the on-disk state is unknown (failed fsync): only a reopen, which rescans, can continue. */
  private broken: Error | null = null;
  private closed = false;
  private cursor: Position | null;
  private cursorDirty = false;
  private reader: { segment: number; fh: FileHandle } | null = null;
  private delivery: DeliveryState | null = null;
  private appendWaiter: (() => void) | null = null;
  private readonly idleWaiters = new Set<() => void>();

  private constructor(
    private readonly dir: string,
    private readonly maxBytes: number,
    private readonly segmentBytes: number,
    private readonly dirFh: FileHandle,
    private active: ActiveSegment,
    /** Segment numbers before the active one still on disk, ascending. */
    private readonly sealed: number[],
    checkpoint: Position | null,
    frames: FrameRef[],
    /** What open() cut off the end of the last segment (an append that never resolved), if anything. */
    readonly truncatedTail: { file: string; offset: number; bytes: number } | null,
  ) {
    this.cursor = checkpoint;
    for (const f of frames) this.addPending(f);
  }

  static async open(dir: string, opts: SpoolOptions): Promise<Spool> {
    const { maxBytes, segmentBytes = DEFAULT_SEGMENT_BYTES } = opts;
    if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new RangeError(`bad maxBytes ${maxBytes}`);
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes <= 0 || segmentBytes > MAX_SEGMENT_BYTES) {
      throw new RangeError(`segmentBytes must be between 1 and ${MAX_SEGMENT_BYTES}, got ${segmentBytes}`);
    }
    const abs = resolve(dir);
    if (openDirs.has(abs)) throw new Error(`spool ${abs} is already open in this process`);
    openDirs.add(abs);
    const handles: FileHandle[] = [];
    try {
      const created = await mkdir(abs, { recursive: true });
      // The new directory entries themselves must be durable, up to the first one mkdir created.
      for (let d = abs; created !== undefined; d = dirname(d)) {
        await syncDir(dirname(d));
        if (d === created) break;
      }
      const dirFh = await open(abs, 'r');
      handles.push(dirFh);
      await rm(join(abs, CHECKPOINT_TMP), { force: true });
      const checkpoint = await readCheckpoint(abs);

      const all = (await readdir(abs))
        .map((name) => SEGMENT_RE.exec(name)?.[1])
        .filter((n): n is string => n !== undefined)
        .map(Number)
        .sort((a, b) => a - b);
      // Segments below the checkpoint were delivered; a crash stopped their deletion.
      const live: number[] = [];
      for (const s of all) {
        if (checkpoint && s < checkpoint.segment) await unlink(join(abs, segmentName(s)));
        else live.push(s);
      }

      const frames: FrameRef[] = [];
      let truncatedTail: Spool['truncatedTail'] = null;
      let active: ActiveSegment | null = null;
      for (const [i, segment] of live.entries()) {
        const file = join(abs, segmentName(segment));
        const start = checkpoint?.segment === segment ? checkpoint.offset : 0;
        const buf = await readFile(file);
        if (start > buf.length) {
          throw new SpoolCorruptError(file, start, `checkpoint points past the end (${buf.length} bytes)`);
        }
        const scan = scanFrames(buf, start);
        for (const f of scan.frames) frames.push({ segment, ...f });
        const last = i === live.length - 1;
        if (scan.bad) {
          // Only an append that never resolved can be torn, and only at the very end of the log;
          // any valid frame after the bad one means the damage is in acknowledged data.
          if (!last || hasFrameAfter(buf, scan.bad.offset + 1)) {
            throw new SpoolCorruptError(file, scan.bad.offset, scan.bad.reason);
          }
          truncatedTail = { file, offset: scan.bad.offset, bytes: buf.length - scan.bad.offset };
        }
        if (last) {
          const fh = await open(file, 'r+');
          handles.push(fh);
          if (scan.bad) {
            await fh.truncate(scan.bad.offset);
            await fh.datasync();
          }
          active = { segment, size: scan.end, fh };
        }
      }
      if (!active) {
        // Numbering continues past the checkpoint so a new segment never reuses a delivered position.
        const segment = (checkpoint?.segment ?? 0) + 1;
        const fh = await open(join(abs, segmentName(segment)), 'w');
        handles.push(fh);
        await fh.sync();
        await dirFh.sync();
        active = { segment, size: 0, fh };
      }
      // Sealed segments with nothing pending (fully delivered at the checkpoint) can go now.
      const withFrames = new Set(frames.map((f) => f.segment));
      const sealed: number[] = [];
      for (const s of live) {
        if (s === active.segment) continue;
        if (withFrames.has(s)) sealed.push(s);
        else await unlink(join(abs, segmentName(s)));
      }
      return new Spool(abs, maxBytes, segmentBytes, dirFh, active, sealed, checkpoint, frames, truncatedTail);
    } catch (err) {
      for (const fh of handles) await fh.close().catch(() => undefined);
      openDirs.delete(abs);
      throw err;
    }
  }

  get pendingBytes(): number {
    return this.pendingBytesCount;
  }

  get pendingRecords(): number {
    return this.pendingRecordsCount;
  }

  get pendingBatches(): number {
    return this.pending.length;
  }

  /**
   * Appends one batch atomically and durably. Throws SpoolFullError, writing nothing, when it would
   * push the spool past maxBytes. Callers are serialized in call order; appends that arrive while
   * an fsync is in flight are written together and share the next fsync (group commit). An empty
   * batch resolves at once.
   */
  append(records: SpoolRecord[]): Promise<void> {
    if (this.closed) return Promise.reject(new Error(`spool ${this.dir} is closed`));
    if (this.broken) return Promise.reject(this.brokenError());
    if (records.length === 0) return Promise.resolve(); // nothing to make durable
    let frame: Buffer;
    try {
      frame = encodeFrame(records);
    } catch (err) {
      return Promise.reject(err instanceof Error ? err : new Error(String(err)));
    }
    const used = this.pendingBytesCount + this.queuedBytes;
    if (used + frame.length > this.maxBytes) {
      return Promise.reject(new SpoolFullError(used, this.maxBytes, frame.length));
    }
    this.queuedBytes += frame.length;
    return new Promise<void>((resolve, reject) => {
      this.queue.push({ frame, records: records.length, settled: false, resolve, reject });
      this.kickFlush();
    });
  }

  /**
   * Delivers pending batches in append order, one at a time, checkpointing each after deliver()
   * resolves. A failing deliver() is retried (backoff from retryMs, doubling, capped at 5 s), never
   * skipped. Runs until stop(); an append wakes it immediately.
   */
  startDelivery(deliver: (records: SpoolRecord[]) => Promise<void>, opts: DeliveryOptions = {}): void {
    if (this.closed) throw new Error(`spool ${this.dir} is closed`);
    if (this.delivery) throw new Error(`delivery of spool ${this.dir} is already running`);
    const retryMs = opts.retryMs ?? 100;
    if (!(retryMs > 0)) throw new RangeError(`retryMs must be positive, got ${retryMs}`);
    const state: DeliveryState = {
      stopping: false,
      done: Promise.resolve(),
      onError: opts.onError,
      interrupt: null,
    };
    this.delivery = state;
    state.done = this.runDelivery(state, deliver, retryMs).finally(() => {
      if (this.delivery === state) this.delivery = null;
      // Nothing will be delivered any more: release drain waits instead of leaving them hanging.
      for (const wake of [...this.idleWaiters]) wake();
    });
  }

  /**
   * Stops delivery once the batch in hand is delivered (or has failed). With `drain`, first waits
   * until nothing is pending or queued (at most timeoutMs when given). Does nothing if delivery is
   * not running.
   */
  async stop(opts: { drain?: boolean; timeoutMs?: number } = {}): Promise<void> {
    const state = this.delivery;
    if (!state) return;
    if (opts.drain && !state.stopping) await this.waitIdle(opts.timeoutMs);
    state.stopping = true;
    state.interrupt?.();
    await state.done;
  }

  /** Stops delivery, lets accepted appends finish, and releases the files. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.stop();
    while (this.flushing) await this.flushing;
    let error: Error | null = null;
    if (this.cursorDirty && !this.broken) {
      try {
        await this.persistCursor();
      } catch (err) {
        error = err instanceof Error ? err : new Error(String(err)); // at-least-once: the last batch is delivered again after reopening
      }
    }
    await this.reader?.fh.close().catch(() => undefined);
    this.reader = null;
    await this.active.fh.close().catch(() => undefined);
    await this.dirFh.close().catch(() => undefined);
    openDirs.delete(this.dir);
    if (error !== null) throw error;
  }

  // ---- appending ----

  private kickFlush(): void {
    if (this.flushing) return;
    this.flushing = this.flushQueue().finally(() => {
      this.flushing = null;
      this.notifyIfIdle();
    });
  }

  private async flushQueue(): Promise<void> {
    while (this.queue.length > 0) {
      const group = this.queue;
      this.queue = [];
      try {
        await this.writeGroup(group);
      } catch (err) {
        for (const item of group) this.settle(item, err);
      }
    }
  }

  private settle(item: QueuedAppend, err?: unknown): void {
    if (item.settled) return;
    item.settled = true;
    this.queuedBytes -= item.frame.length;
    if (err === undefined) item.resolve();
    else item.reject(err);
  }

  /** Writes a group of frames, in as many chunks as segment boundaries require; each chunk is fsync'ed. */
  private async writeGroup(group: QueuedAppend[]): Promise<void> {
    let i = 0;
    while (i < group.length) {
      if (this.broken) throw this.brokenError();
      const first = group[i]!;
      if (this.active.size > 0 && this.active.size + first.frame.length > this.segmentBytes) {
        await this.roll();
      }
      const chunk = [first];
      let bytes = first.frame.length;
      for (i++; i < group.length; i++) {
        const next = group[i]!;
        if (this.active.size + bytes + next.frame.length > this.segmentBytes) break;
        chunk.push(next);
        bytes += next.frame.length;
      }
      await this.writeChunk(chunk, bytes);
    }
  }

  private async writeChunk(chunk: QueuedAppend[], bytes: number): Promise<void> {
    const { fh, segment, size: start } = this.active;
    const buf =
      chunk.length === 1
        ? chunk[0]!.frame
        : Buffer.concat(
            chunk.map((c) => c.frame),
            bytes,
          );
    try {
      await writeFully(fh, buf, start);
    } catch (err) {
      // A partial frame left here would sit in front of later appends and read as mid-log corruption.
      try {
        await fh.truncate(start);
        await fh.datasync();
      } catch (cause) {
        this.broken = new Error(`could not undo a failed write to ${segmentName(segment)}`, { cause });
      }
      throw err;
    }
    try {
      await fh.datasync();
    } catch (err) {
      // After a failed fsync the kernel may have dropped the dirty pages: what is on disk is unknown.
      this.broken = new Error(`fsync of ${segmentName(segment)} failed`, { cause: err });
      throw err;
    }
    this.active.size = start + bytes;
    let offset = start;
    for (const item of chunk) {
      this.addPending({ segment, offset, bytes: item.frame.length, records: item.records });
      offset += item.frame.length;
      this.settle(item);
    }
    this.appendWaiter?.();
  }

  private async roll(): Promise<void> {
    const segment = this.active.segment + 1;
    // 'w': a file with this number can only be the empty leftover of an earlier failed roll.
    const fh = await open(join(this.dir, segmentName(segment)), 'w');
    try {
      await fh.sync();
      await this.dirFh.sync();
    } catch (err) {
      await fh.close().catch(() => undefined);
      throw err;
    }
    const old = this.active;
    this.active = { segment, size: 0, fh };
    this.sealed.push(old.segment);
    await old.fh.close().catch(() => undefined); // its data was fsync'ed already
  }

  private addPending(f: FrameRef): void {
    this.pending.push(f);
    this.pendingBytesCount += f.bytes;
    this.pendingRecordsCount += f.records;
  }

  private brokenError(): Error {
    return new Error(`spool ${this.dir} is unusable after an I/O failure; reopen it`, { cause: this.broken });
  }

  // ---- delivery ----

  private async runDelivery(
    state: DeliveryState,
    deliver: (records: SpoolRecord[]) => Promise<void>,
    retryMs: number,
  ): Promise<void> {
    let delay = retryMs;
    const failed = async (err: unknown): Promise<void> => {
      report(state, err);
      if (state.stopping) return;
      await this.pause(state, delay);
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    };
    while (!state.stopping) {
      if (this.cursorDirty) {
        // A checkpoint write failed earlier; the batch must be marked done before the next one.
        try {
          await this.persistCursor();
          delay = retryMs;
          await this.collectGarbage(state);
          this.notifyIfIdle();
        } catch (err) {
          await failed(err);
        }
        continue;
      }
      const head = this.pending.peek();
      if (!head) {
        await this.waitForAppend(state);
        continue;
      }
      try {
        await deliver(await this.readFrame(head));
      } catch (err) {
        await failed(err);
        continue;
      }
      delay = retryMs;
      this.pending.shift();
      this.pendingBytesCount -= head.bytes;
      this.pendingRecordsCount -= head.records;
      this.cursor = { segment: head.segment, offset: head.offset + head.bytes };
      this.cursorDirty = true;
      // A crash from here until persistCursor() finishes re-delivers this batch (at-least-once).
      try {
        await this.persistCursor();
        await this.collectGarbage(state);
        this.notifyIfIdle();
      } catch (err) {
        await failed(err);
      }
    }
  }

  private async readFrame(ref: FrameRef): Promise<SpoolRecord[]> {
    if (this.reader?.segment !== ref.segment) {
      await this.reader?.fh.close().catch(() => undefined);
      this.reader = null;
      this.reader = { segment: ref.segment, fh: await open(join(this.dir, segmentName(ref.segment)), 'r') };
    }
    const buf = Buffer.allocUnsafe(ref.bytes);
    const { bytesRead } = await this.reader.fh.read(buf, 0, ref.bytes, ref.offset);
    const file = join(this.dir, segmentName(ref.segment));
    if (bytesRead !== ref.bytes) {
      throw new SpoolCorruptError(file, ref.offset, `frame of ${ref.bytes} bytes, only ${bytesRead} read`);
    }
    const payload = buf.subarray(FRAME_HEADER);
    if (buf.readUInt32BE(0) !== payload.length || crc32(payload) !== buf.readUInt32BE(4)) {
      throw new SpoolCorruptError(file, ref.offset, 'frame changed on disk since it was written');
    }
    try {
      return decodePayload(payload);
    } catch (err) {
      throw new SpoolCorruptError(file, ref.offset, err instanceof Error ? err.message : String(err));
    }
  }

  /** Makes the delivered position durable: temp file, fsync, rename, fsync of the directory. */
  private async persistCursor(): Promise<void> {
    const cursor = this.cursor;
    if (!cursor) return;
    const tmp = join(this.dir, CHECKPOINT_TMP);
    const fh = await open(tmp, 'w');
    try {
      await fh.writeFile(`${JSON.stringify({ version: 1, ...cursor })}\n`);
      await fh.datasync();
    } finally {
      await fh.close();
    }
    await rename(tmp, join(this.dir, CHECKPOINT));
    await this.dirFh.sync();
    if (this.cursor === cursor) this.cursorDirty = false;
  }

  /** Deletes sealed segments with nothing left to deliver (the checkpoint is already past them). */
  private async collectGarbage(state: DeliveryState): Promise<void> {
    const head = this.pending.peek();
    while (this.sealed.length > 0) {
      const s = this.sealed[0]!;
      if (head && head.segment <= s) break;
      if (this.reader?.segment === s) {
        await this.reader.fh.close().catch(() => undefined);
        this.reader = null;
      }
      try {
        await unlink(join(this.dir, segmentName(s)));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
          report(state, err); // harmless leftover: open() removes it via the checkpoint
          return;
        }
      }
      this.sealed.shift();
    }
  }

  private async waitForAppend(state: DeliveryState): Promise<void> {
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        this.appendWaiter = null;
        state.interrupt = null;
        resolve();
      };
      this.appendWaiter = wake;
      state.interrupt = wake;
    });
  }

  private async pause(state: DeliveryState, ms: number): Promise<void> {
    await new Promise<void>((resolve) => {
      const timer = setTimeout(() => {
        state.interrupt = null;
        resolve();
      }, ms);
      state.interrupt = () => {
        clearTimeout(timer);
        state.interrupt = null;
        resolve();
      };
    });
  }

  private isIdle(): boolean {
    return this.pending.length === 0 && this.queue.length === 0 && !this.flushing && !this.cursorDirty;
  }

  private notifyIfIdle(): void {
    if (!this.isIdle()) return;
    for (const wake of [...this.idleWaiters]) wake();
  }

  private async waitIdle(timeoutMs: number | undefined): Promise<void> {
    if (this.isIdle()) return;
    await new Promise<void>((resolve) => {
      const wake = (): void => {
        clearTimeout(timer);
        this.idleWaiters.delete(wake);
        resolve();
      };
      const timer = timeoutMs === undefined ? undefined : setTimeout(wake, timeoutMs);
      this.idleWaiters.add(wake);
    });
  }
}

function report(state: DeliveryState, err: unknown): void {
  try {
    state.onError?.(err);
  } catch {
    // a throwing error callback must not stop delivery
  }
}

/** Pending frames in order; a head index keeps shift() O(1) for long queues. */
class FrameQueue {
  private items: FrameRef[] = [];
  private head = 0;

  get length(): number {
    return this.items.length - this.head;
  }

  peek(): FrameRef | undefined {
    return this.items[this.head];
  }

  push(f: FrameRef): void {
    this.items.push(f);
  }

  shift(): void {
    if (this.head >= this.items.length) return;
    this.head++;
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

// ---- files ----

async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function writeFully(fh: FileHandle, buf: Buffer, position: number): Promise<void> {
  let done = 0;
  while (done < buf.length) {
    const { bytesWritten } = await fh.write(buf, done, buf.length - done, position + done);
    done += bytesWritten;
  }
}

async function readCheckpoint(dir: string): Promise<Position | null> {
  const file = join(dir, CHECKPOINT);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  let parsed: unknown = null;
  try {
    parsed = JSON.parse(text);
  } catch {
    // reported below: rename() never exposes a half-written checkpoint, so this is damage
  }
  const { version, segment, offset } = (parsed ?? {}) as Record<string, unknown>;
  if (
    version !== 1 ||
    typeof segment !== 'number' ||
    typeof offset !== 'number' ||
    !Number.isSafeInteger(segment) ||
    !Number.isSafeInteger(offset) ||
    segment < 1 ||
    offset < 0
  ) {
    throw new SpoolCorruptError(file, 0, `not a valid checkpoint: ${JSON.stringify(text.slice(0, 200))}`);
  }
  return { segment, offset };
}

// ---- frames ----

interface Scan {
  frames: Omit<FrameRef, 'segment'>[];
  /** End of the last valid frame. */
  end: number;
  bad?: { offset: number; reason: string };
}

function scanFrames(buf: Buffer, start: number): Scan {
  const frames: Scan['frames'] = [];
  let offset = start;
  while (offset < buf.length) {
    const bad = (reason: string): Scan => ({ frames, end: offset, bad: { offset, reason } });
    if (buf.length - offset < FRAME_HEADER) return bad('incomplete frame header');
    const len = buf.readUInt32BE(offset);
    if (len < MIN_PAYLOAD) return bad(`impossible payload length ${len}`);
    const end = offset + FRAME_HEADER + len;
    if (end > buf.length) return bad(`frame of ${len} bytes runs past the end of the file`);
    const payload = buf.subarray(offset + FRAME_HEADER, end);
    if (crc32(payload) !== buf.readUInt32BE(offset + 4)) return bad('checksum mismatch');
    if (payload[0] !== FORMAT_VERSION) return bad(`unknown payload version ${payload[0]}`);
    frames.push({ offset, bytes: end - offset, records: payload.readUInt32BE(1) });
    offset = end;
  }
  return { frames, end: offset };
}

/** Whether any valid frame starts at or after `from`: tells a torn tail from damage mid-log. */
function hasFrameAfter(buf: Buffer, from: number): boolean {
  for (let at = from; at + FRAME_HEADER + MIN_PAYLOAD <= buf.length; at++) {
    const len = buf.readUInt32BE(at);
    const end = at + FRAME_HEADER + len;
    if (len < MIN_PAYLOAD || end > buf.length || buf[at + FRAME_HEADER] !== FORMAT_VERSION) continue;
    if (crc32(buf.subarray(at + FRAME_HEADER, end)) === buf.readUInt32BE(at + 4)) return true;
  }
  return false;
}

function encodeFrame(records: SpoolRecord[]): Buffer {
  const encoded = records.map((r, i) => {
    if (typeof r.topic !== 'string' || r.topic === '') throw new TypeError(`record ${i}: topic missing`);
    if (!Buffer.isBuffer(r.value)) throw new TypeError(`record ${i}: value must be a Buffer`);
    if (r.key !== null && !Buffer.isBuffer(r.key))
      throw new TypeError(`record ${i}: key must be a Buffer or null`);
    const headers = Object.entries(r.headers).map(([name, value]) => {
      if (typeof value !== 'string') throw new TypeError(`record ${i}: header ${name} must be a string`);
      return [Buffer.from(name, 'utf8'), Buffer.from(value, 'utf8')] as const;
    });
    return { topic: Buffer.from(r.topic, 'utf8'), key: r.key, value: r.value, headers };
  });
  let size = FRAME_HEADER + MIN_PAYLOAD;
  for (const r of encoded) {
    size += 16 + r.topic.length + (r.key?.length ?? 0) + r.value.length;
    for (const [n, v] of r.headers) size += 8 + n.length + v.length;
  }
  const buf = Buffer.allocUnsafe(size);
  let at = FRAME_HEADER;
  const u32 = (n: number): void => {
    buf.writeUInt32BE(n, at);
    at += 4;
  };
  const bytes = (b: Buffer): void => {
    u32(b.length);
    at += b.copy(buf, at);
  };
  buf.writeUInt8(FORMAT_VERSION, at++);
  u32(records.length);
  for (const r of encoded) {
    bytes(r.topic);
    if (r.key === null) u32(NULL_KEY);
    else bytes(r.key);
    bytes(r.value);
    u32(r.headers.length);
    for (const [n, v] of r.headers) {
      bytes(n);
      bytes(v);
    }
  }
  const payload = buf.subarray(FRAME_HEADER);
  buf.writeUInt32BE(payload.length, 0);
  buf.writeUInt32BE(crc32(payload), 4);
  return buf;
}

function decodePayload(payload: Buffer): SpoolRecord[] {
  let at = 0;
  const u32 = (): number => {
    if (at + 4 > payload.length) throw new Error('payload ends early');
    const n = payload.readUInt32BE(at);
    at += 4;
    return n;
  };
  const take = (len: number): Buffer => {
    if (at + len > payload.length) throw new Error('payload ends early');
    const b = payload.subarray(at, at + len);
    at += len;
    return b;
  };
  if (payload[at++] !== FORMAT_VERSION) throw new Error(`unknown payload version ${payload[0]}`);
  const count = u32();
  const records: SpoolRecord[] = [];
  for (let i = 0; i < count; i++) {
    const topic = take(u32()).toString('utf8');
    const keyLen = u32();
    const key = keyLen === NULL_KEY ? null : take(keyLen);
    const value = take(u32());
    const headerCount = u32();
    const headers: [string, string][] = [];
    for (let h = 0; h < headerCount; h++) {
      headers.push([take(u32()).toString('utf8'), take(u32()).toString('utf8')]);
    }
    // fromEntries defines own properties, so a header named __proto__ survives
    records.push({ topic, key, value, headers: Object.fromEntries(headers) });
  }
  if (at !== payload.length) throw new Error(`${payload.length - at} unexpected bytes after the records`);
  return records;
}
