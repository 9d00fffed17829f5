// The lint override that keeps workflow code deterministic: no Node built-ins, no I/O packages,
// and only `import type` from activities.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ESLint } from 'eslint';
import tseslint from 'typescript-eslint';

// The probe files do not exist on disk, so type-aware rules are turned off; the import rules are not type-aware.
const eslint = new ESLint({ overrideConfig: [tseslint.configs.disableTypeChecked] });

async function ruleHits(code: string, file = 'workflows/probe.ts'): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: file });
  return (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message);
}

test('workflow code may not import Node built-ins or I/O packages', async () => {
  for (const mod of [
    'node:fs',
    'fs',
    'kafkajs',
    '@aws-sdk/client-s3',
    '@duckdb/node-api',
    'express',
    'snowflake-sdk',
  ]) {
    const hits = await ruleHits(`import * as m from '${mod}';\nexport const x = m;\n`);
    assert.equal(hits.length, 1, `${mod} should be refused in workflows/`);
  }
});

test('workflow code may import @temporalio/workflow and types from activities', async () => {
  assert.deepEqual(
    await ruleHits(
      "import { sleep } from '@temporalio/workflow';\nimport type * as acts from '../activities/index.js';\nexport type A = typeof acts;\nexport const s = sleep;\n",
    ),
    [],
  );
  assert.equal(
    (await ruleHits("import * as acts from '../activities/index.js';\nexport const a = acts;\n")).length,
    1,
  );
});

test('the same imports are allowed outside workflows/', async () => {
  assert.deepEqual(
    await ruleHits("import * as m from 'node:fs';\nexport const x = m;\n", 'activities/probe.ts'),
    [],
  );
});
