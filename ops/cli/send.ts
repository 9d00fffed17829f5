// `sluice send <type>`: posts events to the proxy, from a file (JSON array or NDJSON of payloads or
// of full events) or as N valid samples generated from the type's schema.
import { readFileSync } from 'node:fs';
import { SingleBar, Presets } from 'cli-progress';
import { EventValidator } from '../../schemas/validator.js';
import { samplePayloads } from '../../schemas/sample.js';
import type { CliContext } from './context.js';
import { CliError, exitCodes, printJson, usage } from './output.js';

export interface SendOptions {
  file?: string;
  sample?: string;
  test?: boolean;
  async?: boolean;
  batch?: string;
  json?: boolean;
  url?: string;
}

interface ProxyAnswer {
  accepted?: number;
  rejected?: number;
  results?: { index: number; status: string; error_code?: string; message?: string }[];
  error_code?: string;
  message?: string;
}

function readEvents(file: string, type: string): Record<string, unknown>[] {
  const text = readFileSync(file, 'utf8').trim();
  let items: unknown[];
  try {
    items = text.startsWith('[')
      ? (JSON.parse(text) as unknown[])
      : text
          .split('\n')
          .filter(Boolean)
          .map((l) => JSON.parse(l) as unknown);
  } catch (err) {
    throw usage(`${file} is neither a JSON array nor NDJSON: ${(err as Error).message}`);
  }
  // A full event has `data`; a bare payload is wrapped.
  return items.map((x) =>
    typeof x === 'object' && x !== null && 'data' in x ? { type, ...(x as object) } : { type, data: x },
  );
}

export async function sendCommand(ctx: CliContext, typeName: string, opts: SendOptions): Promise<number> {
  const type = ctx.type(typeName);
  if (!opts.file === !opts.sample) throw usage('give exactly one of --file <path> or --sample <n>');
  const n = opts.sample ? Number(opts.sample) : 0;
  if (opts.sample && (!Number.isInteger(n) || n < 1))
    throw usage(`--sample takes a positive integer (got ${opts.sample})`);
  const events = opts.file
    ? readEvents(opts.file, type.name)
    : samplePayloads(type, new EventValidator(ctx.catalog), n).map((data) => ({ type: type.name, data }));
  const batch = Math.max(1, Number(opts.batch ?? 500));
  const url = `${opts.url ?? `http://${ctx.config.proxy.host}:${ctx.config.proxy.port}`}/v1/events${opts.async ? '?async=true' : ''}`;
  const bar =
    process.stderr.isTTY && !opts.json && events.length > batch
      ? new SingleBar({}, Presets.shades_classic)
      : undefined;
  bar?.start(events.length, 0);
  let accepted = 0;
  let rejected = 0;
  const errors: { index: number; error_code?: string; message?: string }[] = [];
  try {
    for (let i = 0; i < events.length; i += batch) {
      const body = events.slice(i, i + batch).map((e) => (opts.test ? { ...e, test: true } : e));
      let res: Response;
      try {
        res = await fetch(url, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            ...(process.env.SLUICE_API_KEY ? { authorization: `Bearer ${process.env.SLUICE_API_KEY}` } : {}),
          },
          body: JSON.stringify(body),
        });
      } catch (err) {
        throw new CliError(
          `the proxy at ${url} did not answer (${(err as Error).message}): start it with \`npm start\``,
          exitCodes.unavailable,
          'PROXY_UNAVAILABLE',
        );
      }
      const answer = (await res.json()) as ProxyAnswer;
      if (answer.error_code && !answer.results) {
        throw new CliError(
          `${res.status} ${answer.error_code}: ${answer.message ?? ''} (${i} events were sent before)`,
          exitCodes.failed,
          answer.error_code,
        );
      }
      accepted += answer.accepted ?? 0;
      rejected += answer.rejected ?? 0;
      for (const r of answer.results ?? []) {
        if (r.status !== 'accepted')
          errors.push({ index: i + r.index, error_code: r.error_code, message: r.message });
      }
      bar?.update(Math.min(events.length, i + batch));
    }
  } finally {
    bar?.stop();
  }
  if (opts.json) printJson({ accepted, rejected, errors });
  else {
    process.stdout.write(
      `${accepted} accepted, ${rejected} rejected${opts.async ? ' (async: queued in the spool)' : ''}\n`,
    );
    for (const e of errors.slice(0, 10))
      process.stdout.write(`  event ${e.index}: ${e.error_code ?? ''} ${e.message ?? ''}\n`);
  }
  return rejected > 0 ? exitCodes.failed : exitCodes.ok;
}
