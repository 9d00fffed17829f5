// `sluice status`: per event type, the pipeline's lag and last files and the loader's freshness,
// read from the workflows' queries.
import type { Client } from '@temporalio/client';
import type { LoaderStatus } from '../../workflows/loader-signals.js';
import type { PipelineStatus } from '../../workflows/signals.js';
import type { CliContext } from './context.js';
import { printJson, printTable } from './output.js';

export interface TypeStatus {
  type: string;
  pipeline?: {
    state: string;
    lag: string;
    rowsPerSecond: number;
    rows: number;
    lastFiles: string[];
  };
  loader?: {
    state: string;
    freshnessSeconds?: number;
    filesLoaded: number;
    filesFailed: number;
    rows: number;
    lastFile?: string;
    lastLoadAt?: string;
  };
  problems: string[];
}

async function queryOrProblem<T>(
  client: Client,
  id: string,
  name: string,
  problems: string[],
): Promise<T | undefined> {
  try {
    return await client.workflow.getHandle(id).query<T>(name);
  } catch (err) {
    const e = err as { name?: string; message?: string };
    problems.push(
      e.name === 'WorkflowNotFoundError' ? `${id} is not running` : `${id}: ${e.message ?? String(err)}`,
    );
    return undefined;
  }
}

export async function collectStatus(ctx: CliContext, now = Date.now()): Promise<TypeStatus[]> {
  const client = await ctx.temporal();
  const out: TypeStatus[] = [];
  for (const t of ctx.catalog.types.values()) {
    const problems: string[] = [];
    const [p, l] = await Promise.all([
      queryOrProblem<PipelineStatus>(client, `pipeline/${t.name}`, 'status', problems),
      queryOrProblem<LoaderStatus>(client, `loader/${t.name}`, 'status', problems),
    ]);
    const s: TypeStatus = { type: t.name, problems };
    if (p) {
      s.pipeline = {
        state: p.paused ? 'paused' : p.draining ? 'draining' : 'running',
        lag: p.partitions.reduce((sum, x) => sum + BigInt(x.lag), 0n).toString(),
        rowsPerSecond: p.partitions.reduce((sum, x) => sum + x.rate, 0),
        rows: p.partitions.reduce((sum, x) => sum + x.rows, 0),
        lastFiles: p.partitions.flatMap((x) => x.lastSegment?.objects ?? []).slice(-3),
      };
    }
    if (l) {
      s.loader = {
        state: l.state,
        ...(l.newestIngestTime
          ? { freshnessSeconds: Math.max(0, Math.round((now - Date.parse(l.newestIngestTime)) / 1000)) }
          : {}),
        filesLoaded: l.loaded,
        filesFailed: l.failed,
        rows: l.rows,
        ...(l.lastKey ? { lastFile: l.lastKey } : {}),
        ...(l.lastLoadAt ? { lastLoadAt: l.lastLoadAt } : {}),
      };
    }
    out.push(s);
  }
  return out;
}

export async function statusCommand(ctx: CliContext, opts: { json?: boolean }): Promise<number> {
  const rows = await collectStatus(ctx);
  if (opts.json) {
    printJson({ types: rows });
    return 0;
  }
  printTable(
    ['type', 'pipeline', 'lag', 'rows/s', 'loader', 'freshness', 'files', 'failed', 'last file'],
    rows.map((r) => [
      r.type,
      r.pipeline?.state ?? '—',
      r.pipeline?.lag ?? '',
      r.pipeline?.rowsPerSecond ?? '',
      r.loader?.state ?? '—',
      r.loader?.freshnessSeconds !== undefined ? `${r.loader.freshnessSeconds}s` : '',
      r.loader?.filesLoaded ?? '',
      r.loader?.filesFailed ?? '',
      r.loader?.lastFile?.split('/').pop() ?? r.pipeline?.lastFiles.at(-1)?.split('/').pop() ?? '',
    ]),
  );
  for (const r of rows) for (const p of r.problems) process.stdout.write(`! ${r.type}: ${p}\n`);
  return 0;
}
