// Reads from the warehouse through the loader worker's query endpoint (the DuckDB file has one
// owner). Used by the CLI, tests and benchmarks.
import type { Config } from './config.js';
import { SluiceError, type ErrorCode } from './errors.js';

export interface WarehouseRows {
  columns: { name: string; type: string }[];
  rows: unknown[][];
  truncated: boolean;
}

export function queryEndpoint(config: Config): string {
  return `http://${config.warehouse.queryHost}:${config.warehouse.queryPort}/v1/query`;
}

export async function queryWarehouse(config: Config, sql: string, maxRows?: number): Promise<WarehouseRows> {
  const url = queryEndpoint(config);
  let res: Response;
  try {
    res = await fetch(url, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ sql, ...(maxRows ? { maxRows } : {}) }),
    });
  } catch (err) {
    throw new SluiceError(
      'WAREHOUSE_UNREACHABLE',
      `the loader worker's query endpoint ${url} did not answer (${(err as Error).message}): start it with \`npm start\` or \`npm run worker:loader\``,
    );
  }
  const body = (await res.json()) as WarehouseRows | { error_code: ErrorCode; message: string };
  if ('error_code' in body) throw new SluiceError(body.error_code, body.message);
  return body;
}

/** Rows as objects keyed by column name. */
export function rowObjects(result: WarehouseRows): Record<string, unknown>[] {
  return result.rows.map((r) => Object.fromEntries(result.columns.map((c, i) => [c.name, r[i]])));
}
