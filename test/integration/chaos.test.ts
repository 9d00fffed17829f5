// Fault injection in CI: the chaos run (test/chaos/run.ts, `npm run test:chaos` for a longer one)
// with a smaller load. It runs a platform of its own on other ports, so the shared stack of the
// other tests is not touched.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { test } from 'node:test';
import { promisify } from 'node:util';
import { projectRoot } from '../../lib/paths.js';

const run = promisify(execFile);

test(
  'kill -9 of every part and S3 away for 30 s during ingest: 0 lost, 0 duplicated',
  { timeout: 15 * 60_000 },
  async () => {
    const seed = String(Date.now() % 100_000);
    let stdout = '';
    let failure: Error | undefined;
    try {
      ({ stdout } = await run(
        process.execPath,
        ['--import', 'tsx', 'test/chaos/run.ts', '--events', '6000', '--seconds', '60', '--seed', seed],
        { cwd: projectRoot(), maxBuffer: 16 * 1024 * 1024, timeout: 14 * 60_000 },
      ));
    } catch (err) {
      failure = err as Error;
      stdout = (err as { stdout?: string }).stdout ?? '';
    }
    const json = /\n(\{\n[\s\S]*\n\})\n/.exec(stdout)?.[1];
    assert.ok(
      json,
      `the chaos run printed no summary (seed ${seed}):\n${stdout.slice(-4000)}\n${failure?.message ?? ''}`,
    );
    const summary = JSON.parse(json) as {
      acknowledged: number;
      lost: number;
      duplicated: number;
      unexpected: number;
      faults: string[];
    };
    process.stdout.write(`chaos (seed ${seed}): ${JSON.stringify(summary)}\n`);
    assert.equal(summary.faults.length, 6, 'all six faults were injected');
    assert.ok(summary.acknowledged >= 5000, `most events were acknowledged (${summary.acknowledged})`);
    assert.deepEqual(
      { lost: summary.lost, duplicated: summary.duplicated, unexpected: summary.unexpected },
      { lost: 0, duplicated: 0, unexpected: 0 },
      `seed ${seed}`,
    );
    assert.equal(failure, undefined);
  },
);
