// Builds the warehouse adapter and clients the loader activities use, once per worker process.
import { createS3Client, createSqsClient } from '../lib/aws.js';
import type { S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../lib/config.js';
import type { Logger } from '../lib/logger.js';
import type { LoaderDeps } from '../activities/loader.js';
import { createLoaderMetrics } from '../activities/loader-metrics.js';
import { DuckDbWarehouse } from '../activities/warehouse/duckdb.js';
import { createS3Fetcher } from '../activities/warehouse/fetch.js';
import type { Warehouse } from '../activities/warehouse/types.js';
import type { Catalog } from '../schemas/catalog.js';

export async function openWarehouse(config: Config, s3: S3Client, logger: Logger): Promise<Warehouse> {
  if (config.warehouse.kind === 'duckdb') {
    return DuckDbWarehouse.open(config.warehouse.duckdbPath, createS3Fetcher(s3, config.s3.bucket), logger);
  }
  // Loaded only when configured: the Snowflake driver is large.
  const { SnowflakeWarehouse } = await import('../activities/warehouse/snowflake.js');
  return SnowflakeWarehouse.open(config, logger);
}

export async function createLoaderDeps(
  config: Config,
  catalog: Catalog,
  logger: Logger,
): Promise<LoaderDeps & { close: () => Promise<void> }> {
  const s3 = createS3Client(config);
  const warehouse = await openWarehouse(config, s3, logger);
  const sqs = createSqsClient(config);
  return {
    config,
    catalog,
    warehouse,
    sqs,
    s3,
    logger,
    metrics: createLoaderMetrics(),
    close: async () => {
      sqs.destroy();
      await warehouse.close();
      s3.destroy();
    },
  };
}
