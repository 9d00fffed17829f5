// A cache of built tools (jars, Go binaries) shared by every clone on this machine.
// Each tool lives in <cacheDir>/tools/<name>-<version>/ with a manifest written last: a folder
// without a manifest, or whose files no longer match it, is half-built or corrupt and is rebuilt.
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { withProgress, step } from './progress.js';

const MANIFEST = '.sluice-tool.json';

interface Manifest {
  name: string;
  version: string;
  builtAt: string;
  files: Record<string, number>;
}

async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile() && e.name !== MANIFEST).map((e) => join(e.parentPath, e.name));
}

/** Returns why a cached tool folder is unusable, or undefined when it is intact. */
export async function checkTool(dir: string, name: string, version: string): Promise<string | undefined> {
  if (!existsSync(dir)) return 'not built yet';
  let manifest: Manifest;
  try {
    manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
  } catch {
    return 'half-built (no manifest)';
  }
  if (manifest.name !== name || manifest.version !== version) return 'manifest names another version';
  const expected = Object.entries(manifest.files);
  if (expected.length === 0) return 'empty';
  for (const [rel, size] of expected) {
    const s = await stat(join(dir, rel)).catch(() => undefined);
    if (!s) return `missing ${rel}`;
    if (s.size !== size) return `corrupt ${rel} (size ${s.size}, expected ${size})`;
  }
  return undefined;
}

export interface ToolSpec {
  part: string;
  name: string;
  version: string;
  /** Shown while building, e.g. "building Temporal CLI v1.5.1 (first run only, a few minutes)". */
  message: string;
  /** Fills the given empty folder. */
  build: (dir: string) => Promise<void>;
}

export async function ensureTool(cacheDir: string, spec: ToolSpec): Promise<string> {
  const dir = join(cacheDir, 'tools', `${spec.name}-${spec.version}`);
  const problem = await checkTool(dir, spec.name, spec.version);
  if (!problem) return dir;
  if (problem !== 'not built yet')
    step(spec.part, `cached ${spec.name} ${spec.version} is ${problem}: rebuilding`);
  const tmp = `${dir}.tmp-${process.pid}-${Date.now()}`;
  await mkdir(tmp, { recursive: true });
  try {
    await withProgress(spec.part, spec.message, () => spec.build(tmp));
    const files: Record<string, number> = {};
    for (const f of await listFiles(tmp)) files[relative(tmp, f)] = (await stat(f)).size;
    const manifest: Manifest = {
      name: spec.name,
      version: spec.version,
      builtAt: new Date().toISOString(),
      files,
    };
    await writeFile(join(tmp, MANIFEST), JSON.stringify(manifest, null, 2));
    await rm(dir, { recursive: true, force: true });
    await rename(tmp, dir);
    return dir;
  } catch (err) {
    await rm(tmp, { recursive: true, force: true });
    throw err;
  }
}
