/**
 * The one place that imports binaryen (its builder API, validator and optimizer). Loading it
 * takes about a second and a half (a 15 MB Emscripten build, ready after its own top-level
 * await), so the rest of foldflow should reach codegen/wasm through a dynamic import.
 */
import binaryen from "binaryen";

export { binaryen };
export type Module = binaryen.Module;
export type Expr = binaryen.ExpressionRef;
export type Type = binaryen.Type;

/** Features every emitted module enables: 128-bit SIMD, bulk memory (memory.fill / copy), threads (shared memory). */
export const FEATURES = binaryen.Features.SIMD128 | binaryen.Features.BulkMemory | binaryen.Features.BulkMemoryOpt | binaryen.Features.Atomics | binaryen.Features.NontrappingFPToInt | binaryen.Features.SignExt | binaryen.Features.MutableGlobals;
