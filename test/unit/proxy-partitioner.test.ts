import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { compatibilityPartitioner, murmur2 as platformaticMurmur2 } from '@platformatic/kafka';
import { z } from 'zod';
import { murmur2, partitionForKey, StickyPartitioner } from '../../proxy/partitioner.js';
import { seededRandom } from '../helpers/random.js';

// Vectors computed by the real Java client (kafka-clients 4.1.1): see the generator's header to
// regenerate. This test only reads them, so it needs no Java.
const Fixture = z.object({
  kafkaClients: z.string(),
  partitionCounts: z.array(z.number().int().positive()),
  vectors: z.array(
    z.object({
      name: z.string(),
      utf8: z.string().optional(),
      hex: z.string().regex(/^(?:[0-9a-f]{2})*$/),
      murmur2: z.number().int(),
      partitions: z.record(z.string(), z.number().int()),
    }),
  ),
});
const fixture = Fixture.parse(
  JSON.parse(readFileSync(new URL('../fixtures/murmur2-java.json', import.meta.url), 'utf8')),
);
const vectors = fixture.vectors.map((v) => ({ ...v, key: Buffer.from(v.hex, 'hex') }));

test('the Java fixture covers what it should', () => {
  assert.equal(fixture.kafkaClients, '4.1.1');
  assert.ok(vectors.length >= 100, `only ${vectors.length} vectors`);
  assert.ok(vectors.some((v) => v.key.length === 0));
  // Every murmur2 tail length, each with both ASCII and high (>= 0x80) bytes.
  for (let tail = 0; tail < 4; tail++) {
    assert.ok(vectors.some((v) => v.key.length > 4 && v.key.length % 4 === tail && v.utf8 !== undefined));
    assert.ok(vectors.some((v) => v.key.length % 4 === tail && v.key.some((b) => b >= 0x80)));
  }
  for (const v of vectors)
    assert.deepEqual(
      Object.keys(v.partitions)
        .map(Number)
        .sort((a, b) => a - b),
      fixture.partitionCounts,
    );
});

test('murmur2 equals Utils.murmur2 for every Java vector', () => {
  const wrong = vectors.filter((v) => murmur2(v.key) !== v.murmur2).map((v) => v.hex);
  assert.deepEqual(wrong, []);
});

test('partitionForKey equals BuiltInPartitioner.partitionForKey for every vector and partition count', () => {
  const wrong: string[] = [];
  for (const v of vectors) {
    // Text keys must hash as their UTF-8 bytes, which is what Java's String.getBytes(UTF_8) gives.
    const keys = v.utf8 === undefined ? [v.key] : [v.key, Buffer.from(v.utf8, 'utf8')];
    for (const key of keys)
      for (const [n, expected] of Object.entries(v.partitions)) {
        const got = partitionForKey(key, Number(n));
        if (got !== expected) wrong.push(`${v.name} ${v.hex} n=${n}: ${got} != ${expected}`);
      }
  }
  assert.deepEqual(wrong, []);
});

test("@platformatic/kafka's murmur2 and compatibilityPartitioner agree with Java too", () => {
  // Not used by partitionForKey (see proxy/partitioner.ts), but a producer configured with
  // compatibilityPartitioner must land keyed records where partitionForKey says.
  const message = { topic: 't', key: Buffer.alloc(0) };
  const wrong: string[] = [];
  for (const v of vectors) {
    if (platformaticMurmur2(v.key) !== v.murmur2) wrong.push(`murmur2 ${v.hex}`);
    const hash = compatibilityPartitioner(message, v.key);
    for (const [n, expected] of Object.entries(v.partitions))
      if (hash % Number(n) !== expected) wrong.push(`compatibilityPartitioner ${v.hex} n=${n}`);
  }
  assert.deepEqual(wrong, []);
});

test('partitionForKey rejects partition counts Java would fail on', () => {
  for (const n of [0, -1, 1.5, Number.NaN])
    assert.throws(() => partitionForKey(Buffer.from('k'), n), RangeError);
});

test('sticky: the same partition until the batch is closed', () => {
  const sticky = new StickyPartitioner(seededRandom(1));
  const first = sticky.partition('orders', 12);
  for (let i = 0; i < 50; i++) assert.equal(sticky.partition('orders', 12), first);
  sticky.onNewBatch('orders', 12);
  const second = sticky.partition('orders', 12);
  assert.notEqual(second, first);
  for (let i = 0; i < 50; i++) assert.equal(sticky.partition('orders', 12), second);
});

test('sticky: a new batch moves to another partition even when the random draw repeats', () => {
  for (const r of [0, 0.5, 0.999999]) {
    const sticky = new StickyPartitioner(() => r);
    let previous = sticky.partition('orders', 6);
    for (let i = 0; i < 10; i++) {
      sticky.onNewBatch('orders', 6);
      const next = sticky.partition('orders', 6);
      assert.notEqual(next, previous, `random ${r}, batch ${i}`);
      assert.ok(next >= 0 && next < 6);
      previous = next;
    }
  }
});

test('sticky: a single-partition topic is always partition 0', () => {
  const sticky = new StickyPartitioner(seededRandom(2));
  for (let i = 0; i < 20; i++) {
    assert.equal(sticky.partition('solo', 1), 0);
    sticky.onNewBatch('solo', 1);
  }
  assert.equal(sticky.partition('solo', 1), 0);
});

test('sticky: new batches spread evenly over all partitions', () => {
  const sticky = new StickyPartitioner(seededRandom(3));
  const n = 7;
  const batches = 70_000;
  const counts = new Array<number>(n).fill(0);
  let previous = -1;
  for (let i = 0; i < batches; i++) {
    const p = sticky.partition('clicks', n);
    assert.notEqual(p, previous);
    counts[p] = (counts[p] ?? 0) + 1;
    previous = p;
    sticky.onNewBatch('clicks', n);
  }
  const expected = batches / n;
  for (const [p, c] of counts.entries())
    assert.ok(
      Math.abs(c - expected) < expected * 0.05,
      `partition ${p}: ${c} batches, expected ~${expected}`,
    );
});

test('sticky: topics are independent', () => {
  const sticky = new StickyPartitioner(seededRandom(4));
  const a = sticky.partition('a', 100);
  const b = sticky.partition('b', 100);
  for (let i = 0; i < 10; i++) {
    sticky.onNewBatch('a', 100);
    assert.equal(sticky.partition('b', 100), b);
  }
  assert.notEqual(sticky.partition('a', 100), a);
  sticky.onNewBatch('b', 100);
  assert.notEqual(sticky.partition('b', 100), b);
});

test('sticky: only a closed batch on the sticky partition moves it', () => {
  const sticky = new StickyPartitioner(seededRandom(5));
  const current = sticky.partition('orders', 12);
  sticky.onNewBatch('orders', 12, (current + 1) % 12);
  assert.equal(sticky.partition('orders', 12), current);
  sticky.onNewBatch('orders', 12, current);
  assert.notEqual(sticky.partition('orders', 12), current);
});

test('sticky: a raised partition count is used from the next batch; a lowered one re-chooses', () => {
  let r = 0.2;
  const sticky = new StickyPartitioner(() => r);
  assert.equal(sticky.partition('orders', 3), 0);
  assert.equal(sticky.partition('orders', 6), 0, 'the open batch stays where it is');
  r = 0.99;
  sticky.onNewBatch('orders', 6);
  assert.equal(sticky.partition('orders', 6), 5, 'a new partition is reachable');
  r = 0.5;
  assert.equal(sticky.partition('orders', 3), 1, 'partition 5 no longer exists: choose again');
  sticky.onNewBatch('orders', 3);
  assert.notEqual(sticky.partition('orders', 3), 1);
});

test('sticky: a broken random source or partition count is an error, not a bad partition', () => {
  assert.throws(() => new StickyPartitioner(() => 1).partition('t', 3), RangeError);
  assert.throws(() => new StickyPartitioner(() => Number.NaN).partition('t', 3), RangeError);
  const sticky = new StickyPartitioner(seededRandom(6));
  assert.throws(() => sticky.partition('t', 0), RangeError);
  assert.throws(() => sticky.onNewBatch('t', 2.5), RangeError);
});
