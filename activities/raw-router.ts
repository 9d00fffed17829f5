// Side effects of the raw-event router: raw.<app> → events.<type> (validated, with the envelope the
// proxy writes) or a dead-letter topic. Exactly once per offset range: the routed records and the
// position of the consumer group sluice.raw.<app> commit in one Kafka transaction, whose
// transactional id is per (app, partition); a retry first reads the committed position.
import { Context } from '@temporalio/activity';
import type { Admin } from '@platformatic/kafka';
import type { Config } from '../lib/config.js';
import { partitionBounds, readRange, type RangeRecord } from '../lib/kafka.js';
import type { RangeReader } from '../lib/kafka-fetch.js';
import { stableCommittedOffset, type TransactionalProducers, type TxnMessage } from '../lib/kafka-txn.js';
import type { Logger } from '../lib/logger.js';
import { murmur2, partitionForKey } from '../proxy/partitioner.js';
import type { Catalog } from '../schemas/catalog.js';
import type { EventValidator } from '../schemas/validator.js';
import { invalidOffsetRange } from './errors.js';
import { routeRawRecord } from './raw-route.js';
import type { RawPlanInput, RawRange, RouteRangeInput, RouteResult } from './replay-types.js';

export interface RawRouterDeps {
  config: Config;
  catalog: Catalog;
  validator: EventValidator;
  admin: Admin;
  reader: RangeReader;
  txn: TransactionalProducers;
  logger: Logger;
}

export const rawTopic = (app: string): string => `raw.${app}`;
export const rawGroup = (app: string): string => `sluice.raw.${app}`;
export const rawTransactionalId = (app: string, partition: number): string =>
  `sluice.raw-router.${app}.p${partition}`;

/** Bytes of raw records routed in one transaction at most. */
const MAX_RANGE_BYTES = 16 * 1024 * 1024;

async function partitionCounts(admin: Admin, topics: string[]): Promise<Map<string, number>> {
  const out = new Map<string, number>();
  if (topics.length === 0) return out;
  const meta = await admin.metadata({ topics });
  for (const t of topics) {
    const n = meta.topics.get(t)?.partitionsCount;
    if (!n) throw new Error(`topic ${t} does not exist: run npm run apply`);
    out.set(t, n);
  }
  return out;
}

export function createRawRouterActivities(deps: RawRouterDeps) {
  const { admin, reader } = deps;

  return {
    async rawPartitionCount({ app }: { app: string }): Promise<number> {
      const meta = await admin.metadata({ topics: [rawTopic(app)] });
      return meta.topics.get(rawTopic(app))?.partitionsCount ?? 0;
    },

    /** Where routing starts: the committed position of sluice.raw.<app>, else the earliest offset. */
    async rawPosition({ app, partition }: { app: string; partition: number }): Promise<string> {
      const committed = await stableCommittedOffset(admin, rawGroup(app), rawTopic(app), partition);
      if (committed !== undefined) return committed.toString();
      return (await partitionBounds(admin, rawTopic(app), partition)).earliest.toString();
    },

    /**
     * The next range of every partition, returned as soon as one has records (or at the deadline):
     * one long-poll for the whole app, so an idle app holds one activity slot, not one per partition.
     */
    async planRoutes(input: RawPlanInput): Promise<RawRange[]> {
      const topic = rawTopic(input.app);
      const deadline = Date.now() + input.maxWaitMs;
      for (;;) {
        Context.current().heartbeat();
        const ranges: RawRange[] = [];
        for (const [p, position] of Object.entries(input.positions)) {
          const partition = Number(p);
          let from = BigInt(position);
          const { earliest, latest } = await partitionBounds(admin, topic, partition);
          let dataLoss: RawRange['dataLoss'];
          if (from < earliest) {
            dataLoss = { lostFrom: from.toString(), lostTo: earliest.toString() };
            deps.logger.error(
              { app: input.app, partition, ...dataLoss },
              'DATA LOSS: raw records deleted by retention before they were routed',
            );
            from = earliest;
          }
          if (from > latest)
            throw invalidOffsetRange(`${topic}/${partition}: position ${from} is past the end ${latest}`);
          const to = latest - from > BigInt(input.maxRecords) ? from + BigInt(input.maxRecords) : latest;
          ranges.push({
            partition,
            from: from.toString(),
            to: to.toString(),
            highWatermark: latest.toString(),
            ...(dataLoss ? { dataLoss } : {}),
          });
        }
        if (ranges.some((r) => r.to !== r.from || r.dataLoss) || Date.now() >= deadline) return ranges;
        await Context.current().sleep(Math.min(250, Math.max(50, deadline - Date.now())));
      }
    },

    /** Routes [from, to) of one raw partition in one transaction with the group's new position. */
    async routeRange(input: RouteRangeInput): Promise<RouteResult> {
      const { app, partition } = input;
      const topic = rawTopic(app);
      const ctx = Context.current();
      const planned = BigInt(input.to);
      const committed = await stableCommittedOffset(admin, rawGroup(app), topic, partition);
      if (committed !== undefined && committed >= planned)
        return { to: committed.toString(), routed: 0, rejected: 0, alreadyDone: true };
      // A position committed inside the range (another attempt went further) is where to go on.
      const from = committed !== undefined && committed > BigInt(input.from) ? committed : BigInt(input.from);

      const records: RangeRecord[] = [];
      let bytes = 0;
      let end = planned;
      outer: for await (const chunk of readRange(reader, { topic, partition, from, to: planned })) {
        ctx.heartbeat({ offset: chunk[chunk.length - 1]?.offset.toString() });
        for (const r of chunk) {
          const size = (r.value?.length ?? 0) + (r.key?.length ?? 0);
          if (records.length > 0 && bytes + size > MAX_RANGE_BYTES) {
            end = r.offset;
            break outer;
          }
          records.push(r);
          bytes += size;
        }
      }

      const decisions = records.map((r) =>
        routeRawRecord(deps.catalog, deps.validator, app, r, { partition }),
      );
      const counts = await partitionCounts(admin, [
        ...new Set(decisions.flatMap((d) => (d.ok ? [d.type.topic] : []))),
      ]);
      const messages: TxnMessage[] = [];
      let routed = 0;
      let rejected = 0;
      decisions.forEach((d, i) => {
        const r = records[i]!;
        if (d.ok) {
          const n = counts.get(d.type.topic)!;
          // Keyed: the Java partitioner, as the proxy does. Keyless: one partition per range
          // (the sticky idea: one batch), chosen from the range's position so a retry agrees.
          const p = d.key
            ? partitionForKey(d.key, n)
            : (murmur2(Buffer.from(`${topic}/${partition}/${from}`)) & 0x7fffffff) % n;
          messages.push({
            topic: d.type.topic,
            partition: p,
            key: d.key ?? undefined,
            value: d.value,
            headers: d.headers,
          });
          routed++;
          return;
        }
        rejected++;
        messages.push({
          topic: d.topic,
          // Keyed by position, so duplicates (if ever) are recognisable downstream.
          key: Buffer.from(`${topic}/${partition}/${r.offset}`),
          value: r.value ?? Buffer.alloc(0),
          headers: {
            ...r.headers,
            sluice_error_code: d.errorCode,
            sluice_error_message: d.message.slice(0, 4000),
            ...(d.errors ? { sluice_errors: JSON.stringify(d.errors).slice(0, 16_000) } : {}),
            ...(d.typeName ? { sluice_event_type: d.typeName } : {}),
            sluice_rejected_at: new Date().toISOString(),
            sluice_source_topic: topic,
            sluice_source_partition: String(partition),
            sluice_source_offset: r.offset.toString(),
          },
        });
      });
      if (ctx.cancellationSignal.aborted) throw ctx.cancellationSignal.reason;
      await deps.txn.commitWithOffset(
        rawTransactionalId(app, partition),
        messages,
        { groupId: rawGroup(app), topic, partition, next: end },
        () => ctx.heartbeat(),
      );
      return { to: end.toString(), routed, rejected, alreadyDone: false };
    },
  };
}

export type RawRouterActivities = ReturnType<typeof createRawRouterActivities>;
