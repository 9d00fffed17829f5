// `npm run test:chaos`: fault injection on a whole platform of its own (a second stack on other
// ports, in a temporary state directory, so nothing else on the machine is disturbed). While
// events flow in through the proxy's async mode, it kills -9 and restarts a pipeline worker, the
// loader worker, the proxy, the Kafka broker and the Temporal server, and takes the S3 server away
// for 30 s. After recovery it counts every event in the warehouse: 0 lost, 0 duplicated, or exit 1.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { Client, Connection } from '@temporalio/client';
import { parseConfig, type Config } from '../../lib/config.js';
import { projectRoot } from '../../lib/paths.js';
import { queryWarehouse, rowObjects } from '../../lib/warehouse-client.js';
import { AppProcess } from '../../ops/app-processes.js';
import { runMain } from '../../ops/main.js';
import { ensureLoaders, ensurePipelines } from '../../ops/pipelines.js';
import { step } from '../../ops/progress.js';
import { services, stackDown, stackUp, startService, statusOf } from '../../ops/stack-lib.js';
import { samplePayloads } from '../../schemas/sample.js';
import { EventValidator } from '../../schemas/validator.js';
import type { PipelineStatus } from '../../workflows/signals.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { freePort } from '../helpers/net.js';
import { seededRandom } from '../helpers/random.js';

const SHIPPED = ['order_created', 'delivery_status_changed', 'mobile_page_load'] as const;
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Ledger {
  /** Answered 202: the proxy promised to deliver. */
  acked: Set<string>;
  /** The connection broke after the request was sent: maybe accepted, never sent again. */
  unknown: Set<string>;
  typeOf: Map<string, string>;
  requests: number;
  retries: number;
}

/** Sends every batch in async mode; retries only what was surely not accepted. */
async function load(
  proxyUrl: () => string,
  batches: { type: string; events: { id: string; data: unknown }[] }[],
  durationMs: number,
  ledger: Ledger,
): Promise<void> {
  const gap = durationMs / batches.length;
  const started = Date.now();
  await Promise.all(
    batches.map(async (b, i) => {
      await sleep(Math.max(0, started + i * gap - Date.now()));
      const body = JSON.stringify(b.events.map((e) => ({ type: b.type, id: e.id, data: e.data })));
      for (let attempt = 0; ; attempt++) {
        if (attempt) ledger.retries++;
        ledger.requests++;
        let res: Response;
        try {
          res = await fetch(`${proxyUrl()}/v1/events?async=true`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body,
            signal: AbortSignal.timeout(30_000),
          });
        } catch (err) {
          const code = (err as { cause?: { code?: string } }).cause?.code;
          // Refused: the proxy was down and never saw the request, so sending again is safe.
          if (code === 'ECONNREFUSED') {
            await sleep(500);
            continue;
          }
          for (const e of b.events) ledger.unknown.add(e.id);
          return;
        }
        if (res.status === 202) {
          for (const e of b.events) ledger.acked.add(e.id);
          return;
        }
        // 503 (not ready, spool full): nothing of the request was taken.
        if (res.status === 503 || res.status === 429) {
          await sleep(1000);
          continue;
        }
        throw new Error(`unexpected answer ${res.status}: ${await res.text()}`);
      }
    }),
  );
}

interface Fault {
  name: string;
  run: () => Promise<void>;
}

runMain(async () => {
  const { values } = parseArgs({
    options: {
      events: { type: 'string', default: '30000' },
      seconds: { type: 'string', default: '120' },
      seed: { type: 'string', default: String(Date.now() % 100_000) },
      keep: { type: 'boolean', default: false },
    },
  });
  const total = Number(values.events);
  const seconds = Number(values.seconds);
  const seed = Number(values.seed);
  const random = seededRandom(seed);
  const stateDir = mkdtempSync(join(tmpdir(), 'sluice-chaos-'));
  const configFile = join(stateDir, 'sluice.config.json');
  const raw = {
    stateDir,
    logLevel: 'warn',
    stack: {
      kafkaPort: 29092,
      kafkaControllerPort: 29093,
      temporalPort: 27233,
      temporalUiPort: 28233,
      s3Port: 29000,
      sqsPort: 29324,
    },
    proxy: { port: await freePort() },
    warehouse: { queryPort: await freePort(), visibilityTimeoutSeconds: 30 },
    pipeline: { idleWaitMs: 1000 },
  };
  let config: Config = parseConfig(raw, 'chaos');
  step(
    'chaos',
    `seed ${seed}; a platform of its own in ${stateDir} (Kafka :29092, Temporal :27233, S3 :29000, SQS :29324)`,
  );
  await stackUp(config);
  const cat: IsolatedCatalog = await isolatedCatalog(config, { flush: { maxAgeSeconds: 2 } });
  writeFileSync(configFile, JSON.stringify({ ...raw, catalogDir: cat.dir }));
  config = parseConfig({ ...raw, catalogDir: cat.dir }, configFile);
  process.env.SLUICE_CONFIG = configFile;

  const proxyUrl = `http://${config.proxy.host}:${config.proxy.port}`;
  const apps = {
    proxy: new AppProcess(config, {
      name: 'proxy',
      script: 'proxy/server.ts',
      readyUrl: `${proxyUrl}/healthz`,
    }),
    pipeline: new AppProcess(config, { name: 'pipeline-worker', script: 'workers/pipeline-worker.ts' }),
    loader: new AppProcess(config, {
      name: 'loader-worker',
      script: 'workers/loader-worker.ts',
      readyUrl: `http://${config.warehouse.queryHost}:${config.warehouse.queryPort}/healthz`,
    }),
  };
  let code = 1;
  try {
    for (const a of Object.values(apps)) await a.start();
    await ensurePipelines(config, cat.catalog);
    await ensureLoaders(config, cat.catalog);

    // The events: valid samples of three types, ids known in advance, 100 per request.
    const validator = new EventValidator(cat.catalog);
    const batches: { type: string; events: { id: string; data: unknown }[] }[] = [];
    const ledger: Ledger = {
      acked: new Set(),
      unknown: new Set(),
      typeOf: new Map(),
      requests: 0,
      retries: 0,
    };
    for (const [k, shipped] of SHIPPED.entries()) {
      const type = cat.catalog.types.get(cat.type(shipped))!;
      const payloads = samplePayloads(type, validator, Math.floor(total / SHIPPED.length), {
        seed: seed + k,
      });
      for (let i = 0; i < payloads.length; i += 100) {
        const events = payloads
          .slice(i, i + 100)
          .map((data, j) => ({ id: `chaos-${shipped}-${i + j}`, data }));
        for (const e of events) ledger.typeOf.set(e.id, type.name);
        batches.push({ type: type.name, events });
      }
    }
    batches.sort(() => random() - 0.5);

    const kill = (a: AppProcess, name: string): Fault => ({
      name: `kill -9 ${name}`,
      run: async () => {
        const pid = a.pid;
        if (pid) process.kill(pid, 'SIGKILL');
        await sleep(3000); // AppProcess starts it again after 2 s, like a supervisor would.
      },
    });
    const restartService = (name: string, downMs: number): Fault => ({
      name: downMs > 10_000 ? `${name} away for ${downMs / 1000} s` : `kill -9 ${name}`,
      run: async () => {
        const s = services.find((x) => x.name === name)!;
        const { pid } = await statusOf(config, s);
        if (pid) process.kill(pid, 'SIGKILL');
        await sleep(downMs);
        await startService(config, s);
      },
    });
    const faults: Fault[] = [
      kill(apps.pipeline, 'pipeline worker'),
      kill(apps.loader, 'loader worker'),
      kill(apps.proxy, 'proxy'),
      restartService('kafka', 3000),
      restartService('temporal', 2000),
      restartService('s3', 30_000),
    ].sort(() => random() - 0.5);

    step(
      'chaos',
      `sending ${batches.length * 100} events over ${seconds} s while injecting: ${faults.map((f) => f.name).join(', ')}`,
    );
    const sending = load(() => proxyUrl, batches, seconds * 1000, ledger);
    const injecting = (async () => {
      const slot = (seconds * 1000) / (faults.length + 1);
      for (const f of faults) {
        await sleep(slot * (0.5 + random() * 0.5));
        step('chaos', `fault: ${f.name}`);
        await f.run();
        step('chaos', `recovered from: ${f.name}`);
      }
    })();
    await Promise.all([sending, injecting]);
    step(
      'chaos',
      `load done: ${ledger.acked.size} acknowledged, ${ledger.unknown.size} unknown outcome, ${ledger.retries} retried requests`,
    );

    // Recovery: every acknowledged event in the warehouse, then a quiet period for late duplicates.
    const connection = await Connection.connect({ address: config.temporal.address });
    const client = new Client({ connection, namespace: config.temporal.namespace });
    const count = async (): Promise<Map<string, number>> => {
      const seen = new Map<string, number>();
      for (const shipped of SHIPPED) {
        const type = cat.catalog.types.get(cat.type(shipped))!;
        const result = await queryWarehouse(
          config,
          `SELECT _event_id AS id, count(*) AS n FROM ${type.table} GROUP BY 1`,
          total * 2,
        ).catch(() => undefined);
        for (const r of result ? rowObjects(result) : []) seen.set(String(r.id), Number(r.n));
      }
      return seen;
    };
    const deadline = Date.now() + 10 * 60_000;
    let seen = new Map<string, number>();
    for (;;) {
      seen = await count();
      const missing = [...ledger.acked].filter((id) => !seen.has(id)).length;
      if (missing === 0 || Date.now() > deadline) break;
      step('chaos', `recovering: ${missing} acknowledged events not in the warehouse yet`);
      await sleep(5000);
    }
    await sleep(15_000);
    seen = await count();
    const lag = await Promise.all(
      SHIPPED.map((s) =>
        client.workflow
          .getHandle(`pipeline/${cat.type(s)}`)
          .query<PipelineStatus>('status')
          .then((st) => st.partitions.reduce((sum, p) => sum + BigInt(p.lag), 0n).toString())
          .catch(() => '?'),
      ),
    );
    await connection.close();

    const lost = [...ledger.acked].filter((id) => !seen.has(id));
    const duplicated = [...seen.entries()].filter(([, n]) => n > 1);
    const unexpected = [...seen.keys()].filter((id) => !ledger.acked.has(id) && !ledger.unknown.has(id));
    const unknownLoaded = [...ledger.unknown].filter((id) => seen.has(id)).length;
    const summary = {
      seed,
      events: batches.length * 100,
      acknowledged: ledger.acked.size,
      unknownOutcome: ledger.unknown.size,
      unknownOutcomeLoaded: unknownLoaded,
      inWarehouse: [...seen.values()].reduce((a, b) => a + b, 0),
      distinctInWarehouse: seen.size,
      lost: lost.length,
      duplicated: duplicated.reduce((a, [, n]) => a + n - 1, 0),
      unexpected: unexpected.length,
      requests: ledger.requests,
      retriedRequests: ledger.retries,
      faults: faults.map((f) => f.name),
      pipelineLag: Object.fromEntries(SHIPPED.map((s, i) => [s, lag[i]])),
    };
    process.stdout.write(`\n${JSON.stringify(summary, null, 2)}\n`);
    const out = join(projectRoot(), '.sluice', 'chaos');
    mkdirSync(out, { recursive: true });
    writeFileSync(
      join(out, 'last.json'),
      JSON.stringify({ at: new Date().toISOString(), ...summary }, null, 2),
    );
    code = summary.lost === 0 && summary.duplicated === 0 && summary.unexpected === 0 ? 0 : 1;
    step(
      'chaos',
      code === 0
        ? 'PASSED: 0 lost, 0 duplicated'
        : `FAILED: ${summary.lost} lost, ${summary.duplicated} duplicated, ${summary.unexpected} unexpected`,
    );
  } finally {
    for (const a of Object.values(apps)) await a.stop(10_000).catch(() => undefined);
    await cat.cleanup(config).catch(() => undefined);
    await stackDown(config);
    if (!values.keep) rmSync(stateDir, { recursive: true, force: true });
    else step('chaos', `kept ${stateDir}`);
  }
  return code;
});
