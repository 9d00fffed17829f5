import { join } from 'node:path';
import type { Config } from '../../lib/config.js';

export interface StackPaths {
  state: string;
  logs: string;
  run: string;
  data: string;
}

export function stackPaths(config: Config): StackPaths {
  return {
    state: config.stateDir,
    logs: join(config.stateDir, 'logs'),
    run: join(config.stateDir, 'run'),
    data: join(config.stateDir, 'data'),
  };
}

export interface LaunchSpec {
  command: string;
  args: string[];
  env?: NodeJS.ProcessEnv;
  /** Appears in the process's command line; tells our server from a reused pid. */
  marker: string;
}

/** One real server of the local stack. */
export interface StackService {
  name: string;
  title: string;
  /** Each port with the config key that sets it, for the message when one is taken. */
  ports(config: Config): { label: string; port: number; key: string }[];
  /** Where users reach it, for the banner and `stack:status`. */
  address(config: Config): string;
  /** Builds or fetches the server into the tool cache if needed. */
  install(config: Config): Promise<void>;
  /** Prepares config and data folders, and returns how to run the server. */
  prepare(config: Config, paths: StackPaths): Promise<LaunchSpec>;
  healthy(config: Config): Promise<boolean>;
  /** Runs once the server is healthy (e.g. create the default bucket). */
  afterStart?(config: Config): Promise<void>;
  startTimeoutMs: number;
}

export async function httpOk(url: string, init?: RequestInit, timeoutMs = 2000): Promise<boolean> {
  try {
    const res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
    await res.arrayBuffer();
    return res.ok;
  } catch {
    return false;
  }
}
