import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { createS3Client } from '../../lib/aws.js';
import { loadConfig } from '../../lib/config.js';
import { uniqueName } from '../helpers/names.js';

const config = loadConfig();
const s3 = createS3Client(config);
const bucket = uniqueName('test-s3');

before(async () => {
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
});

after(async () => {
  await s3.send(new DeleteBucketCommand({ Bucket: bucket })).catch(() => undefined);
  s3.destroy();
});

test('the default bucket exists once the stack is up', async () => {
  await s3.send(new HeadBucketCommand({ Bucket: config.s3.bucket }));
});

test('an object is stored, listed by prefix and read back byte for byte', async () => {
  const key = 'events/order_created/v=1/dt=2026-11-25/hr=12/order_created-p0-0-10.parquet';
  const body = Buffer.from(Array.from({ length: 300_000 }, (_, i) => i % 251));
  const put = await s3.send(
    new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, Metadata: { rows: '10' } }),
  );
  assert.ok(put.ETag, 'the store returns an ETag');

  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'events/order_created/' }));
  assert.deepEqual(
    listed.Contents?.map((o) => [o.Key, o.Size]),
    [[key, body.length]],
  );

  const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  assert.equal(got.Metadata?.rows, '10');
  assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), body);

  await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
  const empty = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
  assert.equal(empty.KeyCount, 0);
});
