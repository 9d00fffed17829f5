// Byte comparison for readers that walk a large buffer in place (record headers, JSON payloads)
// and must not make a Buffer view per value just to compare it.

// Longer than this, one native compare costs less than the loop.
const SHORT = 64;

/** Whether bytes [start, end) of `buf` equal `b`. */
export function bytesEqualAt(buf: Buffer, start: number, end: number, b: Uint8Array): boolean {
  const n = end - start;
  if (n !== b.length) return false;
  if (n > SHORT) return buf.compare(b, 0, n, start, end) === 0;
  for (let i = 0; i < n; i++) if (buf[start + i] !== b[i]) return false;
  return true;
}
