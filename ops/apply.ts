// `npm run apply [-- --dry-run]`: makes Kafka topics, the S3 bucket and the SQS queues match the
// event catalog. Run by `npm start`; safe to run at every deploy.
import { parseArgs } from 'node:util';
import { loadConfig } from '../lib/config.js';
import { loadCatalog } from '../schemas/catalog.js';
import { runMain } from './main.js';
import { provision, type Change } from './provision.js';

const marks: Record<Change['kind'], string> = { created: '+', updated: '~', unchanged: '=', drift: '!' };

function printChanges(changes: Change[], dryRun: boolean): void {
  for (const c of changes) {
    if (c.kind === 'unchanged') continue;
    process.stdout.write(
      `${marks[c.kind]} ${c.resource}: ${dryRun && c.kind !== 'drift' ? '(would be) ' : ''}${c.kind} ${c.detail}\n`,
    );
  }
  const count = (k: Change['kind']): number => changes.filter((c) => c.kind === k).length;
  process.stdout.write(
    `apply: ${count('created')} created, ${count('updated')} updated, ${count('unchanged')} unchanged, ${count('drift')} drift\n`,
  );
}

runMain(async () => {
  const { values } = parseArgs({ options: { 'dry-run': { type: 'boolean', default: false } } });
  const config = loadConfig();
  const changes = await provision(config, loadCatalog(config.catalogDir), { dryRun: values['dry-run'] });
  printChanges(changes, values['dry-run']);
  // Drift is reported, not fatal: the platform still runs with more partitions than asked for.
  return 0;
});
