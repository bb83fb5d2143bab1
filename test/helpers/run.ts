/** Small helpers for op tests: build in a fresh graph, run on the interpreter, compare. */
import { expect } from "vitest";
import * as tf from "foldflow";

/** Builds with `build` in a fresh graph and runs its result(s) on a new interpreter session. */
export function runFresh<T extends tf.Tensor | tf.Tensor[]>(build: () => T, feeds?: Record<string, tf.FeedValue>): T extends tf.Tensor ? tf.NDArray : tf.NDArray[] {
  const g = new tf.Graph();
  const out = g.asDefault(build);
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  const result = sess.runSync(out as tf.Fetch, feeds);
  return result as T extends tf.Tensor ? tf.NDArray : tf.NDArray[];
}

/** Deterministic pseudo-random floats in [lo, hi). */
export function randomData(n: number, seed = 1, lo = -1, hi = 1): Float32Array {
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

/** Element-wise closeness with a relative and absolute tolerance; reports the first bad index. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol = 1e-5, atol = 1e-6): void {
  expect(actual.length, "length").toBe(expected.length);
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e)) {
      expect(Number.isNaN(a), `index ${i}: expected NaN, got ${a}`).toBe(true);
      continue;
    }
    if (!Number.isFinite(e)) {
      expect(a, `index ${i}`).toBe(e);
      continue;
    }
    const ok = Math.abs(a - e) <= atol + rtol * Math.abs(e);
    if (!ok) expect(a, `index ${i} (expected ${e})`).toBeCloseTo(e, 10);
  }
}
