// Throughput of the Kafka → Parquet pipeline on the local stack, next to a plain read of the same records with
// the range reader alone (the ceiling). Each round, on a fresh isolated catalog:
//   1. preload N order_created v2 events (~1 KB of JSON, real envelope headers, keyed by order_id) into the
//      type's topic (3 partitions);
//   2. plain read: readRawRange, as writeSegment reads, over the 3 partitions in this process, counting records;
//   3. pipeline: a worker in its own process (serve mode of this file, so its CPU can be measured apart) and the
//      eventPipeline workflow, timed until every partition's committed offset reached the end, that is until
//      every Parquet object is in S3. The worker first moves a warm-up pass (as many events, on a copy of the
//      type), so the counted pass meets a running worker; the warm-up is reported too, as the cold figure.
// Rounds alternate the order of 2 and 3; medians are printed and written to docs/benchmarks-pipeline.md.
// Usage: npm run bench:pipeline -- [--events 200000] [--warmup-events 200000] [--rounds 3] [--event-bytes 1024] [--max-records 50000]
//        [--timeout 900] [--profile] [--compare-json] [--worker-node-arg=--flag …] [--doc path | --no-doc]
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { fileURLToPath } from 'node:url';
import { HeadObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { Client, Connection } from '@temporalio/client';
import { createS3Client } from '../lib/aws.js';
import { loadConfig, type Config } from '../lib/config.js';
import { buildEnvelope, envelopeHeaders } from '../lib/envelope.js';
import {
  committedOffset,
  createAdmin,
  createProducer,
  createRangeReader,
  partitionBounds,
  readRawRange,
} from '../lib/kafka.js';
import { createLogger } from '../lib/logger.js';
import { projectRoot } from '../lib/paths.js';
import { stackPaths } from '../ops/services/service.js';
import { runningPid } from '../ops/supervisor.js';
import { partitionForKey } from '../proxy/partitioner.js';
import { loadCatalog, type EventType } from '../schemas/catalog.js';
import { setPipelineHeapGrowth } from '../workers/heap-growth.js';
import { isolatedCatalog, type IsolatedCatalog } from '../test/helpers/catalog.js';
import { uniqueName } from '../test/helpers/names.js';
import type { eventPipeline } from '../workflows/event-pipeline.js';
import { statusQuery } from '../workflows/signals.js';
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
  mb,
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
  statCpuSeconds,
  statusKb,
  stopChild,
  summarizeProfile,
  writeDoc,
  writeSummary,
  type CallFrame,
  type Machine,
  type OrderCreated,
  type ProfileSummary,
  type Stage,
} from './common.js';

// Set only in the worker process this bench starts (see startWorkerProcess).
const CHILD_CATALOG_ENV = 'SLUICE_BENCH_PIPELINE_CATALOG';
const CHILD_QUEUE_ENV = 'SLUICE_BENCH_PIPELINE_QUEUE';
// The profiled round encodes on the main thread (encodeThreads 0), where the profiler looks.
const CHILD_INLINE_ENV = 'SLUICE_BENCH_PIPELINE_INLINE';
// The --compare-json rounds: the worker reads every payload with JSON.parse + ajv (pipeline.fastJsonReader false).
const CHILD_EXACT_JSON_ENV = 'SLUICE_BENCH_PIPELINE_EXACT_JSON';
const READY_TIMEOUT_MS = 120_000;
const TARGET_PER_CORE = 50_000;
const PRELOAD_BATCH = 1000;
const PRELOAD_IN_FLIGHT = 4;
const POLL_MS = 100;
// Between the warm-up and the counted pass: longer than idleWaitMs, the warm-up's long polls' heartbeat period.
const SETTLE_MS = 2000;
// The flush age of the isolated type: the preloaded records are already older than that, so a partition's
// tail (< maxRecords) is written at once instead of waiting out the default 60 s.
const MAX_AGE_SECONDS = 1;

// ---------------------------------------------------------------------------------------------------------
// The worker process

type ToWorker = { kind: 'profile-start' } | { kind: 'profile-stop'; file: string };
type FromWorker = { kind: 'ready' } | { kind: 'profiled'; file: string } | { kind: 'error'; message: string };

function isFromWorker(m: unknown): m is FromWorker {
  return typeof m === 'object' && m !== null && 'kind' in m && typeof m.kind === 'string';
}

function isToWorker(m: unknown): m is ToWorker {
  return typeof m === 'object' && m !== null && 'kind' in m && typeof m.kind === 'string';
}

function workerConfig(base: Config, taskQueue: string): Config {
  // Per-activity logs would measure pino, not the pipeline.
  const encodeThreads = process.env[CHILD_INLINE_ENV] ? 0 : base.pipeline.encodeThreads;
  return {
    ...base,
    logLevel: 'warn',
    pipeline: {
      ...base.pipeline,
      taskQueue,
      idleWaitMs: 1000,
      encodeThreads,
      fastJsonReader: process.env[CHILD_EXACT_JSON_ENV] ? false : base.pipeline.fastJsonReader,
    },
  };
}

/**
 * Runs the pipeline worker as workers/pipeline-worker.ts does, on the bench's isolated catalog and task queue.
 * On request it profiles its main thread (where the activities run) with the V8 CPU profiler, only between
 * the bench's start and stop messages, so the start-up (workflow bundling) stays out of the profile.
 */
async function serveWorker(catalogDir: string, taskQueue: string): Promise<void> {
  const { DefaultLogger, Runtime } = await import('@temporalio/worker');
  const { createPipelineWorkers, workflowsPath } = await import('../workers/pipeline-worker.js');
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // As workers/pipeline-worker.ts does before it starts.
  setPipelineHeapGrowth();
  const config = workerConfig(loadConfig(), taskQueue);
  const pw = await createPipelineWorkers(
    config,
    loadCatalog(catalogDir),
    createLogger('bench-pipeline-worker', 'warn'),
    { workflowsPath },
  );
  const send = (m: FromWorker): void => void process.send?.(m);
  const session = new Session();
  const onMessage = async (m: ToWorker): Promise<void> => {
    if (m.kind === 'profile-start') {
      session.connect();
      await session.post('Profiler.enable');
      await session.post('Profiler.setSamplingInterval', { interval: 1000 });
      await session.post('Profiler.start');
    } else {
      const { profile } = await session.post('Profiler.stop');
      writeFileSync(m.file, JSON.stringify(profile));
      session.disconnect();
      send({ kind: 'profiled', file: m.file });
    }
  };
  process.on('message', (m: unknown) => {
    if (!isToWorker(m)) return;
    onMessage(m).catch((err: unknown) => send({ kind: 'error', message: errorMessage(err) }));
  });
  onShutdown(() => pw.shutdown());
  const running = pw.run();
  send({ kind: 'ready' });
  await running;
  await pw.close();
}

interface WorkerProcess {
  child: ChildProcess;
  pid: number;
  startupMs: number;
  exited: Promise<number | null>;
  messages: FromWorker[];
}

/** How a round's worker differs from the configured one. */
interface Variant {
  /** Encode on the main thread (the profiled round). */
  inline?: boolean;
  /** pipeline.fastJsonReader off (the --compare-json rounds). */
  exactJson?: boolean;
}

async function startWorkerProcess(
  catalogDir: string,
  taskQueue: string,
  nodeArgs: string[],
  variant: Variant,
): Promise<WorkerProcess> {
  const started = performance.now();
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', fileURLToPath(import.meta.url)], {
    cwd: projectRoot(),
    env: {
      ...process.env,
      [CHILD_CATALOG_ENV]: catalogDir,
      [CHILD_QUEUE_ENV]: taskQueue,
      ...(variant.inline ? { [CHILD_INLINE_ENV]: '1' } : {}),
      ...(variant.exactJson ? { [CHILD_EXACT_JSON_ENV]: '1' } : {}),
    },
    stdio: ['pipe', 'inherit', 'inherit', 'ipc'],
  });
  const pid = child.pid ?? fail('could not start the worker process');
  const exited = new Promise<number | null>((res) => child.once('exit', (code) => res(code)));
  const messages: FromWorker[] = [];
  child.on('message', (m: unknown) => {
    if (isFromWorker(m)) messages.push(m);
  });
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (!messages.some((m) => m.kind === 'ready')) {
    if (child.exitCode !== null)
      fail(`the worker process exited with code ${child.exitCode} before it was ready`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      fail(`the worker was not ready after ${READY_TIMEOUT_MS} ms`);
    }
    await sleep(50);
  }
  return { child, pid, startupMs: performance.now() - started, exited, messages };
}

/** Sends a message to the worker and waits for its answer of the given kind. */
async function askWorker(
  w: WorkerProcess,
  message: ToWorker,
  answer: FromWorker['kind'] | null,
  timeoutMs = 60_000,
): Promise<FromWorker | null> {
  const seen = w.messages.length;
  w.child.send(message);
  if (answer === null) return null;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const got = w.messages.slice(seen).find((m) => m.kind === answer || m.kind === 'error');
    if (got?.kind === 'error') fail(`worker: ${got.message}`);
    if (got) return got;
    if (w.child.exitCode !== null) fail('the worker process exited');
    if (Date.now() > deadline) fail(`the worker did not answer ${message.kind} within ${timeoutMs} ms`);
    await sleep(50);
  }
}

// The worker gives running activities its 20 s shutdown grace time.
const stopWorkerProcess = (w: WorkerProcess): Promise<void> =>
  stopChild(w.child, w.exited, 40_000, 'the worker');

// ---------------------------------------------------------------------------------------------------------
// Options

interface Options {
  events: number;
  /** Events the worker moves first, on a type of its own, before the counted pass (0: none). */
  warmupEvents: number;
  rounds: number;
  eventBytes: number;
  maxRecords: number;
  timeoutSeconds: number;
  profile: boolean;
  /** After each round, one more with the JSON row reader off (pipeline.fastJsonReader false). */
  compareJson: boolean;
  /** Extra Node flags for the worker process, e.g. --max-semi-space-size=64. */
  workerNodeArgs: string[];
  doc: string | null;
}

function parseOptions(): Options {
  const { values } = parseFlags({
    events: { type: 'string', default: '200000' },
    'warmup-events': { type: 'string', default: '200000' },
    rounds: { type: 'string', default: '3' },
    'event-bytes': { type: 'string', default: '1024' },
    'max-records': { type: 'string', default: '50000' },
    timeout: { type: 'string', default: '900' },
    profile: { type: 'boolean', default: false },
    'compare-json': { type: 'boolean', default: false },
    'worker-node-arg': { type: 'string', multiple: true, default: [] },
    doc: { type: 'string', default: 'docs/benchmarks-pipeline.md' },
    'no-doc': { type: 'boolean', default: false },
  });
  return {
    events: positiveInt('events', values.events),
    warmupEvents:
      Number(values['warmup-events']) === 0 ? 0 : positiveInt('warmup-events', values['warmup-events']),
    rounds: positiveInt('rounds', values.rounds),
    eventBytes: positiveInt('event-bytes', values['event-bytes'], 400),
    maxRecords: positiveInt('max-records', values['max-records']),
    timeoutSeconds: positiveInt('timeout', values.timeout),
    profile: values.profile,
    compareJson: values['compare-json'],
    workerNodeArgs: values['worker-node-arg'],
    doc: values['no-doc'] ? null : values.doc,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Events

const hex = (digits: number): string =>
  Array.from({ length: digits }, () => Math.floor(Math.random() * 16).toString(16)).join('');

// A menu of SKUs, as a real store has, rather than a new random string per line item.
const SKUS = Array.from({ length: 2000 }, () => `SKU-${hex(6).toUpperCase()}-${pick(['S', 'M', 'L', 'XL'])}`);

/** An order whose JSON is about `bytes` long: the schema is closed, so the size comes from line items. */
function orderEvent(bytes: number, now: number): OrderCreated {
  const order = orderWithoutItems(`cus_${hex(16)}`, now);
  // Count the length instead of serializing the order again per item; 6 bytes of room for the subtotal.
  let length = JSON.stringify(order).length + 6;
  while (order.items.length < 200) {
    const item = {
      sku: pick(SKUS),
      quantity: 1 + Math.floor(Math.random() * 4),
      unit_price_cents: 199 + Math.floor(Math.random() * 4800),
    };
    // {"sku":"…","quantity":…,"unit_price_cents":…} plus a comma after the first item.
    const add =
      42 +
      item.sku.length +
      String(item.quantity).length +
      String(item.unit_price_cents).length +
      (order.items.length ? 1 : 0);
    if (order.items.length > 0 && length + add > bytes) break;
    order.items.push(item);
    order.subtotal_cents += item.quantity * item.unit_price_cents;
    length += add;
  }
  return order;
}

interface Preload {
  events: number;
  /** JSON payload bytes (Kafka values). */
  valueBytes: number;
  keyBytes: number;
  /** Header names and values (the CloudEvents envelope). */
  headerBytes: number;
  perPartition: number[];
  seconds: number;
}

/** Produces the events as the proxy would (envelope headers, key, murmur2 partition, its compression). */
async function preload(config: Config, type: EventType, events: number, opts: Options): Promise<Preload> {
  const producer = createProducer(config, 'bench-pipeline-preload', 1);
  const partitions = type.settings.partitions;
  const out: Preload = {
    events: 0,
    valueBytes: 0,
    keyBytes: 0,
    headerBytes: 0,
    perPartition: Array.from({ length: partitions }, () => 0),
    seconds: 0,
  };
  let next = 0;
  const t0 = performance.now();
  const loop = async (): Promise<void> => {
    while (next < events) {
      const count = Math.min(PRELOAD_BATCH, events - next);
      next += count;
      const now = new Date();
      const messages = Array.from({ length: count }, () => {
        const data = orderEvent(opts.eventBytes, now.getTime());
        const key = Buffer.from(data.order_id);
        const value = Buffer.from(JSON.stringify(data));
        const headers = envelopeHeaders(
          buildEnvelope(
            {
              type: type.name,
              dataschema: type.latest.id,
              time: data.placed_at,
              partitionkey: data.order_id,
            },
            now,
            '/bench/pipeline',
          ),
        );
        const partition = partitionForKey(key, partitions);
        out.valueBytes += value.length;
        out.keyBytes += key.length;
        for (const [k, v] of Object.entries(headers)) out.headerBytes += k.length + Buffer.byteLength(v);
        out.perPartition[partition]! += 1;
        return { topic: type.topic, partition, key, value, headers };
      });
      await producer.send({ messages, acks: 1, compression: config.proxy.compression });
      out.events += count;
    }
  };
  try {
    await Promise.all(Array.from({ length: PRELOAD_IN_FLIGHT }, loop));
  } finally {
    await producer.close();
  }
  out.seconds = (performance.now() - t0) / 1000;
  return out;
}

// ---------------------------------------------------------------------------------------------------------
// CPU figures

type StackService = 'kafka' | 'temporal' | 's3' | 'sqs';

const THREAD_GROUPS = ['main', 'helpers', 'temporal', 'workflows'] as const;
type ThreadGroup = (typeof THREAD_GROUPS)[number];
const THREAD_LABEL: Record<ThreadGroup, string> = {
  main: 'main thread (activities: fetch, upload, DLQ; decode and encode too when encodeThreads is 0)',
  helpers: 'other Node threads (encode threads, V8 GC and compiler helpers, libuv pool)',
  temporal: 'Temporal core (Rust runtime threads)',
  workflows: 'workflow threads (the workflow sandboxes)',
};

/** CPU seconds per thread of a process, keyed by thread id, with the group each thread belongs to. */
function threadSeconds(pid: number): Map<number, { group: ThreadGroup; seconds: number }> {
  const out = new Map<number, { group: ThreadGroup; seconds: number }>();
  for (const tid of readdirSync(`/proc/${pid}/task`).map(Number)) {
    try {
      const stat = readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      // Thread names: Temporal's core runs on tokio threads, its workflow threads are named after their role.
      const group: ThreadGroup =
        tid === pid
          ? 'main'
          : /^(tokio|temporal)/.test(comm)
            ? 'temporal'
            : comm.startsWith('workflow')
              ? 'workflows'
              : 'helpers';
      out.set(tid, { group, seconds: statCpuSeconds(stat) });
    } catch {
      // The thread ended between the listing and the read.
    }
  }
  return out;
}

/** CPU seconds per thread group between two threadSeconds() samples (a thread that ended is lost). */
function threadGroupsSince(
  a: Map<number, { group: ThreadGroup; seconds: number }>,
  b: Map<number, { group: ThreadGroup; seconds: number }>,
): Record<ThreadGroup, number> {
  const out: Record<ThreadGroup, number> = { main: 0, helpers: 0, temporal: 0, workflows: 0 };
  for (const [tid, t] of b) out[t.group] += t.seconds - (a.get(tid)?.seconds ?? 0);
  return out;
}

interface CpuSample {
  at: number;
  worker: number;
  self: number;
  stack: Record<StackService, number>;
  machine: number;
}

/** CPU used between two samples: CPU seconds, and cores (CPU seconds per wall second). */
interface CpuUse {
  wall: number;
  workerSeconds: number;
  selfSeconds: number;
  workerCores: number;
  selfCores: number;
  /** NaN for a service that is not a process of the local stack. */
  stackCores: Record<StackService, number>;
  machineCores: number;
}

class CpuMeter {
  private readonly stackPids: Record<StackService, number | undefined>;

  constructor(
    config: Config,
    private readonly workerPid: number | undefined,
  ) {
    const run = stackPaths(config).run;
    this.stackPids = {
      kafka: runningPid(join(run, 'kafka.pid')),
      temporal: runningPid(join(run, 'temporal.pid')),
      s3: runningPid(join(run, 's3.pid')),
      sqs: runningPid(join(run, 'sqs.pid')),
    };
  }

  sample(): CpuSample {
    const u = process.cpuUsage();
    return {
      at: performance.now(),
      worker: cpuSeconds(this.workerPid),
      self: (u.user + u.system) / 1e6,
      stack: {
        kafka: cpuSeconds(this.stackPids.kafka),
        temporal: cpuSeconds(this.stackPids.temporal),
        s3: cpuSeconds(this.stackPids.s3),
        sqs: cpuSeconds(this.stackPids.sqs),
      },
      machine: machineCpuSeconds(),
    };
  }

  since(a: CpuSample): CpuUse {
    const b = this.sample();
    const wall = (b.at - a.at) / 1000;
    const cores = (s: StackService): number => (b.stack[s] - a.stack[s]) / wall;
    return {
      wall,
      workerSeconds: b.worker - a.worker,
      selfSeconds: b.self - a.self,
      workerCores: (b.worker - a.worker) / wall,
      selfCores: (b.self - a.self) / wall,
      stackCores: { kafka: cores('kafka'), temporal: cores('temporal'), s3: cores('s3'), sqs: cores('sqs') },
      machineCores: (b.machine - a.machine) / wall,
    };
  }
}

// ---------------------------------------------------------------------------------------------------------
// The two measurements

interface ReadResult {
  eventsPerSec: number;
  seconds: number;
  cpuSeconds: number;
  eventsPerCpuSecond: number;
  /** Key + value bytes of the records read. */
  bytes: number;
  cpu: CpuUse;
}

/** Partition ends [earliest, latest) of the type's topic. */
async function topicBounds(config: Config, type: EventType): Promise<{ earliest: bigint; latest: bigint }[]> {
  const admin = createAdmin(config, 'bench-pipeline-bounds');
  try {
    return await Promise.all(
      Array.from({ length: type.settings.partitions }, (_, p) => partitionBounds(admin, type.topic, p)),
    );
  } finally {
    await admin.close();
  }
}

/** The ceiling: the same records read with the range reader alone (lib/kafka.ts), the same way writeSegment reads them. */
async function plainRead(config: Config, type: EventType, events: number): Promise<ReadResult> {
  const bounds = await topicBounds(config, type);
  const meter = new CpuMeter(config, undefined);
  const cpu0 = meter.sample();
  const t0 = performance.now();
  const reader = createRangeReader(config, uniqueName('bench.pipeline.read'), 'bench-pipeline-read');
  let records = 0;
  let bytes = 0;
  try {
    await Promise.all(
      bounds.map(async ({ earliest, latest }, partition) => {
        for await (const chunk of readRawRange(reader, {
          topic: type.topic,
          partition,
          from: earliest,
          to: latest,
        })) {
          for (const r of chunk) {
            records++;
            bytes += (r.value?.length ?? 0) + (r.key?.length ?? 0);
          }
        }
      }),
    );
  } finally {
    await reader.close();
  }
  const seconds = (performance.now() - t0) / 1000;
  const cpu = meter.since(cpu0);
  if (records !== events) fail(`plain read: got ${records} records, expected ${events}`);
  return {
    eventsPerSec: records / seconds,
    seconds,
    cpuSeconds: cpu.selfSeconds,
    eventsPerCpuSecond: records / cpu.selfSeconds,
    bytes,
    cpu,
  };
}

interface PipelineResult {
  eventsPerSec: number;
  seconds: number;
  workerCpuSeconds: number;
  eventsPerCpuSecond: number;
  /** Highest VmRSS of the worker sampled during the window. */
  peakRssMb: number;
  /** VmHWM of the worker at the end of the window (its whole life, start-up included). */
  hwmMb: number;
  startupMs: number;
  /** Kafka ranges written (partition, from, to). */
  segments: number;
  objects: number;
  parquetBytes: number;
  rows: number;
  cpu: CpuUse;
  /** Worker CPU seconds in the window by thread group. */
  threads: Record<ThreadGroup, number>;
}

interface S3Listing {
  keys: { key: string; size: number }[];
  rows: number;
}

async function listObjects(config: Config, prefix: string): Promise<S3Listing> {
  const s3 = createS3Client(config);
  const keys: { key: string; size: number }[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: config.s3.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key) keys.push({ key: o.Key, size: o.Size ?? 0 });
      token = page.NextContinuationToken;
    } while (token);
    let rows = 0;
    for (const { key } of keys) {
      const head = await s3.send(new HeadObjectCommand({ Bucket: config.s3.bucket, Key: key }));
      rows += Number(head.Metadata?.rows ?? Number.NaN);
    }
    return { keys, rows };
  } finally {
    s3.destroy();
  }
}

async function dlqRecords(config: Config, type: EventType): Promise<number> {
  const admin = createAdmin(config, 'bench-pipeline-dlq');
  try {
    const meta = await admin.metadata({ topics: [type.dlqTopic] });
    const n = meta.topics.get(type.dlqTopic)?.partitionsCount ?? 0;
    let total = 0n;
    for (let p = 0; p < n; p++) total += (await partitionBounds(admin, type.dlqTopic, p)).latest;
    return Number(total);
  } finally {
    await admin.close();
  }
}

const workflowIds = (type: EventType): string[] => [
  `pipeline/${type.name}`,
  ...Array.from({ length: type.settings.partitions }, (_, p) => `pipeline/${type.name}/p${p}`),
];

/** Starts a worker process and the eventPipeline workflow; times them until every committed offset is the end. */
/** Preloaded events of one type, for one pipeline pass. */
interface Pass {
  type: EventType;
  events: number;
}

/**
 * One worker process for a round: the warm-up pass first (if any), then the counted pass, on the same worker,
 * as a long-running worker meets its events. Each pass has its own type, so its own topic and workflows.
 */
async function runPipelines(
  config: Config,
  client: Client,
  iso: IsolatedCatalog,
  warmup: Pass | null,
  counted: Pass,
  opts: Options,
  profileFile: string | null,
  exactJson: boolean,
): Promise<{ warmup: PipelineResult | null; pipeline: PipelineResult }> {
  const taskQueue = uniqueName('bench-pipeline');
  const worker = await startWorkerProcess(iso.dir, taskQueue, opts.workerNodeArgs, {
    inline: profileFile !== null,
    exactJson,
  });
  try {
    const first = warmup ? await drivePipeline(config, client, worker, taskQueue, warmup, opts, null) : null;
    // The warm-up's terminated workflows leave long-poll activities that end at their next heartbeat.
    if (first) await sleep(SETTLE_MS);
    const pipeline = await drivePipeline(config, client, worker, taskQueue, counted, opts, profileFile);
    return { warmup: first, pipeline };
  } finally {
    await stopWorkerProcess(worker);
  }
}

/** Runs the eventPipeline of `pass.type` on the worker until every partition is committed, timed and checked. */
async function drivePipeline(
  config: Config,
  client: Client,
  worker: WorkerProcess,
  taskQueue: string,
  { type, events }: Pass,
  opts: Options,
  profileFile: string | null,
): Promise<PipelineResult> {
  const bounds = await topicBounds(config, type);
  const admin = createAdmin(config, 'bench-pipeline-poll');
  let started = false;
  try {
    if (profileFile) await askWorker(worker, { kind: 'profile-start' }, null);
    const meter = new CpuMeter(config, worker.pid);
    let peakRssKb = statusKb(worker.pid, 'VmRSS');
    const threads0 = threadSeconds(worker.pid);
    const cpu0 = meter.sample();
    const t0 = performance.now();
    await client.workflow.start<typeof eventPipeline>('eventPipeline', {
      workflowId: `pipeline/${type.name}`,
      taskQueue,
      args: [{ eventType: type.name, idleWaitMs: 1000, partitionCheckMs: 60_000 }],
    });
    started = true;
    const deadline = Date.now() + opts.timeoutSeconds * 1000;
    for (;;) {
      const committed = await Promise.all(
        bounds.map((_, p) => committedOffset(admin, type.consumerGroup, type.topic, p)),
      );
      peakRssKb = Math.max(peakRssKb, statusKb(worker.pid, 'VmRSS'));
      if (committed.every((c, p) => (c ?? -1n) >= bounds[p]!.latest)) break;
      if (worker.child.exitCode !== null)
        fail(`the worker process exited with code ${worker.child.exitCode}`);
      if (Date.now() > deadline) {
        const status = await client.workflow
          .getHandle(`pipeline/${type.name}`)
          .query(statusQuery)
          .catch((err: unknown) => errorMessage(err));
        fail(
          `the pipeline did not catch up within ${opts.timeoutSeconds} s: committed ${committed.join(', ')}; ` +
            `status ${JSON.stringify(status)}`,
        );
      }
      await sleep(POLL_MS);
    }
    const seconds = (performance.now() - t0) / 1000;
    const cpu = meter.since(cpu0);
    const threads = threadGroupsSince(threads0, threadSeconds(worker.pid));
    const hwmMb = statusKb(worker.pid, 'VmHWM') / 1024;
    if (profileFile) await askWorker(worker, { kind: 'profile-stop', file: profileFile }, 'profiled');

    // Every event once in Parquet, none in the DLQ.
    const listing = await listObjects(config, `events/${type.name}/`);
    if (listing.rows !== events)
      fail(`S3 holds ${listing.rows} rows in ${listing.keys.length} objects, expected ${events}`);
    const dlq = await dlqRecords(config, type);
    if (dlq !== 0) fail(`${type.dlqTopic} holds ${dlq} records: the pipeline rejected bench events`);
    const segments = new Set(
      listing.keys.map((k) => /-p(\d+-\d+-\d+)\.parquet$/.exec(k.key)?.[1] ?? fail(`odd key ${k.key}`)),
    ).size;
    return {
      eventsPerSec: events / seconds,
      seconds,
      workerCpuSeconds: cpu.workerSeconds,
      eventsPerCpuSecond: events / cpu.workerSeconds,
      peakRssMb: peakRssKb / 1024,
      hwmMb,
      startupMs: worker.startupMs,
      segments,
      objects: listing.keys.length,
      parquetBytes: listing.keys.reduce((n, k) => n + k.size, 0),
      rows: listing.rows,
      cpu,
      threads,
    };
  } finally {
    // Partitions are abandoned children: terminate each, then stop the worker.
    if (started)
      for (const id of workflowIds(type))
        await client.workflow
          .getHandle(id)
          .terminate('bench over')
          .catch(() => undefined);
    await admin.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// CPU profile summary

const isFn = (f: CallFrame, name: string, file: string): boolean =>
  f.functionName === name && f.url.endsWith(file);

/** The stages of a segment, by a frame that is on the stack while each runs. */
const STAGES: Stage[] = [
  [
    'Kafka fetch responses parsed (lib/kafka-fetch.ts)',
    (f) => isFn(f, 'parseResponse', 'lib/kafka-fetch.ts'),
  ],
  [
    'Record batches read (recordBatches, lz4 included)',
    (f) => isFn(f, 'recordBatches', 'lib/kafka-records.ts'),
  ],
  ['… lz4 decompression', (f) => f.functionName === 'lz4Decompress'],
  [
    'RecordDecoder.head: envelope and UTF-8 checks (encode.ts)',
    (f) => isFn(f, 'head', 'activities/segment/encode.ts'),
  ],
  ['… RawEnvelopeReader.read (lib/envelope.ts)', (f) => isFn(f, 'read', 'lib/envelope.ts')],
  [
    'JSON row reader: payload checked and appended to the columns (json-row.ts)',
    (f) => isFn(f, 'read', 'activities/segment/json-row.ts'),
  ],
  [
    'RecordDecoder.payload: JSON.parse + ajv, for what the row reader gives up on (encode.ts)',
    (f) => isFn(f, 'payload', 'activities/segment/encode.ts'),
  ],
  ['… ajv validation (schemas/validator.ts)', (f) => isFn(f, 'validate', 'schemas/validator.ts')],
  ['… parseTimestampMicros (time.ts)', (f) => isFn(f, 'parseTimestampMicros', 'activities/segment/time.ts')],
  [
    'formatMicros, for dt/hr of each row (time.ts)',
    (f) => isFn(f, 'formatMicros', 'activities/segment/time.ts'),
  ],
  [
    "Column builders' append (columns.ts): envelope columns, timestamps, payloads of the exact path",
    (f) => isFn(f, 'append', 'activities/segment/columns.ts'),
  ],
  [
    'Parquet written (writeParquetBytes: Arrow IPC + parquet-wasm)',
    (f) => isFn(f, 'writeParquetBytes', 'activities/segment/encode.ts'),
  ],
  ['S3 upload (AWS SDK)', (f) => /node_modules\/@(aws-sdk|smithy)\//.test(f.url)],
  ['Temporal SDK on the main thread', (f) => f.url.includes('node_modules/@temporalio/')],
  ['Garbage collector', (f) => f.functionName === '(garbage collector)'],
];

// The origin the worker's profile gives WebAssembly frames.
const WASM_ORIGIN = '(WebAssembly: parquet-wasm)';

// ---------------------------------------------------------------------------------------------------------
// Report

interface Round {
  order: ('read' | 'pipeline')[];
  preload: Preload;
  read: ReadResult | null;
  pipeline: PipelineResult;
  /** The same worker's warm-up pass, on a type of its own right before the counted one (null with --warmup-events 0). */
  warmup: PipelineResult | null;
}

interface Env extends Machine {
  kafka: string;
  platformatic: string;
  temporal: string;
  parquetWasm: string;
  config: Config;
  type: EventType;
  busyBefore: number;
  profiled: Round | null;
  profile: ProfileSummary | null;
  /** The --compare-json rounds, each run right after the counted round of the same number. */
  exactRounds: Round[];
}

function summaryTable(rounds: Round[]): string {
  const reads = rounds.flatMap((r) => (r.read ? [r.read] : []));
  const pipes = rounds.map((r) => r.pipeline);
  const mp = (f: (p: PipelineResult) => number): number => median(pipes.map(f));
  const mr = (f: (r: ReadResult) => number): number => median(reads.map(f));
  const rows: [string, string, string, string][] = [];
  const both = (
    label: string,
    p: (x: PipelineResult) => number,
    r: (x: ReadResult) => number,
    f: (n: number) => string,
    withRatio = true,
  ): void => {
    const a = mp(p);
    const b = mr(r);
    rows.push([label, f(a), f(b), withRatio ? ratio(a, b) : '—']);
  };
  const one = (label: string, p: (x: PipelineResult) => number, f: (n: number) => string): void => {
    rows.push([label, f(mp(p)), '—', '—']);
  };
  // Pipeline and plain read side by side: label, the figure of each, its format, whether to give their ratio.
  const pairs: [
    string,
    (x: PipelineResult) => number,
    (x: ReadResult) => number,
    (n: number) => string,
    boolean?,
  ][] = [
    ['Events/s (wall clock)', (p) => p.eventsPerSec, (r) => r.eventsPerSec, int],
    ['Wall time (s)', (p) => p.seconds, (r) => r.seconds, dec(2)],
    ['CPU seconds, worker / reader process¹', (p) => p.workerCpuSeconds, (r) => r.cpuSeconds, dec(2)],
    ['Events per CPU second (per core)¹', (p) => p.eventsPerCpuSecond, (r) => r.eventsPerCpuSecond, int],
    ['CPU per event (µs)¹', (p) => 1e6 / p.eventsPerCpuSecond, (r) => 1e6 / r.eventsPerCpuSecond, dec(1)],
    ['Worker / reader process CPU (cores)¹', (p) => p.cpu.workerCores, (r) => r.cpu.selfCores, dec(2), false],
    ['Broker CPU (cores)', (p) => p.cpu.stackCores.kafka, (r) => r.cpu.stackCores.kafka, dec(2), false],
    [
      'Temporal server CPU (cores)',
      (p) => p.cpu.stackCores.temporal,
      (r) => r.cpu.stackCores.temporal,
      dec(2),
      false,
    ],
    ['S3 server CPU (cores)', (p) => p.cpu.stackCores.s3, (r) => r.cpu.stackCores.s3, dec(2), false],
    ['SQS server CPU (cores)', (p) => p.cpu.stackCores.sqs, (r) => r.cpu.stackCores.sqs, dec(2), false],
    ['Whole machine CPU busy (cores)²', (p) => p.cpu.machineCores, (r) => r.cpu.machineCores, dec(2), false],
  ];
  for (const [label, p, r, f, withRatio] of pairs) both(label, p, r, f, withRatio);
  const warms = rounds.flatMap((r) => (r.warmup ? [r.warmup] : []));
  if (warms.length > 0) {
    const mw = (f: (p: PipelineResult) => number): number => median(warms.map(f));
    const first = `its first ${int(mw((p) => p.rows))} events`;
    rows.push([
      `Cold worker, ${first} (the warm-up pass): events per CPU second³`,
      int(mw((p) => p.eventsPerCpuSecond)),
      '—',
      '—',
    ]);
    rows.push([
      `Cold worker, ${first}: CPU per event (µs)³`,
      dec(1)(1e6 / mw((p) => p.eventsPerCpuSecond)),
      '—',
      '—',
    ]);
    rows.push([`Cold worker, ${first}: events/s³`, int(mw((p) => p.eventsPerSec)), '—', '—']);
  }
  for (const g of THREAD_GROUPS)
    one(`… worker CPU seconds in the ${THREAD_LABEL[g]}`, (p) => p.threads[g], dec(2));
  one('Bench process CPU while the pipeline ran (cores, offset polling)', (p) => p.cpu.selfCores, dec(2));
  one('Worker peak RSS during the window (MB)', (p) => p.peakRssMb, dec(0));
  one('Worker VmHWM, start-up included (MB)', (p) => p.hwmMb, dec(0));
  one('Worker start-up, workflow bundling included (s)', (p) => p.startupMs / 1000, dec(1));
  one('Segments (Kafka ranges written)', (p) => p.segments, int);
  one('Parquet objects', (p) => p.objects, int);
  one('Parquet bytes (MB)', (p) => p.parquetBytes / 1e6, dec(1));
  rows.push([
    'Raw JSON payload bytes (MB)',
    mb(median(rounds.map((r) => r.preload.valueBytes))),
    mb(mr((r) => r.bytes)) + ' (key + value)',
    '—',
  ]);
  rows.push([
    'Parquet / raw JSON bytes',
    `${(median(rounds.map((r) => r.pipeline.parquetBytes / r.preload.valueBytes)) * 100).toFixed(1)}%`,
    '—',
    '—',
  ]);
  return markdownTable(
    [
      `Median of ${rounds.length} rounds`,
      'Pipeline (Kafka → Parquet → S3)',
      'Plain read (range reader alone)',
      'pipeline / read',
    ],
    'lrrr',
    rows,
  );
}

function roundsTable(rounds: Round[]): string {
  return markdownTable(
    [
      'Round',
      'Order',
      'Preload (s)',
      'Pipeline events/s',
      'Pipeline events per CPU s',
      'Worker cores',
      'Cold worker events per CPU s',
      'Read events/s',
      'Read events per CPU s',
      'pipeline / read (events/s)',
      'Objects',
      'Parquet MB',
    ],
    'rlrrrrrrrrrr',
    rounds.map(({ order, preload: pre, pipeline: p, read: rd, warmup: w }, i) => [
      String(i + 1),
      order.join(' → '),
      dec(1)(pre.seconds),
      int(p.eventsPerSec),
      int(p.eventsPerCpuSecond),
      dec(2)(p.cpu.workerCores),
      w ? int(w.eventsPerCpuSecond) : '—',
      rd ? int(rd.eventsPerSec) : '—',
      rd ? int(rd.eventsPerCpuSecond) : '—',
      rd ? ratio(p.eventsPerSec, rd.eventsPerSec) : '—',
      String(p.objects),
      mb(p.parquetBytes),
    ]),
  );
}

/** The counted rounds against the --compare-json rounds, in one line. */
function jsonReaderComparison(rounds: Round[], exact: Round[]): string {
  const fast = median(rounds.map((r) => r.pipeline.eventsPerCpuSecond));
  const slow = median(exact.map((r) => r.pipeline.eventsPerCpuSecond));
  return (
    `JSON row reader on: ${int(fast)} events per worker CPU second (${dec(1)(1e6 / fast)} µs per event); ` +
    `off (JSON.parse + ajv): ${int(slow)} (${dec(1)(1e6 / slow)} µs); on / off = ${dec(2)(fast / slow)}×`
  );
}

function jsonReaderSection(env: Env, rounds: Round[]): string {
  if (env.exactRounds.length === 0) {
    return (
      '`npm run bench:pipeline -- --compare-json` runs one more round after each counted one with\n' +
      '`pipeline.fastJsonReader` off (every payload through JSON.parse + ajv) and compares them here.'
    );
  }
  const row = (name: string, rs: Round[]): string =>
    `| ${name} | ${rs.map((r) => int(r.pipeline.eventsPerCpuSecond)).join(' / ')} | ${int(median(rs.map((r) => r.pipeline.eventsPerCpuSecond)))} | ${dec(1)(1e6 / median(rs.map((r) => r.pipeline.eventsPerCpuSecond)))} |`;
  return [
    'After each counted round, one more (not counted above) on a fresh topic with `pipeline.fastJsonReader` off, so',
    'every payload goes through JSON.parse + ajv + TableEncoder.append instead of the one-pass JSON row reader',
    '(`activities/segment/json-row.ts`). Both write the same files.',
    '',
    '| Payload reading | Events per worker CPU second, by round | Median | CPU per event (µs) |',
    '| --- | ---: | ---: | ---: |',
    row('JSON row reader (default)', rounds),
    row('JSON.parse + ajv', env.exactRounds),
    '',
    jsonReaderComparison(rounds, env.exactRounds),
  ].join('\n');
}

function profileSection(env: Env): string {
  if (!env.profile || !env.profiled) {
    return (
      'Not profiled in this run. `npm run bench:pipeline -- --profile` adds one round (not counted above) with the\n' +
      "worker's main thread under the V8 CPU profiler for the timed window, and lists its top self-time functions here."
    );
  }
  const p = env.profiled.pipeline;
  return [
    `One extra round (not counted above) with \`pipeline.encodeThreads\` = 0, so decoding and encoding run on the worker's main`,
    `thread with the rest of the activities, under the V8 CPU`,
    `profiler (the \`--cpu-prof\` sampler, 1 ms interval, started through \`node:inspector\` at the workflow start and stopped`,
    `when the offsets were committed, so the start-up bundling of the workflows stays out). That round: ${int(p.eventsPerSec)} events/s,`,
    `${int(p.eventsPerCpuSecond)} events per worker CPU second (the profiler costs some); worker CPU ${dec(2)(p.workerCpuSeconds)} s, of which the main`,
    `thread ${dec(2)(p.threads.main)} s. The main thread was sampled busy for ${dec(0)(env.profile.busyMs)} ms: wall-clock time, which includes time it`,
    `waited for a CPU while other processes ran, so shares are what matter below.`,
    '',
    hotSpotTable('Stage (inclusive: the stage and everything it calls)', env.profile.stages),
    '',
    hotSpotTable('Function (self time)', env.profile.functions),
    '',
    hotSpotTable('Where (self time)', env.profile.origins),
  ].join('\n');
}

function renderDoc(opts: Options, env: Env, rounds: Round[]): string {
  const perCore = median(rounds.map((r) => r.pipeline.eventsPerCpuSecond));
  const reads = rounds.flatMap((r) => (r.read ? [r.read] : []));
  const rate = median(rounds.map((r) => r.pipeline.eventsPerSec)) / median(reads.map((r) => r.eventsPerSec));
  const perCpu = perCore / median(reads.map((r) => r.eventsPerCpuSecond));
  const warms = rounds.flatMap((r) => (r.warmup ? [r.warmup] : []));
  const coldPerCore = warms.length > 0 ? median(warms.map((p) => p.eventsPerCpuSecond)) : null;
  const cold =
    coldPerCore === null
      ? ''
      : ` A freshly started worker is slower over its first ${int(opts.warmupEvents)} events (the warm-up pass, while V8 compiles the ` +
        `hot code and the heaps and kept buffers grow to their working size): ${int(coldPerCore)} events per CPU second` +
        (coldPerCore >= TARGET_PER_CORE ? ', also above the target.' : ', below the target.');
  const verdict =
    perCore >= TARGET_PER_CORE
      ? `**met** (${int(perCore)} events per worker CPU second)`
      : `**not met**: ${int(perCore)} events per worker CPU second, ${((perCore / TARGET_PER_CORE) * 100).toFixed(0)}% of the target`;
  const readUs = 1e6 / median(reads.map((r) => r.eventsPerCpuSecond));
  const pipeUs = 1e6 / perCore;
  const budgetUs = 1e6 / TARGET_PER_CORE;
  const budget =
    `Per event, the plain read alone costs ${dec(1)(readUs)} µs of CPU; ${int(TARGET_PER_CORE)} events per CPU second allows ` +
    `${dec(1)(budgetUs)} µs in all, ` +
    (readUs < budgetUs
      ? `so decoding, validation, Parquet encoding, upload and Temporal would have to fit in the ${dec(1)(budgetUs - readUs)} µs left`
      : 'more than the read alone already takes') +
    `; the worker spends ${dec(1)(pipeUs)} µs (${dec(1)(pipeUs - readUs)} µs beyond the read).`;
  const noisy =
    env.busyBefore > 0.3
      ? `\n\nThe machine was not idle: other programs kept ${dec(2)(env.busyBefore)} of its ${env.nproc} cores busy before the run and ` +
        'went on running, so the worker got less than a core and the wall-clock figures (events/s) are understated. ' +
        'The CPU-second figures are the ones to compare; they too are somewhat noisy (shared caches, CPU frequency).'
      : '';
  const pre = rounds[0]!.preload;
  const f = env.type.settings.flush;
  const meanEvent = median(rounds.map((r) => r.preload.valueBytes / r.preload.events));
  const meanHeaders = median(rounds.map((r) => r.preload.headerBytes / r.preload.events));
  return `# Pipeline benchmark: Kafka → Parquet on S3 vs a plain Kafka read

Generated by \`npm run bench:pipeline\` (\`bench/pipeline.ts\`); rerun it to refresh this page.

Target: the pipeline moves at least ${int(TARGET_PER_CORE)} events per second per core (events per CPU second of the worker
process${coldPerCore === null ? '' : ', a running worker: the pass after the warm-up'}) — ${verdict}.${cold} Against the plain read of the same records with the range reader alone (\`readRawRange\`: Fetch + lib/kafka-records.ts), the pipeline reaches
${rate.toFixed(2)}× its events/s and ${perCpu.toFixed(2)}× its events per CPU second. ${budget}${noisy}

- Date: ${env.date}
- Machine: ${env.nproc} CPUs (${env.cpu}), ${env.memGb.toFixed(0)} GB RAM; Node ${env.node}. The whole local stack (Kafka, Temporal,
  S3, SQS), the worker and this bench share it; before the run the machine was busy ${dec(2)(env.busyBefore)} cores
- Broker: Apache Kafka ${env.kafka}, single node KRaft on ${env.config.kafka.brokers.join(', ')}; S3: the local S3-compatible store; Temporal:
  the dev server
- Clients: @platformatic/kafka ${env.platformatic}, @temporalio/worker ${env.temporal}, parquet-wasm ${env.parquetWasm}
- Events: ${int(opts.events)} \`order_created\` v${env.type.latest.version} events per round${opts.warmupEvents > 0 ? ` (and ${int(opts.warmupEvents)} more of the same kind for the warm-up pass)` : ''} (${env.type.settings.partitions} partitions, keyed by \`order_id\`;
  ${pre.perPartition.map(int).join(' / ')} per partition in round 1), mean ${int(meanEvent)} bytes of JSON (padded with line items
  from a menu of ${SKUS.length} SKUs, as the schema is closed) plus ${int(meanHeaders)} bytes of CloudEvents headers; produced with
  acks=1, compression=${env.config.proxy.compression} (as the proxy writes them), all valid
- Flush policy of the isolated type: maxRecords=${int(f.maxRecords)} (the default), maxBytes=${int(f.maxBytes)} (the default),
  maxAgeSeconds=${f.maxAgeSeconds} (the default is 60; the preloaded records are older than that anyway, so a partition's last
  segment is written at once instead of after a minute of waiting); Parquet ZSTD (the default)
- Worker: one process, \`createPipelineWorkers()\` of \`workers/pipeline-worker.ts\` (workflows bundled from source),
  maxConcurrentActivities=${env.config.pipeline.maxConcurrentActivities}, encodeThreads=${env.config.pipeline.encodeThreads}, notifyObjects=${env.config.pipeline.notifyObjects}, logLevel=warn
- ${rounds.length} rounds, each on a fresh isolated catalog, alternating which of the two goes first; medians over rounds

## Results

${summaryTable(rounds)}

¹ Pipeline: the worker process (utime + stime of \`/proc/<pid>/stat\`, every thread: activities, Temporal core, workflow
threads) from the workflow start to the last commit of the counted pass${opts.warmupEvents > 0 ? ', which the worker runs after the warm-up pass' : ''}. Plain read: this bench process (\`process.cpuUsage()\`), which only reads then.
² All CPUs of the machine (\`/proc/stat\`), out of ${env.nproc}: worker, bench, the stack and anything else running.
${
  opts.warmupEvents > 0
    ? `³ The warm-up pass: the same worker, right after its start, moving ${int(opts.warmupEvents)} events of a copy of the type (its
own topic and workflows), measured the same way. Meanwhile V8 compiles the hot JavaScript (and tiers up parquet-wasm's
WebAssembly) on the encode threads and its helper threads, the heaps grow to their working size (collections on the
way), and the encode threads fill the column buffers they keep from then on (docs/pipelines.md): a new worker pays that
once; a pipeline worker runs for days. Run with \`--warmup-events 0\` to count a cold worker only.`
    : ''
}

Every round:

${roundsTable(rounds)}

## Method

Each round provisions an isolated copy of the catalog (\`test/helpers/catalog.ts\`: unique type names, fresh topics,
DLQs and queues), then preloads the events into the \`order_created\` copy's topic with \`createProducer()\`: per event a
JSON payload, the envelope headers of \`buildEnvelope()\` + \`envelopeHeaders()\` (ce_time = \`placed_at\`, within the last
minute), key = \`order_id\`, partition = murmur2 as the proxy computes it. Then, in the round's order:

- **Plain read** (the ceiling): in the bench process, one \`createRangeReader()\` consumer and \`readRawRange()\` of \`lib/kafka.ts\`
  (what writeSegment reads with: headers left as bytes) over the three partitions at once, \`[earliest, end)\` each, with
  writeSegment's fetch size; it only counts records and key + value bytes. Timed from creating the reader to the last record.
- **Pipeline**: a worker process (\`node --import tsx bench/pipeline.ts\` in serve mode, which calls
  \`createPipelineWorkers()\` with the isolated catalog on a task queue of its own) is started and waited for (it bundles
  the workflows first: the start-up in the table, not timed). It first runs the warm-up pass (³) over the copy
  \`order_created_warmup\`, measured and checked the same way, waits ${SETTLE_MS / 1000} s for that pass's long polls to end, then the counted pass. The clock starts as the bench starts the \`eventPipeline\`
  workflow; it stops when the committed offset of the consumer group \`sluice.<type>\` reached the end of every partition
  (polled every ${POLL_MS} ms). A partition commits only after its segment's Parquet objects were put to S3, so at that
  point every object is there. The bench then checks that the objects' \`rows\` metadata adds up to the events
  produced and that the DLQ is empty, terminates the workflows (the partition children are abandoned children, so
  each one) and stops the worker.

Worker RSS: the highest \`VmRSS\` sampled during the window; \`VmHWM\` also covers the start-up (webpack bundling of the
workflows). Segments are the Kafka ranges written (one \`writeSegment\` each); an object is one Parquet file, one per
(schema version, event hour) of a segment.

## JSON row reader

${jsonReaderSection(env, rounds)}

## Profile

${profileSection(env)}
`;
}

// ---------------------------------------------------------------------------------------------------------

// The copy of order_created each round's worker warms up on (--warmup-events).
const WARMUP_TYPE = 'order_created_warmup';

function printPipeline(label: string, p: PipelineResult): void {
  console.log(
    `  ${label} ${int(p.eventsPerSec).padStart(9)} events/s  ${int(p.eventsPerCpuSecond).padStart(9)} per CPU s  ` +
      `(${dec(2)(p.seconds)} s, worker ${dec(2)(p.workerCpuSeconds)} CPU s = ${dec(2)(p.cpu.workerCores)} cores, ` +
      `peak RSS ${dec(0)(p.peakRssMb)} MB; ${p.segments} segments, ${p.objects} objects, ${mb(p.parquetBytes)} MB Parquet; ` +
      `cores: broker ${dec(2)(p.cpu.stackCores.kafka)}, temporal ${dec(2)(p.cpu.stackCores.temporal)}, ` +
      `s3 ${dec(2)(p.cpu.stackCores.s3)}, machine ${dec(2)(p.cpu.machineCores)})`,
  );
}

async function runRound(
  config: Config,
  client: Client,
  opts: Options,
  order: Round['order'],
  profileFile: string | null,
  exactJson = false,
): Promise<{ round: Round; type: EventType }> {
  const iso = await isolatedCatalog(config, {
    flush: { maxRecords: opts.maxRecords, maxAgeSeconds: MAX_AGE_SECONDS },
    copies: { [WARMUP_TYPE]: 'order_created' },
  });
  let failed = false;
  try {
    const typeOf = (name: string): EventType =>
      iso.catalog.types.get(iso.type(name)) ?? fail(`the catalog has no ${name}`);
    const type = typeOf('order_created');
    const preloaded = async (t: EventType, events: number): Promise<Preload> => {
      const pre = await preload(config, t, events, opts);
      console.log(
        `  preloaded ${int(pre.events)} events (${mb(pre.valueBytes)} MB JSON) into ${t.topic} in ${dec(1)(pre.seconds)} s ` +
          `(${pre.perPartition.map(int).join(' / ')})`,
      );
      return pre;
    };
    const warm = typeOf(WARMUP_TYPE);
    const warmup: Pass | null =
      opts.warmupEvents > 0
        ? { type: warm, events: (await preloaded(warm, opts.warmupEvents)).events }
        : null;
    const pre = await preloaded(type, opts.events);
    let read: ReadResult | null = null;
    let pipeline: PipelineResult | null = null;
    let cold: PipelineResult | null = null;
    for (const step of order) {
      if (step === 'read') {
        read = await plainRead(config, type, pre.events);
        console.log(
          `  plain read ${int(read.eventsPerSec).padStart(9)} events/s  ${int(read.eventsPerCpuSecond).padStart(9)} per CPU s  ` +
            `(${dec(2)(read.seconds)} s, ${dec(2)(read.cpuSeconds)} CPU s, broker ${dec(2)(read.cpu.stackCores.kafka)} cores)`,
        );
      } else {
        const passes = await runPipelines(
          config,
          client,
          iso,
          warmup,
          { type, events: pre.events },
          opts,
          profileFile,
          exactJson,
        );
        cold = passes.warmup;
        pipeline = passes.pipeline;
        if (cold) printPipeline('warm-up ', cold);
        printPipeline('pipeline', pipeline);
      }
    }
    if (!pipeline) fail('the round ran no pipeline');
    return { round: { order, preload: pre, read, pipeline, warmup: cold }, type };
  } catch (err) {
    failed = true;
    throw err;
  } finally {
    try {
      await iso.cleanup(config);
    } catch (err) {
      // A cleanup error only fails the run if nothing else did.
      console.error(`cleanup failed: ${errorMessage(err)}`);
      if (!failed) process.exitCode = 1;
    }
  }
}

async function main(): Promise<void> {
  const opts = parseOptions();
  const config = loadConfig();
  const probe = createAdmin(config, 'bench-pipeline-probe');
  try {
    await reachKafka(config.kafka.brokers.join(', '), probe.listTopics(), 'listing the topics');
  } finally {
    await probe.close();
  }
  let connection: Connection;
  try {
    connection = await Connection.connect({ address: config.temporal.address, connectTimeout: '15 seconds' });
  } catch (err) {
    fail(`cannot reach Temporal at ${config.temporal.address} (is the stack up?): ${errorMessage(err)}`);
  }
  const client = new Client({ connection, namespace: config.temporal.namespace });

  const busyBefore = await busyBeforeStart();

  try {
    const rounds: Round[] = [];
    const exactRounds: Round[] = [];
    let type: EventType | undefined;
    for (let i = 1; i <= opts.rounds; i++) {
      const order: Round['order'] = i % 2 === 1 ? ['read', 'pipeline'] : ['pipeline', 'read'];
      console.log(`round ${i} (${order.join(' then ')}):`);
      const r = await runRound(config, client, opts, order, null);
      rounds.push(r.round);
      type = r.type;
      if (opts.compareJson) {
        console.log(`round ${i}, JSON.parse + ajv only (pipeline.fastJsonReader false; not counted above):`);
        exactRounds.push((await runRound(config, client, opts, ['pipeline'], null, true)).round);
      }
    }
    let profiled: Round | null = null;
    let profile: ProfileSummary | null = null;
    if (opts.profile) {
      // Kept in the temp dir, to open in Chrome DevTools.
      const file = join(tmpdir(), `sluice-bench-pipeline-${Date.now()}.cpuprofile`);
      console.log('profiled round (not counted):');
      profiled = (await runRound(config, client, opts, ['pipeline'], file)).round;
      profile = summarizeProfile(file, 25, { stages: STAGES, wasm: WASM_ORIGIN });
      console.log(`worker CPU profile: ${file}`);
    }
    if (!type) fail('no round ran');

    const env: Env = {
      ...machine(),
      kafka: (await import('../ops/services/kafka.js')).KAFKA_VERSION,
      platformatic: packageVersion('@platformatic/kafka'),
      temporal: packageVersion('@temporalio/worker'),
      parquetWasm: packageVersion('parquet-wasm'),
      config: workerConfig(config, 'bench'),
      type,
      busyBefore,
      profiled,
      profile,
      exactRounds,
    };
    const reads = rounds.flatMap((r) => (r.read ? [r.read] : []));
    const perCore = median(rounds.map((r) => r.pipeline.eventsPerCpuSecond));
    console.log(`\n${summaryTable(rounds)}\n`);
    console.log(
      `pipeline / plain read: ${(median(rounds.map((r) => r.pipeline.eventsPerSec)) / median(reads.map((r) => r.eventsPerSec))).toFixed(2)}× events/s, ` +
        `${(perCore / median(reads.map((r) => r.eventsPerCpuSecond))).toFixed(2)}× events per CPU second; ` +
        `target ≥ ${int(TARGET_PER_CORE)} events per worker CPU second: ${perCore >= TARGET_PER_CORE ? 'met' : 'NOT met'} (${int(perCore)}` +
        `${opts.warmupEvents > 0 ? `, after the warm-up pass; that pass on the cold worker: ${int(median(rounds.flatMap((r) => (r.warmup ? [r.warmup.eventsPerCpuSecond] : []))))}` : ''})`,
    );
    if (exactRounds.length > 0) console.log(`\n${jsonReaderComparison(rounds, exactRounds)}`);
    if (profile) {
      console.log(`\nworker main thread CPU profile (${dec(0)(profile.busyMs)} ms busy), top self time:`);
      printHotSpots(profile.functions);
      console.log('stages (inclusive):');
      printHotSpots(profile.stages);
      console.log('by origin:');
      printHotSpots(profile.origins);
    }
    if (opts.doc) await writeDoc(opts.doc, renderDoc(opts, env, rounds));
    // Headline figures for docs/benchmarks.md (npm run bench:report).
    writeSummary('pipeline', {
      bench: 'pipeline',
      date: env.date,
      rounds: opts.rounds,
      events: opts.events,
      pipeline: {
        eventsPerSec: median(rounds.map((r) => r.pipeline.eventsPerSec)),
        eventsPerCpuSecond: perCore,
        peakRssMb: median(rounds.map((r) => r.pipeline.peakRssMb)),
        hwmMb: median(rounds.map((r) => r.pipeline.hwmMb)),
      },
      read: {
        eventsPerSec: median(reads.map((r) => r.eventsPerSec)),
        eventsPerCpuSecond: median(reads.map((r) => r.eventsPerCpuSecond)),
      },
      targetEventsPerCpuSecond: TARGET_PER_CORE,
    });
  } finally {
    await connection.close();
  }
}

const childCatalog = process.env[CHILD_CATALOG_ENV];
const childQueue = process.env[CHILD_QUEUE_ENV];
if (childCatalog && childQueue) {
  try {
    await serveWorker(childCatalog, childQueue);
    // process.exit, not a natural end: a client that keeps a socket alive must not keep the worker around.
    process.exit(0);
  } catch (err) {
    console.error(`bench:pipeline: the worker process failed: ${errorMessage(err)}`);
    process.exit(1);
  }
} else {
  await runMain('bench:pipeline', main);
}
