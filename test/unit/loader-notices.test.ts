// The loader reads the S3 notification JSON that real S3 sends (and the pipeline imitates), and
// works out which table a segment's schema version loads into.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseS3Notice, s3ObjectCreatedEvent } from '../../activities/s3-notice.js';
import { parseSegmentKey, tableForVersion } from '../../activities/warehouse/tables.js';
import type { MigrationRecord } from '../../activities/warehouse/types.js';

test('a notice the pipeline sends reads back as the same object, odd key characters included', () => {
  const key = 'events/order_created/v=2/dt=2026-11-25/hr=12/a b+c%é.parquet';
  const body = s3ObjectCreatedEvent({
    bucket: 'sluice',
    region: 'us-east-1',
    key,
    size: 1234,
    etag: '"9b2cf535f27731c974343645a3985328"',
    eventTime: new Date('2026-11-25T12:00:01.000Z'),
  });
  assert.deepEqual(parseS3Notice(body), [
    {
      bucket: 'sluice',
      key,
      size: 1234,
      etag: '9b2cf535f27731c974343645a3985328',
      eventTime: '2026-11-25T12:00:01.000Z',
    },
  ]);
});

test('a notice as AWS documents it is read; S3 test events and non-create records name no object', () => {
  // From the S3 user guide, "Event message structure" (abridged to the fields S3 always sends).
  const aws = {
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: 'us-west-2',
        eventTime: '1970-01-01T00:00:00.000Z',
        eventName: 'ObjectCreated:CompleteMultipartUpload',
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'testConfigRule',
          bucket: { name: 'mybucket', arn: 'arn:aws:s3:::mybucket' },
          object: {
            key: 'HappyFace.jpg',
            size: 1024,
            eTag: 'd41d8cd98f00b204e9800998ecf8427e',
            sequencer: '0A1B2C3D4E5F678901',
          },
        },
      },
      {
        eventName: 'ObjectRemoved:Delete',
        s3: { bucket: { name: 'mybucket' }, object: { key: 'gone.jpg' } },
      },
    ],
  };
  assert.deepEqual(parseS3Notice(JSON.stringify(aws)), [
    {
      bucket: 'mybucket',
      key: 'HappyFace.jpg',
      size: 1024,
      etag: 'd41d8cd98f00b204e9800998ecf8427e',
      eventTime: '1970-01-01T00:00:00.000Z',
    },
  ]);
  const testEvent = {
    Service: 'Amazon S3',
    Event: 's3:TestEvent',
    Time: '2026-11-25T12:00:00.000Z',
    Bucket: 'sluice',
  };
  assert.deepEqual(parseS3Notice(JSON.stringify(testEvent)), []);
});

test('anything else is refused with the reason', () => {
  assert.throws(() => parseS3Notice('not json'), /not JSON/);
  assert.throws(() => parseS3Notice('[1]'), /no Records array/);
  assert.throws(
    () => parseS3Notice(JSON.stringify({ Records: [{ eventName: 'ObjectCreated:Put', s3: {} }] })),
    /without s3\.bucket\.name or s3\.object\.key/,
  );
});

test('segment keys give their type and schema version; other keys give nothing', () => {
  assert.deepEqual(
    parseSegmentKey('events/order_created/v=12/dt=2026-11-25/hr=07/order_created-p0-0-10.parquet'),
    { eventType: 'order_created', version: 12 },
  );
  for (const key of [
    'events/Order/v=1/x.parquet',
    'events/order_created/v=0/x',
    'raw/order_created/v=1/x',
    'events/order_created/x',
  ]) {
    assert.equal(parseSegmentKey(key), undefined, key);
  }
});

test('each version loads into the table of the newest migration at or below it', () => {
  const rec = (version: number, table: string): MigrationRecord => ({
    eventType: 't',
    table,
    version,
    kind: version === 1 ? 'create' : 'alter',
    ddl: [],
    appliedAt: '',
    appliedBy: '',
  });
  const records = [rec(1, 't'), rec(2, 't'), rec(3, 't_v3'), rec(5, 't_v3')];
  assert.equal(tableForVersion(records, 1)?.table, 't');
  assert.equal(tableForVersion(records, 2)?.table, 't');
  assert.equal(tableForVersion(records, 3)?.table, 't_v3');
  assert.equal(tableForVersion(records, 4)?.table, 't_v3');
  assert.equal(tableForVersion(records, 9)?.version, 5);
  assert.equal(tableForVersion([], 1), undefined);
});
