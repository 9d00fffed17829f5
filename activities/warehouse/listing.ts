// Lists segment objects of a type by their partition prefixes (v=<N>/dt=<day>/hr=<HH>/), so a
// backfill touches only the days it covers.
import { ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import type { BackfillChunk, BackfillRange } from '../backfill-types.js';
import type { FileRef } from './types.js';

async function commonPrefixes(s3: S3Client, bucket: string, prefix: string): Promise<string[]> {
  const out: string[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, Delimiter: '/', ContinuationToken: token }),
    );
    for (const p of page.CommonPrefixes ?? []) if (p.Prefix) out.push(p.Prefix);
    token = page.NextContinuationToken;
  } while (token);
  return out;
}

const hourOf = (iso: string): { day: string; hour: number } => {
  const t = new Date(iso);
  if (Number.isNaN(t.getTime())) throw new RangeError(`not an ISO 8601 time: ${JSON.stringify(iso)}`);
  const s = t.toISOString();
  return { day: s.slice(0, 10), hour: Number(s.slice(11, 13)) };
};

/** The (version, day) chunks that hold files of the range, oldest first. */
export async function planChunks(
  s3: S3Client,
  bucket: string,
  range: BackfillRange,
): Promise<BackfillChunk[]> {
  const from = range.from ? hourOf(range.from) : undefined;
  // `to` is exclusive: its own hour is out, unless it starts exactly on the hour later than from.
  const toTime = range.to ? new Date(range.to) : undefined;
  const to = toTime ? hourOf(new Date(toTime.getTime() - 1).toISOString()) : undefined;
  const chunks: BackfillChunk[] = [];
  for (const vPrefix of await commonPrefixes(s3, bucket, `events/${range.eventType}/`)) {
    const version = Number(/\/v=(\d+)\/$/.exec(vPrefix)?.[1] ?? NaN);
    if (!Number.isInteger(version) || (range.version !== undefined && version !== range.version)) continue;
    for (const dPrefix of await commonPrefixes(s3, bucket, vPrefix)) {
      const day = /\/dt=(\d{4}-\d{2}-\d{2})\/$/.exec(dPrefix)?.[1];
      if (!day || (from && day < from.day) || (to && day > to.day)) continue;
      chunks.push({
        prefix: dPrefix,
        version,
        day,
        hrFrom: from && day === from.day ? from.hour : 0,
        hrTo: to && day === to.day ? to.hour : 23,
      });
    }
  }
  return chunks.sort((a, b) => a.day.localeCompare(b.day) || a.version - b.version);
}

/** One page of a chunk's Parquet objects after `afterKey`, in key order. */
export async function listChunkPage(
  s3: S3Client,
  bucket: string,
  chunk: BackfillChunk,
  afterKey: string | undefined,
  max: number,
): Promise<{ files: FileRef[]; last?: string; done: boolean }> {
  const page = await s3.send(
    new ListObjectsV2Command({ Bucket: bucket, Prefix: chunk.prefix, StartAfter: afterKey, MaxKeys: max }),
  );
  const files: FileRef[] = [];
  let last: string | undefined;
  for (const o of page.Contents ?? []) {
    if (!o.Key) continue;
    last = o.Key;
    const hour = Number(/\/hr=(\d{2})\//.exec(o.Key)?.[1] ?? NaN);
    if (!o.Key.endsWith('.parquet') || hour < chunk.hrFrom || hour > chunk.hrTo) continue;
    files.push({ key: o.Key, etag: (o.ETag ?? '').replaceAll('"', ''), size: o.Size ?? 0 });
  }
  return { files, ...(last ? { last } : {}), done: !page.IsTruncated };
}
