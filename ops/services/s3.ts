// versitygw: an S3-compatible gateway whose posix backend stores objects as plain files on disk.
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { CreateBucketCommand, HeadBucketCommand } from '@aws-sdk/client-s3';
import { createS3Client } from '../../lib/aws.js';
import type { Config } from '../../lib/config.js';
import { ensureTool } from '../tool-cache.js';
import { goInstall } from './go-tool.js';
import { httpOk, type LaunchSpec, type StackPaths, type StackService } from './service.js';

export const VERSITYGW_VERSION = 'v1.8.0';

function binary(config: Config): string {
  return join(config.cacheDir, 'tools', `versitygw-${VERSITYGW_VERSION}`, 'bin', 'versitygw');
}

export async function bucketExists(config: Config, bucket = config.s3.bucket): Promise<boolean> {
  const s3 = createS3Client(config);
  try {
    await s3.send(new HeadBucketCommand({ Bucket: bucket }));
    return true;
  } catch (err) {
    if ((err as { $metadata?: { httpStatusCode?: number } }).$metadata?.httpStatusCode === 404) return false;
    throw err;
  } finally {
    s3.destroy();
  }
}

/** Creates the bucket unless it exists; returns true when it created it. */
export async function ensureBucket(config: Config, bucket = config.s3.bucket): Promise<boolean> {
  if (await bucketExists(config, bucket)) return false;
  const s3 = createS3Client(config);
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    return true;
  } finally {
    s3.destroy();
  }
}

export const s3Service: StackService = {
  name: 's3',
  title: `S3-compatible store (versitygw ${VERSITYGW_VERSION}, posix)`,
  startTimeoutMs: 30_000,
  ports: (c) => [{ label: 's3', port: c.stack.s3Port, key: 'stack.s3Port' }],
  address: (c) => `${c.s3.endpoint} (bucket ${c.s3.bucket})`,

  async install(config) {
    await ensureTool(config.cacheDir, {
      part: 's3',
      name: 'versitygw',
      version: VERSITYGW_VERSION,
      message: `building versitygw ${VERSITYGW_VERSION} with go install (first run only, a few minutes)`,
      build: (dir) =>
        goInstall('s3', 'github.com/versity/versitygw/cmd/versitygw', VERSITYGW_VERSION, join(dir, 'bin')),
    });
  },

  async prepare(config, paths: StackPaths): Promise<LaunchSpec> {
    const root = join(paths.data, 's3');
    await mkdir(root, { recursive: true });
    const bin = binary(config);
    return {
      command: bin,
      args: [
        '--port',
        `${config.stack.host}:${config.stack.s3Port}`,
        '--region',
        config.s3.region,
        '--health',
        '/healthz',
        '--quiet',
        'posix',
        root,
      ],
      // Credentials go through the environment, not the command line that `ps` shows.
      env: {
        ...process.env,
        ROOT_ACCESS_KEY: config.s3.accessKeyId,
        ROOT_SECRET_KEY: config.s3.secretAccessKey,
      },
      marker: bin,
    };
  },

  healthy: (config) => httpOk(`http://${config.stack.host}:${config.stack.s3Port}/healthz`),
  afterStart: async (config) => {
    await ensureBucket(config);
  },
};
