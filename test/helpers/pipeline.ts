import type { Config } from '../../lib/config.js';
import { committedOffset, createAdmin } from '../../lib/kafka.js';

/** Records on events.<type> not yet committed by the pipeline's consumer group, over all partitions. */
export async function uncommitted(config: Config, eventType: string, partitions = 3): Promise<bigint> {
  const admin = createAdmin(config);
  try {
    const topic = `events.${eventType}`;
    const ends = await admin.listOffsets({
      topics: [
        {
          name: topic,
          partitions: Array.from({ length: partitions }, (_, p) => ({ partitionIndex: p, timestamp: -1n })),
        },
      ],
    });
    let behind = 0n;
    for (const p of ends.flatMap((t) => t.partitions)) {
      const committed = (await committedOffset(admin, `sluice.${eventType}`, topic, p.partitionIndex)) ?? 0n;
      if (committed < p.offset) behind += p.offset - committed;
    }
    return behind;
  } finally {
    await admin.close();
  }
}
