import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import {
  appendFileSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import { Spool, SpoolCorruptError, SpoolFullError, type SpoolRecord } from '../../proxy/spool.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dirs: string[] = [];
after(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'sluice-spool-'));
  dirs.push(d);
  return d;
}

const SEG1 = '00000000000000000001.spool';

/** A one-record batch whose value names it. */
const batch = (name: string, valueBytes = 0): SpoolRecord[] => [
  { topic: 'events', key: null, value: Buffer.from(name.padEnd(valueBytes, '.')), headers: {} },
];
const names = (batches: SpoolRecord[][]): string[] =>
  batches.map((b) => b.map((r) => r.value.toString().replace(/\.+$/, '')).join('+'));

const segments = (dir: string): string[] =>
  readdirSync(dir)
    .filter((f) => f.endsWith('.spool'))
    .sort();

async function waitFor(cond: () => boolean, what: string): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

/** Delivers everything pending and returns it. */
async function deliverAll(spool: Spool): Promise<SpoolRecord[][]> {
  const got: SpoolRecord[][] = [];
  spool.startDelivery((records) => {
    got.push(records);
    return Promise.resolve();
  });
  await spool.stop({ drain: true, timeoutMs: 10_000 });
  assert.equal(spool.pendingBatches, 0, 'everything was delivered');
  return got;
}

async function appendAll(spool: Spool, list: string[], valueBytes = 0): Promise<void> {
  for (const name of list) await spool.append(batch(name, valueBytes));
}

test('batches are delivered in append order with keys, values and headers intact', async () => {
  const spool = await Spool.open(tempDir(), { maxBytes: 1 << 20 });
  const allBytes = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
  const first: SpoolRecord[] = [
    {
      topic: 'orders',
      key: allBytes,
      value: Buffer.concat([allBytes, allBytes]),
      headers: { 'ce-type': 'order.placed', ünïcode: '✓ 日本', ['__proto__']: 'kept' },
    },
    { topic: 'orders', key: Buffer.alloc(0), value: Buffer.alloc(0), headers: {} },
  ];
  const second: SpoolRecord[] = [{ topic: 'clicks', key: null, value: Buffer.from('{"a":1}'), headers: {} }];
  await spool.append(first);
  await spool.append(second);
  assert.equal(spool.pendingBatches, 2);
  assert.equal(spool.pendingRecords, 3);
  assert.ok(spool.pendingBytes > 3 * 256, 'pendingBytes counts the encoded frames');

  const got: SpoolRecord[][] = [];
  spool.startDelivery((records) => {
    got.push(records);
    return Promise.resolve();
  });
  await waitFor(() => got.length === 2, 'two deliveries');
  // Delivery is running and idle: a new append must wake it.
  const third: SpoolRecord[] = [
    { topic: 'clicks', key: Buffer.from('k'), value: Buffer.from('x'), headers: {} },
  ];
  await spool.append(third);
  await waitFor(() => got.length === 3, 'delivery after a later append');
  assert.deepEqual(got, [first, second, third]);
  assert.equal(got[0]?.[0]?.headers['__proto__'], 'kept');
  assert.deepEqual([spool.pendingBatches, spool.pendingRecords, spool.pendingBytes], [0, 0, 0]);
  await spool.close();
});

test('pending batches survive close and reopen and are delivered after it', async () => {
  const dir = tempDir();
  let spool = await Spool.open(dir, { maxBytes: 1 << 20 });
  await appendAll(spool, ['b0', 'b1', 'b2', 'b3', 'b4']);
  const bytes = spool.pendingBytes;
  await spool.close();
  await assert.rejects(spool.append(batch('late')), /closed/);

  spool = await Spool.open(dir, { maxBytes: 1 << 20 });
  assert.deepEqual([spool.pendingBatches, spool.pendingRecords, spool.pendingBytes], [5, 5, bytes]);
  assert.deepEqual(names(await deliverAll(spool)), ['b0', 'b1', 'b2', 'b3', 'b4']);
  await spool.close();
});

test('a normal close/reopen cycle never delivers a batch twice', async () => {
  const dir = tempDir();
  let spool = await Spool.open(dir, { maxBytes: 1 << 20 });
  await appendAll(spool, ['b0', 'b1', 'b2', 'b3']);
  const before: SpoolRecord[][] = [];
  spool.startDelivery((records) => {
    before.push(records);
    return Promise.resolve();
  });
  await waitFor(() => before.length >= 2, 'two deliveries');
  await spool.stop(); // part-way: stops after the batch in hand
  await spool.close();

  spool = await Spool.open(dir, { maxBytes: 1 << 20 });
  await appendAll(spool, ['b4', 'b5']);
  const afterReopen = await deliverAll(spool);
  await spool.close();
  assert.deepEqual([...names(before), ...names(afterReopen)], ['b0', 'b1', 'b2', 'b3', 'b4', 'b5']);

  spool = await Spool.open(dir, { maxBytes: 1 << 20 });
  assert.equal(spool.pendingBatches, 0, 'all delivered batches stay delivered after another reopen');
  await spool.close();
});

test('a failing deliver is retried with the same batch, never skipped, order kept', async () => {
  const dir = tempDir();
  let spool = await Spool.open(dir, { maxBytes: 1 << 20 });
  await appendAll(spool, ['b0', 'b1', 'b2']);
  const attempts: string[] = [];
  const errors: unknown[] = [];
  let failuresLeft = 3;
  spool.startDelivery(
    (records) => {
      const [name] = names([records]);
      attempts.push(name ?? '?');
      if (name === 'b1' && failuresLeft-- > 0) return Promise.reject(new Error('kafka down'));
      return Promise.resolve();
    },
    { retryMs: 1, onError: (err) => errors.push(err) },
  );
  await waitFor(() => attempts.includes('b2'), 'b2 to be delivered');
  await spool.stop();
  assert.deepEqual(attempts, ['b0', 'b1', 'b1', 'b1', 'b1', 'b2']);
  assert.equal(errors.length, 3);
  assert.match(String(errors[0]), /kafka down/);
  await spool.close();

  spool = await Spool.open(dir, { maxBytes: 1 << 20 });
  assert.equal(spool.pendingBatches, 0);
  await spool.close();
});

test('stop() does not wait out a retry backoff, and the failed batch stays pending', async () => {
  const dir = tempDir();
  let spool = await Spool.open(dir, { maxBytes: 1 << 20 });
  await appendAll(spool, ['b0']);
  let calls = 0;
  spool.startDelivery(
    () => {
      calls++;
      return Promise.reject(new Error('kafka down'));
    },
    { retryMs: 60_000 },
  );
  await waitFor(() => calls === 1, 'the first attempt');
  await spool.stop({ drain: true, timeoutMs: 20 }); // the drain gives up; stop cuts the 60 s backoff short
  assert.equal(calls, 1);
  assert.equal(spool.pendingBatches, 1);
  await spool.close();

  spool = await Spool.open(dir, { maxBytes: 1 << 20 });
  assert.deepEqual(names(await deliverAll(spool)), ['b0']);
  await spool.close();
});

test('a full spool throws SpoolFullError, writes nothing, and accepts again once delivery frees space', async () => {
  const dir = tempDir();
  const probe = await Spool.open(join(dir, 'probe'), { maxBytes: 1 << 20 });
  await probe.append(batch('x', 100));
  const frame = probe.pendingBytes;
  await probe.close();

  const maxBytes = 3 * frame + Math.floor(frame / 2);
  let spool = await Spool.open(join(dir, 'main'), { maxBytes });
  // Five concurrent callers, room for three: the bound holds while appends are in flight.
  const results = await Promise.allSettled(
    ['b0', 'b1', 'b2', 'b3', 'b4'].map((n) => spool.append(batch(n, 100))),
  );
  assert.deepEqual(
    results.map((r) => r.status),
    ['fulfilled', 'fulfilled', 'fulfilled', 'rejected', 'rejected'],
  );
  const rejected = results[3];
  assert.ok(rejected?.status === 'rejected' && rejected.reason instanceof SpoolFullError);
  assert.equal(rejected.reason.code, 'SPOOL_FULL');
  assert.match(rejected.reason.message, new RegExp(`${3 * frame} of ${maxBytes} bytes`));

  const sizeOnDisk = statSync(join(dir, 'main', SEG1)).size;
  await assert.rejects(spool.append(batch('b5', 100)), SpoolFullError);
  assert.equal(statSync(join(dir, 'main', SEG1)).size, sizeOnDisk, 'a refused batch leaves no bytes');
  assert.equal(spool.pendingBatches, 3);

  assert.deepEqual(names(await deliverAll(spool)), ['b0', 'b1', 'b2']);
  await spool.append(batch('b6', 100));
  await spool.close();

  spool = await Spool.open(join(dir, 'main'), { maxBytes });
  assert.deepEqual(names(await deliverAll(spool)), ['b6']);
  await spool.close();
});

const tornTails: [string, (file: string) => void][] = [
  ['the last frame cut short by a few bytes', (file) => truncateSync(file, statSync(file).size - 3)],
  [
    'garbage appended after the last frame',
    (file) => appendFileSync(file, Buffer.from('\x00\x00\x01\x00garbage')),
  ],
  [
    'a zero-filled tail (size grew, data never hit the disk)',
    (file) => appendFileSync(file, Buffer.alloc(4096)),
  ],
  ['half a frame header', (file) => appendFileSync(file, Buffer.from([0, 0, 0]))],
];
for (const [what, damage] of tornTails) {
  test(`a torn tail (${what}) is dropped on reopen while earlier batches survive`, async () => {
    const dir = tempDir();
    let spool = await Spool.open(dir, { maxBytes: 1 << 20 });
    await appendAll(spool, ['b0', 'b1']);
    const intact = statSync(join(dir, SEG1)).size;
    await appendAll(spool, ['b2']);
    const all = statSync(join(dir, SEG1)).size;
    await spool.close();

    damage(join(dir, SEG1));
    spool = await Spool.open(dir, { maxBytes: 1 << 20 });
    const cutAt = what.startsWith('the last frame') ? intact : all;
    assert.equal(spool.truncatedTail?.file, join(dir, SEG1));
    assert.equal(spool.truncatedTail?.offset, cutAt);
    assert.equal(statSync(join(dir, SEG1)).size, cutAt, 'the torn bytes are gone from the file');
    // Appending after the repair must not leave the damage stuck in the middle of the log.
    await appendAll(spool, ['b3']);
    await spool.close();

    spool = await Spool.open(dir, { maxBytes: 1 << 20 });
    assert.equal(spool.truncatedTail, null);
    const expected = cutAt === intact ? ['b0', 'b1', 'b3'] : ['b0', 'b1', 'b2', 'b3'];
    assert.deepEqual(names(await deliverAll(spool)), expected);
    await spool.close();
  });
}

test('a corrupt frame in the middle of the log fails open() with the file and offset, touching nothing', async () => {
  const dir = tempDir();
  const spool = await Spool.open(dir, { maxBytes: 1 << 20 });
  await appendAll(spool, ['b0', 'b1', 'b2']);
  const frame = spool.pendingBytes / 3;
  await spool.close();

  const file = join(dir, SEG1);
  const bytes = readFileSync(file);
  bytes[frame + 20] = bytes[frame + 20]! ^ 0xff; // inside b1's payload
  writeFileSync(file, bytes);
  const expectCorrupt = (err: unknown): boolean => {
    assert.ok(err instanceof SpoolCorruptError);
    assert.equal(err.file, file);
    assert.equal(err.offset, frame);
    assert.match(err.message, new RegExp(`${SEG1} at offset ${frame}: checksum mismatch`));
    return true;
  };
  await assert.rejects(Spool.open(dir, { maxBytes: 1 << 20 }), expectCorrupt);
  assert.deepEqual(readFileSync(file), bytes, 'nothing was truncated or repaired');
  // A failed open leaves the directory free: trying again reports the same damage.
  await assert.rejects(Spool.open(dir, { maxBytes: 1 << 20 }), expectCorrupt);
});

test('damage at the end of a segment that is not the last one is corruption, not a torn tail', async () => {
  const dir = tempDir();
  const spool = await Spool.open(dir, { maxBytes: 1 << 20, segmentBytes: 1 }); // one batch per segment
  await appendAll(spool, ['b0', 'b1', 'b2']);
  await spool.close();
  assert.equal(segments(dir).length, 3);
  const file = join(dir, SEG1);
  truncateSync(file, statSync(file).size - 2);
  await assert.rejects(Spool.open(dir, { maxBytes: 1 << 20, segmentBytes: 1 }), (err: unknown) => {
    assert.ok(err instanceof SpoolCorruptError);
    assert.match(err.message, new RegExp(`${SEG1} at offset 0: .*runs past the end`));
    return true;
  });
});

test('segments roll over at segmentBytes and fully delivered segments are deleted', async () => {
  const dir = tempDir();
  const probe = await Spool.open(join(dir, 'probe'), { maxBytes: 1 << 20 });
  await probe.append(batch('x', 50));
  const frame = probe.pendingBytes;
  await probe.close();

  const opts = { maxBytes: 1 << 20, segmentBytes: 3 * frame };
  let spool = await Spool.open(join(dir, 'main'), opts);
  const list = Array.from({ length: 10 }, (_, i) => `b${i}`);
  await appendAll(spool, list, 50);
  const files = segments(join(dir, 'main'));
  assert.equal(files.length, 4);
  for (const f of files)
    assert.ok(statSync(join(dir, 'main', f)).size <= 3 * frame, `${f} over segmentBytes`);
  await spool.close();

  spool = await Spool.open(join(dir, 'main'), opts);
  assert.deepEqual(names(await deliverAll(spool)), list);
  assert.deepEqual(
    segments(join(dir, 'main')),
    [files.at(-1)],
    'only the segment still being written is kept',
  );
  // A batch larger than a whole segment still goes through, in a segment of its own.
  await spool.append(batch('big', 10 * frame));
  await spool.append(batch('after', 50));
  await spool.close();

  spool = await Spool.open(join(dir, 'main'), opts);
  assert.deepEqual(names(await deliverAll(spool)), ['big', 'after']);
  await spool.close();
});

test('concurrent appends from many callers each land exactly once, in call order', async () => {
  const dir = tempDir();
  let spool = await Spool.open(dir, { maxBytes: 1 << 24, segmentBytes: 2000 });
  const delivered: SpoolRecord[][] = [];
  spool.startDelivery((records) => {
    delivered.push(records);
    return Promise.resolve();
  });
  const list = Array.from({ length: 300 }, (_, i) => `c${i}`);
  await Promise.all(list.map((name) => spool.append(batch(name, 40))));
  await spool.stop({ drain: true, timeoutMs: 10_000 });
  assert.deepEqual(names(delivered), list);
  await spool.close();

  spool = await Spool.open(dir, { maxBytes: 1 << 24, segmentBytes: 2000 });
  assert.equal(spool.pendingBatches, 0);
  await spool.close();
});

test('stop({ drain: true }) returns once everything pending is delivered', async () => {
  const spool = await Spool.open(tempDir(), { maxBytes: 1 << 20 });
  await appendAll(spool, ['b0', 'b1', 'b2', 'b3', 'b4']);
  const got: SpoolRecord[][] = [];
  spool.startDelivery(async (records) => {
    await new Promise((r) => setTimeout(r, 5));
    got.push(records);
  });
  await spool.stop({ drain: true });
  assert.deepEqual(names(got), ['b0', 'b1', 'b2', 'b3', 'b4']);
  assert.equal(spool.pendingBatches, 0);
  await spool.close();
});

test('a spool directory cannot be opened twice in one process', async () => {
  const dir = tempDir();
  const spool = await Spool.open(dir, { maxBytes: 1 << 20 });
  await assert.rejects(Spool.open(dir, { maxBytes: 1 << 20 }), /already open/);
  await spool.close();
  await (await Spool.open(dir, { maxBytes: 1 << 20 })).close();
});

/** Runs the writer fixture and SIGKILLs it once `killAfter` appends were acknowledged. */
async function crashWriter(dir: string, deliver: boolean, killAfter: number): Promise<string[]> {
  const args = ['--import', 'tsx', join(root, 'test/fixtures/spool-writer.ts'), dir, '1000000'];
  const child = spawn(process.execPath, deliver ? [...args, '--deliver'] : args, {
    cwd: root,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  child.stdout.on('data', (chunk: Buffer) => {
    const parts = (partial + chunk.toString()).split('\n');
    partial = parts.pop() ?? '';
    lines.push(...parts);
    if (lines.filter((l) => l.startsWith('a ')).length >= killAfter) child.kill('SIGKILL');
  });
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
    child.on('close', (c, s) => resolve([c, s])),
  );
  assert.equal(signal, 'SIGKILL', `the writer should have been killed mid-way (exit ${code}): ${stderr}`);
  return lines; // a line cut off by the kill is not counted: its append is not known to have resolved
}

const ids = (lines: string[], kind: 'a' | 'd'): number[] =>
  lines.filter((l) => l.startsWith(`${kind} `)).map((l) => Number(l.slice(2)));

test(
  'after kill -9 every append that had resolved is in the spool, exactly once',
  { timeout: 60_000 },
  async () => {
    const dir = tempDir();
    const acked = ids(await crashWriter(dir, false, 500), 'a');
    assert.ok(acked.length >= 500);

    const spool = await Spool.open(dir, { maxBytes: 1 << 30, segmentBytes: 4096 });
    const found = names(await deliverAll(spool)).map(Number);
    await spool.close();
    assert.deepEqual(
      found,
      found.map((_, i) => i),
      'batches are contiguous from 0 in append order, no duplicates',
    );
    const missing = acked.filter((i) => i >= found.length);
    assert.deepEqual(missing, [], 'acknowledged appends lost in the crash');
  },
);

test(
  'after kill -9 during delivery, delivery resumes where it was: at most the last batch again',
  { timeout: 60_000 },
  async () => {
    const dir = tempDir();
    const lines = await crashWriter(dir, true, 500);
    const acked = ids(lines, 'a');
    const deliveredBefore = ids(lines, 'd');
    assert.deepEqual(
      deliveredBefore,
      deliveredBefore.map((_, i) => i),
      'delivered in order before the crash',
    );

    const spool = await Spool.open(dir, { maxBytes: 1 << 30, segmentBytes: 4096 });
    const deliveredAfter = names(await deliverAll(spool)).map(Number);
    await spool.close();
    const resumeAt = deliveredAfter[0] ?? deliveredBefore.length;
    const lastBefore = deliveredBefore.length - 1;
    // At-least-once: the batch whose deliver() resolved just before the kill may come again.
    assert.ok(
      resumeAt === lastBefore + 1 || resumeAt === lastBefore,
      `resumed at ${resumeAt} after ${lastBefore}`,
    );
    assert.deepEqual(
      deliveredAfter,
      deliveredAfter.map((_, i) => resumeAt + i),
      'contiguous, in order',
    );
    const everything = new Set([...deliveredBefore, ...deliveredAfter]);
    assert.deepEqual(
      acked.filter((i) => !everything.has(i)),
      [],
      'acknowledged appends never delivered',
    );
  },
);
