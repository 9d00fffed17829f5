// The loader worker's small HTTP face: DuckDB allows one read-write process per file, so reads
// from the CLI and tests come here instead of opening the file. Bound to localhost by default.
import type { Server } from 'node:http';
import express from 'express';
import type { Registry } from 'prom-client';
import type { Logger } from '../lib/logger.js';
import { HttpError } from '../proxy/http-error.js';
import { ReadOnlyViolation } from '../activities/warehouse/duckdb.js';
import type { Warehouse } from '../activities/warehouse/types.js';

export const defaultMaxRows = 10_000;

export function createQueryApp(warehouse: Warehouse, registry: Registry, logger: Logger): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.use(express.json({ limit: '1mb' }));
  app.get('/healthz', (_req, res) => void res.json({ status: 'ok', warehouse: warehouse.kind }));
  app.get('/metrics', async (_req, res) => {
    res.type(registry.contentType).send(await registry.metrics());
  });
  app.post('/v1/query', async (req, res) => {
    const body = req.body as { sql?: unknown; maxRows?: unknown } | undefined;
    if (typeof body?.sql !== 'string' || body.sql.trim() === '') {
      throw new HttpError('MALFORMED_BODY', 'send {"sql": "<one SELECT statement>", "maxRows"?: number}');
    }
    const maxRows =
      typeof body.maxRows === 'number' && Number.isInteger(body.maxRows) && body.maxRows > 0
        ? Math.min(body.maxRows, 1_000_000)
        : defaultMaxRows;
    try {
      res.json(await warehouse.query(body.sql, maxRows));
    } catch (err) {
      if (err instanceof ReadOnlyViolation) throw new HttpError('QUERY_NOT_READ_ONLY', err.message);
      throw new HttpError('QUERY_FAILED', err instanceof Error ? err.message : String(err));
    }
  });
  app.use((_req, _res, next) => next(new HttpError('NOT_FOUND', 'no such endpoint: try POST /v1/query')));
  app.use((err: unknown, _req: express.Request, res: express.Response, _next: express.NextFunction) => {
    const e =
      err instanceof HttpError
        ? err
        : (err as { type?: string }).type === 'entity.parse.failed'
          ? new HttpError('MALFORMED_BODY', `the body is not JSON: ${(err as Error).message}`)
          : new HttpError('INTERNAL_ERROR', err instanceof Error ? err.message : String(err));
    if (e.code === 'INTERNAL_ERROR') logger.error({ err }, 'query endpoint failed');
    res.status(e.status).json(e.body());
  });
  return app;
}

export async function startQueryServer(app: express.Express, host: string, port: number): Promise<Server> {
  return new Promise((resolvePromise, reject) => {
    const server = app.listen(port, host, () => resolvePromise(server));
    server.once('error', reject);
  });
}
