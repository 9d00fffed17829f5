// The exact JSON an S3 bucket notification puts on SQS for ObjectCreated:Put, so the loader works
// the same whether Sluice or S3 itself sends the notice.
export interface S3ObjectNotice {
  bucket: string;
  region: string;
  key: string;
  size: number;
  etag: string;
  eventTime: Date;
}

export function s3ObjectCreatedEvent(o: S3ObjectNotice): string {
  return JSON.stringify({
    Records: [
      {
        eventVersion: '2.1',
        eventSource: 'aws:s3',
        awsRegion: o.region,
        eventTime: o.eventTime.toISOString(),
        eventName: 'ObjectCreated:Put',
        userIdentity: { principalId: 'sluice' },
        requestParameters: { sourceIPAddress: '127.0.0.1' },
        responseElements: { 'x-amz-request-id': 'sluice', 'x-amz-id-2': 'sluice' },
        s3: {
          s3SchemaVersion: '1.0',
          configurationId: 'sluice-pipeline',
          bucket: {
            name: o.bucket,
            ownerIdentity: { principalId: 'sluice' },
            arn: `arn:aws:s3:::${o.bucket}`,
          },
          // S3 URL-encodes keys in notices (spaces as '+').
          object: {
            key: encodeURIComponent(o.key).replaceAll('%2F', '/').replaceAll('%20', '+'),
            size: o.size,
            eTag: o.etag.replaceAll('"', ''),
            sequencer: o.eventTime.getTime().toString(16).toUpperCase().padStart(16, '0'),
          },
        },
      },
    ],
  });
}

export interface NoticedObject {
  bucket: string;
  key: string;
  size: number;
  etag: string;
  eventTime: string;
}

/**
 * Reads the objects an S3 notification message names (ObjectCreated records only). S3's
 * `s3:TestEvent`, sent when a notification is configured, names none. Throws on anything that
 * is not S3 notification JSON, with the reason.
 */
export function parseS3Notice(body: string): NoticedObject[] {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new Error('not JSON');
  }
  if (typeof doc !== 'object' || doc === null) throw new Error('not a JSON object');
  if ((doc as { Event?: unknown }).Event === 's3:TestEvent') return [];
  const records = (doc as { Records?: unknown }).Records;
  if (!Array.isArray(records)) throw new Error('no Records array: not an S3 event notification');
  const out: NoticedObject[] = [];
  for (const r of records as unknown[]) {
    const rec = r as {
      eventName?: unknown;
      eventTime?: unknown;
      s3?: { bucket?: { name?: unknown }; object?: { key?: unknown; size?: unknown; eTag?: unknown } };
    };
    if (typeof rec.eventName !== 'string' || !rec.eventName.startsWith('ObjectCreated:')) continue;
    const key = rec.s3?.object?.key;
    const bucket = rec.s3?.bucket?.name;
    if (typeof key !== 'string' || typeof bucket !== 'string')
      throw new Error('a record without s3.bucket.name or s3.object.key');
    out.push({
      bucket,
      // Keys arrive URL-encoded with '+' for spaces.
      key: decodeURIComponent(key.replaceAll('+', ' ')),
      size: typeof rec.s3?.object?.size === 'number' ? rec.s3.object.size : 0,
      etag: typeof rec.s3?.object?.eTag === 'string' ? rec.s3.object.eTag.replaceAll('"', '') : '',
      eventTime: typeof rec.eventTime === 'string' ? rec.eventTime : new Date(0).toISOString(),
    });
  }
  return out;
}
