// Brings the local stack up and down, and reports its state. Used by `npm start`,
// `npm run stack:*` and the test runner.
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Config } from '../lib/config.js';
import { SluiceError } from '../lib/errors.js';
import { formatDuration, step } from './progress.js';
import { kafkaService } from './services/kafka.js';
import { s3Service } from './services/s3.js';
import { stackPaths, type StackPaths, type StackService } from './services/service.js';
import { sqsService } from './services/sqs.js';
import { temporalService } from './services/temporal.js';
import { lastLines } from './run-command.js';
import { portOpen, runningPid, startDetached, stopProcess, readPid } from './supervisor.js';

export const services: readonly StackService[] = [kafkaService, temporalService, s3Service, sqsService];
export type ServiceName = StackService['name'];

export function selectServices(names: readonly string[] = []): StackService[] {
  if (names.length === 0) return [...services];
  return names.map((n) => {
    const s = services.find((x) => x.name === n);
    if (!s) throw new Error(`unknown service "${n}": choose from ${services.map((x) => x.name).join(', ')}`);
    return s;
  });
}

const pidFile = (paths: StackPaths, s: StackService): string => join(paths.run, `${s.name}.pid`);
export const logFile = (paths: StackPaths, s: StackService): string => join(paths.logs, `${s.name}.log`);

export type ServiceState = 'up' | 'starting-or-unhealthy' | 'crashed' | 'down' | 'external';

export interface ServiceStatus {
  name: ServiceName;
  title: string;
  state: ServiceState;
  pid?: number;
  address: string;
  ports: { label: string; port: number; key: string }[];
  log: string;
}

export async function statusOf(config: Config, s: StackService): Promise<ServiceStatus> {
  const paths = stackPaths(config);
  const pid = runningPid(pidFile(paths, s));
  const healthy = await s.healthy(config);
  let state: ServiceState;
  if (pid !== undefined) state = healthy ? 'up' : 'starting-or-unhealthy';
  else if (healthy) state = 'external';
  else state = readPid(pidFile(paths, s)) ? 'crashed' : 'down';
  return {
    name: s.name,
    title: s.title,
    state,
    ...(pid !== undefined ? { pid } : {}),
    address: s.address(config),
    ports: s.ports(config),
    log: logFile(paths, s),
  };
}

export async function stackStatus(config: Config, names: readonly string[] = []): Promise<ServiceStatus[]> {
  return Promise.all(selectServices(names).map((s) => statusOf(config, s)));
}

async function logTail(file: string): Promise<string> {
  return existsSync(file) ? lastLines(await readFile(file, 'utf8'), 20) : '(no log)';
}

async function waitHealthy(config: Config, s: StackService, pid: number, paths: StackPaths): Promise<void> {
  const deadline = Date.now() + s.startTimeoutMs;
  while (Date.now() < deadline) {
    if (await s.healthy(config)) return;
    if (runningPid(pidFile(paths, s)) === undefined) {
      throw new SluiceError(
        'SERVICE_START_FAILED',
        `[${s.name}] exited while starting (pid ${pid}); see ${logFile(paths, s)}:\n${await logTail(logFile(paths, s))}`,
      );
    }
    await sleep(500);
  }
  throw new SluiceError(
    'SERVICE_START_FAILED',
    `[${s.name}] not healthy after ${formatDuration(s.startTimeoutMs)}; see ${logFile(paths, s)}:\n${await logTail(logFile(paths, s))}`,
  );
}

/** A killed server's threads can hold its sockets for a moment after the process is gone. */
async function portStillHeld(host: string, port: number, graceMs = 5000): Promise<boolean> {
  const deadline = Date.now() + graceMs;
  while (await portOpen(host, port)) {
    if (Date.now() > deadline) return true;
    await sleep(250);
  }
  return false;
}

/** Starts one service unless it already runs; returns true when this call started it. */
export async function startService(config: Config, s: StackService): Promise<boolean> {
  const paths = stackPaths(config);
  const pf = pidFile(paths, s);
  const pid = runningPid(pf);
  if (pid !== undefined) {
    if (await s.healthy(config)) {
      step(s.name, `already running (pid ${pid})`);
      return false;
    }
    step(s.name, `running (pid ${pid}) but not healthy yet: waiting`);
    await waitHealthy(config, s, pid, paths);
    return false;
  }
  if (readPid(pf)) step(s.name, `was stopped or crashed: restarting (previous log in ${logFile(paths, s)})`);
  for (const { label, port, key } of s.ports(config)) {
    if (await portOpen(config.stack.host, port)) {
      if (await s.healthy(config)) {
        step(
          s.name,
          `a server not started by Sluice already answers on ${config.stack.host}:${port}: using it`,
        );
        return false;
      }
      if (!(await portStillHeld(config.stack.host, port))) continue;
      throw new SluiceError(
        'PORT_IN_USE',
        `[${s.name}] port ${port} (${label}) on ${config.stack.host} is used by another program: stop that program, or choose another port with ${key} in sluice.config.json`,
        { port },
      );
    }
  }
  const launch = await s.prepare(config, paths);
  const started = Date.now();
  const newPid = startDetached({ ...launch, logFile: logFile(paths, s), pidFile: pf });
  step(s.name, `starting (pid ${newPid}, log ${logFile(paths, s)})`);
  await waitHealthy(config, s, newPid, paths);
  step(s.name, `up in ${formatDuration(Date.now() - started)} at ${s.address(config)}`);
  return true;
}

/** Installs what is missing, then starts the services; returns the names this call started. */
export async function stackUp(config: Config, names: readonly string[] = []): Promise<ServiceName[]> {
  const chosen = selectServices(names);
  await Promise.all(chosen.map((s) => s.install(config)));
  const started = await Promise.all(
    chosen.map(async (s) => {
      const didStart = await startService(config, s);
      await s.afterStart?.(config);
      return didStart ? s.name : undefined;
    }),
  );
  return started.filter((n): n is ServiceName => n !== undefined);
}

/** Stops a service this stack started; returns false when it was not running. */
export function stopService(config: Config, s: StackService): Promise<boolean> {
  return stopProcess(pidFile(stackPaths(config), s));
}

export async function stackDown(config: Config, names: readonly string[] = []): Promise<ServiceName[]> {
  const stopped = await Promise.all(
    selectServices(names)
      .reverse()
      .map(async (s) => ((await stopService(config, s)) ? s.name : undefined)),
  );
  for (const n of stopped) if (n) step(n, 'stopped');
  return stopped.filter((n): n is ServiceName => n !== undefined);
}

/** Starts again every service whose process died; returns the names it restarted. */
export async function restartCrashed(config: Config): Promise<ServiceName[]> {
  const restarted: ServiceName[] = [];
  for (const s of services) {
    const status = await statusOf(config, s);
    if (status.state !== 'crashed') continue;
    step(s.name, `crashed (see ${status.log}): restarting`);
    if (await startService(config, s)) restarted.push(s.name);
  }
  return restarted;
}
