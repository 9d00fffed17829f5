// Snowpipe REST calls and their key-pair JWT: the token is decoded and its signature checked with
// the public key; insertFiles and insertReport go over real HTTP to a local server that records
// each request (method, path, query, headers, body) and answers as Snowflake documents.
import assert from 'node:assert/strict';
import { createHash, generateKeyPairSync, verify, type KeyObject } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import {
  jwtAccount,
  publicKeyFingerprint,
  snowflakeJwt,
  SnowpipeClient,
  SnowpipeError,
} from '../../activities/warehouse/snowpipe.js';

const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });

function decode(jwt: string): {
  header: Record<string, unknown>;
  payload: Record<string, unknown>;
  valid: boolean;
} {
  const [h, p, s] = jwt.split('.');
  assert.ok(h && p && s, 'three parts');
  return {
    header: JSON.parse(Buffer.from(h, 'base64url').toString()) as Record<string, unknown>,
    payload: JSON.parse(Buffer.from(p, 'base64url').toString()) as Record<string, unknown>,
    valid: verify('sha256', Buffer.from(`${h}.${p}`), publicKey, Buffer.from(s, 'base64url')),
  };
}

const expectedFp = (key: KeyObject): string =>
  `SHA256:${createHash('sha256')
    .update(key.export({ type: 'spki', format: 'der' }))
    .digest('base64')}`;

describe('Snowflake key-pair JWT', () => {
  test('RS256, signed by the private key, iss/sub/iat/exp as Snowflake documents', () => {
    const jwt = snowflakeJwt({
      account: 'xy12345.us-east-1.aws',
      username: 'loader',
      privateKey,
      now: 1_700_000_000,
    });
    const { header, payload, valid } = decode(jwt);
    assert.ok(valid, 'signature verifies with the public key');
    assert.deepEqual(header, { alg: 'RS256', typ: 'JWT' });
    assert.deepEqual(payload, {
      iss: `XY12345.LOADER.${expectedFp(publicKey)}`,
      sub: 'XY12345.LOADER',
      iat: 1_700_000_000,
      exp: 1_700_000_000 + 3540,
    });
    // Another key's signature does not verify: the check above can fail.
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const [h, p, s] = jwt.split('.');
    assert.equal(
      verify('sha256', Buffer.from(`${h}.${p}`), other.publicKey, Buffer.from(s ?? '', 'base64url')),
      false,
    );
  });

  test('account and fingerprint', () => {
    assert.equal(jwtAccount('myorg-myaccount'), 'MYORG-MYACCOUNT');
    assert.equal(jwtAccount('xy12345.eu-central-1'), 'XY12345');
    assert.equal(publicKeyFingerprint(privateKey), expectedFp(publicKey));
    assert.match(publicKeyFingerprint(privateKey), /^SHA256:[A-Za-z0-9+/]{43}=$/);
  });
});

interface Recorded {
  method: string;
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  body: string;
}

describe('SnowpipeClient over HTTP', () => {
  let server: Server;
  let base: string;
  const requests: Recorded[] = [];
  let reply: (r: Recorded) => { status: number; body: unknown } = () => ({ status: 200, body: {} });

  before(async () => {
    server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const url = new URL(req.url ?? '/', 'http://x');
        const r: Recorded = {
          method: req.method ?? '',
          path: url.pathname,
          query: Object.fromEntries(url.searchParams),
          headers: req.headers,
          body: Buffer.concat(chunks).toString(),
        };
        requests.push(r);
        const out = reply(r);
        res.writeHead(out.status, { 'content-type': 'application/json' }).end(JSON.stringify(out.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  const checkAuth = (r: Recorded): void => {
    assert.equal(r.headers['x-snowflake-authorization-token-type'], 'KEYPAIR_JWT');
    const auth = r.headers.authorization ?? '';
    assert.match(auth, /^Bearer [\w-]+\.[\w-]+\.[\w-]+$/);
    const { payload, valid } = decode(auth.slice('Bearer '.length));
    assert.ok(valid);
    assert.equal(payload.sub, 'MYORG-ACCT.LOADER');
    assert.ok(Number(payload.exp) > Date.now() / 1000);
  };

  test('insertFiles: POST with the files as JSON, a request id, key-pair auth', async () => {
    requests.length = 0;
    reply = () => ({ status: 200, body: { requestId: 'r1', responseCode: 'SUCCESS' } });
    const client = new SnowpipeClient({
      account: 'myorg-acct',
      username: 'loader',
      privateKey,
      baseUrl: `${base}/`,
    });
    const res = await client.insertFiles(
      'ANALYTICS.EVENTS.ORDER_CREATED_PIPE',
      [
        { path: 'events/order_created/v=1/p0-0-9.parquet', size: 1234 },
        { path: 'events/order_created/v=1/p1-0-3.parquet' },
      ],
      'b5b4f4b0-0000-4000-8000-000000000001',
    );
    assert.deepEqual(res, { requestId: 'r1', responseCode: 'SUCCESS' });
    assert.equal(requests.length, 1);
    const [r] = requests;
    assert.ok(r);
    assert.equal(r.method, 'POST');
    assert.equal(r.path, '/v1/data/pipes/ANALYTICS.EVENTS.ORDER_CREATED_PIPE/insertFiles');
    assert.deepEqual(r.query, { requestId: 'b5b4f4b0-0000-4000-8000-000000000001' });
    assert.equal(r.headers['content-type'], 'application/json');
    assert.equal(r.headers.accept, 'application/json');
    checkAuth(r);
    assert.deepEqual(JSON.parse(r.body), {
      files: [
        { path: 'events/order_created/v=1/p0-0-9.parquet', size: 1234 },
        { path: 'events/order_created/v=1/p1-0-3.parquet' },
      ],
    });
  });

  test('insertReport: GET with beginMark; errors carry the HTTP status', async () => {
    requests.length = 0;
    const report = {
      pipe: 'ANALYTICS.EVENTS.ORDER_CREATED_PIPE',
      completeResult: true,
      nextBeginMark: '1_39',
      files: [
        {
          path: 'events/order_created/v=1/p0-0-9.parquet',
          status: 'LOADED',
          rowsInserted: 10,
          complete: true,
        },
      ],
    };
    reply = (r) =>
      r.query.beginMark === 'bad'
        ? { status: 401, body: { code: '390144', message: 'JWT token is invalid.' } }
        : { status: 200, body: report };
    const client = new SnowpipeClient({
      account: 'myorg-acct',
      username: 'loader',
      privateKey,
      baseUrl: base,
    });
    assert.deepEqual(await client.insertReport('ANALYTICS.EVENTS.ORDER_CREATED_PIPE', '1_38'), report);
    const [r] = requests;
    assert.ok(r);
    assert.equal(r.method, 'GET');
    assert.equal(r.path, '/v1/data/pipes/ANALYTICS.EVENTS.ORDER_CREATED_PIPE/insertReport');
    assert.equal(r.query.beginMark, '1_38');
    assert.match(r.query.requestId ?? '', /^[0-9a-f-]{36}$/);
    assert.equal(r.body, '');
    assert.equal(r.headers['content-type'], undefined);
    checkAuth(r);
    await assert.rejects(
      client.insertReport('P', 'bad'),
      (e: unknown) =>
        e instanceof SnowpipeError && e.status === 401 && /JWT token is invalid/.test(e.message),
    );
  });
});
