// What the pipeline activities take and return: small references (offsets as decimal strings,
// object keys), never record data, so workflow history stays small.

export interface PartitionRef {
  eventType: string;
  partition: number;
}

export interface PlanInput extends PartitionRef {
  /** Durable position: the next offset to move, as a decimal string (offsets are 64-bit). */
  from: string;
  /** Flush whatever is waiting now (flushNow signal, or draining). */
  force: boolean;
  /** How long to long-poll for enough records before answering "nothing yet". */
  maxWaitMs: number;
}

export interface SegmentPlan {
  /** Where the segment starts; later than the input when retention deleted the records before it. */
  from: string;
  /** Exclusive end; equal to `from` when there is nothing to move yet. */
  to: string;
  highWatermark: string;
  /** Set when records between the input `from` and the new `from` were deleted before being moved. */
  dataLoss?: { lostFrom: string; lostTo: string };
}

export interface WriteInput extends PartitionRef {
  from: string;
  to: string;
}

export interface SegmentObject {
  key: string;
  rows: number;
  bytes: number;
  schemaVersion: number;
  etag: string;
}

export interface SegmentRef {
  /** The end this segment really covers (a byte limit may stop it before the planned `to`). */
  to: string;
  objects: SegmentObject[];
  rows: number;
  bytes: number;
  rejected: number;
  /**
   * Rows read with JSON.parse + ajv because the JSON row reader gave up on them (escapes, number
   * spellings…), cannot read the schema, or is off (pipeline.fastJsonReader). Absent in the results
   * of segments written before it was counted.
   */
  exactPathRows?: number;
  minEventTime?: string;
  maxEventTime?: string;
}

export interface CommitInput extends PartitionRef {
  offset: string;
}

export interface NotifyInput {
  eventType: string;
  objects: SegmentObject[];
}
