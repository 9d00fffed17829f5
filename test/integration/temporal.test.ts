import assert from 'node:assert/strict';
import { fileURLToPath } from 'node:url';
import { after, before, test } from 'node:test';
import { TestWorkflowEnvironment } from '@temporalio/testing';
import { DefaultLogger, Runtime, Worker } from '@temporalio/worker';
import { loadConfig } from '../../lib/config.js';
import * as activities from '../fixtures/greeting-activities.js';
import type { greeting } from '../fixtures/workflows/greeting.js';
import { uniqueName } from '../helpers/names.js';

const config = loadConfig();
let env: TestWorkflowEnvironment;

before(async () => {
  Runtime.install({ logger: new DefaultLogger('WARN') });
  // The running dev server, never a downloaded test server.
  env = await TestWorkflowEnvironment.createFromExistingServer({
    address: config.temporal.address,
    namespace: config.temporal.namespace,
  });
});

after(async () => {
  await env.teardown();
});

test('a workflow runs an activity on the dev server and is visible in its history', async () => {
  const taskQueue = uniqueName('test-greeting');
  const worker = await Worker.create({
    connection: env.nativeConnection,
    namespace: config.temporal.namespace,
    taskQueue,
    workflowsPath: fileURLToPath(new URL('../fixtures/workflows/index.ts', import.meta.url)),
    activities,
  });
  const workflowId = uniqueName('greeting');
  const result = await worker.runUntil(
    env.client.workflow.execute<typeof greeting>('greeting', { taskQueue, workflowId, args: ['Sluice'] }),
  );
  assert.equal(result, 'Hello, Sluice!');

  const history = await env.client.workflow.getHandle(workflowId).fetchHistory();
  const types = history.events?.map((e) => e.eventType) ?? [];
  assert.ok(types.length > 0);
  const description = await env.client.workflow.getHandle(workflowId).describe();
  assert.equal(description.status.name, 'COMPLETED');
});

test('the Temporal Web UI answers', async () => {
  const res = await fetch(config.temporal.uiUrl);
  assert.equal(res.status, 200);
  assert.match(await res.text(), /<html/i);
});
