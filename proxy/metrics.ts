// Prometheus metrics of the proxy (text format at /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'sluice_proxy_' });
  return {
    registry,
    requests: new Counter({
      name: 'sluice_http_requests_total',
      help: 'HTTP requests by route and status.',
      labelNames: ['route', 'status'] as const,
      registers: [registry],
    }),
    events: new Counter({
      name: 'sluice_events_total',
      help: 'Events by type and outcome (accepted, rejected) and reason (the error code).',
      labelNames: ['type', 'outcome', 'reason'] as const,
      registers: [registry],
    }),
    produceLatency: new Histogram({
      name: 'sluice_produce_latency_seconds',
      help: 'Time from a batch leaving the accumulator to the broker acknowledgement.',
      labelNames: ['cluster', 'outcome'] as const,
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers: [registry],
    }),
    batchRecords: new Histogram({
      name: 'sluice_produce_batch_records',
      help: 'Records per produce batch (across requests).',
      labelNames: ['cluster'] as const,
      buckets: [1, 10, 50, 100, 250, 500, 1000, 2500, 5000, 10000],
      registers: [registry],
    }),
    spoolBytes: new Gauge({
      name: 'sluice_spool_pending_bytes',
      help: 'Bytes accepted by 202 and not yet delivered to Kafka.',
      registers: [registry],
    }),
    spoolRecords: new Gauge({
      name: 'sluice_spool_pending_records',
      help: 'Records accepted by 202 and not yet delivered to Kafka.',
      registers: [registry],
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
