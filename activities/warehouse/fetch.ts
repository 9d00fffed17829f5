// Downloads a Parquet object from S3 to a local file for DuckDB to read: the object is read
// through @aws-sdk/client-s3 (so any S3 endpoint and credentials the config names work), not
// through DuckDB's own httpfs extension, which would need a download at run time.
import { createWriteStream } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { GetObjectCommand, NoSuchKey, type S3Client } from '@aws-sdk/client-s3';

export interface FetchedObject {
  path: string;
  etag: string;
  size: number;
}

/** The object does not exist: no retry will load it. */
export class ObjectMissing extends Error {
  override readonly name = 'ObjectMissing';
}

export type ObjectFetcher = (key: string, into: string) => Promise<FetchedObject>;

export const unquoteEtag = (etag: string): string => etag.replaceAll('"', '');

export function createS3Fetcher(s3: S3Client, bucket: string): ObjectFetcher {
  return async (key, into) => {
    await mkdir(into, { recursive: true });
    let res;
    try {
      res = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    } catch (err) {
      if (err instanceof NoSuchKey || (err as { name?: string }).name === 'NoSuchKey') {
        throw new ObjectMissing(`s3://${bucket}/${key} does not exist`);
      }
      throw err;
    }
    if (!(res.Body instanceof Readable)) throw new Error(`s3://${bucket}/${key}: no body stream`);
    // Names by position, not by key: keys may hold characters a file name cannot.
    const path = join(into, `${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}.parquet`);
    try {
      await pipeline(res.Body, createWriteStream(path));
    } catch (err) {
      await rm(path, { force: true });
      throw err;
    }
    return { path, etag: unquoteEtag(res.ETag ?? ''), size: res.ContentLength ?? 0 };
  };
}
