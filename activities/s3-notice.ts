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
