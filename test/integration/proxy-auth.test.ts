// API keys, their scopes and rate limits, and the raw collector (CORS, sendBeacon bodies).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig, type Config } from '../../lib/config.js';
import { readEnvelope } from '../../lib/envelope.js';
import { hashKey } from '../../proxy/auth.js';
import type { RunningProxy } from '../../proxy/server.js';
import { startReadyProxy } from '../helpers/proxy.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { readTopic } from '../helpers/kafka-read.js';

let config: Config;
let cat: IsolatedCatalog;
let proxy: RunningProxy;
let spoolDir: string;

before(async () => {
  const base = loadConfig();
  spoolDir = mkdtempSync(join(tmpdir(), 'sluice-spool-'));
  cat = await isolatedCatalog(base);
  config = {
    ...base,
    proxy: {
      ...base.proxy,
      port: 0,
      spoolDir,
      corsOrigins: ['https://app.example.com'],
      apiKeys: [
        {
          id: 'orders',
          sha256: hashKey('k-orders'),
          eventTypes: [cat.type('order_created')],
          apps: [],
          ratePerSecond: 1000,
          burst: 1000,
        },
        {
          id: 'web',
          sha256: hashKey('k-web'),
          eventTypes: [],
          apps: [cat.app('consumer-ios')],
          ratePerSecond: 1,
          burst: 3,
        },
      ],
    },
  };
  proxy = await startReadyProxy(config, cat.catalog);
});

after(async () => {
  await proxy.stop();
  await cat.cleanup(config);
  rmSync(spoolDir, { recursive: true, force: true });
});

const order = {
  order_id: '4b5e2f1c-8f7a-4a8e-9d7e-2a1c3b4d5e6f',
  customer_id: 'c',
  store_id: 's',
  items: [{ sku: 'a', quantity: 1, unit_price_cents: 100 }],
  subtotal_cents: 100,
  currency: 'USD',
  placed_at: '2026-11-25T12:00:00Z',
};

async function send(path: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await fetch(`${proxy.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

test('no key or an unknown key is 401; a key is accepted as Bearer or X-API-Key', async () => {
  const events = [{ type: cat.type('order_created'), data: order }];
  const none = await send('/v1/events', events);
  assert.equal(none.status, 401);
  assert.equal(none.body.error_code, 'UNAUTHORIZED');
  assert.equal((await send('/v1/events', events, { authorization: 'Bearer nope' })).status, 401);
  assert.equal((await send('/v1/events', events, { authorization: 'Bearer k-orders' })).status, 200);
  assert.equal((await send('/v1/events', events, { 'x-api-key': 'k-orders' })).status, 200);
});

test('a key may only send the event types and apps it is scoped to', async () => {
  const delivery = {
    type: cat.type('delivery_status_changed'),
    data: {
      delivery_id: 'd',
      order_id: order.order_id,
      status: 'created',
      changed_at: '2026-11-25T12:00:00Z',
    },
  };
  const denied = await send('/v1/events', [delivery], { 'x-api-key': 'k-orders' });
  assert.equal(denied.status, 403);
  assert.equal(denied.body.error_code, 'FORBIDDEN');
  const mixed = await send('/v1/events', [{ type: cat.type('order_created'), data: order }, delivery], {
    'x-api-key': 'k-orders',
  });
  assert.equal(mixed.status, 207);
  assert.equal((mixed.body.results as { error_code?: string }[])[1]?.error_code, 'FORBIDDEN');
  // A forbidden event never reaches Kafka, not even its DLQ.
  const dlq = await readTopic(config, `events.${cat.type('delivery_status_changed')}.dlq`);
  assert.equal(dlq.length, 0);
  const app = await send(
    `/v1/collect/${cat.app('consumer-android')}`,
    { page: '/' },
    { 'x-api-key': 'k-web' },
  );
  assert.equal(app.status, 403);
});

test('the rate limit counts events and answers 429 with Retry-After', async () => {
  const path = `/v1/collect/${cat.app('consumer-ios')}`;
  const first = await send(path, [{ a: 1 }, { a: 2 }, { a: 3 }], { 'x-api-key': 'k-web' });
  assert.equal(first.status, 200);
  const limited = await send(path, [{ a: 4 }], { 'x-api-key': 'k-web' });
  assert.equal(limited.status, 429);
  assert.equal(limited.body.error_code, 'RATE_LIMITED');
  assert.ok(Number(limited.headers.get('retry-after')) >= 1);
});

test('the raw collector takes a sendBeacon text/plain body and writes it with the envelope to raw.<app>', async () => {
  const app = cat.app('consumer-ios');
  await new Promise((r) => setTimeout(r, 1100)); // let the 1 event/s key refill
  const res = await fetch(`${proxy.url}/v1/collect/${app}`, {
    method: 'POST',
    headers: {
      'content-type': 'text/plain;charset=UTF-8',
      'x-api-key': 'k-web',
      origin: 'https://app.example.com',
    },
    body: JSON.stringify({ event: 'page_load', page: '/store/1', load_ms: 840 }),
  });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('access-control-allow-origin'), 'https://app.example.com');
  const records = await readTopic(config, `raw.${app}`);
  const rec = records.find((r) => String(r.value).includes('/store/1'));
  assert.ok(rec);
  const env = readEnvelope(rec.headers);
  assert.equal(env.type, `raw.${app}`);
  assert.equal(env.source, `/collect/${app}`);
});

test('CORS preflight allows configured origins only; unknown apps are 404', async () => {
  const app = cat.app('consumer-ios');
  const ok = await fetch(`${proxy.url}/v1/collect/${app}`, {
    method: 'OPTIONS',
    headers: { origin: 'https://app.example.com', 'access-control-request-method': 'POST' },
  });
  assert.equal(ok.status, 204);
  assert.equal(ok.headers.get('access-control-allow-origin'), 'https://app.example.com');
  assert.match(ok.headers.get('access-control-allow-headers') ?? '', /X-API-Key/);
  const evil = await fetch(`${proxy.url}/v1/collect/${app}`, {
    method: 'OPTIONS',
    headers: { origin: 'https://evil.example.com', 'access-control-request-method': 'POST' },
  });
  assert.equal(evil.headers.get('access-control-allow-origin'), null);
  const unknown = await send('/v1/collect/no-such-app', { a: 1 }, { 'x-api-key': 'k-web' });
  assert.equal(unknown.status, 404);
  assert.match(String(unknown.body.message), /rawApps/);
});
