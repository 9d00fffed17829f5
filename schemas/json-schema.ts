// The subset of JSON Schema 2020-12 the catalog allows: enough for real event payloads, and every
// construct in it has a column mapping and a compatibility rule. Anything else is refused when
// the catalog loads, so a schema can never validate data the warehouse cannot hold.
export type JsonType = 'string' | 'integer' | 'number' | 'boolean' | 'object' | 'array' | 'null';

export interface JsonSchema {
  $schema?: string;
  $id?: string;
  $comment?: string;
  title?: string;
  description?: string;
  examples?: unknown[];
  deprecated?: boolean;
  default?: unknown;
  type?: JsonType | JsonType[];
  enum?: (string | number | boolean | null)[];
  const?: string | number | boolean | null;
  format?: string;
  // strings
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  // numbers
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  // objects
  properties?: Record<string, JsonSchema>;
  required?: string[];
  additionalProperties?: boolean;
  minProperties?: number;
  maxProperties?: number;
  // arrays
  items?: JsonSchema;
  minItems?: number;
  maxItems?: number;
  uniqueItems?: boolean;
}

/** Keywords that only describe: no effect on what validates or on the columns. */
export const annotationKeywords: readonly (keyof JsonSchema)[] = [
  '$schema',
  '$id',
  '$comment',
  'title',
  'description',
  'examples',
  'deprecated',
  'default',
];

export const allowedKeywords: ReadonlySet<string> = new Set<keyof JsonSchema>([
  ...annotationKeywords,
  'type',
  'enum',
  'const',
  'format',
  'minLength',
  'maxLength',
  'pattern',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'properties',
  'required',
  'additionalProperties',
  'minProperties',
  'maxProperties',
  'items',
  'minItems',
  'maxItems',
  'uniqueItems',
]);

/** The JSON types a schema admits, with `null` split out. */
export function typesOf(schema: JsonSchema): { types: JsonType[]; nullable: boolean } {
  let list: JsonType[];
  if (schema.type === undefined) {
    if (schema.enum) list = [...new Set(schema.enum.map(jsonTypeOfValue))];
    else if (schema.const !== undefined) list = [jsonTypeOfValue(schema.const)];
    else if (schema.properties) list = ['object'];
    else if (schema.items) list = ['array'];
    else list = [];
  } else {
    list = Array.isArray(schema.type) ? schema.type : [schema.type];
  }
  return { types: list.filter((t) => t !== 'null'), nullable: list.includes('null') };
}

export function jsonTypeOfValue(v: unknown): JsonType {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'array';
  if (typeof v === 'number') return Number.isInteger(v) ? 'integer' : 'number';
  return typeof v as JsonType;
}

/** Renders a JSON-pointer-like path for messages, e.g. `/delivery_address/city`. */
export function joinPath(base: string, ...parts: string[]): string {
  return (
    [base === '/' ? '' : base, ...parts.map((p) => p.replaceAll('~', '~0').replaceAll('/', '~1'))].join(
      '/',
    ) || '/'
  );
}

// Parsed once per pointer: partition keys are looked up for every event.
const pointerCache = new Map<string, string[]>();

/** The reference tokens of a JSON pointer (RFC 6901), `~1` and `~0` unescaped. */
export function pointerTokens(pointer: string): string[] {
  let tokens = pointerCache.get(pointer);
  if (!tokens) {
    tokens = pointer
      .split('/')
      .slice(1)
      .map((t) => t.replaceAll('~1', '/').replaceAll('~0', '~'));
    if (pointerCache.size >= 1024) pointerCache.clear();
    pointerCache.set(pointer, tokens);
  }
  return tokens;
}

/** The value a JSON pointer names inside a document, or undefined when the path does not exist. */
export function valueAtPointer(document: unknown, pointer: string): unknown {
  let node = document;
  for (const token of pointerTokens(pointer)) {
    if (node === null || typeof node !== 'object') return undefined;
    node = (node as Record<string, unknown>)[token];
  }
  return node;
}
