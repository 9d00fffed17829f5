// A replay (workflow id replay/<type>/<uuid>): events of a Kafka offset/time range, or of a time
// range of the S3 archive, written again to a topic (each with `ce_replay: <uuid>`), or archived
// files loaded again into a warehouse table. One JSON object as input, so it can be pasted into
// the Temporal UI; see docs/replay.md.
//
// Exactly once: every step is one Kafka transaction that also commits its durable position (see
// activities/replay.ts); the workflow keeps the same positions in its state, reports them through
// the `status` query, and only passes offsets and object keys to activities.
import {
  ApplicationFailure,
  CancellationScope,
  continueAsNew,
  isCancellation,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as loader from '../activities/loader.js';
import type * as activities from '../activities/replay.js';
import { presets } from './presets.js';
import { replayStatusQuery, type ReplayStatus, type ReplayTargetSpec } from './replay-signals.js';

type Activities = ReturnType<typeof activities.createReplayActivities>;
type LoaderActivities = ReturnType<typeof loader.createLoaderActivities>;

const meta = proxyActivities<Activities>(presets.metadata);
const { replayKafkaChunk, replayFile } = proxyActivities<Activities>(presets.transaction);

export type ReplayTarget =
  'pipeline' | 'topic' | 'table' | { topic: string } | { table?: string; force?: boolean };

export interface ReplayInput {
  eventType: string;
  /** `kafka`: the type's topic; `s3`: the Parquet archive. */
  source: 'kafka' | 's3';
  /**
   * Start: an RFC 3339 time (kafka: ListOffsets by timestamp; s3: event time), or, for kafka,
   * partition → offset, e.g. {"0": "120", "2": "0"}. Default for kafka: the earliest offset.
   * Required for s3.
   */
  from?: string | Record<string, string>;
  /** End (exclusive), same forms. Default for kafka: the end when the replay plans. Required for s3. */
  to?: string | Record<string, string>;
  /**
   * `pipeline` or `topic` (default): back onto the type's own topic, so the pipeline moves the
   * events again; {"topic": "name"}: onto another topic; `table` or {"table": "t", "force": true}:
   * (s3 only) archived files loaded again by the loader.
   */
  target?: ReplayTarget;
  /** Partitions or file lanes replayed at once; default 4. */
  parallelism?: number;
  /** Kafka source: records per transaction; default 10000. */
  maxRecords?: number;
  /** Task queue of the loader workers (table target); default sluice-loader. */
  loaderTaskQueue?: string;
  /** Carried across continue-as-new. */
  status?: ReplayStatus;
}

const invalid = (message: string): ApplicationFailure =>
  ApplicationFailure.nonRetryable(message, 'InvalidInput');

function targetSpec(target: ReplayTarget | undefined): ReplayTargetSpec {
  if (target === undefined || target === 'pipeline' || target === 'topic') return { kind: 'topic' };
  if (target === 'table') return { kind: 'table', force: true };
  if ('topic' in target) return { kind: 'topic', topic: target.topic };
  return { kind: 'table', ...(target.table ? { table: target.table } : {}), force: target.force ?? true };
}

/** The replay id: the last segment of replay/<type>/<uuid>. */
export function replayIdOf(workflowId: string): string {
  const last = workflowId.split('/').pop() ?? workflowId;
  return last.replace(/[^A-Za-z0-9._-]/g, '_');
}

const HOUR_MS = 3_600_000;

/** Starts of the UTC hours that overlap [from, to), as RFC 3339. */
export function hoursOf(from: string, to: string): string[] {
  const start = Date.parse(from);
  const end = Date.parse(to);
  if (Number.isNaN(start) || Number.isNaN(end))
    throw invalid('from and to must be RFC 3339 times for source s3');
  if (end <= start) throw invalid('to must be after from');
  if (end - start > 366 * 24 * HOUR_MS) throw invalid('a replay covers at most 366 days');
  const hours: string[] = [];
  for (let h = Math.floor(start / HOUR_MS) * HOUR_MS; h < end; h += HOUR_MS)
    hours.push(new Date(h).toISOString());
  return hours;
}

/** Runs `fn` over `items` with at most `limit` at once, in order within each runner. */
async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  await Promise.all(
    Array.from({ length: Math.max(1, Math.min(limit, queue.length)) }, async () => {
      for (let next = queue.shift(); next !== undefined; next = queue.shift()) await fn(next);
    }),
  );
}

const tooLong = (): boolean => workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 5000;

export async function replay(input: ReplayInput): Promise<ReplayStatus> {
  const replayId = replayIdOf(workflowInfo().workflowId);
  const target = targetSpec(input.target);
  const status: ReplayStatus = input.status ?? {
    replayId,
    eventType: input.eventType,
    source: input.source,
    target,
    state: 'planning',
    files: 0,
    filesDone: 0,
    records: 0,
    startedAt: new Date().toISOString(),
  };
  setHandler(replayStatusQuery, () => status);
  const parallelism = Math.max(1, Math.min(input.parallelism ?? 4, 64));

  if (input.source !== 'kafka' && input.source !== 's3') throw invalid('source must be "kafka" or "s3"');
  if (input.source === 'kafka' && target.kind === 'table')
    throw invalid(
      'a Kafka replay writes to a topic; to reload a table, replay from s3 (or replay to the pipeline)',
    );

  try {
    if (input.source === 'kafka') await replayKafka(input, status, target, parallelism);
    else await replayS3(input, status, target, parallelism);
  } catch (err) {
    if (isCancellation(err)) {
      status.state = 'cancelled';
      await CancellationScope.nonCancellable(() => meta.finishReplay({ replayId }));
    }
    throw err;
  }
  await meta.finishReplay({ replayId });
  status.state = 'done';
  status.finishedAt = new Date().toISOString();
  return status;
}

async function replayKafka(
  input: ReplayInput,
  status: ReplayStatus,
  target: ReplayTargetSpec,
  parallelism: number,
): Promise<void> {
  const topic = await meta.replayTargetTopic({
    eventType: input.eventType,
    ...(target.kind === 'topic' && target.topic ? { topic: target.topic } : {}),
  });
  if (!status.partitions) {
    const ranges = await meta.planKafkaReplay({
      eventType: input.eventType,
      ...(input.from !== undefined ? { from: input.from } : {}),
      ...(input.to !== undefined ? { to: input.to } : {}),
    });
    status.partitions = ranges.map((r) => ({ ...r, position: r.from }));
  }
  status.state = 'running';
  let stopping = false;
  await pool(
    status.partitions.filter((p) => p.position !== p.to),
    parallelism,
    async (p) => {
      while (!stopping && BigInt(p.position) < BigInt(p.to)) {
        const res = await replayKafkaChunk({
          replayId: status.replayId,
          eventType: input.eventType,
          partition: p.partition,
          from: p.position,
          to: p.to,
          targetTopic: topic.topic,
          maxRecords: input.maxRecords ?? 10_000,
        });
        p.position = res.position;
        status.records += res.records;
        if (tooLong()) stopping = true;
      }
    },
  );
  if (stopping) await continueAsNew<typeof replay>({ ...input, status });
}

async function replayS3(
  input: ReplayInput,
  status: ReplayStatus,
  target: ReplayTargetSpec,
  parallelism: number,
): Promise<void> {
  if (typeof input.from !== 'string' || typeof input.to !== 'string')
    throw invalid('source s3 needs from and to as RFC 3339 times');
  const { from, to } = input;
  const hours = hoursOf(from, to);
  status.hoursTotal = hours.length;
  status.hoursDone ??= 0;
  status.state = 'running';
  if (target.kind === 'table') {
    const { loadFiles } = proxyActivities<LoaderActivities>({
      ...presets.load,
      taskQueue: input.loaderTaskQueue ?? 'sluice-loader',
    });
    for (; status.hoursDone < hours.length; status.hoursDone++) {
      const keys = await meta.listArchiveHour({ eventType: input.eventType, hour: hours[status.hoursDone]! });
      status.files += keys.length;
      for (let i = 0; i < keys.length; i += 50) {
        const batch = keys.slice(i, i + 50);
        const summary = await loadFiles({
          eventType: input.eventType,
          files: batch.map((key) => ({ key })),
          force: target.force,
          ...(target.table ? { table: target.table } : {}),
        });
        if (summary.failed > 0)
          throw ApplicationFailure.nonRetryable(
            `${summary.failed} file(s) failed to load: ${summary.failures.map((f) => `${f.key}: ${f.error}`).join('; ')}`,
            'ReplayLoadFailed',
          );
        status.filesDone += batch.length;
        status.records += summary.rows + summary.testRows;
      }
      if (tooLong() && status.hoursDone + 1 < hours.length) {
        status.hoursDone++;
        await continueAsNew<typeof replay>({ ...input, status });
      }
    }
    return;
  }

  const topic = await meta.replayTargetTopic({
    eventType: input.eventType,
    ...(target.topic ? { topic: target.topic } : {}),
  });
  // A lane's marker is an offset of (target topic, partition = lane): at most one lane per partition.
  const lanes = Math.min(parallelism, topic.partitions);
  for (; status.hoursDone < hours.length; status.hoursDone++) {
    const keys = await meta.listArchiveHour({ eventType: input.eventType, hour: hours[status.hoursDone]! });
    const base = status.files;
    status.files += keys.length;
    const byLane = Array.from({ length: lanes }, (_, lane) =>
      keys.map((key, i) => ({ key, ordinal: base + i })).filter((f) => f.ordinal % lanes === lane),
    );
    await Promise.all(
      byLane.map(async (files, lane) => {
        for (const f of files) {
          const res = await replayFile({
            replayId: status.replayId,
            eventType: input.eventType,
            key: f.key,
            ordinal: f.ordinal,
            lane,
            targetTopic: topic.topic,
            from,
            to,
          });
          status.filesDone++;
          status.records += res.records;
        }
      }),
    );
    if (tooLong() && status.hoursDone + 1 < hours.length) {
      status.hoursDone++;
      await continueAsNew<typeof replay>({ ...input, status });
    }
  }
}
