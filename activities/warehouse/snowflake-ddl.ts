// `sluice snowflake ddl`: every object a Snowflake deployment needs, as SQL text an administrator
// can review and run (or hand to their own tooling) instead of granting the loader CREATE rights.
// Pure: the same statements the adapter runs in init() and migrate(), from the config and catalog.
import type { Config } from '../../lib/config.js';
import type { Catalog } from '../../schemas/catalog.js';
import { snowflakeCreateTable } from '../../schemas/mapping.js';
import { fileFormatSql, pipeSql, stageSql, systemTables } from './snowflake-sql.js';
import { testTableOf } from './tables.js';

export function snowflakeDdl(config: Config, catalog: Catalog): string {
  const sf = config.warehouse.snowflake;
  if (!sf) throw new Error('warehouse.snowflake is not configured');
  const parts: string[] = [
    `-- Sluice objects for ${sf.database}.${sf.schema} (mode ${sf.mode}). Tables hold each type's latest`,
    `-- schema version; the loader's migrations move older tables forward (sluice migrate).`,
    fileFormatSql() + ';',
    stageSql(sf, config.s3) + ';',
    ...systemTables.map((s) => s + ';'),
  ];
  const types = [...catalog.types.values()].sort((a, b) => a.name.localeCompare(b.name));
  for (const type of types) {
    parts.push(`-- ${type.name} v${type.latest.version} (testEvents: ${type.settings.testEvents})`);
    for (const table of [type.table, testTableOf(type, type.table)]) {
      if (table !== undefined) parts.push(snowflakeCreateTable(table, type.latest.schema) + ';');
    }
    // A pipe's COPY cannot filter rows: in snowpipe mode test events stay in the table.
    parts.push(pipeSql(sf, type.table) + ';');
  }
  return parts.join('\n\n') + '\n';
}
