// How an event schema becomes columns: one Arrow schema per event version (what the Parquet files
// hold), derived from it the DuckDB and Snowflake tables, and the DDL that moves an existing
// table to a new version. Pure: no I/O, so the catalog, the writer and the loader all agree.
//
// Rules worth knowing:
// - Only declared properties become columns. Extra fields allowed by an open content model
//   (additionalProperties not false) stay in Kafka and are not loaded.
// - "JSON text" columns (free-form objects, values of mixed types, arrays without `items`) are
//   Utf8 columns named like the property and hold `JSON.stringify(value)`; JSON null is SQL NULL.
//   The Arrow field carries the canonical `arrow.json` extension name so writers can tell.
// - A field is nullable unless it is required by its parent object and its type excludes null.
//   DuckDB cannot declare NOT NULL inside a STRUCT, so nested nullability lives in Parquet only.
// - Snowflake tables are created with quoted lower-case names; the loader must COPY with
//   MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE (Parquet names are the property names).
import * as arrow from 'apache-arrow';
import { joinPath, typesOf, type JsonSchema, type JsonType } from './json-schema.js';

export type Dialect = 'duckdb' | 'snowflake';

/** A table column as the warehouse reports it; `type` is the dialect's type text. */
export interface ColumnDef {
  name: string;
  type: string;
  nullable: boolean;
}

export interface DdlStep {
  sql: string;
  description: string;
}

export type TableDiff =
  | { kind: 'compatible'; steps: DdlStep[] }
  | { kind: 'incompatible'; reasons: { column: string; message: string }[] };

/** Arrow's canonical extension for UTF-8 JSON text (storage type Utf8). */
export const jsonTextExtension = 'arrow.json';
const extensionNameKey = 'ARROW:extension:name';

export function isJsonText(field: arrow.Field): boolean {
  return field.metadata.get(extensionNameKey) === jsonTextExtension;
}

const timestampType = (): arrow.TimestampMicrosecond => new arrow.TimestampMicrosecond('UTC');

/** Appended to every table, after the payload columns; filled by the pipeline, never by producers. */
export const envelopeColumns: readonly arrow.Field[] = [
  new arrow.Field('_event_id', new arrow.Utf8(), false),
  new arrow.Field('_event_time', timestampType(), false),
  new arrow.Field('_ingest_time', timestampType(), false),
  new arrow.Field('_source', new arrow.Utf8(), false),
  new arrow.Field('_schema_version', new arrow.Int32(), false),
  new arrow.Field('_kafka_partition', new arrow.Int32(), false),
  new arrow.Field('_kafka_offset', new arrow.Int64(), false),
  new arrow.Field('_test', new arrow.Bool(), false),
];

// ---------------------------------------------------------------------------------------------
// JSON Schema → Arrow

/** Payload columns in declaration order, then {@link envelopeColumns}. */
export function toArrowSchema(schema: JsonSchema): arrow.Schema {
  const { types } = typesOf(schema);
  if (types.length !== 1 || types[0] !== 'object' || !schema.properties) {
    throw new Error('an event schema must be an object with properties');
  }
  const payload = objectFields(schema);
  const envelopeNames = new Set(envelopeColumns.map((f) => f.name));
  const clash = payload.find((f) => envelopeNames.has(f.name));
  if (clash) throw new Error(`property ${joinPath('/', clash.name)} clashes with an envelope column`);
  return new arrow.Schema([...payload, ...envelopeColumns]);
}

function objectFields(schema: JsonSchema): arrow.Field[] {
  const required = new Set(schema.required ?? []);
  return Object.entries(schema.properties ?? {}).map(([name, sub]) =>
    fieldFor(name, sub, required.has(name)),
  );
}

function fieldFor(name: string, schema: JsonSchema, required: boolean): arrow.Field {
  const { types, nullable } = typesOf(schema);
  const type = arrowTypeFor(schema, types);
  // No types at all means "any JSON value", null included.
  const isNullable = !required || nullable || types.length === 0;
  if (type === 'json') {
    return new arrow.Field(
      name,
      new arrow.Utf8(),
      isNullable,
      new Map([[extensionNameKey, jsonTextExtension]]),
    );
  }
  return new arrow.Field(name, type, isNullable);
}

function arrowTypeFor(schema: JsonSchema, types: JsonType[]): arrow.DataType | 'json' {
  const distinct = new Set(types);
  // Every integer is a number, so ["integer","number"] is just a number.
  if (distinct.has('number')) distinct.delete('integer');
  if (distinct.size !== 1) return 'json';
  const [only] = distinct;
  switch (only) {
    case 'string':
      if (schema.format === 'date-time') return timestampType();
      if (schema.format === 'date') return new arrow.DateDay();
      return new arrow.Utf8();
    case 'integer':
      return new arrow.Int64();
    case 'number':
      return new arrow.Float64();
    case 'boolean':
      return new arrow.Bool();
    case 'object': {
      // Parquet and DuckDB have no empty struct; a shapeless object is kept as JSON text.
      const fields = objectFields(schema);
      return fields.length > 0 ? new arrow.Struct(fields) : 'json';
    }
    case 'array':
      return new arrow.List(fieldFor('item', schema.items ?? {}, true));
    default:
      return 'json';
  }
}

// ---------------------------------------------------------------------------------------------
// Arrow → SQL types. Both dialects are derived from the Arrow schema, so a table always matches
// the Parquet files loaded into it.

type SqlType =
  | { kind: 'scalar'; name: string }
  | { kind: 'struct'; fields: { name: string; type: SqlType }[] }
  | { kind: 'list'; element: SqlType };

const scalar = (name: string): SqlType => ({ kind: 'scalar', name });

/** Double-quoted SQL identifier (both dialects): embedded quotes are doubled. */
export function quoteIdent(name: string): string {
  return `"${name.replaceAll('"', '""')}"`;
}

/** Single-quoted SQL string literal; Snowflake also treats backslash as an escape character. */
export function quoteLiteral(value: string, dialect: Dialect = 'duckdb'): string {
  const escaped = dialect === 'snowflake' ? value.replaceAll('\\', '\\\\') : value;
  return `'${escaped.replaceAll("'", "''")}'`;
}

function duckdbType(field: arrow.Field): SqlType {
  const t: unknown = field.type;
  if (isJsonText(field)) return scalar('JSON');
  if (arrow.DataType.isUtf8(t)) return scalar('VARCHAR');
  if (arrow.DataType.isTimestamp(t)) return scalar('TIMESTAMPTZ');
  if (arrow.DataType.isDate(t)) return scalar('DATE');
  if (arrow.DataType.isInt(t)) return scalar(t.bitWidth === 64 ? 'BIGINT' : 'INTEGER');
  if (arrow.DataType.isFloat(t)) return scalar('DOUBLE');
  if (arrow.DataType.isBool(t)) return scalar('BOOLEAN');
  if (arrow.DataType.isStruct(t)) {
    const children: arrow.Field[] = t.children;
    return { kind: 'struct', fields: children.map((c) => ({ name: c.name, type: duckdbType(c) })) };
  }
  if (arrow.DataType.isList(t)) {
    const element: arrow.Field = t.valueField;
    return { kind: 'list', element: duckdbType(element) };
  }
  throw new Error(`no DuckDB type for Arrow ${String(field.type)} (${field.name})`);
}

function snowflakeType(field: arrow.Field): SqlType {
  const t: unknown = field.type;
  // Nested values and JSON text go to VARIANT: Snowflake loads Parquet groups and lists into it.
  // A JSON-text column arrives as a Parquet string, so its COPY needs PARSE_JSON to store the
  // document rather than a VARIANT string.
  if (isJsonText(field) || arrow.DataType.isStruct(t) || arrow.DataType.isList(t)) return scalar('VARIANT');
  if (arrow.DataType.isUtf8(t)) return scalar('VARCHAR');
  if (arrow.DataType.isTimestamp(t)) return scalar('TIMESTAMP_TZ');
  if (arrow.DataType.isDate(t)) return scalar('DATE');
  if (arrow.DataType.isInt(t)) return scalar('NUMBER(38,0)');
  if (arrow.DataType.isFloat(t)) return scalar('FLOAT');
  if (arrow.DataType.isBool(t)) return scalar('BOOLEAN');
  throw new Error(`no Snowflake type for Arrow ${String(field.type)} (${field.name})`);
}

function renderType(t: SqlType): string {
  switch (t.kind) {
    case 'scalar':
      return t.name;
    case 'struct':
      return `STRUCT(${t.fields.map((f) => `${quoteIdent(f.name)} ${renderType(f.type)}`).join(', ')})`;
    case 'list':
      return `${renderType(t.element)}[]`;
  }
}

const typeFor: Record<Dialect, (field: arrow.Field) => SqlType> = {
  duckdb: duckdbType,
  snowflake: snowflakeType,
};

function columnsFor(schema: JsonSchema, dialect: Dialect): ColumnDef[] {
  return toArrowSchema(schema).fields.map((f) => ({
    name: f.name,
    type: renderType(typeFor[dialect](f)),
    nullable: f.nullable,
  }));
}

export function duckdbColumns(schema: JsonSchema): ColumnDef[] {
  return columnsFor(schema, 'duckdb');
}

export function snowflakeColumns(schema: JsonSchema): ColumnDef[] {
  return columnsFor(schema, 'snowflake');
}

function createTable(table: string, columns: ColumnDef[]): string {
  const lines = columns.map((c) => `  ${quoteIdent(c.name)} ${c.type}${c.nullable ? '' : ' NOT NULL'}`);
  return `CREATE TABLE IF NOT EXISTS ${quoteIdent(table)} (\n${lines.join(',\n')}\n)`;
}

export function duckdbCreateTable(table: string, schema: JsonSchema): string {
  return createTable(table, duckdbColumns(schema));
}

/** Load with `COPY INTO … FILE_FORMAT = (TYPE = PARQUET) MATCH_BY_COLUMN_NAME = CASE_INSENSITIVE`. */
export function snowflakeCreateTable(table: string, schema: JsonSchema): string {
  return createTable(table, snowflakeColumns(schema));
}

// ---------------------------------------------------------------------------------------------
// Parsing the type text a warehouse reports (DESCRIBE, information_schema) back into a tree.

class TypeParser {
  private pos = 0;
  constructor(private readonly text: string) {}

  parse(): SqlType {
    const t = this.type();
    this.skipSpace();
    if (this.pos !== this.text.length) throw this.error('unexpected text');
    return t;
  }

  private type(): SqlType {
    this.skipSpace();
    let t: SqlType;
    const rest = this.text.slice(this.pos);
    const struct = /^STRUCT\s*\(/i.exec(rest);
    if (struct) {
      this.pos += struct[0].length;
      const fields: { name: string; type: SqlType }[] = [];
      for (;;) {
        this.skipSpace();
        const name = this.ident();
        fields.push({ name, type: this.type() });
        this.skipSpace();
        const c = this.text[this.pos++];
        if (c === ')') break;
        if (c !== ',') throw this.error('expected , or )');
      }
      t = { kind: 'struct', fields };
    } else {
      t = scalar(this.scalarText());
    }
    for (;;) {
      this.skipSpace();
      const suffix = /^\[\s*(\d*)\s*\]/.exec(this.text.slice(this.pos));
      if (!suffix) return t;
      this.pos += suffix[0].length;
      // A fixed-size ARRAY (`INTEGER[3]`) is not a list; keep it as opaque text.
      t = suffix[1] ? scalar(`${renderType(t)}[${suffix[1]}]`) : { kind: 'list', element: t };
    }
  }

  /** A type name, possibly with spaces and a balanced parameter list: `DECIMAL(18, 3)`, `MAP(…)`. */
  private scalarText(): string {
    const start = this.pos;
    let depth = 0;
    while (this.pos < this.text.length) {
      const c = this.text[this.pos];
      if (c === '"') {
        this.ident();
        continue;
      }
      if (depth === 0 && (c === ',' || c === ')' || c === '[')) break;
      if (c === '(') depth++;
      if (c === ')') depth--;
      this.pos++;
    }
    const name = this.text.slice(start, this.pos).trim();
    if (!name) throw this.error('expected a type');
    return name;
  }

  private ident(): string {
    if (this.text[this.pos] === '"') {
      let out = '';
      for (this.pos++; this.pos < this.text.length; this.pos++) {
        const c = this.text[this.pos];
        if (c === '"') {
          if (this.text[this.pos + 1] !== '"') {
            this.pos++;
            return out;
          }
          this.pos++;
        }
        out += c;
      }
      throw this.error('unterminated quoted name');
    }
    const m = /^[^\s"(),[\]]+/.exec(this.text.slice(this.pos));
    if (!m) throw this.error('expected a field name');
    this.pos += m[0].length;
    return m[0];
  }

  private skipSpace(): void {
    while (/\s/.test(this.text[this.pos] ?? '')) this.pos++;
  }

  private error(what: string): Error {
    return new Error(`cannot parse type ${JSON.stringify(this.text)} at ${this.pos}: ${what}`);
  }
}

// ---------------------------------------------------------------------------------------------
// Dialect rules for evolving a table.

type ScalarChange = 'same' | 'widen' | 'incompatible';

interface DialectRules {
  label: string;
  parse(text: string): SqlType;
  scalarChange(from: string, to: string): ScalarChange;
  /** How to add a field inside a nested column, or undefined when the dialect cannot. */
  addField?(table: string, path: string[], type: string): string;
}

const spaced = (s: string): string => s.trim().replace(/\s+/g, ' ').toUpperCase();

const duckdbAliases: Record<string, string> = {
  'TIMESTAMP WITH TIME ZONE': 'TIMESTAMPTZ',
  INT8: 'BIGINT',
  LONG: 'BIGINT',
  INT: 'INTEGER',
  INT4: 'INTEGER',
  SIGNED: 'INTEGER',
  INT2: 'SMALLINT',
  SHORT: 'SMALLINT',
  INT1: 'TINYINT',
  FLOAT8: 'DOUBLE',
  FLOAT4: 'FLOAT',
  REAL: 'FLOAT',
  BOOL: 'BOOLEAN',
  LOGICAL: 'BOOLEAN',
  STRING: 'VARCHAR',
  TEXT: 'VARCHAR',
  CHAR: 'VARCHAR',
  BPCHAR: 'VARCHAR',
};

function normalizeDuckdb(name: string): string {
  const n = spaced(name);
  if (/^VARCHAR\s*\(\s*\d+\s*\)$/.test(n)) return 'VARCHAR';
  return duckdbAliases[n] ?? n;
}

// Widening = every old value converts exactly (or, for BIGINT → DOUBLE, as a JSON number would).
const duckdbNumericRank: Record<string, number> = { TINYINT: 1, SMALLINT: 2, INTEGER: 3, BIGINT: 4 };
const duckdbFloatRank: Record<string, number> = { FLOAT: 1, DOUBLE: 2 };

const duckdbRules: DialectRules = {
  label: 'DuckDB',
  parse: (text) => normalizeTree(new TypeParser(text).parse(), normalizeDuckdb),
  scalarChange(from, to) {
    if (from === to) return 'same';
    const intFrom = duckdbNumericRank[from];
    const intTo = duckdbNumericRank[to];
    if (intFrom !== undefined && intTo !== undefined && intTo > intFrom) return 'widen';
    if (intFrom !== undefined && to === 'DOUBLE') return 'widen';
    const floatFrom = duckdbFloatRank[from];
    const floatTo = duckdbFloatRank[to];
    if (floatFrom !== undefined && floatTo !== undefined && floatTo > floatFrom) return 'widen';
    return 'incompatible';
  },
  // DuckDB ≥ 1.1 adds struct fields in place; `element` steps into a list's element type.
  addField: (table, path, type) =>
    `ALTER TABLE ${quoteIdent(table)} ADD COLUMN IF NOT EXISTS ${path.map(quoteIdent).join('.')} ${type}`,
};

const snowflakeVarcharMax = 16777216;

function normalizeSnowflake(name: string): string {
  const n = spaced(name).replace(/\s*([(),])\s*/g, '$1');
  const text =
    /^(?:VARCHAR|STRING|TEXT|NVARCHAR2?|CHAR VARYING|CHARACTER VARYING|NCHAR VARYING)(?:\((\d+)\))?$/.exec(n);
  if (text) return text[1] && Number(text[1]) < snowflakeVarcharMax ? `VARCHAR(${text[1]})` : 'VARCHAR';
  if (/^(?:INT|INTEGER|BIGINT|SMALLINT|TINYINT|BYTEINT)$/.test(n)) return 'NUMBER(38,0)';
  const num = /^(?:NUMBER|DECIMAL|NUMERIC)(?:\((\d+)(?:,(\d+))?\))?$/.exec(n);
  if (num) return `NUMBER(${num[1] ?? 38},${num[2] ?? 0})`;
  if (/^(?:FLOAT[48]?|DOUBLE|DOUBLE PRECISION|REAL)$/.test(n)) return 'FLOAT';
  if (/^TIMESTAMP_TZ(?:\(\d\))?$/.test(n)) return 'TIMESTAMP_TZ';
  // Parquet lists and groups load into any semi-structured type.
  if (n === 'OBJECT' || n === 'ARRAY') return 'VARIANT';
  return n;
}

const snowflakeRules: DialectRules = {
  label: 'Snowflake',
  parse: (text) => scalar(normalizeSnowflake(text)),
  // Snowflake's SET DATA TYPE only lengthens text and raises NUMBER precision; it never changes a
  // type family, so NUMBER(38,0) → FLOAT (integer → number) cannot be done in place.
  scalarChange(from, to) {
    if (from === to) return 'same';
    if (to === 'VARCHAR' && from.startsWith('VARCHAR(')) return 'widen';
    const num = /^NUMBER\((\d+),0\)$/.exec(from);
    if (num && to === 'NUMBER(38,0)' && Number(num[1]) < 38) return 'widen';
    return 'incompatible';
  },
};

const rulesFor: Record<Dialect, DialectRules> = { duckdb: duckdbRules, snowflake: snowflakeRules };

function normalizeTree(t: SqlType, normalize: (name: string) => string): SqlType {
  switch (t.kind) {
    case 'scalar':
      return scalar(normalize(t.name));
    case 'struct':
      return {
        kind: 'struct',
        fields: t.fields.map((f) => ({ name: f.name, type: normalizeTree(f.type, normalize) })),
      };
    case 'list':
      return { kind: 'list', element: normalizeTree(t.element, normalize) };
  }
}

// ---------------------------------------------------------------------------------------------
// Diffing a live table against the next schema version.

interface Merge {
  /** The column's type after the steps: old fields kept, widened where needed, new ones appended. */
  type: SqlType;
  /** Nested fields to add, as identifier paths (`element` for a list's elements). */
  adds: { path: string[]; type: SqlType }[];
  widened: boolean;
  problems: string[];
}

const displayPath = (path: string[]): string =>
  joinPath('/', ...path.map((p) => (p === 'element' ? '[]' : p)));

function mergeTypes(rules: DialectRules, cur: SqlType, next: SqlType, path: string[]): Merge {
  const incompatible = (why: string): Merge => ({
    type: cur,
    adds: [],
    widened: false,
    problems: [
      `${displayPath(path)} changes from ${renderType(cur)} to ${renderType(next)}: ${why}; ` +
        'publish it under a new property name or load this version into a new table',
    ],
  });
  if (cur.kind === 'scalar' && next.kind === 'scalar') {
    const change = rules.scalarChange(cur.name, next.name);
    if (change === 'same') return { type: cur, adds: [], widened: false, problems: [] };
    if (change === 'widen') return { type: next, adds: [], widened: true, problems: [] };
    return incompatible(`not a widening ${rules.label} can apply in place`);
  }
  if (cur.kind === 'list' && next.kind === 'list') {
    const inner = mergeTypes(rules, cur.element, next.element, [...path, 'element']);
    return { ...inner, type: { kind: 'list', element: inner.type } };
  }
  if (cur.kind === 'struct' && next.kind === 'struct') {
    const out: Merge = { type: cur, adds: [], widened: false, problems: [] };
    const nextByName = new Map(next.fields.map((f) => [f.name.toLowerCase(), f]));
    // Fields gone from the schema stay, like columns: old rows still hold them.
    const fields = cur.fields.map((f) => {
      const target = nextByName.get(f.name.toLowerCase());
      if (!target) return f;
      const inner = mergeTypes(rules, f.type, target.type, [...path, f.name]);
      out.adds.push(...inner.adds);
      out.widened ||= inner.widened;
      out.problems.push(...inner.problems);
      return { name: f.name, type: inner.type };
    });
    const have = new Set(cur.fields.map((f) => f.name.toLowerCase()));
    for (const f of next.fields) {
      if (have.has(f.name.toLowerCase())) continue;
      if (!rules.addField) {
        out.problems.push(
          `${displayPath([...path, f.name])} is a new nested field ${rules.label} cannot add`,
        );
      }
      out.adds.push({ path: [...path, f.name], type: f.type });
      fields.push(f);
    }
    out.type = { kind: 'struct', fields };
    return out;
  }
  return incompatible('a different kind of value');
}

/**
 * DDL moving a table (as the warehouse describes it) to the columns of `next`. Only safe in-place
 * changes are made: new columns (always nullable: old rows have no value), numeric widenings,
 * new STRUCT fields (DuckDB), and dropping NOT NULL. Columns and struct fields that disappeared
 * from the schema are kept. NOT NULL is never added to an existing column. Every other type
 * change — including string ↔ number and anything to or from JSON text — is incompatible: the
 * data must go to a new table or the property needs a new name. Steps are idempotent.
 */
export function diffTable(
  current: ColumnDef[],
  next: JsonSchema,
  dialect: Dialect,
  table: string,
): TableDiff {
  const rules = rulesFor[dialect];
  const steps: DdlStep[] = [];
  const reasons: { column: string; message: string }[] = [];
  const byName = new Map(current.map((c) => [c.name.toLowerCase(), c]));
  const targets = columnsFor(next, dialect);

  for (const target of targets) {
    const existing = byName.get(target.name.toLowerCase());
    if (!existing) {
      steps.push({
        sql: `ALTER TABLE ${quoteIdent(table)} ADD COLUMN IF NOT EXISTS ${quoteIdent(target.name)} ${target.type}`,
        description: `add column ${target.name} ${target.type} (nullable: rows loaded before have no value)`,
      });
      continue;
    }
    const name = existing.name;
    let cur: SqlType;
    try {
      cur = rules.parse(existing.type);
    } catch (e) {
      reasons.push({ column: name, message: e instanceof Error ? e.message : String(e) });
      continue;
    }
    const merged = mergeTypes(rules, cur, rules.parse(target.type), [name]);
    if (merged.problems.length > 0) {
      for (const message of merged.problems) reasons.push({ column: name, message });
      continue;
    }
    for (const add of merged.adds) {
      const type = renderType(add.type);
      // mergeTypes reported a problem already when the dialect cannot add fields.
      const sql = rules.addField?.(table, add.path, type);
      if (sql) steps.push({ sql, description: `add field ${displayPath(add.path)} ${type} to ${name}` });
    }
    if (merged.widened) {
      const type = renderType(merged.type);
      steps.push({
        sql: `ALTER TABLE ${quoteIdent(table)} ALTER COLUMN ${quoteIdent(name)} SET DATA TYPE ${type}`,
        description: `widen ${name} from ${existing.type} to ${type}`,
      });
    }
    if (!existing.nullable && target.nullable) {
      steps.push(dropNotNull(table, name, 'the property is no longer required'));
    }
  }

  const targetNames = new Set(targets.map((t) => t.name.toLowerCase()));
  for (const c of current) {
    if (!targetNames.has(c.name.toLowerCase()) && !c.nullable) {
      steps.push(dropNotNull(table, c.name, 'the property left the schema; the column stays for old rows'));
    }
  }

  if (reasons.length > 0) return { kind: 'incompatible', reasons };
  return { kind: 'compatible', steps };
}

function dropNotNull(table: string, column: string, why: string): DdlStep {
  return {
    sql: `ALTER TABLE ${quoteIdent(table)} ALTER COLUMN ${quoteIdent(column)} DROP NOT NULL`,
    description: `drop NOT NULL on ${column}: ${why}`,
  };
}
