// Documentation that is checked against the code, so it cannot drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { errorCatalogue } from '../../lib/errors.js';
import { projectRoot } from '../../lib/paths.js';
import { renderConfigDocs } from '../../ops/config-docs.js';

const read = (rel: string): string => readFileSync(join(projectRoot(), rel), 'utf8');

test('every error code in the catalogue is documented in docs/errors.md', () => {
  const doc = read('docs/errors.md');
  const missing = Object.keys(errorCatalogue).filter(
    (code) => !new RegExp(`^\\| \`${code}\` +\\|`, 'm').test(doc),
  );
  assert.deepEqual(missing, [], 'add these codes to docs/errors.md');
});

test('docs/config.md matches the config schema (run `npm run docs:config` after changing it)', () => {
  assert.equal(read('docs/config.md'), renderConfigDocs());
});
