// ElasticMQ: an SQS-compatible server speaking the AWS JSON protocol, with queues and messages
// persisted on disk so notices survive a restart.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureTool } from '../tool-cache.js';
import { findJava } from '../toolchain.js';
import { fetchJars } from './kafka.js';
import { httpOk, type LaunchSpec, type StackPaths, type StackService } from './service.js';

export const ELASTICMQ_VERSION = '1.7.1';

export const sqsService: StackService = {
  name: 'sqs',
  title: `SQS-compatible queue (ElasticMQ ${ELASTICMQ_VERSION})`,
  startTimeoutMs: 60_000,
  ports: (c) => [{ label: 'sqs', port: c.stack.sqsPort, key: 'stack.sqsPort' }],
  address: (c) => c.sqs.endpoint,

  async install(config) {
    await findJava();
    await ensureTool(config.cacheDir, {
      part: 'sqs',
      name: 'elasticmq',
      version: ELASTICMQ_VERSION,
      message: `fetching ElasticMQ ${ELASTICMQ_VERSION} jars from Maven Central (first run only, under a minute)`,
      build: (dir) =>
        fetchJars('sqs', 'elasticmq', join(dir, 'libs'), { 'elasticmq.version': ELASTICMQ_VERSION }),
    });
  },

  async prepare(config, paths: StackPaths): Promise<LaunchSpec> {
    const java = await findJava();
    const { host, sqsPort, sqsHeapMb } = config.stack;
    const confDir = join(paths.state, 'sqs');
    const dataDir = join(paths.data, 'sqs');
    await mkdir(confDir, { recursive: true });
    await mkdir(dataDir, { recursive: true });
    const conf = join(confDir, 'elasticmq.conf');
    await writeFile(
      conf,
      [
        'include classpath("application.conf")',
        `node-address { protocol = http, host = "${host}", port = ${sqsPort}, context-path = "" }`,
        `rest-sqs { enabled = true, bind-port = ${sqsPort}, bind-hostname = "${host}", sqs-limits = strict }`,
        'rest-stats { enabled = false }',
        `queues-storage { enabled = true, path = "${join(dataDir, 'queues.conf')}" }`,
        `messages-storage { enabled = true, uri = "jdbc:h2:${join(dataDir, 'messages')};WRITE_DELAY=0" }`,
      ].join('\n') + '\n',
    );
    const libs = join(config.cacheDir, 'tools', `elasticmq-${ELASTICMQ_VERSION}`, 'libs', '*');
    return {
      command: java,
      args: [
        `-Xmx${sqsHeapMb}m`,
        '-Djava.awt.headless=true',
        `-Dconfig.file=${conf}`,
        '-cp',
        libs,
        'org.elasticmq.server.Main',
      ],
      marker: 'org.elasticmq.server.Main',
    };
  },

  healthy: (config) =>
    httpOk(`http://${config.stack.host}:${config.stack.sqsPort}/`, {
      method: 'POST',
      headers: { 'Content-Type': 'application/x-amz-json-1.0', 'X-Amz-Target': 'AmazonSQS.ListQueues' },
      body: '{}',
    }),
};
