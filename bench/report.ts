// docs/benchmarks.md: one page with the headline figures of every benchmark, built from the JSON summary each
// bench leaves in .sluice/bench/<name>.json. Each bench also writes its own detail page (docs/benchmarks-*.md …).
// Usage: npm run bench          (tsx bench/report.ts --run: runs every bench with its defaults, then the page)
//        npm run bench:report   (the page from the last summaries, nothing rerun)
//        tsx bench/report.ts --run --only freshness,proxy
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../lib/paths.js';
import {
  dec,
  fail,
  int,
  machine,
  markdownTable,
  parseFlags,
  runMain,
  summaryPath,
  writeDoc,
} from './common.js';

const BENCHES = [
  { name: 'kafka-client', script: 'bench/kafka-client.ts', doc: 'kafka-client.md' },
  { name: 'parquet', script: 'bench/parquet-writers.ts', doc: 'parquet-writer.md' },
  { name: 'proxy', script: 'bench/proxy.ts', doc: 'benchmarks-proxy.md' },
  { name: 'pipeline', script: 'bench/pipeline.ts', doc: 'benchmarks-pipeline.md' },
  { name: 'freshness', script: 'bench/freshness.ts', doc: 'benchmarks-freshness.md' },
] as const;
type BenchName = (typeof BENCHES)[number]['name'];

// ---------------------------------------------------------------------------------------------------------
// The summaries as the benches write them. NaN and Infinity were written as null.

type Num = number | null;

interface Dist {
  p50: Num;
  p90: Num;
  p99: Num;
  max: Num;
  count: number;
}

interface KafkaClientSummary {
  date: string;
  rounds: number;
  records: number;
  recordBytes: number;
  produceRecordsPerSec: { kafkajs: Num; platformatic: Num };
  readRecordsPerSec: { kafkajs: Num; platformatic: Num };
}

interface ParquetSummary {
  date: string;
  rounds: number;
  writers: {
    writer: string;
    e2eRowsPerSec: Num;
    e2eRowsPerCpuSec: Num;
    writerRowsPerCpuSec: Num;
    fileBytes: Num;
    peakRssMb: Num;
  }[];
}

interface Closed {
  eventsPerSec: Num;
  p50: Num;
  p99: Num;
  eventsPerCpuSecond: Num;
}

interface ProxySummary {
  date: string;
  rounds: number;
  seconds: number;
  eventsPerRequest: number;
  connections: number;
  proxy: Closed;
  raw: Closed;
  open: { offeredEventsPerSec: number; achievedEventsPerSec: Num; p50: Num; p99: Num }[];
  proxyPeakRssMb: Num;
}

interface PipelineSummary {
  date: string;
  rounds: number;
  events: number;
  pipeline: { eventsPerSec: Num; eventsPerCpuSecond: Num; peakRssMb: Num; hwmMb: Num };
  read: { eventsPerSec: Num; eventsPerCpuSecond: Num };
  targetEventsPerCpuSecond: number;
}

interface FreshnessSummary {
  date: string;
  busyBefore: number;
  settings: {
    seconds: number;
    offeredEventsPerSec: number;
    eventsPerRequest: number;
    maxAgeSeconds: number;
    idleWaitMs: number;
    pollWaitSeconds: number;
    pollMs: number;
  };
  achievedEventsPerSec: Num;
  accepted: number;
  failedRequests: number;
  answerMs: Dist;
  freshness: Dist;
  freshnessFromSend: Dist;
  missing: number;
  files: number;
  rows: number;
  processes: { name: string; label: string; cores: Num; peakRssMb: Num; hwmMb: Num }[];
  targetP99Seconds: number;
  met: boolean;
  stackRestarted?: string[];
}

interface Summaries {
  'kafka-client'?: KafkaClientSummary;
  parquet?: ParquetSummary;
  proxy?: ProxySummary;
  pipeline?: PipelineSummary;
  freshness?: FreshnessSummary;
}

function readSummary(name: BenchName): unknown {
  const path = summaryPath(name);
  if (!existsSync(path)) return undefined;
  const parsed = JSON.parse(readFileSync(path, 'utf8')) as unknown;
  if (typeof parsed !== 'object' || parsed === null || (parsed as { bench?: unknown }).bench !== name) {
    fail(`${path} is not a summary of the ${name} bench`);
  }
  return parsed;
}

function readSummaries(): Summaries {
  // The shapes are this repository's own benches' output, checked by name above.
  return {
    'kafka-client': readSummary('kafka-client') as KafkaClientSummary | undefined,
    parquet: readSummary('parquet') as ParquetSummary | undefined,
    proxy: readSummary('proxy') as ProxySummary | undefined,
    pipeline: readSummary('pipeline') as PipelineSummary | undefined,
    freshness: readSummary('freshness') as FreshnessSummary | undefined,
  };
}

// ---------------------------------------------------------------------------------------------------------
// Formats: null (not measured) prints as '—'.

const n = (v: Num): number => (v === null ? Number.NaN : v);
const i = (v: Num): string => int(n(v));
const d = (digits: number, v: Num): string => dec(digits)(n(v));
const s = (ms: Num): string => (ms === null ? '—' : dec(2)(ms / 1000));
const x = (a: Num, b: Num): string => (a !== null && b !== null && b > 0 ? `${(a / b).toFixed(2)}×` : '—');
const day = (iso: string): string => iso.slice(0, 16).replace('T', ' ') + ' UTC';
const link = (doc: string): string => `[${doc}](${doc})`;

// ---------------------------------------------------------------------------------------------------------
// The page

function headline(sm: Summaries): string {
  const rows: string[][] = [];
  const p = sm.proxy;
  rows.push(
    p
      ? [
          'Proxy: HTTP → Kafka (closed loop)',
          `${i(p.proxy.eventsPerSec)} events/s vs ${i(p.raw.eventsPerSec)} for the raw client: **${x(p.proxy.eventsPerSec, p.raw.eventsPerSec)}**; ` +
            `p50 / p99 ${d(1, p.proxy.p50)} / ${d(1, p.proxy.p99)} ms per ${p.eventsPerRequest} events (raw ${d(1, p.raw.p50)} / ${d(1, p.raw.p99)} ms); ` +
            `events per CPU second ${x(p.proxy.eventsPerCpuSecond, p.raw.eventsPerCpuSecond)} of the raw client's` +
            (p.rounds < 3 || p.seconds < 10
              ? ` _(short run, ${p.rounds} × ${p.seconds} s: the detail page has the last full run)_`
              : ''),
          '≥ 0.8× the raw client',
          day(p.date),
          link('benchmarks-proxy.md'),
        ]
      : [
          'Proxy: HTTP → Kafka',
          'no summary yet: `npm run bench:proxy`',
          '≥ 0.8×',
          '—',
          link('benchmarks-proxy.md'),
        ],
  );
  const pl = sm.pipeline;
  rows.push(
    pl
      ? [
          'Pipeline: Kafka → Parquet on S3',
          `**${i(pl.pipeline.eventsPerCpuSecond)} events per worker CPU second** vs ${i(pl.read.eventsPerCpuSecond)} for a plain Kafka read ` +
            `(${x(pl.pipeline.eventsPerCpuSecond, pl.read.eventsPerCpuSecond)}); ${i(pl.pipeline.eventsPerSec)} events/s wall clock vs ${i(pl.read.eventsPerSec)} ` +
            `(${x(pl.pipeline.eventsPerSec, pl.read.eventsPerSec)})` +
            (pl.rounds < 2 || pl.events < 200_000
              ? ` _(short run, ${pl.rounds} × ${int(pl.events)} events: the detail page has the last full run)_`
              : ''),
          `≥ ${int(pl.targetEventsPerCpuSecond)} events per CPU second`,
          day(pl.date),
          link('benchmarks-pipeline.md'),
        ]
      : ['Pipeline', 'no summary yet: `npm run bench:pipeline`', '—', '—', link('benchmarks-pipeline.md')],
  );
  const f = sm.freshness;
  rows.push(
    f
      ? [
          'Freshness: HTTP accept → queryable in DuckDB',
          `**p50 ${s(f.freshness.p50)} s, p99 ${s(f.freshness.p99)} s**, max ${s(f.freshness.max)} s at ${int(f.settings.offeredEventsPerSec)} events/s offered ` +
            `(open loop, ${i(f.achievedEventsPerSec)} achieved) with maxAgeSeconds=${f.settings.maxAgeSeconds}` +
            (f.missing ? `; ${int(f.missing)} events never seen` : '') +
            (f.stackRestarted?.length ? `; ${f.stackRestarted.join(', ')} restarted during the run` : ''),
          `p99 ≤ ${f.targetP99Seconds} s: ${f.met ? '**met**' : '**not met**'}`,
          day(f.date),
          link('benchmarks-freshness.md'),
        ]
      : [
          'Freshness',
          'no summary yet: `npm run bench:freshness`',
          'p99 ≤ 10 s',
          '—',
          link('benchmarks-freshness.md'),
        ],
  );
  const k = sm['kafka-client'];
  rows.push(
    k
      ? [
          'Kafka clients: @platformatic/kafka vs kafkajs',
          `produce ${i(k.produceRecordsPerSec.platformatic)} vs ${i(k.produceRecordsPerSec.kafkajs)} records/s ` +
            `(${x(k.produceRecordsPerSec.platformatic, k.produceRecordsPerSec.kafkajs)}); offset-range read ${i(k.readRecordsPerSec.platformatic)} vs ` +
            `${i(k.readRecordsPerSec.kafkajs)} records/s (${x(k.readRecordsPerSec.platformatic, k.readRecordsPerSec.kafkajs)})`,
          '—',
          day(k.date),
          link('kafka-client.md'),
        ]
      : [
          'Kafka clients',
          'not rerun since benches write summaries: see the detail page (figures of its own date) or `npm run bench:kafka-client`',
          '—',
          '—',
          link('kafka-client.md'),
        ],
  );
  const pq = sm.parquet;
  const ref = pq?.writers.find((w) => w.writer === 'wasm-zstd');
  const others = pq?.writers.filter((w) => w !== ref) ?? [];
  rows.push(
    pq && ref
      ? [
          'Parquet writers',
          `apache-arrow + parquet-wasm (ZSTD, the one the pipeline uses): ${i(ref.e2eRowsPerCpuSec)} rows per CPU second end to end; ` +
            others
              .map(
                (w) =>
                  `${w.writer} ${i(w.e2eRowsPerCpuSec)} (parquet-wasm ZSTD at ${x(ref.e2eRowsPerCpuSec, w.e2eRowsPerCpuSec)} of it)`,
              )
              .join(', '),
          '—',
          day(pq.date),
          link('parquet-writer.md'),
        ]
      : [
          'Parquet writers',
          'not rerun since benches write summaries: see the detail page (figures of its own date) or `npm run bench:parquet`',
          '—',
          '—',
          link('parquet-writer.md'),
        ],
  );
  return markdownTable(['Benchmark', 'Headline', 'Target', 'Run (UTC)', 'Details'], 'lllll', rows);
}

function memory(sm: Summaries): string {
  const rows: string[][] = [];
  const f = sm.freshness;
  if (f) {
    for (const p of f.processes) {
      rows.push([p.label, d(2, p.cores), d(0, p.peakRssMb), d(0, p.hwmMb), `freshness, ${day(f.date)}`]);
    }
  }
  if (sm.proxy) {
    rows.push([
      'proxy under closed-loop load (max throughput)',
      '—',
      '—',
      d(0, sm.proxy.proxyPeakRssMb),
      `proxy, ${day(sm.proxy.date)}`,
    ]);
  }
  if (sm.pipeline) {
    rows.push([
      'pipeline worker moving a backlog (max throughput)',
      '—',
      d(0, sm.pipeline.pipeline.peakRssMb),
      d(0, sm.pipeline.pipeline.hwmMb),
      `pipeline, ${day(sm.pipeline.date)}`,
    ]);
  }
  if (rows.length === 0) return 'No summaries yet.';
  return markdownTable(
    ['Process', 'CPU (cores)', 'Peak RSS during the load (MB)', 'VmHWM (MB)', 'Bench, run'],
    'lrrrl',
    rows,
  );
}

function runNote(sm: Summaries): string {
  const lines: string[] = [];
  if (sm.proxy) {
    lines.push(
      `- proxy: ${sm.proxy.rounds} round(s) of ${sm.proxy.seconds} s closed loop (${sm.proxy.connections} connections, ${sm.proxy.eventsPerRequest} events per request)`,
    );
  }
  if (sm.pipeline)
    lines.push(`- pipeline: ${sm.pipeline.rounds} round(s) of ${int(sm.pipeline.events)} events`);
  if (sm.freshness) {
    const st = sm.freshness.settings;
    lines.push(
      `- freshness: ${st.seconds} s at ${int(st.offeredEventsPerSec)} events/s; maxAgeSeconds=${st.maxAgeSeconds}, pipeline.idleWaitMs=${st.idleWaitMs}, ` +
        `warehouse.pollWaitSeconds=${st.pollWaitSeconds}, polled every ${st.pollMs} ms`,
    );
  }
  if (sm['kafka-client']) {
    const k = sm['kafka-client'];
    lines.push(`- kafka-client: ${k.rounds} round(s) of ${int(k.records)} records of ${k.recordBytes} B`);
  }
  if (sm.parquet) lines.push(`- parquet: ${sm.parquet.rounds} round(s)`);
  return lines.join('\n');
}

function renderPage(sm: Summaries, failed: readonly string[]): string {
  const m = machine();
  const f = sm.freshness;
  const failures = failed.length
    ? `\n\n**The last \`npm run bench\` failed for: ${failed.join(', ')}**; their rows show the previous summary, with its date.`
    : '';
  return `# Benchmarks

Generated by \`npm run bench\` (runs every benchmark, then writes this page) or \`npm run bench:report\` (this page
from the last runs' summaries in \`.sluice/bench/*.json\`, nothing rerun). Each figure comes from a run on the machine
below, dated per row; each bench's own page has the method and every round.${failures}

- Page built: ${m.date}
- Machine: ${m.nproc} CPUs (${m.cpu}), ${m.memGb.toFixed(0)} GB RAM; Node ${m.node}. The local stack (Kafka, Temporal dev
  server, S3, SQS) runs on the same machine, and so do other people's jobs: figures are noisy, the ratios measured
  side by side in one run are the ones to compare${f ? ` (before the freshness run the machine was already busy ${dec(2)(f.busyBefore)} cores)` : ''}

## Headlines

${headline(sm)}

The Strimzi Kafka Bridge is not built in this repository, so the proxy is compared with the raw client only.

## Memory and CPU of each process

Freshness rows: each process of the path at ${sm.freshness ? int(sm.freshness.settings.offeredEventsPerSec) : '—'} events/s, CPU over the load; VmHWM is the
process's whole life (the workers' includes bundling the workflows at start-up; the stack's, everything since it started).

${memory(sm)}

## Runs these figures come from

The settings of the run each summary comes from. A bench's detail page is rewritten only by a run with its
defaults (short runs for development pass \`--no-doc\`), so it may show another run, with its own date.

${runNote(sm)}

## Reproduce

\`\`\`sh
npm run stack:up           # the local stack
npm run bench              # every bench with its defaults, then this page (tens of minutes)
npm run bench:freshness    # one bench; flags after --, e.g. -- --seconds 60 --max-age 2
npm run bench:report       # rebuild this page from the last summaries
\`\`\`

Detail pages: ${BENCHES.map((b) => link(b.doc)).join(', ')}.
`;
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const { values } = parseFlags({
    run: { type: 'boolean', default: false },
    only: { type: 'string' },
    doc: { type: 'string', default: 'docs/benchmarks.md' },
  });
  const only = values.only?.split(',').map((v) => v.trim());
  for (const name of only ?? []) {
    if (!BENCHES.some((b) => b.name === name))
      fail(`--only: no bench "${name}"; benches: ${BENCHES.map((b) => b.name).join(', ')}`);
  }
  const failed: string[] = [];
  if (values.run) {
    for (const b of BENCHES) {
      if (only && !only.includes(b.name)) continue;
      console.log(`\n=== ${b.name}: ${b.script}`);
      const r = spawnSync(process.execPath, ['--import', 'tsx', join(projectRoot(), b.script)], {
        cwd: projectRoot(),
        stdio: 'inherit',
      });
      // One failing bench does not stop the others; the page names it and the exit code says so.
      if (r.status !== 0) failed.push(b.name);
    }
  }
  await writeDoc(values.doc, renderPage(readSummaries(), failed));
  if (failed.length) {
    console.error(`failed: ${failed.join(', ')}`);
    process.exitCode = 1;
  }
}

await runMain('bench:report', main);
