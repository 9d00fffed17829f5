// What every command needs: the config, the catalog, and a Temporal client opened on demand with
// an error that says how to start Temporal when it is not there.
import { Client, Connection } from '@temporalio/client';
import { loadConfig, type Config } from '../../lib/config.js';
import { loadCatalog, type Catalog, type EventType } from '../../schemas/catalog.js';
import { CliError, exitCodes, usage } from './output.js';

export interface CliContext {
  config: Config;
  catalog: Catalog;
  type(name: string): EventType;
  temporal(): Promise<Client>;
  close(): Promise<void>;
}

export function createContext(): CliContext {
  const config = loadConfig();
  let catalog: Catalog | undefined;
  let connection: Connection | undefined;
  const ctx: CliContext = {
    config,
    get catalog() {
      catalog ??= loadCatalog(config.catalogDir);
      return catalog;
    },
    type(name) {
      const t = ctx.catalog.types.get(name);
      if (!t) {
        throw usage(
          `unknown event type "${name}"; the catalog has: ${[...ctx.catalog.types.keys()].join(', ')}`,
        );
      }
      return t;
    },
    async temporal() {
      if (!connection) {
        try {
          connection = await Connection.connect({
            address: config.temporal.address,
            connectTimeout: '3 seconds',
          });
        } catch (err) {
          throw new CliError(
            `Temporal at ${config.temporal.address} did not answer (${(err as Error).message}): start the platform with \`npm start\``,
            exitCodes.unavailable,
            'TEMPORAL_UNAVAILABLE',
          );
        }
      }
      return new Client({ connection, namespace: config.temporal.namespace });
    },
    async close() {
      await connection?.close();
    },
  };
  return ctx;
}
