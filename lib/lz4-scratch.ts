// lz4 frames decompressed in place, for a reader that works through one record batch at a time.
// The Kafka client's lz4Decompress copies each batch out of its WebAssembly memory into a new
// Buffer: for a range read that is one external allocation of ~1 MB per batch, ~1 KB per 1 KB
// record, and V8 answers external memory with extra scavenges and full collections. This runs the
// same module (@platformatic/wasm-utils' native.wasm, which the client uses) in an instance of its
// own and hands back a view of its memory: valid until the next decompress or release().
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

// The WebAssembly API as used here (the project's TypeScript lib, ES2022 + node, declares none).
interface WasmApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}
const wasmApi = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

interface Lz4Exports {
  memory: { buffer: ArrayBuffer };
  alloc(len: number): number;
  dealloc(ptr: number, len: number): void;
  /** (output pointer << 32) | output length, of a region the caller deallocates. */
  lz4_decompress(ptr: number, len: number): bigint;
}

let compiled: object | undefined;

function lz4Module(): object {
  // Next to the package's entry point: the file the client instantiates.
  const entry = import.meta.resolve('@platformatic/wasm-utils');
  compiled ??= new wasmApi.Module(readFileSync(fileURLToPath(new URL('native.wasm', entry))));
  return compiled;
}

export class Lz4Scratch {
  private wasm: Lz4Exports | undefined;
  private input = { ptr: 0, len: 0 };
  private output = { ptr: 0, len: 0 };

  /**
   * The decompressed bytes of one lz4 frame, as a view of this instance's memory that the next
   * call (or release) makes invalid: copy what must outlive it.
   */
  decompress(frame: Uint8Array): Buffer {
    this.release();
    const wasm = (this.wasm ??= new wasmApi.Instance(lz4Module()).exports as Lz4Exports);
    if (this.input.len < frame.length) {
      if (this.input.len > 0) wasm.dealloc(this.input.ptr, this.input.len);
      this.input = { ptr: wasm.alloc(frame.length), len: frame.length };
    }
    new Uint8Array(wasm.memory.buffer, this.input.ptr, frame.length).set(frame);
    let combined: bigint;
    try {
      combined = wasm.lz4_decompress(this.input.ptr, frame.length);
    } catch (err) {
      // A trap (a frame the decoder refuses) leaves the instance's allocator in an unknown state.
      this.wasm = undefined;
      this.input = { ptr: 0, len: 0 };
      throw err;
    }
    const len = Number(BigInt.asUintN(32, combined));
    const ptr = Number(combined >> 32n);
    this.output = { ptr, len };
    return Buffer.from(wasm.memory.buffer, ptr, len);
  }

  /** Frees the last output; its view must not be read after this. */
  release(): void {
    if (this.output.len > 0) this.wasm?.dealloc(this.output.ptr, this.output.len);
    this.output = { ptr: 0, len: 0 };
  }
}
