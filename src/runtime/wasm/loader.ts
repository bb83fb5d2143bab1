/**
 * The wasm target's code generator (codegen/wasm) is loaded on demand: it imports binaryen, a
 * 15 MB Emscripten build ready only after its own top-level await (about 1.5 s), so nothing
 * imports it statically. `wasmReady()` starts (once) and awaits that import; `await sess.run`
 * on a wasm session and `tf.compile(..., { target: "wasm" }).run` call it themselves, while
 * `runSync` and `program.source` need it done beforehand.
 */
import { failedPrecondition, type OpError } from "../../../ir/diagnostics";

export type WasmCodegen = typeof import("../../../codegen/wasm/index");

let loaded: WasmCodegen | null = null;
let loading: Promise<WasmCodegen> | null = null;

/** Loads the wasm code generator (binaryen); resolves when `backend: "wasm"` can run synchronously. */
export async function wasmReady(): Promise<void> {
  await loadWasmCodegen();
}

export function loadWasmCodegen(): Promise<WasmCodegen> {
  if (loaded) return Promise.resolve(loaded);
  loading ??= import("../../../codegen/wasm/index").then(
    (m) => (loaded = m),
    (e: unknown) => {
      loading = null;
      throw failedPrecondition({
        code: "wasm-load-failed",
        message: `the WebAssembly code generator could not be loaded: ${e instanceof Error ? e.message : String(e)}`,
        expected: "the `binaryen` package installed and a runtime with WebAssembly SIMD",
        received: "a failed import of codegen/wasm",
        fix: 'install the dependencies (npm install), or use { backend: "js" }',
      });
    },
  );
  return loading;
}

/** The loaded code generator, or null before `wasmReady()` has resolved. */
export function wasmCodegen(): WasmCodegen | null {
  return loaded;
}

/** The error of a synchronous use before the generator is loaded. */
export function wasmNotLoaded(what: string): OpError {
  return failedPrecondition({
    code: "wasm-not-loaded",
    message: `${what} needs the WebAssembly code generator, which loads asynchronously and is not loaded yet`,
    expected: "the wasm backend loaded",
    received: "a synchronous call before the first asynchronous one",
    fix: "await one `sess.run(...)` (or `program.run(...)`) first, or `await tf.wasmReady()` before the synchronous call",
  });
}
