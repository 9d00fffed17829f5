// Timeouts and retry policies of every activity call, named once and chosen on purpose.
import { ActivityCancellationType, type ActivityOptions } from '@temporalio/workflow';

/** Non-retryable failure types raised by activities (see activities/errors.ts). */
export const nonRetryable = [
  'UnknownEventType',
  'InvalidOffsetRange',
  'UnknownSchemaVersion',
  'InvalidInput',
] as const;

export const presets = {
  /** Quick metadata calls: Kafka offsets and commits, SQS sends. */
  metadata: {
    startToCloseTimeout: '30 seconds',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: [...nonRetryable],
    },
  },
  /** Long-poll for a segment: heartbeats while it waits, so a dead worker is noticed in 15 s. */
  plan: {
    startToCloseTimeout: '5 minutes',
    heartbeatTimeout: '15 seconds',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: [...nonRetryable],
    },
  },
  /** Read a range, encode Parquet, upload: heartbeats per chunk; a retry writes the same objects. */
  write: {
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '30 seconds',
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      nonRetryableErrorTypes: [...nonRetryable],
    },
  },
  /** Receive notices and load their files: heartbeats while it long-polls and while it loads. */
  load: {
    startToCloseTimeout: '15 minutes',
    heartbeatTimeout: '30 seconds',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      nonRetryableErrorTypes: [...nonRetryable],
    },
  },
  /** Listing a backfill's prefixes: one S3 call per (version, day), so long ranges take a while. */
  listing: {
    startToCloseTimeout: '10 minutes',
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '30 seconds',
      nonRetryableErrorTypes: [...nonRetryable],
    },
  },
  /** One backfill chunk (a day of one version): heartbeats per page, a retry resumes after it. */
  backfill: {
    startToCloseTimeout: '2 hours',
    heartbeatTimeout: '1 minute',
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      nonRetryableErrorTypes: [...nonRetryable],
    },
  },
  /** DDL on the warehouse: quick, and safe to retry (each step is recorded once). */
  migrate: {
    startToCloseTimeout: '10 minutes',
    retry: {
      initialInterval: '2 seconds',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      maximumAttempts: 10,
      nonRetryableErrorTypes: [...nonRetryable],
    },
  },
  /**
   * One Kafka transaction: read a range (or an archived file), write it, commit the position.
   * Heartbeats while it reads and sends; a retry first reads the committed position, and a new
   * attempt's producer fences the old one, so retrying is always safe. Cancellation waits for the
   * activity to end (it aborts its transaction), so a cancelled workflow leaves a consistent state.
   */
  transaction: {
    startToCloseTimeout: '10 minutes',
    heartbeatTimeout: '30 seconds',
    cancellationType: ActivityCancellationType.WAIT_CANCELLATION_COMPLETED,
    retry: {
      initialInterval: '1 second',
      backoffCoefficient: 2,
      maximumInterval: '1 minute',
      nonRetryableErrorTypes: [...nonRetryable],
    },
  },
} as const satisfies Record<string, ActivityOptions>;
