import { defineQuery, defineSignal } from '@temporalio/workflow';

export interface PartitionStatus {
  partition: number;
  state: 'running' | 'paused' | 'draining' | 'drained';
  /** Next offset to move (durable: committed with the segment that ended there). */
  position: string;
  highWatermark: string;
  lag: string;
  lastSegment?: {
    from: string;
    to: string;
    objects: string[];
    rows: number;
    rejected: number;
    /** Of `rows`, read with JSON.parse + ajv instead of the JSON row reader (see SegmentRef). */
    exactPathRows: number;
    at: string;
  };
  /** Rows per second over the last segment. */
  rate: number;
  segments: number;
  rows: number;
  dataLossEvents: number;
}

/** A partition that has moved nothing yet, positioned at `position`. */
export function newPartitionStatus(partition: number, position: string): PartitionStatus {
  return {
    partition,
    state: 'running',
    position,
    highWatermark: position,
    lag: '0',
    rate: 0,
    segments: 0,
    rows: 0,
    dataLossEvents: 0,
  };
}

export interface PipelineStatus {
  eventType: string;
  paused: boolean;
  draining: boolean;
  partitions: PartitionStatus[];
}

export const pauseSignal = defineSignal('pause');
export const resumeSignal = defineSignal('resume');
export const flushNowSignal = defineSignal('flushNow');
export const drainSignal = defineSignal('drain');
/** Sent by each partition pipeline to its parent after every segment. */
export const progressSignal = defineSignal<[PartitionStatus]>('progress');
export const statusQuery = defineQuery<PipelineStatus>('status');
export const partitionStatusQuery = defineQuery<PartitionStatus>('partitionStatus');
