// Load benchmark of the HTTP ingest proxy against the raw Kafka client, on the local broker:
//   proxy: POST /v1/events, 100 order_created events (~1 KB each, schema-validated) per request, to a proxy
//          running in its own process; closed loop (N connections, autocannon) and open loop (fixed offered
//          rate, latency counted from the scheduled send time);
//   raw:   the same events with the same envelope headers and keys, 100 per send, N sends in flight, through
//          lib/kafka.ts createProducer straight to the broker, from this process.
// Rounds alternate (proxy, raw, proxy, raw, …); medians are printed and written to docs/benchmarks-proxy.md.
// Usage: npm run bench:proxy -- [--seconds 10] [--warmup 2] [--rounds 3] [--connections 16] [--rate 10000,20000]
//        [--open-seconds 8] [--events 100] [--event-bytes 1024] [--profile] [--proxy-node-arg=--flag …]
//        [--doc path | --no-doc]
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import type { Producer } from '@platformatic/kafka';
import type { Result as AutocannonResult } from 'autocannon';
import { loadConfig, parseConfig, type Config } from '../lib/config.js';
import { buildEnvelope, envelopeHeaders } from '../lib/envelope.js';
import { createAdmin, createProducer } from '../lib/kafka.js';
import { projectRoot } from '../lib/paths.js';
import { stackPaths } from '../ops/services/service.js';
import { runningPid } from '../ops/supervisor.js';
import { partitionForKey } from '../proxy/partitioner.js';
import { loadCatalog, type EventType } from '../schemas/catalog.js';
import {
  busyBeforeStart,
  cpuSeconds,
  dec,
  errorMessage,
  fail,
  hotSpotTable,
  int,
  machine,
  machineCpuSeconds,
  markdownTable,
  median,
  onShutdown,
  orderWithoutItems,
  packageVersion,
  parseFlags,
  pick,
  positiveInt,
  printHotSpots,
  ratio,
  reachKafka,
  runMain,
  sleep,
  statusKb,
  threadCpuSeconds,
  stopChild,
  summarizeProfile,
  writeDoc,
  writeSummary,
  type Machine,
  type OrderCreated,
  type ProfileSummary,
  openLoopPost,
} from './common.js';

// Set only in the proxy process this bench starts (see startProxyProcess).
const CHILD_CATALOG_ENV = 'SLUICE_BENCH_PROXY_CATALOG';
const READY_TIMEOUT_MS = 60_000;
const REQUEST_TIMEOUT_MS = 30_000;
// Distinct request bodies cycled by the load generators, so keys (and partitions) vary like real traffic.
const BODY_POOL = 64;

// ---------------------------------------------------------------------------------------------------------
// The proxy process

/** Runs the proxy as proxy/server.ts does, but on the bench's isolated catalog. */
async function serveProxy(catalogDir: string): Promise<void> {
  const { startProxy } = await import('../proxy/server.js');
  const proxy = await startProxy(loadConfig(), loadCatalog(catalogDir));
  onShutdown(() => {
    // process.exit (not a natural end) also makes --cpu-prof write its profile.
    proxy.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        console.error(`proxy shutdown failed: ${errorMessage(err)}`);
        process.exit(1);
      },
    );
  });
}

// ---------------------------------------------------------------------------------------------------------
// Options

interface Options {
  seconds: number;
  warmup: number;
  openSeconds: number;
  rounds: number;
  connections: number;
  /** Offered rates of the open-loop runs, events/s. */
  rates: number[];
  events: number;
  eventBytes: number;
  profile: boolean;
  /** Extra Node flags for the proxy process, e.g. --max-semi-space-size=64. */
  proxyNodeArgs: string[];
  doc: string | null;
}

function parseOptions(): Options {
  const { values } = parseFlags({
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '2' },
    'open-seconds': { type: 'string', default: '8' },
    rounds: { type: 'string', default: '3' },
    connections: { type: 'string', default: '16' },
    rate: { type: 'string', default: '10000,20000' },
    events: { type: 'string', default: '100' },
    'event-bytes': { type: 'string', default: '1024' },
    profile: { type: 'boolean', default: false },
    'proxy-node-arg': { type: 'string', multiple: true, default: [] },
    doc: { type: 'string', default: 'docs/benchmarks-proxy.md' },
    'no-doc': { type: 'boolean', default: false },
  });
  const opts: Options = {
    seconds: positiveInt('seconds', values.seconds),
    warmup: positiveInt('warmup', values.warmup, 0),
    openSeconds: positiveInt('open-seconds', values['open-seconds']),
    rounds: positiveInt('rounds', values.rounds),
    connections: positiveInt('connections', values.connections),
    rates: values.rate.split(',').map((r) => positiveInt('rate', r.trim())),
    events: positiveInt('events', values.events),
    eventBytes: positiveInt('event-bytes', values['event-bytes'], 300),
    profile: values.profile,
    proxyNodeArgs: values['proxy-node-arg'],
    doc: values['no-doc'] ? null : values.doc,
  };
  for (const rate of opts.rates)
    if (rate < opts.events) fail(`--rate (${rate} events/s) must be at least --events (${opts.events})`);
  return opts;
}

// ---------------------------------------------------------------------------------------------------------
// Events

/** An order whose JSON is about `bytes` long: the schema is closed, so the size comes from line items. */
function orderEvent(bytes: number): OrderCreated {
  const order = orderWithoutItems(`cus_${randomBytes(8).toString('hex')}`, Date.now());
  for (;;) {
    const item = {
      sku: `SKU-${randomBytes(3).toString('hex').toUpperCase()}-${pick(['S', 'M', 'L', 'XL'])}`,
      quantity: 1 + Math.floor(Math.random() * 4),
      unit_price_cents: 199 + Math.floor(Math.random() * 4800),
    };
    // Stop before overshooting; the schema allows at most 200 items.
    if (order.items.length > 0 && JSON.stringify(order).length + JSON.stringify(item).length + 1 > bytes)
      break;
    if (order.items.length === 200) break;
    order.items.push(item);
    order.subtotal_cents += item.quantity * item.unit_price_cents;
  }
  return order;
}

interface Workload {
  type: EventType;
  /** BODY_POOL groups of `events` orders: the same events go through the proxy and the raw client. */
  groups: OrderCreated[][];
  /** The request body of each group (native JSON array). */
  bodies: Buffer[];
  meanEventBytes: number;
  meanBodyBytes: number;
}

function buildWorkload(type: EventType, opts: Options): Workload {
  const groups = Array.from({ length: BODY_POOL }, () =>
    Array.from({ length: opts.events }, () => orderEvent(opts.eventBytes)),
  );
  const bodies = groups.map((g) => Buffer.from(JSON.stringify(g.map((data) => ({ type: type.name, data })))));
  const eventBytes = groups.flat().map((e) => Buffer.byteLength(JSON.stringify(e)));
  return {
    type,
    groups,
    bodies,
    meanEventBytes: eventBytes.reduce((a, b) => a + b, 0) / eventBytes.length,
    meanBodyBytes: bodies.reduce((a, b) => a + b.length, 0) / bodies.length,
  };
}

// ---------------------------------------------------------------------------------------------------------
// CPU figures

interface CpuSample {
  at: number;
  proxy: number;
  /** The proxy's main thread (HTTP, Kafka client), apart from its prepare threads. */
  proxyMain: number;
  self: number;
  selfMain: number;
  broker: number;
  machine: number;
}

/** CPU used between two samples: cores (CPU seconds per wall second), and CPU seconds where noted. */
interface CpuUse {
  proxy: number;
  proxyMain: number;
  self: number;
  selfMain: number;
  /** NaN when the broker is not a process of the local stack. */
  broker: number;
  machine: number;
  /** Everything else on the machine: other programs, the rest of the stack, the kernel. */
  other: number;
  proxySeconds: number;
  selfSeconds: number;
}

class CpuMeter {
  constructor(
    private readonly proxyPid: number,
    private readonly brokerPid: number | undefined,
  ) {}

  sample(): CpuSample {
    const u = process.cpuUsage();
    return {
      at: performance.now(),
      proxy: cpuSeconds(this.proxyPid),
      proxyMain: threadCpuSeconds(this.proxyPid, this.proxyPid),
      self: (u.user + u.system) / 1e6,
      selfMain: threadCpuSeconds(process.pid, process.pid),
      broker: cpuSeconds(this.brokerPid),
      machine: machineCpuSeconds(),
    };
  }

  since(a: CpuSample): CpuUse {
    const b = this.sample();
    const wall = (b.at - a.at) / 1000;
    return {
      proxy: (b.proxy - a.proxy) / wall,
      proxyMain: (b.proxyMain - a.proxyMain) / wall,
      self: (b.self - a.self) / wall,
      selfMain: (b.selfMain - a.selfMain) / wall,
      broker: (b.broker - a.broker) / wall,
      machine: (b.machine - a.machine) / wall,
      other:
        (b.machine - a.machine - (b.proxy - a.proxy) - (b.self - a.self) - (b.broker - a.broker || 0)) / wall,
      proxySeconds: b.proxy - a.proxy,
      selfSeconds: b.self - a.self,
    };
  }
}

// ---------------------------------------------------------------------------------------------------------
// Starting and stopping the proxy

interface ProxyProcess {
  child: ChildProcess;
  pid: number;
  url: string;
  port: number;
  exited: Promise<number | null>;
}

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolvePort(port));
    });
  });
}

/** The config file the proxy process reads: the project's config with the bench's proxy settings. */
function writeProxyConfig(dir: string, port: number): { file: string; config: Config } {
  const named = process.env.SLUICE_CONFIG;
  const source = named ? resolve(named) : join(projectRoot(), 'sluice.config.json');
  const base: Record<string, unknown> = existsSync(source)
    ? (JSON.parse(readFileSync(source, 'utf8')) as Record<string, unknown>)
    : {};
  const proxy = typeof base.proxy === 'object' && base.proxy !== null ? base.proxy : {};
  const input = {
    ...base,
    // Per-request logs would measure pino, not the proxy.
    logLevel: 'warn',
    proxy: {
      ...proxy,
      host: '127.0.0.1',
      port,
      acks: 1,
      spoolDir: join(dir, 'spool'),
      // No API keys: their per-key rate limit (1000 events/s by default) would cap the run.
      apiKeys: [],
    },
  };
  const file = join(dir, 'sluice.config.json');
  writeFileSync(file, JSON.stringify(input, null, 2));
  return { file, config: parseConfig(input, file) };
}

async function startProxyProcess(
  configFile: string,
  catalogDir: string,
  port: number,
  profileDir: string | null,
  nodeArgs: string[],
): Promise<ProxyProcess> {
  const args = [
    ...(profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : []),
    ...nodeArgs,
    '--import',
    'tsx',
    fileURLToPath(import.meta.url),
  ];
  const child = spawn(process.execPath, args, {
    cwd: projectRoot(),
    env: { ...process.env, SLUICE_CONFIG: configFile, [CHILD_CATALOG_ENV]: catalogDir },
    stdio: ['pipe', 'inherit', 'inherit'],
  });
  const pid = child.pid ?? fail('could not start the proxy process');
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + READY_TIMEOUT_MS;
  let last = 'no answer';
  while (Date.now() < deadline) {
    if (child.exitCode !== null)
      fail(`the proxy process exited with code ${child.exitCode} before it was ready`);
    try {
      const res = await fetch(`${url}/readyz`);
      const body = (await res.json()) as { reason?: string };
      if (res.status === 200) return { child, pid, url, port, exited };
      last = body.reason ?? `HTTP ${res.status}`;
    } catch (err) {
      last = errorMessage(err);
    }
    await sleep(200);
  }
  child.kill('SIGKILL');
  fail(`the proxy was not ready after ${READY_TIMEOUT_MS} ms: ${last}`);
}

const stopProxyProcess = (p: ProxyProcess): Promise<void> =>
  stopChild(p.child, p.exited, 20_000, 'the proxy');

/** Records per produce batch (sum, count) from the proxy's own histogram: how much the accumulator merges. */
async function batchStats(url: string): Promise<{ sum: number; count: number }> {
  const text = await (await fetch(`${url}/metrics`)).text();
  const value = (name: string): number => {
    const m = new RegExp(`^${name}\\{cluster="default"\\} (\\S+)$`, 'm').exec(text);
    return m ? Number(m[1]) : 0;
  };
  return {
    sum: value('sluice_produce_batch_records_sum'),
    count: value('sluice_produce_batch_records_count'),
  };
}

// ---------------------------------------------------------------------------------------------------------
// Measurements

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN;
}

interface ClosedLoopResult {
  eventsPerSec: number;
  p50: number;
  p99: number;
  /** CPU seconds of the process doing the work (the proxy process; for raw, this process) per 100k events. */
  cpuPer100k: number;
  /** Cores used by that process during the window. */
  cpuCores: number;
  /** … by its main thread: one core is its limit (the proxy's prepare threads are apart). */
  mainThreadCores: number;
  /** This process (the load generator) during a proxy run, in cores. */
  generatorCores: number;
  brokerCores: number;
  machineCores: number;
  otherCores: number;
  /** Mean records per Kafka produce call. */
  recordsPerProduce: number;
  /** Events acknowledged in the window and its warm-up. */
  acknowledged: number;
}

interface OpenLoopResult {
  offeredEventsPerSec: number;
  achievedEventsPerSec: number;
  p50: number;
  p99: number;
  max: number;
  maxInFlight: number;
  /** Requests sent more than 5 ms after their scheduled time (the load generator fell behind). */
  lateSends: number;
  proxyCores: number;
  machineCores: number;
  otherCores: number;
  events: number;
}

async function autocannonRun(
  proxy: ProxyProcess,
  w: Workload,
  opts: Options,
  seconds: number,
): Promise<{ ok: number; seconds: number; latencies: number[] }> {
  const { default: autocannon } = await import('autocannon');
  const latencies: number[] = [];
  const result = await new Promise<AutocannonResult>((res, reject) => {
    const instance = autocannon(
      {
        url: proxy.url,
        connections: opts.connections,
        pipelining: 1,
        duration: seconds,
        timeout: REQUEST_TIMEOUT_MS / 1000,
        requests: w.bodies.map((body) => ({
          method: 'POST' as const,
          path: '/v1/events',
          headers: { 'content-type': 'application/json' },
          body,
        })),
      },
      (err: unknown, r) => (err ? reject(err instanceof Error ? err : new Error(errorMessage(err))) : res(r)),
    );
    // Our own samples (fractional ms); autocannon's histogram rounds to whole milliseconds.
    instance.on('response', (_client, status, _bytes, ms) => {
      if (status === 200) latencies.push(ms);
    });
  });
  if (result.non2xx > 0 || result.errors > 0 || result.timeouts > 0) {
    fail(
      `proxy closed loop: ${result.non2xx} non-2xx answers (4xx ${result['4xx']}, 5xx ${result['5xx']}), ` +
        `${result.errors} errors, ${result.timeouts} timeouts out of ${result.requests.sent} requests`,
    );
  }
  if (result['2xx'] === 0) fail('proxy closed loop: no request succeeded');
  return { ok: result['2xx'], seconds: result.duration, latencies };
}

async function proxyClosedLoop(
  proxy: ProxyProcess,
  meter: CpuMeter,
  w: Workload,
  opts: Options,
): Promise<ClosedLoopResult> {
  const warm = opts.warmup > 0 ? (await autocannonRun(proxy, w, opts, opts.warmup)).ok * opts.events : 0;
  const batches0 = await batchStats(proxy.url);
  const cpu0 = meter.sample();
  const run = await autocannonRun(proxy, w, opts, opts.seconds);
  const cpu = meter.since(cpu0);
  const batches1 = await batchStats(proxy.url);
  const events = run.ok * opts.events;
  const sorted = run.latencies.sort((a, b) => a - b);
  return {
    eventsPerSec: events / run.seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpuPer100k: (cpu.proxySeconds / events) * 1e5,
    cpuCores: cpu.proxy,
    mainThreadCores: cpu.proxyMain,
    generatorCores: cpu.self,
    brokerCores: cpu.broker,
    machineCores: cpu.machine,
    otherCores: cpu.other,
    recordsPerProduce: (batches1.sum - batches0.sum) / Math.max(1, batches1.count - batches0.count),
    acknowledged: warm + events,
  };
}

/**
 * Requests at a fixed rate whatever the answers do: each is sent at its scheduled time on a free (or new)
 * keep-alive connection, and its latency runs from that scheduled time, so a stall counts in full for every
 * request it delays. autocannon's overallRate is no substitute: it sends each connection's per-second quota
 * back to back, one request per connection at a time, and back-fills latencies at a 1 ms interval.
 */
async function proxyOpenLoop(
  proxy: ProxyProcess,
  meter: CpuMeter,
  w: Workload,
  opts: Options,
  rate: number,
): Promise<OpenLoopResult> {
  const reqRate = rate / opts.events;
  const total = Math.max(1, Math.round(reqRate * opts.openSeconds));
  const latencies: number[] = [];
  const cpu0 = meter.sample();
  const {
    t0,
    lastAnswer: lastEnd,
    failures,
    lateSends,
    maxInFlight,
  } = await openLoopPost({
    port: proxy.port,
    total,
    intervalMs: 1000 / reqRate,
    timeoutMs: REQUEST_TIMEOUT_MS,
    body: (i) => w.bodies[i % w.bodies.length]!,
    answered: (_i, scheduled, ok) => {
      if (ok) latencies.push(performance.now() - scheduled);
    },
  });
  const cpu = meter.since(cpu0);
  const seconds = (lastEnd - t0) / 1000;
  if (failures.length > 0) {
    fail(`proxy open loop: ${failures.length} of ${total} requests failed (first: ${failures[0]})`);
  }
  const sorted = latencies.sort((a, b) => a - b);
  return {
    offeredEventsPerSec: reqRate * opts.events,
    achievedEventsPerSec: (latencies.length * opts.events) / seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    max: sorted[sorted.length - 1] ?? Number.NaN,
    maxInFlight,
    lateSends,
    proxyCores: cpu.proxy,
    machineCores: cpu.machine,
    otherCores: cpu.other,
    events: latencies.length * opts.events,
  };
}

interface RawClient {
  producer: Producer<Buffer, Buffer, string, string>;
  partitions: number;
  sent: number;
}

/** What an application producing directly does per send: serialize, envelope, key, partition, send. */
async function rawSend(raw: RawClient, w: Workload, config: Config, group: OrderCreated[]): Promise<void> {
  const now = new Date();
  await raw.producer.send({
    messages: group.map((data) => {
      const key = Buffer.from(data.order_id);
      const env = buildEnvelope(
        { type: w.type.name, dataschema: w.type.latest.id, partitionkey: data.order_id },
        now,
        config.proxy.defaultSource,
      );
      return {
        topic: w.type.topic,
        partition: partitionForKey(key, raw.partitions),
        key,
        value: Buffer.from(JSON.stringify(data)),
        headers: envelopeHeaders(env),
      };
    }),
    acks: 1,
    compression: config.proxy.compression,
  });
  raw.sent += group.length;
}

async function rawRun(
  raw: RawClient,
  w: Workload,
  config: Config,
  opts: Options,
  seconds: number,
): Promise<{ events: number; seconds: number; latencies: number[] }> {
  const latencies: number[] = [];
  let next = 0;
  let events = 0;
  const t0 = performance.now();
  const deadline = t0 + seconds * 1000;
  const worker = async (): Promise<void> => {
    while (performance.now() < deadline) {
      const group = w.groups[next++ % w.groups.length]!;
      const t = performance.now();
      await rawSend(raw, w, config, group);
      latencies.push(performance.now() - t);
      events += group.length;
    }
  };
  await Promise.all(Array.from({ length: opts.connections }, worker));
  return { events, seconds: (performance.now() - t0) / 1000, latencies };
}

async function rawClosedLoop(
  raw: RawClient,
  meter: CpuMeter,
  w: Workload,
  config: Config,
  opts: Options,
): Promise<ClosedLoopResult> {
  const warm = opts.warmup > 0 ? (await rawRun(raw, w, config, opts, opts.warmup)).events : 0;
  const cpu0 = meter.sample();
  const run = await rawRun(raw, w, config, opts, opts.seconds);
  const cpu = meter.since(cpu0);
  const sorted = run.latencies.sort((a, b) => a - b);
  return {
    eventsPerSec: run.events / run.seconds,
    p50: percentile(sorted, 50),
    p99: percentile(sorted, 99),
    cpuPer100k: (cpu.selfSeconds / run.events) * 1e5,
    cpuCores: cpu.self,
    mainThreadCores: cpu.selfMain,
    generatorCores: Number.NaN,
    brokerCores: cpu.broker,
    machineCores: cpu.machine,
    otherCores: cpu.other,
    recordsPerProduce: opts.events,
    acknowledged: warm + run.events,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Report

interface Results {
  proxy: ClosedLoopResult[];
  /** open[round][j]: the open-loop run at opts.rates[j]. */
  open: OpenLoopResult[][];
  raw: ClosedLoopResult[];
}

interface Env extends Machine {
  kafka: string;
  platformatic: string;
  autocannon: string;
  config: Config;
  workload: Workload;
  proxyPeakRssMb: number;
  proxyCpuSeconds: number;
  proxyWallSeconds: number;
  /** Cores the machine was busy with before the bench started anything. */
  busyBefore: number;
  profile: ProfileSummary | null;
}

const TARGET_RATIO = 0.8;

function ratioOf(results: Results): number {
  return median(results.proxy.map((r) => r.eventsPerSec)) / median(results.raw.map((r) => r.eventsPerSec));
}

function summaryTable(results: Results, env: Env, opts: Options): string {
  const m = <T>(xs: T[], pick: (x: T) => number): number => median(xs.map(pick));
  const rows: [string, string, string, string][] = [];
  const both = (
    label: string,
    pick: (r: ClosedLoopResult) => number,
    f: (n: number) => string,
    withRatio = true,
  ): void => {
    const a = m(results.proxy, pick);
    const b = m(results.raw, pick);
    rows.push([label, f(a), f(b), withRatio ? ratio(a, b) : '—']);
  };
  both('Closed loop, events/s', (r) => r.eventsPerSec, int);
  both('Closed loop, payload MB/s', (r) => (r.eventsPerSec * env.workload.meanEventBytes) / 1e6, dec(1));
  both(`Closed loop, p50 latency per ${opts.events} events (ms)¹`, (r) => r.p50, dec(1));
  both(`Closed loop, p99 latency per ${opts.events} events (ms)¹`, (r) => r.p99, dec(1));
  both('CPU seconds per 100k events²', (r) => r.cpuPer100k, dec(2));
  both('Events per CPU second (per core)²', (r) => 1e5 / r.cpuPer100k, int);
  both('CPU used during the window (cores)²', (r) => r.cpuCores, dec(2), false);
  both('… of which its main thread (cores)²', (r) => r.mainThreadCores, dec(2), false);
  both('Broker CPU during the window (cores)', (r) => r.brokerCores, dec(2), false);
  both('Whole machine CPU busy during the window (cores)³', (r) => r.machineCores, dec(2), false);
  both('… of which other processes (cores)³', (r) => r.otherCores, dec(2), false);
  both('Records per Kafka produce call', (r) => r.recordsPerProduce, int, false);
  const generator = m(results.proxy, (r) => r.generatorCores);
  rows.push(['Load generator CPU during the window (cores)', dec(2)(generator), '—', '—']);
  opts.rates.forEach((rate, j) => {
    const runs = results.open.flatMap((round) => (round[j] ? [round[j]] : []));
    const o = (pick: (r: OpenLoopResult) => number): string => dec(1)(m(runs, pick));
    const at = `Open loop at ${int(rate)} events/s`;
    rows.push([`${at}: achieved events/s`, int(m(runs, (r) => r.achievedEventsPerSec)), '—', '—']);
    rows.push([
      `${at}: p50 / p99 / max latency (ms)⁴`,
      `${o((r) => r.p50)} / ${o((r) => r.p99)} / ${o((r) => r.max)}`,
      '—',
      '—',
    ]);
    rows.push([
      `${at}: proxy / machine / other processes' CPU (cores)`,
      `${dec(2)(m(runs, (r) => r.proxyCores))} / ${dec(2)(m(runs, (r) => r.machineCores))} / ${dec(2)(m(runs, (r) => r.otherCores))}`,
      '—',
      '—',
    ]);
  });
  rows.push(['Proxy peak RSS, whole run (VmHWM, MB)', dec(0)(env.proxyPeakRssMb), '—', '—']);
  rows.push(['Proxy CPU seconds, whole run', dec(1)(env.proxyCpuSeconds), '—', '—']);
  return markdownTable(
    [
      `Median of ${results.proxy.length} rounds`,
      'Proxy (HTTP, validated)',
      'Raw @platformatic/kafka',
      'proxy / raw',
    ],
    'lrrr',
    rows,
  );
}

function roundsTable(results: Results, opts: Options): string {
  const rows = results.proxy.flatMap((p, i) => {
    const r = results.raw[i];
    if (!r) return [];
    const open = (results.open[i] ?? []).map((o) => `${dec(1)(o.p50)} / ${dec(1)(o.p99)}`);
    return [
      [
        String(i + 1),
        int(p.eventsPerSec),
        `${dec(1)(p.p50)} / ${dec(1)(p.p99)}`,
        int(r.eventsPerSec),
        `${dec(1)(r.p50)} / ${dec(1)(r.p99)}`,
        ratio(p.eventsPerSec, r.eventsPerSec),
        ...open,
      ],
    ];
  });
  return markdownTable(
    [
      'Round',
      'Proxy events/s',
      'Proxy p50 / p99 (ms)',
      'Raw events/s',
      'Raw p50 / p99 (ms)',
      'proxy / raw',
      ...opts.rates.map((r) => `Open loop ${int(r)}/s p50 / p99 (ms)`),
    ],
    'r'.repeat(6 + opts.rates.length),
    rows,
  );
}

function profileSection(env: Env): string {
  if (!env.profile) {
    return (
      'Not profiled in this run. `npm run bench:proxy -- --profile` runs the proxy process with `node --cpu-prof`\n' +
      'and adds its top self-time functions here (the profiler costs some throughput).'
    );
  }
  return [
    'Proxy process under `node --cpu-prof` for the whole run (start-up included; idle time excluded).',
    '',
    hotSpotTable('Function (self time)', env.profile.functions),
    '',
    hotSpotTable('Where (self time)', env.profile.origins),
  ].join('\n');
}

function renderDoc(opts: Options, env: Env, results: Results): string {
  const p = env.config.proxy;
  const speed = ratioOf(results);
  const perCpu =
    median(results.raw.map((r) => r.cpuPer100k)) / median(results.proxy.map((r) => r.cpuPer100k));
  const verdict =
    (speed >= TARGET_RATIO
      ? `**met** (${speed.toFixed(2)}×)`
      : `**not met**: ${speed.toFixed(2)}× of the raw client's events/s`) +
    `; per CPU second the proxy moves ${perCpu.toFixed(2)}× the events of the raw client`;
  return `# Proxy benchmark: HTTP ingest proxy vs the raw Kafka client

Generated by \`npm run bench:proxy\` (\`bench/proxy.ts\`); rerun it to refresh this page.

Target: the proxy sustains at least ${TARGET_RATIO}× the events/s of the raw client on the same machine — ${verdict}.

- Date: ${env.date}
- Machine: ${env.nproc} CPUs (${env.cpu}), ${env.memGb.toFixed(0)} GB RAM; Node ${env.node}
- Broker: Apache Kafka ${env.kafka}, single node KRaft on ${env.config.kafka.brokers.join(', ')}; the rest of the local stack
  (Temporal, S3, SQS) and anything else running share the machine
- Clients: @platformatic/kafka ${env.platformatic} (both sides, via \`lib/kafka.ts\` \`createProducer\`), autocannon ${env.autocannon}
- Proxy settings: prepareThreads=${p.prepareThreads}, acks=${p.acks}, lingerMs=${p.lingerMs}, batchMaxRecords=${p.batchMaxRecords},
  batchMaxBytes=${p.batchMaxBytes}, compression=${p.compression}, no API keys (auth and rate limits off), logLevel=warn${
    opts.proxyNodeArgs.length ? `; proxy process started with \`${opts.proxyNodeArgs.join(' ')}\`` : ''
  }
- Events: \`order_created\` (schema v${env.workload.type.latest.version}, keyed by \`order_id\` on ${env.workload.type.settings.partitions} partitions),
  mean ${int(env.workload.meanEventBytes)} bytes of JSON each (padded with line items, as the schema is closed);
  ${opts.events} per request / per send (mean request body ${int(env.workload.meanBodyBytes)} bytes), ${BODY_POOL} distinct batches cycled
- Closed loop: ${opts.connections} keep-alive connections (proxy) / ${opts.connections} sends in flight (raw), ${opts.warmup} s warm-up,
  then ${opts.seconds} s measured; open loop: ${opts.rates.map((r) => `${int(r)} events/s (${int(r / opts.events)} requests/s)`).join(' and ')} offered, ${opts.openSeconds} s each
- ${opts.rounds} rounds of proxy then raw; the table gives the median over rounds

## Results

${summaryTable(results, env, opts)}

¹ Proxy: one HTTP request of ${opts.events} events, sent to 200 received (it answers once Kafka acknowledged every event).
Raw: one \`producer.send()\` of ${opts.events} records.
² Proxy: the proxy process (\`/proc/<pid>/stat\`), all threads; raw: the bench process, which only runs the producer
then. "Main thread" is \`/proc/<pid>/task/<pid>/stat\`: the thread that runs HTTP and the Kafka client (the proxy's
prepare threads parse and validate); near 1.00 it is the limit. The load generator's own CPU is listed apart.
³ All CPUs of the machine (\`/proc/stat\`), out of ${env.nproc}: the proxy or client, the broker, the load generator and
anything else running at the time; "other processes" is what remains after the first three (the idle rest of the
stack, the kernel, other programs). Before the run the machine was busy ${dec(2)(env.busyBefore)} cores.
⁴ From the time each request was scheduled, so a stall counts for every request it delays.

Every round:

${roundsTable(results, opts)}

## Method

The bench provisions an isolated copy of the catalog (\`test/helpers/catalog.ts\`: unique type names, fresh
topics) and starts the proxy as its own process (\`node --import tsx bench/proxy.ts\` in serve mode, which calls
\`startProxy()\` of \`proxy/server.ts\` with that catalog), on a free port with a temporary spool directory, and waits
for \`/readyz\`. The load generator runs in the bench process, so it never shares an event loop with the proxy; on a
${env.nproc}-CPU machine it does share the CPUs with the proxy and the broker.
Inside the proxy, request bodies are parsed, validated and enveloped on ${p.prepareThreads} prepare thread(s)
(\`proxy.prepareThreads\`, \`proxy/prepare-pool.ts\`); its main thread runs HTTP, the accumulator and the Kafka client.

- **Proxy, closed loop**: autocannon, ${opts.connections} connections, no pipelining, POST \`/v1/events\` with a JSON array of
  ${opts.events} native events; every answer must be 200 (all events accepted) or the run fails. Events/s = 200 answers ×
  ${opts.events} / duration. Latency percentiles are computed from every response's time.
- **Proxy, open loop**: requests are sent at fixed intervals whatever the answers do (new keep-alive connections
  open as needed); latency runs from the scheduled send time. autocannon's \`overallRate\` is not used because it
  sends each connection's per-second quota back to back and waits for each answer, so slow answers delay (and
  hide) later requests.
- **Raw**: one @platformatic/kafka producer from \`createProducer(config, …, acks=1)\` in the bench process, ${opts.connections}
  concurrent loops each sending ${opts.events} records per \`send()\`: per record \`JSON.stringify\` of the payload, the same
  CloudEvents headers (\`buildEnvelope\` + \`envelopeHeaders\`, new id, ingest time), key = \`order_id\`, partition =
  murmur2 as the proxy computes it, compression=${p.compression}, acks=1. No validation and no HTTP: that is the
  difference being measured.
- At the end the bench checks the topic holds as many records as were acknowledged (and its DLQ none), then stops
  the proxy and deletes the isolated topics. Proxy RSS is \`VmHWM\` of \`/proc/<pid>/status\` just before it stops;
  CPU seconds are utime + stime from \`/proc/<pid>/stat\` (the whole run: ${dec(1)(env.proxyCpuSeconds)} s over ${dec(0)(env.proxyWallSeconds)} s).

## Profile

${profileSection(env)}
`;
}

// ---------------------------------------------------------------------------------------------------------

/** Records in the topic (sum of the partitions' end offsets); the isolated topics start empty. */
async function topicRecords(config: Config, topic: string, partitions: number): Promise<number> {
  const admin = createAdmin(config, 'bench-proxy-admin');
  try {
    const listed = await admin.listOffsets({
      topics: [
        {
          name: topic,
          partitions: Array.from({ length: partitions }, (_, i) => ({ partitionIndex: i, timestamp: -1n })),
        },
      ],
    });
    return listed.flatMap((t) => t.partitions).reduce((n, p) => n + Number(p.offset), 0);
  } finally {
    await admin.close();
  }
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const baseConfig = loadConfig();
  const probe = createAdmin(baseConfig, 'bench-proxy-probe');
  try {
    await reachKafka(baseConfig.kafka.brokers.join(', '), probe.listTopics(), 'listing the topics');
  } finally {
    await probe.close();
  }

  const busyBefore = await busyBeforeStart();

  const { isolatedCatalog } = await import('../test/helpers/catalog.js');
  const work = mkdtempSync(join(tmpdir(), 'sluice-bench-proxy-'));
  const profileDir = opts.profile ? join(work, 'profile') : null;
  const iso = await isolatedCatalog(baseConfig);
  let proxy: ProxyProcess | undefined;
  let raw: RawClient | undefined;
  let failed = false;
  try {
    const type = iso.catalog.types.get(iso.type('order_created')) ?? fail('the catalog has no order_created');
    const port = await freePort();
    const { file: configFile, config } = writeProxyConfig(work, port);
    const w = buildWorkload(type, opts);
    console.log(
      `topic ${type.topic}: ${opts.events} events of ~${int(w.meanEventBytes)} B per request, ` +
        `${opts.rounds} rounds × (proxy ${opts.seconds} s closed + ${opts.rates.length} × ${opts.openSeconds} s open, ` +
        `raw ${opts.seconds} s)`,
    );

    const started = performance.now();
    proxy = await startProxyProcess(configFile, iso.dir, port, profileDir, opts.proxyNodeArgs);
    console.log(`proxy pid ${proxy.pid} ready at ${proxy.url} in ${int(performance.now() - started)} ms`);

    // One checked request first: the events must be accepted as they are, or every figure is meaningless.
    const first = await fetch(`${proxy.url}/v1/events`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: w.bodies[0],
    });
    const answer = (await first.json()) as { accepted?: number; rejected?: number; results?: unknown[] };
    if (first.status !== 200 || answer.accepted !== opts.events) {
      fail(
        `the proxy did not accept the bench events: HTTP ${first.status} ${JSON.stringify(answer).slice(0, 500)}`,
      );
    }
    // Per proxy phase: events acknowledged (200) and records that reached the topic.
    let proxyAcked = opts.events;
    let proxyWritten = opts.events;
    let proxyWorst = '';

    const producer = createProducer(config, 'bench-raw', 1);
    const meta = await producer.metadata({ topics: [type.topic] });
    const partitions = meta.topics.get(type.topic)?.partitionsCount ?? fail(`no metadata for ${type.topic}`);
    raw = { producer, partitions, sent: 0 };
    // The broker's CPU is only known when it is the local stack's process.
    const meter = new CpuMeter(proxy.pid, runningPid(join(stackPaths(config).run, 'kafka.pid')));

    const results: Results = { proxy: [], open: [], raw: [] };
    for (let round = 1; round <= opts.rounds; round++) {
      const before = await topicRecords(config, type.topic, partitions);
      const pr = await proxyClosedLoop(proxy, meter, w, opts);
      results.proxy.push(pr);
      console.log(
        `round ${round} proxy closed ${int(pr.eventsPerSec).padStart(8)} events/s  p50 ${dec(1)(pr.p50)} ms  ` +
          `p99 ${dec(1)(pr.p99)} ms; cores: proxy ${dec(2)(pr.cpuCores)} (main thread ${dec(2)(pr.mainThreadCores)}), generator ${dec(2)(pr.generatorCores)}, ` +
          `broker ${dec(2)(pr.brokerCores)}, other ${dec(2)(pr.otherCores)}; ${int(pr.recordsPerProduce)} records/produce`,
      );
      const opens: OpenLoopResult[] = [];
      for (const rate of opts.rates) {
        const op = await proxyOpenLoop(proxy, meter, w, opts, rate);
        opens.push(op);
        console.log(
          `round ${round} proxy open   ${int(op.achievedEventsPerSec).padStart(8)} events/s of ${int(op.offeredEventsPerSec)}  ` +
            `p50 ${dec(1)(op.p50)} ms  p99 ${dec(1)(op.p99)} ms  max ${dec(1)(op.max)} ms; ${op.maxInFlight} in flight, ` +
            `${op.lateSends} sent late; cores: proxy ${dec(2)(op.proxyCores)}, other ${dec(2)(op.otherCores)}`,
        );
      }
      results.open.push(opens);
      const written = (await topicRecords(config, type.topic, partitions)) - before;
      const acked = pr.acknowledged + opens.reduce((n, o) => n + o.events, 0);
      // autocannon abandons the requests in flight when a run ends; the proxy still writes them.
      const slack = 2 * opts.connections * opts.events;
      if (written < acked || written > acked + slack) {
        proxyWorst ||= `round ${round}: ${written} records written for ${acked} acknowledged (slack ${slack})`;
      }
      proxyAcked += acked;
      proxyWritten += written;
      const rr = await rawClosedLoop(raw, meter, w, config, opts);
      results.raw.push(rr);
      console.log(
        `round ${round} raw          ${int(rr.eventsPerSec).padStart(8)} events/s  p50 ${dec(1)(rr.p50)} ms  ` +
          `p99 ${dec(1)(rr.p99)} ms; cores: bench ${dec(2)(rr.cpuCores)} (main thread ${dec(2)(rr.mainThreadCores)}), broker ${dec(2)(rr.brokerCores)}, ` +
          `other ${dec(2)(rr.otherCores)}`,
      );
    }

    // Everything acknowledged must be in the topic, once; nothing may have gone to the dead letters.
    if (proxyWorst) fail(`proxy: ${proxyWorst}`);
    const total = await topicRecords(config, type.topic, partitions);
    if (total - proxyWritten !== raw.sent) {
      fail(`raw: ${total - proxyWritten} records written for ${raw.sent} acknowledged`);
    }
    const dlq = await topicRecords(config, type.dlqTopic, Math.min(3, type.settings.partitions));
    if (dlq !== 0) fail(`${type.dlqTopic} holds ${dlq} records: the proxy rejected bench events`);
    console.log(
      `verified: ${type.topic} holds ${int(total)} records (proxy ${int(proxyWritten)} for ${int(proxyAcked)} ` +
        `acknowledged, raw ${int(raw.sent)}), ${type.dlqTopic} none`,
    );

    const proxyPeakRssMb = statusKb(proxy.pid, 'VmHWM') / 1024;
    const proxyCpuSeconds = cpuSeconds(proxy.pid);
    const proxyWallSeconds = (performance.now() - started) / 1000;
    await stopProxyProcess(proxy);
    let profile: Env['profile'] = null;
    if (profileDir) {
      const file = readdirSync(profileDir).find((f) => f.endsWith('.cpuprofile'));
      if (!file) fail(`the proxy wrote no .cpuprofile to ${profileDir}`);
      // Kept outside the work dir (removed below) so it can be opened in Chrome DevTools.
      const kept = join(tmpdir(), `sluice-bench-proxy-${Date.now()}.cpuprofile`);
      copyFileSync(join(profileDir, file), kept);
      console.log(`proxy CPU profile: ${kept}`);
      profile = summarizeProfile(kept, 20);
    }

    const env: Env = {
      ...machine(),
      kafka: (await import('../ops/services/kafka.js')).KAFKA_VERSION,
      platformatic: packageVersion('@platformatic/kafka'),
      autocannon: packageVersion('autocannon'),
      config,
      workload: w,
      proxyPeakRssMb,
      proxyCpuSeconds,
      proxyWallSeconds,
      busyBefore,
      profile,
    };
    const speed = ratioOf(results);
    console.log(`\n${summaryTable(results, env, opts)}\n`);
    console.log(
      `proxy / raw events/s: ${speed.toFixed(2)}× (target ≥ ${TARGET_RATIO}×: ${speed >= TARGET_RATIO ? 'met' : 'NOT met'}); ` +
        `events per CPU second: ${(median(results.raw.map((r) => r.cpuPer100k)) / median(results.proxy.map((r) => r.cpuPer100k))).toFixed(2)}×`,
    );
    if (profile) {
      console.log('\nproxy CPU profile, top self time:');
      printHotSpots(profile.functions);
      console.log('by origin:');
      printHotSpots(profile.origins);
    }
    if (opts.doc) await writeDoc(opts.doc, renderDoc(opts, env, results));
    // Headline figures for docs/benchmarks.md (npm run bench:report).
    const closed = (rs: ClosedLoopResult[]) => ({
      eventsPerSec: median(rs.map((r) => r.eventsPerSec)),
      p50: median(rs.map((r) => r.p50)),
      p99: median(rs.map((r) => r.p99)),
      eventsPerCpuSecond: 100_000 / median(rs.map((r) => r.cpuPer100k)),
    });
    writeSummary('proxy', {
      bench: 'proxy',
      date: env.date,
      rounds: opts.rounds,
      seconds: opts.seconds,
      eventsPerRequest: opts.events,
      connections: opts.connections,
      proxy: closed(results.proxy),
      raw: closed(results.raw),
      open: opts.rates.map((rate, i) => ({
        offeredEventsPerSec: rate,
        achievedEventsPerSec: median(results.open.map((o) => o[i]?.achievedEventsPerSec ?? Number.NaN)),
        p50: median(results.open.map((o) => o[i]?.p50 ?? Number.NaN)),
        p99: median(results.open.map((o) => o[i]?.p99 ?? Number.NaN)),
      })),
      proxyPeakRssMb: env.proxyPeakRssMb,
    });
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    // Clean up even after a failure; a cleanup error only fails the run if nothing else did.
    const problems: string[] = [];
    if (proxy) await stopProxyProcess(proxy).catch((err: unknown) => problems.push(errorMessage(err)));
    if (raw) await raw.producer.close().catch((err: unknown) => problems.push(errorMessage(err)));
    await iso.cleanup(baseConfig).catch((err: unknown) => problems.push(errorMessage(err)));
    rmSync(work, { recursive: true, force: true });
    if (problems.length > 0) {
      console.error(`cleanup failed: ${problems.join('; ')}`);
      if (!failed) process.exitCode = 1;
    }
  }
}

const childCatalog = process.env[CHILD_CATALOG_ENV];
if (childCatalog) {
  try {
    await serveProxy(childCatalog);
  } catch (err) {
    console.error(`bench:proxy: the proxy process failed to start: ${errorMessage(err)}`);
    process.exit(1);
  }
} else {
  await runMain('bench:proxy', main);
}
