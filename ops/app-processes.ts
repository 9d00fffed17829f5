// Sluice's own processes under `npm start` (the proxy now, the workers as they come): children of
// the start command, logging to .sluice/logs/<name>.log, restarted if they die, stopped on Ctrl-C.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, openSync, closeSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../lib/config.js';
import { SluiceError } from '../lib/errors.js';
import { projectRoot } from '../lib/paths.js';
import { step } from './progress.js';
import { portOpen } from './supervisor.js';

export interface AppProcessSpec {
  name: string;
  /** TypeScript entry point, relative to the project root. */
  script: string;
  /** Answers 200 once the process is ready. */
  readyUrl?: string;
  port?: { host: string; port: number; key: string };
}

export class AppProcess {
  private child: ChildProcess | undefined;
  private stopping = false;
  readonly log: string;

  constructor(
    private readonly config: Config,
    private readonly spec: AppProcessSpec,
  ) {
    this.log = join(config.stateDir, 'logs', `${spec.name}.log`);
  }

  /** The running child's pid (fault injection kills it; the process is started again in 2 s). */
  get pid(): number | undefined {
    return this.child?.exitCode === null ? this.child.pid : undefined;
  }

  async start(): Promise<void> {
    const { port } = this.spec;
    if (port && (await portOpen(port.host, port.port))) {
      throw new SluiceError(
        'PORT_IN_USE',
        `[${this.spec.name}] port ${port.port} on ${port.host} is used by another program: stop it, or set ${port.key} in sluice.config.json`,
        { port: port.port },
      );
    }
    this.launch();
    if (this.spec.readyUrl) await this.waitReady(this.spec.readyUrl);
  }

  private launch(): void {
    mkdirSync(join(this.config.stateDir, 'logs'), { recursive: true });
    const fd = openSync(this.log, 'a');
    const child = spawn(process.execPath, ['--import', 'tsx', this.spec.script], {
      cwd: projectRoot(),
      env: process.env,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    this.child = child;
    step(this.spec.name, `started (pid ${child.pid}, log ${this.log})`);
    child.once('exit', (code, signal) => {
      if (this.stopping) return;
      step(this.spec.name, `exited (${signal ?? `code ${code}`}); restarting in 2 s — see ${this.log}`);
      setTimeout(() => {
        if (!this.stopping) this.launch();
      }, 2000);
    });
  }

  private async waitReady(url: string, timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const ok = await fetch(url)
        .then((r) => r.ok)
        .catch(() => false);
      if (ok) return;
      await sleep(250);
    }
    throw new SluiceError(
      'SERVICE_START_FAILED',
      `[${this.spec.name}] not ready at ${url} after ${timeoutMs / 1000} s; see ${this.log}`,
    );
  }

  /** SIGTERM (the process drains), SIGKILL after the grace period. */
  async stop(graceMs = 20_000): Promise<void> {
    this.stopping = true;
    const child = this.child;
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    await exited;
    clearTimeout(timer);
    step(this.spec.name, 'stopped');
  }
}
