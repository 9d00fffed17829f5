// A prepare thread (proxy.prepareThreads): parses request bodies and validates and envelopes their
// events, off the main thread, which keeps HTTP, auth, Kafka and the spool. Started by PreparePool.
import { parentPort, workerData } from 'node:worker_threads';
import type { Catalog } from '../schemas/catalog.js';
import { EventValidator } from '../schemas/validator.js';
import { allows } from './auth.js';
import { HttpError } from './http-error.js';
import { parseBody } from './parse-body.js';
import { prepareEvents } from './prepare.js';
import { Arena, encodePrepared } from './prepare-wire.js';
import type { PrepareJob, PrepareReply, PrepareWorkerData } from './prepare-pool.js';

const port = parentPort;
if (!port) throw new Error('prepare-worker.ts runs only as a worker thread (see PreparePool)');
const { catalog } = workerData as PrepareWorkerData;
const deps = { catalog: catalog satisfies Catalog, validator: new EventValidator(catalog) };

function run(job: PrepareJob): { reply: PrepareReply; transfer: ArrayBuffer[] } {
  try {
    const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength);
    const items = parseBody(body, job.format);
    // Payloads are a little smaller than the body (no envelope), so one chunk usually holds them all.
    const arena = new Arena(body.length + 4096);
    const prepared = prepareEvents(
      items,
      job.format,
      {
        now: new Date(job.now),
        test: job.test,
        defaultSource: job.defaultSource,
        maxEventBytes: job.maxEventBytes,
        mayUse: (t) => allows(job.eventTypes, t),
      },
      { ...deps, encodeValue: arena.encode },
    );
    const batch = encodePrepared(prepared, arena);
    return {
      reply: { id: job.id, ok: true, items: items.length, batch },
      transfer: [...batch.chunks, batch.ints.buffer as ArrayBuffer],
    };
  } catch (err) {
    const error =
      err instanceof HttpError
        ? { code: err.code, message: err.message, details: err.details, retryAfter: err.retryAfter }
        : { message: err instanceof Error ? (err.stack ?? err.message) : String(err) };
    return { reply: { id: job.id, ok: false, error }, transfer: [] };
  }
}

port.on('message', (job: PrepareJob) => {
  const { reply, transfer } = run(job);
  port.postMessage(reply, transfer);
});
port.postMessage({ ready: true });
