// The encode threads (pipeline.encodeThreads) against encoding inline: the same Parquet bytes, the
// same rejects (with their key and value as Buffers again), the same cut at the byte limit, segments
// interleaved on one thread kept apart, and a clear failure for a type the thread does not know.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import type { ChunkInput } from '../../activities/segment/chunk-encoder.js';
import type { EncodedSegment } from '../../activities/segment/encode.js';
import { EncodePool, inlineEncoders, type SegmentEncoders } from '../../activities/segment/encode-pool.js';
import { buildEnvelope, envelopeHeaders } from '../../lib/envelope.js';
import { wholeBatchesEnd, type HeaderPair } from '../../lib/kafka-records.js';
import { createLogger } from '../../lib/logger.js';
import { loadCatalog, type Catalog, type EventType } from '../../schemas/catalog.js';
import type { JsonSchema } from '../../schemas/json-schema.js';
import { EventValidator } from '../../schemas/validator.js';
import { orderData } from '../helpers/events.js';
import { recordBatch, type BatchRecord } from '../helpers/record-batch.js';

const catalog = loadCatalog();
const validator = new EventValidator(catalog);
const orderType: EventType = catalog.types.get('order_created')!;
const pool = new EncodePool(1, { catalog, validator }, createLogger('test-encode-pool', 'warn'));
const inline = inlineEncoders(validator);
after(() => pool.close());

/** Order events n = first … first+count-1; every tenth is invalid (a negative quantity). */
function orders(first: number, count: number): BatchRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const n = first + i;
    const data = orderData(n, {
      placed_at: `2026-11-25T1${n % 3}:00:00Z`,
      ...(n % 10 === 9 ? { items: [{ sku: 'taco', quantity: -1, unit_price_cents: 450 }] } : {}),
    });
    const env = buildEnvelope(
      {
        type: 'order_created',
        dataschema: 'urn:sluice:schema:order_created:v2',
        id: `e-${n}`,
        time: data.placed_at,
      },
      new Date('2026-11-25T14:00:00Z'),
      '/test',
    );
    return {
      key: Buffer.from(data.order_id),
      value: Buffer.from(JSON.stringify(data)),
      headers: Object.entries(envelopeHeaders(env)).map(([k, v]): HeaderPair => [
        Buffer.from(k),
        Buffer.from(v),
      ]),
    };
  });
}

/** Fetch-like chunks of lz4 batches of 50 records each, covering [0, total). */
function chunks(total: number, batchesPerChunk = 3): ChunkInput[] {
  const out: ChunkInput[] = [];
  for (let at = 0; at < total; at += 50 * batchesPerChunk) {
    const parts: Buffer[] = [];
    for (let b = at; b < Math.min(total, at + 50 * batchesPerChunk); b += 50)
      parts.push(
        recordBatch(orders(b, Math.min(50, total - b)), { baseOffset: BigInt(b), compression: 'lz4' }),
      );
    const data = Buffer.concat(parts);
    assert.equal(wholeBatchesEnd(data, BigInt(at)), BigInt(Math.min(total, at + 50 * batchesPerChunk)));
    out.push({ data, from: BigInt(at), to: BigInt(total), aborted: [] });
  }
  return out;
}

async function encode(
  encoders: SegmentEncoders,
  input: ChunkInput[],
  maxBytes = 64 * 1024 * 1024,
  partition = 2,
) {
  const s = encoders.open({ type: orderType, partition, maxBytes });
  let cutAt: bigint | undefined;
  for (const c of input) {
    const p = await s.add(c);
    cutAt ??= p.cutAt;
  }
  return { segment: await s.finish(), cutAt };
}

const comparable = (s: EncodedSegment) => ({
  groups: s.groups.map((g) => ({ ...g, bytes: Buffer.from(g.bytes).toString('base64') })),
  rejected: s.rejected.map((r) => ({ ...r, record: { ...r.record, value: r.record.value?.toString() } })),
});

test('an encode thread writes the same files and rejects as encoding inline', async () => {
  const input = chunks(400);
  const [threaded, local] = [await encode(pool, input), await encode(inline, input)];
  assert.equal(
    threaded.segment.groups.reduce((n, g) => n + g.rows, 0),
    360,
  );
  assert.equal(threaded.segment.rejected.length, 40);
  assert.ok(Buffer.isBuffer(threaded.segment.rejected[0]!.record.value), 'rejected values are Buffers again');
  assert.deepEqual(comparable(threaded.segment), comparable(local.segment));
});

test('rejected records keep their own key and value, though later lz4 batches reuse the memory they were read from', async () => {
  // Batches are decompressed into one scratch region (lib/lz4-scratch.ts) reused batch after batch.
  for (const encoders of [inline, pool]) {
    const { segment } = await encode(encoders, chunks(400));
    assert.equal(segment.rejected.length, 40);
    for (const r of segment.rejected) {
      const [produced] = orders(Number(r.offset), 1);
      assert.equal(r.record.value?.toString(), produced!.value!.toString(), `value of offset ${r.offset}`);
      assert.equal(r.record.key?.toString(), produced!.key!.toString(), `key of offset ${r.offset}`);
      assert.equal(r.record.headers.ce_id, `e-${r.offset}`);
    }
  }
});

test('a chunk handed over moves its memory to the thread when it fills it, and is copied otherwise', async () => {
  const [whole] = chunks(150);
  const own = { ...whole!, data: Buffer.from(Uint8Array.prototype.slice.call(whole!.data)) };
  assert.equal(own.data.byteLength, own.data.buffer.byteLength);
  const inLarger = Buffer.concat([Buffer.alloc(7), whole!.data]).subarray(7);
  const expected = comparable((await encode(inline, [whole!])).segment);
  for (const [chunk, moved] of [
    [own, true],
    [{ ...whole!, data: inLarger }, false],
  ] as const) {
    const s = pool.open({ type: orderType, partition: 2, maxBytes: 64 * 1024 * 1024 });
    await s.add(chunk, true);
    assert.equal(chunk.data.byteLength === 0, moved, moved ? 'transferred' : 'copied');
    assert.deepEqual(comparable(await s.finish()), expected);
  }
  // Not handed over: the caller's bytes stay.
  const s = pool.open({ type: orderType, partition: 2, maxBytes: 64 * 1024 * 1024 });
  const mine = { ...whole!, data: Buffer.from(Uint8Array.prototype.slice.call(whole!.data)) };
  await s.add(mine);
  assert.equal(mine.data.byteLength, whole!.data.byteLength);
  await s.finish();
});

test('the byte limit cuts at the same offset on a thread as inline; later chunks are ignored', async () => {
  const input = chunks(400, 1);
  const threaded = await encode(pool, input, 20_000);
  const local = await encode(inline, input, 20_000);
  assert.ok(threaded.cutAt !== undefined && threaded.cutAt > 0n && threaded.cutAt < 400n);
  assert.equal(threaded.cutAt, local.cutAt);
  assert.deepEqual(comparable(threaded.segment), comparable(local.segment));
  const rows = threaded.segment.groups.reduce((n, g) => n + g.rows, 0) + threaded.segment.rejected.length;
  assert.equal(BigInt(rows), threaded.cutAt);
});

test('segments interleaved on one thread stay apart', async () => {
  const a = pool.open({ type: orderType, partition: 0, maxBytes: 1 << 26 });
  const b = pool.open({ type: orderType, partition: 1, maxBytes: 1 << 26 });
  const [ca, cb] = [chunks(300), chunks(150)];
  for (let i = 0; i < Math.max(ca.length, cb.length); i++) {
    if (ca[i]) await a.add(ca[i]!);
    if (cb[i]) await b.add(cb[i]!);
  }
  const [sa, sb] = [await a.finish(), await b.finish()];
  assert.deepEqual(comparable(sa), comparable((await encode(inline, chunks(300), undefined, 0)).segment));
  assert.deepEqual(comparable(sb), comparable((await encode(inline, chunks(150), undefined, 1)).segment));
  assert.equal(sa.groups.reduce((n, g) => n + g.rows, 0) + sa.rejected.length, 300);
});

test('a type the thread does not know fails the segment with a clear message', async () => {
  const s = pool.open({ type: { ...orderType, name: 'no_such_type' }, partition: 0, maxBytes: 1 << 26 });
  await assert.rejects(
    s.add(chunks(50)[0]!),
    /segment \d+ is not open on this thread \(unknown event type\?\)/,
  );
  s.discard();
});

test('when no encode thread can start, segments are encoded on the calling thread', async () => {
  // The thread compiles the catalog's schemas at start; this one cannot be compiled.
  const broken: Catalog = {
    ...catalog,
    types: new Map([
      [
        'order_created',
        {
          ...orderType,
          versions: [{ ...orderType.latest, schema: { type: 'nope' } as unknown as JsonSchema }],
        },
      ],
    ]),
  };
  const logger = createLogger('test-encode-pool', 'silent');
  const failing = new EncodePool(1, { catalog: broken, validator }, logger);
  try {
    const deadline = Date.now() + 20_000;
    while (failing.liveThreads > 0) {
      assert.ok(Date.now() < deadline, 'the thread did not exit');
      await new Promise((r) => setTimeout(r, 50));
    }
    const input = chunks(100);
    assert.deepEqual(
      comparable((await encode(failing, input)).segment),
      comparable((await encode(inline, input)).segment),
    );
  } finally {
    await failing.close();
  }
});
