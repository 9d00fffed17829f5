// Accepted means durable: events answered 202 while Kafka is unreachable sit in the spool; the
// proxy is killed with SIGKILL; a new proxy process on the same spool delivers every one of them.
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { loadConfig } from '../../lib/config.js';
import { projectRoot } from '../../lib/paths.js';
import { provision } from '../../ops/provision.js';
import { loadCatalog } from '../../schemas/catalog.js';
import { readTopic } from '../helpers/kafka-read.js';
import { uniqueName } from '../helpers/names.js';
import { freePort } from '../helpers/net.js';

const config = loadConfig();
let dir: string;
let port: number;
const children: ChildProcess[] = [];

function startProxyProcess(brokers: string[]): ChildProcess {
  const file = join(dir, `config-${children.length}.json`);
  writeFileSync(
    file,
    JSON.stringify({ kafka: { brokers }, proxy: { port, spoolDir: join(dir, 'spool') }, logLevel: 'warn' }),
  );
  const child = spawn(process.execPath, ['--import', 'tsx', 'proxy/server.ts'], {
    cwd: projectRoot(),
    env: { ...process.env, SLUICE_CONFIG: file },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
  return child;
}

async function waitFor(path: string, status: number, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = await fetch(`http://127.0.0.1:${port}${path}`)
      .then((r) => r.status)
      .catch(() => 0);
    if (got === status) return;
    if (Date.now() > deadline) throw new Error(`${path} did not answer ${status} in time (last ${got})`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-crash-'));
  port = await freePort();
  await provision(config, loadCatalog());
});

after(() => {
  for (const c of children) c.kill('SIGKILL');
  rmSync(dir, { recursive: true, force: true });
});

test('events accepted with 202 survive kill -9 of the proxy and reach Kafka after restart', async () => {
  // Port 1 refuses connections: Kafka is "down" for the first proxy.
  const first = startProxyProcess(['127.0.0.1:1']);
  await waitFor('/healthz', 200);
  const sync = await fetch(`http://127.0.0.1:${port}/v1/events`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '[]',
  });
  assert.equal(sync.status, 503, 'synchronous requests need Kafka');

  const run = uniqueName('crash');
  const ids: string[] = [];
  for (let r = 0; r < 5; r++) {
    const events = Array.from({ length: 20 }, (_, i) => {
      const id = `${run}-${r}-${i}`;
      ids.push(id);
      return {
        type: 'delivery_status_changed',
        id,
        data: {
          delivery_id: id,
          order_id: '4b5e2f1c-8f7a-4a8e-9d7e-2a1c3b4d5e6f',
          status: 'created',
          changed_at: '2026-11-25T12:00:00Z',
        },
      };
    });
    const res = await fetch(`http://127.0.0.1:${port}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', prefer: 'respond-async' },
      body: JSON.stringify(events),
    });
    assert.equal(res.status, 202, await res.text());
  }
  first.kill('SIGKILL');
  await new Promise((r) => first.once('exit', r));

  startProxyProcess(config.kafka.brokers);
  await waitFor('/readyz', 200);
  const wanted = new Set(ids);
  const deadline = Date.now() + 30_000;
  let delivered: string[] = [];
  while (Date.now() < deadline) {
    delivered = (await readTopic(config, 'events.delivery_status_changed'))
      .map((x) => x.headers.ce_id ?? '')
      .filter((id) => wanted.has(id));
    if (new Set(delivered).size === ids.length) break;
    await new Promise((r) => setTimeout(r, 250));
  }
  assert.deepEqual(
    ids.filter((id) => !delivered.includes(id)),
    [],
    'every event answered 202 is in Kafka',
  );
  assert.equal(delivered.length, ids.length, 'and none of them twice');
});
