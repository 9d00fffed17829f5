// `sluice query` (read-only SQL through the loader worker, which owns the DuckDB file) and
// `sluice snowflake ddl`.
import { snowflakeDdl } from '../../activities/warehouse/snowflake-ddl.js';
import { queryWarehouse } from '../../lib/warehouse-client.js';
import type { CliContext } from './context.js';
import { printJson, printTable, usage } from './output.js';

export async function queryCommand(
  ctx: CliContext,
  sql: string,
  opts: { json?: boolean; maxRows?: string },
): Promise<number> {
  const maxRows = opts.maxRows === undefined ? undefined : Number(opts.maxRows);
  if (maxRows !== undefined && (!Number.isInteger(maxRows) || maxRows < 1)) {
    throw usage(`--max-rows takes a positive integer (got ${opts.maxRows})`);
  }
  const result = await queryWarehouse(ctx.config, sql, maxRows);
  if (opts.json) {
    printJson(result);
    return 0;
  }
  printTable(
    result.columns.map((c) => c.name),
    result.rows,
  );
  process.stdout.write(
    `(${result.rows.length} row${result.rows.length === 1 ? '' : 's'}${result.truncated ? ', more not shown: use --max-rows' : ''})\n`,
  );
  return 0;
}

export function snowflakeDdlCommand(ctx: CliContext): number {
  if (!ctx.config.warehouse.snowflake) {
    throw usage(
      'set warehouse.snowflake in sluice.config.json first (see docs/snowflake.md): the DDL names its stage, database and schema',
    );
  }
  process.stdout.write(snowflakeDdl(ctx.config, ctx.catalog));
  return 0;
}
