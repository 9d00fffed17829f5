import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { createS3Client } from '../../lib/aws.js';
import type { Config } from '../../lib/config.js';

export async function listKeys(config: Config, prefix: string): Promise<string[]> {
  const s3 = createS3Client(config);
  const keys: string[] = [];
  let token: string | undefined;
  try {
    do {
      const page = await s3.send(
        new ListObjectsV2Command({ Bucket: config.s3.bucket, Prefix: prefix, ContinuationToken: token }),
      );
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.NextContinuationToken;
    } while (token);
  } finally {
    s3.destroy();
  }
  return keys.sort();
}

/** Every row of the Parquet objects under a prefix, read by DuckDB, with the object key of each row. */
export async function readParquetRows(config: Config, prefix: string): Promise<Record<string, unknown>[]> {
  const keys = await listKeys(config, prefix);
  if (keys.length === 0) return [];
  const dir = mkdtempSync(join(tmpdir(), 'sluice-parquet-'));
  const s3 = createS3Client(config);
  try {
    const files: string[] = [];
    for (const [i, key] of keys.entries()) {
      const obj = await s3.send(new GetObjectCommand({ Bucket: config.s3.bucket, Key: key }));
      const file = join(dir, `${i}.parquet`);
      writeFileSync(file, await obj.Body!.transformToByteArray());
      files.push(file);
    }
    const db = await DuckDBInstance.create(':memory:');
    const conn = await db.connect();
    const list = files.map((f) => `'${f}'`).join(', ');
    const reader = await conn.runAndReadAll(
      `SELECT * FROM read_parquet([${list}], filename = true) ORDER BY _kafka_partition, _kafka_offset`,
    );
    const rows = reader.getRowObjectsJson() as Record<string, unknown>[];
    conn.closeSync();
    db.closeSync();
    return rows.map((r) => ({ ...r, object_key: keys[files.indexOf(String(r.filename))] }));
  } finally {
    s3.destroy();
    rmSync(dir, { recursive: true, force: true });
  }
}
