/**
 * The one place that holds binaryen (its builder API, validator and optimizer). Nothing imports
 * the package statically: `ensureBinaryen()` loads it synchronously on first use (about 0.5 s,
 * ./binaryen-load.ts), and `loadBinaryen()` falls back to `import("binaryen")` where the
 * synchronous load is not possible. Kernels use the live binding `binaryen` only after either.
 */
import type Binaryen from "binaryen";
import { loadBinaryenSource } from "./binaryen-load";

export type BinaryenApi = typeof Binaryen;
export type Module = Binaryen.Module;
export type Expr = Binaryen.ExpressionRef;
export type Type = Binaryen.Type;

/** The loaded API (a live binding: set by ensureBinaryen / loadBinaryen). */
export let binaryen: BinaryenApi = undefined as unknown as BinaryenApi;
let syncError: Error | null = null;

function isApi(value: unknown): value is BinaryenApi {
  return typeof value === "object" && value !== null && typeof (value as { Module?: unknown }).Module === "function" && typeof (value as { Features?: unknown }).Features === "object";
}

/** Loads binaryen synchronously if it is not loaded; false (and `binaryenLoadError()`) when that cannot be done. */
export function ensureBinaryen(): boolean {
  if (binaryen) return true;
  if (syncError) return false;
  try {
    const api = loadBinaryenSource<unknown>();
    if (!isApi(api)) throw new Error("binaryen loaded without its Module API");
    binaryen = api;
    return true;
  } catch (e) {
    syncError = e instanceof Error ? e : new Error(String(e));
    return false;
  }
}

/** Why the synchronous load failed (null if it did not). */
export function binaryenLoadError(): Error | null {
  return syncError;
}

/** Loads binaryen: synchronously where possible, else by awaiting the package's own import. */
export async function loadBinaryen(): Promise<void> {
  if (ensureBinaryen()) return;
  const api: unknown = (await import("binaryen")).default;
  if (!isApi(api)) throw new Error("the binaryen package has no Module API");
  binaryen = api;
}

/** Features every emitted module enables: 128-bit SIMD, bulk memory (memory.fill / copy), threads (shared memory). */
export function features(): number {
  const F = binaryen.Features;
  return F.SIMD128 | F.BulkMemory | F.BulkMemoryOpt | F.Atomics | F.NontrappingFPToInt | F.SignExt | F.MutableGlobals;
}
