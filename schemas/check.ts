// `npm run schemas:check`: the catalog's CI gate. Loads and checks every event type, checks each
// version against the earlier ones under the type's compatibility mode, checks that released
// versions were not edited in place (schemas/events.lock.json), and shows what each new version
// does to the warehouse table. Exit code 1 on any problem, with one line per problem.
import { createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { relative, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { projectRoot } from '../lib/paths.js';
import { CatalogError, defaultCatalogDir, loadCatalog, type Catalog } from './catalog.js';
import { checkCompatibility } from './compatibility.js';
import { diffTable, duckdbColumns } from './mapping.js';

export interface CheckReport {
  ok: boolean;
  lines: string[];
}

type Lock = Record<string, string>;

/** Hash of the parsed schema, so reformatting a file is not an edit but any change of content is. */
function fingerprint(file: string): string {
  return createHash('sha256')
    .update(JSON.stringify(JSON.parse(readFileSync(file, 'utf8'))))
    .digest('hex');
}

export function lockFileOf(catalogDir: string): string {
  return `${catalogDir.replace(/\/+$/, '')}.lock.json`;
}

function currentLock(catalog: Catalog): Lock {
  const lock: Lock = {};
  for (const t of catalog.types.values())
    for (const v of t.versions) lock[`${t.name}/v${v.version}`] = fingerprint(v.file);
  return lock;
}

export function checkCatalog(catalogDir: string, opts: { updateLock?: boolean } = {}): CheckReport {
  const lines: string[] = [];
  let ok = true;
  let catalog: Catalog;
  try {
    catalog = loadCatalog(catalogDir);
  } catch (err) {
    if (!(err instanceof CatalogError)) throw err;
    return { ok: false, lines: err.problems.map((p) => `✖ ${p.file}: ${p.message}`) };
  }

  for (const t of catalog.types.values()) {
    const mode = t.settings.compatibility;
    lines.push(`${t.name} (${mode}, ${t.versions.length} version${t.versions.length > 1 ? 's' : ''})`);
    for (let i = 1; i < t.versions.length; i++) {
      const v = t.versions[i]!;
      const earlier = t.versions.slice(0, i).map((e) => e.schema);
      const violations = checkCompatibility(mode, v.schema, earlier);
      for (const x of violations) {
        ok = false;
        lines.push(`  ✖ v${v.version} vs v${x.against}: ${x.message} [${x.rule}]`);
      }
      if (violations.length === 0) lines.push(`  ✓ v${v.version} is ${mode} compatible`);
      const diff = diffTable(duckdbColumns(t.versions[i - 1]!.schema), v.schema, 'duckdb', t.table);
      if (diff.kind === 'incompatible') {
        lines.push(
          `  ! v${v.version} needs a new warehouse table: ${diff.reasons.map((r) => `${r.column}: ${r.message}`).join('; ')}`,
        );
      } else if (diff.steps.length) {
        lines.push(`    warehouse ${t.table}: ${diff.steps.map((s) => s.description).join('; ')}`);
      }
    }
  }

  // Released versions are immutable: data on Kafka and in the warehouse was validated by them.
  const lockFile = lockFileOf(catalogDir);
  const now = currentLock(catalog);
  const locked: Lock = existsSync(lockFile) ? (JSON.parse(readFileSync(lockFile, 'utf8')) as Lock) : {};
  const rel = relative(projectRoot(), lockFile);
  for (const [key, hash] of Object.entries(locked)) {
    if (!(key in now)) {
      ok = false;
      lines.push(
        `✖ ${key} was released (it is in ${rel}) but its schema file is gone: released versions cannot be removed`,
      );
    } else if (now[key] !== hash) {
      ok = false;
      lines.push(
        `✖ ${key} was edited after release: released versions are immutable, add a new version instead`,
      );
    }
  }
  const added = Object.keys(now).filter((k) => !(k in locked));
  if (added.length) {
    if (opts.updateLock) {
      writeFileSync(
        lockFile,
        JSON.stringify({ ...locked, ...Object.fromEntries(added.map((k) => [k, now[k]])) }, null, 2) + '\n',
      );
      lines.push(`released in ${rel}: ${added.join(', ')}`);
    } else {
      ok = false;
      lines.push(
        `✖ new version(s) ${added.join(', ')} not yet in ${rel}: run \`npm run schemas:check -- --release\` and commit it`,
      );
    }
  }
  return { ok, lines };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: { catalog: { type: 'string' }, release: { type: 'boolean', default: false } },
  });
  const dir = values.catalog ? resolve(values.catalog) : defaultCatalogDir();
  const report = checkCatalog(dir, { updateLock: values.release });
  process.stdout.write(report.lines.join('\n') + '\n');
  process.stdout.write(report.ok ? 'schemas: ok\n' : 'schemas: FAILED\n');
  process.exitCode = report.ok ? 0 : 1;
}
