// Valid sample payloads for an event type (`sluice send --sample N`), generated from its JSON
// Schema by json-schema-faker with a seed, so the same N gives the same events. Event times are
// within the last hour, so samples land in current partitions.
import { generateSync } from 'json-schema-faker';
import type { JsonSchema as FakerSchema } from 'json-schema-faker';
import type { EventType, SchemaVersion } from './catalog.js';
import type { EventValidator } from './validator.js';

export function samplePayloads(
  type: EventType,
  validator: EventValidator,
  count: number,
  opts: { seed?: number; version?: SchemaVersion; now?: Date } = {},
): Record<string, unknown>[] {
  const version = opts.version ?? type.latest;
  const now = (opts.now ?? new Date()).getTime();
  const out: Record<string, unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const seed = (opts.seed ?? 1) * 100_003 + i;
    const payload = generateSync(version.schema as FakerSchema, {
      seed,
      formats: {
        'date-time': (random) => new Date(now - random.int(0, 3_599_000)).toISOString(),
      },
    }) as Record<string, unknown>;
    const result = validator.validate(type.name, payload, version.version);
    if (!result.ok) {
      throw new Error(`json-schema-faker made an invalid sample (seed ${seed}): ${result.message}`);
    }
    out.push(payload);
  }
  return out;
}
