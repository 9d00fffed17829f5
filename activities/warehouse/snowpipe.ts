// The Snowpipe REST API (insertFiles, insertReport) with key-pair JWT auth, on node:crypto and
// fetch: the JWT is three base64url parts and one RS256 signature, not worth a dependency.
// https://docs.snowflake.com/en/user-guide/data-load-snowpipe-rest-apis
// https://docs.snowflake.com/en/developer-guide/sql-api/authenticating#using-key-pair-authentication
import { createHash, createPrivateKey, createPublicKey, randomUUID, sign, type KeyObject } from 'node:crypto';

/** The account as the JWT claims name it: upper case, without `.region` or `.cloud` parts. */
export function jwtAccount(account: string): string {
  return (account.split('.')[0] ?? account).toUpperCase();
}

/** `SHA256:<base64 of the SHA-256 of the public key's DER (SPKI)>`, as Snowflake prints RSA_PUBLIC_KEY_FP. */
export function publicKeyFingerprint(key: KeyObject): string {
  const der = createPublicKey(key).export({ type: 'spki', format: 'der' });
  return `SHA256:${createHash('sha256').update(der).digest('base64')}`;
}

const base64url = (data: Buffer | string): string => Buffer.from(data).toString('base64url');

export interface JwtOptions {
  account: string;
  username: string;
  privateKey: KeyObject;
  /** Seconds since the epoch; default now. */
  now?: number;
  /** Snowflake accepts at most one hour. */
  lifetimeSeconds?: number;
}

/** An RS256 JWT for Snowflake key-pair auth (iss = ACCOUNT.USER.SHA256:fp, sub = ACCOUNT.USER). */
export function snowflakeJwt(o: JwtOptions): string {
  const qualified = `${jwtAccount(o.account)}.${o.username.toUpperCase()}`;
  const iat = o.now ?? Math.floor(Date.now() / 1000);
  const header = { alg: 'RS256', typ: 'JWT' };
  const payload = {
    iss: `${qualified}.${publicKeyFingerprint(o.privateKey)}`,
    sub: qualified,
    iat,
    exp: iat + (o.lifetimeSeconds ?? 3540),
  };
  const signingInput = `${base64url(JSON.stringify(header))}.${base64url(JSON.stringify(payload))}`;
  const signature = sign('sha256', Buffer.from(signingInput), o.privateKey);
  return `${signingInput}.${base64url(signature)}`;
}

export interface InsertFilesResponse {
  requestId: string;
  responseCode: string;
}

/** One file of an insertReport (the fields Sluice reads; Snowflake sends more). */
export interface ReportedFile {
  path: string;
  /** LOADED, LOAD_FAILED or PARTIALLY_LOADED (and whatever Snowflake adds later). */
  status: string;
  rowsInserted?: number;
  rowsParsed?: number;
  firstError?: string;
  complete?: boolean;
}

export interface InsertReport {
  pipe?: string;
  completeResult?: boolean;
  nextBeginMark?: string;
  files: ReportedFile[];
}

export class SnowpipeError extends Error {
  override readonly name = 'SnowpipeError';
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
  }
}

export interface SnowpipeClientOptions {
  account: string;
  username: string;
  privateKey: KeyObject;
  /** Default https://<account>.snowflakecomputing.com. */
  baseUrl?: string;
  fetch?: typeof fetch;
}

export class SnowpipeClient {
  private readonly baseUrl: string;
  private readonly fetchFn: typeof fetch;
  private token?: { jwt: string; renewAt: number };

  constructor(private readonly o: SnowpipeClientOptions) {
    this.baseUrl = (o.baseUrl ?? `https://${o.account}.snowflakecomputing.com`).replace(/\/+$/, '');
    this.fetchFn = o.fetch ?? fetch;
  }

  static fromPem(o: Omit<SnowpipeClientOptions, 'privateKey'> & { privateKeyPem: string }): SnowpipeClient {
    const { privateKeyPem, ...rest } = o;
    return new SnowpipeClient({ ...rest, privateKey: createPrivateKey(privateKeyPem) });
  }

  /** A JWT reused until 5 minutes before it expires: signing on every poll is wasted work. */
  private jwt(): string {
    const now = Math.floor(Date.now() / 1000);
    if (!this.token || now >= this.token.renewAt) {
      const lifetime = 3540;
      this.token = {
        jwt: snowflakeJwt({ ...this.o, now, lifetimeSeconds: lifetime }),
        renewAt: now + lifetime - 300,
      };
    }
    return this.token.jwt;
  }

  private async call<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
    const res = await this.fetchFn(`${this.baseUrl}${path}`, {
      method,
      headers: {
        Authorization: `Bearer ${this.jwt()}`,
        'X-Snowflake-Authorization-Token-Type': 'KEYPAIR_JWT',
        Accept: 'application/json',
        ...(body === undefined ? {} : { 'Content-Type': 'application/json' }),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const text = await res.text();
    if (!res.ok) {
      throw new SnowpipeError(
        `Snowpipe ${method} ${path.split('?')[0]}: HTTP ${res.status} ${text}`,
        res.status,
      );
    }
    return JSON.parse(text) as T;
  }

  /** `pipe` is fully qualified: DATABASE.SCHEMA.PIPE. Paths are relative to the pipe's stage. */
  insertFiles(
    pipe: string,
    files: { path: string; size?: number }[],
    requestId: string = randomUUID(),
  ): Promise<InsertFilesResponse> {
    return this.call(
      'POST',
      `/v1/data/pipes/${encodeURIComponent(pipe)}/insertFiles?requestId=${requestId}`,
      {
        files: files.map((f) => (f.size === undefined ? { path: f.path } : { path: f.path, size: f.size })),
      },
    );
  }

  insertReport(pipe: string, beginMark?: string, requestId: string = randomUUID()): Promise<InsertReport> {
    const mark = beginMark ? `&beginMark=${encodeURIComponent(beginMark)}` : '';
    return this.call(
      'GET',
      `/v1/data/pipes/${encodeURIComponent(pipe)}/insertReport?requestId=${requestId}${mark}`,
    );
  }
}
