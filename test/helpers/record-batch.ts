// Record batches as a producer writes them (the client's own writer, @platformatic/kafka
// createRecordsBatch), for tests of lib/kafka-records.ts and of what reads its records.
import { createRecordsBatch, type CompressionAlgorithmValue } from '@platformatic/kafka';
import { parseRecordBatches, type HeaderPair, type RawRangeRecord } from '../../lib/kafka-records.js';

export interface BatchRecord {
  key?: Buffer | null;
  value: Buffer | null;
  headers?: HeaderPair[];
  timestamp?: bigint;
}

export interface BatchOptions {
  baseOffset?: bigint;
  compression?: CompressionAlgorithmValue;
  /** Written inside a transaction of this producer. */
  transactionalProducerId?: bigint;
}

/** One v2 record batch starting at `baseOffset`. */
export function recordBatch(records: BatchRecord[], opts: BatchOptions = {}): Buffer {
  const messages = records.map((r) => ({
    topic: 't',
    key: r.key ?? undefined,
    value: r.value ?? undefined,
    timestamp: r.timestamp ?? 1_764_000_000_000n,
    headers: new Map<Buffer | null, Buffer | null>(r.headers ?? []),
  }));
  const writer = createRecordsBatch(messages as never, {
    compression: opts.compression ?? 'none',
    ...(opts.transactionalProducerId !== undefined
      ? { transactionalId: 'tx', producerId: opts.transactionalProducerId }
      : {}),
  });
  const bytes = Buffer.from(writer.dynamicBuffer.buffer);
  bytes.writeBigInt64BE(opts.baseOffset ?? 0n, 0);
  return bytes;
}

/** A transaction marker (control batch) of `producerId` at `offset`: commit or abort. */
export function controlBatch(offset: bigint, producerId: bigint, kind: 'commit' | 'abort'): Buffer {
  const key = Buffer.alloc(4);
  key.writeInt16BE(0, 0);
  key.writeInt16BE(kind === 'commit' ? 1 : 0, 2);
  const value = Buffer.alloc(6); // version, coordinator epoch
  const bytes = recordBatch([{ key, value }], { baseOffset: offset, transactionalProducerId: producerId });
  // Attributes at byte 21: set the control bit; the CRC is not checked by readers here.
  bytes.writeInt16BE(bytes.readInt16BE(21) | 0x20, 21);
  return bytes;
}

/** One record with these headers, as the pipeline's reader gives it. */
export function rawRecord(
  headers: HeaderPair[],
  value: Buffer | null = Buffer.from('{}'),
  offset = 0n,
): RawRangeRecord {
  const batch = recordBatch([{ value, headers }], { baseOffset: offset });
  const [record] = parseRecordBatches(batch, offset, offset + 1n).records;
  return record!;
}
