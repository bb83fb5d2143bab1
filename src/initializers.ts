/** `tf.initializers.*` with TF1 defaults: each returns a function that builds the initial value's ops. */
import type { DType } from "../ir/dtype";
import { Tensor } from "../ir/graph";
import { NDArray } from "../ir/ndarray";
import { sizeOf } from "../ir/shape";
import { castArray, constantOp } from "../ir/ops/build";
import { add, mul } from "../ir/ops/elementwise";
import { randomTensor } from "../ir/ops/random";
import { getDefaultGraph } from "../ir/graph";

export type Initializer = (shape: number[], dtype: DType) => Tensor;

function filled(value: number, shape: number[], dtype: DType): Tensor {
  const data = new Float32Array(sizeOf(shape)).fill(value);
  const a = new NDArray("float32", shape, data);
  return constantOp(dtype === "float32" ? a : castArray(a, dtype), "Const", getDefaultGraph());
}

/** TF's _compute_fans: dense kernels [in, out]; conv kernels [..., in, out]. */
export function computeFans(shape: number[]): { fanIn: number; fanOut: number } {
  if (shape.length < 1) return { fanIn: 1, fanOut: 1 };
  if (shape.length === 1) return { fanIn: shape[0], fanOut: shape[0] };
  if (shape.length === 2) return { fanIn: shape[0], fanOut: shape[1] };
  const receptive = sizeOf(shape.slice(0, -2));
  return { fanIn: shape[shape.length - 2] * receptive, fanOut: shape[shape.length - 1] * receptive };
}

function scaled(kind: "RandomUniform" | "RandomStandardNormal" | "TruncatedNormal", shape: number[], scale: number, offset: number, seed: number | undefined, name: string): Tensor {
  return getDefaultGraph().nameScope(name, () => {
    const r = randomTensor(kind, shape, seed, "random");
    return add(mul(r, scale, "mul"), offset, "add");
  });
}

export interface SeedOption {
  seed?: number;
}

export const zeros = (): Initializer => (shape, dtype) => filled(0, shape, dtype);
export const ones = (): Initializer => (shape, dtype) => filled(1, shape, dtype);

/** A scalar fills the shape; an array must have the shape's element count. */
export const constant = (value: number | number[] = 0): Initializer => (shape, dtype) => {
  if (typeof value === "number") return filled(value, shape, dtype);
  const a = new NDArray("float32", shape, Float32Array.from(value));
  return constantOp(dtype === "float32" ? a : castArray(a, dtype), "Const", getDefaultGraph());
};

export const randomUniform = (o: { minval?: number; maxval?: number } & SeedOption = {}): Initializer => (shape) => {
  const lo = o.minval ?? 0;
  const hi = o.maxval ?? 1;
  return scaled("RandomUniform", shape, hi - lo, lo, o.seed, "random_uniform");
};

export const randomNormal = (o: { mean?: number; stddev?: number } & SeedOption = {}): Initializer => (shape) =>
  scaled("RandomStandardNormal", shape, o.stddev ?? 1, o.mean ?? 0, o.seed, "random_normal");

export const truncatedNormal = (o: { mean?: number; stddev?: number } & SeedOption = {}): Initializer => (shape) =>
  scaled("TruncatedNormal", shape, o.stddev ?? 1, o.mean ?? 0, o.seed, "truncated_normal");

/** TF's VarianceScaling, the root of the glorot and he initializers. */
export const varianceScaling = (
  o: { scale?: number; mode?: "fanIn" | "fanOut" | "fanAvg"; distribution?: "truncatedNormal" | "untruncatedNormal" | "uniform" } & SeedOption = {},
): Initializer => (shape) => {
  const { fanIn, fanOut } = computeFans(shape);
  const mode = o.mode ?? "fanIn";
  const n = Math.max(1, mode === "fanIn" ? fanIn : mode === "fanOut" ? fanOut : (fanIn + fanOut) / 2);
  const scale = (o.scale ?? 1) / n;
  const distribution = o.distribution ?? "truncatedNormal";
  if (distribution === "uniform") {
    const limit = Math.sqrt(3 * scale);
    return scaled("RandomUniform", shape, 2 * limit, -limit, o.seed, "random_uniform");
  }
  if (distribution === "untruncatedNormal")
    return scaled("RandomStandardNormal", shape, Math.sqrt(scale), 0, o.seed, "random_normal");
  // Stddev of a unit normal truncated to [-2, 2], as TF divides by.
  return scaled("TruncatedNormal", shape, Math.sqrt(scale) / 0.8796256610342398, 0, o.seed, "truncated_normal");
};

export const glorotUniform = (o: SeedOption = {}): Initializer => varianceScaling({ scale: 1, mode: "fanAvg", distribution: "uniform", seed: o.seed });
export const glorotNormal = (o: SeedOption = {}): Initializer => varianceScaling({ scale: 1, mode: "fanAvg", distribution: "truncatedNormal", seed: o.seed });
export const heNormal = (o: SeedOption = {}): Initializer => varianceScaling({ scale: 2, mode: "fanIn", distribution: "truncatedNormal", seed: o.seed });
export const heUniform = (o: SeedOption = {}): Initializer => varianceScaling({ scale: 2, mode: "fanIn", distribution: "uniform", seed: o.seed });
