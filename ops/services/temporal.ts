// Temporal CLI dev server with its Web UI, built from Go modules, persisted in a SQLite file so
// workflows survive a restart of the server.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { Config } from '../../lib/config.js';
import { ensureTool } from '../tool-cache.js';
import { goInstall } from './go-tool.js';
import { httpOk, type LaunchSpec, type StackPaths, type StackService } from './service.js';

// v1.5.1 is the newest tag whose go.mod has no replace directive; later tags cannot be go-installed.
export const TEMPORAL_CLI_VERSION = 'v1.5.1';

export function temporalBinary(config: Config): string {
  return join(config.cacheDir, 'tools', `temporal-cli-${TEMPORAL_CLI_VERSION}`, 'bin', 'temporal');
}

/** The dev server's HTTP API (used for health checks) sits 10 above the gRPC port, as Temporal's default. */
function httpPort(config: Config): number {
  return config.stack.temporalPort + 10;
}

export const temporalService: StackService = {
  name: 'temporal',
  title: `Temporal dev server + Web UI (CLI ${TEMPORAL_CLI_VERSION})`,
  startTimeoutMs: 60_000,
  ports: (c) => [
    { label: 'frontend', port: c.stack.temporalPort, key: 'stack.temporalPort' },
    { label: 'ui', port: c.stack.temporalUiPort, key: 'stack.temporalUiPort' },
    { label: 'http', port: httpPort(c), key: 'stack.temporalPort (HTTP API = temporalPort + 10)' },
  ],
  address: (c) => `${c.temporal.address} (UI ${c.temporal.uiUrl})`,

  async install(config) {
    await ensureTool(config.cacheDir, {
      part: 'temporal',
      name: 'temporal-cli',
      version: TEMPORAL_CLI_VERSION,
      message: `building Temporal CLI ${TEMPORAL_CLI_VERSION} with go install (first run only, a few minutes)`,
      build: (dir) =>
        goInstall(
          'temporal',
          'github.com/temporalio/cli/cmd/temporal',
          TEMPORAL_CLI_VERSION,
          join(dir, 'bin'),
        ),
    });
  },

  async prepare(config, paths: StackPaths): Promise<LaunchSpec> {
    await mkdir(paths.data, { recursive: true });
    const bin = temporalBinary(config);
    const { host, temporalPort, temporalUiPort } = config.stack;
    return {
      command: bin,
      args: [
        'server',
        'start-dev',
        '--ip',
        host,
        '--port',
        String(temporalPort),
        '--ui-port',
        String(temporalUiPort),
        '--http-port',
        String(httpPort(config)),
        '--db-filename',
        join(paths.data, 'temporal.db'),
        '--namespace',
        config.temporal.namespace,
        '--log-level',
        'warn',
      ],
      marker: bin,
    };
  },

  async healthy(config) {
    const { host } = config.stack;
    const ns = encodeURIComponent(config.temporal.namespace);
    const [api, ui] = await Promise.all([
      httpOk(`http://${host}:${httpPort(config)}/api/v1/namespaces/${ns}`),
      httpOk(`http://${host}:${config.stack.temporalUiPort}/`),
    ]);
    return api && ui;
  },
};
