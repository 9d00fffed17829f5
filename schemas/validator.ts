// Validates event payloads against their type's schema versions. Each version is compiled once;
// failures become per-field errors a client can act on: where, which rule, what was expected,
// what was sent. The proxy returns these as they are.
import { Ajv2020, type ErrorObject, type ValidateFunction } from 'ajv/dist/2020.js';
import * as ajvFormats from 'ajv-formats';
import { isCanonicalUtc } from '../lib/envelope.js';
import type { Catalog, EventType, SchemaVersion } from './catalog.js';
import { jsonTypeOfValue, valueAtPointer } from './json-schema.js';

// ajv-formats is CommonJS with `exports.default`; under NodeNext that lands one level down.
const addFormats = ajvFormats.default.default;

export interface FieldError {
  /** JSON pointer into the payload, e.g. `/items/0/quantity`; `/` for the payload itself. */
  path: string;
  /** The JSON Schema keyword that failed: required, type, enum, maximum, additionalProperties, … */
  rule: string;
  message: string;
  expected?: unknown;
  got?: unknown;
}

export type ValidationResult =
  | { ok: true; type: EventType; version: SchemaVersion }
  | {
      ok: false;
      errorCode: 'UNKNOWN_EVENT_TYPE' | 'UNKNOWN_SCHEMA_VERSION' | 'SCHEMA_VALIDATION_FAILED';
      message: string;
      errors: FieldError[];
    };

/** Keeps error echoes short: a 1 MB string must not come back in an error body. */
function preview(v: unknown): unknown {
  if (typeof v === 'string') return v.length > 80 ? `${v.slice(0, 77)}...` : v;
  if (v !== null && typeof v === 'object') return `(${jsonTypeOfValue(v)})`;
  return v;
}

function toFieldError(e: ErrorObject, data: unknown): FieldError {
  const p = e.params as Record<string, unknown>;
  const at = e.instancePath || '';
  const got = preview(valueAtPointer(data, at));
  switch (e.keyword) {
    case 'required':
      return {
        path: `${at}/${String(p.missingProperty)}`,
        rule: 'required',
        message: 'is required but missing',
      };
    case 'additionalProperties':
      return {
        path: `${at}/${String(p.additionalProperty)}`,
        rule: 'additionalProperties',
        message: 'is not a property of this event type (the schema does not allow extra properties)',
      };
    case 'type':
      return {
        path: at || '/',
        rule: 'type',
        message: `must be ${String(p.type)}, got ${jsonTypeOfValue(valueAtPointer(data, at))}`,
        expected: p.type,
        got,
      };
    case 'enum':
      return {
        path: at || '/',
        rule: 'enum',
        message: `must be one of ${JSON.stringify(p.allowedValues)}`,
        expected: p.allowedValues,
        got,
      };
    case 'const':
      return {
        path: at || '/',
        rule: 'const',
        message: `must be ${JSON.stringify(p.allowedValue)}`,
        expected: p.allowedValue,
        got,
      };
    case 'format':
      return {
        path: at || '/',
        rule: 'format',
        message: `must be a valid ${String(p.format)}`,
        expected: p.format,
        got,
      };
    default: {
      const limit = p.limit ?? p.comparison ?? p.pattern ?? p.multipleOf;
      const expected =
        typeof p.comparison === 'string' && typeof p.limit === 'number'
          ? `${p.comparison} ${p.limit}`
          : limit;
      return {
        path: at || '/',
        rule: e.keyword,
        message: e.message ?? `fails ${e.keyword}`,
        ...(expected !== undefined ? { expected } : {}),
        got,
      };
    }
  }
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/**
 * `YYYY-MM-DDTHH:MM:SS[.f…]Z` with every field in range, the day within its month: a date-time
 * ajv-formats' full `date-time` accepts too (which test/unit/validator.test.ts checks on many
 * strings). False only means "ask ajv-formats".
 */
export function isCanonicalUtcDateTime(s: string): boolean {
  if (!isCanonicalUtc(s)) return false;
  const year = Number(s.slice(0, 4));
  const month = Number(s.slice(5, 7));
  const day = Number(s.slice(8, 10));
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return day <= (month === 2 && leap ? 29 : DAYS_IN_MONTH[month]!);
}

export class EventValidator {
  private readonly compiled = new Map<string, ValidateFunction>();
  private readonly ajv: Ajv2020;

  constructor(readonly catalog: Catalog) {
    const ajv = new Ajv2020({ allErrors: true, strict: true, allowUnionTypes: true });
    this.ajv = ajv;
    addFormats(ajv);
    for (const t of catalog.types.values()) {
      for (const v of t.versions) this.compiled.set(v.id, ajv.compile(v.schema));
    }
  }

  /**
   * The check this validator runs for `format` on strings, for code that validates strings on its
   * own (the pipeline's JSON row reader); undefined when the format is unknown or not for strings.
   */
  stringFormat(name: string): ((s: string) => boolean) | undefined {
    const check = this.ajvFormat(name);
    // The form every Sluice producer writes first, in one scan; anything else asks ajv-formats.
    if (name === 'date-time' && check) return (s) => isCanonicalUtcDateTime(s) || check(s);
    return check;
  }

  private ajvFormat(name: string): ((s: string) => boolean) | undefined {
    const f = this.ajv.formats[name];
    if (f === undefined) return undefined;
    if (f === true) return () => true;
    if (f instanceof RegExp) return (s) => f.test(s);
    // ajv takes any truthy answer of a format function as valid.
    if (typeof f === 'function') return (s) => Boolean(f(s));
    if (f.async === true || (f.type !== undefined && f.type !== 'string')) return undefined;
    const check = f.validate;
    if (check instanceof RegExp) return (s) => check.test(s);
    if (typeof check !== 'function') return undefined;
    return (s) => Boolean((check as (s: string) => unknown)(s));
  }

  /** Validates one payload; `version` defaults to the type's latest. */
  validate(typeName: string, data: unknown, version?: number): ValidationResult {
    const type = this.catalog.types.get(typeName);
    if (!type) {
      return {
        ok: false,
        errorCode: 'UNKNOWN_EVENT_TYPE',
        message: `unknown event type "${typeName}"; known types: ${[...this.catalog.types.keys()].join(', ')}`,
        errors: [],
      };
    }
    const sv = version === undefined ? type.latest : type.versions[version - 1];
    if (!sv) {
      return {
        ok: false,
        errorCode: 'UNKNOWN_SCHEMA_VERSION',
        message: `event type "${typeName}" has no schema version ${version}; versions: ${type.versions.map((v) => v.version).join(', ')}`,
        errors: [],
      };
    }
    const fn = this.compiled.get(sv.id)!;
    if (fn(data)) return { ok: true, type, version: sv };
    const errors = (fn.errors ?? []).map((e) => toFieldError(e, data));
    return {
      ok: false,
      errorCode: 'SCHEMA_VALIDATION_FAILED',
      message: `${typeName} v${sv.version}: ${errors.length} field error(s): ${errors
        .slice(0, 3)
        .map((e) => `${e.path} ${e.message}`)
        .join('; ')}${errors.length > 3 ? '; …' : ''}`,
      errors,
    };
  }
}
