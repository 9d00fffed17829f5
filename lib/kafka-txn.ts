// Kafka transactions for exactly-once "read a range, write records, move the position" steps (the
// raw-event router and replays). The records written and the consumer-group offset that says how
// far the input was read commit in one transaction, so either both are visible or neither is.
//
// One transactional id per unit of work that must never run twice at once (a raw partition, a
// replay lane): InitProducerId on that id bumps its epoch, which aborts a transaction a dead or
// stalled worker left open and fences that worker ("zombie") from committing later.
import {
  type Admin,
  FindCoordinatorKeyTypes,
  Producer,
  type Consumer,
  type Message,
  type MessageToProduce,
} from '@platformatic/kafka';
import type { Config } from './config.js';
import { kafkaOptions } from './kafka.js';

export type TxnProducer = Producer<Buffer, Buffer, string, string>;
export type TxnMessage = MessageToProduce<Buffer, Buffer, string, string>;

/** How long the coordinator lets a transaction stay open before aborting it itself. */
const TRANSACTION_TIMEOUT_MS = 60_000;
/** Records per Produce request inside one transaction. */
const SEND_CHUNK = 2000;

export function createTransactionalProducer(config: Config, transactionalId: string): TxnProducer {
  return new Producer({
    ...kafkaOptions(config, 'txn'),
    idempotent: true,
    transactionalId,
    // Sent as the transaction timeout by InitProducerId (and as the produce timeout).
    timeout: TRANSACTION_TIMEOUT_MS,
    // -1/-1 asks for a fresh epoch whatever this id had before. @platformatic/kafka otherwise
    // sends 0/0, which the broker (KIP-360) answers with PRODUCER_FENCED for an id used before,
    // so a restarted worker could never take its transactional id back.
    producerId: -1n,
    producerEpoch: -1,
    serializers: {
      key: (k?: Buffer) => k,
      value: (v?: Buffer) => v,
      headerKey: (k?: string) => (k === undefined ? undefined : Buffer.from(k)),
      headerValue: (v?: string) => (v === undefined ? undefined : Buffer.from(v)),
    },
  });
}

/**
 * One producer per transactional id, made on first use. A producer whose transaction failed is
 * closed and forgotten: the next use makes a new one, whose InitProducerId aborts whatever the
 * failed one left open.
 */
export class TransactionalProducers {
  readonly #producers = new Map<string, TxnProducer>();

  constructor(
    private readonly config: Config,
    private readonly admin: Admin,
  ) {}

  get(transactionalId: string): TxnProducer {
    let p = this.#producers.get(transactionalId);
    if (!p) {
      p = createTransactionalProducer(this.config, transactionalId);
      this.#producers.set(transactionalId, p);
    }
    return p;
  }

  async discard(transactionalId: string): Promise<void> {
    const p = this.#producers.get(transactionalId);
    this.#producers.delete(transactionalId);
    if (p) await Promise.resolve(p.close(true)).catch(() => undefined);
  }

  /** Closes the producers no longer needed (a finished replay's lanes). */
  async discardPrefix(prefix: string): Promise<void> {
    for (const id of [...this.#producers.keys()]) if (id.startsWith(prefix)) await this.discard(id);
  }

  /**
   * Sends `messages` and commits `offset.next` as the group's position of (topic, partition), in
   * one transaction. Throws (after aborting) when anything fails; the caller's retry starts over.
   */
  async commitWithOffset(
    transactionalId: string,
    messages: TxnMessage[],
    offset: { groupId: string; topic: string; partition: number; next: bigint },
    heartbeat: () => void = () => undefined,
  ): Promise<void> {
    const producer = this.get(transactionalId);
    const [coordinator] = await this.admin.findCoordinator({
      keyType: FindCoordinatorKeyTypes.GROUP,
      keys: [offset.groupId],
    });
    if (!coordinator) throw new Error(`no group coordinator for ${offset.groupId}`);
    let tx;
    try {
      tx = await producer.beginTransaction();
      for (let i = 0; i < messages.length; i += SEND_CHUNK) {
        await tx.send({ messages: messages.slice(i, i + SEND_CHUNK) });
        heartbeat();
      }
      // AddOffsetsToTxn only reads the group id; TxnOffsetCommit commits `offset + 1` of the
      // message, with generation -1 and no member: the group never joins (a "simple" group).
      await tx.addConsumer({ groupId: offset.groupId } as Consumer);
      await tx.addOffset({
        topic: offset.topic,
        partition: offset.partition,
        offset: offset.next - 1n,
        metadata: {
          consumer: {
            groupId: offset.groupId,
            generationId: -1,
            memberId: '',
            coordinatorId: coordinator.nodeId,
          },
        },
      } as unknown as Message);
      await tx.commit();
    } catch (err) {
      if (tx && !tx.completed) await tx.abort().catch(() => undefined);
      await this.discard(transactionalId);
      throw err;
    }
  }

  async close(): Promise<void> {
    await Promise.allSettled([...this.#producers.keys()].map((id) => this.discard(id)));
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The group's committed offset of one partition, waiting while a transactional commit of it is
 * still being completed (requireStable: the broker answers UNSTABLE_OFFSET_COMMIT meanwhile), so
 * a retry right after a commit sees it and does not repeat the range.
 */
export async function stableCommittedOffset(
  admin: Admin,
  groupId: string,
  topic: string,
  partition: number,
  timeoutMs = 30_000,
): Promise<bigint | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const [group] = await admin.listConsumerGroupOffsets({
        groups: [{ groupId, topics: [{ name: topic, partitionIndexes: [partition] }] }],
        requireStable: true,
      });
      const p = group?.topics
        .find((t) => t.name === topic)
        ?.partitions.find((x) => x.partitionIndex === partition);
      return p && p.committedOffset >= 0n ? p.committedOffset : undefined;
    } catch (err) {
      if (!/UNSTABLE_OFFSET_COMMIT|unstable offset/i.test(describe(err)) || Date.now() > deadline) throw err;
      await sleep(200);
    }
  }
}

function describe(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const nested = (err as Error & { errors?: unknown[] }).errors ?? [];
  return [
    err.message,
    ...nested.map((e) => {
      const x = e as { message?: string; apiId?: string };
      return `${x.apiId ?? ''} ${x.message ?? ''}`;
    }),
  ].join('; ');
}
