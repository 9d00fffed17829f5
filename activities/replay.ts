// Side effects of replays: Kafka offset ranges or archived Parquet files back onto a topic, each
// event with its original envelope plus `ce_replay: <replay id>`.
//
// Exactly once, by Kafka transactions (the records and a position commit together):
// - Kafka source: the position is the offset of the replayed topic-partition in the consumer
//   group sluice.replay.<replayId>; one transactional id per (replay, partition).
// - S3 source: files are replayed in a fixed order (hour by hour, keys sorted), spread over lanes
//   (file ordinal % lanes); a lane replays its files one after the other, each in one transaction
//   that also commits `ordinal + 1` as the group's "offset" of (target topic, partition = lane).
//   That offset is a durable marker, not a real offset of the target: a retried file whose
//   ordinal is below its lane's marker was done. One transactional id per (replay, lane), so a
//   zombie attempt of a lane is fenced. Why not one marker per file: a marker per lane needs no
//   extra store, and a lane's files commit in order, so one number says which are done.
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Context } from '@temporalio/activity';
import type { Admin } from '@platformatic/kafka';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import type { Config } from '../lib/config.js';
import { envelopeHeaders } from '../lib/envelope.js';
import { partitionBounds, readRange } from '../lib/kafka.js';
import type { RangeReader } from '../lib/kafka-fetch.js';
import { stableCommittedOffset, type TransactionalProducers, type TxnMessage } from '../lib/kafka-txn.js';
import type { Logger } from '../lib/logger.js';
import { partitionForKey } from '../proxy/partitioner.js';
import type { Catalog, EventType } from '../schemas/catalog.js';
import { invalidInput, unknownEventType } from './errors.js';
import type {
  ListArchiveInput,
  OffsetRange,
  PlanKafkaReplayInput,
  ReplayChunkResult,
  ReplayFileInput,
  ReplayFileResult,
  ReplayKafkaInput,
} from './replay-types.js';
import { archivedEvent } from './segment/decode-rows.js';

export interface ReplayDeps {
  config: Config;
  catalog: Catalog;
  admin: Admin;
  reader: RangeReader;
  s3: S3Client;
  txn: TransactionalProducers;
  logger: Logger;
}

export const replayGroup = (replayId: string): string => `sluice.replay.${replayId}`;
const partitionTxnId = (replayId: string, partition: number): string =>
  `sluice.replay.${replayId}.p${partition}`;
const laneTxnId = (replayId: string, lane: number): string => `sluice.replay.${replayId}.lane${lane}`;

const MAX_CHUNK_BYTES = 16 * 1024 * 1024;

function parseTime(what: string, v: string): bigint {
  const ms = Date.parse(v);
  if (Number.isNaN(ms)) throw invalidInput(`${what}: ${JSON.stringify(v)} is not an RFC 3339 time`);
  return BigInt(ms);
}

export function createReplayActivities(deps: ReplayDeps) {
  const { admin, reader, config } = deps;

  const typeOf = (name: string): EventType => {
    const t = deps.catalog.types.get(name);
    if (!t) throw unknownEventType(name);
    return t;
  };

  /** Offsets of `topic` at a time (first record at or after it), per partition; the end when none. */
  async function offsetsAt(topic: string, partitions: number, timestamp: bigint): Promise<bigint[]> {
    const [t] = await admin.listOffsets({
      topics: [
        {
          name: topic,
          partitions: Array.from({ length: partitions }, (_, p) => ({ partitionIndex: p, timestamp })),
        },
      ],
    });
    const out: bigint[] = [];
    for (let p = 0; p < partitions; p++) {
      const found = t?.partitions.find((x) => x.partitionIndex === p)?.offset ?? -1n;
      out.push(found >= 0n ? found : (await partitionBounds(admin, topic, p)).latest);
    }
    return out;
  }

  async function sendInTransaction(
    transactionalId: string,
    messages: TxnMessage[],
    offset: { groupId: string; topic: string; partition: number; next: bigint },
  ): Promise<void> {
    const ctx = Context.current();
    // Cancelled while reading: write nothing; the position says exactly what was done.
    if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
    await deps.txn.commitWithOffset(transactionalId, messages, offset, () => ctx.heartbeat());
  }

  return {
    /** The topic a replay writes to (default: the type's own topic) and its partition count. */
    async replayTargetTopic({
      eventType,
      topic,
    }: {
      eventType: string;
      topic?: string;
    }): Promise<{ topic: string; partitions: number }> {
      const name = topic ?? typeOf(eventType).topic;
      const meta = await admin.metadata({ topics: [name] });
      const n = meta.topics.get(name)?.partitionsCount;
      if (!n) throw invalidInput(`topic ${name} does not exist`);
      return { topic: name, partitions: n };
    },

    /** Resolves the replay's bounds to offset ranges per partition (times via ListOffsets). */
    async planKafkaReplay(input: PlanKafkaReplayInput): Promise<OffsetRange[]> {
      const t = typeOf(input.eventType);
      const meta = await admin.metadata({ topics: [t.topic] });
      const n = meta.topics.get(t.topic)?.partitionsCount ?? 0;
      const bounds = await Promise.all(
        Array.from({ length: n }, (_, p) => partitionBounds(admin, t.topic, p)),
      );
      const resolve = async (
        what: string,
        v: string | Record<string, string> | undefined,
        fallback: (p: number) => bigint,
      ): Promise<bigint[]> => {
        if (v === undefined) return bounds.map((_, p) => fallback(p));
        if (typeof v === 'string') return offsetsAt(t.topic, n, parseTime(what, v));
        return bounds.map((_, p) => {
          const o = v[String(p)];
          if (o === undefined) return fallback(p);
          if (!/^\d+$/.test(o)) throw invalidInput(`${what}.${p}: ${JSON.stringify(o)} is not an offset`);
          return BigInt(o);
        });
      };
      const from = await resolve('from', input.from, (p) => bounds[p]!.earliest);
      // A partition left out of an offset map for `to` replays nothing.
      const to = await resolve('to', input.to, (p) =>
        typeof input.to === 'object' ? from[p]! : bounds[p]!.latest,
      );
      return bounds.map((b, p) => {
        let f = from[p]!;
        let e = to[p]!;
        if (f < b.earliest) {
          deps.logger.warn(
            { eventType: t.name, partition: p, from: f.toString(), earliest: b.earliest.toString() },
            'replay starts before the earliest offset still on the broker: starting there',
          );
          f = b.earliest;
        }
        if (e > b.latest) e = b.latest;
        if (e < f) e = f;
        return { partition: p, from: f.toString(), to: e.toString() };
      });
    },

    /** Replays up to `maxRecords` of [position, to) of one partition in one transaction. */
    async replayKafkaChunk(input: ReplayKafkaInput): Promise<ReplayChunkResult> {
      const t = typeOf(input.eventType);
      const ctx = Context.current();
      const group = replayGroup(input.replayId);
      const end = BigInt(input.to);
      const committed = await stableCommittedOffset(admin, group, t.topic, input.partition);
      const from = committed !== undefined && committed > BigInt(input.from) ? committed : BigInt(input.from);
      if (from >= end) return { position: from.toString(), records: 0, alreadyDone: true };
      const planned = end - from > BigInt(input.maxRecords) ? from + BigInt(input.maxRecords) : end;
      const targetPartitions = (await admin.metadata({ topics: [input.targetTopic] })).topics.get(
        input.targetTopic,
      )?.partitionsCount;
      if (!targetPartitions) throw invalidInput(`topic ${input.targetTopic} does not exist`);
      const messages: TxnMessage[] = [];
      let bytes = 0;
      let stop = planned;
      outer: for await (const chunk of readRange(reader, {
        topic: t.topic,
        partition: input.partition,
        from,
        to: planned,
      })) {
        ctx.heartbeat({ offset: chunk[chunk.length - 1]?.offset.toString() });
        for (const r of chunk) {
          const size = (r.value?.length ?? 0) + (r.key?.length ?? 0);
          if (messages.length > 0 && bytes + size > MAX_CHUNK_BYTES) {
            stop = r.offset;
            break outer;
          }
          bytes += size;
          messages.push({
            topic: input.targetTopic,
            partition: r.key?.length
              ? partitionForKey(r.key, targetPartitions)
              : input.partition % targetPartitions,
            key: r.key ?? undefined,
            value: r.value ?? Buffer.alloc(0),
            headers: { ...r.headers, ce_replay: input.replayId },
          });
        }
      }
      await sendInTransaction(partitionTxnId(input.replayId, input.partition), messages, {
        groupId: group,
        topic: t.topic,
        partition: input.partition,
        next: stop,
      });
      return { position: stop.toString(), records: messages.length, alreadyDone: false };
    },

    /** Keys of the archive's objects of one UTC hour, every schema version, sorted. */
    async listArchiveHour({ eventType, hour }: ListArchiveInput): Promise<string[]> {
      const t = typeOf(eventType);
      const iso = new Date(Number(parseTime('hour', hour))).toISOString();
      const [dt, hr] = [iso.slice(0, 10), iso.slice(11, 13)];
      const list = async (
        prefix: string,
        delimiter?: string,
      ): Promise<{ keys: string[]; prefixes: string[] }> => {
        const keys: string[] = [];
        const prefixes: string[] = [];
        let token: string | undefined;
        do {
          const page = await deps.s3.send(
            new ListObjectsV2Command({
              Bucket: config.s3.bucket,
              Prefix: prefix,
              ContinuationToken: token,
              ...(delimiter ? { Delimiter: delimiter } : {}),
            }),
          );
          for (const o of page.Contents ?? []) if (o.Key?.endsWith('.parquet')) keys.push(o.Key);
          for (const p of page.CommonPrefixes ?? []) if (p.Prefix) prefixes.push(p.Prefix);
          token = page.NextContinuationToken;
        } while (token);
        return { keys, prefixes };
      };
      const versions = (await list(`events/${t.name}/`, '/')).prefixes.filter((p) => /\/v=\d+\/$/.test(p));
      const keys: string[] = [];
      for (const v of versions) keys.push(...(await list(`${v}dt=${dt}/hr=${hr}/`)).keys);
      return keys.sort();
    },

    /** One archived file → the target topic, in one transaction with its lane's marker. */
    async replayFile(input: ReplayFileInput): Promise<ReplayFileResult> {
      const t = typeOf(input.eventType);
      const ctx = Context.current();
      const group = replayGroup(input.replayId);
      const marker = await stableCommittedOffset(admin, group, input.targetTopic, input.lane);
      if (marker !== undefined && marker > BigInt(input.ordinal)) return { records: 0, alreadyDone: true };
      const targetPartitions = (await admin.metadata({ topics: [input.targetTopic] })).topics.get(
        input.targetTopic,
      )?.partitionsCount;
      if (!targetPartitions) throw invalidInput(`topic ${input.targetTopic} does not exist`);
      const fromMs = Number(parseTime('from', input.from));
      const toMs = Number(parseTime('to', input.to));

      const dir = await mkdtemp(join(tmpdir(), 'sluice-replay-'));
      let rows: Record<string, unknown>[];
      try {
        const obj = await deps.s3.send(new GetObjectCommand({ Bucket: config.s3.bucket, Key: input.key }));
        const file = join(dir, 'segment.parquet');
        await writeFile(file, await obj.Body!.transformToByteArray());
        ctx.heartbeat({ downloaded: input.key });
        const db = await DuckDBInstance.create(':memory:');
        const conn = await db.connect();
        try {
          // TIMESTAMPTZ is printed in the session's zone: make it UTC (needs ICU; without it, it is).
          await conn.run(`SET TimeZone = 'UTC'`).catch(() => undefined);
          const reader = await conn.runAndReadAll(
            `SELECT * FROM read_parquet('${file.replaceAll("'", "''")}') ORDER BY _kafka_partition, _kafka_offset`,
          );
          rows = reader.getRowObjectsJson();
        } finally {
          conn.closeSync();
          db.closeSync();
        }
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
      const messages: TxnMessage[] = [];
      for (const row of rows) {
        const e = archivedEvent(t, row);
        if (e.eventTimeMs < fromMs || e.eventTimeMs >= toMs) continue;
        const key = e.envelope.partitionkey === undefined ? undefined : Buffer.from(e.envelope.partitionkey);
        messages.push({
          topic: input.targetTopic,
          partition: key ? partitionForKey(key, targetPartitions) : e.partition % targetPartitions,
          key,
          value: Buffer.from(JSON.stringify(e.payload)),
          headers: { ...envelopeHeaders(e.envelope), ce_replay: input.replayId },
        });
      }
      await sendInTransaction(laneTxnId(input.replayId, input.lane), messages, {
        groupId: group,
        topic: input.targetTopic,
        partition: input.lane,
        next: BigInt(input.ordinal) + 1n,
      });
      return { records: messages.length, alreadyDone: false };
    },

    /** Closes the transactional producers of a finished (or cancelled) replay in this worker. */
    async finishReplay({ replayId }: { replayId: string }): Promise<void> {
      await deps.txn.discardPrefix(`sluice.replay.${replayId}.`);
    },
  };
}

export type ReplayActivities = ReturnType<typeof createReplayActivities>;
