/**
 * The peers, set up as bench/wasm-kernels.ts does: @tensorflow/tfjs-core on tfjs-backend-cpu and
 * on tfjs-backend-wasm (SIMD; its .wasm files from node_modules through setWasmPaths), and
 * onnxruntime-node on its CPU execution provider, held to one intra-op thread as foldflow's wasm
 * sessions are (bench/foldflow.ts) and tfjs-wasm in Node is; the conv net's 2-thread section
 * gives both two. Also the comparisons behind the sanity lines.
 *
 * tfjs-core registers its gradients only in dist/register_all_gradients.js, an ES module tree with
 * extensionless and directory imports that Node's resolver refuses (bundlers, and vitest, accept
 * them): a resolve hook retries those imports with ".js" and "/index.js". The gradients land in
 * tfjs's global registry, shared with the package's main build that the backends use.
 */
import { register } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tfc from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import * as ort from "onnxruntime-node";

export { tfc, ort };

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
setWasmPaths(path.join(root, "node_modules/@tensorflow/tfjs-backend-wasm/dist") + path.sep);

const retryWithExtensions = `
export async function resolve(specifier, context, next) {
  try {
    return await next(specifier, context);
  } catch (e) {
    if (specifier.startsWith(".") && context.parentURL && context.parentURL.includes("/@tensorflow/tfjs-core/dist/"))
      for (const suffix of [".js", "/index.js"]) {
        try {
          return await next(specifier + suffix, context);
        } catch {}
      }
    throw e;
  }
}`;
register(`data:text/javascript,${encodeURIComponent(retryWithExtensions)}`);
await import("@tensorflow/tfjs-core/dist/register_all_gradients.js");

export type TfjsBackend = "cpu" | "wasm";

/** Makes `backend` tfjs's current backend (tensors made after this live there). */
export async function useTfjs(backend: TfjsBackend): Promise<void> {
  if (tfc.getBackend() !== backend) await tfc.setBackend(backend);
  await tfc.ready();
}

/** "tfjs-wasm (SIMD, 1 thread)" and the like, once the wasm backend is ready. */
export async function tfjsDescription(): Promise<string> {
  await useTfjs("wasm");
  return `tfjs-core ${tfc.version_core}; tfjs-wasm ${tfc.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "SIMD" : "no SIMD"}, ${getThreadsCount()} thread(s)`;
}

/** An onnxruntime session over the CPU provider, `threads` intra-op threads (1 unless a section says). */
export async function ortSession(bytes: Uint8Array, threads = 1): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(bytes, { executionProviders: ["cpu"], intraOpNumThreads: threads, interOpNumThreads: 1, graphOptimizationLevel: "all" });
}

/** The largest |a - b| relative to the largest |b| (1 when b is all zeros). */
export function relativeDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length) return Infinity;
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < b.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(b[i]));
  }
  return diff / Math.max(scale, 1);
}

/** A deterministic uniform [lo, hi) array (xorshift). */
export function uniform(n: number, seed: number, lo = -0.5, hi = 0.5): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return out;
}
