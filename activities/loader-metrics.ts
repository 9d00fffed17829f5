// Prometheus metrics of the loader worker (text format at its /metrics).
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

export type LoaderMetrics = ReturnType<typeof createLoaderMetrics>;

export function createLoaderMetrics(registry = new Registry()) {
  collectDefaultMetrics({ register: registry, prefix: 'sluice_loader_' });
  const newestIngest = new Map<string, number>();
  const metrics = {
    registry,
    files: new Counter({
      name: 'sluice_loader_files_total',
      help: 'Files by type and outcome (LOADED, SKIPPED as already loaded, FAILED for good).',
      labelNames: ['type', 'status'] as const,
      registers: [registry],
    }),
    rows: new Counter({
      name: 'sluice_loader_rows_total',
      help: 'Rows inserted by type and table kind (events, test).',
      labelNames: ['type', 'kind'] as const,
      registers: [registry],
    }),
    loadLatency: new Histogram({
      name: 'sluice_loader_load_latency_seconds',
      help: 'From the object notice (S3 eventTime) to the load committed in the warehouse.',
      labelNames: ['type'] as const,
      buckets: [0.25, 0.5, 1, 2, 5, 10, 30, 60, 300, 900],
      registers: [registry],
    }),
    ignoredNotices: new Counter({
      name: 'sluice_loader_ignored_notices_total',
      help: 'Queue messages that named no object of the type (S3 test events, other keys, bad JSON).',
      labelNames: ['type'] as const,
      registers: [registry],
    }),
    freshness: new Gauge({
      name: 'sluice_loader_freshness_seconds',
      help: 'Now minus the newest _ingest_time loaded, per type: how far the warehouse lags ingestion.',
      labelNames: ['type'] as const,
      registers: [registry],
      collect() {
        const now = Date.now();
        for (const [type, at] of newestIngest) this.set({ type }, Math.max(0, (now - at) / 1000));
      },
    }),
    /** Remembers the newest `_ingest_time` loaded for the freshness gauge. */
    sawIngestTime(type: string, iso: string): void {
      const at = Date.parse(iso);
      if (Number.isFinite(at) && at > (newestIngest.get(type) ?? 0)) newestIngest.set(type, at);
    },
  };
  return metrics;
}
