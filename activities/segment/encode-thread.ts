// An encode thread (pipeline.encodeThreads): decodes, validates and encodes segments to Parquet
// off the worker's main thread, one ChunkEncoder per open segment. Started by EncodePool.
import { parentPort, workerData } from 'node:worker_threads';
import type { Catalog } from '../../schemas/catalog.js';
import { EventValidator } from '../../schemas/validator.js';
import { ChunkEncoder } from './chunk-encoder.js';
import type { EncodeThreadData, FromEncodeThread, ToEncodeThread } from './encode-pool.js';

const port = parentPort;
if (!port) throw new Error('encode-thread.ts runs only as a worker thread (see EncodePool)');
const { catalog, fastJson } = workerData as EncodeThreadData;
const validator = new EventValidator(catalog satisfies Catalog);
const segments = new Map<number, ChunkEncoder>();

function reply(m: FromEncodeThread, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(m, transfer);
}

port.on('message', (m: ToEncodeThread) => {
  if (m.kind === 'discard') {
    segments.delete(m.id);
    return;
  }
  if (m.kind === 'open') {
    const type = catalog.types.get(m.type);
    // Reported at the segment's first chunk: open has no answer of its own.
    if (type)
      segments.set(
        m.id,
        new ChunkEncoder({
          type,
          validator,
          partition: m.partition,
          maxBytes: m.maxBytes,
          fastJson,
          ...(m.compression ? { compression: m.compression } : {}),
        }),
      );
    return;
  }
  const encoder = segments.get(m.id);
  try {
    if (!encoder) throw new Error(`segment ${m.id} is not open on this thread (unknown event type?)`);
    if (m.kind === 'add') {
      reply({ kind: 'progress', id: m.id, job: m.job, progress: encoder.add(m.chunk) });
      return;
    }
    segments.delete(m.id);
    const segment = encoder.finish();
    reply({ kind: 'finished', id: m.id, job: m.job, segment }, [
      ...new Set(segment.groups.map((g) => g.bytes.buffer as ArrayBuffer)),
    ]);
  } catch (err) {
    segments.delete(m.id);
    reply({
      kind: 'failed',
      id: m.id,
      job: m.job,
      message: err instanceof Error ? err.message : String(err),
    });
  }
});

reply({ kind: 'ready' });
