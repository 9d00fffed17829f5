// Encoders are kept per schema version with their column buffers (activities/segment/encode.ts
// keepEncoder), so a file is often written from buffers that held a bigger, different segment
// before. It must come out byte for byte as from a new encoder. Its own file: node --test runs
// each file in a fresh process, so the first segment here meets new encoders.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as arrow from 'apache-arrow';
import {
  arrowIpcStream,
  encodeSegment,
  encoderFor,
  type EncodedSegment,
} from '../../activities/segment/encode.js';
import { buildEnvelope, envelopeHeaders } from '../../lib/envelope.js';
import type { RangeRecord } from '../../lib/kafka.js';
import { loadCatalog } from '../../schemas/catalog.js';
import { EventValidator } from '../../schemas/validator.js';
import { envelopeColumnValues, orderData } from '../helpers/events.js';

const catalog = loadCatalog();
const validator = new EventValidator(catalog);
const orderType = catalog.types.get('order_created')!;

/** count v2 orders from offset `first`; `rich` ones carry the optional fields and long item lists. */
function orders(first: number, count: number, rich: boolean): RangeRecord[] {
  return Array.from({ length: count }, (_, i) => {
    const n = first + i;
    const data = orderData(n, {
      customer_id: rich ? `customer-with-a-long-name-${n}` : `c${n}`,
      items: Array.from({ length: rich ? 1 + (n % 9) : 1 }, (_, k) => ({
        sku: rich ? `SKU-${n}-${k}-XL` : 'taco',
        quantity: 1 + k,
        unit_price_cents: 100 * k,
      })),
      ...(rich
        ? {
            platform: 'ios',
            tip_cents: n,
            promo_code: n % 3 === 0 ? null : 'SAVE',
            delivery_address: { city: 'Oslo', postal_code: `0${n}`, lat: 59.9 },
          }
        : {}),
    });
    const env = buildEnvelope(
      {
        type: 'order_created',
        dataschema: 'urn:sluice:schema:order_created:v2',
        id: `e-${n}`,
        time: data.placed_at,
        test: n % 2 === 0,
      },
      new Date('2026-11-25T14:00:00Z'),
      rich ? '/a-much-longer-source-name' : '/s',
    );
    return {
      offset: BigInt(n),
      timestamp: 0n,
      key: Buffer.from(data.order_id),
      value: Buffer.from(JSON.stringify(data)),
      headers: envelopeHeaders(env),
    };
  });
}

const encode = (records: RangeRecord[], fastJson: boolean): EncodedSegment =>
  encodeSegment({ type: orderType, validator, partition: 1, records, fastJson });

const files = (s: EncodedSegment): string[] => s.groups.map((g) => Buffer.from(g.bytes).toString('base64'));

test('a file written from an encoder kept from a bigger, different segment is the same as from a new one', () => {
  for (const fastJson of [true, false]) {
    const small = orders(1000, 7, false);
    const big = orders(0, 500, true);
    // First on new encoders (this process has encoded nothing yet for the JSON row reader's turn;
    // the exact path's turn reuses them, which the comparison below covers as well).
    const smallFirst = files(encode(small, fastJson));
    const bigFirst = files(encode(big, fastJson));
    assert.equal(smallFirst.length, 1);
    // Now on the encoder the big segment left behind: longer buffers, other values past the rows.
    assert.deepEqual(
      files(encode(small, fastJson)),
      smallFirst,
      `small segment again (fastJson ${fastJson})`,
    );
    assert.deepEqual(files(encode(big, fastJson)), bigFirst, `big segment again (fastJson ${fastJson})`);
  }
});

test("the IPC stream written into the thread's kept buffer is tableToIPC's, for a big table then a small one", () => {
  const version = orderType.latest;
  for (const [first, count] of [
    [0, 300],
    [5000, 4],
  ] as const) {
    const encoder = encoderFor(version);
    for (const r of orders(first, count, first === 0)) {
      const data = JSON.parse(r.value!.toString()) as Record<string, unknown>;
      encoder.append(
        data,
        envelopeColumnValues(version.version, { eventId: `e-${r.offset}`, offset: r.offset }),
      );
    }
    const table = encoder.finish();
    assert.deepEqual(Buffer.from(arrowIpcStream(table)), Buffer.from(arrow.tableToIPC(table, 'stream')));
    encoder.release();
  }
});

test('the table of finish() is protected until release(): no row can overwrite it', () => {
  const version = orderType.latest;
  const encoder = encoderFor(version);
  const env = envelopeColumnValues(version.version);
  encoder.append(orderData(1), env);
  const table = encoder.finish();
  assert.equal(table.numRows, 1);
  assert.throws(() => encoder.append(orderData(2), env), /still in use \(release\(\) it first\)/);
  assert.throws(() => encoder.appendWith(() => true, env), /still in use/);
  assert.equal(table.getChild('customer_id')?.get(0), 'c-1');
  encoder.release();
  encoder.append(orderData(3), env);
  assert.equal(encoder.rows, 1);
  assert.equal(encoder.finish().getChild('customer_id')?.get(0), 'c-3');
});
