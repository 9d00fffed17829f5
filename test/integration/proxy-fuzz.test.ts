// schemathesis against the proxy's /openapi.json (npm run test:fuzz runs the same with more cases):
// no 5xx, every answer as the document says. Skipped, saying why, when its venv cannot be built.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { loadConfig } from '../../lib/config.js';
import { ensureSchemathesis, fuzzProxy } from '../fuzz/schemathesis.js';

const config = loadConfig();
let python: string | undefined;
let why = '';
try {
  python = await ensureSchemathesis(config);
} catch (err) {
  why = `schemathesis could not be installed (needs python3.11 and PyPI): ${(err as Error).message.split('\n')[0]}`;
}

test(
  'schemathesis finds no 5xx and no answer that breaks openapi.json',
  { skip: python ? false : why },
  async () => {
    const s = await fuzzProxy(config, python!, { maxExamples: 25, quiet: true });
    assert.ok(s.operations >= 14, `only ${s.operations} operations were tested`);
    assert.ok(s.cases > 500, `only ${s.cases} test cases`);
    assert.equal(s.failures, 0, `${s.output.slice(s.output.indexOf('FAILURES'))}\n${s.problems}`);
    assert.equal(s.code, 0, s.report);
  },
);
