import type { Config } from '../../lib/config.js';
import { createAdmin, createRangeReader, readRange, type RangeRecord } from '../../lib/kafka.js';
import { uniqueName } from './names.js';

/** Every record of a topic (all partitions), read up to the current end. */
export async function readTopic(
  config: Config,
  topic: string,
): Promise<(RangeRecord & { partition: number })[]> {
  const admin = createAdmin(config, 'test-read');
  const reader = createRangeReader(config, uniqueName('test.read'));
  try {
    const meta = await admin.metadata({ topics: [topic] });
    const n = meta.topics.get(topic)?.partitionsCount ?? 0;
    const ends = await reader.listOffsets({ topics: [topic] });
    const out: (RangeRecord & { partition: number })[] = [];
    for (let p = 0; p < n; p++) {
      const end = ends.get(topic)?.[p] ?? 0n;
      for await (const chunk of readRange(reader, { topic, partition: p, from: 0n, to: end })) {
        out.push(...chunk.map((r) => ({ ...r, partition: p })));
      }
    }
    return out;
  } finally {
    await Promise.all([admin.close(), reader.close()]);
  }
}

/** Waits until a topic holds at least n records (for asynchronous delivery). */
export async function waitForRecords(
  config: Config,
  topic: string,
  n: number,
  timeoutMs = 30_000,
): Promise<(RangeRecord & { partition: number })[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const records = await readTopic(config, topic);
    if (records.length >= n || Date.now() > deadline) return records;
    await new Promise((r) => setTimeout(r, 250));
  }
}
