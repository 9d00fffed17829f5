// Side effects of the Kafka → Parquet pipeline, built from injected clients. Each activity is
// idempotent: a retry reads the same offsets and writes the same object keys.
import { Context } from '@temporalio/activity';
import type { Admin, Producer } from '@platformatic/kafka';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Config } from '../lib/config.js';
import {
  commitOffset,
  committedOffset,
  partitionBounds,
  readRangeChunks,
  readRawRange,
} from '../lib/kafka.js';
import type { RangeReader } from '../lib/kafka-fetch.js';
import type { Logger } from '../lib/logger.js';
import type { Catalog, EventType } from '../schemas/catalog.js';
import type { EventValidator } from '../schemas/validator.js';
import { invalidOffsetRange, unknownEventType } from './errors.js';
import type {
  CommitInput,
  NotifyInput,
  PartitionRef,
  PlanInput,
  SegmentObject,
  SegmentPlan,
  SegmentRef,
  WriteInput,
} from './pipeline-types.js';
import { s3ObjectCreatedEvent } from './s3-notice.js';
import { segmentObjectKey, type RejectedRecord, type SegmentGroup } from './segment/encode.js';
import { inlineEncoders, type SegmentEncoders } from './segment/encode-pool.js';

export interface PipelineDeps {
  config: Config;
  catalog: Catalog;
  validator: EventValidator;
  admin: Admin;
  reader: RangeReader;
  dlqProducer: Producer<Buffer, Buffer, string, string>;
  s3: S3Client;
  sqs: SQSClient;
  logger: Logger;
  /** Where segments are decoded and encoded (pipeline.encodeThreads); default: inline. */
  encoders?: SegmentEncoders;
  onDataLoss?: (eventType: string, partition: number, lost: bigint) => void;
}

const sleep = (ms: number): Promise<void> => Context.current().sleep(ms);

export function createPipelineActivities(deps: PipelineDeps) {
  const { config, catalog, admin, reader } = deps;
  const encoders = deps.encoders ?? inlineEncoders(deps.validator);
  const queueUrls = new Map<string, string>();

  const typeOf = (name: string): EventType => {
    const t = catalog.types.get(name);
    if (!t) throw unknownEventType(name);
    return t;
  };

  /**
   * The timestamp of the first record a READ_COMMITTED reader sees in [from, to) (how long the oldest
   * waiting record has waited), or null when the range holds none: only records of aborted
   * transactions and transaction markers.
   */
  async function firstTimestamp(
    topic: string,
    partition: number,
    from: bigint,
    to: bigint,
  ): Promise<bigint | null> {
    for await (const chunk of readRawRange(reader, { topic, partition, from, to, maxBytes: 64 * 1024 })) {
      if (chunk[0]) return chunk[0].timestamp;
    }
    return null;
  }

  return {
    async partitionCount({ eventType }: { eventType: string }): Promise<number> {
      const t = typeOf(eventType);
      const meta = await admin.metadata({ topics: [t.topic] });
      return meta.topics.get(t.topic)?.partitionsCount ?? 0;
    },

    /** Where a new pipeline starts: the consumer group's committed offset, else the earliest offset. */
    async initialPosition({ eventType, partition }: PartitionRef): Promise<string> {
      const t = typeOf(eventType);
      const committed = await committedOffset(admin, t.consumerGroup, t.topic, partition);
      if (committed !== undefined) return committed.toString();
      return (await partitionBounds(admin, t.topic, partition)).earliest.toString();
    },

    /**
     * Decides the next segment [from, to) by the type's flush policy: enough records, or the oldest
     * waiting record old enough, or forced. Long-polls (heartbeating) instead of making the
     * workflow loop on short timers while idle.
     */
    async planSegment(input: PlanInput): Promise<SegmentPlan> {
      const t = typeOf(input.eventType);
      const { maxRecords, maxAgeSeconds } = t.settings.flush;
      const deadline = Date.now() + input.maxWaitMs;
      let from = BigInt(input.from);
      let dataLoss: SegmentPlan['dataLoss'];
      // The oldest waiting record's timestamp does not change while we wait: read it once per `from`.
      let oldest: { at: bigint; ts: bigint | null } | undefined;
      for (;;) {
        Context.current().heartbeat();
        const { earliest, latest } = await partitionBounds(admin, t.topic, input.partition);
        if (from < earliest) {
          // Retention deleted records we had not moved: say so loudly, then go on from what is left.
          dataLoss = { lostFrom: dataLoss?.lostFrom ?? from.toString(), lostTo: earliest.toString() };
          deps.logger.error(
            {
              eventType: t.name,
              partition: input.partition,
              lostFrom: from.toString(),
              lostTo: earliest.toString(),
            },
            'DATA LOSS: records deleted by retention before the pipeline moved them',
          );
          deps.onDataLoss?.(t.name, input.partition, earliest - from);
          from = earliest;
        }
        if (from > latest)
          throw invalidOffsetRange(
            `${t.topic}/${input.partition}: position ${from} is past the end ${latest} (was the topic recreated?)`,
          );
        const waiting = latest - from;
        const plan = (to: bigint): SegmentPlan => ({
          from: from.toString(),
          to: to.toString(),
          highWatermark: latest.toString(),
          ...(dataLoss ? { dataLoss } : {}),
        });
        if (waiting >= BigInt(maxRecords)) return plan(from + BigInt(maxRecords));
        if (waiting > 0n) {
          if (input.force) return plan(latest);
          if (oldest?.at !== from)
            oldest = { at: from, ts: await firstTimestamp(t.topic, input.partition, from, latest) };
          const ts = oldest.ts;
          // Nothing readable waits (an aborted transaction and its marker): step over it at once,
          // or the position would sit before it until maxRecords more records arrive.
          if (ts === null) return plan(latest);
          if (Date.now() - Number(ts) >= maxAgeSeconds * 1000) return plan(latest);
        }
        if (Date.now() >= deadline) return plan(from);
        await sleep(Math.min(500, Math.max(50, deadline - Date.now())));
      }
    },

    /** Reads [from, to), validates and encodes it to Parquet, uploads it, sends rejects to the DLQ. */
    async writeSegment(input: WriteInput): Promise<SegmentRef> {
      const t = typeOf(input.eventType);
      const from = BigInt(input.from);
      const planned = BigInt(input.to);
      // Each fetch's batches are decoded and encoded as it arrives (on an encode thread unless
      // pipeline.encodeThreads is 0), so only one fetch of records is alive at a time.
      const segment = encoders.open({
        type: t,
        partition: input.partition,
        maxBytes: t.settings.flush.maxBytes,
      });
      let end = planned;
      let groups: SegmentGroup[];
      let rejected: RejectedRecord[];
      let exactPathRows: number;
      try {
        for await (const chunk of readRangeChunks(reader, {
          topic: t.topic,
          partition: input.partition,
          from,
          to: planned,
        })) {
          // Handed over: the chunk is not read here again.
          const progress = await segment.add(chunk, true);
          Context.current().heartbeat({ offset: progress.lastOffset?.toString() });
          // The byte limit cut the segment here; the rest of the range is the next segment's.
          if (progress.cutAt !== undefined) {
            end = progress.cutAt;
            break;
          }
        }
        ({ groups, rejected, exactPathRows } = await segment.finish());
      } catch (err) {
        segment.discard();
        throw err;
      }
      const objects: SegmentObject[] = [];
      for (const g of groups) {
        const key = segmentObjectKey(t.name, g, input.partition, from, end);
        const put = await deps.s3.send(
          new PutObjectCommand({
            Bucket: config.s3.bucket,
            Key: key,
            Body: g.bytes,
            ContentType: 'application/vnd.apache.parquet',
            Metadata: {
              rows: String(g.rows),
              'first-offset': g.firstOffset.toString(),
              'last-offset': g.lastOffset.toString(),
              'schema-version': String(g.schemaVersion),
            },
          }),
        );
        objects.push({
          key,
          rows: g.rows,
          bytes: g.bytes.length,
          schemaVersion: g.schemaVersion,
          etag: put.ETag ?? '',
        });
        Context.current().heartbeat({ uploaded: key });
      }
      if (rejected.length) {
        await deps.dlqProducer.send({
          messages: rejected.map((r) => ({
            topic: t.dlqTopic,
            // Keyed by position, so a retried segment's duplicates can be recognised downstream.
            key: Buffer.from(`${t.topic}/${input.partition}/${r.offset}`),
            value: r.record.value ?? Buffer.alloc(0),
            headers: {
              ...r.record.headers,
              sluice_error_code: r.errorCode,
              sluice_error_message: r.reason.slice(0, 4000),
              sluice_rejected_at: new Date().toISOString(),
              sluice_source_topic: t.topic,
              sluice_source_partition: String(input.partition),
              sluice_source_offset: r.offset.toString(),
            },
          })),
        });
      }
      const times = groups.flatMap((g) => [g.minEventTime, g.maxEventTime]).sort();
      return {
        to: end.toString(),
        objects,
        rows: groups.reduce((n, g) => n + g.rows, 0),
        bytes: objects.reduce((n, o) => n + o.bytes, 0),
        rejected: rejected.length,
        exactPathRows,
        ...(times.length ? { minEventTime: times[0]!, maxEventTime: times[times.length - 1]! } : {}),
      };
    },

    /** Commits the position on the consumer group sluice.<type>, so Kafka tools show the lag. */
    async commitOffsets({ eventType, partition, offset }: CommitInput): Promise<void> {
      const t = typeOf(eventType);
      await commitOffset(admin, t.consumerGroup, t.topic, partition, BigInt(offset));
    },

    /** Puts the S3 ObjectCreated notice of each object on the type's SQS queue for the loader. */
    async notifyObjects({ eventType, objects }: NotifyInput): Promise<void> {
      if (!config.pipeline.notifyObjects) return;
      const queue = `${config.sqs.queuePrefix}${typeOf(eventType).name}`;
      let url = queueUrls.get(queue);
      if (!url) {
        url = (await deps.sqs.send(new GetQueueUrlCommand({ QueueName: queue }))).QueueUrl!;
        queueUrls.set(queue, url);
      }
      for (const o of objects) {
        await deps.sqs.send(
          new SendMessageCommand({
            QueueUrl: url,
            MessageBody: s3ObjectCreatedEvent({
              bucket: config.s3.bucket,
              region: config.s3.region,
              key: o.key,
              size: o.bytes,
              etag: o.etag,
              eventTime: new Date(),
            }),
          }),
        );
      }
    },
  };
}

export type PipelineActivities = ReturnType<typeof createPipelineActivities>;
