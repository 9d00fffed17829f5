// `sluice dlq tail <type>`: the newest records of the type's dead-letter topic with their reasons.
import {
  createAdmin,
  createRangeReader,
  partitionBounds,
  readRange,
  type RangeRecord,
} from '../../lib/kafka.js';
import type { CliContext } from './context.js';
import { printJson, printTable, usage } from './output.js';

export interface DlqEntry {
  partition: number;
  offset: string;
  time: string;
  errorCode: string;
  reason: string;
  eventId?: string;
  value: string;
}

export async function tailDlq(ctx: CliContext, topic: string, n: number): Promise<DlqEntry[]> {
  const admin = createAdmin(ctx.config, 'sluice-cli');
  const reader = createRangeReader(ctx.config, 'sluice.cli', 'sluice-cli');
  try {
    const meta = await admin.metadata({ topics: [topic] });
    const partitions = meta.topics.get(topic)?.partitionsCount ?? 0;
    const all: (RangeRecord & { partition: number })[] = [];
    for (let p = 0; p < partitions; p++) {
      const { earliest, latest } = await partitionBounds(admin, topic, p);
      const from = latest - BigInt(n) > earliest ? latest - BigInt(n) : earliest;
      for await (const chunk of readRange(reader, { topic, partition: p, from, to: latest })) {
        all.push(...chunk.map((r) => ({ ...r, partition: p })));
      }
    }
    return all
      .sort((a, b) => Number(a.timestamp - b.timestamp))
      .slice(-n)
      .map((r) => ({
        partition: r.partition,
        offset: r.offset.toString(),
        time: new Date(Number(r.timestamp)).toISOString(),
        errorCode: r.headers.sluice_error_code ?? '',
        reason: r.headers.sluice_error_message ?? '',
        ...(r.headers.ce_id ? { eventId: r.headers.ce_id } : {}),
        value: r.value?.toString('utf8') ?? '',
      }));
  } finally {
    await Promise.allSettled([admin.close(), reader.close()]);
  }
}

export async function dlqTailCommand(
  ctx: CliContext,
  typeName: string,
  opts: { lines?: string; json?: boolean },
): Promise<number> {
  const n = Number(opts.lines ?? 20);
  if (!Number.isInteger(n) || n < 1) throw usage(`-n takes a positive integer (got ${opts.lines})`);
  const topic = typeName === 'unknown' ? 'sluice.dlq' : ctx.type(typeName).dlqTopic;
  const entries = await tailDlq(ctx, topic, n);
  if (opts.json) printJson({ topic, entries });
  else {
    printTable(
      ['time', 'p/offset', 'error_code', 'reason', 'event'],
      entries.map((e) => [e.time, `${e.partition}/${e.offset}`, e.errorCode, e.reason, e.value]),
      70,
    );
    process.stdout.write(`(${entries.length} newest of ${topic})\n`);
  }
  return 0;
}
