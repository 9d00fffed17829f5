// Side effects of the Snowpipe-style loader, built from injected clients: read S3 object notices
// from the type's SQS queue, load the files through the warehouse adapter (which keeps the load
// history in the same transaction as the rows), delete the notices only after the commit.
import { Context } from '@temporalio/activity';
import {
  ChangeMessageVisibilityBatchCommand,
  DeleteMessageBatchCommand,
  GetQueueUrlCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import type { Catalog, EventType } from '../schemas/catalog.js';
import { invalidInput, unknownEventType, unknownSchemaVersion } from './errors.js';
import {
  addChunkResult,
  emptyChunkResult,
  type BackfillChunk,
  type BackfillRange,
  type ChunkResult,
  type LoadPrefixInput,
} from './backfill-types.js';
import { listChunkPage, planChunks } from './warehouse/listing.js';
import { failure } from './warehouse/outcomes.js';
import type { LoaderMetrics } from './loader-metrics.js';
import type {
  LoadFilesInput,
  LoadQueueInput,
  LoadSummary,
  MigrateInput,
  MigrateResult,
  MigrationStepSummary,
} from './loader-types.js';
import { parseS3Notice } from './s3-notice.js';
import {
  columnsAfter,
  latestVersion,
  loadTarget,
  parseSegmentKey,
  planStep,
  tableForVersion,
  testTableOf,
} from './warehouse/tables.js';
import type { ColumnDef } from '../schemas/mapping.js';
import type { FileOutcome, FileRef, Warehouse } from './warehouse/types.js';

export interface LoaderDeps {
  config: Config;
  catalog: Catalog;
  warehouse: Warehouse;
  sqs: SQSClient;
  /** Lists segment objects for backfills. */
  s3: S3Client;
  logger: Logger;
  metrics: LoaderMetrics;
}

interface VersionedFile extends FileRef {
  version: number;
  /** When S3 (or the pipeline) announced the object: the start of the load latency. */
  noticedAt?: string;
}

/** Heartbeats every few seconds while `fn` runs, so a long load is not taken for a dead worker. */
async function withHeartbeat<T>(fn: () => Promise<T>): Promise<T> {
  const ctx = Context.current();
  const timer = setInterval(() => ctx.heartbeat(), 5_000);
  try {
    return await fn();
  } finally {
    clearInterval(timer);
  }
}

function summarize(
  notices: number,
  files: number,
  outcomes: FileOutcome[],
  ignoredNotices: number,
): LoadSummary {
  const s: LoadSummary = {
    notices,
    files,
    loaded: 0,
    skipped: 0,
    failed: 0,
    rows: 0,
    testRows: 0,
    failures: [],
    ignoredNotices,
  };
  for (const o of outcomes) {
    if (o.status === 'LOADED') {
      s.loaded++;
      s.lastKey = o.key;
    } else if (o.status === 'SKIPPED') s.skipped++;
    else {
      s.failed++;
      if (s.failures.length < 20) s.failures.push({ key: o.key, error: o.error ?? 'unknown' });
    }
    s.rows += o.rows;
    s.testRows += o.testRows;
    if (o.newestIngestTime && (!s.newestIngestTime || o.newestIngestTime > s.newestIngestTime)) {
      s.newestIngestTime = o.newestIngestTime;
    }
  }
  return s;
}

export function createLoaderActivities(deps: LoaderDeps) {
  const { config, catalog, warehouse, sqs, logger, metrics } = deps;
  const queueUrls = new Map<string, string>();

  const typeOf = (name: string): EventType => {
    const t = catalog.types.get(name);
    if (!t) throw unknownEventType(name);
    return t;
  };

  async function queueUrl(type: EventType): Promise<string> {
    const name = `${config.sqs.queuePrefix}${type.name}`;
    let url = queueUrls.get(name);
    if (!url) {
      url = (await sqs.send(new GetQueueUrlCommand({ QueueName: name }))).QueueUrl;
      if (!url) throw new Error(`SQS queue ${name} has no URL: run \`npm run apply\``);
      queueUrls.set(name, url);
    }
    return url;
  }

  /** Long-polls until a notice arrives or `maxWaitMs` passes, then takes what else waits, up to the batch size. */
  async function receive(url: string, maxWaitMs: number): Promise<Message[]> {
    const ctx = Context.current();
    const deadline = Date.now() + maxWaitMs;
    const max = config.warehouse.maxFilesPerLoad;
    const messages: Message[] = [];
    while (messages.length < max) {
      const remaining = deadline - Date.now();
      if (messages.length === 0 && remaining <= 0) break;
      ctx.heartbeat();
      const res = await sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: url,
          MaxNumberOfMessages: Math.min(10, max - messages.length),
          WaitTimeSeconds: messages.length ? 0 : Math.min(20, Math.max(1, Math.ceil(remaining / 1000))),
          VisibilityTimeout: config.warehouse.visibilityTimeoutSeconds,
        }),
        { abortSignal: ctx.cancellationSignal },
      );
      const got = res.Messages ?? [];
      messages.push(...got);
      if (got.length === 0 && messages.length > 0) break;
    }
    return messages;
  }

  /**
   * Keeps the notices of a load in flight hidden while it runs, so a short visibility timeout
   * (quick redelivery after a crash) still covers a long load.
   */
  async function keepHidden<T>(url: string, messages: Message[], fn: () => Promise<T>): Promise<T> {
    const seconds = config.warehouse.visibilityTimeoutSeconds;
    const timer = setInterval(
      () => {
        for (let i = 0; i < messages.length; i += 10) {
          sqs
            .send(
              new ChangeMessageVisibilityBatchCommand({
                QueueUrl: url,
                Entries: messages.slice(i, i + 10).map((m, j) => ({
                  Id: String(j),
                  ReceiptHandle: m.ReceiptHandle!,
                  VisibilityTimeout: seconds,
                })),
              }),
            )
            .catch((err: unknown) =>
              logger.warn({ err }, 'could not extend the visibility of notices in flight'),
            );
        }
      },
      (seconds * 1000) / 2,
    );
    try {
      return await fn();
    } finally {
      clearInterval(timer);
    }
  }

  /** Runs the migration steps from the warehouse's version up to `toVersion`, or plans them. */
  async function migrateTo(
    type: EventType,
    toVersion: number,
    dryRun: boolean,
    appliedBy: string,
    createIfMissing: boolean,
  ): Promise<MigrateResult> {
    const records = await warehouse.migrations(type.name);
    const fromVersion = latestVersion(records);
    const base = { eventType: type.name, fromVersion, toVersion, steps: [] as MigrationStepSummary[] };
    if (fromVersion === 0 && !createIfMissing) return { ...base, state: 'no-table' };
    if (toVersion <= fromVersion) return { ...base, state: 'current' };
    // A dry run describes each table as the earlier planned steps would leave it.
    const simulated = new Map<string, ColumnDef[] | undefined>();
    const describe = async (table: string): Promise<ColumnDef[] | undefined> =>
      dryRun && simulated.has(table) ? simulated.get(table) : warehouse.describe(table);
    // A type without a table is created at `toVersion` directly.
    for (let v = fromVersion === 0 ? toVersion : fromVersion + 1; v <= toVersion; v++) {
      const step = await planStep(warehouse, type, records, v, describe);
      const record = { eventType: type.name, table: step.table, version: v, kind: step.kind, appliedBy };
      if (dryRun) {
        for (const t of [step.table, testTableOf(type, step.table)]) {
          if (t !== undefined) simulated.set(t, columnsAfter(warehouse, type, step, await describe(t)));
        }
      } else {
        const result = await warehouse.migrate({ ...record, ddl: step.steps.map((s) => s.sql) }, step.steps);
        logger.info({ ...record, result, ddl: step.steps.map((s) => s.sql) }, 'schema migration step');
      }
      records.push({ ...record, ddl: [], appliedAt: new Date().toISOString() });
      base.steps.push({
        version: v,
        kind: step.kind,
        table: step.table,
        ddl: step.steps.map((s) => s.sql),
        descriptions: step.steps.map((s) => s.description),
        reasons: step.reasons,
      });
    }
    return { ...base, state: dryRun ? 'planned' : 'applied' };
  }

  /**
   * Loads files into the table of their schema version (or `table`), creating the type's table on
   * its first load. Files of a version newer than the warehouse knows are left out and reported.
   */
  async function loadVersioned(
    type: EventType,
    files: VersionedFile[],
    force: boolean,
    table?: string,
    reloadBefore?: string,
  ): Promise<{ outcomes: FileOutcome[]; needsMigration?: number; unknownVersions: number[] }> {
    // A file from a pipeline that runs a newer catalog than this worker: it stays queued (or is
    // reported, for loadFiles) until this worker is deployed with that version.
    const unknownVersions = [
      ...new Set(files.filter((f) => !type.versions[f.version - 1]).map((f) => f.version)),
    ];
    if (unknownVersions.length) {
      logger.warn(
        { type: type.name, versions: unknownVersions, latest: type.latest.version },
        'files of schema versions this worker’s catalog does not have: deploy the catalog, they wait meanwhile',
      );
      files = files.filter((f) => type.versions[f.version - 1]);
    }
    if (table) {
      if (!(await warehouse.describe(table))) throw new Error(`table ${table} does not exist`);
      return {
        outcomes: await warehouse.load({
          target: loadTarget(type, table),
          files,
          force,
          historyDays: config.warehouse.loadHistoryDays,
          ...(reloadBefore ? { reloadBefore } : {}),
        }),
        unknownVersions,
      };
    }
    let records = await warehouse.migrations(type.name);
    if (records.length === 0 && files.length > 0) {
      const first = Math.min(...files.map((f) => f.version));
      await migrateTo(type, first, false, `loader/${type.name}`, true);
      records = await warehouse.migrations(type.name);
    }
    const known = latestVersion(records);
    const outcomes: FileOutcome[] = [];
    let needsMigration: number | undefined;
    const byTable = new Map<string, VersionedFile[]>();
    for (const f of files) {
      if (f.version > known) {
        needsMigration = Math.max(needsMigration ?? 0, f.version);
        continue;
      }
      const t = tableForVersion(records, f.version)!.table;
      byTable.set(t, [...(byTable.get(t) ?? []), f]);
    }
    for (const [t, group] of byTable) {
      outcomes.push(
        ...(await warehouse.load({
          target: loadTarget(type, t),
          files: group,
          force,
          historyDays: config.warehouse.loadHistoryDays,
          ...(reloadBefore ? { reloadBefore } : {}),
        })),
      );
    }
    return { outcomes, unknownVersions, ...(needsMigration ? { needsMigration } : {}) };
  }

  function record(type: EventType, outcomes: FileOutcome[], noticed: Map<string, string>): void {
    const now = Date.now();
    for (const o of outcomes) {
      metrics.files.inc({ type: type.name, status: o.status });
      if (o.status !== 'LOADED') continue;
      metrics.rows.inc({ type: type.name, kind: 'events' }, o.rows);
      if (o.testRows) metrics.rows.inc({ type: type.name, kind: 'test' }, o.testRows);
      if (o.newestIngestTime) metrics.sawIngestTime(type.name, o.newestIngestTime);
      const at = Date.parse(noticed.get(o.key) ?? '');
      if (Number.isFinite(at)) metrics.loadLatency.observe({ type: type.name }, Math.max(0, now - at) / 1000);
    }
  }

  return {
    /** One batch from the type's queue: receive notices, load their files once, delete the notices. */
    async loadFromQueue(input: LoadQueueInput): Promise<LoadSummary> {
      const type = typeOf(input.eventType);
      const url = await queueUrl(type);
      const messages = await receive(url, input.maxWaitMs ?? config.warehouse.pollWaitSeconds * 1000);
      if (messages.length === 0) return summarize(0, 0, [], 0);

      const files = new Map<string, VersionedFile>();
      const keysOf = new Map<Message, string[]>();
      let ignored = 0;
      for (const m of messages) {
        const keys: string[] = [];
        try {
          for (const o of parseS3Notice(m.Body ?? '')) {
            const seg = parseSegmentKey(o.key);
            if (o.bucket !== config.s3.bucket || seg?.eventType !== type.name) {
              logger.warn(
                { type: type.name, bucket: o.bucket, key: o.key },
                'notice names no segment of this type',
              );
              continue;
            }
            keys.push(o.key);
            files.set(o.key, {
              key: o.key,
              etag: o.etag,
              size: o.size,
              version: seg.version,
              noticedAt: o.eventTime,
            });
          }
        } catch (err) {
          logger.warn(
            { type: type.name, error: (err as Error).message },
            'queue message is not an S3 notice',
          );
        }
        if (keys.length === 0) ignored++;
        keysOf.set(m, keys);
      }
      metrics.ignoredNotices.inc({ type: type.name }, ignored);

      const { outcomes, needsMigration, unknownVersions } = await keepHidden(url, messages, () =>
        withHeartbeat(() => loadVersioned(type, [...files.values()], false)),
      );
      const done = new Set(outcomes.map((o) => o.key));
      const finished = messages.filter((m) => (keysOf.get(m) ?? []).every((k) => done.has(k)));
      // Only files waiting for a migration come back at once; those of an unknown version stay
      // hidden for the visibility timeout, so they are retried without spinning.
      const unknown = new Set(unknownVersions);
      const waiting = messages.filter(
        (m) =>
          !finished.includes(m) &&
          !(keysOf.get(m) ?? []).some((k) => unknown.has(files.get(k)?.version ?? 0)),
      );
      for (let i = 0; i < finished.length; i += 10) {
        const batch = finished.slice(i, i + 10);
        const res = await sqs.send(
          new DeleteMessageBatchCommand({
            QueueUrl: url,
            Entries: batch.map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle! })),
          }),
        );
        // A notice left behind loads as SKIPPED next time: the history makes that harmless.
        if (res.Failed?.length) logger.warn({ failed: res.Failed }, 'some notices were not deleted');
      }
      // Files of a version the warehouse lacks come back as soon as the migration ran.
      for (let i = 0; i < waiting.length; i += 10) {
        await sqs.send(
          new ChangeMessageVisibilityBatchCommand({
            QueueUrl: url,
            Entries: waiting
              .slice(i, i + 10)
              .map((m, j) => ({ Id: String(j), ReceiptHandle: m.ReceiptHandle!, VisibilityTimeout: 0 })),
          }),
        );
      }
      record(type, outcomes, new Map([...files.values()].map((f) => [f.key, f.noticedAt ?? ''])));
      const summary = summarize(messages.length, files.size, outcomes, ignored);
      return needsMigration ? { ...summary, needsMigration } : summary;
    },

    /** Loads named objects (backfill, replay into a table) under the same load-history rule. */
    async loadFiles(input: LoadFilesInput): Promise<LoadSummary> {
      const type = typeOf(input.eventType);
      const files: VersionedFile[] = [];
      const failures: FileOutcome[] = [];
      for (const f of input.files) {
        const seg = parseSegmentKey(f.key);
        if (seg?.eventType !== type.name) {
          failures.push(
            failure(f.key, f.etag ?? '', `not a segment of ${type.name} (events/${type.name}/v=<N>/…)`),
          );
        } else files.push({ ...f, version: seg.version });
      }
      const { outcomes, needsMigration, unknownVersions } = await withHeartbeat(() =>
        loadVersioned(type, files, input.force, input.table),
      );
      const unknown = new Set(unknownVersions);
      for (const f of files) {
        if (unknown.has(f.version)) {
          failures.push(
            failure(
              f.key,
              f.etag ?? '',
              `schema version ${f.version} is not in this worker's catalog (latest v${type.latest.version})`,
            ),
          );
        }
      }
      record(type, outcomes, new Map());
      const summary = summarize(0, input.files.length, [...outcomes, ...failures], 0);
      return needsMigration ? { ...summary, needsMigration } : summary;
    },

    /** The (version, day) chunks of a backfill's range: prefixes only, the files are listed per chunk. */
    async planBackfill(range: BackfillRange): Promise<BackfillChunk[]> {
      typeOf(range.eventType);
      try {
        return await planChunks(deps.s3, config.s3.bucket, range);
      } catch (err) {
        if (err instanceof RangeError) throw invalidInput(err.message);
        throw err;
      }
    },

    /**
     * Lists one chunk's files page by page and loads them under the load-history rule. Progress is
     * heartbeated, so a retry goes on after the last page it finished instead of starting over.
     */
    async loadPrefix(input: LoadPrefixInput): Promise<ChunkResult & { needsMigration?: number }> {
      const type = typeOf(input.eventType);
      const ctx = Context.current();
      const resumed = ctx.info.heartbeatDetails as { afterKey?: string; result: ChunkResult } | undefined;
      const result: ChunkResult = resumed?.result ?? emptyChunkResult();
      let afterKey = resumed?.afterKey;
      for (;;) {
        const page = await listChunkPage(
          deps.s3,
          config.s3.bucket,
          input.chunk,
          afterKey,
          config.warehouse.maxFilesPerLoad,
        );
        const files = page.files.map((f) => ({ ...f, version: input.chunk.version }));
        const { outcomes, needsMigration, unknownVersions } = await withHeartbeat(() =>
          loadVersioned(type, files, input.force, input.table, input.reloadBefore),
        );
        if (needsMigration !== undefined) return { ...result, needsMigration };
        if (unknownVersions.length) {
          throw unknownSchemaVersion(type.name, unknownVersions[0]!, type.latest.version);
        }
        record(type, outcomes, new Map());
        addChunkResult(result, summarize(0, files.length, outcomes, 0));
        afterKey = page.last ?? afterKey;
        ctx.heartbeat({ afterKey, result });
        if (page.done) return result;
      }
    },

    /** Moves the type's tables to `toVersion` (default: the catalog's latest), or plans it. */
    async migrate(input: MigrateInput): Promise<MigrateResult> {
      const type = typeOf(input.eventType);
      const toVersion = input.toVersion ?? type.latest.version;
      if (!type.versions[toVersion - 1]) {
        throw unknownSchemaVersion(type.name, toVersion, type.latest.version);
      }
      return migrateTo(type, toVersion, input.dryRun, input.appliedBy, false);
    },
  };
}
