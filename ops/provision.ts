// Makes Kafka, S3 and SQS match the event catalog: topics with their partitions, replication and
// retention, the bucket, and one notice queue per type. Idempotent: a second run changes nothing.
// It never deletes anything and never lowers a partition count; drift it cannot fix is reported.
import { ConfigResourceTypes, IncrementalAlterConfigOperationTypes, type Admin } from '@platformatic/kafka';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueDoesNotExist,
  SetQueueAttributesCommand,
  type QueueAttributeName,
} from '@aws-sdk/client-sqs';
import { createSqsClient } from '../lib/aws.js';
import type { Config } from '../lib/config.js';
import { createAdmin } from '../lib/kafka.js';
import type { Catalog } from '../schemas/catalog.js';
import { bucketExists, ensureBucket } from './services/s3.js';

const HOUR_MS = 3_600_000;

export interface TopicSpec {
  name: string;
  partitions: number;
  replicationFactor: number;
  configs: Record<string, string>;
  purpose: string;
}

export interface QueueSpec {
  name: string;
  attributes: Partial<Record<QueueAttributeName, string>>;
}

export type ChangeKind = 'created' | 'updated' | 'unchanged' | 'drift';

export interface Change {
  kind: ChangeKind;
  resource: string;
  detail: string;
}

/** Topics the catalog asks for. `brokers` is the cluster size, which caps the replication factor. */
export function desiredTopics(catalog: Catalog, config: Config, brokers: number): TopicSpec[] {
  const rfDefault = config.kafka.replicationFactor ?? Math.min(2, brokers);
  const topic = (
    name: string,
    partitions: number,
    rf: number,
    retentionHours: number,
    purpose: string,
  ): TopicSpec => ({
    name,
    partitions,
    replicationFactor: rf,
    // With acks=1 (the default) one in-sync replica is enough to accept; with acks=all, rf-1 keeps writes
    // going while one broker is down.
    configs: {
      'retention.ms': String(retentionHours * HOUR_MS),
      'min.insync.replicas': String(Math.max(1, rf - 1)),
    },
    purpose,
  });
  const out: TopicSpec[] = [];
  const rawApps = new Set<string>();
  for (const t of catalog.types.values()) {
    const rf = t.settings.replicationFactor ?? rfDefault;
    out.push(topic(t.topic, t.settings.partitions, rf, t.settings.retentionHours, `events of ${t.name}`));
    out.push(topic(t.dlqTopic, Math.min(3, t.settings.partitions), rf, 30 * 24, `dead letters of ${t.name}`));
    for (const app of t.settings.rawApps) rawApps.add(app);
  }
  for (const app of [...rawApps].sort())
    out.push(topic(`raw.${app}`, 3, rfDefault, 72, `raw events from ${app}`));
  out.push(topic('sluice.dlq', 3, rfDefault, 30 * 24, 'dead letters of unknown event types'));
  out.push(topic('sluice.healthcheck', 1, rfDefault, 1, 'health probes'));
  return out;
}

export function desiredQueues(catalog: Catalog, config: Config): QueueSpec[] {
  return [...catalog.types.keys()].map((type) => ({
    name: `${config.sqs.queuePrefix}${type}`,
    attributes: {
      // Long enough for the loader to load a batch of files before the notice reappears.
      VisibilityTimeout: '300',
      MessageRetentionPeriod: String(14 * 24 * 3600),
      ReceiveMessageWaitTimeSeconds: '20',
    },
  }));
}

async function provisionTopics(admin: Admin, specs: TopicSpec[], dryRun: boolean): Promise<Change[]> {
  const changes: Change[] = [];
  const existing = new Set(await admin.listTopics({ includeInternals: false }));
  const present = specs.filter((s) => existing.has(s.name));
  const metadata = present.length ? await admin.metadata({ topics: present.map((s) => s.name) }) : undefined;
  const described = present.length
    ? await admin.describeConfigs({
        resources: present.map((s) => ({ resourceType: ConfigResourceTypes.TOPIC, resourceName: s.name })),
      })
    : [];

  for (const spec of specs) {
    const resource = `kafka topic ${spec.name}`;
    if (!existing.has(spec.name)) {
      if (!dryRun) {
        await admin.createTopics({
          topics: [spec.name],
          partitions: spec.partitions,
          replicas: spec.replicationFactor,
          configs: Object.entries(spec.configs).map(([name, value]) => ({ name, value })),
        });
      }
      changes.push({
        kind: 'created',
        resource,
        detail: `${spec.partitions} partitions, rf ${spec.replicationFactor} (${spec.purpose})`,
      });
      continue;
    }
    const meta = metadata?.topics.get(spec.name);
    const partitions = meta?.partitionsCount ?? 0;
    const rf = meta?.partitions[0]?.replicas.length ?? 0;
    const notes: string[] = [];
    let kind: ChangeKind = 'unchanged';
    if (partitions < spec.partitions) {
      if (!dryRun)
        await admin.createPartitions({
          topics: [{ name: spec.name, count: spec.partitions, assignments: null }],
        });
      notes.push(`partitions ${partitions} → ${spec.partitions}`);
      kind = 'updated';
    } else if (partitions > spec.partitions) {
      changes.push({
        kind: 'drift',
        resource,
        detail: `has ${partitions} partitions, the catalog says ${spec.partitions}: Kafka cannot remove partitions; raise the catalog's count or leave it`,
      });
    }
    if (rf !== spec.replicationFactor) {
      changes.push({
        kind: 'drift',
        resource,
        detail: `replication factor is ${rf}, wanted ${spec.replicationFactor}: change it with a partition reassignment (kafka-reassign-partitions)`,
      });
    }
    const current = new Map(
      (described.find((d) => d.resourceName === spec.name)?.configs ?? []).map((c) => [c.name, c.value]),
    );
    const differing = Object.entries(spec.configs).filter(([name, value]) => current.get(name) !== value);
    if (differing.length) {
      if (!dryRun) {
        await admin.incrementalAlterConfigs({
          resources: [
            {
              resourceType: ConfigResourceTypes.TOPIC,
              resourceName: spec.name,
              configs: differing.map(([name, value]) => ({
                name,
                configOperation: IncrementalAlterConfigOperationTypes.SET,
                value,
              })),
            },
          ],
        });
      }
      notes.push(...differing.map(([name, value]) => `${name} ${current.get(name) ?? '(unset)'} → ${value}`));
      kind = 'updated';
    }
    changes.push({ kind, resource, detail: notes.join(', ') || `${partitions} partitions, rf ${rf}` });
  }
  return changes;
}

async function provisionQueues(config: Config, specs: QueueSpec[], dryRun: boolean): Promise<Change[]> {
  const sqs = createSqsClient(config);
  const changes: Change[] = [];
  try {
    for (const spec of specs) {
      const resource = `sqs queue ${spec.name}`;
      const url = await sqs
        .send(new GetQueueUrlCommand({ QueueName: spec.name }))
        .then((r) => r.QueueUrl)
        .catch((err: unknown) => {
          // The AWS JSON protocol says QueueDoesNotExist; the older query protocol said NonExistentQueue.
          if (
            err instanceof QueueDoesNotExist ||
            (err as { name?: string }).name?.includes('NonExistentQueue')
          ) {
            return undefined;
          }
          throw err;
        });
      if (!url) {
        if (!dryRun)
          await sqs.send(new CreateQueueCommand({ QueueName: spec.name, Attributes: spec.attributes }));
        changes.push({ kind: 'created', resource, detail: 'object-created notices of segment files' });
        continue;
      }
      const { Attributes: got = {} } = await sqs.send(
        new GetQueueAttributesCommand({
          QueueUrl: url,
          AttributeNames: Object.keys(spec.attributes) as QueueAttributeName[],
        }),
      );
      const Attributes: Record<string, string | undefined> = got;
      // An attribute the server does not report is one it does not support (ElasticMQ has no
      // MessageRetentionPeriod): setting it again would be reported as a change on every run.
      const differing = Object.entries(spec.attributes).filter(
        ([k, v]) => Attributes[k] !== undefined && Attributes[k] !== v,
      );
      if (differing.length) {
        if (!dryRun)
          await sqs.send(
            new SetQueueAttributesCommand({ QueueUrl: url, Attributes: Object.fromEntries(differing) }),
          );
        changes.push({
          kind: 'updated',
          resource,
          detail: differing.map(([k, v]) => `${k} ${Attributes[k] ?? '(unset)'} → ${v}`).join(', '),
        });
      } else changes.push({ kind: 'unchanged', resource, detail: '' });
    }
  } finally {
    sqs.destroy();
  }
  return changes;
}

/** Brings Kafka, S3 and SQS in line with the catalog; with dryRun, only says what it would do. */
export async function provision(
  config: Config,
  catalog: Catalog,
  opts: { dryRun?: boolean } = {},
): Promise<Change[]> {
  const dryRun = opts.dryRun ?? false;
  const admin = createAdmin(config, 'provision');
  try {
    const cluster = await admin.metadata({ topics: [] });
    const topics = await provisionTopics(admin, desiredTopics(catalog, config, cluster.brokers.size), dryRun);
    const created = dryRun ? !(await bucketExists(config)) : await ensureBucket(config);
    const bucket: Change = {
      kind: created ? 'created' : 'unchanged',
      resource: `s3 bucket ${config.s3.bucket}`,
      detail: 'segment files',
    };
    const queues = await provisionQueues(config, desiredQueues(catalog, config), dryRun);
    return [...topics, bucket, ...queues];
  } finally {
    await admin.close();
  }
}
