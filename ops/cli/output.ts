// How the CLI talks back: tables for people, `--json` for scripts, one error line that says what
// to do next, and documented exit codes (docs/cli.md).
import { SluiceError } from '../../lib/errors.js';

export const exitCodes = {
  ok: 0,
  /** The command ran and what it did failed (a workflow failed, events were rejected, SQL error). */
  failed: 1,
  /** Bad arguments: unknown command, option, event type or version. */
  usage: 2,
  /** A service the command needs did not answer (Temporal, the proxy, the loader worker). */
  unavailable: 3,
  /** The named workflow does not exist. */
  notFound: 4,
} as const;

export class CliError extends Error {
  override readonly name = 'CliError';
  constructor(
    message: string,
    readonly exitCode: number,
    readonly code = 'CLI_ERROR',
  ) {
    super(message);
  }
}

export const usage = (message: string): CliError => new CliError(message, exitCodes.usage, 'USAGE');

export function printJson(value: unknown): void {
  process.stdout.write(
    `${JSON.stringify(value, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
  );
}

function cell(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return v;
  if (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'bigint') return String(v);
  return JSON.stringify(v);
}

/** A plain aligned table; long cells are cut so a row stays one line. */
export function printTable(headers: string[], rows: unknown[][], maxWidth = 60): void {
  const text = rows.map((r) =>
    r.map((v) => {
      const s = cell(v);
      return s.length > maxWidth ? `${s.slice(0, maxWidth - 1)}…` : s;
    }),
  );
  const widths = headers.map((h, i) => Math.max(h.length, ...text.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]): string =>
    r
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join('  ')
      .trimEnd();
  process.stdout.write(`${line(headers)}\n${line(widths.map((w) => '-'.repeat(w)))}\n`);
  for (const r of text) process.stdout.write(`${line(r)}\n`);
}

/** Turns any error into the one line and exit code the docs promise. */
export function reportError(err: unknown): number {
  if (err instanceof CliError) {
    process.stderr.write(`✖ ${err.code}: ${err.message}\n`);
    return err.exitCode;
  }
  if (err instanceof SluiceError) {
    process.stderr.write(`✖ ${err.code}: ${err.message}\n`);
    return err.code === 'WAREHOUSE_UNREACHABLE' ? exitCodes.unavailable : exitCodes.failed;
  }
  const e = err as { name?: string; message?: string; code?: string };
  if (e.name === 'WorkflowNotFoundError') {
    process.stderr.write(`✖ NOT_FOUND: ${e.message ?? 'no such workflow'}\n`);
    return exitCodes.notFound;
  }
  if (e.name === 'ConfigError') {
    process.stderr.write(`✖ CONFIG_INVALID: ${e.message ?? ''}\n`);
    return exitCodes.usage;
  }
  if (e.name === 'CommanderError') return exitCodes.usage;
  process.stderr.write(`✖ ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  return exitCodes.failed;
}
