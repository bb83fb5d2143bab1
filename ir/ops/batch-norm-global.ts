/**
 * BatchNormWithGlobalNormalization, TF's older (deprecated) inference batch-norm op, and its
 * gradient op BatchNormWithGlobalNormalizationGrad (TF's batch_norm_op.h).
 *
 * Inputs (t, m, v, beta, gamma): t is 4-D with channels last, the others [channels].
 * Attrs variance_epsilon, scale_after_normalization (both required, as in TF).
 *   y = (t - m)·rsqrt(v + ε)·(gamma if scale_after_normalization) + beta
 * Gradient op inputs (t, m, v, gamma, backprop) → (dx, dm, dv, db, dg):
 *   r = rsqrt(v + ε), g = gamma or 1
 *   dx = backprop·g·r          dm = -Σ backprop·g·r      dv = Σ backprop·(t - m)·g·(-½)·r³
 *   db = Σ backprop            dg = Σ backprop·(t - m)·r  (0 when gamma is not applied)
 */
import { Tensor, type Operation } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp, type Attrs, type KernelContext, type TensorSpec } from "../registry";
import { apply, convertToTensor, graphOf, type TensorLike } from "./build";
import { channelLayout, checkInput, checkVector, mergeChannels } from "./batch-norm";

const attrs = {
  variance_epsilon: { kind: "float" as const },
  scale_after_normalization: { kind: "bool" as const },
};

/** Checks a 4-D float32 input and the per-channel vectors; returns the input shape with its channels merged. */
function inferChannels(inputs: TensorSpec[], names: string[], vectorIndices: number[], type: string, node: string): { shape: TensorSpec["shape"]; c: number | null } {
  const shape = checkInput(inputs[0], names[0], 4, type, node);
  let c: number | null = shape === null ? null : shape[3];
  for (const i of vectorIndices) {
    checkInput(inputs[i], names[i], 1, type, node);
    c = mergeChannels(c, inputs[i], names[i], type, node, "NHWC");
  }
  return { shape: shape === null ? null : [...shape.slice(0, 3), c], c };
}

registerOp({
  type: "BatchNormWithGlobalNormalization",
  inputs: 5,
  attrs,
  infer: (inputs, _, node) => {
    const { shape } = inferChannels(inputs, ["t", "m", "v", "beta", "gamma"], [1, 2, 3, 4], "BatchNormWithGlobalNormalization", node);
    return [{ dtype: "float32", shape }];
  },
  kernel: ([t, m, v, beta, gamma]: NDArray[], a: Attrs, ctx: KernelContext) => {
    const type = "BatchNormWithGlobalNormalization";
    if (t.rank !== 4) checkInput({ dtype: "float32", shape: t.shape }, "t", 4, type, ctx.node);
    const C = t.shape[3];
    for (const [arr, what] of [[m, "m"], [v, "v"], [beta, "beta"], [gamma, "gamma"]] as const) checkVector(arr, what, C, type, ctx.node);
    const eps = a.variance_epsilon as number;
    const mult = new Float64Array(C);
    for (let c = 0; c < C; c++) mult[c] = (a.scale_after_normalization ? gamma.data[c] : 1) / Math.sqrt(v.data[c] + eps);
    const out = ctx.alloc("float32", t.size);
    for (let i = 0; i < t.size; i++) {
      const c = i % C;
      out[i] = (t.data[i] - m.data[c]) * mult[c] + beta.data[c];
    }
    return [new NDArray("float32", [...t.shape], out)];
  },
  gradient: (op: Operation, [dy]: (Tensor | null)[]) => {
    if (!dy) return op.inputs.map(() => null);
    const [t, m, v, , gamma] = op.inputs;
    const g = apply("BatchNormWithGlobalNormalizationGrad", [t, m, v, gamma, dy], { variance_epsilon: op.attrs.variance_epsilon, scale_after_normalization: op.attrs.scale_after_normalization }, "BatchNormWithGlobalNormalizationGrad");
    return g.outputs.slice(0, 5);
  },
});

registerOp({
  type: "BatchNormWithGlobalNormalizationGrad",
  inputs: 5,
  attrs,
  infer: (inputs, _, node) => {
    const names = ["t", "m", "v", "gamma", "backprop"];
    const { shape, c } = inferChannels(inputs, names, [1, 2, 3], "BatchNormWithGlobalNormalizationGrad", node);
    checkInput(inputs[4], "backprop", 4, "BatchNormWithGlobalNormalizationGrad", node);
    const vec: TensorSpec = { dtype: "float32", shape: [c] };
    return [{ dtype: "float32", shape }, vec, vec, vec, vec];
  },
  kernel: ([t, m, v, gamma, dy]: NDArray[], a: Attrs, ctx: KernelContext) => {
    const type = "BatchNormWithGlobalNormalizationGrad";
    if (t.rank !== 4) checkInput({ dtype: "float32", shape: t.shape }, "t", 4, type, ctx.node);
    const { channels: C } = channelLayout(t.shape, "NHWC");
    for (const [arr, what] of [[m, "m"], [v, "v"], [gamma, "gamma"]] as const) checkVector(arr, what, C, type, ctx.node);
    const scaled = a.scale_after_normalization as boolean;
    const eps = a.variance_epsilon as number;
    const sumDy = new Float64Array(C);
    const sumDyXc = new Float64Array(C);
    for (let i = 0; i < t.size; i++) {
      const c = i % C;
      sumDy[c] += dy.data[i];
      sumDyXc[c] += dy.data[i] * (t.data[i] - m.data[c]);
    }
    const vec = (f: (c: number, r: number, g: number) => number) => {
      const out = ctx.alloc("float32", C);
      for (let c = 0; c < C; c++) out[c] = f(c, 1 / Math.sqrt(v.data[c] + eps), scaled ? gamma.data[c] : 1);
      return new NDArray("float32", [C], out);
    };
    const dx = ctx.alloc("float32", t.size);
    for (let i = 0; i < t.size; i++) {
      const c = i % C;
      dx[i] = (dy.data[i] * (scaled ? gamma.data[c] : 1)) / Math.sqrt(v.data[c] + eps);
    }
    return [
      new NDArray("float32", [...t.shape], dx),
      vec((c, r, g) => -sumDy[c] * r * g),
      vec((c, r, g) => sumDyXc[c] * g * -0.5 * r * r * r),
      vec((c) => sumDy[c]),
      vec((c, r) => (scaled ? sumDyXc[c] * r : 0)),
    ];
  },
});

/** The raw BatchNormWithGlobalNormalization op (tf.nn's TF1 wrapper builds batchNormalization instead). */
export function batchNormWithGlobalNormalizationOp(
  t: TensorLike,
  m: TensorLike,
  v: TensorLike,
  beta: TensorLike,
  gamma: TensorLike,
  varianceEpsilon: number,
  scaleAfterNormalization: boolean,
  name = "BatchNormWithGlobalNormalization",
): Tensor {
  const g = graphOf([t, m, v, beta, gamma]);
  const inputs = [t, m, v, beta, gamma].map((v) => (v instanceof Tensor ? v : convertToTensor(v, "float32", "Const", g)));
  return g.addOp({
    type: "BatchNormWithGlobalNormalization",
    inputs,
    attrs: { variance_epsilon: varianceEpsilon, scale_after_normalization: scaleAfterNormalization },
    name,
  }).outputs[0];
}
