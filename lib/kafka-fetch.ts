// Fetch requests for exact-range reads, answered with the record bytes left whole for
// lib/kafka-records.ts instead of the client's per-record objects. The request, the connection
// (TLS, SASL, timeouts) and the response header are the client's (@platformatic/kafka's Fetch v17
// request writer, ConnectionPool and Reader); only the COMPACT_RECORDS field is taken as bytes.
import {
  Consumer,
  ConnectionPool,
  createAPI,
  fetchV17,
  type Broker,
  type CallbackWithPromise,
  type ConsumerOptions,
  type Reader,
} from '@platformatic/kafka';
import type { AbortedTransaction } from './kafka-records.js';

export interface FetchedPartition {
  partitionIndex: number;
  errorCode: number;
  highWatermark: bigint;
  lastStableOffset: bigint;
  logStartOffset: bigint;
  abortedTransactions: AbortedTransaction[];
  /** The partition's record batches as one Buffer; undefined when there were none. */
  records: Buffer | undefined;
}

export interface FetchedResponse {
  errorCode: number;
  responses: { topicId: string; partitions: FetchedPartition[] }[];
}

/** The bytes of `pieces` in a Buffer that alone uses its ArrayBuffer (so it can be transferred). */
function ownCopy(pieces: readonly Buffer[], size: number): Buffer {
  const out = Buffer.allocUnsafeSlow(size);
  let at = 0;
  for (const p of pieces) at += p.copy(out, at);
  return out;
}

// The same fields, in the same order, as the client's fetch-v17 parseResponse.
function parseResponse(
  _correlationId: number,
  _apiKey: number,
  _apiVersion: number,
  reader: Reader,
): FetchedResponse {
  reader.readInt32(); // throttle_time_ms
  const errorCode = reader.readInt16();
  reader.readInt32(); // session_id
  const responses = reader.readArray((r) => ({
    topicId: r.readUUID(),
    partitions: r.readArray((r): FetchedPartition => {
      const partition: FetchedPartition = {
        partitionIndex: r.readInt32(),
        errorCode: r.readInt16(),
        highWatermark: r.readInt64(),
        lastStableOffset: r.readInt64(),
        logStartOffset: r.readInt64(),
        abortedTransactions: r.readArray((r) => ({ producerId: r.readInt64(), firstOffset: r.readInt64() })),
        records: undefined,
      };
      r.readInt32(); // preferred_read_replica
      // COMPACT_RECORDS: length + 1. One copy into a Buffer of its own (the response arrives in
      // socket-sized pieces); records are views of it from here on, and an encode thread can be
      // handed its memory without another copy (encode-pool.ts).
      const size = r.readUnsignedVarInt() - 1;
      if (size > 0) {
        partition.records = ownCopy(r.buffer.subarray(r.position, r.position + size).buffers, size);
        r.skip(size);
      }
      return partition;
    }),
  }));
  return { errorCode, responses };
}

const fetchApi = createAPI<Parameters<typeof fetchV17.createRequest>, FetchedResponse>(
  1,
  17,
  fetchV17.createRequest,
  parseResponse,
);

export interface PartitionFetch {
  broker: Broker;
  topicId: string;
  partition: number;
  leaderEpoch: number;
  offset: bigint;
  maxBytes: number;
  maxWaitMs: number;
  isolationLevel: number;
}

/**
 * A consumer for exact-range reads (metadata, offsets) that also sends its own Fetch requests on a
 * connection pool of its own, closed with it. It never joins its consumer group.
 */
export class RangeReader extends Consumer<Buffer, Buffer, Buffer, Buffer> {
  readonly #pool: ConnectionPool;

  constructor(options: ConsumerOptions<Buffer, Buffer, Buffer, Buffer>) {
    super(options);
    this.#pool = new ConnectionPool(options.clientId, options);
  }

  /** One Fetch of one partition; a broken connection is tried once more on a new one. */
  async fetchPartition(f: PartitionFetch): Promise<FetchedPartition | undefined> {
    const send = async (): Promise<FetchedResponse> => {
      const connection = await this.#pool.get(f.broker);
      return fetchApi.async(
        connection,
        f.maxWaitMs,
        1,
        f.maxBytes,
        f.isolationLevel,
        0,
        -1,
        [
          {
            topicId: f.topicId,
            partitions: [
              {
                partition: f.partition,
                currentLeaderEpoch: f.leaderEpoch,
                fetchOffset: f.offset,
                lastFetchedEpoch: -1,
                partitionMaxBytes: f.maxBytes,
              },
            ],
          },
        ],
        [],
        '',
      );
    };
    let response: FetchedResponse;
    try {
      response = await send();
    } catch (err) {
      if (!isNetworkError(err)) throw err;
      response = await send();
    }
    if (response.errorCode !== 0) throw new Error(`Fetch failed with Kafka error code ${response.errorCode}`);
    return response.responses[0]?.partitions.find((p) => p.partitionIndex === f.partition);
  }

  override close(force: boolean | CallbackWithPromise<void>, callback?: CallbackWithPromise<void>): void;
  override close(force?: boolean): Promise<void>;
  override close(
    force?: boolean | CallbackWithPromise<void>,
    callback?: CallbackWithPromise<void>,
  ): void | Promise<void> {
    const closing = this.#pool.close().catch(() => undefined);
    // close(callback) and close(force, callback): answer the callback once both are closed.
    const done = typeof force === 'function' ? force : callback;
    if (done) {
      super.close(typeof force === 'boolean' ? force : false, (err) => {
        void closing.then(() => done(err));
      });
      return;
    }
    // The promise form of the consumer's close (a boolean alone matches its callback overload).
    const closeConsumer = super.close.bind(this) as (force?: boolean) => Promise<void>;
    return Promise.all([closeConsumer(force === true), closing]).then(() => undefined);
  }
}

function isNetworkError(err: unknown): boolean {
  const code = (err as { code?: string }).code ?? '';
  return /NETWORK|ECONNRESET|EPIPE|ECONNREFUSED|ETIMEDOUT/.test(code) || /closed|socket/i.test(String(err));
}
