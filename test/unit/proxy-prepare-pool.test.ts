// The prepare threads must answer exactly as the main thread does: same accepted records (bytes,
// keys, headers, clusters), same rejections with their reasons and dead letters, same whole-body
// errors. Each case runs through a PreparePool with one thread and through prepareInline.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { createLogger } from '../../lib/logger.js';
import { HttpError } from '../../proxy/http-error.js';
import type { BodyFormat } from '../../proxy/parse-body.js';
import { PreparePool, prepareInline, type PrepareRequest } from '../../proxy/prepare-pool.js';
import type { PreparedEvent } from '../../proxy/prepare.js';
import { defaultCatalogDir, loadCatalog } from '../../schemas/catalog.js';
import { EventValidator } from '../../schemas/validator.js';
import { orderData } from '../helpers/events.js';

const catalog = loadCatalog(defaultCatalogDir());
const deps = { catalog, validator: new EventValidator(catalog) };
const pool = new PreparePool(1, deps, createLogger('test', 'silent'));
after(() => pool.close());

function request(body: string | Buffer, format: BodyFormat, scopes: string[] = ['*']): PrepareRequest {
  return {
    body: Buffer.isBuffer(body) ? body : Buffer.from(body),
    format,
    now: new Date('2026-11-25T12:00:00.000Z'),
    test: false,
    defaultSource: '/test',
    maxEventBytes: 2048,
    eventTypes: scopes,
    mayUse: (t) => scopes.includes('*') || scopes.includes(t),
    spend: () => undefined,
  };
}

/** Generated ids differ from run to run: name them by position instead. */
function normalized(events: PreparedEvent[]): unknown {
  const ids = new Map<string, string>();
  const id = (s: string): string => {
    if (!ids.has(s)) ids.set(s, `id-${ids.size}`);
    return ids.get(s)!;
  };
  return events.map((e) => {
    if (!e.ok) return { ...e, ...(e.dlq ? { dlq: { ...e.dlq, value: e.dlq.value.toString() } } : {}) };
    return {
      ...e,
      id: id(e.id),
      records: e.records.map((r) => ({
        ...r,
        key: r.key?.toString() ?? null,
        value: r.value.toString(),
        headers: { ...r.headers, ce_id: id(r.headers.ce_id!) },
      })),
    };
  });
}

async function both(req: () => PrepareRequest): Promise<void> {
  await pool.ready();
  assert.equal(pool.threads, 1);
  let inline: unknown;
  try {
    inline = normalized(prepareInline(req(), deps));
  } catch (err) {
    inline = err;
  }
  let threaded: unknown;
  try {
    threaded = normalized(await pool.prepare(req()));
  } catch (err) {
    threaded = err;
  }
  if (inline instanceof HttpError) {
    assert.ok(threaded instanceof HttpError, `the thread answered ${String(threaded)}`);
    assert.deepEqual([threaded.code, threaded.message], [inline.code, inline.message]);
    return;
  }
  assert.deepEqual(threaded, inline);
}

const big = 'x'.repeat(3000);

test('a batch of valid, invalid, unknown, oversized, keyed and CloudEvents events prepares the same on a thread', async () => {
  const native = [
    { type: 'order_created', data: orderData(1) },
    { type: 'order_created', id: 'mine', key: 'k-1', source: '/app', data: orderData(2), test: true },
    { type: 'order_created', schemaVersion: 1, data: orderData(3) },
    { type: 'order_created', data: orderData(4, { quantity: 'no' }) },
    { type: 'order_created', data: orderData(5, { currency: 'ÉUR', note: '\u2603 snow' }) },
    { type: 'order_created', data: orderData(6, { customer_id: big }) },
    { type: 'no_such_type', data: {} },
    { type: 'order_created', schemaVersion: 9, data: orderData(7) },
    { type: 'order_created', data: orderData(8), surprise: 1 },
    { type: 'order_created', time: 'yesterday', data: orderData(9) },
    'not an object',
  ];
  await both(() => request(JSON.stringify(native), 'json'));
  const ce = [
    {
      specversion: '1.0',
      id: 'e-1',
      source: '/shop',
      type: 'order_created',
      dataschema: 'urn:sluice:schema:order_created:v2',
      partitionkey: 'pk',
      region: 'eu',
      data: orderData(10),
    },
    { specversion: '0.3', id: 'e-2', source: '/shop', type: 'order_created', data: orderData(11) },
  ];
  await both(() => request(JSON.stringify(ce), 'cloudevents-batch'));
  await both(() => request(JSON.stringify(ce[0]), 'cloudevent'));
});

test('NDJSON with a bad line, API key scopes and a large body prepare the same on a thread', async () => {
  const lines = [
    JSON.stringify({ type: 'order_created', data: orderData(1) }),
    '{"type": "order_created", "data": ',
    JSON.stringify({ type: 'mobile_page_load', data: {} }),
  ].join('\n');
  await both(() => request(lines, 'ndjson'));
  await both(() => request(lines, 'ndjson', ['mobile_page_load']));
  // Larger than the smallest shared body buffer.
  const many = Array.from({ length: 300 }, (_, i) => ({ type: 'order_created', data: orderData(i) }));
  await both(() => request(JSON.stringify(many), 'json'));
});

test('whole-body errors come back from a thread as the same HttpError', async () => {
  await both(() => request('', 'json'));
  await both(() => request('[]', 'json'));
  await both(() => request('{"type": ', 'json'));
  await both(() => request(Buffer.from([0x5b, 0xff, 0x5d]), 'json'));
  await both(() => request('{}', 'cloudevents-batch'));
});

test('the caller is charged for the events a thread found, and a 429 comes back as such', async () => {
  const charged: number[] = [];
  const body = JSON.stringify([1, 2, 3].map((n) => ({ type: 'order_created', data: orderData(n) })));
  const events = await pool.prepare({ ...request(body, 'json'), spend: (n) => charged.push(n) });
  assert.deepEqual(charged, [3]);
  assert.equal(events.filter((e) => e.ok).length, 3);
  await assert.rejects(
    pool.prepare({
      ...request(body, 'json'),
      spend: () => {
        throw new HttpError('RATE_LIMITED', 'slow down', undefined, 2);
      },
    }),
    (err: unknown) => err instanceof HttpError && err.code === 'RATE_LIMITED',
  );
});

test('a thread that dies fails only its own requests; the next ones are prepared (inline, then by a new thread)', async () => {
  const crashing = new PreparePool(1, deps, createLogger('test', 'silent'));
  try {
    await crashing.ready();
    const body = JSON.stringify([{ type: 'order_created', data: orderData(1) }]);
    const slots = (
      crashing as unknown as { slots: { ready: boolean; worker: { terminate(): Promise<number> } }[] }
    ).slots;
    const first = slots[0]!;
    // Enough events that the thread is still at work when it is terminated: a request it answered
    // first would not fail, and would leave nothing holding the process open while terminate() waits.
    const busy = JSON.stringify(
      Array.from({ length: 20_000 }, (_, i) => ({ type: 'order_created', data: orderData(i) })),
    );
    const inFlight = crashing.prepare(request(busy, 'json'));
    await first.worker.terminate();
    await assert.rejects(inFlight, /prepare thread 0 exited/);
    // While the new thread starts, the main thread prepares.
    const [event] = await crashing.prepare(request(body, 'json'));
    assert.equal(event?.ok, true);
    await crashing.ready();
    assert.notEqual(slots[0], first);
    assert.equal(slots[0]!.ready, true);
    const [again] = await crashing.prepare(request(body, 'json'));
    assert.equal(again?.ok, true);
  } finally {
    await crashing.close();
  }
});
