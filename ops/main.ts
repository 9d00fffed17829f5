import { ConfigError } from '../lib/config.js';
import { SluiceError } from '../lib/errors.js';

/** Runs a command-line entry point: known errors become one clear line and exit code 1. */
export function runMain(main: () => Promise<number | void>): void {
  main().then(
    (code) => {
      process.exitCode = code ?? 0;
    },
    (err: unknown) => {
      if (err instanceof SluiceError) process.stderr.write(`✖ ${err.code}: ${err.message}\n`);
      else if (err instanceof ConfigError) process.stderr.write(`✖ CONFIG_INVALID: ${err.message}\n`);
      else process.stderr.write(`✖ ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
      process.exitCode = 1;
    },
  );
}
