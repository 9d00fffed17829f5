// V8 heap growth for the pipeline worker process (workers/pipeline-worker.ts and the bench's copy
// of it). After each full collection V8 lets the old generation grow by a factor it derives from
// collection and allocation speed. The worker's main thread allocates little (decoding and encoding
// run on the encode threads), so V8 chose a factor near 1.3 for its ~80 MB heap: the headroom then
// stayed below the young generation's size, and every full collection started the next one at once
// ("Start (task)" in --trace-incremental-marking). Measured in npm run bench:pipeline with
// --trace-gc: 7–8 full collections of the main heap, ~400 ms of main-thread GC (and as much again
// on V8's helper threads) per 200,000 events; with a fixed factor of 2: 0–1 and 5–72 ms.
import v8 from 'node:v8';

/** Heap limit after a full collection = 2 × what survived it. Read by V8 at each collection. */
export const HEAP_GROWING_PERCENT = 100;

/** Sets the growth factor for this process (every isolate: the main thread and the encode threads). */
export function setPipelineHeapGrowth(): void {
  v8.setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
}
