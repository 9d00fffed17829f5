// Freshness: how long from the proxy accepting an event over HTTP until a query of the warehouse sees it.
// The proxy, a pipeline worker and a loader worker run as separate processes, as in production
// (`node --import tsx proxy/server.ts`, `workers/pipeline-worker.ts`, `workers/loader-worker.ts`), on a generated
// config: an isolated catalog (own topics, DLQs, queues, tables), own task queues, own DuckDB file and free ports.
// An open-loop generator offers a fixed rate (default 5,000 events/s: 50 requests/s × 100 events of ~1 KB) on a
// fixed timetable, so a slow answer delays nothing and is counted from its scheduled time. Each event carries
// its id (<request>.<index>) and its send time (ce time). The bench polls the loader's query endpoint every
// --poll-ms and attributes to each event the time its request's row count first covered it.
// Usage: npm run bench:freshness -- [--seconds 60] [--rate 5000] [--events 100] [--event-bytes 1024]
//        [--max-age 2] [--idle-wait-ms 1000] [--poll-wait 1] [--poll-ms 250] [--drain-timeout 120] [--max-activities 32]
//        [--doc docs/benchmarks-freshness.md | --no-doc]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { Client, Connection } from '@temporalio/client';
import { loadConfig, parseConfig, type Config } from '../lib/config.js';
import { createAdmin } from '../lib/kafka.js';
import { projectRoot } from '../lib/paths.js';
import { queryWarehouse, rowObjects } from '../lib/warehouse-client.js';
import { stackPaths } from '../ops/services/service.js';
import { runningPid } from '../ops/supervisor.js';
import type { EventType } from '../schemas/catalog.js';
import { isolatedCatalog } from '../test/helpers/catalog.js';
import { uniqueName } from '../test/helpers/names.js';
import { freePort } from '../test/helpers/net.js';
import type { eventPipeline } from '../workflows/event-pipeline.js';
import type { warehouseLoader } from '../workflows/warehouse-loader.js';
import {
  busyBeforeStart,
  cpuSeconds,
  dec,
  errorMessage,
  fail,
  int,
  machine,
  machineCpuSeconds,
  markdownTable,
  mb,
  orderWithoutItems,
  parseFlags,
  pick,
  positiveInt,
  reachKafka,
  runMain,
  sleep,
  statusKb,
  stopChild,
  writeDoc,
  writeSummary,
  type Machine,
  type OrderCreated,
  openLoopPost,
} from './common.js';

const TARGET_P99_SECONDS = 10;
const READY_TIMEOUT_MS = 300_000;
const REQUEST_TIMEOUT_MS = 30_000;
const PAYLOAD_POOL = 1000;
const RSS_SAMPLE_MS = 1000;
const WARMUP_PREFIX = 'w';

// ---------------------------------------------------------------------------------------------------------
// Options

interface Options {
  seconds: number;
  rate: number;
  events: number;
  eventBytes: number;
  maxAgeSeconds: number;
  idleWaitMs: number;
  pollWaitSeconds: number;
  pollMs: number;
  drainTimeoutSeconds: number;
  /** pipeline.maxConcurrentActivities of the worker. */
  maxActivities: number;
  doc: string | null;
}

function parseOptions(): Options {
  const { values } = parseFlags({
    seconds: { type: 'string', default: '60' },
    rate: { type: 'string', default: '5000' },
    events: { type: 'string', default: '100' },
    'event-bytes': { type: 'string', default: '1024' },
    'max-age': { type: 'string', default: '2' },
    'idle-wait-ms': { type: 'string', default: '1000' },
    'poll-wait': { type: 'string', default: '1' },
    'poll-ms': { type: 'string', default: '250' },
    'drain-timeout': { type: 'string', default: '120' },
    // 3 types × 3 partitions each hold a planSegment long-poll: the default 8 slots leave writes queueing.
    'max-activities': { type: 'string', default: '32' },
    doc: { type: 'string', default: 'docs/benchmarks-freshness.md' },
    'no-doc': { type: 'boolean', default: false },
  });
  const opts: Options = {
    seconds: positiveInt('seconds', values.seconds),
    rate: positiveInt('rate', values.rate),
    events: positiveInt('events', values.events),
    eventBytes: positiveInt('event-bytes', values['event-bytes'], 400),
    maxAgeSeconds: positiveInt('max-age', values['max-age']),
    idleWaitMs: positiveInt('idle-wait-ms', values['idle-wait-ms'], 100),
    pollWaitSeconds: positiveInt('poll-wait', values['poll-wait']),
    pollMs: positiveInt('poll-ms', values['poll-ms'], 50),
    drainTimeoutSeconds: positiveInt('drain-timeout', values['drain-timeout']),
    maxActivities: positiveInt('max-activities', values['max-activities']),
    doc: values['no-doc'] ? null : values.doc,
  };
  if (opts.rate < opts.events) fail(`--rate (${opts.rate}) must be at least --events (${opts.events})`);
  return opts;
}

// ---------------------------------------------------------------------------------------------------------
// Events

/** An order whose JSON is about `bytes` long: the schema is closed, so the size comes from line items. */
function orderEvent(bytes: number): OrderCreated {
  const order = orderWithoutItems(`cus_${randomBytes(8).toString('hex')}`, Date.now());
  while (order.items.length < 200) {
    const item = {
      sku: `SKU-${randomBytes(3).toString('hex').toUpperCase()}-${pick(['S', 'M', 'L', 'XL'])}`,
      quantity: 1 + Math.floor(Math.random() * 4),
      unit_price_cents: 199 + Math.floor(Math.random() * 4800),
    };
    if (order.items.length > 0 && JSON.stringify(order).length + JSON.stringify(item).length + 1 > bytes)
      break;
    order.items.push(item);
    order.subtotal_cents += item.quantity * item.unit_price_cents;
  }
  return order;
}

/**
 * Request bodies are built per request from a pool of payloads (serialized once): the generator must stay
 * cheap, as it shares the CPUs with what it measures. Each event gets its own id and the send time.
 */
class Bodies {
  private readonly payloads: string[];
  readonly meanPayloadBytes: number;
  constructor(
    private readonly type: string,
    private readonly events: number,
    eventBytes: number,
  ) {
    this.payloads = Array.from({ length: PAYLOAD_POOL }, () => JSON.stringify(orderEvent(eventBytes)));
    this.meanPayloadBytes = this.payloads.reduce((n, p) => n + p.length, 0) / this.payloads.length;
  }
  body(prefix: string, at: Date): Buffer {
    const time = at.toISOString();
    const parts: string[] = [];
    for (let i = 0; i < this.events; i++) {
      const data = this.payloads[Math.floor(Math.random() * this.payloads.length)]!;
      parts.push(`{"type":"${this.type}","id":"${prefix}.${i}","time":"${time}","data":${data}}`);
    }
    return Buffer.from(`[${parts.join(',')}]`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The processes

type Role = 'proxy' | 'pipeline' | 'loader';
const ENTRY: Record<Role, string> = {
  proxy: 'proxy/server.ts',
  pipeline: 'workers/pipeline-worker.ts',
  loader: 'workers/loader-worker.ts',
};
const STACK = ['kafka', 'temporal', 's3', 'sqs'] as const;
type StackName = (typeof STACK)[number];
type ProcName = Role | StackName;
const PROC_LABEL: Record<ProcName, string> = {
  proxy: 'proxy (`proxy/server.ts`)',
  pipeline: 'pipeline worker (`workers/pipeline-worker.ts`)',
  loader: 'loader worker (`workers/loader-worker.ts`, owns DuckDB)',
  kafka: 'Kafka broker (JVM)',
  temporal: 'Temporal dev server',
  s3: 'S3 (versitygw)',
  sqs: 'SQS (ElasticMQ, JVM)',
};

interface Proc {
  role: Role;
  child: ChildProcess;
  pid: number;
  exited: Promise<number | null>;
  log: string;
}

function startProc(role: Role, configFile: string, work: string): Proc {
  const log = join(work, `${role}.log`);
  const fd = openSync(log, 'a');
  const child = spawn(process.execPath, ['--import', 'tsx', join(projectRoot(), ENTRY[role])], {
    cwd: projectRoot(),
    env: { ...process.env, SLUICE_CONFIG: configFile },
    stdio: ['ignore', fd, fd],
  });
  closeSync(fd);
  const pid = child.pid ?? fail(`could not start the ${role} process`);
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  return { role, child, pid, exited, log };
}

function logTail(p: Proc): string {
  try {
    return readFileSync(p.log, 'utf8').split('\n').slice(-15).join('\n');
  } catch {
    return '(no log)';
  }
}

function checkAlive(procs: readonly Proc[]): void {
  for (const p of procs) {
    if (p.child.exitCode !== null || p.child.signalCode !== null) {
      fail(
        `the ${p.role} process exited (${p.child.exitCode ?? p.child.signalCode}); its log:\n${logTail(p)}`,
      );
    }
  }
}

/** The config the three processes read: the project's config with the bench's isolated settings. */
function writeConfig(
  work: string,
  catalogDir: string,
  ports: { proxy: number; query: number },
  opts: Options,
): { file: string; config: Config } {
  const named = process.env.SLUICE_CONFIG;
  const source = named ? resolve(named) : join(projectRoot(), 'sluice.config.json');
  const base = existsSync(source)
    ? (JSON.parse(readFileSync(source, 'utf8')) as Record<string, unknown>)
    : {};
  const section = (name: string): Record<string, unknown> => {
    const s = base[name];
    return typeof s === 'object' && s !== null ? (s as Record<string, unknown>) : {};
  };
  const input = {
    ...base,
    // The stack's state dir, resolved here: the config file lives in a temp dir.
    stateDir: loadConfig().stateDir,
    catalogDir,
    // Per-request and per-activity logs would measure pino.
    logLevel: 'warn',
    proxy: {
      ...section('proxy'),
      host: '127.0.0.1',
      port: ports.proxy,
      spoolDir: join(work, 'spool'),
      // No API keys: their per-key rate limit (1000 events/s by default) would cap the run.
      apiKeys: [],
    },
    pipeline: {
      ...section('pipeline'),
      taskQueue: uniqueName('bench-fresh-pipeline'),
      idleWaitMs: opts.idleWaitMs,
      maxConcurrentActivities: opts.maxActivities,
    },
    warehouse: {
      ...section('warehouse'),
      kind: 'duckdb',
      duckdbPath: join(work, 'warehouse.duckdb'),
      taskQueue: uniqueName('bench-fresh-loader'),
      queryHost: '127.0.0.1',
      queryPort: ports.query,
      pollWaitSeconds: opts.pollWaitSeconds,
    },
  };
  const file = join(work, 'sluice.config.json');
  writeFileSync(file, JSON.stringify(input, null, 2));
  return { file, config: parseConfig(input, file) };
}

// ---------------------------------------------------------------------------------------------------------
// CPU and memory of every process

class Meter {
  readonly pids: Map<ProcName, number | undefined>;
  /** Highest VmRSS sampled while measuring, kB. */
  readonly peakRss = new Map<ProcName, number>();
  private timer: NodeJS.Timeout | undefined;
  private cpu0 = new Map<ProcName, number>();
  private machine0 = 0;
  private t0 = 0;

  private readonly run: string;

  constructor(procs: readonly Proc[], config: Config) {
    const run = stackPaths(config).run;
    this.run = run;
    this.pids = new Map<ProcName, number | undefined>([
      ...procs.map((p): [ProcName, number] => [p.role, p.pid]),
      ...STACK.map((s): [ProcName, number | undefined] => [s, runningPid(join(run, `${s}.pid`))]),
    ]);
  }

  private sampleRss(): void {
    for (const [name, pid] of this.pids) {
      if (pid === undefined) continue;
      try {
        const kb = statusKb(pid, 'VmRSS');
        this.peakRss.set(name, Math.max(this.peakRss.get(name) ?? 0, kb));
      } catch {
        // gone: nothing to sample
      }
    }
  }

  start(): void {
    this.t0 = performance.now();
    this.machine0 = machineCpuSeconds();
    this.cpu0 = new Map([...this.pids].map(([n, pid]) => [n, cpuSeconds(pid)]));
    this.sampleRss();
    this.timer = setInterval(() => this.sampleRss(), RSS_SAMPLE_MS);
  }

  /** Cores each process used since start(), and the whole machine's. */
  stop(): { cores: Map<ProcName, number>; machineCores: number; seconds: number } {
    clearInterval(this.timer);
    this.sampleRss();
    const seconds = (performance.now() - this.t0) / 1000;
    const cores = new Map(
      [...this.pids].map(([n, pid]): [ProcName, number] => [
        n,
        (cpuSeconds(pid) - (this.cpu0.get(n) ?? Number.NaN)) / seconds,
      ]),
    );
    return { cores, machineCores: (machineCpuSeconds() - this.machine0) / seconds, seconds };
  }

  /** Stack services whose process is not the one measured at start (restarted by someone during the run). */
  restarted(): string[] {
    return STACK.filter((sv) => runningPid(join(this.run, `${sv}.pid`)) !== this.pids.get(sv));
  }

  /** VmHWM: the peak resident memory over the process's whole life, kB. */
  hwm(name: ProcName): number {
    const pid = this.pids.get(name);
    if (pid === undefined) return Number.NaN;
    try {
      return statusKb(pid, 'VmHWM');
    } catch {
      return Number.NaN;
    }
  }
}

// ---------------------------------------------------------------------------------------------------------
// Load and visibility

interface Batch {
  /** performance.now() ms of its slot in the timetable. */
  scheduled: number;
  answered?: number;
  ok: boolean;
  events: number;
  /** Rows visible so far, and when each increment was first seen. */
  seen: number;
  seenAt: { at: number; n: number }[];
}

interface LoadResult {
  batches: Batch[];
  t0: number;
  lastAnswer: number;
  failures: string[];
  lateSends: number;
  maxInFlight: number;
}

/** Sends the requests on their timetable, adding each to `batches` (which the poller reads meanwhile). */
async function openLoop(port: number, bodies: Bodies, opts: Options, batches: Batch[]): Promise<LoadResult> {
  const reqRate = opts.rate / opts.events;
  const interval = 1000 / reqRate;
  const wall0 = Date.now();
  const byIndex: Batch[] = [];
  const run = await openLoopPost({
    port,
    total: Math.max(1, Math.round(reqRate * opts.seconds)),
    intervalMs: interval,
    timeoutMs: REQUEST_TIMEOUT_MS,
    body: (i, scheduled) => {
      const batch: Batch = { scheduled, ok: false, events: opts.events, seen: 0, seenAt: [] };
      batches.push(batch);
      byIndex[i] = batch;
      return bodies.body(String(i), new Date(wall0 + i * interval));
    },
    answered: (i, _scheduled, ok) => {
      const batch = byIndex[i]!;
      batch.answered = performance.now();
      batch.ok = ok;
    },
  });
  return { batches, ...run };
}

interface PollStats {
  polls: number;
  queryMs: number[];
  errors: number;
  lastError: string;
}

/**
 * Polls the warehouse every `pollMs` until `stop()` says so, adding what each poll sees to the batches. A row
 * is first seen at the moment the query was sent: DuckDB answers from the snapshot taken as the query starts.
 */
async function pollVisibility(
  config: Config,
  table: string,
  batches: Batch[],
  pollMs: number,
  stop: () => boolean,
): Promise<PollStats> {
  const stats: PollStats = { polls: 0, queryMs: [], errors: 0, lastError: '' };
  let low = 0;
  while (!stop()) {
    const next = performance.now() + pollMs;
    // Only requests not yet fully seen are counted again: the query stays small as the table grows.
    while (low < batches.length && batches[low]!.seen >= batches[low]!.events) low++;
    const sql =
      `SELECT CAST(split_part(_event_id, '.', 1) AS INTEGER) AS b, count(*) AS n FROM ${table} ` +
      `WHERE _event_id NOT LIKE '${WARMUP_PREFIX}%' GROUP BY b HAVING b >= ${low}`;
    const at = performance.now();
    try {
      const rows = rowObjects(await queryWarehouse(config, sql, 100_000));
      stats.queryMs.push(performance.now() - at);
      stats.polls++;
      for (const r of rows) {
        const batch = batches[Number(r.b)];
        const n = Number(r.n);
        if (!batch || n <= batch.seen) continue;
        batch.seenAt.push({ at, n: n - batch.seen });
        batch.seen = n;
      }
    } catch (err) {
      // Before the first load the table does not exist yet.
      stats.errors++;
      stats.lastError = errorMessage(err);
    }
    await sleep(Math.max(0, next - performance.now()));
  }
  return stats;
}

// ---------------------------------------------------------------------------------------------------------
// Figures

function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]!;
}

interface Dist {
  p50: number;
  p90: number;
  p99: number;
  max: number;
  count: number;
}

function dist(values: number[]): Dist {
  const sorted = values.sort((a, b) => a - b);
  return {
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    count: sorted.length,
  };
}

interface ProcFigures {
  name: ProcName;
  label: string;
  pid: number | null;
  cores: number;
  peakRssMb: number;
  hwmMb: number;
}

export interface FreshnessSummary {
  bench: 'freshness';
  date: string;
  machine: Machine;
  busyBefore: number;
  settings: {
    seconds: number;
    offeredEventsPerSec: number;
    eventsPerRequest: number;
    meanPayloadBytes: number;
    maxAgeSeconds: number;
    idleWaitMs: number;
    pollWaitSeconds: number;
    pollMs: number;
    maxRecords: number;
    drainTimeoutSeconds: number;
    maxConcurrentActivities: number;
  };
  achievedEventsPerSec: number;
  accepted: number;
  failedRequests: number;
  lateSends: number;
  maxInFlight: number;
  answerMs: Dist;
  /** Seconds from the proxy's answer (accepted) to first visible in DuckDB. */
  freshness: Dist;
  /** Seconds from the scheduled send to first visible. */
  freshnessFromSend: Dist;
  /** Accepted events never seen within the drain timeout. */
  missing: number;
  rows: number;
  distinctIds: number;
  files: number;
  parquetBytes: number;
  polls: number;
  queryMs: Dist;
  /** Per file loaded: its newest event's _ingest_time → the load committed. */
  newestIngestToCommitMs: Dist;
  /** Mean of the loader's sluice_loader_load_latency_seconds: the S3 notice's eventTime → the commit. */
  noticeToCommitMeanMs: number;
  /** The order_created partition workflows' activities over the whole run (warm-up included). */
  activities: ActivityTimes[];
  /** Stack services restarted while the bench ran: the run does not show a steady state. */
  stackRestarted: string[];
  machineCores: number;
  processes: ProcFigures[];
  targetP99Seconds: number;
  met: boolean;
}

const sec = (ms: number): string => dec(2)(ms / 1000);

function freshnessTable(s: FreshnessSummary): string {
  const f = s.freshness;
  const g = s.freshnessFromSend;
  return markdownTable(['Freshness (s)', 'p50', 'p90', 'p99', 'max', 'events'], 'lrrrrr', [
    [
      'HTTP answer (accepted) → visible in DuckDB',
      sec(f.p50),
      sec(f.p90),
      sec(f.p99),
      sec(f.max),
      int(f.count),
    ],
    ['scheduled send → visible in DuckDB', sec(g.p50), sec(g.p90), sec(g.p99), sec(g.max), int(g.count)],
  ]);
}

function activityTable(s: FreshnessSummary): string {
  return markdownTable(
    ['Pipeline activity', 'count', 'wait to start p50 / p99 (ms)', 'run p50 / p99 / max (ms)'],
    'lrrr',
    s.activities.map((a) => [
      `\`${a.name}\``,
      int(a.count),
      `${dec(0)(a.waitMs.p50)} / ${dec(0)(a.waitMs.p99)}`,
      `${dec(0)(a.runMs.p50)} / ${dec(0)(a.runMs.p99)} / ${dec(0)(a.runMs.max)}`,
    ]),
  );
}

function processTable(s: FreshnessSummary): string {
  return markdownTable(
    ['Process', 'CPU during the load (cores)', 'Peak RSS during the load (MB)', 'VmHWM, whole life (MB)'],
    'lrrr',
    s.processes.map((p) => [p.label, dec(2)(p.cores), dec(0)(p.peakRssMb), dec(0)(p.hwmMb)]),
  );
}

function renderDoc(s: FreshnessSummary): string {
  const st = s.settings;
  const verdict = s.met
    ? `**met**: p99 ${sec(s.freshness.p99)} s`
    : `**not met**: p99 ${sec(s.freshness.p99)} s${s.missing ? `, ${int(s.missing)} events never seen` : ''}`;
  const perFile = s.files > 0 ? s.rows / s.files : Number.NaN;
  const restarted = s.stackRestarted.length
    ? `\n\n**${s.stackRestarted.join(' and ')} restarted during this run** (not by the bench): the figures include that outage.`
    : '';
  const noisy =
    restarted +
    (s.busyBefore > 0.3
      ? `\n\nThe machine was not idle: other programs kept ${dec(2)(s.busyBefore)} of its ${s.machine.nproc} cores busy before the run; ` +
        'everything here shares the CPUs with them, so the figures are noisy.'
      : '');
  return `# Freshness benchmark: HTTP accept → queryable in DuckDB

Generated by \`npm run bench:freshness\` (\`bench/freshness.ts\`); rerun it to refresh this page.

Target: p99 freshness ≤ ${s.targetP99Seconds} s at a fixed offered rate of ${int(st.offeredEventsPerSec)} events/s — ${verdict}.${noisy}

- Date: ${s.date}
- Machine: ${s.machine.nproc} CPUs (${s.machine.cpu}), ${s.machine.memGb.toFixed(0)} GB RAM; Node ${s.machine.node}; the local stack
  (Kafka, Temporal dev server, S3, SQS) and anything else running share it; busy ${dec(2)(s.busyBefore)} cores before the run
- Processes: the proxy, one pipeline worker and one loader worker, each its own \`node --import tsx <entry>\` process
  with \`SLUICE_CONFIG\` naming a generated config: an isolated copy of the catalog (own topics, DLQs, queues, tables),
  own task queues, own DuckDB file, free ports, logLevel=warn; \`eventPipeline\` and \`warehouseLoader\` started for every
  type of the copy (only \`order_created\` gets traffic)
- Load: open loop, ${int(st.offeredEventsPerSec / st.eventsPerRequest)} requests/s × ${st.eventsPerRequest} \`order_created\` events (mean payload ${int(st.meanPayloadBytes)} bytes
  of JSON) on a fixed timetable for ${st.seconds} s; every event has its own id and the send time as its \`time\`
- Settings of the run: flush \`maxAgeSeconds=${st.maxAgeSeconds}\` (catalog default: 60), \`maxRecords=${int(st.maxRecords)}\`;
  \`pipeline.idleWaitMs=${st.idleWaitMs}\` (default 20000); \`warehouse.pollWaitSeconds=${st.pollWaitSeconds}\` (default 20);
  \`pipeline.maxConcurrentActivities=${st.maxConcurrentActivities}\` (the default); visibility polled every ${st.pollMs} ms

## Results

${freshnessTable(s)}

${markdownTable(['Load', 'Figure'], 'lr', [
  ['Offered events/s', int(st.offeredEventsPerSec)],
  ['Achieved events/s (accepted ÷ last answer − start)', int(s.achievedEventsPerSec)],
  ['Events accepted (HTTP 200)', int(s.accepted)],
  ['Requests failed', int(s.failedRequests)],
  ['Requests sent > 5 ms late (generator)', int(s.lateSends)],
  [
    'Answer latency from the scheduled send, p50 / p99 / max (ms)',
    `${dec(1)(s.answerMs.p50)} / ${dec(1)(s.answerMs.p99)} / ${dec(1)(s.answerMs.max)}`,
  ],
  ['Most requests in flight', int(s.maxInFlight)],
  ['Events never seen in DuckDB', int(s.missing)],
  ['Rows in the table / distinct ids', `${int(s.rows)} / ${int(s.distinctIds)}`],
  [
    'Parquet files loaded / rows per file / MB per file',
    `${int(s.files)} / ${int(perFile)} / ${s.files > 0 ? mb(s.parquetBytes / s.files) : '—'}`,
  ],
  [
    'Per file: newest event ingested → load committed, p50 / max (s)',
    `${sec(s.newestIngestToCommitMs.p50)} / ${sec(s.newestIngestToCommitMs.max)}`,
  ],
  ['Per file: S3 notice → load committed, mean (s; the loader histogram)', sec(s.noticeToCommitMeanMs)],
  [
    'Visibility polls / query p50 / p99 (ms)',
    `${int(s.polls)} / ${dec(1)(s.queryMs.p50)} / ${dec(1)(s.queryMs.p99)}`,
  ],
  ['Whole machine CPU during the load (cores)', dec(2)(s.machineCores)],
])}

${processTable(s)}

CPU: utime + stime of \`/proc/<pid>/stat\` from the first scheduled request to the last answer. Peak RSS: the highest
\`VmRSS\` of \`/proc/<pid>/status\` sampled every ${RSS_SAMPLE_MS / 1000} s over the same window; VmHWM covers each process's whole life
(for the workers that includes bundling the workflows at start-up; for the stack, everything since it started).

Where the time goes, from the \`order_created\` partition workflows' histories (the whole run, warm-up included):
\`planSegment\` long-polls until the flush policy cuts a segment, so its run time is mostly waiting by design;
\`writeSegment\` reads, encodes and uploads; "wait to start" is the time an activity task waited for a free slot
of the worker (\`pipeline.maxConcurrentActivities\`) and its dispatch by Temporal.

${activityTable(s)}

## Method

1. Provision an isolated catalog with \`maxAgeSeconds=${st.maxAgeSeconds}\`, write the config, start the three processes, wait for the
   proxy's \`/readyz\`, start the workflows, then send one warm-up request and wait until its rows are queryable (the
   table exists, every process is warm). Warm-up rows are left out of every figure.
2. The generator schedules request \`k\` at \`start + k × ${dec(0)(1000 / (st.offeredEventsPerSec / st.eventsPerRequest))} ms\` and sends it then whatever earlier requests
   are doing (keep-alive connections are opened as needed). Event ids are \`<k>.<i>\`.
3. A poller sends \`SELECT CAST(split_part(_event_id, '.', 1) AS INTEGER) AS b, count(*) … GROUP BY b\` (requests not yet fully
   seen) to \`POST /v1/query\` every ${st.pollMs} ms. When request k's count grows, the new rows are attributed the moment that query
   was sent (DuckDB answers from the snapshot at the query's start), so a figure is late by at most one poll
   interval plus the query's own time. Freshness of an event = first seen − its request's HTTP answer (the moment
   the proxy accepted it); "scheduled send" uses the request's slot in the timetable instead, so a slow answer counts.
4. After the load, polling goes on until every accepted event was seen or the drain timeout (${st.drainTimeoutSeconds} s) passed; the bench then checks
   the row count equals the events accepted and that no id is there twice, terminates the workflows, stops the
   processes and deletes the isolated topics and queues.

## What the setting costs

The pipeline cuts a partition's segment when its oldest waiting record is \`maxAgeSeconds\` old (checked every
≤ 500 ms) or \`maxRecords\` are waiting. At ${int(st.offeredEventsPerSec)} events/s over 3 partitions a ${st.maxAgeSeconds} s age means one Parquet file per
partition about every ${st.maxAgeSeconds} s or a bit more (this run: ${int(s.files)} files of ${int(perFile)} rows on average, instead of files of
${int(st.maxRecords)} rows with the size trigger alone): more, smaller objects in S3, more SQS notices, more load transactions and
load-history rows, and smaller, less compressed Parquet row groups. Freshness is roughly \`maxAgeSeconds\` + the
plan check (≤ 0.5 s) + writing the segment + notice + load.
`;
}

interface ActivityTimes {
  name: string;
  count: number;
  /** Scheduled → started: waiting for a worker slot and the task's dispatch. */
  waitMs: Dist;
  /** Started → completed. */
  runMs: Dist;
}

const tsMs = (
  ts: { seconds?: { toString(): string } | number | null; nanos?: number | null } | null | undefined,
): number => (ts ? Number(ts.seconds?.toString() ?? 0) * 1000 + (ts.nanos ?? 0) / 1e6 : Number.NaN);

/** Per activity type of the given workflows' histories: how long tasks waited to start and how long they ran. */
async function activityTimes(client: Client, workflowIds: readonly string[]): Promise<ActivityTimes[]> {
  const byName = new Map<string, { wait: number[]; run: number[] }>();
  for (const id of workflowIds) {
    const history = await client.workflow.getHandle(id).fetchHistory();
    const scheduled = new Map<string, { name: string; at: number }>();
    const started = new Map<string, number>();
    for (const e of history.events ?? []) {
      const id = e.eventId?.toString() ?? '';
      const at = tsMs(e.eventTime);
      const sch = e.activityTaskScheduledEventAttributes;
      if (sch) scheduled.set(id, { name: sch.activityType?.name ?? '?', at });
      const st = e.activityTaskStartedEventAttributes;
      if (st) started.set(st.scheduledEventId?.toString() ?? '', at);
      const done = e.activityTaskCompletedEventAttributes;
      if (!done) continue;
      const key = done.scheduledEventId?.toString() ?? '';
      const s = scheduled.get(key);
      const st0 = started.get(key);
      if (!s || st0 === undefined) continue;
      const entry = byName.get(s.name) ?? { wait: [], run: [] };
      entry.wait.push(st0 - s.at);
      entry.run.push(at - st0);
      byName.set(s.name, entry);
    }
  }
  return [...byName].map(([name, t]) => ({
    name,
    count: t.run.length,
    waitMs: dist(t.wait),
    runMs: dist(t.run),
  }));
}

/** Mean of the loader's notice → commit histogram for `eventType`, from its /metrics; NaN if absent. */
async function loaderLatency(config: Config, eventType: string): Promise<number> {
  const res = await fetch(`http://${config.warehouse.queryHost}:${config.warehouse.queryPort}/metrics`);
  const text = await res.text();
  const value = (name: string): number => {
    const line = text.split('\n').find((l) => l.startsWith(`${name}{`) && l.includes(`"${eventType}"`));
    return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : Number.NaN;
  };
  const sum = value('sluice_loader_load_latency_seconds_sum');
  const count = value('sluice_loader_load_latency_seconds_count');
  return count > 0 ? (sum / count) * 1000 : Number.NaN;
}

// ---------------------------------------------------------------------------------------------------------

async function finishRun(
  opts: Options,
  config: Config,
  type: EventType,
  load: LoadResult,
  stats: PollStats,
  usage: ReturnType<Meter['stop']>,
  meter: Meter,
  busyBefore: number,
  bodies: Bodies,
  activities: ActivityTimes[],
): Promise<void> {
  const ok = load.batches.filter((b) => b.ok && b.answered !== undefined);
  const accepted = ok.length * opts.events;
  const fromAnswer: number[] = [];
  const fromSend: number[] = [];
  let missing = 0;
  for (const b of ok) {
    for (const { at, n } of b.seenAt) {
      for (let i = 0; i < n; i++) {
        fromAnswer.push(at - b.answered!);
        fromSend.push(at - b.scheduled);
      }
    }
    missing += Math.max(0, b.events - b.seen);
  }
  // An event never seen counts as infinitely late: the percentiles it reaches say so.
  for (let i = 0; i < missing; i++) {
    fromAnswer.push(Number.POSITIVE_INFINITY);
    fromSend.push(Number.POSITIVE_INFINITY);
  }
  const counts = rowObjects(
    await queryWarehouse(
      config,
      `SELECT count(*) AS n, count(DISTINCT _event_id) AS d FROM ${type.table} WHERE _event_id NOT LIKE '${WARMUP_PREFIX}%'`,
    ),
  )[0];
  const files = rowObjects(
    await queryWarehouse(
      config,
      `SELECT count(*) AS files, coalesce(sum(size), 0) AS bytes FROM _sluice_load_history ` +
        `WHERE table_name = '${type.table}' AND status = 'LOADED'`,
    ),
  )[0];
  // Where the time goes, per file: its newest event's ingest → the load's commit, and (the loader's own
  // histogram) the S3 notice → the commit.
  const perFile = rowObjects(
    await queryWarehouse(
      config,
      `SELECT epoch_ms(loaded_at) - epoch_ms(newest_ingest_time) AS ms FROM _sluice_load_history ` +
        `WHERE table_name = '${type.table}' AND status = 'LOADED' AND newest_ingest_time IS NOT NULL`,
      100_000,
    ),
  ).map((r) => Number(r.ms));
  const noticeToCommit = await loaderLatency(config, type.name);
  const answers = ok.map((b) => b.answered! - b.scheduled);
  const freshness = dist(fromAnswer);
  const processes: ProcFigures[] = [...meter.pids].map(([name, pid]) => ({
    name,
    label: PROC_LABEL[name],
    pid: pid ?? null,
    cores: usage.cores.get(name) ?? Number.NaN,
    peakRssMb: (meter.peakRss.get(name) ?? Number.NaN) / 1024,
    hwmMb: meter.hwm(name) / 1024,
  }));
  const m = machine();
  const summary: FreshnessSummary = {
    bench: 'freshness',
    date: m.date,
    machine: m,
    busyBefore,
    settings: {
      seconds: opts.seconds,
      offeredEventsPerSec: opts.rate,
      eventsPerRequest: opts.events,
      meanPayloadBytes: bodies.meanPayloadBytes,
      maxAgeSeconds: type.settings.flush.maxAgeSeconds,
      idleWaitMs: opts.idleWaitMs,
      pollWaitSeconds: config.warehouse.pollWaitSeconds,
      pollMs: opts.pollMs,
      maxRecords: type.settings.flush.maxRecords,
      drainTimeoutSeconds: opts.drainTimeoutSeconds,
      maxConcurrentActivities: config.pipeline.maxConcurrentActivities,
    },
    achievedEventsPerSec: accepted / ((load.lastAnswer - load.t0) / 1000),
    accepted,
    failedRequests: load.failures.length,
    lateSends: load.lateSends,
    maxInFlight: load.maxInFlight,
    answerMs: dist(answers),
    freshness,
    freshnessFromSend: dist(fromSend),
    missing,
    rows: Number(counts?.n),
    distinctIds: Number(counts?.d),
    files: Number(files?.files),
    parquetBytes: Number(files?.bytes),
    polls: stats.polls,
    queryMs: dist(stats.queryMs),
    newestIngestToCommitMs: dist(perFile),
    noticeToCommitMeanMs: noticeToCommit,
    activities,
    stackRestarted: meter.restarted(),
    machineCores: usage.machineCores,
    processes,
    targetP99Seconds: TARGET_P99_SECONDS,
    met: missing === 0 && freshness.p99 <= TARGET_P99_SECONDS * 1000,
  };
  if (summary.stackRestarted.length) {
    console.warn(
      `warning: ${summary.stackRestarted.join(', ')} restarted during the run: not a steady state`,
    );
  }
  console.log(`\n${freshnessTable(summary)}\n\n${processTable(summary)}\n\n${activityTable(summary)}\n`);
  console.log(
    `achieved ${int(summary.achievedEventsPerSec)} of ${int(opts.rate)} events/s offered; ${int(accepted)} accepted, ` +
      `${load.failures.length} requests failed${load.failures[0] ? ` (first: ${load.failures[0]})` : ''}; answers p50 ` +
      `${dec(1)(summary.answerMs.p50)} ms p99 ${dec(1)(summary.answerMs.p99)} ms; ${int(summary.files)} files; ` +
      `${stats.polls} polls (${stats.errors} failed${stats.lastError ? `: ${stats.lastError}` : ''}); per file ` +
      `newest ingest → commit p50 ${sec(summary.newestIngestToCommitMs.p50)} s max ${sec(summary.newestIngestToCommitMs.max)} s, ` +
      `notice → commit mean ${sec(noticeToCommit)} s; machine ${dec(2)(usage.machineCores)} cores`,
  );
  console.log(
    `p99 freshness ${sec(freshness.p99)} s (target ≤ ${TARGET_P99_SECONDS} s: ${summary.met ? 'met' : 'NOT met'})`,
  );
  writeSummary('freshness', summary);
  if (opts.doc) await writeDoc(opts.doc, renderDoc(summary));
  if (missing > 0)
    fail(`${int(missing)} accepted events were not queryable ${opts.drainTimeoutSeconds} s after the load`);
  if (summary.rows !== accepted || summary.distinctIds !== accepted) {
    fail(
      `${int(summary.rows)} rows (${int(summary.distinctIds)} distinct ids) for ${int(accepted)} events accepted`,
    );
  }
}

async function waitFor<T>(
  what: string,
  timeoutMs: number,
  procs: readonly Proc[],
  attempt: () => Promise<T | undefined>,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    checkAlive(procs);
    try {
      const got = await attempt();
      if (got !== undefined) return got;
    } catch (err) {
      last = errorMessage(err);
    }
    await sleep(250);
  }
  return fail(`${what}: not within ${timeoutMs / 1000} s${last ? ` (last: ${last})` : ''}`);
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const base = loadConfig();
  const probe = createAdmin(base, 'bench-freshness-probe');
  try {
    await reachKafka(base.kafka.brokers.join(', '), probe.listTopics(), 'listing the topics');
  } finally {
    await probe.close();
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: base.temporal.address, connectTimeout: '15 seconds' });
  } catch (err) {
    fail(`cannot reach Temporal at ${base.temporal.address} (is the stack up?): ${errorMessage(err)}`);
  }
  const client = new Client({ connection, namespace: base.temporal.namespace });
  const busyBefore = await busyBeforeStart();

  const work = mkdtempSync(join(tmpdir(), 'sluice-bench-freshness-'));
  const iso = await isolatedCatalog(base, { flush: { maxAgeSeconds: opts.maxAgeSeconds } });
  const procs: Proc[] = [];
  const workflowIds: string[] = [];
  let failed = false;
  try {
    const type: EventType =
      iso.catalog.types.get(iso.type('order_created')) ?? fail('the catalog has no order_created');
    const ports = { proxy: await freePort(), query: await freePort() };
    const { file, config } = writeConfig(work, iso.dir, ports, opts);
    const bodies = new Bodies(type.name, opts.events, opts.eventBytes);

    const started = performance.now();
    for (const role of ['proxy', 'pipeline', 'loader'] as const) procs.push(startProc(role, file, work));
    console.log(`started ${procs.map((p) => `${p.role} pid ${p.pid}`).join(', ')}; logs in ${work}`);
    await waitFor('the proxy ready', READY_TIMEOUT_MS, procs, async () => {
      const res = await fetch(`http://127.0.0.1:${ports.proxy}/readyz`);
      await res.arrayBuffer();
      return res.status === 200 ? true : undefined;
    });
    for (const t of iso.catalog.types.values()) {
      const pid = `pipeline/${t.name}`;
      await client.workflow.start<typeof eventPipeline>('eventPipeline', {
        workflowId: pid,
        taskQueue: config.pipeline.taskQueue,
        args: [{ eventType: t.name, idleWaitMs: opts.idleWaitMs }],
      });
      workflowIds.push(pid, ...Array.from({ length: t.settings.partitions }, (_, p) => `${pid}/p${p}`));
      const lid = `loader/${t.name}`;
      await client.workflow.start<typeof warehouseLoader>('warehouseLoader', {
        workflowId: lid,
        taskQueue: config.warehouse.taskQueue,
        args: [{ eventType: t.name }],
      });
      workflowIds.push(lid);
    }
    // Warm-up: one request through the whole path, which also creates the table.
    const warm = await fetch(`http://127.0.0.1:${ports.proxy}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: bodies.body(WARMUP_PREFIX, new Date()),
    });
    const warmAnswer = await warm.text();
    if (warm.status !== 200)
      fail(`the proxy did not accept the warm-up: HTTP ${warm.status} ${warmAnswer.slice(0, 500)}`);
    await waitFor('the warm-up rows queryable', READY_TIMEOUT_MS, procs, async () => {
      const r = rowObjects(await queryWarehouse(config, `SELECT count(*) AS n FROM ${type.table}`));
      return Number(r[0]?.n) >= opts.events ? true : undefined;
    });
    console.log(
      `warm: the whole path answered in ${dec(1)((performance.now() - started) / 1000)} s from the processes' start`,
    );
    await sleep(2000);

    const meter = new Meter(procs, base);
    console.log(
      `offering ${int(opts.rate)} events/s (${int(opts.rate / opts.events)} requests/s × ${opts.events}, ~${int(bodies.meanPayloadBytes)} B each) ` +
        `for ${opts.seconds} s; maxAgeSeconds=${opts.maxAgeSeconds}, idleWaitMs=${opts.idleWaitMs}, pollWaitSeconds=${opts.pollWaitSeconds}`,
    );
    const batches: Batch[] = [];
    let loadDone = false;
    let drainDeadline = Number.POSITIVE_INFINITY;
    const allSeen = (): boolean => batches.every((b) => !b.ok || b.seen >= b.events);
    const poller = pollVisibility(config, type.table, batches, opts.pollMs, () => {
      if (!loadDone) return false;
      return allSeen() || performance.now() > drainDeadline;
    });
    meter.start();
    const progress = setInterval(() => {
      const seen = batches.reduce((n, b) => n + b.seen, 0);
      const answered = batches.filter((b) => b.ok).length * opts.events;
      console.log(`  accepted ${int(answered)}, visible ${int(seen)}`);
    }, 10_000);
    let load: LoadResult;
    try {
      load = await openLoop(ports.proxy, bodies, opts, batches);
    } finally {
      clearInterval(progress);
    }
    const usage = meter.stop();
    loadDone = true;
    drainDeadline = performance.now() + opts.drainTimeoutSeconds * 1000;
    const stats = await poller;
    checkAlive(procs);
    const activities = await activityTimes(
      client,
      Array.from({ length: type.settings.partitions }, (_, p) => `pipeline/${type.name}/p${p}`),
    ).catch((err: unknown) => {
      console.warn(`could not read the partition workflows' histories: ${errorMessage(err)}`);
      return [];
    });
    return await finishRun(opts, config, type, load, stats, usage, meter, busyBefore, bodies, activities);
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    const problems: string[] = [];
    for (const id of workflowIds) {
      await client.workflow
        .getHandle(id)
        .terminate('bench over')
        .catch(() => undefined);
    }
    for (const p of procs.reverse()) {
      await stopChild(p.child, p.exited, 40_000, `the ${p.role}`).catch((err: unknown) =>
        problems.push(errorMessage(err)),
      );
    }
    await connection.close();
    await iso.cleanup(base).catch((err: unknown) => problems.push(errorMessage(err)));
    if (problems.length > 0) {
      console.error(`cleanup failed: ${problems.join('; ')}`);
      if (!failed) process.exitCode = 1;
    }
    if (!failed) rmSync(work, { recursive: true, force: true });
    else console.error(`logs kept in ${work}`);
  }
}

await runMain('bench:freshness', main);
