// `npm run test:fuzz`: schemathesis against the proxy's /openapi.json (docs/fuzzing.md).
// Exits non-zero on any failure. FUZZ_EXAMPLES and FUZZ_SEED tune a run.
import { loadConfig } from '../../lib/config.js';
import { runMain } from '../../ops/main.js';
import { step } from '../../ops/progress.js';
import { stackDown, stackUp } from '../../ops/stack-lib.js';
import { ensureSchemathesis, fuzzProxy } from './schemathesis.js';

runMain(async () => {
  const config = loadConfig();
  step('fuzz', 'the proxy writes to the real local Kafka: making sure it is up');
  const started = await stackUp(config, ['kafka', 'sqs']);
  const python = await ensureSchemathesis(config);
  const s = await fuzzProxy(config, python, {
    maxExamples: Number(process.env.FUZZ_EXAMPLES ?? 30),
    ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
    extra: process.argv.slice(2),
  }).finally(async () => {
    // Like npm test: stop only what this run started.
    if (started.length) await stackDown(config, started);
  });
  process.stdout.write(
    `\nfuzz: ${s.operations} operations, ${s.cases} test cases, ${s.failures} failing operations, ${s.seconds}s\n`,
  );
  return s.code === 0 && s.failures === 0 && s.operations > 0 ? 0 : 1;
});
