/**
 * The wasm target's code generator (codegen/wasm) needs binaryen, a 15 MB Emscripten build.
 * In Node it loads synchronously on first use (about 0.5 s; codegen/wasm/binaryen-load.ts), so
 * a fresh session's `runSync` works; where that is not possible (a binaryen release laid out
 * differently), `wasmReady()` loads it by awaiting the package's import, and until then
 * `wasmCodegen()` is null: a `wasm` session's `runSync` throws `wasmNotLoaded`, and a default
 * session runs on the js backend.
 */
import { failedPrecondition, type OpError } from "../../../ir/diagnostics";
import * as codegen from "../../../codegen/wasm/index";

export type WasmCodegen = typeof codegen;

let loading: Promise<WasmCodegen> | null = null;

/** Loads the wasm code generator (binaryen); resolves when `backend: "wasm"` can run synchronously. */
export async function wasmReady(): Promise<void> {
  await loadWasmCodegen();
}

export function loadWasmCodegen(): Promise<WasmCodegen> {
  if (codegen.ensureBinaryen()) return Promise.resolve(codegen);
  loading ??= codegen.loadBinaryen().then(
    () => codegen,
    (e: unknown) => {
      loading = null;
      throw failedPrecondition({
        code: "wasm-load-failed",
        message: `the WebAssembly code generator could not be loaded: ${e instanceof Error ? e.message : String(e)}`,
        expected: "the `binaryen` package installed and a runtime with WebAssembly SIMD",
        received: "a failed load of binaryen",
        fix: 'install the dependencies (npm install), or use { backend: "js" }',
      });
    },
  );
  return loading;
}

/** The code generator with binaryen loaded (synchronously if need be), or null when it cannot be yet. */
export function wasmCodegen(): WasmCodegen | null {
  return codegen.ensureBinaryen() ? codegen : null;
}

/** The error of a synchronous use before the generator is loaded. */
export function wasmNotLoaded(what: string): OpError {
  return failedPrecondition({
    code: "wasm-not-loaded",
    message: `${what} needs the WebAssembly code generator, which could not be loaded synchronously (${codegen.binaryenLoadError()?.message ?? "unknown reason"}) and is not loaded yet`,
    expected: "the wasm backend loaded",
    received: "a synchronous call before the first asynchronous one",
    fix: "await one `sess.run(...)` (or `program.run(...)`) first, or `await tf.wasmReady()` before the synchronous call",
  });
}
