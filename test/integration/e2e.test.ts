// End to end on the real stack: HTTP → proxy → Kafka → pipeline → Parquet on S3 → loader → DuckDB,
// three event types, with invalid and test events. Every valid event is in the warehouse exactly
// once with the right envelope columns; every invalid one is in its DLQ with the reason.
// `npm test` runs it with 3,000 events; `npm run test:e2e` with 100,000 (SLUICE_E2E_EVENTS).
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, Runtime } from '@temporalio/worker';
import { loadConfig, type Config } from '../../lib/config.js';
import { createLogger } from '../../lib/logger.js';
import { queryWarehouse, rowObjects } from '../../lib/warehouse-client.js';
import type { RunningProxy } from '../../proxy/server.js';
import { samplePayloads } from '../../schemas/sample.js';
import { EventValidator } from '../../schemas/validator.js';
import { eventPipeline } from '../../workflows/event-pipeline.js';
import { warehouseLoader } from '../../workflows/warehouse-loader.js';
import { createLoaderWorker } from '../../workers/loader-worker.js';
import { createPipelineWorkers, workflowsPath } from '../../workers/pipeline-worker.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { readTopic } from '../helpers/kafka-read.js';
import { uniqueName } from '../helpers/names.js';
import { freePort } from '../helpers/net.js';
import { startReadyProxy } from '../helpers/proxy.js';
import { eventually } from '../helpers/wait.js';

const TOTAL = Number(process.env.SLUICE_E2E_EVENTS ?? 3000);
const SHIPPED = ['order_created', 'delivery_status_changed', 'mobile_page_load'] as const;

let config: Config;
let cat: IsolatedCatalog;
let dir: string;
let proxy: RunningProxy;
let client: Client;
let connection: Connection;
let loader: Awaited<ReturnType<typeof createLoaderWorker>>;
let pipeline: Awaited<ReturnType<typeof createPipelineWorkers>>;
const running: Promise<unknown>[] = [];

interface Sent {
  valid: Map<string, { test: boolean; time: string }>;
  invalid: Set<string>;
}
const sent = new Map<string, Sent>();

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  dir = mkdtempSync(join(tmpdir(), 'sluice-e2e-'));
  const base = loadConfig();
  config = {
    ...base,
    logLevel: 'warn',
    warehouse: {
      ...base.warehouse,
      duckdbPath: join(dir, 'warehouse.duckdb'),
      taskQueue: uniqueName('e2e-loader'),
      queryPort: await freePort(),
    },
    pipeline: { ...base.pipeline, taskQueue: uniqueName('e2e-pipeline'), idleWaitMs: 1000 },
  };
  cat = await isolatedCatalog(config, { flush: { maxAgeSeconds: 2 } });
  proxy = await startReadyProxy(config, cat.catalog);
  pipeline = await createPipelineWorkers(config, cat.catalog, createLogger('e2e-pipeline', 'warn'), {
    workflowsPath,
  });
  loader = await createLoaderWorker(config, cat.catalog, createLogger('e2e-loader', 'warn'), {
    worker: { workflowsPath },
  });
  running.push(pipeline.run(), loader.run());
  connection = await Connection.connect({ address: config.temporal.address });
  client = new Client({ connection, namespace: config.temporal.namespace });
  for (const shipped of SHIPPED) {
    const t = cat.type(shipped);
    await client.workflow.start(eventPipeline, {
      workflowId: `pipeline/${t}`,
      taskQueue: config.pipeline.taskQueue,
      args: [{ eventType: t, idleWaitMs: 1000 }],
    });
    await client.workflow.start(warehouseLoader, {
      workflowId: `loader/${t}`,
      taskQueue: config.warehouse.taskQueue,
      args: [{ eventType: t, maxWaitMs: 1000 }],
    });
  }
});

after(async () => {
  for (const shipped of SHIPPED) {
    const t = cat.type(shipped);
    for (const id of [`loader/${t}`, `pipeline/${t}`, ...[0, 1, 2].map((p) => `pipeline/${t}/p${p}`)]) {
      await client.workflow
        .getHandle(id)
        .terminate('test over')
        .catch(() => undefined);
    }
  }
  pipeline.shutdown();
  loader.shutdown();
  await Promise.all(running);
  await pipeline.close();
  await loader.close();
  await proxy.stop();
  await connection.close();
  await cat.cleanup(config);
  rmSync(dir, { recursive: true, force: true });
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
