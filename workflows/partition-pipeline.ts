// One partition of one event type: plan a segment, write it to S3 as Parquet, commit the offset,
// notify the loader; repeat. The position lives in workflow state and moves only after the
// segment's objects exist, so a crash anywhere repeats the same segment and writes the same keys.
import {
  condition,
  continueAsNew,
  getExternalWorkflowHandle,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities/pipeline.js';
import { presets } from './presets.js';
import {
  drainSignal,
  flushNowSignal,
  newPartitionStatus,
  partitionStatusQuery,
  pauseSignal,
  progressSignal,
  resumeSignal,
  type PartitionStatus,
} from './signals.js';

type Activities = ReturnType<typeof activities.createPipelineActivities>;

const meta = proxyActivities<Activities>(presets.metadata);
const { planSegment } = proxyActivities<Activities>(presets.plan);
const { writeSegment } = proxyActivities<Activities>(presets.write);

export interface PartitionPipelineInput {
  eventType: string;
  partition: number;
  /** Carried across continue-as-new; absent on the first run (taken from the consumer group). */
  position?: string;
  paused?: boolean;
  /** Workflow id of the eventPipeline to report progress to. */
  parentId?: string;
  status?: PartitionStatus;
  /** How long one plan call long-polls when idle. */
  idleWaitMs?: number;
}

export async function partitionPipeline(input: PartitionPipelineInput): Promise<PartitionStatus> {
  const { eventType, partition } = input;
  let paused = input.paused ?? false;
  let draining = false;
  let flushNow = false;
  const position = input.position ?? (await meta.initialPosition({ eventType, partition }));
  const status: PartitionStatus = input.status ?? newPartitionStatus(partition, position);
  status.position = position;

  setHandler(pauseSignal, () => void (paused = true));
  setHandler(resumeSignal, () => void (paused = false));
  setHandler(flushNowSignal, () => void (flushNow = true));
  setHandler(drainSignal, () => void (draining = true));
  setHandler(partitionStatusQuery, () => ({
    ...status,
    state: draining ? 'draining' : paused ? 'paused' : 'running',
  }));
  const parent = input.parentId ? getExternalWorkflowHandle(input.parentId) : undefined;

  for (;;) {
    if (paused && !draining) {
      status.state = 'paused';
      await condition(() => !paused || draining);
      status.state = 'running';
    }
    const plan = await planSegment({
      eventType,
      partition,
      from: status.position,
      force: flushNow || draining,
      maxWaitMs: input.idleWaitMs ?? 20_000,
    });
    flushNow = false;
    status.highWatermark = plan.highWatermark;
    if (plan.dataLoss) {
      status.dataLossEvents++;
      log.error('records deleted by retention before they were moved', {
        eventType,
        partition,
        ...plan.dataLoss,
      });
      status.position = plan.from;
    }
    if (plan.to !== plan.from) {
      const started = Date.now();
      const ref = await writeSegment({ eventType, partition, from: plan.from, to: plan.to });
      await meta.commitOffsets({ eventType, partition, offset: ref.to });
      if (ref.objects.length) await meta.notifyObjects({ eventType, objects: ref.objects });
      const seconds = Math.max(0.001, (Date.now() - started) / 1000);
      status.lastSegment = {
        from: plan.from,
        to: ref.to,
        objects: ref.objects.map((o) => o.key),
        rows: ref.rows,
        rejected: ref.rejected,
        exactPathRows: ref.exactPathRows ?? 0,
        at: new Date().toISOString(),
      };
      status.position = ref.to;
      status.segments++;
      status.rows += ref.rows;
      status.rate = Math.round(ref.rows / seconds);
    }
    status.lag = (BigInt(status.highWatermark) - BigInt(status.position)).toString();
    if (parent && plan.to !== plan.from)
      await parent.signal(progressSignal, { ...status }).catch(() => undefined);
    if (draining && BigInt(status.lag) <= 0n) {
      status.state = 'drained';
      return status;
    }
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 2000) {
      await continueAsNew<typeof partitionPipeline>({ ...input, position: status.position, paused, status });
    }
  }
}
