// POST /v1/events: validate, envelope, produce (sync) or spool (async), and answer per event.
import type { Request, Response } from 'express';
import { HttpError } from './http-error.js';
import { formatOf } from './parse-body.js';
import type { OutRecord, PreparedEvent } from './prepare.js';
import type { ProxyContext } from './context.js';

export interface EventResult {
  index: number;
  id?: string;
  status: 'accepted' | 'rejected';
  partition?: number;
  offset?: string;
  error_code?: string;
  message?: string;
  errors?: unknown[];
}

export function wantsAsync(req: Request): boolean {
  const prefer = req.get('prefer') ?? '';
  return /(^|[,;\s])respond-async([,;\s]|$)/i.test(prefer) || req.query.async === 'true';
}

export const isTestRequest = (req: Request): boolean =>
  (req.get('x-sluice-test') ?? '').toLowerCase() === 'true';

function rejection(e: Extract<PreparedEvent, { ok: false }>): EventResult {
  return {
    index: e.index,
    ...(e.id ? { id: e.id } : {}),
    status: 'rejected',
    error_code: e.errorCode,
    message: e.message,
    ...(e.errors ? { errors: e.errors } : {}),
  };
}

/** Sends records and their dead letters: synchronously through the accumulators, or into the spool. */
export async function dispatch(
  ctx: ProxyContext,
  records: OutRecord[],
  async: boolean,
): Promise<({ partition: number; offset?: bigint } | undefined)[]> {
  if (async) {
    await ctx.spoolAppend(records);
    return records.map(() => undefined);
  }
  return ctx.produce(records);
}

export function eventsHandler(ctx: ProxyContext) {
  return async (req: Request, res: Response): Promise<void> => {
    const caller = ctx.auth.authenticate(req.headers);
    const format = formatOf(req.get('content-type'));
    const async = wantsAsync(req);
    const prepared = await ctx.preparer.prepare({
      body: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
      format,
      now: new Date(),
      test: isTestRequest(req),
      defaultSource: ctx.config.proxy.defaultSource,
      maxEventBytes: ctx.config.proxy.maxEventBytes,
      eventTypes: caller.eventTypes,
      mayUse: caller.mayUseType,
      spend: caller.spend,
    });
    if (prepared.every((e) => !e.ok && e.errorCode === 'FORBIDDEN')) {
      throw new HttpError(
        'FORBIDDEN',
        `API key "${caller.keyId}" may not send ${[...new Set(prepared.map((e) => e.type))].join(', ')}`,
      );
    }
    // Accepted events first, then dead letters: one produce round for the whole request.
    const out: OutRecord[] = [];
    /** Event index → where its first Kafka record is in `out`. */
    const firstRecord = new Array<number>(prepared.length);
    for (const e of prepared) {
      if (e.ok) {
        firstRecord[e.index] = out.length;
        for (const r of e.records) out.push(r);
      } else if (e.dlq) out.push(e.dlq);
    }
    const deliveries = await dispatch(ctx, out, async);

    const results: EventResult[] = prepared.map((e) => {
      if (!e.ok) return rejection(e);
      const d = deliveries[firstRecord[e.index]!];
      const r: EventResult = { index: e.index, id: e.id, status: 'accepted' };
      if (d) r.partition = d.partition;
      if (d?.offset !== undefined) r.offset = d.offset.toString();
      return r;
    });
    // One increment per (type, outcome, reason), not per event.
    const counts = new Map<string, { type: string; outcome: string; reason: string; n: number }>();
    for (const e of prepared) {
      const type = e.type && ctx.catalog.types.has(e.type) ? e.type : 'unknown';
      const outcome = e.ok ? 'accepted' : 'rejected';
      const reason = e.ok ? '' : e.errorCode;
      const k = `${type}\u0000${outcome}\u0000${reason}`;
      const c = counts.get(k);
      if (c) c.n++;
      else counts.set(k, { type, outcome, reason, n: 1 });
    }
    for (const { n, ...labels } of counts.values()) ctx.metrics.events.inc(labels, n);
    const accepted = prepared.filter((e) => e.ok).length;
    const rejected = prepared.length - accepted;
    const body = { accepted, rejected, results };
    if (async) res.set('Preference-Applied', 'respond-async');
    if (accepted === 0) {
      res.status(400).json({
        error_code: 'EVENTS_REJECTED',
        message: `all ${rejected} event(s) were rejected; see results`,
        ...body,
      });
      return;
    }
    res.status(rejected ? 207 : async ? 202 : 200).json(body);
  };
}
