// POST /v1/collect/:app: raw JSON from web and mobile apps, light checks only (size, valid JSON),
// written with the envelope to raw.<app>; the raw-event router validates and routes it later.
// Accepts text/plain, which is what navigator.sendBeacon sends.
import type { NextFunction, Request, Response } from 'express';
import { buildEnvelope, envelopeHeaders } from '../lib/envelope.js';
import type { ProxyContext } from './context.js';
import { HttpError } from './http-error.js';
import { decodeUtf8, parseJson } from './parse-body.js';
import type { OutRecord } from './prepare.js';
import { dispatch, isTestRequest, wantsAsync } from './routes-events.js';

const COLLECT_TYPES = new Set([
  'application/json',
  'text/plain',
  'application/x-ndjson',
  'application/ndjson',
]);

export function corsFor(ctx: ProxyContext) {
  const origins = ctx.config.proxy.corsOrigins;
  return (req: Request, res: Response, next: NextFunction): void => {
    const origin = req.get('origin');
    if (origin && (origins.includes('*') || origins.includes(origin))) {
      res.set('Access-Control-Allow-Origin', origins.includes('*') ? '*' : origin);
      res.set('Vary', 'Origin');
      res.set('Access-Control-Allow-Methods', 'POST, OPTIONS');
      res.set('Access-Control-Allow-Headers', 'Content-Type, Authorization, X-API-Key, X-Sluice-Test');
      res.set('Access-Control-Max-Age', '600');
    }
    if (req.method === 'OPTIONS') {
      res.status(204).end();
      return;
    }
    next();
  };
}

export function collectHandler(ctx: ProxyContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const app = String(req.params.app);
    const caller = ctx.auth.authenticate(req.headers);
    if (!ctx.rawApps.has(app)) {
      throw new HttpError(
        'NOT_FOUND',
        `no raw collector for app "${app}": add it to the rawApps of an event type in the catalog`,
      );
    }
    if (!caller.mayUseApp(app))
      throw new HttpError('FORBIDDEN', `API key "${caller.keyId}" may not send for app "${app}"`);
    const mime = (req.get('content-type') ?? 'text/plain').split(';')[0]!.trim().toLowerCase();
    if (!COLLECT_TYPES.has(mime)) {
      throw new HttpError(
        'UNSUPPORTED_CONTENT_TYPE',
        `Content-Type "${mime}" is not accepted here; send application/json, text/plain or application/x-ndjson`,
      );
    }
    const text = decodeUtf8(req.body as Buffer);
    const items: unknown[] = mime.includes('ndjson')
      ? text
          .split('\n')
          .filter((l) => l.trim() !== '')
          .map((l, i) => parseJson(l, `NDJSON line ${i + 1}`))
      : [parseJson(text, 'the body')].flat();
    if (items.length === 0) throw new HttpError('MALFORMED_BODY', 'the body holds no event');
    const bad = items.findIndex((i) => typeof i !== 'object' || i === null || Array.isArray(i));
    if (bad >= 0) throw new HttpError('MALFORMED_BODY', `item ${bad} is not a JSON object`);
    caller.spend(items.length);
    const now = new Date();
    const test = isTestRequest(req);
    const records: OutRecord[] = items.map((item) => {
      const env = buildEnvelope(
        { type: `raw.${app}`, dataschema: 'urn:sluice:raw', source: `/collect/${app}`, test },
        now,
        ctx.config.proxy.defaultSource,
      );
      const value = Buffer.from(JSON.stringify(item));
      if (value.length > ctx.config.proxy.maxEventBytes) {
        throw new HttpError(
          'EVENT_TOO_LARGE',
          `an event is ${value.length} bytes; the limit is ${ctx.config.proxy.maxEventBytes}`,
        );
      }
      return { cluster: 'default', topic: `raw.${app}`, key: null, value, headers: envelopeHeaders(env) };
    });
    const async = wantsAsync(req);
    await dispatch(ctx, records, async);
    ctx.metrics.events.inc({ type: `raw.${app}`, outcome: 'accepted', reason: '' }, records.length);
    if (async) res.set('Preference-Applied', 'respond-async');
    res.status(async ? 202 : 200).json({ accepted: records.length });
  };
}
