// The fast way from a record's JSON bytes to its row: one pass over the bytes checks them against
// the schema version and appends the values straight to the column builders, with no JSON.parse,
// no ajv and no JS object or string per value (string values are copied as bytes).
//
// It only ever accepts. Whatever it is not sure of — a string value with escapes, a repeated key, a
// key a closed object does not declare, a number with a fraction or exponent in an integer column, a
// value the schema refuses, a byte order mark — makes it give up; the caller rolls the row back and
// the record takes the exact path (JSON.parse → ajv → TableEncoder.append), which also words any
// rejection. Keys an open content model allows are skipped, their values checked as JSON only. A
// schema that uses a keyword this file does not implement (const, multipleOf, uniqueItems, min/max
// properties, enums of non-strings) or has a JSON-text column gets no reader at all. So the contract
// is narrow: accept only what the exact path accepts, and append exactly its values.
// test/unit/json-row.test.ts holds it to that on generated, mutated and hand-made payloads.
import { bytesEqualAt } from '../../lib/bytes.js';
import type { JsonSchema } from '../../schemas/json-schema.js';
import { annotationKeywords, typesOf } from '../../schemas/json-schema.js';
import {
  BoolBuilder,
  Float64Builder,
  Int32Builder,
  Int64Builder,
  ListBuilder,
  StructBuilder,
  Utf8Builder,
  type Builder,
} from './columns.js';

/** A string format check as the validator runs it (ajv-formats). */
export type StringCheck = (s: string) => boolean;

type Kind = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array';

/**
 * What one schema location accepts and the builder its values go to. One class with every field,
 * whatever the kind: the parser reads these in its hottest loops, and one shape keeps those reads
 * monomorphic.
 */
class Node {
  nullable = false;
  /** The column; for the payload itself (kind object, no column) the table's first column. */
  builder: Builder;
  // string: Utf8 columns take the bytes; timestamp and date columns take the text.
  utf8: Utf8Builder | null = null;
  minLength = 0;
  maxLength = Infinity;
  /** UTF-8 bytes of the allowed values, or null for any string. */
  enum: Buffer[] | null = null;
  checks: StringCheck[] = [];
  // integer and number
  int: Int64Builder | null = null;
  float: Float64Builder | null = null;
  min = -Infinity;
  max = Infinity;
  exclusiveMin = -Infinity;
  exclusiveMax = Infinity;
  // object
  struct: StructBuilder | null = null;
  properties: Property[] = [];
  /** Per property, the number of the last object that showed it (so nothing is reset per object). */
  seenIn = new Int32Array(0);
  /** Objects read so far. */
  count = 0;
  /** Keys beyond the properties are allowed (additionalProperties is not false); their values are skipped. */
  open = false;
  // array
  list: ListBuilder | null = null;
  item: Node | null = null;
  minItems = 0;
  maxItems = Infinity;

  constructor(
    readonly kind: Kind,
    builder: Builder,
  ) {
    this.builder = builder;
  }
}

class Property {
  constructor(
    readonly name: Buffer,
    readonly required: boolean,
    readonly node: Node,
  ) {}
}

/** Thrown while compiling: the schema uses something the fast path does not implement. */
class Unsupported extends Error {}

const KEYWORDS: Record<Kind, string[]> = {
  string: ['type', 'enum', 'format', 'minLength', 'maxLength', 'pattern'],
  integer: ['type', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  number: ['type', 'minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum'],
  boolean: ['type'],
  object: ['type', 'properties', 'required', 'additionalProperties'],
  array: ['type', 'items', 'minItems', 'maxItems'],
};

type Formats = (name: string) => StringCheck | undefined;

function compileNode(schema: JsonSchema, builder: Builder, formats: Formats): Node {
  const { types, nullable } = typesOf(schema);
  const distinct = new Set(types);
  if (distinct.has('number')) distinct.delete('integer');
  if (schema.type === undefined || distinct.size !== 1) throw new Unsupported('no single type');
  const kind = [...distinct][0] as Kind;
  for (const key of Object.keys(schema)) {
    if (!(annotationKeywords as readonly string[]).includes(key) && !KEYWORDS[kind].includes(key))
      throw new Unsupported(key);
  }
  const node = new Node(kind, builder);
  node.nullable = nullable;
  switch (kind) {
    case 'string': {
      if (schema.enum) {
        if (schema.enum.some((v) => typeof v !== 'string' && v !== null)) throw new Unsupported('enum');
        node.enum = schema.enum.filter((v): v is string => typeof v === 'string').map((v) => Buffer.from(v));
        // An enum applies to null too.
        node.nullable = nullable && schema.enum.includes(null);
      }
      if (schema.format !== undefined) {
        const check = formats(schema.format);
        if (!check) throw new Unsupported(`format ${schema.format}`);
        node.checks.push(check);
      }
      if (schema.pattern !== undefined) {
        // As ajv compiles it (unicodeRegExp).
        const re = new RegExp(schema.pattern, 'u');
        node.checks.push((s) => re.test(s));
      }
      if (builder instanceof Utf8Builder) node.utf8 = builder;
      else if (!(builder instanceof Int64Builder) && !(builder instanceof Int32Builder))
        throw new Unsupported('string column');
      node.minLength = schema.minLength ?? 0;
      node.maxLength = schema.maxLength ?? Infinity;
      return node;
    }
    case 'integer':
    case 'number':
      if (kind === 'integer' && builder instanceof Int64Builder) node.int = builder;
      else if (kind === 'number' && builder instanceof Float64Builder) node.float = builder;
      else throw new Unsupported(`${kind} column`);
      node.min = schema.minimum ?? -Infinity;
      node.max = schema.maximum ?? Infinity;
      node.exclusiveMin = schema.exclusiveMinimum ?? -Infinity;
      node.exclusiveMax = schema.exclusiveMaximum ?? Infinity;
      return node;
    case 'boolean':
      if (!(builder instanceof BoolBuilder)) throw new Unsupported('boolean column');
      return node;
    case 'object':
      if (!(builder instanceof StructBuilder)) throw new Unsupported('object column');
      node.struct = builder;
      return withProperties(node, schema, builder.fields, formats);
    case 'array':
      if (!(builder instanceof ListBuilder) || !schema.items) throw new Unsupported('array column');
      node.list = builder;
      node.item = compileNode(schema.items, builder.items, formats);
      node.minItems = schema.minItems ?? 0;
      node.maxItems = schema.maxItems ?? Infinity;
      return node;
  }
}

function withProperties(node: Node, schema: JsonSchema, columns: readonly Builder[], formats: Formats): Node {
  const entries = Object.entries(schema.properties ?? {});
  if (entries.length === 0 || entries.length !== columns.length) throw new Unsupported('properties');
  const required = new Set(schema.required ?? []);
  if ([...required].some((name) => !(schema.properties ?? {})[name])) throw new Unsupported('required');
  node.properties = entries.map(
    ([name, sub], i) =>
      new Property(Buffer.from(name), required.has(name), compileNode(sub, columns[i]!, formats)),
  );
  node.seenIn = new Int32Array(entries.length);
  node.open = schema.additionalProperties !== false;
  return node;
}

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const MINUS = 0x2d;
const DOT = 0x2e;
const ZERO = 0x30;
const OPEN_OBJECT = 0x7b;
const CLOSE_OBJECT = 0x7d;
const OPEN_ARRAY = 0x5b;
const CLOSE_ARRAY = 0x5d;

// The reader below is plain functions over (buf, position): each returns the position after what
// it read, or FAIL. Positions in locals instead of a field keep the byte loops in registers.
const FAIL = -1;

/** The first position at or after `p` that is not JSON whitespace. */
function ws(buf: Buffer, p: number): number {
  // Every byte above the space is no whitespace; JSON.stringify writes none at all.
  let b = buf[p];
  if (b === undefined || b > 0x20) return p;
  while (b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09) b = buf[++p];
  return p;
}

// Bytes a string value holds as they are: printable ASCII but the quote and the backslash.
const PLAIN = new Uint8Array(256);
for (let b = 0x20; b < 0x80; b++) PLAIN[b] = b === QUOTE || b === BACKSLASH ? 0 : 1;

const isDigit = (b: number | undefined): boolean => b !== undefined && b >= ZERO && b <= ZERO + 9;

function oneOf(values: Buffer[], buf: Buffer, start: number, end: number): boolean {
  for (const v of values) if (bytesEqualAt(buf, start, end, v)) return true;
  return false;
}

/** `word` at `p` (its first byte already seen), or FAIL. */
function literal(buf: Buffer, p: number, word: string): number {
  for (let i = 1; i < word.length; i++) if (buf[p + i] !== word.charCodeAt(i)) return FAIL;
  return p + word.length;
}

function value(buf: Buffer, p: number, node: Node): number {
  p = ws(buf, p);
  const b = buf[p];
  if (b === 0x6e) {
    if (!node.nullable) return FAIL;
    p = literal(buf, p, 'null');
    if (p !== FAIL) node.builder.append(null);
    return p;
  }
  switch (node.kind) {
    case 'string':
      return b === QUOTE ? string(buf, p, node) : FAIL;
    case 'integer':
    case 'number':
      return b === MINUS || isDigit(b) ? number(buf, p, node) : FAIL;
    case 'boolean':
      if (b === 0x74) {
        p = literal(buf, p, 'true');
        if (p !== FAIL) node.builder.append(true);
        return p;
      }
      if (b === 0x66) {
        p = literal(buf, p, 'false');
        if (p !== FAIL) node.builder.append(false);
        return p;
      }
      return FAIL;
    case 'object':
      return b === OPEN_OBJECT ? object(buf, p, node) : FAIL;
    case 'array':
      return b === OPEN_ARRAY ? array(buf, p, node) : FAIL;
  }
}

function string(buf: Buffer, p: number, node: Node): number {
  const start = p + 1;
  // Code points, as ajv counts string length: every byte but UTF-8 continuation bytes.
  let continuations = 0;
  for (p = start; ; p++) {
    const b = buf[p]!;
    if (PLAIN[b] === 1) continue;
    if (b === QUOTE) break;
    if (b === undefined || b < 0x80) return FAIL; // the end, a backslash or a control character
    if ((b & 0xc0) === 0x80) continuations++;
  }
  const chars = p - start - continuations;
  if (chars < node.minLength || chars > node.maxLength) return FAIL;
  if (node.enum !== null && !oneOf(node.enum, buf, start, p)) return FAIL;
  const { utf8 } = node;
  if (node.checks.length > 0 || utf8 === null) {
    const s = buf.toString('utf8', start, p);
    for (const check of node.checks) if (!check(s)) return FAIL;
    if (utf8 === null) {
      node.builder.append(s);
      return p + 1;
    }
  }
  utf8.appendBytes(buf, start, p);
  return p + 1;
}

function number(buf: Buffer, p: number, node: Node): number {
  const start = p;
  p = skipNumber(buf, p);
  if (p === FAIL) return FAIL;
  const negative = buf[start] === MINUS;
  const intStart = negative ? start + 1 : start;
  let intEnd = intStart;
  while (isDigit(buf[intEnd])) intEnd++;
  // No fraction and no exponent.
  const plain = intEnd === p;
  let v: number;
  // Up to 15 digits are exact in a double; longer or non-plain numbers are read as JSON.parse does.
  if (plain && intEnd - intStart <= 15) {
    v = 0;
    for (let i = intStart; i < intEnd; i++) v = v * 10 + (buf[i]! - ZERO);
    if (negative) v = -v;
  } else if (node.int !== null) {
    // 1.0 and 1e2 are integers to ajv; let the exact path decide them.
    return FAIL;
  } else {
    v = Number(buf.toString('latin1', start, p));
    // ajv (strictNumbers) refuses what JSON.parse turns into Infinity, such as 1e400.
    if (!Number.isFinite(v)) return FAIL;
  }
  if (v < node.min || v > node.max || v <= node.exclusiveMin || v >= node.exclusiveMax) return FAIL;
  if (node.int !== null) node.int.appendSafeInteger(v);
  else node.float!.appendNumber(v);
  return p;
}

/**
 * Where the key starting at `start` (after its opening quote) ends: its closing quote. A key with an
 * escape gives up (FAIL): unescaped it might be one of the properties, or another than it seems.
 */
function keyEnd(buf: Buffer, start: number): number {
  for (let p = start; ; p++) {
    const b = buf[p];
    if (b === QUOTE) return p;
    if (b === undefined || b === BACKSLASH || b < 0x20) return FAIL;
  }
}

/** The index of the property whose name is the key at `start` (after its quote), or -1. */
function property(buf: Buffer, start: number, properties: Property[], next: number): number {
  // Producers mostly write keys in one order: try the property after the last one first, and
  // match it without scanning for the closing quote.
  const n = properties.length;
  const expected = properties[next]!.name;
  const len = expected.length;
  if (buf[start + len] === QUOTE && bytesEqualAt(buf, start, start + len, expected)) return next;
  const end = keyEnd(buf, start);
  if (end === FAIL) return -1;
  for (let k = 1; k < n; k++) {
    const i = next + k < n ? next + k : next + k - n;
    if (bytesEqualAt(buf, start, end, properties[i]!.name)) return i;
  }
  return -1;
}

function object(buf: Buffer, p: number, node: Node): number {
  const { properties, seenIn } = node;
  const n = properties.length;
  // Wraps after 2^31 objects; an Int32Array slot then still differs from the new number.
  const id = (node.count = (node.count + 1) | 0);
  p = ws(buf, p + 1);
  let next = 0;
  if (buf[p] === CLOSE_OBJECT) p++;
  else {
    for (;;) {
      if (buf[p] !== QUOTE) return FAIL;
      const found = property(buf, p + 1, properties, next);
      if (found < 0) {
        // Another key: allowed by an open content model, and then its value is only checked as JSON
        // (it is kept in Kafka, not loaded). A closed model refuses it: the exact path words why.
        if (!node.open) return FAIL;
        p = keyEnd(buf, p + 1);
        if (p === FAIL) return FAIL;
        p = ws(buf, p + 1);
        if (buf[p] !== COLON) return FAIL;
        p = skipValue(buf, p + 1, 0);
      } else {
        // A repeated key goes the exact way (JSON.parse keeps the last value).
        if (seenIn[found] === id) return FAIL;
        seenIn[found] = id;
        const prop = properties[found]!;
        next = found + 1 < n ? found + 1 : 0;
        p = ws(buf, p + prop.name.length + 2);
        if (buf[p] !== COLON) return FAIL;
        p = value(buf, p + 1, prop.node);
      }
      if (p === FAIL) return FAIL;
      p = ws(buf, p);
      const b = buf[p++];
      if (b === CLOSE_OBJECT) break;
      if (b !== COMMA) return FAIL;
      p = ws(buf, p);
    }
  }
  for (let i = 0; i < n; i++) {
    if (seenIn[i] === id) continue;
    const prop = properties[i]!;
    if (prop.required) return FAIL;
    prop.node.builder.append(null);
  }
  node.struct?.appendPresent();
  return p;
}

// Deeper values of unknown keys go the exact way (JSON.parse has no limit but the stack).
const MAX_SKIP_DEPTH = 64;
const HEX = new Uint8Array(256);
for (const c of '0123456789abcdefABCDEF') HEX[c.charCodeAt(0)] = 1;
// What may follow a backslash in a JSON string (u: four hex digits follow).
const ESCAPES = new Uint8Array(256);
for (const c of '"\\/bfnrtu') ESCAPES[c.charCodeAt(0)] = 1;

/** The position after any JSON value at `p` (after whitespace), checked as JSON.parse checks it. */
function skipValue(buf: Buffer, p: number, depth: number): number {
  p = ws(buf, p);
  const b = buf[p];
  switch (b) {
    case QUOTE:
      for (p++; ; p++) {
        const c = buf[p]!;
        if (PLAIN[c] === 1 || c >= 0x80) continue;
        if (c === QUOTE) return p + 1;
        if (c !== BACKSLASH) return FAIL; // the end or a control character
        const e = buf[++p]!;
        if (ESCAPES[e] !== 1) return FAIL;
        if (e === 0x75) {
          for (let i = 1; i <= 4; i++) if (HEX[buf[p + i]!] !== 1) return FAIL;
          p += 4;
        }
      }
    case 0x74:
      return literal(buf, p, 'true');
    case 0x66:
      return literal(buf, p, 'false');
    case 0x6e:
      return literal(buf, p, 'null');
    case OPEN_ARRAY:
    case OPEN_OBJECT: {
      if (depth >= MAX_SKIP_DEPTH) return FAIL;
      const object = b === OPEN_OBJECT;
      const close = object ? CLOSE_OBJECT : CLOSE_ARRAY;
      p = ws(buf, p + 1);
      if (buf[p] === close) return p + 1;
      for (;;) {
        if (object) {
          if (buf[p] !== QUOTE) return FAIL;
          p = skipValue(buf, p, depth + 1);
          if (p === FAIL) return FAIL;
          p = ws(buf, p);
          if (buf[p] !== COLON) return FAIL;
          p++;
        }
        p = skipValue(buf, p, depth + 1);
        if (p === FAIL) return FAIL;
        p = ws(buf, p);
        const c = buf[p++];
        if (c === close) return p;
        if (c !== COMMA) return FAIL;
        p = ws(buf, p);
      }
    }
    default:
      return b === MINUS || isDigit(b) ? skipNumber(buf, p) : FAIL;
  }
}

/** The position after the JSON number at `p`, or FAIL: -? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)? */
function skipNumber(buf: Buffer, p: number): number {
  if (buf[p] === MINUS) p++;
  if (buf[p] === ZERO) p++;
  else {
    if (!isDigit(buf[p])) return FAIL;
    while (isDigit(buf[p])) p++;
  }
  if (buf[p] === DOT) {
    if (!isDigit(buf[++p])) return FAIL;
    while (isDigit(buf[p])) p++;
  }
  if (buf[p] === 0x65 || buf[p] === 0x45) {
    p++;
    if (buf[p] === 0x2b || buf[p] === MINUS) p++;
    if (!isDigit(buf[p])) return FAIL;
    while (isDigit(buf[p])) p++;
  }
  return p;
}

function array(buf: Buffer, p: number, node: Node): number {
  const item = node.item!;
  p = ws(buf, p + 1);
  let count = 0;
  if (buf[p] === CLOSE_ARRAY) p++;
  else {
    for (;;) {
      p = value(buf, p, item);
      if (p === FAIL) return FAIL;
      count++;
      p = ws(buf, p);
      const b = buf[p++];
      if (b === CLOSE_ARRAY) break;
      if (b !== COMMA) return FAIL;
    }
  }
  if (count < node.minItems || count > node.maxItems) return FAIL;
  node.list!.appendPresent();
  return p;
}

/** Reads payloads of one schema version into its payload columns (TableEncoder.payloadColumns). */
export class JsonRowParser {
  private constructor(private readonly root: Node) {}

  /** A parser for `schema` filling `columns`, or undefined when the schema uses something only the
   * exact path implements. */
  static compile(
    schema: JsonSchema,
    columns: readonly Builder[],
    formats: Formats,
  ): JsonRowParser | undefined {
    try {
      const root = new Node('object', columns[0]!);
      return new JsonRowParser(withProperties(root, schema, columns, formats));
    } catch (e) {
      if (e instanceof Unsupported) return undefined;
      throw e;
    }
  }

  /**
   * Appends the payload in `buf` (valid UTF-8) to the columns; false when it gave up, after which
   * the columns hold partial values the caller must roll back (TableEncoder.appendWith does).
   */
  read(buf: Buffer): boolean {
    let p = ws(buf, 0);
    if (buf[p] !== OPEN_OBJECT) return false;
    p = object(buf, p, this.root);
    return p !== FAIL && ws(buf, p) === buf.length;
  }
}
