import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, rmSync, truncateSync, unlinkSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { checkTool, ensureTool, type ToolSpec } from '../../ops/tool-cache.js';

let cache: string;
let builds = 0;

const spec = (version = '1.0.0', fail = false): ToolSpec => ({
  part: 'test',
  name: 'widget',
  version,
  message: 'building widget',
  build: async (dir) => {
    builds++;
    await writeFile(join(dir, 'widget.jar'), 'x'.repeat(1000));
    if (fail) throw new Error('network down');
    await writeFile(join(dir, 'README'), 'hello');
  },
});

before(() => {
  cache = mkdtempSync(join(tmpdir(), 'sluice-cache-'));
});
after(() => rmSync(cache, { recursive: true, force: true }));

test('a tool is built once and then reused from the cache', async () => {
  builds = 0;
  const dir = await ensureTool(cache, spec());
  assert.equal(builds, 1);
  assert.equal(await checkTool(dir, 'widget', '1.0.0'), undefined);
  assert.equal(await ensureTool(cache, spec()), dir);
  assert.equal(builds, 1);
});

test('a half-built tool (no manifest) is detected and rebuilt', async () => {
  builds = 0;
  const dir = await ensureTool(cache, spec('2.0.0'));
  unlinkSync(join(dir, '.sluice-tool.json'));
  assert.equal(await checkTool(dir, 'widget', '2.0.0'), 'half-built (no manifest)');
  await ensureTool(cache, spec('2.0.0'));
  assert.equal(builds, 2);
});

test('a corrupt file (truncated jar) is detected and the tool rebuilt', async () => {
  builds = 0;
  const dir = await ensureTool(cache, spec('3.0.0'));
  truncateSync(join(dir, 'widget.jar'), 10);
  assert.match((await checkTool(dir, 'widget', '3.0.0')) ?? '', /corrupt widget\.jar/);
  await ensureTool(cache, spec('3.0.0'));
  assert.equal(builds, 2);
  assert.equal(await checkTool(dir, 'widget', '3.0.0'), undefined);
});

test('a failed build leaves nothing behind and reports the cause', async () => {
  await assert.rejects(ensureTool(cache, spec('4.0.0', true)), /network down/);
  assert.equal(existsSync(join(cache, 'tools', 'widget-4.0.0')), false);
  assert.deepEqual(
    readdirSync(join(cache, 'tools')).filter((f) => f.includes('4.0.0')),
    [],
  );
});
