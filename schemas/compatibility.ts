// Schema compatibility with Confluent Schema Registry's semantics, applied to the catalog's JSON
// Schema subset. Every mode reduces to one question asked in one or both directions: can a consumer
// holding the reader schema accept every document valid under the writer schema? Constraints are
// compared keyword by keyword (value by value where the writer lists its values), so the checker errs
// towards reporting: a new `format` on a field whose old values happen to match it is still a break.
import { joinPath, jsonTypeOfValue, typesOf, type JsonSchema, type JsonType } from './json-schema.js';

export type CompatibilityMode =
  'NONE' | 'BACKWARD' | 'BACKWARD_TRANSITIVE' | 'FORWARD' | 'FORWARD_TRANSITIVE' | 'FULL' | 'FULL_TRANSITIVE';

export const compatibilityModes = [
  'NONE',
  'BACKWARD',
  'BACKWARD_TRANSITIVE',
  'FORWARD',
  'FORWARD_TRANSITIVE',
  'FULL',
  'FULL_TRANSITIVE',
] as const satisfies readonly CompatibilityMode[];

/** The reasons a reader can fail to read a writer's data; each is documented in the rule list. */
export type CompatibilityRule =
  | 'TYPE_CHANGED'
  | 'TYPE_NARROWED'
  | 'ENUM_NARROWED'
  | 'CONST_CHANGED'
  | 'REQUIRED_PROPERTY_ADDED'
  | 'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL'
  | 'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL'
  | 'ADDITIONAL_PROPERTIES_NARROWED'
  | 'MIN_LENGTH_INCREASED'
  | 'MAX_LENGTH_DECREASED'
  | 'PATTERN_CHANGED'
  | 'FORMAT_CHANGED'
  | 'MINIMUM_INCREASED'
  | 'MAXIMUM_DECREASED'
  | 'EXCLUSIVE_MINIMUM_INCREASED'
  | 'EXCLUSIVE_MAXIMUM_DECREASED'
  | 'MULTIPLE_OF_CHANGED'
  | 'MIN_ITEMS_INCREASED'
  | 'MAX_ITEMS_DECREASED'
  | 'UNIQUE_ITEMS_ADDED'
  | 'MIN_PROPERTIES_INCREASED'
  | 'MAX_PROPERTIES_DECREASED';

export interface Violation {
  /** JSON-pointer-like location, `/items/[]/quantity` for a field of every array element. */
  path: string;
  rule: string;
  message: string;
  /** The earlier version number compared with. */
  against: number;
}

/** Can a consumer using `reader` read every document valid under `writer`? Returns the reasons it cannot (empty = compatible). */
export function readerCanRead(reader: JsonSchema, writer: JsonSchema): Omit<Violation, 'against'>[] {
  return compare(reader, writer, {
    reader: { name: 'the reader schema', data: 'reader data', did: 'does' },
    writer: { name: 'the writer schema', data: 'data written with the writer schema', did: 'does' },
  });
}

type Direction = 'BACKWARD' | 'FORWARD';

const plans: Record<CompatibilityMode, { directions: Direction[]; transitive: boolean }> = {
  NONE: { directions: [], transitive: false },
  BACKWARD: { directions: ['BACKWARD'], transitive: false },
  BACKWARD_TRANSITIVE: { directions: ['BACKWARD'], transitive: true },
  FORWARD: { directions: ['FORWARD'], transitive: false },
  FORWARD_TRANSITIVE: { directions: ['FORWARD'], transitive: true },
  FULL: { directions: ['BACKWARD', 'FORWARD'], transitive: false },
  FULL_TRANSITIVE: { directions: ['BACKWARD', 'FORWARD'], transitive: true },
};

/**
 * Checks `candidate` (version `earlier.length + 1`) against earlier versions (`earlier[i]` is version
 * i+1, oldest first) under `mode`. Violations are ordered by version, then BACKWARD before FORWARD.
 */
export function checkCompatibility(
  mode: CompatibilityMode,
  candidate: JsonSchema,
  earlier: readonly JsonSchema[],
): Violation[] {
  // The mode usually comes from an event.yaml, so a typo must not read as "no check".
  const plan = (plans as Partial<Record<string, (typeof plans)[CompatibilityMode]>>)[mode];
  if (!plan) throw new Error(`unknown compatibility mode ${JSON.stringify(mode)}`);
  const versions = plan.transitive ? earlier.map((_, i) => i + 1) : earlier.length ? [earlier.length] : [];
  const out: Violation[] = [];
  for (const version of versions) {
    const old = earlier[version - 1];
    if (!old) continue;
    const prior: Role = { name: `version ${version}`, data: `version ${version} data`, did: 'did' };
    const next: Role = { name: 'the new schema', data: 'data written with the new schema', did: 'does' };
    for (const direction of plan.directions) {
      const found =
        direction === 'BACKWARD'
          ? compare(candidate, old, { reader: next, writer: prior })
          : compare(old, candidate, { reader: prior, writer: next });
      for (const v of found) out.push({ ...v, message: `${v.message} (${direction})`, against: version });
    }
  }
  return out;
}

// --- internals ---------------------------------------------------------------------------------

/** How a schema is named in messages: `did` keeps "version 1 did not require it" grammatical. */
interface Role {
  name: string;
  data: string;
  did: 'did' | 'does';
}

interface Ctx {
  reader: Role;
  writer: Role;
  out: Omit<Violation, 'against'>[];
}

type Scalar = string | number | boolean | null;
/** A set of JSON types; `undefined` means every type. */
type Types = JsonType[] | undefined;

const allTypes: readonly JsonType[] = ['string', 'integer', 'number', 'boolean', 'object', 'array', 'null'];

function compare(
  reader: JsonSchema,
  writer: JsonSchema,
  roles: Omit<Ctx, 'out'>,
): Omit<Violation, 'against'>[] {
  const ctx: Ctx = { ...roles, out: [] };
  check(ctx, '/', reader, writer);
  return ctx.out;
}

function push(ctx: Ctx, path: string, rule: CompatibilityRule, text: string): void {
  ctx.out.push({ path, rule, message: `${path}: ${text}` });
}

function check(ctx: Ctx, path: string, reader: JsonSchema, writer: JsonSchema): void {
  const { reader: r, writer: w } = ctx;
  const readerTypes = declaredTypes(reader);
  const values = finiteValues(writer);
  // A writer limited to listed values only ever produces those values' types.
  const writerTypes: Types = values ? [...new Set(values.map(jsonTypeOfValue))] : declaredTypes(writer);

  const produced = writerTypes ?? allTypes;
  const missing = produced.filter((t) => !admits(readerTypes, t));
  if (missing.length > 0) {
    const overlap = produced.some(
      (t) => admits(readerTypes, t) || (t === 'number' && admits(readerTypes, 'integer')),
    );
    const accepted = describeTypes(readerTypes);
    const allowed = describeTypes(writerTypes);
    if (!overlap) {
      push(
        ctx,
        path,
        'TYPE_CHANGED',
        `type changed: ${r.name} accepts ${accepted} but ${w.name} allows ${allowed}, so ${w.data} that has a value here would be rejected`,
      );
      return; // nothing the writer produces fits, so finer rules would only add noise
    }
    const holding = missing
      .filter((t) => !(t === 'integer' && missing.includes('number'))) // "a number" covers both
      .map((t) => (t === 'number' && admits(readerTypes, 'integer') ? 'a non-integer number' : article(t)))
      .join(' or ');
    push(
      ctx,
      path,
      'TYPE_NARROWED',
      `type narrowed: ${r.name} accepts only ${accepted} but ${w.name} allows ${allowed}, so ${w.data} holding ${holding} would be rejected`,
    );
  }

  const produces = (t: JsonType): boolean => writerTypes === undefined || writerTypes.includes(t);
  const shared = (t: JsonType): boolean => produces(t) && admits(readerTypes, t);

  if (values) {
    checkValues(ctx, path, reader, readerTypes, values);
  } else {
    if (reader.enum) {
      push(
        ctx,
        path,
        'ENUM_NARROWED',
        `${r.name} restricts the field to the enum ${list(reader.enum)} but ${w.name} has no enum, so ${w.data} that has any other value would be rejected`,
      );
    }
    if (reader.const !== undefined) {
      push(
        ctx,
        path,
        'CONST_CHANGED',
        `${r.name} requires the constant ${JSON.stringify(reader.const)} but ${w.name} allows other values, so ${w.data} that has any other value would be rejected`,
      );
    }
    if (shared('string')) checkStringKeywords(ctx, path, reader, writer);
    const numeric = (produces('integer') || produces('number')) && admits(readerTypes, 'integer');
    // Over integers `exclusiveMinimum: 0` and `minimum: 1` are the same constraint.
    const integersOnly = writerTypes !== undefined && !writerTypes.includes('number');
    if (numeric) checkNumberKeywords(ctx, path, reader, writer, integersOnly);
  }
  // Formats are checked by keyword even for listed values: judging a value needs the validator's format library.
  if (shared('string') && reader.format !== undefined && reader.format !== writer.format) {
    tightened(
      ctx,
      path,
      'FORMAT_CHANGED',
      'format',
      reader.format,
      writer.format,
      `a value that is not a valid ${reader.format}`,
    );
  }
  if (shared('array')) checkArray(ctx, path, reader, writer);
  if (shared('object')) checkObject(ctx, path, reader, writer);
}

function checkValues(ctx: Ctx, path: string, reader: JsonSchema, readerTypes: Types, values: Scalar[]): void {
  const rejected = new Map<CompatibilityRule, { reason: string; values: Scalar[] }>();
  for (const v of values) {
    if (!admits(readerTypes, jsonTypeOfValue(v))) continue; // already reported as a type change
    for (const { rule, reason } of valueProblems(reader, v)) {
      const entry = rejected.get(rule) ?? { reason, values: [] };
      entry.values.push(v);
      rejected.set(rule, entry);
    }
  }
  for (const [rule, { reason, values: bad }] of rejected) {
    const these = bad.length > 1 ? 'one of these values' : 'that value';
    push(
      ctx,
      path,
      rule,
      `${ctx.writer.name} allows ${list(bad)}, which ${ctx.reader.name} rejects (${reason}), so ${ctx.writer.data} that has ${these} would be rejected`,
    );
  }
}

/** Why `schema` rejects the scalar `v` (its type aside), each reason under the rule that tightening it breaks. */
function valueProblems(schema: JsonSchema, v: Scalar): { rule: CompatibilityRule; reason: string }[] {
  const problems: { rule: CompatibilityRule; reason: string }[] = [];
  const fail = (rule: CompatibilityRule, reason: string): void => void problems.push({ rule, reason });
  if (schema.enum && !schema.enum.includes(v)) fail('ENUM_NARROWED', 'not in its enum');
  if (schema.const !== undefined && schema.const !== v)
    fail('CONST_CHANGED', `const ${JSON.stringify(schema.const)}`);
  if (typeof v === 'string') {
    const length = [...v].length; // JSON Schema counts code points, not UTF-16 units
    if (schema.minLength !== undefined && length < schema.minLength) {
      fail('MIN_LENGTH_INCREASED', `minLength ${schema.minLength}`);
    }
    if (schema.maxLength !== undefined && length > schema.maxLength) {
      fail('MAX_LENGTH_DECREASED', `maxLength ${schema.maxLength}`);
    }
    if (schema.pattern !== undefined && !matches(schema.pattern, v))
      fail('PATTERN_CHANGED', `pattern ${schema.pattern}`);
  }
  if (typeof v === 'number') {
    if (schema.minimum !== undefined && v < schema.minimum)
      fail('MINIMUM_INCREASED', `minimum ${schema.minimum}`);
    if (schema.maximum !== undefined && v > schema.maximum)
      fail('MAXIMUM_DECREASED', `maximum ${schema.maximum}`);
    if (schema.exclusiveMinimum !== undefined && v <= schema.exclusiveMinimum) {
      fail('EXCLUSIVE_MINIMUM_INCREASED', `exclusiveMinimum ${schema.exclusiveMinimum}`);
    }
    if (schema.exclusiveMaximum !== undefined && v >= schema.exclusiveMaximum) {
      fail('EXCLUSIVE_MAXIMUM_DECREASED', `exclusiveMaximum ${schema.exclusiveMaximum}`);
    }
    if (schema.multipleOf !== undefined && !isMultiple(v, schema.multipleOf)) {
      fail('MULTIPLE_OF_CHANGED', `multipleOf ${schema.multipleOf}`);
    }
  }
  return problems;
}

function checkStringKeywords(ctx: Ctx, path: string, reader: JsonSchema, writer: JsonSchema): void {
  atLeast(
    ctx,
    path,
    'MIN_LENGTH_INCREASED',
    'minLength',
    reader.minLength,
    writer.minLength,
    'characters',
    'a value',
  );
  atMost(
    ctx,
    path,
    'MAX_LENGTH_DECREASED',
    'maxLength',
    reader.maxLength,
    writer.maxLength,
    'characters',
    'a value',
  );
  if (reader.pattern !== undefined && reader.pattern !== writer.pattern) {
    tightened(
      ctx,
      path,
      'PATTERN_CHANGED',
      'pattern',
      reader.pattern,
      writer.pattern,
      'a value not matching it',
    );
  }
}

interface Bound {
  keyword: 'minimum' | 'exclusiveMinimum' | 'maximum' | 'exclusiveMaximum';
  value: number;
  exclusive: boolean;
}

function checkNumberKeywords(
  ctx: Ctx,
  path: string,
  reader: JsonSchema,
  writer: JsonSchema,
  integersOnly: boolean,
): void {
  const rl = lowerBound(reader);
  const wl = lowerBound(writer);
  if (rl && (!wl || stricter(rl, wl, 1, integersOnly))) {
    const rule = rl.exclusive ? 'EXCLUSIVE_MINIMUM_INCREASED' : 'MINIMUM_INCREASED';
    const range = `${rl.exclusive ? 'at or below' : 'below'} ${rl.value}`;
    tightened(
      ctx,
      path,
      rule,
      'the lower bound',
      describeBound(rl),
      wl && describeBound(wl),
      `a value ${range}`,
    );
  }
  const ru = upperBound(reader);
  const wu = upperBound(writer);
  if (ru && (!wu || stricter(ru, wu, -1, integersOnly))) {
    const rule = ru.exclusive ? 'EXCLUSIVE_MAXIMUM_DECREASED' : 'MAXIMUM_DECREASED';
    const range = `${ru.exclusive ? 'at or above' : 'above'} ${ru.value}`;
    tightened(
      ctx,
      path,
      rule,
      'the upper bound',
      describeBound(ru),
      wu && describeBound(wu),
      `a value ${range}`,
    );
  }
  const rm = reader.multipleOf;
  if (rm !== undefined) {
    const covered =
      (writer.multipleOf !== undefined && isMultiple(writer.multipleOf, rm)) ||
      (integersOnly && isMultiple(1, rm));
    if (!covered) {
      tightened(
        ctx,
        path,
        'MULTIPLE_OF_CHANGED',
        'multipleOf',
        rm,
        writer.multipleOf,
        `a value that is not a multiple of ${rm}`,
      );
    }
  }
}

/** The strictest lower bound a schema sets, from `minimum` and `exclusiveMinimum`. */
function lowerBound(s: JsonSchema): Bound | undefined {
  const a: Bound | undefined =
    s.minimum === undefined ? undefined : { keyword: 'minimum', value: s.minimum, exclusive: false };
  const b: Bound | undefined =
    s.exclusiveMinimum === undefined
      ? undefined
      : { keyword: 'exclusiveMinimum', value: s.exclusiveMinimum, exclusive: true };
  if (!a || !b) return a ?? b;
  return stricter(b, a, 1, false) ? b : a;
}

function upperBound(s: JsonSchema): Bound | undefined {
  const a: Bound | undefined =
    s.maximum === undefined ? undefined : { keyword: 'maximum', value: s.maximum, exclusive: false };
  const b: Bound | undefined =
    s.exclusiveMaximum === undefined
      ? undefined
      : { keyword: 'exclusiveMaximum', value: s.exclusiveMaximum, exclusive: true };
  if (!a || !b) return a ?? b;
  return stricter(b, a, -1, false) ? b : a;
}

/**
 * Is bound `a` stricter than `b`? `side` is 1 for lower bounds, -1 for upper ones. Over integers a
 * bound is the first/last integer it allows; otherwise an exclusive bound beats an inclusive one at
 * the same value.
 */
function stricter(a: Bound, b: Bound, side: 1 | -1, integersOnly: boolean): boolean {
  if (integersOnly) return side * (integerLimit(a, side) - integerLimit(b, side)) > 0;
  return side * (a.value - b.value) > 0 || (a.value === b.value && a.exclusive && !b.exclusive);
}

function integerLimit(b: Bound, side: 1 | -1): number {
  if (side === 1) return b.exclusive ? Math.floor(b.value) + 1 : Math.ceil(b.value);
  return b.exclusive ? Math.ceil(b.value) - 1 : Math.floor(b.value);
}

function checkArray(ctx: Ctx, path: string, reader: JsonSchema, writer: JsonSchema): void {
  atLeast(
    ctx,
    path,
    'MIN_ITEMS_INCREASED',
    'minItems',
    reader.minItems,
    writer.minItems,
    'items',
    'an array',
  );
  atMost(ctx, path, 'MAX_ITEMS_DECREASED', 'maxItems', reader.maxItems, writer.maxItems, 'items', 'an array');
  if (reader.uniqueItems === true && writer.uniqueItems !== true) {
    tightened(
      ctx,
      path,
      'UNIQUE_ITEMS_ADDED',
      'uniqueItems',
      true,
      writer.uniqueItems,
      'an array with duplicate items',
    );
  }
  // Missing `items` on the writer means its elements could be anything.
  if (reader.items) check(ctx, joinPath(path, '[]'), reader.items, writer.items ?? {});
}

function checkObject(ctx: Ctx, path: string, reader: JsonSchema, writer: JsonSchema): void {
  const { reader: r, writer: w } = ctx;
  const readerClosed = reader.additionalProperties === false;
  const writerClosed = writer.additionalProperties === false;
  const readerProps = reader.properties ?? {};
  const writerProps = writer.properties ?? {};
  atLeast(
    ctx,
    path,
    'MIN_PROPERTIES_INCREASED',
    'minProperties',
    reader.minProperties,
    writer.minProperties,
    'properties',
    'an object',
  );
  atMost(
    ctx,
    path,
    'MAX_PROPERTIES_DECREASED',
    'maxProperties',
    reader.maxProperties,
    writer.maxProperties,
    'properties',
    'an object',
  );
  if (readerClosed && !writerClosed) {
    push(
      ctx,
      path,
      'ADDITIONAL_PROPERTIES_NARROWED',
      `${r.name} closes the object (additionalProperties: false) but ${w.name} leaves it open, so ${w.data} that has undeclared properties would be rejected`,
    );
  }
  for (const name of Object.keys(writerProps)) {
    if (readerClosed && !Object.hasOwn(readerProps, name)) {
      push(
        ctx,
        joinPath(path, name),
        'PROPERTY_REMOVED_FROM_CLOSED_CONTENT_MODEL',
        `property is allowed by ${w.name} but not declared by ${r.name}, whose object is closed (additionalProperties: false), so ${w.data} containing it would be rejected`,
      );
    }
  }
  for (const [name, readerProp] of Object.entries(readerProps)) {
    const at = joinPath(path, name);
    const writerProp = Object.hasOwn(writerProps, name) ? writerProps[name] : undefined;
    if (writerProp) {
      check(ctx, at, readerProp, writerProp);
    } else if (!writerClosed && compare(readerProp, {}, ctx).length > 0) {
      // An open writer may already have sent this name with any value; a closed one never sent it.
      push(
        ctx,
        at,
        'PROPERTY_ADDED_TO_OPEN_CONTENT_MODEL',
        `property is constrained by ${r.name} but ${w.name} ${w.did} not declare it and leaves the object open, so ${w.data} may carry it with any value and would be rejected`,
      );
    }
  }
  const writerRequired = new Set(writer.required ?? []);
  for (const name of new Set(reader.required ?? [])) {
    if (writerRequired.has(name)) continue;
    // A writer-side default counts as a guarantee that written documents carry the property
    // (the validator is expected to fill defaults in), so requiring it is safe.
    if (Object.hasOwn(writerProps, name) && writerProps[name]?.default !== undefined) continue;
    push(
      ctx,
      joinPath(path, name),
      'REQUIRED_PROPERTY_ADDED',
      `property is required by ${r.name} but ${w.name} ${w.did} not require it, so ${w.data} without it would be rejected`,
    );
  }
}

/** Reports a lower limit (minLength, minItems, minProperties) the reader raised; absent means 0. */
function atLeast(
  ctx: Ctx,
  path: string,
  rule: CompatibilityRule,
  keyword: string,
  readerValue: number | undefined,
  writerValue: number | undefined,
  unit: string,
  subject: string,
): void {
  if (readerValue !== undefined && readerValue > (writerValue ?? 0)) {
    tightened(
      ctx,
      path,
      rule,
      keyword,
      readerValue,
      writerValue,
      `${subject} with fewer than ${readerValue} ${unit}`,
    );
  }
}

/** Reports an upper limit (maxLength, maxItems, maxProperties) the reader lowered; absent means unlimited. */
function atMost(
  ctx: Ctx,
  path: string,
  rule: CompatibilityRule,
  keyword: string,
  readerValue: number | undefined,
  writerValue: number | undefined,
  unit: string,
  subject: string,
): void {
  if (readerValue !== undefined && readerValue < (writerValue ?? Infinity)) {
    tightened(
      ctx,
      path,
      rule,
      keyword,
      readerValue,
      writerValue,
      `${subject} with more than ${readerValue} ${unit}`,
    );
  }
}

function tightened(
  ctx: Ctx,
  path: string,
  rule: CompatibilityRule,
  keyword: string,
  readerValue: unknown,
  writerValue: unknown,
  rejected: string,
): void {
  const show = (v: unknown): string =>
    v === undefined ? 'unset' : typeof v === 'string' ? v : JSON.stringify(v);
  push(
    ctx,
    path,
    rule,
    `${keyword} is ${show(readerValue)} in ${ctx.reader.name} but ${show(writerValue)} in ${ctx.writer.name}, so ${ctx.writer.data} that has ${rejected} would be rejected`,
  );
}

/** The declared JSON types, `undefined` when the schema does not restrict them. */
function declaredTypes(s: JsonSchema): Types {
  const { types, nullable } = typesOf(s);
  const all: JsonType[] = nullable ? [...types, 'null'] : types;
  return all.length > 0 ? all : undefined;
}

/** Every value the schema can produce when that set is small and known (enum, const, boolean, null). */
function finiteValues(s: JsonSchema): Scalar[] | undefined {
  const types = declaredTypes(s);
  let values: Scalar[] | undefined;
  if (s.const !== undefined) values = !s.enum || s.enum.includes(s.const) ? [s.const] : [];
  else if (s.enum) values = s.enum;
  else if (types?.every((t) => t === 'boolean' || t === 'null')) {
    values = [...(types.includes('boolean') ? [true, false] : []), ...(types.includes('null') ? [null] : [])];
  }
  // A listed value the schema's own type or constraints forbid is never written.
  return values?.filter((v) => admits(types, jsonTypeOfValue(v)) && valueProblems(s, v).length === 0);
}

function admits(types: Types, t: JsonType): boolean {
  return types === undefined || types.includes(t) || (t === 'integer' && types.includes('number'));
}

function describeTypes(types: Types): string {
  return types === undefined ? 'any type' : types.join(' or ');
}

function article(t: JsonType): string {
  return t === 'null' ? 'null' : `${/^[aeiou]/.test(t) ? 'an' : 'a'} ${t}`;
}

function describeBound(b: Bound): string {
  return `${b.keyword} ${b.value}`;
}

function list(values: readonly Scalar[]): string {
  return values.map((v) => JSON.stringify(v)).join(', ');
}

function matches(pattern: string, value: string): boolean {
  try {
    return new RegExp(pattern, 'u').test(value);
  } catch {
    return false; // a pattern that does not compile accepts nothing
  }
}

function isMultiple(value: number, of: number): boolean {
  const q = value / of;
  return Math.abs(q - Math.round(q)) < 1e-9;
}
