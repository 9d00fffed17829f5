// End to end on the real stack: HTTP → proxy → Kafka → pipeline → Parquet on S3 → loader → DuckDB,
// three event types, with invalid and test events. Every valid event is in the warehouse exactly
// once with the right envelope columns; every invalid one is in its DLQ with the reason.
// `npm test` runs it with 3,000 events; `npm run test:e2e` with 100,000 (SLUICE_E2E_EVENTS).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { type Config } from '../../lib/config.js';
import { queryWarehouse, rowObjects } from '../../lib/warehouse-client.js';
import type { RunningProxy } from '../../proxy/server.js';
import { samplePayloads } from '../../schemas/sample.js';
import { EventValidator } from '../../schemas/validator.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { readTopic } from '../helpers/kafka-read.js';
import { startReadyProxy } from '../helpers/proxy.js';
import {
  startLoaderWorker,
  startPipelineWorker,
  startTypeWorkflows,
  testPlatform,
  workflowIdsOf,
  type TestPlatform,
} from '../helpers/platform.js';
import { eventually } from '../helpers/wait.js';

const TOTAL = Number(process.env.SLUICE_E2E_EVENTS ?? 3000);
const SHIPPED = ['order_created', 'delivery_status_changed', 'mobile_page_load'] as const;

let config: Config;
let cat: IsolatedCatalog;
let proxy: RunningProxy;
let platform: TestPlatform;
let loader: Awaited<ReturnType<typeof startLoaderWorker>>;
let pipeline: Awaited<ReturnType<typeof startPipelineWorker>>;

interface Sent {
  valid: Map<string, { test: boolean; time: string }>;
  invalid: Set<string>;
}
const sent = new Map<string, Sent>();

before(async () => {
  platform = await testPlatform('e2e');
  // Quiet proxy logs: 100k events would flood the test output.
  config = { ...platform.config, logLevel: 'warn' };
  cat = await isolatedCatalog(config, { flush: { maxAgeSeconds: 2 } });
  proxy = await startReadyProxy(config, cat.catalog);
  pipeline = await startPipelineWorker(platform, cat.catalog);
  loader = await startLoaderWorker(platform, cat.catalog);
  for (const shipped of SHIPPED) await startTypeWorkflows(platform, cat.type(shipped));
});

after(async () => {
  await pipeline.stop();
  await loader.stop();
  await proxy.stop();
  await platform.close(SHIPPED.flatMap((s) => workflowIdsOf(cat.type(s))));
  await cat.cleanup(config);
});

/** Breaks a valid payload the way a buggy client would: a required field missing. */
function broken(payload: Record<string, unknown>, required: string[]): Record<string, unknown> {
  const copy = { ...payload };
  delete copy[required[0]!];
  return copy;
}

test(`${TOTAL} events over three types reach the warehouse exactly once; invalid ones are in the DLQs`, async () => {
  const validator = new EventValidator(cat.catalog);
  const perType = Math.floor(TOTAL / SHIPPED.length);
  for (const shipped of SHIPPED) {
    const type = cat.catalog.types.get(cat.type(shipped))!;
    const s: Sent = { valid: new Map(), invalid: new Set() };
    sent.set(type.name, s);
    const payloads = samplePayloads(type, validator, perType, { seed: SHIPPED.indexOf(shipped) + 1 });
    for (let i = 0; i < payloads.length; i += 500) {
      const body = payloads.slice(i, i + 500).map((data, j) => {
        const n = i + j;
        const id = `e2e-${shipped}-${n}`;
        // 2% invalid, 5% test traffic.
        if (n % 50 === 7) {
          s.invalid.add(id);
          return { type: type.name, id, data: broken(data, type.latest.schema.required ?? []) };
        }
        const isTest = n % 20 === 3;
        const time = new Date(Date.now() - (n % 3600) * 1000).toISOString();
        s.valid.set(id, { test: isTest, time });
        return { type: type.name, id, time, data, ...(isTest ? { test: true } : {}) };
      });
      const res = await fetch(`${proxy.url}/v1/events`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
      });
      const answer = (await res.json()) as { accepted: number; rejected: number };
      const bad = body.filter((e) => s.invalid.has(e.id)).length;
      assert.equal(res.status, bad > 0 ? 207 : 200);
      assert.deepEqual([answer.accepted, answer.rejected], [body.length - bad, bad]);
    }
  }

  for (const shipped of SHIPPED) {
    const type = cat.catalog.types.get(cat.type(shipped))!;
    const s = sent.get(type.name)!;
    const mode = type.settings.testEvents;
    const tests = [...s.valid.values()].filter((v) => v.test).length;
    const expectMain = mode === 'same-table' ? s.valid.size : s.valid.size - tests;
    await eventually(
      () =>
        queryWarehouse(config, `SELECT count(*) AS n FROM ${type.table}`)
          .then((r) => Number(rowObjects(r)[0]?.n))
          .catch(() => 0),
      (n) => n >= expectMain,
      `${shipped}: ${expectMain} rows in ${type.table}`,
      120_000 + TOTAL * 5,
    );
    const rows = rowObjects(
      await queryWarehouse(
        config,
        `SELECT _event_id, _test, _source, _schema_version, strftime(_event_time AT TIME ZONE 'UTC', '%Y-%m-%dT%H:%M:%S.%gZ') AS t FROM ${type.table}`,
        TOTAL + 10,
      ),
    );
    assert.equal(rows.length, expectMain, `${shipped}: no row twice, none missing`);
    const ids = new Set(rows.map((r) => String(r._event_id)));
    assert.equal(ids.size, rows.length, `${shipped}: each event once`);
    for (const r of rows) {
      const want = s.valid.get(String(r._event_id));
      assert.ok(want, `${shipped}: unexpected row ${String(r._event_id)}`);
      assert.equal(r._test, want.test);
      assert.equal(r._source, '/sluice/proxy');
      assert.equal(r._schema_version, type.latest.version);
      assert.equal(r.t, want.time);
    }
    if (mode === 'separate-table') {
      const testRows = rowObjects(
        await queryWarehouse(config, `SELECT _event_id FROM ${type.table}_test`, TOTAL),
      );
      assert.equal(testRows.length, tests, `${shipped}: test events in ${type.table}_test`);
      assert.ok(testRows.every((r) => s.valid.get(String(r._event_id))?.test));
    }

    const dlq = await readTopic(config, type.dlqTopic);
    const dlqIds = dlq.map((d) => (JSON.parse(d.value?.toString('utf8') ?? '{}') as { id?: string }).id);
    assert.deepEqual(dlqIds.sort(), [...s.invalid].sort(), `${shipped}: every invalid event in the DLQ`);
    for (const d of dlq) {
      assert.equal(d.headers.sluice_error_code, 'SCHEMA_VALIDATION_FAILED');
      assert.match(d.headers.sluice_error_message ?? '', /required|must have/);
    }
  }
});
