// Everything a request handler needs, built once at start: the catalog and validator, the
// accumulators (one per Kafka cluster), the async spools, auth, metrics and readiness.
import { join } from 'node:path';
import type { Producer } from '@platformatic/kafka';
import type { Config } from '../lib/config.js';
import { createProducer } from '../lib/kafka.js';
import type { Logger } from '../lib/logger.js';
import type { Catalog } from '../schemas/catalog.js';
import { EventValidator } from '../schemas/validator.js';
import { Accumulator, ProduceError, type Delivery } from './accumulator.js';
import { Authenticator } from './auth.js';
import { HttpError } from './http-error.js';
import { createMetrics, type Metrics } from './metrics.js';
import type { OutRecord } from './prepare.js';
import { PreparePool } from './prepare-pool.js';
import { Spool, SpoolFullError } from './spool.js';

export interface ProxyContext {
  config: Config;
  catalog: Catalog;
  validator: EventValidator;
  /** Parses and validates /v1/events bodies, on proxy.prepareThreads worker threads. */
  preparer: PreparePool;
  auth: Authenticator;
  metrics: Metrics;
  logger: Logger;
  clusters: Map<
    string,
    { producer: Producer<Buffer, Buffer, string, string>; accumulator: Accumulator; spool: Spool }
  >;
  /** Topics of the raw collector: raw.<app> for every app some event type routes from. */
  rawApps: Set<string>;
  state: { ready: boolean; reason: string };
  produce(records: OutRecord[]): Promise<{ partition: number; offset?: bigint }[]>;
  spoolAppend(records: OutRecord[]): Promise<void>;
}

const RETRY_AFTER_S = 5;

export async function createProxyContext(
  config: Config,
  catalog: Catalog,
  logger: Logger,
): Promise<ProxyContext> {
  const metrics = createMetrics();
  const used = new Set<string>(['default']);
  for (const t of catalog.types.values()) for (const c of t.settings.clusters) used.add(c);
  const unknown = [...used].filter((c) => !config.kafka.clusters[c]);
  if (unknown.length) {
    throw new Error(
      `event types route to Kafka cluster(s) ${unknown.join(', ')}, which are not in kafka.clusters of the config`,
    );
  }
  const clusters: ProxyContext['clusters'] = new Map();
  for (const name of used) {
    const clusterConfig = {
      ...config,
      kafka: { ...config.kafka, brokers: config.kafka.clusters[name]!.brokers },
    };
    const producer = createProducer(clusterConfig, `proxy-${name}`, config.proxy.acks);
    const accumulator = new Accumulator(producer, {
      ...config.proxy,
      onBatch: (records, _bytes, seconds, error) => {
        metrics.batchRecords.observe({ cluster: name }, records);
        metrics.produceLatency.observe({ cluster: name, outcome: error ? 'error' : 'ok' }, seconds);
        if (error) logger.warn({ cluster: name, records, err: error }, 'produce failed');
      },
    });
    const spool = await Spool.open(join(config.proxy.spoolDir, name), {
      maxBytes: config.proxy.spoolMaxBytes,
    });
    clusters.set(name, { producer, accumulator, spool });
  }
  const rawApps = new Set<string>();
  for (const t of catalog.types.values()) for (const a of t.settings.rawApps) rawApps.add(a);

  const updateSpoolGauges = (): void => {
    let bytes = 0;
    let records = 0;
    for (const c of clusters.values()) {
      bytes += c.spool.pendingBytes;
      records += c.spool.pendingRecords;
    }
    metrics.spoolBytes.set(bytes);
    metrics.spoolRecords.set(records);
  };

  const logSpoolFailure = (err: unknown): void => logger.error({ err }, 'spool append failed');

  const byCluster = (records: OutRecord[]): Map<string, number[]> => {
    const groups = new Map<string, number[]>();
    records.forEach((r, i) => {
      const g = groups.get(r.cluster) ?? [];
      g.push(i);
      groups.set(r.cluster, g);
    });
    return groups;
  };

  const validator = new EventValidator(catalog);
  return {
    config,
    catalog,
    validator,
    preparer: new PreparePool(config.proxy.prepareThreads, { catalog, validator }, logger),
    auth: new Authenticator(config.proxy.apiKeys),
    metrics,
    logger,
    clusters,
    rawApps,
    state: { ready: false, reason: 'starting' },
    async produce(records) {
      try {
        // Most requests go to one cluster: its deliveries are already in request order.
        const only = records[0]?.cluster;
        if (records.every((r) => r.cluster === only)) {
          return only === undefined ? [] : await clusters.get(only)!.accumulator.send(records);
        }
        const out = new Array<Delivery>(records.length);
        await Promise.all(
          [...byCluster(records)].map(async ([cluster, idx]) => {
            const deliveries = await clusters.get(cluster)!.accumulator.send(idx.map((i) => records[i]!));
            deliveries.forEach((d, k) => (out[idx[k]!] = d));
          }),
        );
        return out;
      } catch (err) {
        if (err instanceof ProduceError) {
          throw new HttpError(
            'KAFKA_UNAVAILABLE',
            `${err.message}; nothing of this request is guaranteed, retry it`,
            undefined,
            RETRY_AFTER_S,
          );
        }
        throw err;
      }
    },
    async spoolAppend(records) {
      try {
        // One append per cluster; each is atomic and fsync'd before we answer 202.
        for (const [cluster, idx] of byCluster(records)) {
          await clusters.get(cluster)!.spool.append(idx.map((i) => records[i]!));
        }
      } catch (err) {
        if (err instanceof SpoolFullError)
          throw new HttpError('SPOOL_FULL', err.message, undefined, RETRY_AFTER_S);
        // A disk error is the server's trouble, not a bug in the request: 503 so clients retry.
        logSpoolFailure(err);
        throw new HttpError(
          'SPOOL_UNAVAILABLE',
          `the spool could not be written: ${err instanceof Error ? err.message : String(err)}`,
          undefined,
          RETRY_AFTER_S,
        );
      } finally {
        updateSpoolGauges();
      }
    },
  };
}

/** Starts delivering every cluster's spool to Kafka through its accumulator. */
export function startSpoolDelivery(ctx: ProxyContext): void {
  for (const [name, c] of ctx.clusters) {
    c.spool.startDelivery(
      async (records) => {
        await c.accumulator.send(records);
        ctx.metrics.spoolBytes.set([...ctx.clusters.values()].reduce((n, x) => n + x.spool.pendingBytes, 0));
        ctx.metrics.spoolRecords.set(
          [...ctx.clusters.values()].reduce((n, x) => n + x.spool.pendingRecords, 0),
        );
      },
      { onError: (err) => ctx.logger.warn({ cluster: name, err }, 'spool delivery failed; retrying') },
    );
  }
}
