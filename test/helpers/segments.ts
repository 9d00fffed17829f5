// Writes Parquet segments to S3 the way the pipeline does (same encoder, same keys) without Kafka,
// and announces them on the type's queue: loader tests then need no pipeline run.
import { GetQueueUrlCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Config } from '../../lib/config.js';
import { buildEnvelope, envelopeHeaders } from '../../lib/envelope.js';
import type { RangeRecord } from '../../lib/kafka.js';
import { s3ObjectCreatedEvent } from '../../activities/s3-notice.js';
import { encodeSegment, segmentObjectKey } from '../../activities/segment/encode.js';
import { schemaId, type Catalog } from '../../schemas/catalog.js';
import { EventValidator } from '../../schemas/validator.js';

export interface TestEvent {
  id: string;
  data: Record<string, unknown>;
  version: number;
  test?: boolean;
  /** ce_time; default the payload's placed_at or now. */
  time?: string;
}

export interface WrittenObject {
  key: string;
  etag: string;
  size: number;
  rows: number;
}

/** One segment of `events` at offsets from..from+n of `partition`: one object per (version, dt, hr). */
export async function putSegment(
  config: Config,
  s3: S3Client,
  catalog: Catalog,
  typeName: string,
  partition: number,
  from: bigint,
  events: TestEvent[],
): Promise<WrittenObject[]> {
  const type = catalog.types.get(typeName);
  if (!type) throw new Error(`no type ${typeName}`);
  const now = new Date();
  const records: RangeRecord[] = events.map((e, i) => {
    const env = buildEnvelope(
      {
        type: typeName,
        dataschema: schemaId(typeName, e.version),
        id: e.id,
        time: e.time ?? (typeof e.data.placed_at === 'string' ? e.data.placed_at : undefined),
        test: e.test ?? false,
      },
      now,
      '/test',
    );
    return {
      offset: from + BigInt(i),
      timestamp: BigInt(now.getTime()),
      key: null,
      value: Buffer.from(JSON.stringify(e.data)),
      headers: envelopeHeaders(env),
    };
  });
  const encoded = encodeSegment({ type, validator: new EventValidator(catalog), partition, records });
  if (encoded.rejected.length) throw new Error(`invalid test events: ${encoded.rejected[0]!.reason}`);
  const to = from + BigInt(events.length);
  const out: WrittenObject[] = [];
  for (const g of encoded.groups) {
    const key = segmentObjectKey(typeName, g, partition, from, to);
    const res = await s3.send(new PutObjectCommand({ Bucket: config.s3.bucket, Key: key, Body: g.bytes }));
    out.push({ key, etag: (res.ETag ?? '').replaceAll('"', ''), size: g.bytes.byteLength, rows: g.rows });
  }
  return out;
}

/** Sends the S3 ObjectCreated notice of each object to the type's queue, as S3 would. */
export async function announce(
  config: Config,
  sqs: SQSClient,
  typeName: string,
  objects: WrittenObject[],
): Promise<void> {
  const url = (await sqs.send(new GetQueueUrlCommand({ QueueName: `${config.sqs.queuePrefix}${typeName}` })))
    .QueueUrl!;
  for (const o of objects) {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: url,
        MessageBody: s3ObjectCreatedEvent({
          bucket: config.s3.bucket,
          region: config.s3.region,
          key: o.key,
          size: o.size,
          etag: o.etag,
          eventTime: new Date(),
        }),
      }),
    );
  }
}
