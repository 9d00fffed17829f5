// Helpers shared by the benchmarks in bench/: usage errors and flags, timers, figures and Markdown tables,
// machine facts, /proc readers, child processes, CPU profile summaries, the results page and the entry point.
// This file imports only Node built-ins and lib/paths.ts: the benches' child processes (the proxy, the pipeline
// worker, every parquet writer run) load it too, and what they load is part of what they measure.
import type { ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { Agent, request as httpRequest } from 'node:http';
import { createRequire } from 'node:module';
import { cpus, totalmem } from 'node:os';
import { dirname, isAbsolute, join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { projectRoot } from '../lib/paths.js';

// ---------------------------------------------------------------------------------------------------------
// Errors and the entry point

/** A failure the bench explains itself: reported without a stack trace. */
export class BenchError extends Error {}

export function fail(message: string): never {
  throw new BenchError(message);
}

export function errorMessage(err: unknown): string {
  if (err instanceof Error) {
    // The Kafka clients wrap the broker's answer (as AggregateError does); the inner errors carry the useful part.
    const inner = (err as Error & { errors?: unknown }).errors;
    const details = Array.isArray(inner) ? inner.map((e) => errorMessage(e)).join('; ') : '';
    return details ? `${err.message} (${details})` : err.message;
  }
  return String(err);
}

/** Runs a bench's main() and exits: with process.exitCode (0 if unset) when it returns, 1 when it throws. */
export async function runMain(name: string, main: () => Promise<void>): Promise<never> {
  try {
    await main();
    // Exit explicitly: a client that keeps a socket or timer alive must not hang the bench.
    process.exit(process.exitCode ?? 0);
  } catch (err) {
    console.error(`${name} FAILED: ${errorMessage(err)}`);
    if (!(err instanceof BenchError) && err instanceof Error && err.stack) console.error(err.stack);
    process.exit(1);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Flags

/**
 * parseArgs with the benches' settings: known flags only, no positionals. A bad command line is a usage error
 * that lists the flags, except the `hidden` ones (used between a bench and its own child processes).
 */
export function parseFlags<O extends NonNullable<ParseArgsConfig['options']>>(
  options: O,
  hidden: readonly string[] = [],
) {
  try {
    return parseArgs({ options, strict: true, allowPositionals: false });
  } catch (err) {
    // parseArgs throws a plain TypeError for unknown flags; report it as a usage error, not a crash.
    const flags = Object.keys(options).filter((name) => !hidden.includes(name));
    return fail(`${errorMessage(err)}; flags: ${flags.map((name) => `--${name}`).join(' ')}`);
  }
}

/** The whole number given to --<name>, at least `min`. */
export function positiveInt(name: string, raw: string, min = 1): number {
  // Accept 50_000 as well as 50000, as people copy numbers from the brief.
  const n = Number(raw.replaceAll('_', ''));
  if (!Number.isSafeInteger(n) || n < min) fail(`--${name} must be an integer >= ${min}, got "${raw}"`);
  return n;
}

// ---------------------------------------------------------------------------------------------------------
// Timers

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** `promise`, or a BenchError naming `what` after `ms`; the timer is cleared either way, so it never lingers. */
export async function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new BenchError(`${what} timed out after ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Fails with a hint to start the local stack when Kafka (at `brokers`) does not answer within 15 s. */
export async function reachKafka(brokers: string, attempt: Promise<unknown>, what: string): Promise<void> {
  try {
    await withTimeout(attempt, 15_000, what);
  } catch (err) {
    fail(`cannot reach Kafka at ${brokers} (is the stack up? npm run stack:up): ${errorMessage(err)}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// Figures and tables. NaN stands for a figure that could not be measured (e.g. a process not of the local
// stack): the median leaves it out and the formats print it as '—'.

export function median(values: readonly number[]): number {
  const sorted = values.filter((v) => !Number.isNaN(v)).sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  if (sorted.length === 0) return Number.NaN;
  return sorted.length % 2 === 1
    ? (sorted[mid] ?? Number.NaN)
    : ((sorted[mid - 1] ?? 0) + (sorted[mid] ?? 0)) / 2;
}

/** Rounded, with thousands separators: 12,345. */
export const int = (n: number): string => (Number.isNaN(n) ? '—' : Math.round(n).toLocaleString('en-US'));
/** Curried, so that dec(1) can be handed over as a table column's format. */
export const dec =
  (digits: number) =>
  (n: number): string =>
    Number.isNaN(n) ? '—' : n.toFixed(digits);
/** Bytes as MB (10^6 bytes), one decimal. */
export const mb = (bytes: number): string => dec(1)(bytes / 1e6);
/** a / b as a factor: 0.54×; '—' when there is nothing to compare with. */
export const ratio = (a: number, b: number): string =>
  b > 0 && !Number.isNaN(a) ? `${(a / b).toFixed(2)}×` : '—';

/**
 * A Markdown table. `align` has one letter per column: 'l' for text, 'r' for figures. Cells are not padded:
 * the results page goes through Prettier, which lines the columns up.
 */
export function markdownTable(
  head: readonly string[],
  align: string,
  rows: readonly (readonly string[])[],
): string {
  const line = (cells: readonly string[]): string => `| ${cells.join(' | ')} |`;
  const rule = [...align].map((a) => (a === 'r' ? '---:' : '---'));
  return [line(head), line(rule), ...rows.map(line)].join('\n');
}

// ---------------------------------------------------------------------------------------------------------
// The machine and the packages

export interface Machine {
  date: string;
  node: string;
  /** CPU model. */
  cpu: string;
  nproc: number;
  memGb: number;
}

export function machine(): Machine {
  return {
    date: new Date().toISOString(),
    node: process.version,
    cpu: cpus()[0]?.model.trim() ?? 'unknown CPU',
    nproc: cpus().length,
    memGb: totalmem() / 1024 ** 3,
  };
}

const requireHere = createRequire(import.meta.url);

function versionIn(file: string): string {
  const pkg = JSON.parse(readFileSync(file, 'utf8')) as { version?: unknown };
  return typeof pkg.version === 'string' ? pkg.version.replace(/^v/, '') : 'unknown';
}

/**
 * The version of a package: the project's node_modules/<name>, else the copy Node resolves from here (an
 * optional package may come from NODE_PATH); "not installed" when there is neither.
 */
export function packageVersion(name: string): string {
  const own = join(projectRoot(), 'node_modules', name, 'package.json');
  if (existsSync(own)) return versionIn(own);
  let dir: string;
  try {
    dir = dirname(requireHere.resolve(name));
  } catch {
    return 'not installed';
  }
  // The resolved file is the package's entry point: its package.json is the nearest one with its name.
  for (;;) {
    const file = join(dir, 'package.json');
    if (existsSync(file) && (JSON.parse(readFileSync(file, 'utf8')) as { name?: unknown }).name === name) {
      return versionIn(file);
    }
    const up = dirname(dir);
    if (up === dir) return 'unknown';
    dir = up;
  }
}

// ---------------------------------------------------------------------------------------------------------
// CPU and memory figures from /proc

const CLOCK_TICKS = 100; // USER_HZ; 100 on every Linux build Node supports.

/** CPU seconds (utime + stime) of a /proc/<pid>/stat or /proc/<pid>/task/<tid>/stat line. */
export function statCpuSeconds(stat: string): number {
  // Fields after the command name (which may contain spaces): utime is field 14, stime 15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
}

/** CPU seconds (user + system, all threads) a process has used so far; NaN when it is unknown or gone. */
export function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return Number.NaN;
  try {
    return statCpuSeconds(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return Number.NaN;
  }
}

/** CPU seconds one thread of a process has used so far (the main thread's tid is the pid); NaN when unknown. */
export function threadCpuSeconds(pid: number | undefined, tid: number): number {
  if (pid === undefined) return Number.NaN;
  try {
    return statCpuSeconds(readFileSync(`/proc/${pid}/task/${tid}/stat`, 'utf8'));
  } catch {
    return Number.NaN;
  }
}

/** VmHWM (peak resident memory) or VmRSS of a process, in kB. */
export function statusKb(pid: number | 'self', field: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`^${field}:\\s+(\\d+) kB$`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!m) fail(`no ${field} in /proc/${pid}/status`);
  return Number(m[1]);
}

/** Busy CPU seconds of the whole machine: every process, including anything else running on it. */
export function machineCpuSeconds(): number {
  const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
  // cpu user nice system idle iowait irq softirq steal …: all but idle and iowait is busy.
  const t = line.trim().split(/\s+/).slice(1).map(Number);
  const at = (i: number): number => t[i] ?? 0;
  return (at(0) + at(1) + at(2) + at(5) + at(6) + at(7)) / CLOCK_TICKS;
}

/** Cores the machine keeps busy over 2 s before the bench starts anything; logged, with a warning if not idle. */
export async function busyBeforeStart(): Promise<number> {
  // Other programs running on the machine skew every figure: measure what is going on before we start.
  const busy0 = machineCpuSeconds();
  await sleep(2000);
  const busy = (machineCpuSeconds() - busy0) / 2;
  console.log(`machine busy before the run: ${dec(2)(busy)} of ${cpus().length} cores`);
  if (busy > 0.3) console.warn('warning: the machine is not idle; the figures will be noisy');
  return busy;
}

// ---------------------------------------------------------------------------------------------------------
// Child processes (the proxy, the pipeline worker)

/** SIGTERM, then SIGKILL after `graceMs`, which fails the run: "`what` did not stop within … s". */
export async function stopChild(
  child: ChildProcess,
  exited: Promise<unknown>,
  graceMs: number,
  what: string,
): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill('SIGTERM');
  const timeout = new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), graceMs).unref());
  if ((await Promise.race([exited, timeout])) === 'timeout') {
    child.kill('SIGKILL');
    await exited;
    fail(`${what} did not stop within ${graceMs / 1000} s of SIGTERM (killed)`);
  }
}

/** In a child process: calls `stop` once, on SIGTERM, SIGINT, or when the bench that started it goes away. */
export function onShutdown(stop: () => void): void {
  let stopping = false;
  const shutdown = (): void => {
    if (stopping) return;
    stopping = true;
    stop();
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
  // The bench holds our stdin open: if it dies without stopping us, do not linger as an orphan.
  process.stdin.once('end', shutdown);
  process.stdin.resume();
}

// ---------------------------------------------------------------------------------------------------------
// CPU profile summary

export interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
}

interface CpuProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}

interface CpuProfile {
  nodes: CpuProfileNode[];
  samples?: number[];
  timeDeltas?: number[];
}

export interface HotSpot {
  name: string;
  ms: number;
  share: number;
}

export interface ProfileSummary {
  file: string;
  busyMs: number;
  functions: HotSpot[];
  origins: HotSpot[];
  /** Inclusive time of the caller's stages (a sample counts for every stage on its stack). */
  stages: HotSpot[];
}

/** A named part of the work, recognised by a frame that is on the stack while it runs. */
export type Stage = [name: string, test: (f: CallFrame) => boolean];

/**
 * Where a function lives: a package, a Node built-in, V8 itself, or a project file. WebAssembly is named
 * `wasm` when the caller knows whose it is.
 */
function origin(url: string, wasm: string | undefined): string {
  if (url === '') return '(V8 / native)';
  if (wasm !== undefined && url.startsWith('wasm://')) return wasm;
  if (url.startsWith('node:')) return url.split('/')[0]!;
  const path = url.startsWith('file://') ? fileURLToPath(url) : url;
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path);
  return m ? m[1]! : relative(projectRoot(), path);
}

/** The `top` functions and origins by self time of a V8 .cpuprofile, idle time left out, and its stages. */
export function summarizeProfile(
  file: string,
  top: number,
  opts: { stages?: readonly Stage[]; wasm?: string } = {},
): ProfileSummary {
  const stageList = opts.stages ?? [];
  const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const stages = new Map<string, number>();
  const fn = new Map<string, number>();
  const org = new Map<string, number>();
  let busy = 0;
  const deltas = profile.timeDeltas ?? [];
  (profile.samples ?? []).forEach((id, i) => {
    const node = byId.get(id);
    const us = deltas[i] ?? 0;
    if (!node || node.callFrame.functionName === '(idle)') return;
    const stack: CallFrame[] = [];
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)?.callFrame;
      if (frame) stack.push(frame);
    }
    // A profile taken through node:inspector ends with the profiler's own stop call: no work of the bench's.
    if (stack.some((f) => f.url === 'node:inspector')) return;
    busy += us;
    const { functionName, url, lineNumber } = node.callFrame;
    const where = (u: string): string => origin(u, opts.wasm);
    // tsx emits each TypeScript module on one line: only other files have useful line numbers.
    const at = url ? (url.endsWith('.ts') ? where(url) : `${where(url)}:${lineNumber + 1}`) : '';
    const name = `${functionName || '(anonymous)'}${at ? ` ${at}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    const o = functionName.startsWith('(') ? functionName : where(url);
    org.set(o, (org.get(o) ?? 0) + us);
    const on = new Set<string>();
    for (const frame of stack) for (const [stage, test] of stageList) if (test(frame)) on.add(stage);
    for (const stage of on) stages.set(stage, (stages.get(stage) ?? 0) + us);
  });
  const share = (us: number): number => us / Math.max(1, busy);
  const rank = (m: Map<string, number>): HotSpot[] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, us]) => ({ name, ms: us / 1000, share: share(us) }));
  return {
    file,
    busyMs: busy / 1000,
    functions: rank(fn),
    origins: rank(org),
    stages: stageList.map(([name]) => {
      const us = stages.get(name) ?? 0;
      return { name, ms: us / 1000, share: share(us) };
    }),
  };
}

/** Hot spots as a Markdown table under `title`: name, ms, share of busy time. */
export function hotSpotTable(title: string, spots: readonly HotSpot[]): string {
  return markdownTable(
    [title, 'ms', 'share of busy time'],
    'lrr',
    spots.map((h) => [h.name.replaceAll('|', '\\|'), dec(0)(h.ms), `${(h.share * 100).toFixed(1)}%`]),
  );
}

/** Hot spots on the console, one a line: share, ms, name. */
export function printHotSpots(spots: readonly HotSpot[]): void {
  for (const h of spots) {
    console.log(`  ${(h.share * 100).toFixed(1).padStart(5)}%  ${dec(0)(h.ms).padStart(7)} ms  ${h.name}`);
  }
}

// ---------------------------------------------------------------------------------------------------------
// The results page

/** Writes a results page (path relative to the project), formatted with the repo's Prettier config. */
export async function writeDoc(doc: string, markdown: string): Promise<void> {
  // Imported here: the child processes load this file and have no use for Prettier.
  const { format, resolveConfig } = await import('prettier');
  const path = isAbsolute(doc) ? doc : join(projectRoot(), doc);
  // Formatted so that `npm run lint` (prettier --check .) stays green.
  const prettierOptions = (await resolveConfig(path)) ?? {};
  writeFileSync(path, await format(markdown, { ...prettierOptions, filepath: path }));
  console.log(`wrote ${path}`);
}

// ---------------------------------------------------------------------------------------------------------
// Machine-readable summaries, which `npm run bench:report` turns into docs/benchmarks.md

/** Where each bench leaves the JSON summary of its last run: .sluice/bench/<name>.json (not committed). */
export function summaryPath(name: string): string {
  return join(projectRoot(), '.sluice', 'bench', `${name}.json`);
}

/** Writes a bench's summary (the headline figures of its last run) for the report. */
export function writeSummary(name: string, summary: object): void {
  const path = summaryPath(name);
  mkdirSync(dirname(path), { recursive: true });
  // NaN and Infinity are not JSON: they become null, which the report prints as '—'.
  writeFileSync(path, `${JSON.stringify(summary, null, 2)}\n`);
  console.log(`wrote ${path}`);
}

// ---------------------------------------------------------------------------------------------------------
// order_created events, as the proxy and pipeline benches make them (each sizes them with line items its own way)

export interface OrderCreated {
  order_id: string;
  customer_id: string;
  store_id: string;
  items: { sku: string; quantity: number; unit_price_cents: number }[];
  subtotal_cents: number;
  currency: 'USD' | 'CAD' | 'EUR';
  placed_at: string;
  platform: 'ios' | 'android' | 'web';
  delivery_address: { city: string; postal_code: string; lat: number; lng: number };
}

/** City, postal code, latitude and longitude of a delivery address. */
const CITIES = [
  ['San Francisco', '94107', 37.77, -122.41],
  ['Toronto', 'M5V 2T6', 43.65, -79.38],
  ['Berlin', '10115', 52.52, 13.4],
] as const;

export const pick = <T>(xs: readonly T[]): T => xs[Math.floor(Math.random() * xs.length)]!;

/** An order without line items yet, placed within the minute before `now` (epoch ms). */
export function orderWithoutItems(customerId: string, now: number): OrderCreated {
  const [city, postal, lat, lng] = pick(CITIES);
  return {
    order_id: randomUUID(),
    customer_id: customerId,
    store_id: `store_${1000 + Math.floor(Math.random() * 9000)}`,
    items: [],
    subtotal_cents: 0,
    currency: pick(['USD', 'CAD', 'EUR'] as const),
    placed_at: new Date(now - Math.floor(Math.random() * 60_000)).toISOString(),
    platform: pick(['ios', 'android', 'web'] as const),
    delivery_address: {
      city,
      postal_code: postal,
      lat: lat + Math.random() / 10,
      lng: lng + Math.random() / 10,
    },
  };
}

export interface OpenLoopRun {
  /** performance.now() of the first scheduled send. */
  t0: number;
  /** performance.now() of the last answer. */
  lastAnswer: number;
  /** One line per request that got no 200: its status or error. */
  failures: string[];
  /** Requests that left more than 5 ms after their scheduled time. */
  lateSends: number;
  maxInFlight: number;
}

/**
 * POSTs `total` requests to the proxy's /v1/events at a fixed interval whatever the answers do: each is
 * sent at its scheduled time on a free (or new) keep-alive connection, so a stall delays nothing and
 * counts for every request it holds up (an open loop). `body(i, scheduled)` makes request i's body;
 * `answered(i, scheduled, ok)` is told when its answer ended (ok: HTTP 200).
 */
export async function openLoopPost(opts: {
  port: number;
  total: number;
  intervalMs: number;
  timeoutMs: number;
  body: (i: number, scheduled: number) => Buffer;
  answered: (i: number, scheduled: number, ok: boolean) => void;
}): Promise<OpenLoopRun> {
  const { total, intervalMs } = opts;
  const agent = new Agent({ keepAlive: true, maxSockets: Infinity });
  const failures: string[] = [];
  let inFlight = 0;
  let maxInFlight = 0;
  let lateSends = 0;
  const t0 = performance.now();
  let lastAnswer = t0;
  await new Promise<void>((done) => {
    let sent = 0;
    let finished = 0;
    const finish = (): void => {
      inFlight--;
      lastAnswer = performance.now();
      if (++finished === total) done();
    };
    const fire = (i: number): void => {
      const scheduled = t0 + i * intervalMs;
      if (performance.now() - scheduled > 5) lateSends++;
      const body = opts.body(i, scheduled);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      const req = httpRequest(
        {
          agent,
          host: '127.0.0.1',
          port: opts.port,
          method: 'POST',
          path: '/v1/events',
          headers: { 'content-type': 'application/json', 'content-length': body.length },
          timeout: opts.timeoutMs,
        },
        (res) => {
          res.resume();
          res.once('end', () => {
            const ok = res.statusCode === 200;
            if (!ok) failures.push(`HTTP ${res.statusCode}`);
            opts.answered(i, scheduled, ok);
            finish();
          });
        },
      );
      req.once('timeout', () => req.destroy(new Error(`no answer within ${opts.timeoutMs} ms`)));
      req.once('error', (err) => {
        failures.push(errorMessage(err));
        finish();
      });
      req.end(body);
    };
    const tick = (): void => {
      const now = performance.now();
      while (sent < total && t0 + sent * intervalMs <= now) fire(sent++);
      if (sent < total) setTimeout(tick, Math.max(0, t0 + sent * intervalMs - performance.now()));
    };
    tick();
  });
  agent.destroy();
  return { t0, lastAnswer, failures, lateSends, maxInFlight };
}
