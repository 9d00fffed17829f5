// A copy of the shipped catalog with every event type and raw app renamed by a unique suffix, so a
// test gets its own topics, DLQs and queues on the shared local stack.
import { cpSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Config } from '../../lib/config.js';
import { DeleteQueueCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { createSqsClient } from '../../lib/aws.js';
import { createAdmin } from '../../lib/kafka.js';
import { defaultCatalogDir, loadCatalog, type Catalog } from '../../schemas/catalog.js';
import { provision } from '../../ops/provision.js';
import { uniqueName } from './names.js';

export interface IsolatedCatalog {
  dir: string;
  catalog: Catalog;
  /** Shipped name → name in this copy, e.g. order_created → order_created_mwx1a2. */
  type: (name: string) => string;
  app: (name: string) => string;
  cleanup: (config: Config) => Promise<void>;
}

export interface IsolatedCatalogOptions {
  /** Overrides of every type's flush policy, e.g. a 1 s max age so tests need not wait a minute. */
  flush?: { maxRecords?: number; maxAgeSeconds?: number };
  /** Kafka clusters every type routes to (event.yaml `clusters`). */
  clusters?: string[];
  /**
   * Event types to add beside the shipped ones: folder name → file name → content, where
   * `{{type}}` stands for the suffixed type name.
   */
  extraTypes?: Record<string, Record<string, string>>;
  /** More copies of shipped types: new name → shipped name, e.g. a second order_created for a bench's warm-up. */
  copies?: Record<string, string>;
}

export async function isolatedCatalog(
  config: Config,
  opts: IsolatedCatalogOptions = {},
): Promise<IsolatedCatalog> {
  const suffix = uniqueName('x').replaceAll('-', '_').slice(2);
  const dir = mkdtempSync(join(tmpdir(), 'sluice-catalog-'));
  const type = (n: string): string => `${n}_${suffix}`;
  const app = (n: string): string => `${n}-${suffix.replaceAll('_', '-')}`;
  const shipped = readdirSync(defaultCatalogDir()).filter((name) => !name.endsWith('.json'));
  const sources: [string, string][] = [
    ...shipped.map((name): [string, string] => [name, name]),
    ...Object.entries(opts.copies ?? {}),
  ];
  for (const [name, source] of sources) {
    const target = join(dir, type(name));
    cpSync(join(defaultCatalogDir(), source), target, { recursive: true });
    for (const f of readdirSync(target)) {
      const file = join(target, f);
      let text = readFileSync(file, 'utf8').replaceAll(
        `urn:sluice:schema:${source}:`,
        `urn:sluice:schema:${type(name)}:`,
      );
      if (f === 'event.yaml' && opts.flush?.maxRecords)
        text = text.replace(/^(\s+maxRecords:) \d+$/m, `$1 ${opts.flush.maxRecords}`);
      if (f === 'event.yaml' && opts.flush?.maxAgeSeconds)
        text = text.replace(/^(\s+maxAgeSeconds:) \d+$/m, `$1 ${opts.flush.maxAgeSeconds}`);
      if (f === 'event.yaml' && opts.clusters) text += `clusters: [${opts.clusters.join(', ')}]\n`;
      if (f === 'event.yaml')
        text = text
          .replace(
            /^rawApps: \[(.*)\]$/m,
            (_m, apps: string) =>
              `rawApps: [${apps
                .split(',')
                .map((a) => app(a.trim()))
                .join(', ')}]`,
          )
          .replace(/^(\s+table:) (\w+)$/m, `$1 ${type(name)}`);
      writeFileSync(file, text);
    }
  }
  for (const [name, files] of Object.entries(opts.extraTypes ?? {})) {
    mkdirSync(join(dir, type(name)));
    for (const [f, content] of Object.entries(files)) {
      writeFileSync(join(dir, type(name), f), content.replaceAll('{{type}}', type(name)));
    }
  }
  const catalog = loadCatalog(dir);
  await provision(config, catalog);
  return {
    dir,
    catalog,
    type,
    app,
    cleanup: async (cfg) => {
      const admin = createAdmin(cfg);
      const topics: string[] = [];
      for (const t of catalog.types.values()) {
        topics.push(t.topic, t.dlqTopic, ...t.settings.rawApps.map((a) => `raw.${a}`));
      }
      await admin.deleteTopics({ topics }).catch(() => undefined);
      await admin.close();
      const sqs = createSqsClient(cfg);
      for (const t of catalog.types.keys()) {
        const url = await sqs
          .send(new GetQueueUrlCommand({ QueueName: `${cfg.sqs.queuePrefix}${t}` }))
          .then((r) => r.QueueUrl)
          .catch(() => undefined);
        if (url) await sqs.send(new DeleteQueueCommand({ QueueUrl: url }));
      }
      sqs.destroy();
      rmSync(dir, { recursive: true, force: true });
      rmSync(`${dir}.lock.json`, { force: true });
    },
  };
}
