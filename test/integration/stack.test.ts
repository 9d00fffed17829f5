// The local stack as an operator sees it: status, idempotent start, and recovery after a crash
// with the data kept on disk. Runs alone (the test runner runs one file at a time).
import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import {
  CreateQueueCommand,
  DeleteQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
} from '@aws-sdk/client-sqs';
import { Client, Connection } from '@temporalio/client';
import { DefaultLogger, NativeConnection, Runtime, Worker } from '@temporalio/worker';
import { createSqsClient } from '../../lib/aws.js';
import { loadConfig } from '../../lib/config.js';
import { selectServices, stackStatus, stackUp, startService, statusOf } from '../../ops/stack-lib.js';
import { isAlive } from '../../ops/supervisor.js';
import { uniqueName } from '../helpers/names.js';

const config = loadConfig();
const [sqsService] = selectServices(['sqs']);
const [temporalService] = selectServices(['temporal']);

async function kill9(pid: number): Promise<void> {
  process.kill(pid, 'SIGKILL');
  while (isAlive(pid)) await new Promise((r) => setTimeout(r, 50));
}

test('every part is up, and starting the stack again starts nothing new', async () => {
  const before = await stackStatus(config);
  assert.deepEqual(
    before.map((s) => [s.name, s.state]),
    [
      ['kafka', 'up'],
      ['temporal', 'up'],
      ['s3', 'up'],
      ['sqs', 'up'],
    ],
  );
  assert.deepEqual(await stackUp(config), []);
  assert.deepEqual(
    (await stackStatus(config)).map((s) => s.pid),
    before.map((s) => s.pid),
  );
});

test('a killed SQS server is reported crashed, restarted, and its queued messages are still there', async () => {
  const sqs = createSqsClient(config);
  const { QueueUrl } = await sqs.send(new CreateQueueCommand({ QueueName: uniqueName('test-crash') }));
  await sqs.send(new SendMessageCommand({ QueueUrl, MessageBody: 'survives a crash' }));

  const { pid } = await statusOf(config, sqsService!);
  await kill9(pid!);
  assert.equal((await statusOf(config, sqsService!)).state, 'crashed');

  assert.equal(await startService(config, sqsService!), true);
  const received = await sqs.send(new ReceiveMessageCommand({ QueueUrl, WaitTimeSeconds: 5 }));
  assert.deepEqual(
    received.Messages?.map((m) => m.Body),
    ['survives a crash'],
  );
  await sqs.send(new DeleteQueueCommand({ QueueUrl }));
  sqs.destroy();
});

test('a running workflow survives a kill -9 and restart of the Temporal server', async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  const taskQueue = uniqueName('test-restart');
  const workflowId = uniqueName('wait');
  let connection = await Connection.connect({ address: config.temporal.address });
  let client = new Client({ connection, namespace: config.temporal.namespace });
  await client.workflow.start('waitForSignal', { taskQueue, workflowId });
  await connection.close();

  const { pid } = await statusOf(config, temporalService!);
  await kill9(pid!);
  assert.equal(await startService(config, temporalService!), true);

  connection = await Connection.connect({ address: config.temporal.address });
  client = new Client({ connection, namespace: config.temporal.namespace });
  const handle = client.workflow.getHandle(workflowId);
  assert.equal((await handle.describe()).status.name, 'RUNNING');

  const worker = await Worker.create({
    connection: await NativeConnection.connect({ address: config.temporal.address }),
    namespace: config.temporal.namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../fixtures/workflows/index.ts', import.meta.url)),
  });
  const result = await worker.runUntil(async () => {
    await handle.signal('proceed', 'after restart');
    return (await handle.result()) as string;
  });
  assert.equal(result, 'after restart');
  await connection.close();
});
