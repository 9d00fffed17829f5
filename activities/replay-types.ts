// What the raw-router and replay activities take and return: offsets (decimal strings), object
// keys and counts, never records, so workflow history stays small.

export interface RawPlanInput {
  app: string;
  /** Next offset to route, per partition of raw.<app> (decimal strings). */
  positions: Record<string, string>;
  /** Records per routed range (one Kafka transaction). */
  maxRecords: number;
  /** How long to long-poll when no partition has anything to route. */
  maxWaitMs: number;
}

export interface RawRange {
  partition: number;
  /** Where the range starts; later than the position when retention deleted records first. */
  from: string;
  /** Exclusive; equal to `from` when nothing waits. */
  to: string;
  /** Last stable offset of the partition. */
  highWatermark: string;
  dataLoss?: { lostFrom: string; lostTo: string };
}

export interface RouteRangeInput {
  app: string;
  partition: number;
  from: string;
  to: string;
}

export interface RouteResult {
  /** The new position: the end of what was routed (a byte limit may stop before the planned end). */
  to: string;
  routed: number;
  rejected: number;
  /** The range was already committed by an earlier attempt: nothing was written. */
  alreadyDone: boolean;
}

/** Offsets of one partition of the replayed topic, [from, to). */
export interface OffsetRange {
  partition: number;
  from: string;
  to: string;
}

export interface PlanKafkaReplayInput {
  eventType: string;
  /** RFC 3339 time, or partition → offset. */
  from?: string | Record<string, string>;
  /** RFC 3339 time, or partition → offset (exclusive); default: the end when the replay starts. */
  to?: string | Record<string, string>;
}

export interface ReplayKafkaInput {
  replayId: string;
  eventType: string;
  partition: number;
  /** The end of this partition's whole range; one call replays at most `maxRecords` of it. */
  from: string;
  to: string;
  targetTopic: string;
  maxRecords: number;
}

export interface ReplayChunkResult {
  /** Position after this call (committed with the records). */
  position: string;
  records: number;
  alreadyDone: boolean;
}

export interface ListArchiveInput {
  eventType: string;
  /** Start of one UTC hour, RFC 3339. */
  hour: string;
}

export interface ReplayFileInput {
  replayId: string;
  eventType: string;
  key: string;
  /** Position of the file in the replay's file order, and the lane that replays it. */
  ordinal: number;
  lane: number;
  targetTopic: string;
  /** Only rows with from ≤ _event_time < to are replayed (RFC 3339). */
  from: string;
  to: string;
}

export interface ReplayFileResult {
  records: number;
  alreadyDone: boolean;
}
