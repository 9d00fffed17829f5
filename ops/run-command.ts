import { spawn } from 'node:child_process';

export interface CommandResult {
  code: number | null;
  output: string;
}

/** Runs a command to completion, keeping the tail of its output for error messages. */
export function runCommand(
  cmd: string,
  args: string[],
  opts: { cwd?: string; env?: NodeJS.ProcessEnv; tailBytes?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolvePromise) => {
    const child = spawn(cmd, args, {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const limit = opts.tailBytes ?? 64 * 1024;
    let output = '';
    const keep = (chunk: Buffer): void => {
      output += chunk.toString('utf8');
      if (output.length > limit) output = output.slice(-limit);
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.on('error', (err) => resolvePromise({ code: -1, output: `${output}\n${err.message}` }));
    child.on('close', (code) => resolvePromise({ code, output }));
  });
}

export function lastLines(text: string, n = 15): string {
  return text.trimEnd().split('\n').slice(-n).join('\n');
}
