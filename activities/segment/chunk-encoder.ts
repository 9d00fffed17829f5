// One segment encoded from the undecoded fetches of its offset range (lib/kafka.ts RangeChunk):
// the batches are decoded here, record by record into the SegmentEncoder, and the segment is cut
// at the type's byte limit. The same code runs on the activity's thread or on an encode thread
// (encode-pool.ts), so both give the same files.
import type { AbortedTransaction } from '../../lib/kafka-records.js';
import { recordBatches } from '../../lib/kafka-records.js';
import { Lz4Scratch } from '../../lib/lz4-scratch.js';
import { SegmentEncoder, type EncodedSegment, type SegmentEncoderOptions } from './encode.js';

/** What a chunk of a range brings: record batches and the part of the range they cover. */
export interface ChunkInput {
  data: Uint8Array;
  from: bigint;
  to: bigint;
  aborted: AbortedTransaction[];
}

export interface ChunkProgress {
  /** Records taken so far (rejected ones included). */
  records: number;
  /** The last offset taken, if any. */
  lastOffset?: bigint;
  /** Set once the byte limit cut the segment: the first offset left for the next segment. */
  cutAt?: bigint;
}

export interface ChunkEncoderOptions extends SegmentEncoderOptions {
  /** Key + value bytes of one segment (the type's flush.maxBytes); at least one record is taken. */
  maxBytes: number;
}

// Per thread: a batch's records are appended (or copied, when rejected) before the next is decoded.
const lz4 = new Lz4Scratch();

export class ChunkEncoder {
  private readonly encoder: SegmentEncoder;
  private bytes = 0;
  private lastOffset: bigint | undefined;
  private cutAt: bigint | undefined;

  constructor(private readonly options: ChunkEncoderOptions) {
    this.encoder = new SegmentEncoder(options);
  }

  /** Decodes and encodes the chunk's records of [from, to), up to the byte limit. */
  add(chunk: ChunkInput): ChunkProgress {
    if (this.cutAt === undefined) {
      const data = Buffer.from(chunk.data.buffer, chunk.data.byteOffset, chunk.data.byteLength);
      // The byte limit cuts at a record boundary; offsets never change, so a retry cuts at the same place.
      outer: for (const batch of recordBatches(data, chunk.from, chunk.to, chunk.aborted, lz4)) {
        for (const r of batch) {
          const size = (r.value?.length ?? 0) + (r.key?.length ?? 0);
          if (this.encoder.records > 0 && this.bytes + size > this.options.maxBytes) {
            this.cutAt = r.offset;
            break outer;
          }
          this.encoder.add(r);
          this.bytes += size;
          this.lastOffset = r.offset;
        }
      }
    }
    return {
      records: this.encoder.records,
      ...(this.lastOffset !== undefined ? { lastOffset: this.lastOffset } : {}),
      ...(this.cutAt !== undefined ? { cutAt: this.cutAt } : {}),
    };
  }

  finish(): EncodedSegment {
    return this.encoder.finish();
  }
}
