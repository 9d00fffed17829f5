// Writes docs/config.md from the config schema, so the documentation cannot drift from the code.
// `npm run docs:config` writes it; a unit test fails when it is out of date.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { configSchema } from '../lib/config.js';
import { projectRoot } from '../lib/paths.js';

interface JsonSchemaNode {
  type?: string | string[];
  description?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  properties?: Record<string, JsonSchemaNode>;
  items?: JsonSchemaNode;
}

function typeOf(node: JsonSchemaNode): string {
  if (node.enum) return node.enum.map((v) => `\`${String(v)}\``).join(' \\| ');
  if (node.type === 'array') return `${typeOf(node.items ?? {})}[]`;
  const t = Array.isArray(node.type) ? node.type.join(' \\| ') : (node.type ?? 'any');
  if (node.minimum === undefined) return t;
  return node.maximum !== undefined && node.maximum < 2 ** 31
    ? `${t} (${node.minimum}–${node.maximum})`
    : `${t} (≥ ${node.minimum})`;
}

function rows(node: JsonSchemaNode, prefix: string, out: string[]): void {
  for (const [key, child] of Object.entries(node.properties ?? {})) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (child.type === 'object' && child.properties) {
      out.push(`| **\`${path}\`** | object | | ${child.description ?? ''} |`);
      rows(child, path, out);
    } else {
      const def = child.default === undefined ? '' : `\`${JSON.stringify(child.default)}\``;
      out.push(`| \`${path}\` | ${typeOf(child)} | ${def} | ${child.description ?? ''} |`);
    }
  }
}

export function renderConfigDocs(): string {
  const schema = z.toJSONSchema(configSchema, { io: 'input', unrepresentable: 'any' }) as JsonSchemaNode;
  const out = [
    '# Configuration',
    '',
    '<!-- Generated from lib/config.ts by `npm run docs:config`; do not edit by hand. -->',
    '',
    'Sluice reads one JSON file: `sluice.config.json` in the project root, or the file named by the',
    '`SLUICE_CONFIG` environment variable. Every key is optional; unknown keys are refused, and an',
    'invalid value stops the process with a message naming the key and the rule it breaks.',
    '',
    '| key | type | default | meaning |',
    '| --- | --- | --- | --- |',
  ];
  rows(schema, '', out);
  return out.join('\n') + '\n';
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(join(projectRoot(), 'docs', 'config.md'), renderConfigDocs());
}
