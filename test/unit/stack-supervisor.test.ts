// The supervisor logic of ops/ against a real child process: a tiny HTTP server stands in for
// Kafka or Temporal so these run in a second, without the real stack.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { parseConfig, type Config } from '../../lib/config.js';
import { SluiceError } from '../../lib/errors.js';
import { httpOk, type StackService } from '../../ops/services/service.js';
import { startService, statusOf, stopService } from '../../ops/stack-lib.js';
import { isAlive } from '../../ops/supervisor.js';
import { freePort } from '../helpers/net.js';

const SERVER = `/* sluice-fake-server */
const port = Number(process.argv[1]);
if (process.argv[2] === 'fail') { console.error('boom: cannot open data dir'); process.exit(1); }
require('node:http').createServer((q, s) => s.end('ok')).listen(port, '127.0.0.1');`;

function fakeService(port: number, mode = 'ok'): StackService {
  return {
    name: 'fake',
    title: 'fake server',
    startTimeoutMs: 10_000,
    ports: () => [{ label: 'http', port, key: 'stack.fakePort' }],
    address: () => `127.0.0.1:${port}`,
    install: () => Promise.resolve(),
    prepare: () =>
      Promise.resolve({
        command: process.execPath,
        args: ['-e', SERVER, String(port), mode],
        marker: 'sluice-fake-server',
      }),
    healthy: () => httpOk(`http://127.0.0.1:${port}/`),
  };
}

let dir: string;
let config: Config;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-stack-'));
  config = parseConfig({ stateDir: dir });
});

after(() => rmSync(dir, { recursive: true, force: true }));

test('a service starts once, is reported up, and a second start does not start a second one', async () => {
  const svc = fakeService(await freePort());
  assert.equal(await startService(config, svc), true);
  const first = await statusOf(config, svc);
  assert.equal(first.state, 'up');
  assert.ok(first.pid);

  assert.equal(await startService(config, svc), false);
  assert.equal((await statusOf(config, svc)).pid, first.pid);

  assert.equal(await stopService(config, svc), true);
  assert.equal((await statusOf(config, svc)).state, 'down');
  assert.equal(isAlive(first.pid), false);
});

test('a crashed service is reported as crashed and restarted by the next start', async () => {
  const svc = fakeService(await freePort());
  await startService(config, svc);
  const { pid } = await statusOf(config, svc);
  process.kill(pid!, 'SIGKILL');
  while (isAlive(pid!)) await new Promise((r) => setTimeout(r, 50));

  assert.equal((await statusOf(config, svc)).state, 'crashed');
  assert.equal(await startService(config, svc), true);
  const now = await statusOf(config, svc);
  assert.equal(now.state, 'up');
  assert.notEqual(now.pid, pid);
  await stopService(config, svc);
});

test('a port taken by another program gives one clear error naming the part, port and setting', async () => {
  const port = await freePort();
  const squatter: Server = createServer((s) => s.destroy());
  await new Promise<void>((r) => squatter.listen(port, '127.0.0.1', r));
  try {
    await assert.rejects(startService(config, fakeService(port)), (err: unknown) => {
      assert.ok(err instanceof SluiceError);
      assert.equal(err.code, 'PORT_IN_USE');
      assert.match(err.message, new RegExp(`\\[fake\\] port ${port} \\(http\\).*stack\\.fakePort`));
      return true;
    });
  } finally {
    squatter.close();
  }
});

test('a service that exits while starting fails with the tail of its log', async () => {
  await assert.rejects(startService(config, fakeService(await freePort(), 'fail')), (err: unknown) => {
    assert.ok(err instanceof SluiceError);
    assert.equal(err.code, 'SERVICE_START_FAILED');
    assert.match(err.message, /\[fake\] exited while starting/);
    assert.match(err.message, /boom: cannot open data dir/);
    return true;
  });
});
