// Builds the clients the pipeline activities use, once per worker process.
import { createS3Client, createSqsClient } from '../lib/aws.js';
import type { Config } from '../lib/config.js';
import { createAdmin, createProducer, createRangeReader } from '../lib/kafka.js';
import type { Logger } from '../lib/logger.js';
import { TransactionalProducers } from '../lib/kafka-txn.js';
import type { PipelineDeps } from '../activities/pipeline.js';
import type { RawRouterDeps } from '../activities/raw-router.js';
import type { ReplayDeps } from '../activities/replay.js';
import type { Catalog } from '../schemas/catalog.js';
import { EventValidator } from '../schemas/validator.js';
import { segmentEncoders } from '../activities/segment/encode-pool.js';

export function createPipelineDeps(
  config: Config,
  catalog: Catalog,
  logger: Logger,
): PipelineDeps & RawRouterDeps & ReplayDeps & { close: () => Promise<void> } {
  const admin = createAdmin(config, 'pipeline-admin');
  // The reader never joins this group: it only fetches exact offset ranges.
  const reader = createRangeReader(config, 'sluice.pipeline-reader', 'pipeline-reader');
  const dlqProducer = createProducer(config, 'pipeline-dlq', -1);
  const s3 = createS3Client(config);
  const sqs = createSqsClient(config);
  // Raw router and replays: one transactional producer per (app, partition) or (replay, lane).
  const txn = new TransactionalProducers(config, admin);
  const validator = new EventValidator(catalog);
  const encoders = segmentEncoders(config.pipeline.encodeThreads, {
    catalog,
    validator,
    logger,
    fastJson: config.pipeline.fastJsonReader,
  });
  return {
    config,
    catalog,
    validator,
    encoders,
    admin,
    reader,
    dlqProducer,
    s3,
    sqs,
    txn,
    logger,
    close: async () => {
      await txn.close();
      await encoders.close();
      await Promise.allSettled([admin.close(), reader.close(), dlqProducer.close()]);
      s3.destroy();
      sqs.destroy();
    },
  };
}
