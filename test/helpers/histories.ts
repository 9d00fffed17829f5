// Saves workflow histories of a test run for test/unit/workflow-replay.test.ts, exported by the
// Temporal CLI in the same JSON form as the Web UI's download (payloads not shortened). Runs only
// with SLUICE_RECORD_HISTORIES=1, after an intentional workflow change guarded by patched().
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Config } from '../../lib/config.js';
import { projectRoot } from '../../lib/paths.js';
import { temporalBinary } from '../../ops/services/temporal.js';

export const recording = process.env.SLUICE_RECORD_HISTORIES === '1';

/** name → workflow id; each is written to test/fixtures/histories/<name>.json. */
export function recordHistories(config: Config, workflows: Record<string, string>): void {
  const dir = join(projectRoot(), 'test', 'fixtures', 'histories');
  for (const [name, id] of Object.entries(workflows)) {
    const out = execFileSync(
      temporalBinary(config),
      [
        'workflow',
        'show',
        '--workflow-id',
        id,
        '--output',
        'json',
        '--no-json-shorthand-payloads',
        '--address',
        config.temporal.address,
        '--namespace',
        config.temporal.namespace,
      ],
      { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
    );
    writeFileSync(join(dir, `${name}.json`), out);
  }
}
