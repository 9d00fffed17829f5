// Failures an activity raises that no retry can fix: Temporal is told not to retry them.
import { ApplicationFailure } from '@temporalio/activity';

export function unknownEventType(name: string): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'UnknownEventType',
    message: `event type "${name}" is not in the catalog this worker loaded`,
    nonRetryable: true,
  });
}

export function invalidOffsetRange(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'InvalidOffsetRange', message, nonRetryable: true });
}

export function unknownSchemaVersion(name: string, version: number, latest: number): ApplicationFailure {
  return ApplicationFailure.create({
    type: 'UnknownSchemaVersion',
    message: `${name} has no schema version ${version}: the catalog has v1–v${latest}`,
    nonRetryable: true,
  });
}

export function invalidReplayInput(message: string): ApplicationFailure {
  return ApplicationFailure.create({ type: 'InvalidReplayInput', message, nonRetryable: true });
}
