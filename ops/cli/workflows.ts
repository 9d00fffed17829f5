// CLI commands that start or signal workflows: backfill, schema diff/migrate, pipelines
// pause/resume/flush. Long ones can wait with a progress bar (`--wait`).
import { randomUUID } from 'node:crypto';
import type { Client, WorkflowHandle } from '@temporalio/client';
import { WorkflowFailedError } from '@temporalio/client';
import { SingleBar, Presets } from 'cli-progress';
import {
  backfill,
  backfillProgressQuery,
  type BackfillInput,
  type BackfillProgress,
} from '../../workflows/backfill.js';
import { schemaMigration, type SchemaMigrationResult } from '../../workflows/schema-migration.js';
import { flushNowSignal, pauseSignal, resumeSignal } from '../../workflows/signals.js';
import { replay, type ReplayInput } from '../../workflows/replay.js';
import { replayStatusQuery, type ReplayStatus } from '../../workflows/replay-signals.js';
import { pipelineTaskQueue } from '../pipelines.js';
import type { CliContext } from './context.js';
import { CliError, exitCodes, printJson, usage } from './output.js';

const isoOrUndefined = (label: string, v: string | undefined): string | undefined => {
  if (v === undefined) return undefined;
  const t = new Date(v);
  if (Number.isNaN(t.getTime()))
    throw usage(`--${label} must be an ISO 8601 time such as 2026-11-25T00:00:00Z (got ${v})`);
  return t.toISOString();
};

/** Polls a progress query on a bar until the workflow ends; returns its result. */
async function waitWithBar<R>(
  handle: WorkflowHandle,
  progress: () => Promise<{ done: number; total: number }>,
  quiet: boolean,
): Promise<R> {
  const bar = !quiet && process.stderr.isTTY ? new SingleBar({}, Presets.shades_classic) : undefined;
  const result = handle.result() as Promise<R>;
  if (bar) {
    bar.start(1, 0);
    let finished = false;
    void result.finally(() => (finished = true)).catch(() => undefined);
    while (!finished) {
      const p = await progress().catch(() => undefined);
      if (p) {
        bar.setTotal(Math.max(1, p.total));
        bar.update(p.done);
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    bar.stop();
  }
  try {
    return await result;
  } catch (err) {
    if (err instanceof WorkflowFailedError) {
      throw new CliError(
        `${handle.workflowId} failed: ${err.cause?.message ?? err.message}`,
        exitCodes.failed,
        'WORKFLOW_FAILED',
      );
    }
    throw err;
  }
}

export interface BackfillOptions {
  from?: string;
  to?: string;
  version?: string;
  table?: string;
  force?: boolean;
  parallelism?: string;
  wait?: boolean;
  json?: boolean;
}

function printBackfill(id: string, p: BackfillProgress, json: boolean | undefined): void {
  if (json) printJson({ workflowId: id, ...p });
  else
    process.stdout.write(
      `${id}: ${p.state}; ${p.chunksDone}/${p.chunks} chunks, files ${p.loaded} loaded, ${p.skipped} skipped (already loaded), ${p.failed} failed; ${p.rows} rows\n` +
        p.failures.map((f) => `  ✖ ${f.key}: ${f.error}\n`).join(''),
    );
}

async function runBackfill(
  client: Client,
  ctx: CliContext,
  id: string,
  input: BackfillInput,
  opts: BackfillOptions,
): Promise<number> {
  const handle = await client.workflow.start(backfill, {
    workflowId: id,
    taskQueue: ctx.config.warehouse.taskQueue,
    args: [input],
  });
  if (!opts.wait) {
    if (opts.json) printJson({ workflowId: id, runId: handle.firstExecutionRunId });
    else
      process.stdout.write(
        `started ${id}; follow it in the Temporal UI (${ctx.config.temporal.uiUrl}) or with --wait\n`,
      );
    return 0;
  }
  const p = await waitWithBar<BackfillProgress>(
    handle,
    async () => {
      const q = await handle.query(backfillProgressQuery);
      return { done: q.chunksDone, total: q.chunks };
    },
    Boolean(opts.json),
  );
  printBackfill(id, p, opts.json);
  return p.failed > 0 ? exitCodes.failed : exitCodes.ok;
}

export async function backfillCommand(
  ctx: CliContext,
  typeName: string,
  opts: BackfillOptions,
): Promise<number> {
  const type = ctx.type(typeName);
  const version = opts.version === undefined ? undefined : Number(opts.version);
  if (version !== undefined && !type.versions[version - 1])
    throw usage(`${type.name} has no schema version ${opts.version}`);
  const from = isoOrUndefined('from', opts.from);
  const to = isoOrUndefined('to', opts.to);
  const input: BackfillInput = {
    eventType: type.name,
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    ...(version !== undefined ? { version } : {}),
    ...(opts.table ? { table: opts.table } : {}),
    mode: opts.force ? 'force' : 'skip-loaded',
    ...(opts.parallelism ? { parallelism: Number(opts.parallelism) } : {}),
  };
  const client = await ctx.temporal();
  return runBackfill(client, ctx, `backfill/${type.name}/${randomUUID()}`, input, opts);
}

/** Starts a new backfill with a cancelled (or failed) one's input; a forced one skips what it reloaded. */
export async function backfillResumeCommand(
  ctx: CliContext,
  workflowId: string,
  opts: BackfillOptions,
): Promise<number> {
  const client = await ctx.temporal();
  const old = client.workflow.getHandle(workflowId);
  const description = await old.describe();
  if (description.status.name === 'RUNNING') throw usage(`${workflowId} is still running: nothing to resume`);
  const history = await old.fetchHistory();
  const attrs = history.events?.[0]?.workflowExecutionStartedEventAttributes;
  const payload = attrs?.input?.payloads?.[0]?.data;
  if (!payload) throw new CliError(`${workflowId} has no input to resume from`, exitCodes.failed);
  const input = JSON.parse(Buffer.from(payload).toString('utf8')) as BackfillInput;
  const progress = await old.query(backfillProgressQuery).catch(() => undefined);
  const resumed: BackfillInput = {
    ...input,
    ...(input.mode === 'force'
      ? { reloadBefore: progress?.reloadBefore ?? description.startTime.toISOString() }
      : {}),
  };
  const base = workflowId.replace(/\/resumed-\d+$/, '');
  return runBackfill(client, ctx, `${base}/resumed-${Date.now()}`, resumed, opts);
}

export async function backfillCancelCommand(ctx: CliContext, workflowId: string): Promise<number> {
  const client = await ctx.temporal();
  await client.workflow.getHandle(workflowId).cancel();
  process.stdout.write(
    `cancel requested for ${workflowId}; resume it with \`sluice backfill resume ${workflowId}\`\n`,
  );
  return 0;
}

export async function migrateCommand(
  ctx: CliContext,
  typeName: string,
  opts: { to?: string; dryRun: boolean; json?: boolean },
): Promise<number> {
  const type = ctx.type(typeName);
  const toVersion = opts.to === undefined ? type.latest.version : Number(opts.to);
  if (!type.versions[toVersion - 1]) throw usage(`${type.name} has no schema version ${opts.to}`);
  const client = await ctx.temporal();
  const id = opts.dryRun
    ? `migration/${type.name}/plan-${randomUUID()}`
    : `migration/${type.name}/v${toVersion}`;
  const handle = await client.workflow.start(schemaMigration, {
    workflowId: id,
    taskQueue: ctx.config.warehouse.taskQueue,
    args: [{ eventType: type.name, toVersion, dryRun: opts.dryRun }],
  });
  const r = await waitWithBar<SchemaMigrationResult>(
    handle,
    () => Promise.resolve({ done: 0, total: 1 }),
    true,
  );
  if (opts.json) {
    printJson(r);
    return 0;
  }
  const what = {
    'no-table': 'no table yet: the first load creates it',
    current: 'the warehouse is at this version already',
    planned: 'would run',
    applied: 'applied',
  }[r.state];
  process.stdout.write(`${type.name}: v${r.fromVersion} → v${r.toVersion}: ${what}\n`);
  for (const s of r.steps) {
    process.stdout.write(`  v${s.version} ${s.kind} ${s.table}\n`);
    for (const reason of s.reasons)
      process.stdout.write(`    incompatible: ${reason.column}: ${reason.message}\n`);
    for (const sql of s.ddl) process.stdout.write(`    ${sql.replaceAll('\n', '\n    ')};\n`);
  }
  for (const b of r.backfills) {
    process.stdout.write(
      `  fill ${String(b.input.table)} from S3: sluice backfill ${type.name} --version ${String(b.input.version)} --table ${String(b.input.table)}\n`,
    );
  }
  return 0;
}

export async function pipelineSignalCommand(
  ctx: CliContext,
  action: 'pause' | 'resume' | 'flush',
  typeName: string,
): Promise<number> {
  const type = ctx.type(typeName);
  const client = await ctx.temporal();
  const handle = client.workflow.getHandle(`pipeline/${type.name}`);
  const signal = { pause: pauseSignal, resume: resumeSignal, flush: flushNowSignal }[action];
  await handle.signal(signal);
  process.stdout.write(`${action} sent to pipeline/${type.name}\n`);
  return 0;
}

export interface ReplayOptions {
  source: string;
  from?: string;
  to?: string;
  topic?: string;
  table?: string;
  noForce?: boolean;
  parallelism?: string;
  wait?: boolean;
  json?: boolean;
}

/** `--from`: an RFC 3339 time, or partition offsets as `0:120,2:0` (Kafka only). */
function replayBound(
  label: string,
  v: string | undefined,
  source: string,
): string | Record<string, string> | undefined {
  if (v === undefined) return undefined;
  if (/^\d+:\d+(,\d+:\d+)*$/.test(v)) {
    if (source !== 'kafka')
      throw usage(`--${label} as partition:offset pairs works with --source kafka only`);
    return Object.fromEntries(v.split(',').map((pair) => pair.split(':') as [string, string]));
  }
  return isoOrUndefined(label, v);
}

export async function replayCommand(ctx: CliContext, typeName: string, opts: ReplayOptions): Promise<number> {
  const type = ctx.type(typeName);
  if (opts.source !== 'kafka' && opts.source !== 's3')
    throw usage(`--source is kafka or s3 (got ${opts.source})`);
  if (opts.topic && opts.table) throw usage('give at most one of --topic and --table');
  if (opts.source === 's3' && (!opts.from || !opts.to))
    throw usage('--source s3 needs --from and --to (event times)');
  const from = replayBound('from', opts.from, opts.source);
  const to = replayBound('to', opts.to, opts.source);
  const target: ReplayInput['target'] = opts.table
    ? { table: opts.table, force: !opts.noForce }
    : opts.topic
      ? { topic: opts.topic }
      : 'pipeline';
  const input: ReplayInput = {
    eventType: type.name,
    source: opts.source,
    ...(from ? { from } : {}),
    ...(to ? { to } : {}),
    target,
    ...(opts.parallelism ? { parallelism: Number(opts.parallelism) } : {}),
    loaderTaskQueue: ctx.config.warehouse.taskQueue,
  };
  const client = await ctx.temporal();
  const id = `replay/${type.name}/${randomUUID()}`;
  const handle = await client.workflow.start(replay, {
    workflowId: id,
    taskQueue: pipelineTaskQueue(ctx.config, type.name),
    args: [input],
  });
  if (!opts.wait) {
    if (opts.json) printJson({ workflowId: id, replayId: id.split('/').pop() });
    else
      process.stdout.write(
        `started ${id} (events carry ce_replay=${id.split('/').pop()}); follow it with --wait or in the Temporal UI\n`,
      );
    return 0;
  }
  const status = await waitWithBar<ReplayStatus>(
    handle,
    async () => {
      const s = await handle.query(replayStatusQuery);
      return s.source === 's3' ? { done: s.filesDone, total: s.files } : partitionsProgress(s);
    },
    Boolean(opts.json),
  );
  if (opts.json) printJson({ workflowId: id, ...status });
  else
    process.stdout.write(
      `${id}: ${status.state}; ${status.filesDone}/${status.files} files, ${status.records} events/rows\n`,
    );
  return 0;
}

function partitionsProgress(s: ReplayStatus): { done: number; total: number } {
  let done = 0n;
  let total = 0n;
  for (const p of s.partitions ?? []) {
    done += BigInt(p.position) - BigInt(p.from);
    total += BigInt(p.to) - BigInt(p.from);
  }
  return { done: Number(done), total: Number(total) };
}
