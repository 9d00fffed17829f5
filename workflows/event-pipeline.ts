// One per event type (workflow id pipeline/<type>): runs a partitionPipeline child per partition,
// starts new ones when partitions are added, forwards pause/resume/flushNow/drain, and answers the
// `status` query from the progress its children report.
import {
  ParentClosePolicy,
  WorkflowIdReusePolicy,
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  proxyActivities,
  setHandler,
  startChild,
  workflowInfo,
  type ChildWorkflowHandle,
  type SignalDefinition,
} from '@temporalio/workflow';
import type * as activities from '../activities/pipeline.js';
import { partitionPipeline } from './partition-pipeline.js';
import { presets } from './presets.js';
import {
  drainSignal,
  flushNowSignal,
  newPartitionStatus,
  pauseSignal,
  progressSignal,
  resumeSignal,
  statusQuery,
  type PartitionStatus,
} from './signals.js';

type Activities = ReturnType<typeof activities.createPipelineActivities>;
const meta = proxyActivities<Activities>(presets.metadata);

export interface EventPipelineInput {
  eventType: string;
  paused?: boolean;
  /** How often to look for new partitions. */
  partitionCheckMs?: number;
  /** Carried across continue-as-new. */
  partitions?: PartitionStatus[];
  idleWaitMs?: number;
}

export const partitionWorkflowId = (eventType: string, partition: number): string =>
  `pipeline/${eventType}/p${partition}`;

export async function eventPipeline(input: EventPipelineInput): Promise<void> {
  const { eventType } = input;
  let paused = input.paused ?? false;
  let draining = false;
  const partitions = new Map<number, PartitionStatus>((input.partitions ?? []).map((p) => [p.partition, p]));
  const started = new Set<number>();
  const children: ChildWorkflowHandle<typeof partitionPipeline>[] = [];

  const forward = async (signal: SignalDefinition): Promise<void> => {
    await Promise.all(
      [...started].map((p) =>
        getExternalWorkflowHandle(partitionWorkflowId(eventType, p))
          .signal(signal)
          .catch(() => undefined),
      ),
    );
  };
  setHandler(pauseSignal, async () => {
    paused = true;
    await forward(pauseSignal);
  });
  setHandler(resumeSignal, async () => {
    paused = false;
    await forward(resumeSignal);
  });
  setHandler(flushNowSignal, () => forward(flushNowSignal));
  setHandler(drainSignal, async () => {
    draining = true;
    await forward(drainSignal);
  });
  setHandler(progressSignal, (s) => void partitions.set(s.partition, s));
  setHandler(statusQuery, () => ({
    eventType,
    paused,
    draining,
    partitions: [...partitions.values()].sort((a, b) => a.partition - b.partition),
  }));

  for (;;) {
    const count = await meta.partitionCount({ eventType });
    for (let p = 0; p < count; p++) {
      if (started.has(p)) continue;
      try {
        children.push(
          await startChild(partitionPipeline, {
            workflowId: partitionWorkflowId(eventType, p),
            args: [
              {
                eventType,
                partition: p,
                paused,
                parentId: workflowInfo().workflowId,
                ...(input.idleWaitMs ? { idleWaitMs: input.idleWaitMs } : {}),
              },
            ],
            // Partitions run on their own: continue-as-new or a restart of this workflow leaves them running.
            parentClosePolicy: ParentClosePolicy.ABANDON,
            workflowIdReusePolicy: WorkflowIdReusePolicy.ALLOW_DUPLICATE,
          }),
        );
      } catch (err) {
        if (!(err instanceof Error && err.name === 'WorkflowExecutionAlreadyStartedError')) throw err;
        // Already running from an earlier run of this workflow: keep it.
      }
      started.add(p);
      if (!partitions.has(p)) partitions.set(p, newPartitionStatus(p, '0'));
    }
    if (draining) {
      await Promise.all(children.map((c) => c.result()));
      return;
    }
    const woke = await condition(() => draining, input.partitionCheckMs ?? 60_000);
    if (woke && draining) continue;
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 5000) {
      await continueAsNew<typeof eventPipeline>({ ...input, paused, partitions: [...partitions.values()] });
    }
  }
}
