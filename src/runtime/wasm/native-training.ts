/**
 * The training ops a wasm program runs as kernels of its module (NHWC, float32):
 * Conv2DBackpropInput, Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropInput / Filter,
 * MaxPoolGrad, AvgPoolGrad, FusedBatchNorm / V2 / V3 (training and inference; the elementwise
 * chain after y fused into its last pass) and
 * FusedBatchNormGrad / V2 / V3. An instance outside these (NCHW, empty tensors, shapes that must
 * raise TF's error) gives null and runs on the host. With worker threads, a large conv backprop
 * runs in parts: Conv2DBackpropInput by images of the batch, Conv2DBackpropFilter by blocks of
 * input channels (disjoint rows of dw; each part pads x and packs dy into its own scratch).
 */
import type { Operation, Tensor } from "../../../ir/graph";
import { spatialAttr, type Padding } from "../../../ir/ops/pool";
import type { Kernel } from "../../../codegen/wasm/kernels";
import type { Lowering } from "./lower";
import { epilogueKeys, resolveEpilogue, type EpilogueSpec, type NativeKernel } from "./native";
import { PARALLEL_MIN_WORK } from "./split";

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

const BATCH_NORM = new Set(["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"]);
const BATCH_NORM_GRAD = new Set(["FusedBatchNormGrad", "FusedBatchNormGradV2", "FusedBatchNormGradV3"]);

export const isBatchNorm = (type: string) => BATCH_NORM.has(type);

function float32(L: Lowering, tensors: readonly Tensor[]): boolean {
  return tensors.every((t) => L.spec(t).dtype === "float32");
}

/** A kernel with no variables, reading and writing regions by key. */
function kernel(reads: (string | undefined)[], writes: (string | undefined)[], make: (at: (key: string) => number) => Kernel): NativeKernel {
  const defined = (keys: (string | undefined)[]) => keys.filter((k): k is string => k !== undefined);
  return { reads: defined(reads), writes: defined(writes), requires: [], assigns: [], make };
}

/** The region key of an output that something besides `op` reads, else undefined (not stored). */
function outputKey(L: Lowering, op: Operation, t: Tensor): string | undefined {
  return L.neededOutside(t, new Set([op])) ? L.regionOf(t).key : undefined;
}

const offset = (at: (key: string) => number, key: string | undefined) => (key === undefined ? undefined : at(key));

/** Conv2DBackpropInput (sizes, filter, dy) → dx and Conv2DBackpropFilter (x, sizes, dy) → dw. */
function convBackprop(L: Lowering, op: Operation): NativeKernel | null {
  if (op.attrs.data_format !== "NHWC") return null;
  const input = op.type === "Conv2DBackpropInput";
  const [operand, dy] = input ? [op.inputs[1], op.inputs[2]] : [op.inputs[0], op.inputs[2]];
  if (!float32(L, [operand, dy, op.outputs[0]])) return null;
  const xs = input ? L.spec(op.outputs[0]).shape : L.spec(operand).shape;
  const ws = input ? L.spec(operand).shape : L.spec(op.outputs[0]).shape;
  const dys = L.spec(dy).shape;
  if (xs.length !== 4 || ws.length !== 4 || dys.length !== 4) return null;
  const [kH, kW, inC, outC] = ws;
  if (inC !== xs[3]) return null;
  const strides = spatialAttr(op.attrs, "strides", op.type, op.name);
  const dilations = spatialAttr(op.attrs, "dilations", op.type, op.name);
  const geometry = L.W.nhwcGeometry(xs, kH, kW, strides, dilations, op.attrs.padding as Padding, op.name);
  if (!same(dys, [xs[0], geometry.outH, geometry.outW, outC])) return null;
  const [aKey, dyKey, outKey] = [L.regionOf(operand).key, L.regionOf(dy).key, L.regionOf(op.outputs[0]).key];
  const base = { op: op.name, geometry, inC, outC };
  // Stride 1: dx is a conv over dy (outC → inC channels, dx's extent) with the flipped filter, which
  // the kernel rebuilds each run — Winograd (its transform at run time) where the cost rule picks it.
  const transposed = { ...geometry, inH: geometry.outH, inW: geometry.outW, outH: geometry.inH, outW: geometry.inW };
  const winograd = input && geometry.sH === 1 && geometry.sW === 1 ? L.W.planConvFilter(transposed, outC, inC, undefined, "variable").winograd : undefined;
  return kernel([aKey, dyKey], [outKey], (at) =>
    input
      ? { kind: "conv2d-backprop-input", ...base, w: at(aKey), dy: at(dyKey), dx: at(outKey), ...(winograd ? { winograd } : {}) }
      : { kind: "conv2d-backprop-filter", ...base, x: at(aKey), dy: at(dyKey), dw: at(outKey) },
  );
}

/** DepthwiseConv2dNativeBackpropInput (sizes, filter, dy) → dx and …BackpropFilter (x, sizes, dy) → dw. */
function depthwiseBackprop(L: Lowering, op: Operation): NativeKernel | null {
  if (op.attrs.data_format !== "NHWC") return null;
  const input = op.type === "DepthwiseConv2dNativeBackpropInput";
  const [operand, dy] = input ? [op.inputs[1], op.inputs[2]] : [op.inputs[0], op.inputs[2]];
  if (!float32(L, [operand, dy, op.outputs[0]])) return null;
  const xs = input ? L.spec(op.outputs[0]).shape : L.spec(operand).shape;
  const ws = input ? L.spec(operand).shape : L.spec(op.outputs[0]).shape;
  if (xs.length !== 4 || ws.length !== 4) return null;
  const [kH, kW, channels, multiplier] = ws;
  if (channels !== xs[3] || channels === 0 || multiplier === 0) return null;
  const strides = spatialAttr(op.attrs, "strides", op.type, op.name);
  const dilations = spatialAttr(op.attrs, "dilations", op.type, op.name);
  const geometry = L.W.nhwcGeometry(xs, kH, kW, strides, dilations, op.attrs.padding as Padding, op.name);
  if (!same(L.spec(dy).shape, [xs[0], geometry.outH, geometry.outW, channels * multiplier])) return null;
  const [aKey, dyKey, outKey] = [L.regionOf(operand).key, L.regionOf(dy).key, L.regionOf(op.outputs[0]).key];
  const base = { op: op.name, geometry, channels, multiplier };
  return kernel([aKey, dyKey], [outKey], (at) =>
    input
      ? { kind: "depthwise-backprop-input", ...base, w: at(aKey), dy: at(dyKey), dx: at(outKey) }
      : { kind: "depthwise-backprop-filter", ...base, x: at(aKey), dy: at(dyKey), dw: at(outKey) },
  );
}

/** MaxPoolGrad (x, y, dy) and AvgPoolGrad (sizes, dy) → dx. */
function poolGrad(L: Lowering, op: Operation): NativeKernel | null {
  if (op.attrs.data_format !== "NHWC") return null;
  const max = op.type === "MaxPoolGrad";
  const dy = max ? op.inputs[2] : op.inputs[1];
  const dx = op.outputs[0];
  if (!float32(L, max ? [op.inputs[0], dy, dx] : [dy, dx])) return null;
  const xs = L.spec(dx).shape;
  if (xs.length !== 4 || (max && !same(L.spec(op.inputs[0]).shape, xs))) return null;
  const [kH, kW] = spatialAttr(op.attrs, "ksize", op.type, op.name);
  const strides = spatialAttr(op.attrs, "strides", op.type, op.name);
  const geometry = L.W.nhwcGeometry(xs, kH, kW, strides, [1, 1], op.attrs.padding as Padding, op.name);
  if (!same(L.spec(dy).shape, [xs[0], geometry.outH, geometry.outW, xs[3]])) return null;
  const xKey = max ? L.regionOf(op.inputs[0]).key : undefined;
  const [dyKey, dxKey] = [L.regionOf(dy).key, L.regionOf(dx).key];
  return kernel([xKey, dyKey], [dxKey], (at) => ({
    kind: "pool-grad", op: op.name, type: max ? "MaxPoolGrad" : "AvgPoolGrad", geometry, channels: xs[3], x: offset(at, xKey) ?? 0, dy: at(dyKey), dx: at(dxKey),
  }));
}

/** [pixels, channels] of an NHWC float32 tensor whose per-channel vectors `vectors` have C entries; null when not covered. */
function channelsView(L: Lowering, x: Tensor, vectors: readonly Tensor[]): { pixels: number; channels: number } | null {
  const xs = L.spec(x).shape;
  if (xs.length !== 4 || !float32(L, [x, ...vectors])) return null;
  const channels = xs[3];
  const pixels = xs[0] * xs[1] * xs[2];
  if (pixels === 0 || channels === 0 || !vectors.every((v) => same(L.spec(v).shape, [channels]))) return null;
  return { pixels, channels };
}

/** FusedBatchNorm / V2 / V3 storing `out` (y after `epilogue`); null when not covered. */
export function batchNormKernel(L: Lowering, op: Operation, epilogue: readonly EpilogueSpec[], out: Tensor): NativeKernel | null {
  if (!BATCH_NORM.has(op.type) || op.attrs.data_format !== "NHWC") return null;
  const [x, scale, offsetT, mean, variance] = op.inputs;
  const training = op.attrs.is_training as boolean;
  const factor = op.attrs.exponential_avg_factor as number;
  const statistics = !training || factor !== 1;
  const view = channelsView(L, x, statistics ? [scale, offsetT, mean, variance] : [scale, offsetT]);
  if (!view || !float32(L, [out]) || !same(L.spec(out).shape, L.spec(x).shape)) return null;
  const key = (t: Tensor) => L.regionOf(t).key;
  const inputs = { x: key(x), scale: key(scale), offset: key(offsetT), mean: statistics ? key(mean) : undefined, variance: statistics ? key(variance) : undefined };
  const [y, batchMean, batchVariance, reserve1, reserve2, reserve3] = op.outputs;
  const outputs = {
    y: epilogue.length > 0 ? key(out) : outputKey(L, op, y),
    batchMean: outputKey(L, op, batchMean),
    batchVariance: outputKey(L, op, batchVariance),
    reserve1: outputKey(L, op, reserve1),
    reserve2: outputKey(L, op, reserve2),
    reserve3: reserve3 ? outputKey(L, op, reserve3) : undefined,
  };
  return kernel([...Object.values(inputs), ...epilogueKeys(epilogue)], Object.values(outputs), (at) => ({
    kind: "batch-norm",
    op: op.name,
    ...view,
    training,
    epsilon: op.attrs.epsilon as number,
    exponentialAvgFactor: factor,
    x: at(inputs.x),
    scale: at(inputs.scale),
    offset: at(inputs.offset),
    mean: offset(at, inputs.mean),
    variance: offset(at, inputs.variance),
    y: offset(at, outputs.y),
    batchMean: offset(at, outputs.batchMean),
    batchVariance: offset(at, outputs.batchVariance),
    reserve1: offset(at, outputs.reserve1),
    reserve2: offset(at, outputs.reserve2),
    reserve3: offset(at, outputs.reserve3),
    epilogue: resolveEpilogue(epilogue, at),
  }));
}

/** FusedBatchNormGrad / V2 / V3 (dy, x, scale, reserve_space_1, reserve_space_2) → dx, scale and offset backprops. */
function batchNormGrad(L: Lowering, op: Operation): NativeKernel | null {
  if (op.attrs.data_format !== "NHWC") return null;
  const [dy, x, scale, mean, variance] = op.inputs;
  const view = channelsView(L, x, [scale, mean, variance]);
  if (!view || !float32(L, [dy]) || !same(L.spec(dy).shape, L.spec(x).shape)) return null;
  const key = (t: Tensor) => L.regionOf(t).key;
  const inputs = [dy, x, scale, mean, variance].map(key);
  const [dx, dScale, dOffset, ...empty] = op.outputs.map((t) => outputKey(L, op, t));
  return kernel(inputs, [dx, dScale, dOffset, ...empty], (at) => ({
    kind: "batch-norm-grad",
    op: op.name,
    ...view,
    training: op.attrs.is_training as boolean,
    epsilon: op.attrs.epsilon as number,
    dy: at(inputs[0]),
    x: at(inputs[1]),
    scale: at(inputs[2]),
    mean: at(inputs[3]),
    variance: at(inputs[4]),
    dx: offset(at, dx),
    dScale: offset(at, dScale),
    dOffset: offset(at, dOffset),
  }));
}

/** The kernel of a training op, null when the op is not one or the instance is not covered; undefined for other ops. */
export function trainingKernel(L: Lowering, op: Operation): NativeKernel | null | undefined {
  switch (op.type) {
    case "Conv2DBackpropInput":
    case "Conv2DBackpropFilter":
      return convBackprop(L, op);
    case "DepthwiseConv2dNativeBackpropInput":
    case "DepthwiseConv2dNativeBackpropFilter":
      return depthwiseBackprop(L, op);
    case "MaxPoolGrad":
    case "AvgPoolGrad":
      return poolGrad(L, op);
  }
  if (BATCH_NORM.has(op.type)) return batchNormKernel(L, op, [], op.outputs[0]);
  if (BATCH_NORM_GRAD.has(op.type)) return batchNormGrad(L, op);
  return undefined;
}

/** The range [first, first + count) of `total` items that part `j` of `parts` takes, in units of `unit` items. */
function range(total: number, parts: number, j: number, unit = 1): { first: number; count: number } {
  const units = Math.ceil(total / unit);
  const base = Math.floor(units / parts);
  const extra = units % parts;
  const first = (j * base + Math.min(j, extra)) * unit;
  return { first, count: Math.min(total, first + (base + (j < extra ? 1 : 0)) * unit) - first };
}

/** Channels per part of a split Conv2DBackpropFilter: the register tile's rows. */
const CHANNEL_UNIT = 4;

/** Into how many parts a training kernel (probed at offset 0) goes for `threads` threads; undefined for other kernels. */
export function trainingParts(k: Kernel, threads: number): number | undefined {
  if (k.kind !== "conv2d-backprop-input" && k.kind !== "conv2d-backprop-filter") return undefined;
  const g = k.geometry;
  if (threads <= 1 || g.batch * g.outH * g.outW * g.kH * g.kW * k.inC * k.outC < PARALLEL_MIN_WORK) return 1;
  return Math.max(1, Math.min(threads, k.kind === "conv2d-backprop-input" ? g.batch : Math.ceil(k.inC / CHANNEL_UNIT)));
}

/** Part `j` of `parts` of a training kernel (offsets placed); undefined for other kernels. */
export function trainingPartOf(k: Kernel, parts: number, j: number): Kernel | undefined {
  if (k.kind === "conv2d-backprop-input") {
    const g = k.geometry;
    const { first, count } = range(g.batch, parts, j);
    return { ...k, geometry: { ...g, batch: count }, dy: k.dy + first * g.outH * g.outW * k.outC * 4, dx: k.dx + first * g.inH * g.inW * k.inC * 4 };
  }
  if (k.kind === "conv2d-backprop-filter") return { ...k, channels: range(k.inC, parts, j, CHANNEL_UNIT) };
  return undefined;
}
