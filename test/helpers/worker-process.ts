// A worker as its own process, the way production runs it, so a test can kill -9 it: its config
// is written to <dir>/config.json and its output appended to <dir>/worker.log.
import { spawn, type ChildProcess } from 'node:child_process';
import { openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConfigInput } from '../../lib/config.js';
import { projectRoot } from '../../lib/paths.js';

export function spawnWorker(script: string, config: ConfigInput, dir: string): ChildProcess {
  const file = join(dir, 'config.json');
  writeFileSync(file, JSON.stringify(config));
  const log = openSync(join(dir, 'worker.log'), 'a');
  return spawn(process.execPath, ['--import', 'tsx', script], {
    cwd: projectRoot(),
    env: { ...process.env, SLUICE_CONFIG: file },
    stdio: ['ignore', log, log],
  });
}
