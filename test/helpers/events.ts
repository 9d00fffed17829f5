import type { EnvelopeValues } from '../../activities/segment/columns.js';

/** A valid order_created payload (v1 and v2), distinct per n; `extra` adds or overrides fields. */
export const orderData = (n: number, extra: Record<string, unknown> = {}) => ({
  order_id: `4b5e2f1c-8f7a-4a8e-9d7e-${String(n).padStart(12, '0')}`,
  customer_id: `c-${n}`,
  store_id: 's-1',
  items: [{ sku: 'taco', quantity: 2, unit_price_cents: 450 }],
  subtotal_cents: 900,
  currency: 'USD',
  placed_at: '2026-11-25T12:00:00Z',
  ...extra,
});

/** Envelope column values for rows appended straight to a TableEncoder; `extra` overrides. */
export const envelopeColumnValues = (
  schemaVersion: number,
  extra: Partial<EnvelopeValues> = {},
): EnvelopeValues => ({
  eventId: 'e',
  eventTimeUs: 0n,
  ingestTimeUs: 0n,
  source: 's',
  schemaVersion,
  partition: 0,
  offset: 0n,
  test: false,
  ...extra,
});
