// The event catalog: one folder per event type under schemas/events/, holding event.yaml and
// v1.schema.json, v2.schema.json, … It ships with the deployment and is loaded (and checked)
// at start; schemas are never registered at run time.
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { projectRoot } from '../lib/paths.js';
import { compatibilityModes } from './compatibility.js';
import { allowedKeywords, pointerTokens, typesOf, type JsonSchema } from './json-schema.js';

export const compatibilityModeSchema = z.enum(compatibilityModes);

const TYPE_NAME = /^[a-z][a-z0-9_]{1,62}$/;
const COLUMN_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** event.yaml: the settings of one event type. Unknown keys are refused. */
export const eventSettingsSchema = z
  .object({
    owner: z.string().min(1).describe('Team that owns the event type.'),
    description: z.string().min(1).describe('What one event means.'),
    topic: z.string().min(1).optional().describe('Kafka topic; default events.<type>.'),
    partitions: z.number().int().min(1).max(1000).default(3).describe('Partitions of the topic.'),
    replicationFactor: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe('Default: 1 on one machine, 2 in production.'),
    retentionHours: z.number().int().min(1).default(168).describe('Kafka retention of the topic.'),
    partitionKey: z
      .string()
      .regex(/^(\/[^/]+)+$/, 'must be a JSON pointer such as /order_id')
      .optional()
      .describe('JSON pointer into the payload; events without a key use the sticky partitioner.'),
    compatibility: compatibilityModeSchema.default('BACKWARD').describe('How new versions may evolve.'),
    flush: z
      .object({
        maxRecords: z.number().int().min(1).default(50_000),
        maxBytes: z
          .number()
          .int()
          .min(1024)
          .default(64 * 1024 * 1024),
        maxAgeSeconds: z.number().min(1).default(60),
      })
      .strict()
      .default({ maxRecords: 50_000, maxBytes: 64 * 1024 * 1024, maxAgeSeconds: 60 })
      .describe('When the pipeline closes a Parquet segment: whichever limit comes first.'),
    warehouse: z
      .object({ table: z.string().regex(COLUMN_NAME, 'must be a lower snake_case identifier').optional() })
      .strict()
      .default({})
      .describe('Warehouse table; default: the type name.'),
    clusters: z.array(z.string().min(1)).min(1).default(['default']).describe('Kafka clusters to route to.'),
    testEvents: z
      .enum(['same-table', 'separate-table', 'skip'])
      .default('separate-table')
      .describe('Where events marked ce_test go: the same table, <table>_test, or nowhere.'),
    rawApps: z
      .array(z.string().regex(/^[a-z0-9][a-z0-9-]*$/))
      .default([])
      .describe('raw.<app> topics routed to this type.'),
  })
  .strict();

export type EventSettings = z.infer<typeof eventSettingsSchema>;

export interface SchemaVersion {
  version: number;
  /** `urn:sluice:schema:<type>:v<N>`, sent as ce_dataschema. */
  id: string;
  file: string;
  schema: JsonSchema;
}

export interface EventType {
  name: string;
  dir: string;
  settings: EventSettings;
  topic: string;
  dlqTopic: string;
  consumerGroup: string;
  table: string;
  /** Oldest first; versions[i].version === i + 1. */
  versions: SchemaVersion[];
  latest: SchemaVersion;
}

export interface Catalog {
  dir: string;
  types: Map<string, EventType>;
}

export interface CatalogProblem {
  file: string;
  message: string;
}

export class CatalogError extends Error {
  override readonly name = 'CatalogError';
  constructor(readonly problems: CatalogProblem[]) {
    super(
      `the event catalog has ${problems.length} problem(s):\n${problems.map((p) => `  - ${p.file}: ${p.message}`).join('\n')}`,
    );
  }
}

export const defaultCatalogDir = (): string => join(projectRoot(), 'schemas', 'events');
export const schemaId = (type: string, version: number): string => `urn:sluice:schema:${type}:v${version}`;

/** Walks a schema and reports keywords and shapes the catalog does not allow. */
function checkSubset(schema: JsonSchema, path: string, topLevel: boolean, out: string[]): void {
  for (const key of Object.keys(schema)) {
    if (!allowedKeywords.has(key))
      out.push(`${path || '/'}: keyword "${key}" is not supported by the catalog`);
  }
  const { types } = typesOf(schema);
  if (types.length === 0) out.push(`${path || '/'}: no "type" (or enum/const) given`);
  for (const [name, child] of Object.entries(schema.properties ?? {})) {
    if (topLevel && !COLUMN_NAME.test(name)) {
      out.push(`${path}/${name}: top-level property names become columns and must be lower snake_case`);
    }
    checkSubset(child, `${path}/${name}`, false, out);
  }
  for (const req of schema.required ?? []) {
    if (!schema.properties || !(req in schema.properties))
      out.push(`${path || '/'}: required "${req}" is not in properties`);
  }
  if (schema.items) checkSubset(schema.items, `${path}/[]`, false, out);
  if (types.includes('array') && !schema.items) out.push(`${path || '/'}: an array needs "items"`);
}

function resolvePointer(schema: JsonSchema, pointer: string): JsonSchema | undefined {
  let node: JsonSchema | undefined = schema;
  for (const token of pointerTokens(pointer)) node = node?.properties?.[token];
  return node;
}

function loadType(
  root: string,
  name: string,
  ajv: Ajv2020,
  problems: CatalogProblem[],
): EventType | undefined {
  const dir = join(root, name);
  const rel = (f: string): string => relative(projectRoot(), join(dir, f));
  const before = problems.length;
  if (!TYPE_NAME.test(name))
    problems.push({ file: rel(''), message: 'event type names are lower snake_case, 2–63 characters' });

  let settings: EventSettings | undefined;
  const yamlFile = join(dir, 'event.yaml');
  if (!existsSync(yamlFile)) problems.push({ file: rel('event.yaml'), message: 'missing' });
  else {
    try {
      const parsed = eventSettingsSchema.safeParse(parseYaml(readFileSync(yamlFile, 'utf8')) ?? {});
      if (parsed.success) settings = parsed.data;
      else
        for (const i of parsed.error.issues) {
          problems.push({
            file: rel('event.yaml'),
            message: `${i.path.join('.') || '(root)'}: ${i.message}`,
          });
        }
    } catch (err) {
      problems.push({ file: rel('event.yaml'), message: `not valid YAML: ${(err as Error).message}` });
    }
  }

  const files = readdirSync(dir).filter((f) => f !== 'event.yaml');
  const versions: SchemaVersion[] = [];
  for (const f of files) {
    const m = /^v([1-9]\d*)\.schema\.json$/.exec(f);
    if (!m) {
      problems.push({ file: rel(f), message: 'unexpected file: schema files are named v<N>.schema.json' });
      continue;
    }
    const version = Number(m[1]);
    let schema: JsonSchema;
    try {
      schema = JSON.parse(readFileSync(join(dir, f), 'utf8')) as JsonSchema;
    } catch (err) {
      problems.push({ file: rel(f), message: `not valid JSON: ${(err as Error).message}` });
      continue;
    }
    if (typeof schema !== 'object' || schema === null || Array.isArray(schema)) {
      problems.push({ file: rel(f), message: 'a schema must be a JSON object' });
      continue;
    }
    const id = schemaId(name, version);
    if (schema.$id !== id)
      problems.push({ file: rel(f), message: `"$id" must be "${id}" (found ${JSON.stringify(schema.$id)})` });
    if (schema.$schema !== 'https://json-schema.org/draft/2020-12/schema') {
      problems.push({
        file: rel(f),
        message: '"$schema" must be "https://json-schema.org/draft/2020-12/schema"',
      });
    }
    if (!ajv.validateSchema(schema)) {
      for (const e of ajv.errors ?? [])
        problems.push({
          file: rel(f),
          message: `not a valid JSON Schema: ${e.instancePath || '/'} ${e.message ?? ''}`,
        });
      continue;
    }
    const { types } = typesOf(schema);
    if (types.length !== 1 || types[0] !== 'object')
      problems.push({ file: rel(f), message: 'the payload schema must be of type "object"' });
    const subset: string[] = [];
    checkSubset(schema, '', true, subset);
    for (const s of subset) problems.push({ file: rel(f), message: s });
    if (settings?.partitionKey) {
      const key = resolvePointer(schema, settings.partitionKey);
      const top = settings.partitionKey.split('/')[1] ?? '';
      const keyTypes = key ? typesOf(key).types : [];
      if (!key || !keyTypes.every((t) => t === 'string' || t === 'integer')) {
        problems.push({
          file: rel(f),
          message: `partitionKey ${settings.partitionKey} must point to a string or integer property`,
        });
      } else if (!(schema.required ?? []).includes(top)) {
        problems.push({
          file: rel(f),
          message: `partitionKey ${settings.partitionKey}: "${top}" must be required`,
        });
      }
    }
    versions.push({ version, id, file: join(dir, f), schema });
  }
  versions.sort((a, b) => a.version - b.version);
  if (versions.length === 0 && problems.length === before)
    problems.push({ file: rel(''), message: 'no v1.schema.json' });
  versions.forEach((v, i) => {
    if (v.version !== i + 1)
      problems.push({
        file: rel(`v${i + 1}.schema.json`),
        message: 'missing: versions must run 1, 2, 3 … without gaps',
      });
  });
  if (problems.length > before || !settings) return undefined;
  const latest = versions[versions.length - 1]!;
  return {
    name,
    dir,
    settings,
    topic: settings.topic ?? `events.${name}`,
    dlqTopic: `${settings.topic ?? `events.${name}`}.dlq`,
    consumerGroup: `sluice.${name}`,
    table: settings.warehouse.table ?? name,
    versions,
    latest,
  };
}

/** Loads and checks every event type; throws one CatalogError listing every problem found. */
export function loadCatalog(dir: string = defaultCatalogDir()): Catalog {
  if (!existsSync(dir)) throw new CatalogError([{ file: dir, message: 'the catalog folder does not exist' }]);
  const ajv = new Ajv2020({ strict: false });
  const problems: CatalogProblem[] = [];
  const types = new Map<string, EventType>();
  for (const name of readdirSync(dir).sort()) {
    if (!statSync(join(dir, name)).isDirectory()) continue;
    const t = loadType(dir, name, ajv, problems);
    if (t) types.set(name, t);
  }
  const topics = new Map<string, string>();
  for (const t of types.values()) {
    const other = topics.get(t.topic);
    if (other)
      problems.push({
        file: relative(projectRoot(), t.dir),
        message: `topic ${t.topic} is also used by ${other}`,
      });
    topics.set(t.topic, t.name);
  }
  if (problems.length) throw new CatalogError(problems);
  return { dir, types };
}

export function getEventType(catalog: Catalog, name: string): EventType | undefined {
  return catalog.types.get(name);
}
