// The `sluice` command line (bin in package.json; `npx sluice --help`). One subcommand per job a
// data engineer does against the running platform; `--json` for scripts; exit codes in docs/cli.md.
import { Command, CommanderError, Option } from 'commander';
import { checkCatalog } from '../../schemas/check.js';
import { createContext, type CliContext } from './context.js';
import { dlqTailCommand } from './dlq.js';
import { exitCodes, reportError } from './output.js';
import { sendCommand } from './send.js';
import { statusCommand } from './status.js';
import { queryCommand, snowflakeDdlCommand } from './warehouse.js';
import {
  backfillCancelCommand,
  backfillCommand,
  backfillResumeCommand,
  migrateCommand,
  pipelineSignalCommand,
  replayCommand,
} from './workflows.js';

type Action = (ctx: CliContext) => Promise<number> | number;

export function buildProgram(run: (action: Action) => Promise<void>): Command {
  const program = new Command('sluice')
    .description('Operate a running Sluice platform: status, send, backfill, replay, schemas, queries, DLQs.')
    .showHelpAfterError('(run with --help for usage)')
    .exitOverride();
  const json = (): Option => new Option('--json', 'machine-readable output');

  program
    .command('status')
    .description('pipelines (lag, rate, last files) and loaders (freshness, files) per event type')
    .addOption(json())
    .action((o: { json?: boolean }) => run((ctx) => statusCommand(ctx, o)));

  program
    .command('send')
    .description('post events to the proxy: from a file (JSON array or NDJSON) or N schema-valid samples')
    .argument('<type>', 'event type')
    .option('--file <path>', 'events or bare payloads, as a JSON array or NDJSON')
    .option('--sample <n>', 'send n valid sample events generated from the schema')
    .option('--test', 'mark the events as test traffic (ce_test=true)')
    .option('--async', 'answer once spooled (Prefer: respond-async)')
    .option('--batch <n>', 'events per request', '500')
    .option('--url <url>', 'proxy base URL (default: from the config)')
    .addOption(json())
    .action((type: string, o: Parameters<typeof sendCommand>[2]) => run((ctx) => sendCommand(ctx, type, o)));

  const backfill = program
    .command('backfill')
    .description("load a type's Parquet files of a time range from S3 into the warehouse (workflow backfill)")
    .argument('<type>', 'event type')
    .option('--from <time>', 'ISO 8601, inclusive (default: the beginning)')
    .option('--to <time>', 'ISO 8601, exclusive (default: now and later)')
    .option('--version <n>', 'only files of this schema version')
    .option('--table <name>', "load into this table instead of the version's own")
    .option('--force', 'load files the load history says were loaded (duplicates their rows)')
    .option('--parallelism <n>', 'chunks (days) loading at once', '4')
    .option('--wait', 'wait with a progress bar and print the result')
    .addOption(json())
    .action((type: string, o: Parameters<typeof backfillCommand>[2]) =>
      run((ctx) => backfillCommand(ctx, type, o)),
    );
  backfill
    .command('resume')
    .description('start again a cancelled or failed backfill: files it loaded are not loaded twice')
    .argument('<workflow-id>')
    .option('--wait', 'wait with a progress bar')
    .addOption(json())
    .action((id: string, o: Parameters<typeof backfillResumeCommand>[2]) =>
      run((ctx) => backfillResumeCommand(ctx, id, o)),
    );
  backfill
    .command('cancel')
    .description('cancel a running backfill (it stops between pages; nothing is half-loaded)')
    .argument('<workflow-id>')
    .action((id: string) => run((ctx) => backfillCancelCommand(ctx, id)));

  program
    .command('replay')
    .description(
      'write a Kafka or S3-archive range of a type again: onto its topic (the pipeline), another topic, or a table',
    )
    .argument('<type>', 'event type')
    .requiredOption('--source <kafka|s3>', "kafka: the type's topic; s3: the Parquet archive")
    .option('--from <time|p:offset,…>', 'RFC 3339 time, or (kafka) partition:offset pairs such as 0:120,2:0')
    .option('--to <time|p:offset,…>', 'exclusive end, same forms (kafka default: the end now)')
    .option('--topic <name>', "replay onto this topic instead of the type's own")
    .option('--table <name>', '(s3) load the archived files into this table')
    .option('--no-force', '(table) skip files the load history has for that table')
    .option('--parallelism <n>', 'partitions or file lanes at once', '4')
    .option('--wait', 'wait with a progress bar and print the result')
    .addOption(json())
    .action((type: string, o: Parameters<typeof replayCommand>[2] & { force?: boolean }) =>
      run((ctx) => replayCommand(ctx, type, { ...o, noForce: o.force === false })),
    );

  const schema = program.command('schema').description('the event catalog and the warehouse tables');
  schema
    .command('check')
    .description('check the catalog: compatibility of every version, released versions unchanged')
    .option('--release', 'record new versions in the lock file (<catalog>.lock.json)')
    .action((o: { release?: boolean }) =>
      run((ctx) => {
        const report = checkCatalog(ctx.config.catalogDir, { updateLock: Boolean(o.release) });
        process.stdout.write(
          `${report.lines.join('\n')}\n${report.ok ? 'schemas: ok' : 'schemas: FAILED'}\n`,
        );
        return report.ok ? exitCodes.ok : exitCodes.failed;
      }),
    );
  for (const [name, dryRun, what] of [
    ['diff', true, "show the DDL that moves the type's table to a version (nothing changes)"],
    ['migrate', false, "move the type's table to a version (workflow schemaMigration; pauses its loader)"],
  ] as const) {
    schema
      .command(name)
      .description(what)
      .argument('<type>', 'event type')
      .option('--to <version>', 'target schema version (default: the latest)')
      .addOption(json())
      .action((type: string, o: { to?: string; json?: boolean }) =>
        run((ctx) => migrateCommand(ctx, type, { ...o, dryRun })),
      );
  }

  program
    .command('query')
    .description('run one read-only SQL statement on the warehouse')
    .argument('<sql>')
    .option('--max-rows <n>', 'rows to return at most', '10000')
    .addOption(json())
    .action((sql: string, o: Parameters<typeof queryCommand>[2]) => run((ctx) => queryCommand(ctx, sql, o)));

  const pipelines = program.command('pipelines').description("signal a type's pipeline");
  for (const action of ['pause', 'resume', 'flush'] as const) {
    pipelines
      .command(action)
      .description(
        {
          pause: 'stop moving events after the current segment',
          resume: 'go on moving events',
          flush: 'write what waits now instead of at the flush policy',
        }[action],
      )
      .argument('<type>', 'event type')
      .action((type: string) => run((ctx) => pipelineSignalCommand(ctx, action, type)));
  }

  program
    .command('dlq')
    .description('dead-letter topics')
    .command('tail')
    .description('the newest records of a type\'s DLQ with their reasons (type "unknown": sluice.dlq)')
    .argument('<type>', 'event type, or "unknown"')
    .option('-n, --lines <n>', 'how many', '20')
    .addOption(json())
    .action((type: string, o: { lines?: string; json?: boolean }) =>
      run((ctx) => dlqTailCommand(ctx, type, o)),
    );

  program
    .command('snowflake')
    .description('Snowflake helpers')
    .command('ddl')
    .description('print the stage, file format, pipes and tables for the catalog')
    .action(() => run((ctx) => snowflakeDdlCommand(ctx)));

  return program;
}

export async function main(argv: string[]): Promise<number> {
  let code: number = exitCodes.ok;
  let ctx: CliContext | undefined;
  const program = buildProgram(async (action) => {
    ctx = createContext();
    code = await action(ctx);
  });
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version end here too, with exit code 0.
      code = err.exitCode === 0 ? exitCodes.ok : exitCodes.usage;
    } else code = reportError(err);
  } finally {
    await ctx?.close();
  }
  return code;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  process.exitCode = await main(process.argv);
}
