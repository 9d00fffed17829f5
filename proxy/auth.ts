// API keys (only their SHA-256 is configured), their scopes, and a token bucket per key that
// counts events, not requests, so one request of 10,000 events cannot bypass the limit.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { Config } from '../lib/config.js';
import { HttpError } from './http-error.js';

export type ApiKeyConfig = Config['proxy']['apiKeys'][number];

export interface Caller {
  keyId: string;
  /** The key's event type scopes ('*' for all), for checks made off the main thread. */
  eventTypes: readonly string[];
  mayUseType: (type: string) => boolean;
  mayUseApp: (app: string) => boolean;
  /** Takes n events from the key's budget or throws 429. */
  spend: (n: number) => void;
}

export function hashKey(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

class TokenBucket {
  private tokens: number;
  private last = performance.now();
  constructor(
    private readonly rate: number,
    private readonly burst: number,
  ) {
    this.tokens = burst;
  }
  take(n: number): number {
    const now = performance.now();
    this.tokens = Math.min(this.burst, this.tokens + ((now - this.last) / 1000) * this.rate);
    this.last = now;
    if (n <= this.tokens) {
      this.tokens -= n;
      return 0;
    }
    return Math.max(1, Math.ceil((Math.min(n, this.burst) - this.tokens) / this.rate));
  }
}

export const allows = (scopes: readonly string[], name: string): boolean =>
  scopes.includes('*') || scopes.includes(name);

const OPEN: Caller = {
  keyId: 'anonymous',
  eventTypes: ['*'],
  mayUseType: () => true,
  mayUseApp: () => true,
  spend: () => undefined,
};

export class Authenticator {
  private readonly keys: { cfg: ApiKeyConfig; hash: Buffer; bucket: TokenBucket }[];

  constructor(keys: ApiKeyConfig[]) {
    this.keys = keys.map((cfg) => ({
      cfg,
      hash: Buffer.from(cfg.sha256, 'hex'),
      bucket: new TokenBucket(cfg.ratePerSecond, cfg.burst),
    }));
  }

  get enabled(): boolean {
    return this.keys.length > 0;
  }

  /** The caller of a request, from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
  authenticate(headers: {
    authorization?: string | undefined;
    'x-api-key'?: string | string[] | undefined;
  }): Caller {
    if (!this.enabled) return OPEN;
    const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? '')?.[1];
    const raw = bearer ?? headers['x-api-key'];
    const secret = Array.isArray(raw) ? raw[0] : raw;
    if (!secret)
      throw new HttpError(
        'UNAUTHORIZED',
        'an API key is required: send "Authorization: Bearer <key>" or "X-API-Key: <key>"',
      );
    const hash = createHash('sha256').update(secret).digest();
    const key = this.keys.find((k) => timingSafeEqual(k.hash, hash));
    if (!key) throw new HttpError('UNAUTHORIZED', 'this API key is not known');
    const { cfg, bucket } = key;
    return {
      keyId: cfg.id,
      eventTypes: cfg.eventTypes,
      mayUseType: (t) => allows(cfg.eventTypes, t),
      mayUseApp: (a) => allows(cfg.apps, a),
      spend: (n) => {
        const wait = bucket.take(n);
        if (wait > 0) {
          throw new HttpError(
            'RATE_LIMITED',
            `API key "${cfg.id}" may send ${cfg.ratePerSecond} events/s (burst ${cfg.burst}); retry in ${wait} s`,
            undefined,
            wait,
          );
        }
      },
    };
  }
}
