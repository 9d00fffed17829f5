// The workflow bundle's entry point: every workflow type the workers register.
export { eventPipeline } from './event-pipeline.js';
export { partitionPipeline } from './partition-pipeline.js';
export { warehouseLoader } from './warehouse-loader.js';
export { schemaMigration } from './schema-migration.js';
export { backfill, backfillChunk } from './backfill.js';
export { rawRouter } from './raw-router.js';
export { replay } from './replay.js';
