// A spool that cannot be written (disk full, I/O error) answers 503 SPOOL_UNAVAILABLE, so clients
// retry, instead of a 500 that reads like a bug in their request.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { parseConfig } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { createProxyContext } from '../../proxy/context.js';
import { HttpError } from '../../proxy/http-error.js';
import { loadCatalog } from '../../schemas/catalog.js';

test('a disk error while spooling is a retriable 503 that names the cause', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-spool-err-'));
  const ctx = await createProxyContext(
    parseConfig({ stateDir: dir }),
    loadCatalog(),
    createLogger('test', 'silent'),
  );
  const cluster = ctx.clusters.get('default')!;
  try {
    cluster.spool.append = () =>
      Promise.reject(Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC' }));
    await assert.rejects(
      ctx.spoolAppend([
        {
          cluster: 'default',
          topic: 'events.order_created',
          key: null,
          value: Buffer.from('{}'),
          headers: {},
        },
      ]),
      (err: unknown) => {
        assert.ok(err instanceof HttpError);
        assert.equal(err.code, 'SPOOL_UNAVAILABLE');
        assert.equal(err.status, 503);
        assert.equal(err.retryAfter, 5);
        assert.match(err.message, /ENOSPC/);
        return true;
      },
    );
  } finally {
    await cluster.spool.close();
    await cluster.producer.close();
    rmSync(dir, { recursive: true, force: true });
  }
});
