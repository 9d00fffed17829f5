// Exact date/time arithmetic for the Parquet columns. Timestamps are microseconds since the epoch as
// bigint: JS Dates only hold milliseconds, and Date.UTC maps years 0–99 to 1900–1999.

import { isCanonicalUtc } from '../../lib/envelope.js';

// What ajv-formats accepts as `date-time` (T, t or whitespace between date and time, offsets as
// Z, ±HH, ±HHMM or ±HH:MM, any number of fraction digits) is a superset of the envelope's RFC 3339.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt\s](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?(?:[Zz]|([+-])(\d{2})(?::?(\d{2}))?)$/;
const DATE = /^(\d{4})-(\d{2})-(\d{2})$/;

const US_PER_SECOND = 1_000_000n;
// Below this many seconds from the epoch (years ~1685–2255), seconds × 10^6 + µs is an exact double.
const SAFE_SECONDS = 9_000_000_000;

/** Days from 1970-01-01 to a proleptic Gregorian date (Howard Hinnant's days_from_civil). */
export function daysFromCivil(year: number, month: number, day: number): number {
  const y = month <= 2 ? year - 1 : year;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (month + (month > 2 ? -3 : 9)) + 2) / 5) + day - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}

/** `2026-11-25` → days since the epoch, or undefined when it is no date. */
export function parseDateDays(text: string): number | undefined {
  const m = DATE.exec(text);
  if (!m) return undefined;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (month < 1 || month > 12 || day < 1 || day > 31) return undefined;
  return daysFromCivil(year, month, day);
}

/**
 * RFC 3339 date-time → microseconds since the epoch (UTC), or undefined when it does not parse.
 * Fraction digits past the sixth are truncated; a leap second (:60) counts as the next second.
 */
export function parseTimestampMicros(text: string): bigint | undefined {
  if (isCanonicalUtc(text)) return canonicalMicros(text);
  const m = DATE_TIME.exec(text);
  if (!m) return undefined;
  const days = parseDateDays(`${m[1]}-${m[2]}-${m[3]}`);
  const [hh, mm, ss] = [Number(m[4]), Number(m[5]), Number(m[6])];
  if (days === undefined || hh > 23 || mm > 59 || ss > 60) return undefined;
  const offset = m[8] ? (m[8] === '-' ? -1 : 1) * (Number(m[9]) * 3600 + Number(m[10] ?? 0) * 60) : 0;
  const seconds = days * 86_400 + hh * 3600 + mm * 60 + ss - offset;
  const fraction = BigInt((m[7] ?? '').slice(0, 6).padEnd(6, '0'));
  return BigInt(seconds) * US_PER_SECOND + fraction;
}

const num = (s: string, from: number, to: number): number => {
  let n = 0;
  for (let i = from; i < to; i++) n = n * 10 + s.charCodeAt(i) - 48;
  return n;
};

/** `YYYY-MM-DDTHH:MM:SS[.f…]Z` (isCanonicalUtc checked the shape and ranges): fields at fixed places. */
function canonicalMicros(s: string): bigint {
  const days = daysFromCivil(num(s, 0, 4), num(s, 5, 7), num(s, 8, 10));
  const seconds = days * 86_400 + num(s, 11, 13) * 3600 + num(s, 14, 16) * 60 + num(s, 17, 19);
  // Fraction digits (from index 20 up to the Z) past the sixth are truncated; fewer are padded.
  let us = 0;
  for (let i = 20; i < 26; i++) us = us * 10 + (i < s.length - 1 ? s.charCodeAt(i) - 48 : 0);
  return Math.abs(seconds) < SAFE_SECONDS
    ? BigInt(seconds * 1_000_000 + us)
    : BigInt(seconds) * US_PER_SECOND + BigInt(us);
}

const floorDiv = (a: bigint, b: bigint): bigint => {
  const q = a / b;
  return a % b < 0n ? q - 1n : q;
};

/** Microseconds since the epoch → `2026-11-25T12:00:00.123456Z` (always six fraction digits). */
export function formatMicros(us: bigint): string {
  const seconds = floorDiv(us, US_PER_SECOND);
  const fraction = us - seconds * US_PER_SECOND;
  const iso = new Date(Number(seconds) * 1000).toISOString();
  return `${iso.slice(0, -5)}.${String(fraction).padStart(6, '0')}Z`;
}

/** Event times must fall in years 0000–9999 (UTC) to name a `dt=YYYY-MM-DD` partition. */
export const MIN_EVENT_MICROS = BigInt(daysFromCivil(0, 1, 1)) * 86_400n * US_PER_SECOND;
export const MAX_EVENT_MICROS = BigInt(daysFromCivil(10000, 1, 1)) * 86_400n * US_PER_SECOND;
