// `npm test`: unit tests need no server; integration tests get the real local stack, started here
// when it is not up (and stopped again afterwards unless it was already running or --keep-stack).
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config.js';
import { projectRoot } from '../lib/paths.js';
import { runMain } from '../ops/main.js';
import { step } from '../ops/progress.js';
import { stackDown, stackUp, type ServiceName } from '../ops/stack-lib.js';

function testFiles(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' })
    .filter((f) => f.endsWith('.test.ts'))
    .map((f) => join(dir, f))
    .sort();
}

/** Reads the totals from the TAP copy of the results (node's runner ends it with `# pass N` lines). */
function summary(tapFile: string): { tests: number; pass: number; fail: number; skipped: number } {
  const tap = readFileSync(tapFile, 'utf8');
  const count = (key: string): number => Number(new RegExp(`^# ${key} (\\d+)$`, 'm').exec(tap)?.[1] ?? 0);
  return {
    tests: count('tests'),
    pass: count('pass'),
    fail: count('fail'),
    skipped: count('skipped') + count('todo'),
  };
}

runMain(async () => {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: {
      unit: { type: 'boolean', default: false },
      integration: { type: 'boolean', default: false },
      'keep-stack': { type: 'boolean', default: false },
    },
  });
  const root = projectRoot();
  const config = loadConfig();
  const kinds =
    values.unit || values.integration
      ? { unit: values.unit, integration: values.integration }
      : { unit: true, integration: true };
  let files = [
    ...(kinds.unit ? testFiles(join(root, 'test', 'unit')) : []),
    ...(kinds.integration ? testFiles(join(root, 'test', 'integration')) : []),
  ];
  if (positionals.length) files = files.filter((f) => positionals.some((p) => relative(root, f).includes(p)));
  if (files.length === 0) {
    process.stderr.write('no test files matched\n');
    return 1;
  }

  let started: ServiceName[] = [];
  const needsStack = files.some((f) => f.includes(`${join('test', 'integration')}`));
  if (needsStack) {
    step('test', 'integration tests run against the real local stack: making sure it is up');
    started = await stackUp(config);
  }

  mkdirSync(config.stateDir, { recursive: true });
  const tapFile = join(config.stateDir, 'test-results.tap');
  const code = await new Promise<number>((resolvePromise) => {
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        '--test',
        // One file at a time: integration tests restart shared servers on purpose.
        '--test-concurrency=1',
        '--test-reporter=spec',
        '--test-reporter-destination=stdout',
        '--test-reporter=tap',
        `--test-reporter-destination=${tapFile}`,
        ...files,
      ],
      { stdio: 'inherit', cwd: root, env: { ...process.env, SLUICE_TEST: '1' } },
    );
    child.on('close', (c) => resolvePromise(c ?? 1));
  });

  if (started.length && !values['keep-stack']) {
    step('test', `stopping what the tests started: ${started.join(', ')}`);
    await stackDown(config, started);
  }
  const s = summary(tapFile);
  process.stdout.write(`\ntests: ${s.pass} passed, ${s.fail} failed, ${s.skipped} skipped\n`);
  return code === 0 && s.fail === 0 && s.tests > 0 ? 0 : 1;
});
