// lib/kafka-records.ts against the client's own writer and reader of record batches: the same
// records, keys, values and headers, for every compression; ranges cut inside batches; aborted
// transactions and markers left out; a batch cut off by the fetch size left for the next fetch.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  compressionsAlgorithms,
  readRecordsBatches,
  Reader,
  type CompressionAlgorithmValue,
} from '@platformatic/kafka';
import {
  headerPairs,
  parseRecordBatches,
  recordBatches,
  RecordBatchError,
  type HeaderPair,
  type RawRangeRecord,
} from '../../lib/kafka-records.js';
import { Lz4Scratch } from '../../lib/lz4-scratch.js';
import { controlBatch, recordBatch, type BatchRecord } from '../helpers/record-batch.js';

const records = (n: number, at = 0): BatchRecord[] =>
  Array.from({ length: n }, (_, i) => ({
    key: i % 3 === 0 ? null : Buffer.from(`k-${at + i}`),
    value: i % 5 === 4 ? null : Buffer.from(JSON.stringify({ n: at + i, text: 'é'.repeat(i % 7) })),
    timestamp: 1_764_000_000_000n + BigInt(i * 1000),
    headers: [
      [Buffer.from('ce_id'), Buffer.from(`id-${at + i}`)],
      [Buffer.from('empty'), Buffer.alloc(0)],
      [Buffer.from('nothing'), null],
      [Buffer.from('ce_id'), Buffer.from('later')],
    ] as HeaderPair[],
  }));

const plain = (b: Buffer | null) => (b === null ? null : b.toString('latin1'));

/** What a reader sees of a record, as strings (a copy, whatever memory the record views). */
const seen = (r: RawRangeRecord) => ({
  offset: r.offset,
  timestamp: r.timestamp,
  key: plain(r.key),
  value: plain(r.value),
  headers: headerPairs(r).map(([k, v]) => [plain(k), plain(v)]),
});

for (const compression of ['none', 'gzip', 'snappy', 'lz4', 'zstd'] as CompressionAlgorithmValue[]) {
  const available = compressionsAlgorithms[compression].available;
  // zstd needs node:zlib's zstd (Node ≥ 22.15); the client refuses it the same way on Node 20.
  const skip = available ? false : `${compression} is not available in Node ${process.versions.node}`;
  test(`${compression}: the same records as the client's own parser`, { skip }, () => {
    const data = Buffer.concat([
      recordBatch(records(40), { baseOffset: 100n, compression }),
      recordBatch(records(25, 40), { baseOffset: 140n, compression }),
    ]);
    const { records: mine, next } = parseRecordBatches(data, 100n, 165n);
    const theirs = readRecordsBatches(Reader.from(data)).flatMap((b) =>
      b.records.map((r) => ({
        offset: b.firstOffset + BigInt(r.offsetDelta),
        timestamp: b.firstTimestamp + r.timestampDelta,
        key: plain(r.key ?? null),
        value: plain(r.value ?? null),
        headers: r.headers.map(([k, v]) => [plain(k), plain(v)]),
      })),
    );
    assert.equal(next, 165n);
    assert.equal(mine.length, 65);
    assert.deepEqual(mine.map(seen), theirs);
  });
}

test('lz4 batches decompressed into scratch memory: batch by batch the same records as with new Buffers', () => {
  // Batches of different sizes, so the scratch memory is reused, outgrown and reused again.
  const sizes = [40, 3, 200, 1, 60];
  const parts: Buffer[] = [];
  let at = 0;
  for (const n of sizes) {
    parts.push(recordBatch(records(n, at), { baseOffset: BigInt(at), compression: 'lz4' }));
    at += n;
  }
  const data = Buffer.concat(parts);
  const expected = parseRecordBatches(data, 0n, BigInt(at)).records.map(seen);
  const scratch = new Lz4Scratch();
  const got: ReturnType<typeof seen>[] = [];
  const batches = recordBatches(data, 0n, BigInt(at), [], scratch);
  let step = batches.next();
  // Each batch is read before the next is asked for: its records view memory the next one reuses.
  for (; !step.done; step = batches.next()) got.push(...step.value.map(seen));
  assert.equal(step.value, BigInt(at));
  assert.deepEqual(got, expected);
});

test('a corrupt lz4 batch is refused by name (offset and compression), and the next read works', () => {
  const good = recordBatch(records(30), { baseOffset: 500n, compression: 'lz4' });
  const bad = Buffer.from(good);
  // Inside the lz4 frame: the records start at byte 61 of the batch.
  bad.fill(0xff, 70, 90);
  const scratch = new Lz4Scratch();
  for (const lz4 of [undefined, scratch]) {
    assert.throws(
      () => [...recordBatches(bad, 500n, 530n, [], lz4)],
      (err: unknown) =>
        err instanceof RecordBatchError &&
        /the record batch at offset 500 cannot be decompressed \(lz4\)/.test(err.message),
    );
  }
  const [batch] = [...recordBatches(good, 500n, 530n, [], scratch)];
  assert.deepEqual(batch?.map(seen), parseRecordBatches(good, 500n, 530n).records.map(seen));
});

test('a range starting and ending inside batches yields only its offsets; next is past the last whole batch', () => {
  const data = Buffer.concat([
    recordBatch(records(10), { baseOffset: 0n, compression: 'lz4' }),
    recordBatch(records(10, 10), { baseOffset: 10n, compression: 'lz4' }),
  ]);
  const { records: got, next } = parseRecordBatches(data, 4n, 13n);
  assert.deepEqual(
    got.map((r) => r.offset),
    [4n, 5n, 6n, 7n, 8n, 9n, 10n, 11n, 12n],
  );
  assert.equal(next, 20n);
});

test('a last batch cut off by the fetch size is left for the next fetch', () => {
  const first = recordBatch(records(5), { baseOffset: 0n });
  const second = recordBatch(records(5, 5), { baseOffset: 5n });
  const cut = Buffer.concat([first, second.subarray(0, second.length - 7)]);
  const { records: got, next } = parseRecordBatches(cut, 0n, 10n);
  assert.equal(got.length, 5);
  assert.equal(next, 5n);
  assert.deepEqual(parseRecordBatches(second.subarray(0, 30), 5n, 10n), { records: [], next: 5n });
});

test('records of aborted transactions and the markers are left out; committed ones and other producers stay', () => {
  const data = Buffer.concat([
    // Producer 7 aborts [0, 3), commits [4, 6); producer 8 commits [3, 4) in between.
    recordBatch(records(3), { baseOffset: 0n, transactionalProducerId: 7n }),
    recordBatch(records(1, 3), { baseOffset: 3n, transactionalProducerId: 8n }),
    controlBatch(4n, 7n, 'abort'),
    recordBatch(records(2, 5), { baseOffset: 5n, transactionalProducerId: 7n }),
    controlBatch(7n, 7n, 'commit'),
    controlBatch(8n, 8n, 'commit'),
    // Producer 7 aborts a second transaction: the client's own filter missed this one.
    recordBatch(records(2, 9), { baseOffset: 9n, transactionalProducerId: 7n }),
    controlBatch(11n, 7n, 'abort'),
  ]);
  const { records: got, next } = parseRecordBatches(data, 0n, 12n, [
    { producerId: 7n, firstOffset: 0n },
    { producerId: 7n, firstOffset: 9n },
  ]);
  assert.deepEqual(
    got.map((r) => r.offset),
    [3n, 5n, 6n],
  );
  assert.equal(next, 12n);
});

test('a batch in an old message format is refused by name', () => {
  const data = recordBatch(records(1));
  data.writeInt8(1, 16);
  assert.throws(() => parseRecordBatches(data, 0n, 1n), RecordBatchError);
  assert.throws(() => parseRecordBatches(data, 0n, 1n), /record batch format 1 is not supported/);
});
