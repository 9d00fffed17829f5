// Apache Kafka 4.x, single node, KRaft combined broker+controller, from Maven Central jars.
import { randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import type { Config } from '../../lib/config.js';
import { projectRoot } from '../../lib/paths.js';
import { SluiceError } from '../../lib/errors.js';
import { lastLines, runCommand } from '../run-command.js';
import { ensureTool } from '../tool-cache.js';
import { findJava, findMaven } from '../toolchain.js';
import type { LaunchSpec, StackPaths, StackService } from './service.js';

export const KAFKA_VERSION = '4.1.1';

/** Fetches jars with Maven from the small pom in ops/maven/<name>/. */
export async function fetchJars(
  part: string,
  pomDir: string,
  outDir: string,
  props: Record<string, string>,
): Promise<void> {
  const mvn = await findMaven();
  const args = [
    '-B',
    '-q',
    '-f',
    join(projectRoot(), 'ops', 'maven', pomDir, 'pom.xml'),
    'dependency:copy-dependencies',
    `-DoutputDirectory=${outDir}`,
    '-DincludeScope=runtime',
    ...Object.entries(props).map(([k, v]) => `-D${k}=${v}`),
  ];
  const r = await runCommand(mvn, args);
  if (r.code !== 0) {
    throw new SluiceError(
      'TOOL_BUILD_FAILED',
      `[${part}] Maven could not fetch the jars (is Maven Central reachable?); last output:\n${lastLines(r.output)}`,
    );
  }
}

function kafkaHome(config: Config): string {
  return join(config.cacheDir, 'tools', `kafka-${KAFKA_VERSION}`);
}

/** Kafka cluster ids are 16 random bytes in URL-safe base64 without padding. */
function newClusterId(): string {
  return Buffer.from(randomUUID().replaceAll('-', ''), 'hex').toString('base64url');
}

export const kafkaService: StackService = {
  name: 'kafka',
  title: `Apache Kafka ${KAFKA_VERSION} (KRaft)`,
  startTimeoutMs: 90_000,
  ports: (c) => [
    { label: 'broker', port: c.stack.kafkaPort, key: 'stack.kafkaPort' },
    { label: 'controller', port: c.stack.kafkaControllerPort, key: 'stack.kafkaControllerPort' },
  ],
  address: (c) => `${c.stack.host}:${c.stack.kafkaPort}`,

  async install(config) {
    await findJava();
    await ensureTool(config.cacheDir, {
      part: 'kafka',
      name: 'kafka',
      version: KAFKA_VERSION,
      message: `fetching Kafka ${KAFKA_VERSION} jars from Maven Central (first run only, under a minute)`,
      build: (dir) => fetchJars('kafka', 'kafka', join(dir, 'libs'), { 'kafka.version': KAFKA_VERSION }),
    });
  },

  async prepare(config, paths: StackPaths): Promise<LaunchSpec> {
    const java = await findJava();
    const { host, kafkaPort, kafkaControllerPort, kafkaHeapMb } = config.stack;
    const confDir = join(paths.state, 'kafka');
    const dataDir = join(paths.data, 'kafka');
    await mkdir(confDir, { recursive: true });
    await mkdir(dataDir, { recursive: true });
    const props = [
      'process.roles=broker,controller',
      'node.id=1',
      `controller.quorum.voters=1@${host}:${kafkaControllerPort}`,
      `listeners=PLAINTEXT://${host}:${kafkaPort},CONTROLLER://${host}:${kafkaControllerPort}`,
      `advertised.listeners=PLAINTEXT://${host}:${kafkaPort}`,
      'controller.listener.names=CONTROLLER',
      'inter.broker.listener.name=PLAINTEXT',
      'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
      `log.dirs=${dataDir}`,
      // Single node: every internal topic has one replica.
      'offsets.topic.replication.factor=1',
      'transaction.state.log.replication.factor=1',
      'transaction.state.log.min.isr=1',
      'share.coordinator.state.topic.replication.factor=1',
      'share.coordinator.state.topic.min.isr=1',
      'default.replication.factor=1',
      'min.insync.replicas=1',
      'num.partitions=3',
      'group.initial.rebalance.delay.ms=0',
      // Topics come from the event catalog; a typo must not create a topic silently.
      'auto.create.topics.enable=false',
    ];
    const propsFile = join(confDir, 'server.properties');
    await writeFile(propsFile, props.join('\n') + '\n');
    const log4j = join(confDir, 'log4j2.properties');
    await writeFile(
      log4j,
      [
        'rootLogger.level = INFO',
        'rootLogger.appenderRef.stdout.ref = STDOUT',
        'appender.stdout.type = Console',
        'appender.stdout.name = STDOUT',
        'appender.stdout.layout.type = PatternLayout',
        'appender.stdout.layout.pattern = [%d] %p %m (%c)%n',
        'logger.state.name = state.change.logger',
        'logger.state.level = WARN',
      ].join('\n') + '\n',
    );
    const classpath = join(kafkaHome(config), 'libs', '*');
    const jvm = [
      `-Xms256m`,
      `-Xmx${kafkaHeapMb}m`,
      '-XX:+UseG1GC',
      '-Djava.awt.headless=true',
      `-Dlog4j2.configurationFile=${log4j}`,
    ];
    if (!existsSync(join(dataDir, 'meta.properties'))) {
      const r = await runCommand(java, [
        ...jvm,
        '-cp',
        classpath,
        'kafka.tools.StorageTool',
        'format',
        '-t',
        newClusterId(),
        '-c',
        propsFile,
      ]);
      if (r.code !== 0) {
        throw new SluiceError(
          'SERVICE_START_FAILED',
          `[kafka] formatting the KRaft storage in ${dataDir} failed:\n${lastLines(r.output)}`,
        );
      }
    }
    return {
      command: java,
      args: [...jvm, '-cp', classpath, 'kafka.Kafka', propsFile],
      marker: 'kafka.Kafka',
    };
  },

  async healthy(config) {
    const admin = new Admin({
      clientId: 'sluice-health',
      bootstrapBrokers: [`${config.stack.host}:${config.stack.kafkaPort}`],
      connectTimeout: 1000,
      requestTimeout: 2000,
      retries: 0,
    });
    try {
      const cluster = await admin.metadata({ topics: [] });
      return cluster.brokers.size > 0 && cluster.controllerId >= 0;
    } catch {
      return false;
    } finally {
      await admin.close().catch(() => undefined);
    }
  },
};
