// Timeouts and retry policies of every activity call, named once and chosen on purpose.
import type { ActivityOptions } from '@temporalio/workflow';

/** Non-retryable failure types raised by activities (see activities/errors.ts). */
export const nonRetryable = ['UnknownEventType', 'InvalidOffsetRange'] as const;

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
} as const satisfies Record<string, ActivityOptions>;
