// Provisioning from the catalog against the real Kafka, S3 and SQS: idempotent, raises partitions,
// fixes config, never lowers or deletes. Uses a catalog with one uniquely named copy of a type.
import assert from 'node:assert/strict';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { ConfigResourceTypes } from '@platformatic/kafka';
import { DeleteQueueCommand, GetQueueUrlCommand } from '@aws-sdk/client-sqs';
import { createSqsClient } from '../../lib/aws.js';
import { loadConfig, type Config } from '../../lib/config.js';
import { createAdmin } from '../../lib/kafka.js';
import { defaultCatalogDir, loadCatalog } from '../../schemas/catalog.js';
import { provision, type Change } from '../../ops/provision.js';
import { uniqueName } from '../helpers/names.js';

const type = uniqueName('t').replaceAll('-', '_');
let dir: string;
let config: Config;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'sluice-provision-'));
  const src = join(defaultCatalogDir(), 'order_created');
  const dst = join(dir, type);
  cpSync(src, dst, { recursive: true });
  for (const v of [1, 2]) {
    const f = join(dst, `v${v}.schema.json`);
    writeFileSync(
      f,
      readFileSync(f, 'utf8').replace('urn:sluice:schema:order_created:', `urn:sluice:schema:${type}:`),
    );
  }
  const base = loadConfig();
  config = { ...base, sqs: { ...base.sqs, queuePrefix: `${uniqueName('q')}-` } };
});

after(async () => {
  const admin = createAdmin(config);
  await admin.deleteTopics({ topics: [`events.${type}`, `events.${type}.dlq`] }).catch(() => undefined);
  await admin.close();
  const sqs = createSqsClient(config);
  const { QueueUrl } = await sqs.send(
    new GetQueueUrlCommand({ QueueName: `${config.sqs.queuePrefix}${type}` }),
  );
  await sqs.send(new DeleteQueueCommand({ QueueUrl }));
  sqs.destroy();
  rmSync(dir, { recursive: true, force: true });
});

const mine = (changes: Change[]): Change[] => changes.filter((c) => c.resource.includes(type));
const setYaml = (from: RegExp, to: string): void => {
  const f = join(dir, type, 'event.yaml');
  writeFileSync(f, readFileSync(f, 'utf8').replace(from, to));
};

test('the first run creates the topics and queue of a type; the second changes nothing', async () => {
  const first = mine(await provision(config, loadCatalog(dir)));
  assert.deepEqual(
    first.map((c) => [c.kind, c.resource]),
    [
      ['created', `kafka topic events.${type}`],
      ['created', `kafka topic events.${type}.dlq`],
      ['created', `sqs queue ${config.sqs.queuePrefix}${type}`],
    ],
  );
  const second = await provision(config, loadCatalog(dir));
  assert.deepEqual(
    second.filter((c) => c.kind !== 'unchanged'),
    [],
  );

  const admin = createAdmin(config);
  const meta = await admin.metadata({ topics: [`events.${type}`] });
  assert.equal(meta.topics.get(`events.${type}`)?.partitionsCount, 3);
  const [described] = await admin.describeConfigs({
    resources: [
      {
        resourceType: ConfigResourceTypes.TOPIC,
        resourceName: `events.${type}`,
        configurationKeys: ['retention.ms'],
      },
    ],
  });
  assert.equal(described?.configs[0]?.value, String(168 * 3_600_000));
  await admin.close();
});

test('more partitions and a new retention are applied; fewer partitions are reported as drift', async () => {
  setYaml(/partitions: 3/, 'partitions: 4');
  setYaml(/retentionHours: 168/, 'retentionHours: 24');
  const raised = mine(await provision(config, loadCatalog(dir)));
  assert.deepEqual(raised[0], {
    kind: 'updated',
    resource: `kafka topic events.${type}`,
    detail: `partitions 3 → 4, retention.ms ${168 * 3_600_000} → ${24 * 3_600_000}`,
  });

  setYaml(/partitions: 4/, 'partitions: 2');
  const lowered = mine(await provision(config, loadCatalog(dir)));
  const drift = lowered.find((c) => c.kind === 'drift');
  assert.match(drift?.detail ?? '', /has 4 partitions, the catalog says 2: Kafka cannot remove partitions/);
  const admin = createAdmin(config);
  const meta = await admin.metadata({ topics: [`events.${type}`] });
  assert.equal(meta.topics.get(`events.${type}`)?.partitionsCount, 4);
  await admin.close();
});

test('a dry run reports what it would do and does nothing', async () => {
  setYaml(/partitions: 2/, 'partitions: 6');
  const planned = mine(await provision(config, loadCatalog(dir), { dryRun: true }));
  assert.match(planned[0]?.detail ?? '', /partitions 4 → 6/);
  const admin = createAdmin(config);
  const meta = await admin.metadata({ topics: [`events.${type}`] });
  assert.equal(meta.topics.get(`events.${type}`)?.partitionsCount, 4);
  await admin.close();
});
