// Side-by-side benchmark of kafkajs and @platformatic/kafka against the local broker (127.0.0.1:9092):
//   1. produce N records of R bytes (acks=1) to partition 0 of a fresh single-partition topic;
//   2. read the exact offset range [from, to) of partition 0 and verify it record by record.
// Rounds alternate which client goes first (the 2-core box is noisy); medians are reported and written to
// docs/kafka-client.md. Usage: npm run bench:kafka-client -- [--records 50000] [--from 10000] [--to 40000] ...
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import {
  Consumer as PltConsumer,
  ProduceAcks,
  Producer as PltProducer,
  type MessageToProduce,
} from '@platformatic/kafka';
import { CompressionTypes, Kafka, logLevel, Partitioners, type Admin as KjsAdmin, type Batch } from 'kafkajs';
import { KAFKA_VERSION } from '../ops/services/kafka.js';
import {
  BenchError,
  dec,
  errorMessage,
  fail,
  int,
  machine,
  markdownTable,
  median,
  packageVersion,
  parseFlags,
  positiveInt,
  ratio,
  reachKafka,
  runMain,
  withTimeout,
  writeDoc,
  writeSummary,
  type Machine,
} from './common.js';

const CLIENTS = ['kafkajs', 'platformatic'] as const;
type ClientName = (typeof CLIENTS)[number];
const LABEL: Record<ClientName, string> = { kafkajs: 'kafkajs', platformatic: '@platformatic/kafka' };

// Same fetch shape for both readers. A short max wait only matters for empty fetches (e.g. kafkajs polling
// after it paused); with the range already on disk every fetch is answered at once.
const MAX_WAIT_MS = 500;
const MAX_FETCH_BYTES = 10 * 1024 * 1024;
const STEP_TIMEOUT_MS = 60_000;
// Bytes a record adds to a v2 record batch beyond its value (length, attributes, deltas, key/value lengths,
// header count), and the batch header itself; used to size the last platformatic fetch.
const RECORD_OVERHEAD = 16;
const BATCH_HEADER = 61;

interface Options {
  broker: string;
  records: number;
  recordBytes: number;
  batch: number;
  concurrency: number;
  from: number;
  to: number;
  rounds: number;
  fetchBytes: number;
  doc: string | null;
}

function parseOptions(): Options {
  const { values } = parseFlags({
    records: { type: 'string', default: '50000' },
    'record-bytes': { type: 'string', default: '1024' },
    batch: { type: 'string', default: '500' },
    concurrency: { type: 'string', default: '4' },
    from: { type: 'string', default: '10000' },
    to: { type: 'string', default: '40000' },
    rounds: { type: 'string', default: '5' },
    'fetch-bytes': { type: 'string', default: String(1024 * 1024) },
    broker: { type: 'string', default: '127.0.0.1:9092' },
    doc: { type: 'string', default: 'docs/kafka-client.md' },
    'no-doc': { type: 'boolean', default: false },
  });
  const opts: Options = {
    broker: values.broker,
    records: positiveInt('records', values.records),
    recordBytes: positiveInt('record-bytes', values['record-bytes']),
    batch: positiveInt('batch', values.batch),
    concurrency: positiveInt('concurrency', values.concurrency),
    from: positiveInt('from', values.from, 0),
    to: positiveInt('to', values.to),
    rounds: positiveInt('rounds', values.rounds),
    fetchBytes: positiveInt('fetch-bytes', values['fetch-bytes'], 1024),
    doc: values['no-doc'] ? null : values.doc,
  };
  if (opts.from >= opts.to) fail(`--from (${opts.from}) must be below --to (${opts.to})`);
  // The first produce run alone must cover the range, so every read finds it complete on disk.
  if (opts.to > opts.records) fail(`--to (${opts.to}) must not exceed --records (${opts.records})`);
  return opts;
}

interface Ctx {
  opts: Options;
  topic: string;
  payloads: Buffer[];
  kafkajsGroups: string[];
}

interface ProduceResult {
  recordsPerSec: number;
  mbPerSec: number;
}

interface ReadResult {
  recordsPerSec: number;
  firstRecordMs: number;
  streamRecordsPerSec: number;
  setupMs: number;
  wastedRecords: number;
  fetches: number;
  fetchedMb: number;
  closeMs: number;
}

interface Deferred {
  promise: Promise<void>;
  resolve: () => void;
  reject: (err: unknown) => void;
}

// Node 20 has no Promise.withResolvers.
function deferred(): Deferred {
  let resolve: () => void = () => undefined;
  let reject: (err: unknown) => void = () => undefined;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  // A rejection that lands before anyone awaits (e.g. a crash during run()) must not count as unhandled.
  promise.catch(() => undefined);
  return { promise, resolve, reject };
}

// ---------------------------------------------------------------------------------------------------------
// Produce

/** Sends ceil(records / batch) batches with `concurrency` sends in flight; returns the timed result. */
async function timedProduce(ctx: Ctx, send: (count: number) => Promise<void>): Promise<ProduceResult> {
  const { records, batch, concurrency, recordBytes } = ctx.opts;
  // One untimed batch first: connections, metadata and JIT warm-up are not what we compare.
  await send(batch);
  const batches = Math.ceil(records / batch);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < batches) {
      const i = next++;
      await send(Math.min(batch, records - i * batch));
    }
  };
  const t0 = performance.now();
  await Promise.all(Array.from({ length: Math.min(concurrency, batches) }, worker));
  const seconds = (performance.now() - t0) / 1000;
  return { recordsPerSec: records / seconds, mbPerSec: (records * recordBytes) / 1e6 / seconds };
}

function newKafkajs(ctx: Ctx, role: string): Kafka {
  return new Kafka({
    clientId: `bench-kafkajs-${role}`,
    brokers: [ctx.opts.broker],
    logLevel: logLevel.WARN,
    retry: { retries: 2 },
  });
}

async function produceKafkajs(ctx: Ctx): Promise<ProduceResult> {
  // An explicit partitioner silences kafkajs' v2 partitioner warning; the records name partition 0 anyway.
  const producer = newKafkajs(ctx, 'producer').producer({
    allowAutoTopicCreation: false,
    createPartitioner: Partitioners.DefaultPartitioner,
  });
  await producer.connect();
  try {
    return await withTimeout(
      timedProduce(ctx, async (count) => {
        await producer.send({
          topic: ctx.topic,
          acks: 1,
          compression: CompressionTypes.None,
          messages: ctx.payloads.slice(0, count).map((value) => ({ partition: 0, value })),
        });
      }),
      STEP_TIMEOUT_MS,
      'kafkajs produce',
    );
  } finally {
    await producer.disconnect();
  }
}

async function producePlatformatic(ctx: Ctx): Promise<ProduceResult> {
  const producer = new PltProducer({
    clientId: 'bench-platformatic-producer',
    bootstrapBrokers: [ctx.opts.broker],
    acks: ProduceAcks.LEADER,
    idempotent: false,
    retries: 2,
  });
  try {
    return await withTimeout(
      timedProduce(ctx, async (count) => {
        const messages: MessageToProduce[] = ctx.payloads
          .slice(0, count)
          .map((value) => ({ topic: ctx.topic, partition: 0, value }));
        await producer.send({ messages });
      }),
      STEP_TIMEOUT_MS,
      '@platformatic/kafka produce',
    );
  } finally {
    await producer.close();
  }
}

// ---------------------------------------------------------------------------------------------------------
// Exact range read

/** Asserts that exactly the offsets from..to-1 arrive, in order, each with a full-size value. */
class RangeChecker {
  next: bigint;
  firstAt: number | null = null;
  lastAt = 0;

  constructor(
    readonly client: string,
    readonly from: bigint,
    readonly to: bigint,
    readonly recordBytes: number,
  ) {
    this.next = from;
  }

  get done(): boolean {
    return this.next === this.to;
  }

  accept(offset: bigint, value: Buffer | null): void {
    if (offset < this.from || offset >= this.to) {
      fail(`${this.client}: reader returned offset ${offset}, outside [${this.from}, ${this.to})`);
    }
    if (offset !== this.next) fail(`${this.client}: expected offset ${this.next}, got ${offset}`);
    if (value?.length !== this.recordBytes) {
      fail(
        `${this.client}: offset ${offset} has ${value?.length ?? 'no'} value bytes, expected ${this.recordBytes}`,
      );
    }
    const now = performance.now();
    this.firstAt ??= now;
    this.lastAt = now;
    this.next++;
  }

  result(
    t0: number,
    setupMs: number,
    extra: Omit<ReadResult, 'recordsPerSec' | 'firstRecordMs' | 'streamRecordsPerSec' | 'setupMs'>,
  ): ReadResult {
    const expected = this.to - this.from;
    const got = this.next - this.from;
    if (!this.done || this.firstAt === null) fail(`${this.client}: got ${got} records, expected ${expected}`);
    const count = Number(expected);
    return {
      recordsPerSec: count / ((this.lastAt - t0) / 1000),
      firstRecordMs: this.firstAt - t0,
      // Guard the 1-record range: the stream rate is undefined there.
      streamRecordsPerSec: count > 1 ? (count - 1) / (Math.max(this.lastAt - this.firstAt, 0.001) / 1000) : 0,
      setupMs,
      ...extra,
    };
  }
}

/**
 * kafkajs has no manual partition assignment (tulios/kafkajs#373), so the least bad exact read is a throwaway
 * consumer group: subscribe, run() (join + sync), seek(from) — only legal after run() — then pause at `to`.
 */
async function readRangeKafkajs(ctx: Ctx, round: number): Promise<ReadResult> {
  const { opts, topic } = ctx;
  const checker = new RangeChecker('kafkajs', BigInt(opts.from), BigInt(opts.to), opts.recordBytes);
  const groupId = `${topic}.kafkajs-range-reader.${round}`;
  ctx.kafkajsGroups.push(groupId);
  const t0 = performance.now();
  const consumer = newKafkajs(ctx, 'reader').consumer({
    groupId,
    allowAutoTopicCreation: false,
    maxBytesPerPartition: opts.fetchBytes,
    maxBytes: MAX_FETCH_BYTES,
    maxWaitTimeInMs: MAX_WAIT_MS,
  });
  const finished = deferred();
  let settled = false;
  let wasted = 0;
  let fetches = 0;
  let fetchedBytes = 0;
  // Counted until disconnect() returns: a fetch kafkajs issues after we have the range is waste too.
  consumer.on(consumer.events.REQUEST, ({ payload }) => {
    if (payload.apiName === 'Fetch') {
      fetches++;
      fetchedBytes += payload.size;
    }
  });
  consumer.on(consumer.events.CRASH, ({ payload }) => {
    finished.reject(new BenchError(`kafkajs consumer crashed: ${errorMessage(payload.error)}`));
  });

  const settle = (err?: unknown): void => {
    if (settled) return;
    settled = true;
    // pause, not stop: stop() waits for the running eachBatch and would deadlock here.
    consumer.pause([{ topic }]);
    if (err === undefined) finished.resolve();
    else finished.reject(err);
  };

  const onBatch = (batch: Batch): void => {
    if (settled) return;
    try {
      // kafkajs decodes whole record batches and silently drops records before the fetch offset; they are
      // only visible on the untyped rawMessages.
      const raw = (batch as Batch & { rawMessages?: unknown[] }).rawMessages;
      wasted += (raw?.length ?? batch.messages.length) - batch.messages.length;
      for (const message of batch.messages) {
        const offset = BigInt(message.offset);
        // Whatever the broker sent past `to` (or before `from`) was fetched and decoded for nothing.
        if (checker.done || offset < checker.from || offset >= checker.to) {
          wasted++;
          continue;
        }
        checker.accept(offset, message.value);
      }
      if (checker.done) settle();
    } catch (err) {
      settle(err);
    }
  };

  let setupMs = 0;
  let closeMs = 0;
  let result: ReadResult | null = null;
  try {
    await consumer.connect();
    // fromBeginning: false puts a new group at the log end, so nothing is fetched before the seek lands.
    await consumer.subscribe({ topics: [topic], fromBeginning: false });
    await consumer.run({
      autoCommit: false,
      eachBatch: ({ batch }) => {
        onBatch(batch);
        return Promise.resolve();
      },
    });
    setupMs = performance.now() - t0;
    // run() has joined the group; the seek is picked up by the first fetch (which awaits metadata first).
    consumer.seek({ topic, partition: 0, offset: String(opts.from) });
    await withTimeout(finished.promise, STEP_TIMEOUT_MS, 'kafkajs range read');
    result = checker.result(t0, setupMs, { wastedRecords: wasted, fetches: 0, fetchedMb: 0, closeMs: 0 });
  } finally {
    settled = true;
    const tc = performance.now();
    await consumer.disconnect();
    closeMs = performance.now() - tc;
  }
  return { ...result, fetches, fetchedMb: fetchedBytes / 1e6, closeMs };
}

/**
 * @platformatic/kafka's Consumer.fetch() is a plain Fetch request for (topic id, partition, offset): no group,
 * no subscription. We loop it from `from`, trimming the byte budget of the last fetch to what is left.
 */
async function readRangePlatformatic(ctx: Ctx): Promise<ReadResult> {
  const { opts, topic } = ctx;
  const checker = new RangeChecker(
    '@platformatic/kafka',
    BigInt(opts.from),
    BigInt(opts.to),
    opts.recordBytes,
  );
  const t0 = performance.now();
  // The constructor insists on a groupId, but fetch() never joins the group.
  const consumer = new PltConsumer({
    clientId: 'bench-platformatic-reader',
    groupId: `${topic}.platformatic-unused`,
    bootstrapBrokers: [opts.broker],
    retries: 2,
  });
  let closeMs = 0;
  let result: ReadResult | null = null;
  try {
    const read = async (): Promise<ReadResult> => {
      const metadata = await consumer.metadata({ topics: [topic] });
      const topicMeta = metadata.topics.get(topic);
      const p0 = topicMeta?.partitions[0];
      if (!topicMeta || !p0) fail(`@platformatic/kafka: no metadata for ${topic} partition 0`);
      const setupMs = performance.now() - t0;
      let offset = checker.from;
      let wasted = 0;
      let fetches = 0;
      let fetchedBytes = 0;
      while (offset < checker.to) {
        const remaining = Number(checker.to - offset);
        // The broker always returns whole record batches (at least one), so this only trims the last fetch.
        const partitionMaxBytes = Math.min(
          opts.fetchBytes,
          remaining * (opts.recordBytes + RECORD_OVERHEAD) + BATCH_HEADER,
        );
        const response = await consumer.fetch({
          node: p0.leader,
          maxWaitTime: MAX_WAIT_MS,
          minBytes: 1,
          maxBytes: MAX_FETCH_BYTES,
          topics: [
            {
              topicId: topicMeta.id,
              partitions: [
                {
                  partition: 0,
                  currentLeaderEpoch: p0.leaderEpoch,
                  fetchOffset: offset,
                  lastFetchedEpoch: -1,
                  partitionMaxBytes,
                },
              ],
            },
          ],
        });
        fetches++;
        const part = response.responses[0]?.partitions.find((p) => p.partitionIndex === 0);
        if (!part) fail(`@platformatic/kafka: fetch at offset ${offset} returned no partition 0`);
        if (part.errorCode !== 0) {
          fail(`@platformatic/kafka: fetch at offset ${offset}: error code ${part.errorCode}`);
        }
        const batches = part.records ?? [];
        if (batches.length === 0) {
          fail(`@platformatic/kafka: nothing at offset ${offset} (high watermark ${part.highWatermark})`);
        }
        let nextOffset = offset;
        for (const batch of batches) {
          fetchedBytes += batch.length + 12;
          for (const record of batch.records) {
            const recordOffset = batch.firstOffset + BigInt(record.offsetDelta);
            // The batch holding `from` may start before it, and the last one may run past `to`.
            if (recordOffset < offset || recordOffset >= checker.to) {
              wasted++;
              continue;
            }
            checker.accept(recordOffset, record.value);
          }
          nextOffset = batch.firstOffset + BigInt(batch.lastOffsetDelta) + 1n;
        }
        if (nextOffset <= offset) fail(`@platformatic/kafka: fetch at offset ${offset} made no progress`);
        offset = nextOffset;
      }
      return checker.result(t0, setupMs, {
        wastedRecords: wasted,
        fetches,
        fetchedMb: fetchedBytes / 1e6,
        closeMs: 0,
      });
    };
    result = await withTimeout(read(), STEP_TIMEOUT_MS, '@platformatic/kafka range read');
  } finally {
    const tc = performance.now();
    await consumer.close();
    closeMs = performance.now() - tc;
  }
  return { ...result, closeMs };
}

// ---------------------------------------------------------------------------------------------------------
// Report

interface Results {
  produce: Record<ClientName, ProduceResult[]>;
  read: Record<ClientName, ReadResult[]>;
}

interface Env extends Machine {
  broker: string;
  kafkajs: string;
  platformatic: string;
  rebalanceDelay: string;
}

function summaryTable(results: Results, env: Env): string {
  type Row = [
    label: string,
    kafkajs: number,
    platformatic: number,
    format: (n: number) => string,
    withRatio?: boolean,
  ];
  const p = (c: ClientName, pick: (r: ProduceResult) => number): number =>
    median(results.produce[c].map(pick));
  const r = (c: ClientName, pick: (r: ReadResult) => number): number => median(results.read[c].map(pick));
  const both = <T>(
    get: (c: ClientName, pick: (x: T) => number) => number,
    pick: (x: T) => number,
  ): [number, number] => [get('kafkajs', pick), get('platformatic', pick)];
  const rows: Row[] = [
    ['Produce, records/s', ...both(p, (x) => x.recordsPerSec), int],
    ['Produce, MB/s', ...both(p, (x) => x.mbPerSec), dec(1)],
    ['Range read, records/s (end to end, incl. setup)', ...both(r, (x) => x.recordsPerSec), int],
    ['Range read, records/s (after first record)', ...both(r, (x) => x.streamRecordsPerSec), int],
    ['Range read, time to first record (ms)', ...both(r, (x) => x.firstRecordMs), int],
    ['Range read, setup before first fetch (ms)¹', ...both(r, (x) => x.setupMs), int],
    ['Range read, records fetched outside range', ...both(r, (x) => x.wastedRecords), int, false],
    ['Range read, fetch requests', ...both(r, (x) => x.fetches), int, false],
    ['Range read, MB fetched²', ...both(r, (x) => x.fetchedMb), dec(1), false],
    ['Reader close (ms)³', ...both(r, (x) => x.closeMs), int],
  ];
  return markdownTable(
    [
      `Median of ${results.produce.kafkajs.length} rounds`,
      `kafkajs ${env.kafkajs}`,
      `@platformatic/kafka ${env.platformatic}`,
      'platformatic / kafkajs',
    ],
    'lrrr',
    rows.map(([label, a, b, format, withRatio = true]) => [
      label,
      format(a),
      format(b),
      withRatio ? ratio(b, a) : '—',
    ]),
  );
}

function roundsTable(results: Results): string {
  const rows: string[][] = [];
  const rounds = results.produce.kafkajs.length;
  for (let i = 0; i < rounds; i++) {
    for (const c of CLIENTS) {
      const pr = results.produce[c][i];
      const rr = results.read[c][i];
      if (!pr || !rr) continue;
      rows.push([
        String(i + 1),
        LABEL[c],
        int(pr.recordsPerSec),
        int(rr.recordsPerSec),
        int(rr.firstRecordMs),
        int(rr.setupMs),
        int(rr.wastedRecords),
        String(rr.fetches),
      ]);
    }
  }
  return markdownTable(
    [
      'Round',
      'Client',
      'Produce records/s',
      'Read records/s',
      'First record (ms)',
      'Setup (ms)',
      'Outside range',
      'Fetches',
    ],
    'rlrrrrrr',
    rows,
  );
}

function renderDoc(opts: Options, env: Env, results: Results): string {
  const rangeRecords = opts.to - opts.from;
  return `# Kafka client benchmark: kafkajs vs @platformatic/kafka

Generated by \`npm run bench:kafka-client\` (\`bench/kafka-client.ts\`); rerun it to refresh this page.

- Date: ${env.date}
- Node ${env.node}, ${env.nproc} × ${env.cpu}
- Broker: Apache Kafka ${env.broker}, single node KRaft on ${opts.broker} (\`group.initial.rebalance.delay.ms=${env.rebalanceDelay}\`)
- Clients: kafkajs ${env.kafkajs}, @platformatic/kafka ${env.platformatic}
- Produce: N = ${int(opts.records)} records of ${opts.recordBytes} bytes (random, no key, no compression), acks=1,
  partition 0 of a fresh single-partition topic, ${opts.batch} records per send call, ${opts.concurrency} sends in flight
- Range read: offsets [${int(opts.from)}, ${int(opts.to)}) of partition 0 (${int(rangeRecords)} records),
  ${opts.fetchBytes} bytes max per partition per fetch, ${MAX_WAIT_MS} ms max wait
- ${opts.rounds} rounds; the client that goes first alternates every round

## Results

${summaryTable(results, env)}

¹ kafkajs: connect + subscribe + \`run()\` (FindCoordinator, JoinGroup, SyncGroup). @platformatic/kafka: one
Metadata request. ² kafkajs: size of the Fetch responses; @platformatic/kafka: size of the record batches
received. ³ kafkajs: \`disconnect()\` (LeaveGroup and waiting out the fetch loop); @platformatic/kafka: \`close()\`.

Every round:

${roundsTable(results)}

## Method

Both clients run in the same process against the same broker and topic, one at a time. Each round produces N
records with each client (after one untimed warm-up batch, so connection set-up and metadata are not timed),
then reads the range with each client; the client that goes first alternates between rounds, and the table
reports the median over rounds (MB = 10^6 payload bytes). Produce throughput is timed from the first send to
the last acknowledgement. A range read is timed from creating the client to the last record of the range, and
is verified record by record (exactly ${int(rangeRecords)} records, offsets ${int(opts.from)} to ${int(opts.to - 1)} in
order, each with a ${opts.recordBytes}-byte value, nothing outside); any mismatch fails the run.

How each client reads an exact range:

- **@platformatic/kafka**: \`Consumer.fetch()\` sends a plain Fetch request for (topic id, partition, offset),
  with no consumer group and no subscription. The bench loops it from \`from\`, advancing past the last record
  batch received, and sizes the byte budget of the last fetch to the records still missing. The broker only
  returns whole record batches, so the batch holding \`from\` (and the one holding \`to - 1\`) can bring records
  outside the range; they are counted above and dropped. (This compares the clients as they come. The
  pipeline itself reads with \`lib/kafka-fetch.ts\`: the same Fetch request on the client's connections, but the
  record batches parsed by \`lib/kafka-records.ts\` into one object per record with its headers left as bytes;
  its own figures are in benchmarks-pipeline.md.)
- **kafkajs**: there is no manual partition assignment (kafkajs issue #373), and \`seek()\` is only allowed after
  \`run()\`. The least bad way is a throwaway consumer group per read (unique groupId, \`autoCommit: false\`,
  \`fromBeginning: false\` so nothing is fetched before the seek lands): \`subscribe\`, \`run\` with \`eachBatch\`,
  \`seek(from)\`, then \`pause()\` once \`to - 1\` is seen (\`stop()\` waits for the running \`eachBatch\`, so it
  cannot be awaited from inside it) and \`disconnect()\`. Records past \`to\` in the last fetch are decoded and
  discarded. It works, but every read pays a group join (a new group also waits
  \`group.initial.rebalance.delay.ms\`: 3000 ms by default, ${env.rebalanceDelay} ms on this broker), leaves an empty consumer
  group behind (the bench deletes them), cannot size its last fetch, and would rebalance with any other member
  that happened to share the groupId.

${alignmentNote(opts)}
`;
}

/** Whether the range ends fall on record-batch boundaries decides how much both readers fetch in vain. */
function alignmentNote(opts: Options): string {
  const aligned =
    opts.records % opts.batch === 0 && opts.from % opts.batch === 0 && opts.to % opts.batch === 0;
  if (!aligned) {
    return (
      `The range ends are not on record-batch boundaries (each send call writes one ${opts.batch}-record batch),\n` +
      'so part of the first and the last batch is fetched and dropped.'
    );
  }
  const shift = Math.floor(opts.batch / 2);
  // Keep the suggested range within the records the first produce run writes.
  const to = opts.to + shift <= opts.records ? opts.to + shift : opts.to - shift;
  return (
    `Each send call writes one ${opts.batch}-record batch, so with this range both ends fall on batch boundaries\n` +
    `and the records fetched outside it depend only on how the last fetch is sized. Run with\n` +
    `\`--from ${opts.from + shift} --to ${to}\` to see the batch-granularity waste.`
  );
}

async function rebalanceDelay(admin: KjsAdmin): Promise<string> {
  try {
    const { brokers } = await admin.describeCluster();
    const node = brokers[0];
    if (!node) return 'unknown';
    // kafkajs does not export its ConfigResourceTypes enum at runtime (only in its types): 4 is BROKER.
    const described = await admin.describeConfigs({
      resources: [
        {
          type: 4,
          name: String(node.nodeId),
          configNames: ['group.initial.rebalance.delay.ms'],
        },
      ],
      includeSynonyms: false,
    });
    return described.resources[0]?.configEntries[0]?.configValue ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

// ---------------------------------------------------------------------------------------------------------

async function main(): Promise<void> {
  const opts = parseOptions();
  const topic = `bench.kafka-client.${Date.now()}`;
  const admin = new Kafka({
    clientId: 'bench-admin',
    brokers: [opts.broker],
    logLevel: logLevel.WARN,
    retry: { retries: 2 },
  }).admin();
  await reachKafka(opts.broker, admin.connect(), `connecting to the broker at ${opts.broker}`);
  const ctx: Ctx = {
    opts,
    topic,
    payloads: Array.from({ length: opts.batch }, () => randomBytes(opts.recordBytes)),
    kafkajsGroups: [],
  };
  let topicCreated = false;
  try {
    const env: Env = {
      ...machine(),
      broker: KAFKA_VERSION,
      kafkajs: packageVersion('kafkajs'),
      platformatic: packageVersion('@platformatic/kafka'),
      rebalanceDelay: await rebalanceDelay(admin),
    };
    // auto.create.topics.enable=false on the broker: the topic must exist before anyone writes to it.
    await admin.createTopics({
      topics: [{ topic, numPartitions: 1, replicationFactor: 1 }],
      waitForLeaders: true,
    });
    topicCreated = true;
    console.log(
      `topic ${topic}: ${opts.rounds} rounds × ${int(opts.records)} records of ${opts.recordBytes} B per client, ` +
        `range [${int(opts.from)}, ${int(opts.to)})`,
    );

    const results: Results = {
      produce: { kafkajs: [], platformatic: [] },
      read: { kafkajs: [], platformatic: [] },
    };
    for (let round = 0; round < opts.rounds; round++) {
      const order: ClientName[] = round % 2 === 0 ? [...CLIENTS] : [...CLIENTS].reverse();
      for (const client of order) {
        const res = client === 'kafkajs' ? await produceKafkajs(ctx) : await producePlatformatic(ctx);
        results.produce[client].push(res);
        console.log(
          `round ${round + 1} produce ${LABEL[client].padEnd(19)} ${int(res.recordsPerSec).padStart(8)} records/s ${dec(1)(res.mbPerSec).padStart(6)} MB/s`,
        );
      }
      for (const client of order) {
        const res =
          client === 'kafkajs' ? await readRangeKafkajs(ctx, round) : await readRangePlatformatic(ctx);
        results.read[client].push(res);
        console.log(
          `round ${round + 1} read    ${LABEL[client].padEnd(19)} ${int(res.recordsPerSec).padStart(8)} records/s, first record ${int(res.firstRecordMs)} ms, ` +
            `setup ${int(res.setupMs)} ms, ${res.wastedRecords} outside range, ${res.fetches} fetches, close ${int(res.closeMs)} ms`,
        );
      }
    }

    console.log(`\n${summaryTable(results, env)}\n`);
    if (opts.doc) await writeDoc(opts.doc, renderDoc(opts, env, results));
    // Headline figures for docs/benchmarks.md (npm run bench:report).
    const med = (rs: { recordsPerSec: number }[]): number => median(rs.map((r) => r.recordsPerSec));
    writeSummary('kafka-client', {
      bench: 'kafka-client',
      date: env.date,
      rounds: opts.rounds,
      records: opts.records,
      recordBytes: opts.recordBytes,
      produceRecordsPerSec: {
        kafkajs: med(results.produce.kafkajs),
        platformatic: med(results.produce.platformatic),
      },
      readRecordsPerSec: { kafkajs: med(results.read.kafkajs), platformatic: med(results.read.platformatic) },
    });
  } finally {
    // Clean up even after a failure; a cleanup error only fails the run if nothing else did.
    const cleanup: Promise<unknown>[] = [];
    if (topicCreated) cleanup.push(admin.deleteTopics({ topics: [topic], timeout: 15_000 }));
    if (ctx.kafkajsGroups.length > 0) cleanup.push(admin.deleteGroups(ctx.kafkajsGroups));
    const outcomes = await Promise.allSettled(cleanup);
    await admin.disconnect();
    const failed = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
    if (failed.length > 0) {
      console.error(`cleanup failed: ${failed.map((o) => errorMessage(o.reason)).join('; ')}`);
      process.exitCode = 1;
    } else if (topicCreated) {
      console.log(`deleted topic ${topic} and ${ctx.kafkajsGroups.length} kafkajs consumer groups`);
    }
  }
}

await runMain('bench:kafka-client', main);
