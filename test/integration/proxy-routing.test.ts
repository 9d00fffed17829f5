// Routing per event type to several Kafka clusters (event.yaml `clusters`). Both named clusters
// point at the local broker here, so a routed event shows up once per cluster in the same topic.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig, type Config } from '../../lib/config.js';
import { startProxy, type RunningProxy } from '../../proxy/server.js';
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
  config = {
    ...base,
    kafka: {
      ...base.kafka,
      clusters: { ...base.kafka.clusters, analytics: { brokers: base.kafka.brokers } },
    },
    proxy: { ...base.proxy, port: 0, spoolDir },
  };
  cat = await isolatedCatalog(config, { clusters: ['default', 'analytics'] });
  proxy = await startReadyProxy(config, cat.catalog);
});

after(async () => {
  await proxy.stop();
  await cat.cleanup(config);
  rmSync(spoolDir, { recursive: true, force: true });
});

test('an event type routed to two clusters is produced to each, and readiness covers both', async () => {
  assert.equal(proxy.ctx.state.ready, true, proxy.ctx.state.reason);
  assert.deepEqual([...proxy.ctx.clusters.keys()].sort(), ['analytics', 'default']);
  const type = cat.type('delivery_status_changed');
  const res = await fetch(`${proxy.url}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify([
      {
        type,
        id: 'routed-1',
        data: {
          delivery_id: 'd1',
          order_id: '4b5e2f1c-8f7a-4a8e-9d7e-2a1c3b4d5e6f',
          status: 'created',
          changed_at: '2026-11-25T12:00:00Z',
        },
      },
    ]),
  });
  assert.equal(res.status, 200);
  const copies = (await readTopic(config, `events.${type}`)).filter((r) => r.headers.ce_id === 'routed-1');
  assert.equal(copies.length, 2);
});

test('a type routed to a cluster missing from the config stops the proxy at start with a clear message', async () => {
  const bad = {
    ...config,
    kafka: { ...config.kafka, clusters: { default: config.kafka.clusters.default! } },
  };
  await assert.rejects(
    startProxy(bad, cat.catalog),
    /route to Kafka cluster\(s\) analytics, which are not in kafka.clusters/,
  );
});
