// Schemathesis (PyPI) against the proxy's own /openapi.json: a venv cached per user like the stack's
// tools, a proxy on a free port over an isolated catalog (its own throw-away topics), and a bounded
// run whose failures are summed up from schemathesis' JUnit report.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../lib/config.js';
import { step } from '../../ops/progress.js';
import { ensureTool } from '../../ops/tool-cache.js';
import type { RunningProxy } from '../../proxy/server.js';
import { isolatedCatalog, type IsolatedCatalog } from '../helpers/catalog.js';
import { startReadyProxy } from '../helpers/proxy.js';

export const SCHEMATHESIS_VERSION = '4.32.5';

/** Runs a command, its output passed through; resolves with the exit code. */
function run(cmd: string, args: string[], opts: { quiet?: boolean; cwd?: string } = {}) {
  return new Promise<{ code: number; output: string }>((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(opts.cwd ? { cwd: opts.cwd } : {}),
    });
    let output = '';
    const take = (chunk: Buffer, to: NodeJS.WriteStream): void => {
      output += chunk.toString();
      if (!opts.quiet) to.write(chunk);
    };
    child.stdout.on('data', (c: Buffer) => take(c, process.stdout));
    child.stderr.on('data', (c: Buffer) => take(c, process.stderr));
    child.on('error', reject);
    child.on('close', (code) => resolvePromise({ code: code ?? 1, output }));
  });
}

/**
 * The venv's python, with schemathesis installed (first run only). The venv is built in a temporary
 * folder and renamed, so its console scripts point at the old path: we call `python -c` instead.
 */
export async function ensureSchemathesis(config: Config, python = process.env.PYTHON ?? 'python3.11') {
  const dir = await ensureTool(config.cacheDir, {
    part: 'fuzz',
    name: 'schemathesis-venv',
    version: SCHEMATHESIS_VERSION,
    message: `installing schemathesis ${SCHEMATHESIS_VERSION} from PyPI into a venv (first run only, about a minute)`,
    build: async (tmp) => {
      for (const [cmd, args] of [
        [python, ['-m', 'venv', tmp]],
        [
          join(tmp, 'bin', 'python'),
          ['-m', 'pip', 'install', '--quiet', `schemathesis==${SCHEMATHESIS_VERSION}`],
        ],
      ] as const) {
        const r = await run(cmd, [...args], { quiet: true });
        if (r.code !== 0)
          throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}):\n${r.output.slice(-2000)}`);
      }
    },
  });
  return join(dir, 'bin', 'python');
}

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type Obj = { [k: string]: Json };

/**
 * The served document with generation steered at the isolated catalog: event types, topics, apps
 * and the cluster id become enums, so positive cases reach validation and Kafka instead of 404 and
 * UNKNOWN_EVENT_TYPE (negative cases still break the enums). Responses are untouched: they are the
 * contract being checked.
 */
export function steeredDocument(
  served: Obj,
  target: { url: string; types: string[]; topics: string[]; apps: string[]; clusterId: string },
): Obj {
  const doc = structuredClone(served);
  doc.servers = [{ url: target.url }];
  const schemas = (doc.components as Obj).schemas as Obj;
  for (const name of ['Event', 'CloudEvent']) {
    const type = ((schemas[name] as Obj).properties as Obj).type as Obj;
    type.enum = target.types;
  }
  const values: Record<string, string[]> = {
    topic_name: target.topics,
    cluster_id: [target.clusterId],
    app: target.apps,
  };
  for (const item of Object.values(doc.paths as Obj) as Obj[]) {
    for (const p of (item.parameters ?? []) as Obj[]) {
      const v = values[p.name as string];
      if (v && p.in === 'path') p.schema = { type: 'string', enum: v };
    }
  }
  return doc;
}

export interface FuzzOptions {
  /** Test cases per operation and phase (schemathesis --max-examples). */
  maxExamples: number;
  /**
   * Schemathesis worker threads. Keep 1 on Python 3.11: Hypothesis parses lambda sources with `ast`
   * and CPython 3.11 shares the AST recursion counter between threads (cpython#106905), so two
   * workers fail now and then with "AST constructor recursion depth mismatch" in the tool itself.
   */
  workers?: number;
  seed?: number;
  /** Extra schemathesis arguments. */
  extra?: string[];
  quiet?: boolean;
}

export interface FuzzSummary {
  code: number;
  operations: number;
  cases: number;
  failures: number;
  /** The JUnit failure and error elements, after the run's seed. */
  problems: string;
  seconds: number;
  output: string;
  /** The lines of schemathesis' own summary. */
  report: string;
}

/**
 * The checks that matter for a contract: no 5xx, every answer as the document says, 405 + Allow for
 * other methods. Left out on purpose: negative_data_rejection and positive_data_acceptance judge
 * acceptance by the document's schemas alone, while payloads are validated against the catalog
 * (not in the document), a v2 path partition overrides the body's, and a v3 stream answers a bad
 * record inside its 200 as Confluent does.
 */
export const CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
  'unsupported_method',
  'allow_header_conformance',
];

async function clusterIdOf(proxy: RunningProxy): Promise<string> {
  const res = await fetch(`${proxy.url}/v3/clusters`);
  const body = (await res.json()) as { data: { cluster_id: string }[] };
  return body.data[0]!.cluster_id;
}

/** Starts a proxy over an isolated catalog, runs schemathesis against it, and cleans up. */
export async function fuzzProxy(config: Config, python: string, opts: FuzzOptions): Promise<FuzzSummary> {
  const work = mkdtempSync(join(tmpdir(), 'sluice-fuzz-'));
  let cat: IsolatedCatalog | undefined;
  let proxy: RunningProxy | undefined;
  const started = Date.now();
  try {
    // Warnings and errors only: a 500 is logged, the rest would drown schemathesis' report.
    const cfg: Config = {
      ...config,
      logLevel: 'warn',
      proxy: { ...config.proxy, spoolDir: join(work, 'spool') },
    };
    step('fuzz', 'starting a proxy over an isolated catalog');
    cat = await isolatedCatalog(cfg);
    proxy = await startReadyProxy(cfg, cat.catalog);
    const served = (await (await fetch(`${proxy.url}/openapi.json`)).json()) as Obj;
    const types = [...cat.catalog.types.values()];
    const doc = steeredDocument(served, {
      url: proxy.url,
      types: types.map((t) => t.name),
      topics: types.map((t) => t.topic),
      apps: types.flatMap((t) => t.settings.rawApps),
      clusterId: await clusterIdOf(proxy),
    });
    const docFile = join(work, 'openapi.json');
    writeFileSync(docFile, JSON.stringify(doc));
    const junit = join(work, 'junit.xml');
    const args = [
      '-c',
      'import sys; from schemathesis.cli import schemathesis; sys.argv[0] = "schemathesis"; sys.exit(schemathesis())',
      'run',
      docFile,
      '--url',
      proxy.url,
      '--checks',
      CHECKS.join(','),
      '--phases',
      'examples,coverage,fuzzing',
      '--max-examples',
      String(opts.maxExamples),
      '--workers',
      String(opts.workers ?? 1),
      '--request-timeout',
      '10',
      // Fuzz events are test traffic, whatever topic they reach.
      '--header',
      'X-Sluice-Test: true',
      '--report',
      'junit',
      '--report-junit-path',
      junit,
      '--no-color',
      ...(opts.seed !== undefined ? ['--seed', String(opts.seed)] : []),
      ...(opts.extra ?? []),
    ];
    step(
      'fuzz',
      `schemathesis ${SCHEMATHESIS_VERSION} against ${proxy.url}/openapi.json (${CHECKS.join(', ')})`,
    );
    // In the work folder: schemathesis keeps a .schemathesis/ cache in its working directory.
    const r = await run(python, args, { quiet: opts.quiet ?? false, cwd: work });
    const xml = (() => {
      try {
        return readFileSync(junit, 'utf8');
      } catch {
        return '';
      }
    })();
    const attr = (name: string): number =>
      Number(new RegExp(`<testsuite [^>]*\\b${name}="(\\d+)"`).exec(xml)?.[1] ?? 0);
    const cases = Number(/Test cases:\s*(\d+) generated/.exec(r.output)?.[1] ?? 0);
    const report = r.output.slice(r.output.lastIndexOf('SUMMARY') >= 0 ? r.output.lastIndexOf('SUMMARY') : 0);
    // What JUnit says failed, and the seed that reproduces it (`npm run test:fuzz -- --seed N`).
    const problems = [...xml.matchAll(/<(failure|error)\b[^>]*>([\s\S]*?)<\/\1>|<(failure|error)\b[^>]*\/>/g)]
      .map((m) => m[0].slice(0, 2000))
      .join('\n');
    const seed = /Seed: (\d+)/.exec(r.output)?.[1] ?? '';
    return {
      code: r.code,
      operations: attr('tests'),
      cases,
      failures: attr('failures') + attr('errors'),
      seconds: Math.round((Date.now() - started) / 1000),
      output: r.output,
      report,
      problems: `seed ${seed}\n${problems}`,
    };
  } finally {
    await proxy?.stop();
    await cat?.cleanup(config);
    rmSync(work, { recursive: true, force: true });
  }
}
