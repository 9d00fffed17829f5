// Documentation that is checked against the code, so it cannot drift.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { errorCatalogue } from '../../lib/errors.js';
import { projectRoot } from '../../lib/paths.js';
import type { Command } from 'commander';
import { renderConfigDocs } from '../../ops/config-docs.js';
import { buildProgram } from '../../ops/cli/main.js';
import { exitCodes } from '../../ops/cli/output.js';

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

test('every exit code of the CLI is documented in docs/cli.md', () => {
  const doc = read('docs/cli.md');
  const missing = Object.values(exitCodes).filter(
    (code) => !new RegExp(`^\\| \`${code}\` +\\|`, 'm').test(doc),
  );
  assert.deepEqual(missing, [], 'add these exit codes to docs/cli.md');
});

test('every command of the CLI is documented in docs/cli.md', () => {
  const doc = read('docs/cli.md');
  const program = buildProgram(() => Promise.resolve());
  const names: string[] = [];
  const walk = (cmd: Command, prefix: string): void => {
    for (const sub of cmd.commands) {
      const name = `${prefix}${sub.name()}`;
      if (sub.commands.length === 0 || sub.registeredArguments.length > 0) names.push(name);
      walk(sub, `${name} `);
    }
  };
  walk(program, 'sluice ');
  const missing = names.filter((n) => !doc.includes(`\`${n}`));
  assert.deepEqual(missing, [], 'document these commands in docs/cli.md');
});
