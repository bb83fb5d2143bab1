/**
 * The op a batch norm folds into, and the folding arithmetic.
 *
 *   x = Conv2D | DepthwiseConv2dNative | MatMul (constant weights)
 *       [then BiasAdd(·, b) or Add(·, b), b constant]
 *   y = x·s + t (per output channel)
 *   =>  W' = W·s (per output channel), b' = b·s + t,  y = BiasAdd(op(W'), b')
 *
 * Output channel o of each producer and the weights it reads:
 *   Conv2D                  filter [kh, kw, in, out]            W[..., o]
 *   DepthwiseConv2dNative   filter [kh, kw, in, multiplier]     o = c·multiplier + m: W[..., c, m]
 *   MatMul                  b [in, out] (transpose_b: [out, in]) column (row) o
 * Filters have the same layout in NHWC and NCHW; only the output's channel axis moves.
 */
import type { Operation, Tensor } from "../ir/graph";
import type { NDArray } from "../ir/ndarray";
import { channelVector, float32Array, nonConstantSource, type ConstantValues } from "./fold-batch-norm-values";

export const PRODUCERS = new Set(["Conv2D", "DepthwiseConv2dNative", "MatMul"]);

export interface FoldPlan {
  /** The conv / matmul: replaced by a copy (same name) that reads the scaled weights. */
  producer: Operation;
  /** The BiasAdd / Add of a constant between the producer and the batch norm, if any. */
  biasOp: Operation | null;
  /** The scaled weights, the new bias, the format of the new BiasAdd. */
  weights: NDArray;
  bias: Float64Array;
  dataFormat: "NHWC" | "NCHW";
}

export type ProducerResult = { plan: FoldPlan } | { producer: Operation | null; reason: string };

interface Geometry {
  rank: number;
  axis: number;
  channels: number;
  format: "NHWC" | "NCHW";
}

/** Output rank, channel axis and channel count of a producer, from its constant weights. */
function geometry(op: Operation, w: NDArray): Geometry | string {
  if (op.type === "MatMul") {
    if (w.rank !== 2) return `the weights of \`${op.name}\` are not a matrix`;
    return { rank: 2, axis: 1, channels: op.attrs.transpose_b === true ? w.shape[0] : w.shape[1], format: "NHWC" };
  }
  if (w.rank !== 4) return `the filter of \`${op.name}\` does not have rank 4`;
  const format = op.attrs.data_format === "NCHW" ? "NCHW" : "NHWC";
  const channels = op.type === "Conv2D" ? w.shape[3] : w.shape[2] * w.shape[3];
  return { rank: 4, axis: format === "NCHW" ? 1 : 3, channels, format };
}

/** W' = W·s along the output channel of `op`. */
export function scaleWeights(op: Operation, w: NDArray, s: Float64Array): Float64Array {
  const out = new Float64Array(w.size);
  const n = w.size;
  if (op.type === "MatMul" && op.attrs.transpose_b === true) {
    const inner = w.shape[1];
    for (let i = 0; i < n; i++) out[i] = w.data[i] * s[Math.floor(i / inner)];
  } else {
    // Conv2D [.., out], MatMul [in, out], depthwise [.., in, multiplier]: the output channel is the flat index modulo C.
    const C = s.length;
    for (let i = 0; i < n; i++) out[i] = w.data[i] * s[i % C];
  }
  return out;
}

/** The conv / matmul producing `x` directly or through a BiasAdd / Add, else `null`. */
export function directProducer(x: Tensor): Operation | null {
  if (PRODUCERS.has(x.op.type)) return x.op;
  if (x.op.type === "BiasAdd" || x.op.type === "Add" || x.op.type === "AddV2") return x.op.inputs.map((i) => i.op).find((o) => PRODUCERS.has(o.type)) ?? null;
  return null;
}

/** The conv / matmul to name in the report for a batch norm over `x`: the direct one, else one a few ops up. */
export function reportedProducer(x: Tensor): Operation | null {
  return directProducer(x) ?? upstreamProducer(x);
}

/** Walks up single-input chains from `t` looking for a conv / matmul, to name it in a refusal. */
function upstreamProducer(t: Tensor, limit = 8): Operation | null {
  let op = t.op;
  for (let i = 0; i < limit && op.inputs.length > 0; i++) {
    op = op.inputs[0].op;
    if (PRODUCERS.has(op.type)) return op;
  }
  return null;
}

function describeBetween(between: Operation): string {
  const cond = between.type === "Switch" || between.type === "Merge";
  return cond ? "; the training flag's tf.cond is still in the graph: fix the flag first (specialize with its default, or { training: false })" : "";
}

/** Data consumers of `op`'s outputs other than `allowed`, and whether `op` is a requested output. */
function otherUse(op: Operation, allowed: Operation, protectedNames: Set<string>): string | null {
  if (protectedNames.has(op.name)) return `\`${op.name}\` is a requested output, and folding would change its value`;
  const others = op.outputs.flatMap((t) => t.consumers()).filter((c) => c !== allowed);
  if (others.length) return `\`${op.name}\` (${op.type}) has another consumer, \`${others[0].name}\` (${others[0].type}), which would read the folded value`;
  return null;
}

/**
 * Finds the conv / matmul (and bias) producing `x` and plans the fold of y = x·scale + shift;
 * or says why not. `first` is the batch-norm op that reads x.
 */
export function planFold(
  x: Tensor,
  first: Operation,
  scale: NDArray,
  shift: NDArray,
  values: ConstantValues,
  protectedNames: Set<string>,
): ProducerResult {
  let biasOp: Operation | null = null;
  let biasTensor: Tensor | null = null;
  let p = x;
  const op = x.op;
  if (op.type === "BiasAdd") {
    biasOp = op;
    p = op.inputs[0];
    biasTensor = op.inputs[1];
  } else if ((op.type === "Add" || op.type === "AddV2") && op.inputs.some((i) => PRODUCERS.has(i.op.type))) {
    const k = PRODUCERS.has(op.inputs[0].op.type) ? 0 : 1;
    if (values.isConstant(op.inputs[1 - k])) {
      biasOp = op;
      p = op.inputs[k];
      biasTensor = op.inputs[1 - k];
    }
  }
  const producer = p.op;
  if (!PRODUCERS.has(producer.type)) {
    const between = biasOp ? producer : op;
    const upstream = upstreamProducer(x);
    if (upstream)
      return {
        producer: upstream,
        reason: `\`${between.name}\` (${between.type}) stands between \`${upstream.name}\` (${upstream.type}) and the batch norm: folding needs the batch norm right after the conv2d / depthwiseConv2d / matmul and its bias${describeBetween(between)}`,
      };
    return {
      producer: null,
      reason: `its input comes from \`${op.name}\` (${op.type}), not from a conv2d, depthwiseConv2d or matmul${describeBetween(op)}`,
    };
  }
  const refuse = (reason: string): ProducerResult => ({ producer, reason });
  if (biasOp && biasTensor && !values.isConstant(biasTensor)) {
    const source = nonConstantSource(biasTensor, values);
    return refuse(`the bias of \`${producer.name}\` is not constant: it reads \`${source.name}\` (${source.type})`);
  }
  const used = otherUse(producer, biasOp ?? first, protectedNames) ?? (biasOp ? otherUse(biasOp, first, protectedNames) : null);
  if (used) return refuse(used);
  const w = values.value(producer.inputs[1]);
  if (!w) {
    const source = nonConstantSource(producer.inputs[1], values);
    const hint = source.type === "VariableV2" ? "; freeze the graph first (tf.graphUtil.convertVariablesToConstants)" : "";
    return refuse(`the weights of \`${producer.name}\` are not constant: they read \`${source.name}\` (${source.type})${hint}`);
  }
  const geo = geometry(producer, w);
  if (typeof geo === "string") return refuse(geo);
  const s = channelVector(scale, geo.rank, geo.axis, geo.channels);
  if (typeof s === "string") return refuse(`its scale is not per output channel of \`${producer.name}\` (${geo.format}): ${s}`);
  const t = channelVector(shift, geo.rank, geo.axis, geo.channels);
  if (typeof t === "string") return refuse(`its shift is not per output channel of \`${producer.name}\` (${geo.format}): ${t}`);
  let b: Float64Array = new Float64Array(geo.channels);
  if (biasOp && biasTensor) {
    const value = values.value(biasTensor)!;
    if (biasOp.type === "BiasAdd") {
      const axis = biasOp.attrs.data_format === "NCHW" ? 1 : geo.rank - 1;
      if (axis !== geo.axis) return refuse(`the BiasAdd \`${biasOp.name}\` adds along dimension ${axis}, not along the channels of \`${producer.name}\` (dimension ${geo.axis})`);
      if (value.size !== geo.channels) return refuse(`the bias of \`${producer.name}\` has ${value.size} entries, not ${geo.channels}`);
      b = Float64Array.from(value.data);
    } else {
      const v = channelVector(value, geo.rank, geo.axis, geo.channels);
      if (typeof v === "string") return refuse(`the bias added to \`${producer.name}\` is not per output channel: ${v}`);
      b = v;
    }
  }
  const bias = new Float64Array(geo.channels);
  for (let c = 0; c < geo.channels; c++) bias[c] = b[c] * s[c] + t[c];
  const scaled = scaleWeights(producer, w, s);
  return { plan: { producer, biasOp, weights: float32Array(scaled, w.shape), bias, dataFormat: geo.format } };
}
