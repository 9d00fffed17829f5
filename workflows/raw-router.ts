// One per raw app (workflow id raw-router/<app>): routes raw.<app> to events.<type> and the DLQs.
// One workflow loops over all partitions of raw.<app> (three by default) rather than a child per
// partition: a single long-poll activity watches every partition, so an idle app holds one
// activity slot, and each partition with records gets its own routeRange (one Kafka transaction)
// concurrently. Positions live in workflow state and are also the committed offsets of the group
// sluice.raw.<app>, written in the same transaction as the routed records.
import {
  condition,
  continueAsNew,
  log,
  proxyActivities,
  setHandler,
  workflowInfo,
} from '@temporalio/workflow';
import type * as activities from '../activities/raw-router.js';
import { presets } from './presets.js';
import { rawRouterStatusQuery, type RawPartitionStatus } from './replay-signals.js';
import { pauseSignal, resumeSignal } from './signals.js';

type Activities = ReturnType<typeof activities.createRawRouterActivities>;

const meta = proxyActivities<Activities>(presets.metadata);
const { planRoutes } = proxyActivities<Activities>(presets.plan);
const { routeRange } = proxyActivities<Activities>(presets.transaction);

export interface RawRouterInput {
  app: string;
  paused?: boolean;
  /** Raw records per routed range (one transaction); default 5000. */
  maxRecords?: number;
  /** How long one plan call long-polls when idle; default 20 s. */
  idleWaitMs?: number;
  /** Carried across continue-as-new. */
  partitions?: RawPartitionStatus[];
}

export const rawRouterWorkflowId = (app: string): string => `raw-router/${app}`;

export async function rawRouter(input: RawRouterInput): Promise<void> {
  const { app } = input;
  let paused = input.paused ?? false;
  const partitions = new Map<number, RawPartitionStatus>(
    (input.partitions ?? []).map((p) => [p.partition, p]),
  );
  setHandler(pauseSignal, () => void (paused = true));
  setHandler(resumeSignal, () => void (paused = false));
  setHandler(rawRouterStatusQuery, () => ({
    app,
    paused,
    partitions: [...partitions.values()].sort((a, b) => a.partition - b.partition),
  }));

  // New partitions are picked up at each start and continue-as-new.
  const count = await meta.rawPartitionCount({ app });
  for (let p = 0; p < count; p++) {
    if (partitions.has(p)) continue;
    const position = await meta.rawPosition({ app, partition: p });
    partitions.set(p, {
      partition: p,
      position,
      highWatermark: position,
      lag: '0',
      routed: 0,
      rejected: 0,
      ranges: 0,
      dataLossEvents: 0,
    });
  }

  for (;;) {
    if (paused) await condition(() => !paused);
    const ranges = await planRoutes({
      app,
      positions: Object.fromEntries([...partitions.values()].map((p) => [String(p.partition), p.position])),
      maxRecords: input.maxRecords ?? 5000,
      maxWaitMs: input.idleWaitMs ?? 20_000,
    });
    await Promise.all(
      ranges.map(async (r) => {
        const s = partitions.get(r.partition)!;
        s.highWatermark = r.highWatermark;
        if (r.dataLoss) {
          s.dataLossEvents++;
          log.error('raw records deleted by retention before they were routed', { app, ...r });
          s.position = r.from;
        }
        if (r.to !== r.from) {
          const res = await routeRange({ app, partition: r.partition, from: r.from, to: r.to });
          s.position = res.to;
          s.routed += res.routed;
          s.rejected += res.rejected;
          s.ranges++;
        }
        s.lag = (
          BigInt(s.highWatermark) > BigInt(s.position) ? BigInt(s.highWatermark) - BigInt(s.position) : 0n
        ).toString();
      }),
    );
    if (workflowInfo().continueAsNewSuggested || workflowInfo().historyLength > 2000) {
      await continueAsNew<typeof rawRouter>({ ...input, paused, partitions: [...partitions.values()] });
    }
  }
}
