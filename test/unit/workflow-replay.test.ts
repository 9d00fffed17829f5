// Replays recorded histories of real runs against the current workflow code, so a change that
// would break running workflows (non-determinism) fails here, not in production. Record new
// histories with `SLUICE_RECORD_HISTORIES=1 npm test -- pipeline.test loader-migration` after
// intentional changes guarded by patched().
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { projectRoot } from '../../lib/paths.js';
import { workflowsPath } from '../../workers/pipeline-worker.js';

const dir = join(projectRoot(), 'test', 'fixtures', 'histories');

test('recorded histories of every long-running workflow replay without non-determinism', async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const files = readdirSync(dir).filter((f) => f.endsWith('.json'));
  const recorded = files.map((f) => f.replace(/\.json$/, '')).sort();
  for (const name of ['event-pipeline', 'partition-pipeline', 'schema-migration', 'warehouse-loader']) {
    assert.ok(recorded.includes(name), `a history of ${name} is recorded`);
  }
  const histories = files.map((f) => ({
    workflowId: f.replace(/\.json$/, ''),
    history: JSON.parse(readFileSync(join(dir, f), 'utf8')) as unknown,
  }));
  const results = Worker.runReplayHistories({ workflowsPath, replayName: 'pipelines' }, histories);
  let n = 0;
  for await (const r of results) {
    n++;
    assert.equal(r.error, undefined, `${r.workflowId}: ${r.error?.message ?? ''}`);
  }
  assert.equal(n, files.length);
});
