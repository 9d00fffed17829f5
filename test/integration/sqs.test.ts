import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import {
  CreateQueueCommand,
  DeleteMessageCommand,
  DeleteQueueCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { createSqsClient } from '../../lib/aws.js';
import { loadConfig } from '../../lib/config.js';
import { uniqueName } from '../helpers/names.js';

const config = loadConfig();
const sqs = createSqsClient(config);
let queueUrl = '';

before(async () => {
  const created = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('test-sqs') }));
  queueUrl = created.QueueUrl!;
});

after(async () => {
  await sqs.send(new DeleteQueueCommand({ QueueUrl: queueUrl })).catch(() => undefined);
  sqs.destroy();
});

test('a message is sent, long-polled, and gone once deleted', async () => {
  const body = JSON.stringify({
    Records: [{ eventName: 'ObjectCreated:Put', s3: { object: { key: 'a.parquet' } } }],
  });
  await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));

  const received = await sqs.send(
    new ReceiveMessageCommand({ QueueUrl: queueUrl, WaitTimeSeconds: 5, MaxNumberOfMessages: 10 }),
  );
  const message = received.Messages?.[0];
  assert.equal(received.Messages?.length, 1);
  assert.equal(message?.Body, body);

  await sqs.send(new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message?.ReceiptHandle }));
  const attrs = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  assert.equal(attrs.Attributes?.ApproximateNumberOfMessages, '0');
  assert.equal(attrs.Attributes?.ApproximateNumberOfMessagesNotVisible, '0');
});
