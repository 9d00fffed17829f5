// Which table holds which schema version, and the DDL that moves the warehouse to a version.
// `_sluice_migrations` is the record: each row says "versions from here on go to this table",
// so old files keep loading into the table of their version after an incompatible change.
import type { EventType } from '../../schemas/catalog.js';
import {
  diffTable,
  duckdbColumns,
  duckdbCreateTable,
  snowflakeColumns,
  snowflakeCreateTable,
  type ColumnDef,
  type DdlStep,
} from '../../schemas/mapping.js';
import type { LoadTarget, MigrationKind, MigrationRecord, Warehouse } from './types.js';

/** `events/<type>/v=<N>/…` → the type and schema version of a segment object. */
export function parseSegmentKey(key: string): { eventType: string; version: number } | undefined {
  const m = /^events\/([a-z][a-z0-9_]*)\/v=([1-9][0-9]{0,5})\//.exec(key);
  return m?.[1] && m[2] ? { eventType: m[1], version: Number(m[2]) } : undefined;
}

/** The record whose table takes `version`: the newest one at or below it. */
export function tableForVersion(records: MigrationRecord[], version: number): MigrationRecord | undefined {
  let found: MigrationRecord | undefined;
  for (const r of records) if (r.version <= version && (!found || r.version > found.version)) found = r;
  return found;
}

export const latestVersion = (records: MigrationRecord[]): number =>
  records.reduce((max, r) => Math.max(max, r.version), 0);

export function testTableOf(type: EventType, table: string): string | undefined {
  return type.settings.testEvents === 'separate-table' ? `${table}_test` : undefined;
}

export function loadTarget(type: EventType, table: string): LoadTarget {
  const testTable = testTableOf(type, table);
  return {
    eventType: type.name,
    table,
    ...(testTable ? { testTable } : {}),
    skipTest: type.settings.testEvents === 'skip',
  };
}

export interface MigrationStep {
  version: number;
  kind: MigrationKind;
  table: string;
  steps: DdlStep[];
  /** Why the version cannot share the previous table (kind new-table). */
  reasons: { column: string; message: string }[];
}

function schemaOf(type: EventType, version: number) {
  const v = type.versions[version - 1];
  if (!v) throw new Error(`${type.name} has no schema version ${version} (latest is ${type.latest.version})`);
  return v.schema;
}

/** CREATE TABLE for `tables` (default: the table and its test table) at `version`. */
function createSteps(
  w: Warehouse,
  type: EventType,
  table: string,
  version: number,
  tables = [table, testTableOf(type, table)],
): DdlStep[] {
  const schema = schemaOf(type, version);
  const create = w.dialect === 'duckdb' ? duckdbCreateTable : snowflakeCreateTable;
  return tables
    .filter((t): t is string => t !== undefined)
    .map((t) => ({ sql: create(t, schema), description: `create table ${t} for ${type.name} v${version}` }));
}

type Describe = (table: string) => Promise<ColumnDef[] | undefined>;

/**
 * The step that takes the warehouse from the version of `records` to `version` (one above it).
 * `describe` reports the tables as they are (or, for a dry run, as the earlier steps would leave them).
 */
export async function planStep(
  w: Warehouse,
  type: EventType,
  records: MigrationRecord[],
  version: number,
  describe: Describe,
): Promise<MigrationStep> {
  const current = tableForVersion(records, version);
  if (!current) {
    return {
      version,
      kind: 'create',
      table: type.table,
      steps: createSteps(w, type, type.table, version),
      reasons: [],
    };
  }
  const schema = schemaOf(type, version);
  const steps: DdlStep[] = [];
  for (const table of [current.table, testTableOf(type, current.table)]) {
    if (table === undefined) continue;
    const columns = await describe(table);
    if (!columns) {
      // A test table dropped by hand: create it again rather than fail every load.
      steps.push(...createSteps(w, type, table, version, [table]));
      continue;
    }
    const diff = diffTable(columns, schema, w.dialect, table);
    if (diff.kind === 'incompatible') {
      const fresh = `${type.table}_v${version}`;
      return {
        version,
        kind: 'new-table',
        table: fresh,
        steps: createSteps(w, type, fresh, version),
        reasons: diff.reasons,
      };
    }
    steps.push(...diff.steps);
  }
  return { version, kind: 'alter', table: current.table, steps, reasons: [] };
}

/** The columns a table would have after a step: what a dry run describes for the next one. */
export function columnsAfter(
  w: Warehouse,
  type: EventType,
  step: MigrationStep,
  before: ColumnDef[] | undefined,
): ColumnDef[] {
  const target = (w.dialect === 'duckdb' ? duckdbColumns : snowflakeColumns)(schemaOf(type, step.version));
  if (step.kind !== 'alter' || !before) return target;
  const names = new Set(target.map((c) => c.name.toLowerCase()));
  const kept = before.filter((c) => !names.has(c.name.toLowerCase())).map((c) => ({ ...c, nullable: true }));
  const wasNullable = new Map(before.map((c) => [c.name.toLowerCase(), c.nullable]));
  // Columns added by a migration are nullable; existing ones keep NOT NULL only if still required.
  return [
    ...target.map((c) => ({ ...c, nullable: c.nullable || (wasNullable.get(c.name.toLowerCase()) ?? true) })),
    ...kept,
  ];
}
