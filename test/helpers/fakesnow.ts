// fakesnow (Snowflake SQL on DuckDB, PyPI) in server mode, behind a small proxy: fakesnow answers
// every query with an Arrow result (`rowsetBase64`), while snowflake-sdk for Node reads JSON
// rowsets only, so the proxy re-encodes each Arrow result as the JSON rowset Snowflake sends a
// Node client (values as strings, booleans as "1"/"0", dates as epoch days, timestamps as epoch
// seconds), and adds the `returned` count the driver needs to JSON results. Nothing else changes.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { tableFromIPC } from 'apache-arrow';
import { freePort } from './net.js';

export const fakesnowVenv = (): string =>
  process.env.SLUICE_FAKESNOW_VENV ??
  join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'sluice', 'fakesnow-venv');

export const fakesnowBin = (): string => join(fakesnowVenv(), 'bin', 'fakesnow');
export const fakesnowInstalled = (): boolean => existsSync(fakesnowBin());

interface RowType {
  name: string;
  type: string;
  scale?: number | null;
}

function cell(v: unknown, t: RowType): string | null {
  if (v === null || v === undefined) return null;
  switch (t.type.toLowerCase()) {
    case 'boolean':
      return v ? '1' : '0';
    case 'date':
      // Arrow Date32 reads as epoch milliseconds.
      return String(Math.floor(Number(v) / 86_400_000));
    case 'timestamp_tz':
    case 'timestamp_ltz':
    case 'timestamp_ntz': {
      // fakesnow sends {epoch, fraction(ns), timezone}; Snowflake's JSON is "<seconds>.<ns> <tz+1440>".
      const s = v as { epoch: bigint | number; fraction: number; timezone?: number };
      const secs = `${String(s.epoch)}.${String(s.fraction).padStart(9, '0')}`;
      return t.type.toLowerCase() === 'timestamp_tz' ? `${secs} ${s.timezone ?? 1440}` : secs;
    }
    case 'fixed': {
      // Arrow decimals read as big-number objects whose toString() is the unscaled integer.
      const raw = BigInt(
        typeof v === 'object' ? (v as { toString(): string }).toString() : (v as number | bigint),
      );
      const scale = t.scale ?? 0;
      if (scale === 0) return raw.toString();
      const neg = raw < 0n;
      const digits = (neg ? -raw : raw).toString().padStart(scale + 1, '0');
      return `${neg ? '-' : ''}${digits.slice(0, -scale)}.${digits.slice(-scale)}`;
    }
    default:
      if (typeof v === 'string') return v;
      if (typeof v === 'number' || typeof v === 'bigint' || typeof v === 'boolean') return String(v);
      return JSON.stringify(v);
  }
}

function toJsonRowset(data: Record<string, unknown>): void {
  // The driver streams `returned` rows; fakesnow leaves it out of its JSON (DML) results.
  if (data.queryResultFormat === 'json' && Array.isArray(data.rowset)) data.returned ??= data.rowset.length;
  if (data.queryResultFormat !== 'arrow') return;
  const rowtype = (data.rowtype ?? []) as RowType[];
  const b64 = typeof data.rowsetBase64 === 'string' ? data.rowsetBase64 : '';
  const rows: (string | null)[][] = [];
  if (b64) {
    const table = tableFromIPC(Buffer.from(b64, 'base64'));
    for (let i = 0; i < table.numRows; i++) {
      rows.push(rowtype.map((t, c) => cell(table.getChildAt(c)?.get(i), t)));
    }
  }
  data.queryResultFormat = 'json';
  data.rowset = rows;
  data.returned = rows.length;
  delete data.rowsetBase64;
}

export interface Fakesnow {
  url: string;
  /** What the fakesnow server printed so far: its error for a statement it could not run. */
  log(): string;
  stop(): Promise<void>;
}

export async function startFakesnow(): Promise<Fakesnow> {
  const port = await freePort();
  const child: ChildProcess = spawn(fakesnowBin(), ['-s', '-p', String(port)], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let log = '';
  child.stdout?.on('data', (d: Buffer) => (log += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (log += d.toString()));
  for (let i = 0; !log.includes('Uvicorn running'); i++) {
    if (i > 200 || child.exitCode !== null) throw new Error(`fakesnow did not start:\n${log}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const proxy: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const up = request(
        { host: '127.0.0.1', port, method: req.method, path: req.url, headers: req.headers },
        (upRes) => {
          const out: Buffer[] = [];
          upRes.on('data', (c: Buffer) => out.push(c));
          upRes.on('end', () => {
            let body = Buffer.concat(out);
            if (upRes.headers['content-encoding'] === 'gzip') body = gunzipSync(body);
            let text = body.toString();
            if (req.url?.startsWith('/queries/v1/query-request')) {
              const json = JSON.parse(text) as { data?: Record<string, unknown> };
              if (json.data) toJsonRowset(json.data);
              text = JSON.stringify(json);
            }
            const headers = { ...upRes.headers, 'content-length': String(Buffer.byteLength(text)) };
            delete headers['content-encoding'];
            res.writeHead(upRes.statusCode ?? 502, headers).end(text);
          });
        },
      );
      up.on('error', (e) => res.writeHead(502).end(String(e)));
      up.end(Buffer.concat(chunks));
    });
  });
  await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
  const address = proxy.address();
  const proxyPort = typeof address === 'object' && address ? address.port : 0;
  return {
    url: `http://127.0.0.1:${proxyPort}`,
    log: () => log,
    stop: async () => {
      await new Promise<void>((r) => proxy.close(() => r()));
      child.kill('SIGTERM');
    },
  };
}
