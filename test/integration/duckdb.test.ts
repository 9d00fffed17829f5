import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { DuckDBInstance } from '@duckdb/node-api';

test('a DuckDB file keeps a table across a close and reopen', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-duckdb-'));
  const file = join(dir, 'warehouse.duckdb');
  try {
    const db = await DuckDBInstance.create(file);
    const conn = await db.connect();
    await conn.run(
      'CREATE TABLE order_created (order_id VARCHAR, total_cents BIGINT, _event_time TIMESTAMPTZ)',
    );
    await conn.run(
      "INSERT INTO order_created VALUES ('o-1', 1250, TIMESTAMPTZ '2026-11-25 12:00:00+00'), ('o-2', 990, NULL)",
    );
    conn.closeSync();
    db.closeSync();

    const reopened = await DuckDBInstance.create(file);
    const conn2 = await reopened.connect();
    const reader = await conn2.runAndReadAll(
      'SELECT count(*)::INTEGER AS n, sum(total_cents)::INTEGER AS cents FROM order_created',
    );
    assert.deepEqual(reader.getRowObjects(), [{ n: 2, cents: 2240 }]);
    conn2.closeSync();
    reopened.closeSync();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
