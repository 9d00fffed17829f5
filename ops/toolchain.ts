// Finds the toolchains the local stack builds with, and says clearly what to install when one is missing.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { SluiceError } from '../lib/errors.js';
import { runCommand } from './run-command.js';

export interface Toolchain {
  java: string;
  mvn: string;
  go: string;
}

async function versionOf(cmd: string, args: string[]): Promise<string | undefined> {
  const r = await runCommand(cmd, args);
  return r.code === 0 ? r.output : undefined;
}

export async function findJava(): Promise<string> {
  const javaHome = process.env.JAVA_HOME;
  const java = javaHome && existsSync(join(javaHome, 'bin', 'java')) ? join(javaHome, 'bin', 'java') : 'java';
  const out = await versionOf(java, ['-version']);
  const major = out ? Number(/version "(\d+)/.exec(out)?.[1]) : NaN;
  if (!out) {
    throw new SluiceError(
      'TOOLCHAIN_MISSING',
      'Java was not found: install a JDK 17 or newer (or set JAVA_HOME) to run Kafka and ElasticMQ.',
    );
  }
  if (!(major >= 17)) {
    throw new SluiceError(
      'TOOLCHAIN_MISSING',
      `Java ${major} found at ${java}; Kafka 4 needs Java 17 or newer: set JAVA_HOME to a newer JDK.`,
    );
  }
  return java;
}

export async function findMaven(): Promise<string> {
  if (!(await versionOf('mvn', ['-v']))) {
    throw new SluiceError(
      'TOOLCHAIN_MISSING',
      'Maven (mvn) was not found: install Maven 3.6+ to fetch the Kafka and ElasticMQ jars.',
    );
  }
  return 'mvn';
}

export async function findGo(): Promise<string> {
  const out = await versionOf('go', ['version']);
  const m = out ? /go(\d+)\.(\d+)/.exec(out) : null;
  if (!m)
    throw new SluiceError(
      'TOOLCHAIN_MISSING',
      'Go was not found: install Go 1.24+ to build the Temporal CLI and the S3 server.',
    );
  if (Number(m[1]) === 1 && Number(m[2]) < 24) {
    throw new SluiceError(
      'TOOLCHAIN_MISSING',
      `Go ${m[1]}.${m[2]} is too old: the Temporal CLI needs Go 1.24 or newer.`,
    );
  }
  return 'go';
}
