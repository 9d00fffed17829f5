// Queries of the raw-event router and replay workflows (both answer `status`).
import { defineQuery } from '@temporalio/workflow';

export interface RawPartitionStatus {
  partition: number;
  /** Next raw offset to route (durable: committed with the routed records). */
  position: string;
  highWatermark: string;
  lag: string;
  routed: number;
  rejected: number;
  ranges: number;
  dataLossEvents: number;
}

export interface RawRouterStatus {
  app: string;
  paused: boolean;
  partitions: RawPartitionStatus[];
}

export type ReplayTargetSpec =
  { kind: 'topic'; topic?: string } | { kind: 'table'; table?: string; force: boolean };

export interface ReplayPartitionProgress {
  partition: number;
  from: string;
  to: string;
  /** Durable: the offset committed with the last replayed records. */
  position: string;
}

export interface ReplayStatus {
  replayId: string;
  eventType: string;
  source: 'kafka' | 's3';
  target: ReplayTargetSpec;
  state: 'planning' | 'running' | 'done' | 'cancelled';
  /** Kafka source: each partition's range and how far it is. */
  partitions?: ReplayPartitionProgress[];
  /** S3 source: hours of the range, how many are done, files seen and done. */
  hoursTotal?: number;
  hoursDone?: number;
  files: number;
  filesDone: number;
  /** Events written to the target topic, or rows loaded into the table. */
  records: number;
  startedAt: string;
  finishedAt?: string;
}

export const rawRouterStatusQuery = defineQuery<RawRouterStatus>('status');
export const replayStatusQuery = defineQuery<ReplayStatus>('status');
