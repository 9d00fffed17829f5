// Human progress lines for the stack commands (these are UI, not logs).
const t0 = Date.now();

function stamp(): string {
  return `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)}s`;
}

export function step(part: string, message: string): void {
  process.stdout.write(`${stamp()}  [${part}] ${message}\n`);
}

export function formatDuration(ms: number): string {
  const s = Math.round(ms / 1000);
  return s < 60 ? `${s}s` : `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
}

/** Runs a long task, printing a "still working" line every interval so a first run never looks stuck. */
export async function withProgress<T>(
  part: string,
  message: string,
  task: () => Promise<T>,
  everyMs = 20_000,
): Promise<T> {
  const started = Date.now();
  step(part, `${message} …`);
  const timer = setInterval(
    () => step(part, `… still ${message} (${formatDuration(Date.now() - started)})`),
    everyMs,
  );
  try {
    const result = await task();
    step(part, `${message}: done in ${formatDuration(Date.now() - started)}`);
    return result;
  } finally {
    clearInterval(timer);
  }
}
