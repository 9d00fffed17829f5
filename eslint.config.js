// One linter for the whole project. Workflows get an extra rule set: Temporal replays them,
// so they must not touch Node built-ins or any package that does I/O.
import { builtinModules } from 'node:module';
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

const nodeBuiltins = builtinModules.flatMap((m) => (m.startsWith('_') ? [] : [m, `node:${m}`]));
const ioPackages = [
  'kafkajs',
  '@platformatic/kafka',
  '@aws-sdk/*',
  'snowflake-sdk',
  'duckdb',
  '@duckdb/*',
  'express',
  'pino',
  'parquet-wasm',
  'apache-arrow',
  '@temporalio/client',
  '@temporalio/worker',
  '@temporalio/activity',
  '@temporalio/testing',
];

export default tseslint.config(
  // ops/cli/bin.js is a four-line shim that loads the TypeScript CLI through tsx.
  { ignores: ['node_modules/', 'dist/', '.sluice/', 'eslint.config.js', 'ops/cli/bin.js'] },
  js.configs.recommended,
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      '@typescript-eslint/no-floating-promises': [
        'error',
        {
          // node:test runs registered tests itself; their returned promises are not ours to await.
          allowForKnownSafeCalls: [
            { from: 'package', package: 'node:test', name: ['test', 'it', 'describe', 'suite'] },
          ],
        },
      ],
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-explicit-any': 'error',
      // A promise returned un-awaited from try/finally lets finally close what it still uses.
      '@typescript-eslint/return-await': ['error', 'in-try-catch'],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    files: ['workflows/**/*.ts', 'test/fixtures/workflows/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeBuiltins.map((name) => ({
            name,
            message: 'Workflows are replayed deterministically: do I/O in an activity instead.',
          })),
          patterns: [
            {
              group: ioPackages,
              message: 'Workflows must not import I/O packages; call an activity (import type only).',
              allowTypeImports: true,
            },
            {
              group: ['**/activities/*', '**/activities/**', '!**/activities/**/*types*'],
              message: 'Workflows may only `import type` from activities.',
              allowTypeImports: true,
            },
          ],
        },
      ],
    },
  },
);
