// Partition choice that matches the Java producer, so Sluice and Java services writing the same
// keys to the same topic agree on partitions (and therefore on per-key ordering).

const SEED = 0x9747b28c;
const M = 0x5bd1e995;

/**
 * Kafka's murmur2 (`org.apache.kafka.common.utils.Utils.murmur2`), as a signed 32-bit int.
 *
 * Not @platformatic/kafka's `murmur2`: it gives the same results, but its BigInt state is never
 * truncated, so its cost grows with the square of the key length (≈8 ms for a 16 KiB key), and
 * partition keys come from HTTP clients. Math.imul keeps this linear.
 */
export function murmur2(key: Buffer): number {
  const length = key.length;
  let h = SEED ^ length;
  const bodyEnd = length - (length & 3);
  for (let i = 0; i < bodyEnd; i += 4) {
    let k = key.readInt32LE(i);
    k = Math.imul(k, M);
    k ^= k >>> 24;
    k = Math.imul(k, M);
    h = Math.imul(h, M);
    h ^= k;
  }
  // Java's tail is a fall-through switch (bytes masked with 0xff, hence readUInt8).
  const tail = length & 3;
  if (tail > 0) {
    if (tail === 3) h ^= key.readUInt8(bodyEnd + 2) << 16;
    if (tail >= 2) h ^= key.readUInt8(bodyEnd + 1) << 8;
    h ^= key.readUInt8(bodyEnd);
    h = Math.imul(h, M);
  }
  h ^= h >>> 13;
  h = Math.imul(h, M);
  h ^= h >>> 15;
  return h;
}

/**
 * The Java client's partition for a keyed record:
 * `BuiltInPartitioner.partitionForKey` = `Utils.toPositive(Utils.murmur2(key)) % numPartitions`.
 */
export function partitionForKey(key: Buffer, numPartitions: number): number {
  checkPartitionCount(numPartitions);
  // toPositive masks the sign bit rather than taking the absolute value (or `>>> 0`).
  return (murmur2(key) & 0x7fffffff) % numPartitions;
}

/**
 * Partitions for keyless records, as in KIP-480 (Java's StickyPartitionCache): each topic keeps
 * one partition until its batch is closed, so batches fill up instead of spreading a few records
 * over every partition; `onNewBatch` then moves the topic to another partition chosen at random.
 */
export class StickyPartitioner {
  readonly #sticky = new Map<string, number>();
  readonly #random: () => number;

  /** `random` must return values in [0, 1), like Math.random; tests inject a seeded one. */
  constructor(random: () => number = Math.random) {
    this.#random = random;
  }

  /** The topic's current sticky partition, choosing one on first use. */
  partition(topic: string, numPartitions: number): number {
    checkPartitionCount(numPartitions);
    const current = this.#sticky.get(topic);
    // Out of range only if the count we are given went down (stale metadata): choose again.
    if (current !== undefined && current < numPartitions) return current;
    const chosen = this.#randomIndex(numPartitions);
    this.#sticky.set(topic, chosen);
    return chosen;
  }

  /**
   * A batch for `topic` was closed: move to a random partition other than the current one (when
   * there is more than one). A raised partition count takes effect here, since a new batch can
   * go to any partition. With `closedPartition`, nothing changes unless the closed batch was on the
   * sticky partition, as in Java (a batch filled by keyed records elsewhere must not move it).
   */
  onNewBatch(topic: string, numPartitions: number, closedPartition?: number): void {
    checkPartitionCount(numPartitions);
    const current = this.#sticky.get(topic);
    if (current !== undefined && closedPartition !== undefined && closedPartition !== current) return;
    if (current === undefined || current >= numPartitions || numPartitions === 1) {
      this.#sticky.set(topic, this.#randomIndex(numPartitions));
      return;
    }
    // Choose uniformly among the other numPartitions - 1, with one draw: Java's retry loop would
    // never end with a random source that keeps returning the same value.
    const other = this.#randomIndex(numPartitions - 1);
    this.#sticky.set(topic, other >= current ? other + 1 : other);
  }

  #randomIndex(n: number): number {
    const r = this.#random();
    if (!(r >= 0 && r < 1)) throw new RangeError(`random source must return a number in [0, 1), got ${r}`);
    // r * n can round up to n when r is just below 1.
    return Math.min(Math.floor(r * n), n - 1);
  }
}

function checkPartitionCount(numPartitions: number): void {
  if (!Number.isInteger(numPartitions) || numPartitions < 1)
    throw new RangeError(`numPartitions must be a positive integer, got ${numPartitions}`);
}
