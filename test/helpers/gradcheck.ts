/**
 * Gradient checks against central finite differences computed in float64: the interpreter
 * runs with `highPrecision`, so the reference kernels compute in double.
 */
import { expect } from "vitest";
import * as tf from "foldflow";
import { randomData } from "./run";

export interface GradCheckOptions {
  eps?: number;
  rtol?: number;
  atol?: number;
  seed?: number;
}

/**
 * `build` returns y and the placeholders to differentiate. Values for every placeholder come
 * from `feeds` (Float64Array values, fed at high precision). Compares tf.gradients(y, xs, w)
 * — a vector-Jacobian product with random w — with (L(x+h) - L(x-h)) / 2h for L = sum(w * y).
 */
export function checkGradients(
  build: () => { y: tf.Tensor; xs: tf.Tensor[] },
  feeds: Record<string, Float64Array | number[]>,
  options: GradCheckOptions = {},
): void {
  const eps = options.eps ?? 1e-4;
  const rtol = options.rtol ?? 1e-4;
  const atol = options.atol ?? 1e-6;
  const g = new tf.Graph();
  const { y, xs, grads, weights } = g.asDefault(() => {
    const { y, xs } = build();
    if (!y.shape || y.shape.some((d) => d === null)) throw new Error("checkGradients needs a fully defined y shape");
    const size = (y.shape as number[]).reduce((a, b) => a * b, 1);
    const w = Float32Array.from(randomData(size, options.seed ?? 7), (v) => v + 0.5 * Math.sign(v));
    const weights = tf.constant(tf.ndarray(w, y.shape as number[]), undefined, "float32", "w");
    return { y, xs, grads: tf.gradients(y, xs, weights), weights: w };
  });
  const sess = new tf.Session({ graph: g, highPrecision: true });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  const base: Record<string, Float64Array> = {};
  for (const [k, v] of Object.entries(feeds)) base[k] = Float64Array.from(v);
  const shaped = (k: string, data: Float64Array): tf.NDArray => {
    const t = g.getTensorByName(k);
    const shape = (t.shape as (number | null)[]).map((d) => d ?? -1);
    const known = shape.filter((d) => d >= 0).reduce((a, b) => a * b, 1);
    return new tf.NDArray(t.dtype, shape.map((d) => (d < 0 ? data.length / known : d)), data);
  };
  const loss = (fd: Record<string, Float64Array>): number => {
    const feedArrays = Object.fromEntries(Object.entries(fd).map(([k, v]) => [k, shaped(k, v)]));
    const out = sess.runSync(y, feedArrays);
    let sum = 0;
    for (let i = 0; i < out.size; i++) sum += out.data[i] * weights[i];
    return sum;
  };
  const feedArrays = Object.fromEntries(Object.entries(base).map(([k, v]) => [k, shaped(k, v)]));
  const analytic = grads.map((gr) => (gr ? sess.runSync(gr, feedArrays) : null));
  xs.forEach((x, xi) => {
    const key = x.op.name;
    const a = analytic[xi];
    expect(a, `gradient for ${key} is null`).not.toBeNull();
    const values = base[key];
    expect(values, `no feed for ${key}`).toBeDefined();
    for (let i = 0; i < values.length; i++) {
      const plus = { ...base, [key]: Float64Array.from(values) };
      plus[key][i] += eps;
      const minus = { ...base, [key]: Float64Array.from(values) };
      minus[key][i] -= eps;
      const numeric = (loss(plus) - loss(minus)) / (2 * eps);
      const got = a!.data[i];
      const ok = Math.abs(got - numeric) <= atol + rtol * Math.abs(numeric);
      if (!ok) expect(got, `d/d${key}[${i}]: analytic ${got} vs numeric ${numeric}`).toBeCloseTo(numeric, 6);
    }
  });
}
