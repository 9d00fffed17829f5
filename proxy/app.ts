// The HTTP API of the proxy: routes, the one error body, limits and metrics.
import { readFileSync } from 'node:fs';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { ProxyContext } from './context.js';
import { HttpError, inflateError } from './http-error.js';
import { collectHandler, corsFor } from './routes-collect.js';
import { eventsHandler, wantsAsync } from './routes-events.js';
import { confluentRoutes } from './routes-confluent.js';

const openapi = JSON.parse(readFileSync(new URL('./openapi.json', import.meta.url), 'utf8')) as {
  paths: Record<string, Record<string, unknown>>;
};
const HTTP_METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'];

/**
 * Every documented path answers the methods it does not take with 405 and Allow (RFC 9110), not
 * 404: the path exists, the method is what is wrong.
 */
function methodNotAllowed(app: express.Express): void {
  for (const [path, item] of Object.entries(openapi.paths)) {
    const allowed = HTTP_METHODS.filter((m) => m in item).map((m) => m.toUpperCase());
    // Express answers HEAD with the GET route.
    if (allowed.includes('GET')) allowed.push('HEAD');
    app.all(path.replace(/\{(\w+)\}/g, ':$1'), (req, res) => {
      res.set('Allow', allowed.join(', '));
      throw new HttpError(
        'METHOD_NOT_ALLOWED',
        `${req.method} is not allowed on ${req.path}; use ${allowed.join(' or ')} (see /openapi.json)`,
      );
    });
  }
}

type Handler = (req: Request, res: Response) => Promise<void>;

/** Answers 503 if the handler takes longer than the limit; the handler's later answer is dropped. */
function withTimeout(ctx: ProxyContext, handler: Handler): Handler {
  return async (req, res) => {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new HttpError(
              'REQUEST_TIMEOUT',
              `the request took longer than ${ctx.config.proxy.requestTimeoutMs} ms; retry it`,
              undefined,
              1,
            ),
          ),
        ctx.config.proxy.requestTimeoutMs,
      );
    });
    try {
      await Promise.race([handler(req, res), timeout]);
    } finally {
      clearTimeout(timer);
    }
  };
}

/**
 * Synchronous requests need Kafka; asynchronous ones only the spool, so the proxy keeps taking
 * events (202) while the broker is unreachable and delivers them once it is back.
 */
function requireReady(ctx: ProxyContext) {
  return (req: Request, _res: Response, next: NextFunction): void => {
    const asyncOk = wantsAsync(req) && ctx.state.reason !== 'shutting down';
    if (!ctx.state.ready && !asyncOk) {
      throw new HttpError('NOT_READY', `the proxy is not ready: ${ctx.state.reason}`, undefined, 1);
    }
    next();
  };
}

export function createApp(ctx: ProxyContext): express.Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('etag', false);
  app.set('query parser', 'simple');

  app.use((req, res, next) => {
    res.on('finish', () => {
      const route = (req.route as { path?: string } | undefined)?.path ?? 'unmatched';
      ctx.metrics.requests.inc({ route: `${req.method} ${route}`, status: String(res.statusCode) });
    });
    next();
  });

  app.get('/healthz', (_req, res) => {
    res.json({ status: 'ok' });
  });
  app.get('/readyz', (_req, res) => {
    res.status(ctx.state.ready ? 200 : 503).json({ ready: ctx.state.ready, reason: ctx.state.reason });
  });
  app.get('/metrics', async (_req, res) => {
    res.set('Content-Type', ctx.metrics.registry.contentType).send(await ctx.metrics.registry.metrics());
  });
  app.get('/openapi.json', (_req, res) => {
    res.json(openapi);
  });

  // Bodies are read raw (gzip/deflate inflated) and parsed by each endpoint, so every content type
  // error, size limit and bad byte gets the same error body.
  const raw = express.raw({ type: () => true, limit: ctx.config.proxy.maxBodyBytes });
  app.post('/v1/events', requireReady(ctx), raw, withTimeout(ctx, eventsHandler(ctx)));
  app.options('/v1/collect/:app', corsFor(ctx));
  app.post('/v1/collect/:app', corsFor(ctx), requireReady(ctx), raw, withTimeout(ctx, collectHandler(ctx)));
  app.use(confluentRoutes(ctx, raw, requireReady(ctx)));

  methodNotAllowed(app);
  app.use((req) => {
    throw new HttpError('NOT_FOUND', `no endpoint ${req.method} ${req.path}; see /openapi.json`);
  });

  app.use((err: unknown, req: Request, res: Response, _next: NextFunction) => {
    const e = inflateError(req.get('content-encoding'), err) ?? toHttpError(err);
    if (
      e.status >= 500 &&
      e.code !== 'KAFKA_UNAVAILABLE' &&
      e.code !== 'NOT_READY' &&
      e.code !== 'SPOOL_FULL'
    ) {
      ctx.logger.error({ err, path: req.path }, 'request failed');
    }
    if (res.headersSent) return;
    if (e.retryAfter !== undefined) res.set('Retry-After', String(e.retryAfter));
    if (req.path.startsWith('/topics') || req.path.startsWith('/v3/')) {
      // Confluent REST Proxy clients expect its error body: a numeric error_code and a message.
      res.status(e.status).json({ error_code: confluentCode(e), message: e.message });
      return;
    }
    res.status(e.status).json(e.body());
  });
  return app;
}

function confluentCode(e: HttpError): number {
  // Confluent's codes are the HTTP status, with a sub-code for some (40401 topic not found, …).
  const sub: Partial<Record<string, number>> = {
    NOT_FOUND: 40401,
    UNSUPPORTED_CONTENT_TYPE: 41501,
    SCHEMA_VALIDATION_FAILED: 42202,
    MALFORMED_BODY: 40001,
  };
  return sub[e.code] ?? e.status;
}

export function toHttpError(err: unknown): HttpError {
  if (err instanceof HttpError) return err;
  const e = err as { type?: string; status?: number; message?: string; limit?: number };
  if (e.type === 'entity.too.large')
    return new HttpError(
      'BODY_TOO_LARGE',
      `the body is larger than ${e.limit ?? 'the limit of'} bytes (proxy.maxBodyBytes)`,
    );
  if (e.type === 'encoding.unsupported')
    return new HttpError('UNSUPPORTED_CONTENT_TYPE', e.message ?? 'unsupported Content-Encoding');
  if (e.type === 'request.aborted' || e.type === 'request.size.invalid' || e.status === 400) {
    return new HttpError('MALFORMED_BODY', e.message ?? 'the body could not be read');
  }
  return new HttpError('INTERNAL_ERROR', e.message ?? String(err));
}
