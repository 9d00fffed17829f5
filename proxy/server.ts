// The proxy process: `node --import tsx proxy/server.ts` (npm run proxy, and npm start).
// Ready (GET /readyz) only once topic metadata of every catalog topic is loaded and a probe record
// reached sluice.healthcheck on every cluster; SIGTERM/SIGINT stop accepting, drain, then exit.
import type { Server } from 'node:http';
import { loadConfig, type Config } from '../lib/config.js';
import { envelopeHeaders, buildEnvelope } from '../lib/envelope.js';
import { createLogger, type Logger } from '../lib/logger.js';
import { loadCatalog, type Catalog } from '../schemas/catalog.js';
import { createApp } from './app.js';
import { createProxyContext, startSpoolDelivery, type ProxyContext } from './context.js';

export interface RunningProxy {
  ctx: ProxyContext;
  server: Server;
  url: string;
  stop: () => Promise<void>;
}

async function becomeReady(ctx: ProxyContext): Promise<void> {
  ctx.state.reason = `starting ${ctx.preparer.threads} prepare thread(s)`;
  await ctx.preparer.ready();
  for (const [name, cluster] of ctx.clusters) {
    const topics = ['sluice.healthcheck', 'sluice.dlq'];
    for (const t of ctx.catalog.types.values())
      if (t.settings.clusters.includes(name)) topics.push(t.topic, t.dlqTopic);
    if (name === 'default') for (const app of ctx.rawApps) topics.push(`raw.${app}`);
    ctx.state.reason = `loading metadata of ${topics.length} topics on cluster ${name}`;
    await cluster.accumulator.loadMetadata(topics);
    ctx.state.reason = `writing a probe to sluice.healthcheck on cluster ${name}`;
    const env = buildEnvelope(
      { type: 'sluice.healthcheck', dataschema: 'urn:sluice:healthcheck' },
      new Date(),
      ctx.config.proxy.defaultSource,
    );
    await cluster.accumulator.send([
      { topic: 'sluice.healthcheck', key: null, value: Buffer.from('{}'), headers: envelopeHeaders(env) },
    ]);
  }
  ctx.state.ready = true;
  ctx.state.reason = 'ready';
}

/** Starts the proxy; resolves once it listens (readiness follows in the background). */
export async function startProxy(
  config: Config,
  catalog: Catalog,
  logger: Logger = createLogger('proxy', config.logLevel),
): Promise<RunningProxy> {
  const ctx = await createProxyContext(config, catalog, logger);
  const app = createApp(ctx);
  const server = await new Promise<Server>((resolvePromise, reject) => {
    const s = app.listen(config.proxy.port, config.proxy.host, () => resolvePromise(s));
    s.once('error', reject);
  });
  server.keepAliveTimeout = 65_000;
  const addr = server.address();
  const url = `http://${config.proxy.host}:${typeof addr === 'object' && addr ? addr.port : config.proxy.port}`;
  startSpoolDelivery(ctx);
  let readiness: Promise<void> | undefined = (async () => {
    for (let attempt = 1; !ctx.state.ready; attempt++) {
      try {
        await becomeReady(ctx);
        logger.info({ url }, 'proxy ready');
      } catch (err) {
        ctx.state.reason = `${ctx.state.reason} failed: ${err instanceof Error ? err.message : String(err)}`;
        logger.warn({ err, attempt }, 'not ready yet; retrying');
        await new Promise((r) => setTimeout(r, Math.min(5000, 250 * attempt)));
        if (!readiness) return;
      }
    }
  })();

  let stopping: Promise<void> | undefined;
  const stop = (): Promise<void> =>
    (stopping ??= (async () => {
      readiness = undefined;
      ctx.state.ready = false;
      ctx.state.reason = 'shutting down';
      logger.info('stopping: no new requests, draining');
      await new Promise<void>((r) => server.close(() => r()));
      await ctx.preparer.close();
      for (const c of ctx.clusters.values()) await c.accumulator.flush();
      for (const c of ctx.clusters.values()) {
        await c.spool.stop({ drain: true, timeoutMs: 10_000 });
        await c.spool.close();
        await c.producer.close();
      }
      logger.info('stopped');
    })());
  return { ctx, server, url, stop };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const config = loadConfig();
  const logger = createLogger('proxy', config.logLevel);
  const proxy = await startProxy(config, loadCatalog(config.catalogDir), logger);
  logger.info({ url: proxy.url }, 'proxy listening');
  const shutdown = (): void => {
    proxy.stop().then(
      () => process.exit(0),
      (err: unknown) => {
        logger.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}
