import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { ConfigError, loadConfig, parseConfig } from '../../lib/config.js';

test('defaults put every service on 127.0.0.1 at the documented ports', () => {
  const c = parseConfig({});
  assert.deepEqual(c.kafka.brokers, ['127.0.0.1:9092']);
  assert.equal(c.temporal.address, '127.0.0.1:7233');
  assert.equal(c.temporal.uiUrl, 'http://127.0.0.1:8233');
  assert.equal(c.s3.endpoint, 'http://127.0.0.1:9000');
  assert.equal(c.s3.bucket, 'sluice');
  assert.equal(c.sqs.endpoint, 'http://127.0.0.1:9324');
  assert.equal(c.proxy.port, 8080);
  assert.match(c.warehouse.duckdbPath, /\.sluice\/warehouse\.duckdb$/);
});

test('a changed stack port moves the client address with it; explicit addresses win', () => {
  const c = parseConfig({ stack: { kafkaPort: 19092 }, temporal: { address: 'temporal.prod:7233' } });
  assert.deepEqual(c.kafka.brokers, ['127.0.0.1:19092']);
  assert.equal(c.temporal.address, 'temporal.prod:7233');
});

test('invalid values are reported with their path and the rule broken', () => {
  assert.throws(
    () => parseConfig({ stack: { kafkaPort: 70000 }, logLevel: 'loud' }, 'sluice.config.json'),
    (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.match(err.message, /invalid configuration in sluice\.config\.json/);
      assert.match(err.message, /stack\.kafkaPort: .*65535/);
      assert.match(err.message, /logLevel: /);
      return true;
    },
  );
});

test('an unknown key is refused rather than silently ignored', () => {
  assert.throws(() => parseConfig({ stack: { kafkaPrt: 1 } }), /stack: .*kafkaPrt/);
});

test('SLUICE_CONFIG names the file; a missing or malformed file is a clear error', () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-config-'));
  try {
    const file = join(dir, 'sluice.config.json');
    writeFileSync(file, JSON.stringify({ proxy: { port: 18080 } }));
    assert.equal(loadConfig({ SLUICE_CONFIG: file }).proxy.port, 18080);
    assert.throws(() => loadConfig({ SLUICE_CONFIG: join(dir, 'nope.json') }), /does not exist/);
    writeFileSync(file, '{ "proxy": ');
    assert.throws(() => loadConfig({ SLUICE_CONFIG: file }), /cannot read .*sluice\.config\.json/);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
