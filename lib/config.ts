// The one configuration schema of Sluice. Every process (stack, proxy, workers, CLI, tests)
// loads it through loadConfig(); docs/config.md is generated from it (npm run docs:config).
import { existsSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { isAbsolute, join, resolve } from 'node:path';
import { z } from 'zod';
import { projectRoot } from './paths.js';

const port = z.number().int().min(1).max(65535);
const host = z.string().min(1);
/** Worker threads for one kind of CPU work: 0 runs it on the main thread. */
const threadCount = (description: string) => z.number().int().min(0).max(64).default(1).describe(description);

const stackSchema = z
  .object({
    host: host.default('127.0.0.1').describe('Address every local server binds to.'),
    kafkaPort: port.default(9092).describe('Kafka broker listener.'),
    kafkaControllerPort: port.default(9093).describe('Kafka KRaft controller listener.'),
    kafkaHeapMb: z.number().int().min(128).default(1024).describe('Kafka JVM heap (MiB).'),
    temporalPort: port.default(7233).describe('Temporal frontend (gRPC).'),
    temporalUiPort: port.default(8233).describe('Temporal Web UI.'),
    s3Port: port.default(9000).describe('S3-compatible server (versitygw).'),
    sqsPort: port.default(9324).describe('SQS-compatible server (ElasticMQ).'),
    sqsHeapMb: z.number().int().min(64).default(256).describe('ElasticMQ JVM heap (MiB).'),
  })
  .strict()
  .describe('The local stack started by `npm start` / `npm run stack:up`.');

const kafkaSchema = z
  .object({
    brokers: z
      .array(z.string().min(1))
      .min(1)
      .optional()
      .describe('Bootstrap brokers; default: the local broker.'),
    clientId: z.string().min(1).default('sluice').describe('Kafka client id.'),
    clusters: z
      .record(
        z.string().regex(/^[a-z0-9-]+$/),
        z.object({ brokers: z.array(z.string().min(1)).min(1) }).strict(),
      )
      .optional()
      .describe(
        'Named Kafka clusters that event types route to (event.yaml `clusters`); `default` is `brokers`.',
      ),
    replicationFactor: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        'Replicas of each topic; default: 2 (as DoorDash runs), or 1 when the cluster has one broker.',
      ),
  })
  .strict()
  .describe('Kafka clients of the proxy and workers.');

const temporalSchema = z
  .object({
    address: z
      .string()
      .min(1)
      .optional()
      .describe('Frontend address host:port; default: the local dev server.'),
    namespace: z.string().min(1).default('default').describe('Temporal namespace.'),
    uiUrl: z.string().url().optional().describe('Web UI address shown to users; default: the local UI.'),
  })
  .strict()
  .describe('Temporal client and workers.');

const s3Schema = z
  .object({
    endpoint: z
      .string()
      .url()
      .optional()
      .describe('S3 endpoint; default: the local server. Leave empty for AWS.'),
    region: z.string().min(1).default('us-east-1').describe('AWS region.'),
    bucket: z.string().min(3).default('sluice').describe('Bucket holding segment files.'),
    accessKeyId: z.string().min(1).default('sluice').describe('Access key (local default: sluice).'),
    secretAccessKey: z.string().min(1).default('sluice-local-secret').describe('Secret key.'),
    forcePathStyle: z.boolean().default(true).describe('Path-style addressing (needed by local servers).'),
  })
  .strict()
  .describe('Object store for segment files.');

const sqsSchema = z
  .object({
    endpoint: z.string().url().optional().describe('SQS endpoint; default: the local server.'),
    region: z.string().min(1).default('us-east-1').describe('AWS region.'),
    queuePrefix: z.string().min(1).default('sluice-objects-').describe('Queue name prefix per event type.'),
    accessKeyId: z.string().min(1).default('sluice').describe('Access key (ElasticMQ accepts any).'),
    secretAccessKey: z.string().min(1).default('sluice-local-secret').describe('Secret key.'),
  })
  .strict()
  .describe('Queues of S3 object-created notices.');

const snowflakeSchema = z
  .object({
    account: z.string().min(1).describe('Account identifier, e.g. myorg-myaccount.'),
    username: z.string().min(1).describe('User the loader connects as.'),
    role: z.string().min(1).optional().describe("Role; default: the user's default role."),
    warehouse: z.string().min(1).describe('Virtual warehouse that runs COPY INTO.'),
    database: z.string().min(1).describe('Database of the event tables.'),
    schema: z.string().min(1).default('PUBLIC').describe('Schema of the event tables.'),
    privateKeyPath: z
      .string()
      .min(1)
      .optional()
      .describe('PEM private key for key-pair (JWT) auth; required for Snowpipe mode.'),
    passwordEnv: z
      .string()
      .min(1)
      .optional()
      .describe('Environment variable holding a password, when key-pair auth is not used.'),
    accessUrl: z
      .string()
      .url()
      .optional()
      .describe('Override of https://<account>.snowflakecomputing.com (tests, private link).'),
    stage: z.string().min(1).default('sluice_events').describe('External stage on the bucket.'),
    storageIntegration: z
      .string()
      .min(1)
      .optional()
      .describe('Storage integration the stage uses to read the bucket (recommended over keys).'),
    mode: z
      .enum(['copy', 'snowpipe'])
      .default('copy')
      .describe('copy: the loader runs COPY INTO; snowpipe: it calls insertFiles on a pipe per type.'),
  })
  .strict()
  .describe('Snowflake connection, used when warehouse.kind is snowflake.');

const warehouseSchema = z
  .object({
    kind: z.enum(['duckdb', 'snowflake']).default('duckdb').describe('Warehouse adapter.'),
    duckdbPath: z.string().min(1).default('warehouse.duckdb').describe('DuckDB file, relative to stateDir.'),
    taskQueue: z.string().min(1).default('sluice-loader').describe('Task queue of the loader workers.'),
    queryHost: host.default('127.0.0.1').describe("Address of the loader worker's query endpoint."),
    queryPort: port
      .default(8091)
      .describe("Port of the loader worker's read-only query endpoint and its /metrics."),
    maxFilesPerLoad: z
      .number()
      .int()
      .min(1)
      .max(1000)
      .default(100)
      .describe('Files one load transaction takes when many notices wait.'),
    pollWaitSeconds: z
      .number()
      .int()
      .min(1)
      .max(300)
      .default(20)
      .describe('How long one loader activity long-polls the queue when idle.'),
    visibilityTimeoutSeconds: z
      .number()
      .int()
      .min(30)
      .max(43_200)
      .default(60)
      .describe(
        'How long a received notice stays hidden; renewed while its load runs, so after a crash it returns this soon.',
      ),
    loadHistoryDays: z
      .number()
      .int()
      .min(1)
      .default(64)
      .describe("A file loaded within this many days is skipped (Snowflake's rule), unless forced."),
    snowflake: snowflakeSchema.optional(),
  })
  .strict()
  .superRefine((w, ctx) => {
    if (w.kind === 'snowflake' && !w.snowflake) {
      ctx.addIssue({ code: 'custom', path: ['snowflake'], message: 'is required when kind is snowflake' });
    }
    if (w.snowflake?.mode === 'snowpipe' && !w.snowflake.privateKeyPath) {
      ctx.addIssue({
        code: 'custom',
        path: ['snowflake', 'privateKeyPath'],
        message: 'is required in snowpipe mode (the REST API takes key-pair JWT only)',
      });
    }
  })
  .describe('Where the loader puts rows.');

const apiKeySchema = z
  .object({
    id: z.string().min(1).describe('Name of the key, shown in logs and metrics (never the secret).'),
    sha256: z
      .string()
      .regex(/^[0-9a-f]{64}$/, 'must be the hex SHA-256 of the key (`npm run keys:hash -- <key>`)')
      .describe('SHA-256 of the secret key, hex.'),
    eventTypes: z.array(z.string().min(1)).default(['*']).describe('Event types it may send; `*` for all.'),
    apps: z
      .array(z.string().min(1))
      .default(['*'])
      .describe('Raw collector apps it may send for; `*` for all.'),
    ratePerSecond: z.number().positive().default(1000).describe('Sustained events per second.'),
    burst: z.number().int().positive().default(10_000).describe('Events it may send at once above the rate.'),
  })
  .strict();

const proxySchema = z
  .object({
    host: host.default('127.0.0.1').describe('Address the HTTP proxy binds to.'),
    port: port.default(8080).describe('HTTP proxy port.'),
    defaultSource: z.string().min(1).default('/sluice/proxy').describe('ce_source of events that name none.'),
    acks: z
      .union([z.literal(-1), z.literal(0), z.literal(1)])
      .default(1)
      .describe(
        'Broker acknowledgement before a synchronous 200: 1 (leader, as DoorDash runs), -1 (all in-sync replicas, idempotent), 0 (none).',
      ),
    compression: z
      .enum(['none', 'gzip', 'snappy', 'lz4'])
      .default('lz4')
      .describe('Compression of produced batches.'),
    lingerMs: z
      .number()
      .int()
      .min(0)
      .max(1000)
      .default(5)
      .describe('How long the accumulator waits to fill a batch.'),
    batchMaxRecords: z
      .number()
      .int()
      .min(1)
      .default(5000)
      .describe('Records per produce batch, across requests.'),
    batchMaxBytes: z
      .number()
      .int()
      .min(1024)
      .default(4 * 1024 * 1024)
      .describe('Bytes per produce batch.'),
    prepareThreads: threadCount(
      'Worker threads that parse and validate POST /v1/events bodies, so the main thread keeps to HTTP and Kafka; 0 does it on the main thread.',
    ),
    maxBodyBytes: z
      .number()
      .int()
      .min(1024)
      .default(5 * 1024 * 1024)
      .describe('Largest request body (413 above).'),
    maxEventBytes: z
      .number()
      .int()
      .min(256)
      .default(1024 * 1024)
      .describe('Largest single event payload.'),
    requestTimeoutMs: z
      .number()
      .int()
      .min(100)
      .default(30_000)
      .describe('A request that takes longer is answered 503.'),
    spoolDir: z.string().min(1).default('spool').describe('Async-mode spool, relative to stateDir.'),
    spoolMaxBytes: z
      .number()
      .int()
      .min(1024)
      .default(1024 * 1024 * 1024)
      .describe('Spool size at which async requests get 503.'),
    corsOrigins: z
      .array(z.string().min(1))
      .default(['*'])
      .describe('Origins allowed to call the raw collector from a browser.'),
    apiKeys: z
      .array(apiKeySchema)
      .default([])
      .describe('API keys (hashed). With none, the proxy accepts every request (local development).'),
  })
  .strict()
  .describe('The HTTP ingest proxy.');

const pipelineSchema = z
  .object({
    taskQueue: z.string().min(1).default('sluice-pipeline').describe('Task queue of the pipeline workers.'),
    taskQueuePerType: z
      .boolean()
      .default(false)
      .describe(
        'Give each event type its own task queue (<taskQueue>-<type>) for isolation, as DoorDash runs.',
      ),
    maxConcurrentActivities: z
      .number()
      .int()
      .min(1)
      .default(32)
      .describe(
        'Activities one worker runs at once. Each partition holds one (a long-poll) while idle, so this must exceed partitions × types; mostly I/O waits.',
      ),
    encodeThreads: threadCount(
      'Threads that decode, validate and encode segments to Parquet; 0 = on the main thread. A thread has a small heap of its own, so its garbage collections stay cheap (the main thread holds Temporal and the AWS SDK).',
    ),
    fastJsonReader: z
      .boolean()
      .default(true)
      .describe(
        'Read payloads with the one-pass JSON row reader where the schema allows it (JSON.parse and ajv only for what it gives up on). The files are the same either way; false reads every payload with JSON.parse + ajv, for comparison or as a way out if the reader is ever suspected.',
      ),
    notifyObjects: z
      .boolean()
      .default(true)
      .describe('Send the S3 ObjectCreated notice to SQS; turn off where S3 bucket notifications do it.'),
    idleWaitMs: z
      .number()
      .int()
      .min(100)
      .default(20_000)
      .describe('How long a plan call long-polls when idle.'),
  })
  .strict()
  .describe('Kafka → Parquet pipelines (Temporal workers).');

export const configSchema = z
  .object({
    stateDir: z.string().min(1).default('.sluice').describe('Local state: data dirs, logs, pid files.'),
    catalogDir: z
      .string()
      .min(1)
      .default('schemas/events')
      .describe('The event catalog folder (relative to the project root).'),
    cacheDir: z
      .string()
      .min(1)
      .optional()
      .describe('Built tools and downloaded jars; default: $XDG_CACHE_HOME/sluice or ~/.cache/sluice.'),
    logLevel: z
      .enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal'])
      .default('info')
      .describe('Log level.'),
    stack: stackSchema.default(() => stackSchema.parse({})),
    kafka: kafkaSchema.default(() => kafkaSchema.parse({})),
    temporal: temporalSchema.default(() => temporalSchema.parse({})),
    s3: s3Schema.default(() => s3Schema.parse({})),
    sqs: sqsSchema.default(() => sqsSchema.parse({})),
    warehouse: warehouseSchema.default(() => warehouseSchema.parse({})),
    proxy: proxySchema.default(() => proxySchema.parse({})),
    pipeline: pipelineSchema.default(() => pipelineSchema.parse({})),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;

/** The validated config with every default and derived address filled in. */
export interface Config {
  stateDir: string;
  catalogDir: string;
  cacheDir: string;
  logLevel: z.infer<typeof configSchema>['logLevel'];
  stack: z.infer<typeof stackSchema>;
  kafka: {
    brokers: string[];
    clientId: string;
    clusters: Record<string, { brokers: string[] }>;
    replicationFactor?: number;
  };
  temporal: { address: string; namespace: string; uiUrl: string };
  s3: Required<z.infer<typeof s3Schema>>;
  sqs: Required<z.infer<typeof sqsSchema>>;
  warehouse: z.infer<typeof warehouseSchema>;
  proxy: z.infer<typeof proxySchema>;
  pipeline: z.infer<typeof pipelineSchema>;
}

export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

function formatIssues(source: string, error: z.ZodError): string {
  const lines = error.issues.map((i) => `  - ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  return `invalid configuration in ${source}:\n${lines.join('\n')}`;
}

/** Validates raw config input and derives the addresses the defaults imply. */
export function parseConfig(input: unknown, source = 'config'): Config {
  const result = configSchema.safeParse(input ?? {});
  if (!result.success) throw new ConfigError(formatIssues(source, result.error));
  const c = result.data;
  const root = projectRoot();
  const stateDir = isAbsolute(c.stateDir) ? c.stateDir : resolve(root, c.stateDir);
  const xdg = process.env.XDG_CACHE_HOME;
  const cacheDir = c.cacheDir
    ? resolve(root, c.cacheDir)
    : join(xdg && isAbsolute(xdg) ? xdg : join(homedir(), '.cache'), 'sluice');
  const h = c.stack.host;
  return {
    stateDir,
    catalogDir: isAbsolute(c.catalogDir) ? c.catalogDir : resolve(root, c.catalogDir),
    cacheDir,
    logLevel: c.logLevel,
    stack: c.stack,
    kafka: {
      brokers: c.kafka.brokers ?? [`${h}:${c.stack.kafkaPort}`],
      clientId: c.kafka.clientId,
      clusters: {
        default: { brokers: c.kafka.brokers ?? [`${h}:${c.stack.kafkaPort}`] },
        ...c.kafka.clusters,
      },
      ...(c.kafka.replicationFactor !== undefined ? { replicationFactor: c.kafka.replicationFactor } : {}),
    },
    temporal: {
      address: c.temporal.address ?? `${h}:${c.stack.temporalPort}`,
      namespace: c.temporal.namespace,
      uiUrl: c.temporal.uiUrl ?? `http://${h}:${c.stack.temporalUiPort}`,
    },
    s3: { ...c.s3, endpoint: c.s3.endpoint ?? `http://${h}:${c.stack.s3Port}` },
    sqs: { ...c.sqs, endpoint: c.sqs.endpoint ?? `http://${h}:${c.stack.sqsPort}` },
    warehouse: {
      ...c.warehouse,
      duckdbPath: isAbsolute(c.warehouse.duckdbPath)
        ? c.warehouse.duckdbPath
        : join(stateDir, c.warehouse.duckdbPath),
    },
    proxy: {
      ...c.proxy,
      spoolDir: isAbsolute(c.proxy.spoolDir) ? c.proxy.spoolDir : join(stateDir, c.proxy.spoolDir),
    },
    pipeline: c.pipeline,
  };
}

/**
 * Loads `sluice.config.json` from the project root, or the file named by SLUICE_CONFIG.
 * A missing default file means "all defaults"; a missing named file is an error.
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const named = env.SLUICE_CONFIG;
  const file = named ? resolve(named) : join(projectRoot(), 'sluice.config.json');
  if (!existsSync(file)) {
    if (named) throw new ConfigError(`SLUICE_CONFIG points to ${file}, which does not exist`);
    return parseConfig({}, 'defaults');
  }
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(file, 'utf8'));
  } catch (err) {
    throw new ConfigError(`cannot read ${file}: ${(err as Error).message}`);
  }
  return parseConfig(raw, file);
}
