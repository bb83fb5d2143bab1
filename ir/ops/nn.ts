/**
 * Neural-network ops: Softmax and LogSoftmax (last axis, max-shifted), BiasAdd / BiasAddGrad
 * (`data_format` NHWC or NCHW), and the `tf.nn` builders softmax, logSoftmax, biasAdd and dropout.
 * Gradient rules are TF's nn_grad.py ones. The cross-entropy ops live in ./cross-entropy.
 */
import type { DType } from "../dtype";
import { invalidArgument } from "../diagnostics";
import type { Graph, Operation, Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp, type Attrs, type GradientRule, type KernelContext, type TensorSpec } from "../registry";
import { formatShape, normalizeAxis, type MaybeShape } from "../shape";
import { apply1, constantOp, convertToTensor, graphOf, type TensorLike } from "./build";
import { expandDims, shape, slice, transpose, zerosLike } from "./array";
import { add, div, exp, floor, mul, sub } from "./elementwise";
import { opSeeds } from "./random";
import { reduceSum } from "./reduce";

// Helpers shared with ./cross-entropy.

export const NUMERIC: readonly DType[] = ["float32", "int32"];

export function requireDType(type: string, what: string, spec: TensorSpec, allowed: readonly DType[], node: string): void {
  if (!allowed.includes(spec.dtype))
    throw invalidArgument({
      code: "bad-dtype",
      node,
      message: `the ${what} of ${type} must be ${allowed.join(" or ")}`,
      expected: allowed.join(" or "),
      received: spec.dtype,
      fix: `cast it first, e.g. tf.cast(${what}, "${allowed[0]}")`,
    });
}

export function requireRank(type: string, what: string, shape: MaybeShape, test: (rank: number) => boolean, wanted: string, node: string): void {
  if (shape !== null && !test(shape.length))
    throw invalidArgument({
      code: "bad-rank",
      node,
      message: `the ${what} of ${type} must be ${wanted}`,
      expected: wanted,
      received: `shape ${formatShape(shape)}`,
      fix: `reshape the ${what} (tf.reshape) to ${wanted}`,
    });
}

/** Two static dims that must agree: the known one, or a diagnostic naming `node`. */
export function mergeDim(a: number | null, b: number | null, node: string, message: string, shapes: string): number | null {
  if (a !== null && b !== null && a !== b)
    throw invalidArgument({ code: "incompatible-shapes", node, message, expected: "matching dimensions", received: shapes, fix: "pass tensors whose shapes agree" });
  return a ?? b;
}

/** A runtime shape check for kernels fed dynamic shapes. */
export function runtimeCheck(ok: boolean, ctx: KernelContext, message: string, received: string): void {
  if (!ok) throw invalidArgument({ code: "incompatible-shapes", node: ctx.node, message, received, fix: "feed tensors whose shapes agree" });
}

/** A rule for a single-output op: `dy` is never null when the driver calls it. */
export function rule(math: (dy: Tensor, op: Operation) => (Tensor | null)[]): GradientRule {
  return (op, [dy]) => (dy ? math(dy, op) : op.inputs.map(() => null));
}

export function int32Const(values: readonly number[], graph: Graph, name: string): Tensor {
  return constantOp(new NDArray("int32", [values.length], Int32Array.from(values)), name, graph);
}

/** `t` with a trailing axis of 1 (TF's expand_dims(t, -1)). */
export function expandLast(t: Tensor): Tensor {
  return expandDims(t, -1);
}

// ---------------------------------------------------------------------------------------------
// Softmax, LogSoftmax.

/** Row-wise over the last axis: each row shifted by its max, then exp / sum or shifted - log(sum). */
function softmaxRows(x: NDArray, ctx: KernelContext, logarithm: boolean): NDArray {
  const n = x.shape[x.rank - 1];
  const out = ctx.alloc(x.dtype, x.size);
  const src = x.data;
  for (let start = 0; n > 0 && start < x.size; start += n) {
    let max = -Infinity;
    for (let j = start; j < start + n; j++) if (src[j] > max) max = src[j];
    let sum = 0;
    for (let j = start; j < start + n; j++) sum += Math.exp(src[j] - max);
    const logSum = Math.log(sum);
    for (let j = start; j < start + n; j++) out[j] = logarithm ? src[j] - max - logSum : Math.exp(src[j] - max) / sum;
  }
  return new NDArray(x.dtype, [...x.shape], out);
}

for (const [type, logarithm] of [["Softmax", false], ["LogSoftmax", true]] as const)
  registerOp({
    type,
    inputs: 1,
    infer: ([logits], _, node) => {
      requireDType(type, "logits", logits, ["float32"], node);
      requireRank(type, "logits", logits.shape, (r) => r >= 1, "of rank 1 or more", node);
      return [logits];
    },
    kernel: ([x], _, ctx) => [softmaxRows(x, ctx, logarithm)],
    gradient: logarithm
      ? rule((dy, op) => [sub(dy, mul(reduceSum(dy, -1, true), exp(op.outputs[0])))])
      : rule((dy, op) => {
          const y = op.outputs[0];
          return [mul(sub(dy, reduceSum(mul(dy, y), -1, true)), y)];
        }),
  });

// ---------------------------------------------------------------------------------------------
// BiasAdd, BiasAddGrad.

const dataFormat = { data_format: { kind: "string" as const, default: "NHWC", oneOf: ["NHWC", "NCHW"] } };

/** The channel axis: last for NHWC, 1 for NCHW (TF's BiasAdd for every rank). */
const channelAxis = (rank: number, attrs: Attrs) => (attrs.data_format === "NCHW" ? 1 : rank - 1);

registerOp({
  type: "BiasAdd",
  inputs: 2,
  attrs: dataFormat,
  infer: ([value, bias], attrs, node) => {
    requireDType("BiasAdd", "value", value, NUMERIC, node);
    requireDType("BiasAdd", "bias", bias, [value.dtype], node);
    requireRank("BiasAdd", "bias", bias.shape, (r) => r === 1, "a vector (rank 1)", node);
    requireRank("BiasAdd", "value", value.shape, (r) => r >= 2, "of rank 2 or more", node);
    if (value.shape === null) return [{ dtype: value.dtype, shape: null }];
    const axis = channelAxis(value.shape.length, attrs);
    const shape = [...value.shape];
    shape[axis] = mergeDim(
      value.shape[axis],
      bias.shape?.[0] ?? null,
      node,
      `BiasAdd needs as many biases as the channel dimension (axis ${axis}, ${attrs.data_format as string}) of the value`,
      `value ${formatShape(value.shape)}, bias ${formatShape(bias.shape)}`,
    );
    return [{ dtype: value.dtype, shape }];
  },
  kernel: ([value, bias], attrs, ctx) => {
    const axis = channelAxis(value.rank, attrs);
    const channels = value.shape[axis];
    runtimeCheck(bias.size === channels, ctx, `BiasAdd needs ${channels} biases`, `${bias.size}`);
    let inner = 1;
    for (let d = axis + 1; d < value.rank; d++) inner *= value.shape[d];
    const out = ctx.alloc(value.dtype, value.size);
    for (let i = 0; i < out.length; i++) out[i] = value.data[i] + bias.data[Math.floor(i / inner) % channels];
    if (value.dtype === "int32") for (let i = 0; i < out.length; i++) out[i] |= 0;
    return [new NDArray(value.dtype, [...value.shape], out)];
  },
  gradient: rule((dy, op) => [dy, apply1("BiasAddGrad", [dy], { data_format: op.attrs.data_format }, "BiasAddGrad")]),
});

registerOp({
  type: "BiasAddGrad",
  inputs: 1,
  attrs: dataFormat,
  infer: ([grad], attrs, node) => {
    requireDType("BiasAddGrad", "out_backprop", grad, NUMERIC, node);
    requireRank("BiasAddGrad", "out_backprop", grad.shape, (r) => r >= 2, "of rank 2 or more", node);
    return [{ dtype: grad.dtype, shape: grad.shape === null ? [null] : [grad.shape[channelAxis(grad.shape.length, attrs)]] }];
  },
  kernel: ([grad], attrs, ctx) => {
    const axis = channelAxis(grad.rank, attrs);
    const channels = grad.shape[axis];
    let inner = 1;
    for (let d = axis + 1; d < grad.rank; d++) inner *= grad.shape[d];
    const sums = new Float64Array(channels);
    for (let i = 0; i < grad.size; i++) sums[Math.floor(i / inner) % channels] += grad.data[i];
    const out = ctx.alloc(grad.dtype, channels);
    for (let c = 0; c < channels; c++) out[c] = sums[c];
    return [new NDArray(grad.dtype, [channels], out)];
  },
  // d(BiasAddGrad)/d(out_backprop) broadcasts the channel gradient back: BiasAdd onto zeros.
  gradient: rule((dy, op) => [apply1("BiasAdd", [zerosLike(op.inputs[0]), dy], { data_format: op.attrs.data_format }, "BiasAdd")]),
});

// ---------------------------------------------------------------------------------------------
// Builders (tf.nn.*).

/** `t` with `axis` and the last axis swapped (TF's _swap_axis). */
export function swapWithLast(t: Tensor, axis: number, name: string): Tensor {
  const rank = t.rank!;
  const perm = [...Array(rank).keys()];
  [perm[axis], perm[rank - 1]] = [rank - 1, axis];
  return transpose(t, perm, name);
}

/** TF's _softmax: the op on the last axis, or between two transposes for another axis. */
function softmaxAlong(type: "Softmax" | "LogSoftmax", logits: TensorLike, axis: number, name: string): Tensor {
  const t = convertToTensor(logits, undefined, "logits", graphOf([logits]));
  if (axis === -1 || (t.rank !== null && axis === t.rank - 1)) return apply1(type, [t], {}, name);
  if (t.rank === null)
    throw invalidArgument({
      code: "unknown-rank",
      node: name,
      message: `${type} along axis ${axis} needs logits of known rank`,
      received: "a tensor of unknown rank",
      fix: "give the logits a static rank (placeholder with a shape) or use axis -1",
    });
  const a = normalizeAxis(axis, t.rank, name);
  return swapWithLast(apply1(type, [swapWithLast(t, a, "transpose")], {}, type), a, name);
}

/** `tf.nn.softmax(logits, axis = -1, name?)`. */
export function softmax(logits: TensorLike, axis = -1, name = "Softmax"): Tensor {
  return softmaxAlong("Softmax", logits, axis, name);
}

/** `tf.nn.logSoftmax(logits, axis = -1, name?)`. */
export function logSoftmax(logits: TensorLike, axis = -1, name = "LogSoftmax"): Tensor {
  return softmaxAlong("LogSoftmax", logits, axis, name);
}

/** `tf.nn.biasAdd(value, bias, dataFormat = "NHWC", name?)`: bias over the channel axis. */
export function biasAdd(value: TensorLike, bias: TensorLike, dataFormat: "NHWC" | "NCHW" = "NHWC", name = "BiasAdd"): Tensor {
  return apply1("BiasAdd", [value, bias], { data_format: dataFormat }, name);
}

/** Runs `fn` in name scope `name` and gives it the scope's path, which names the main op like TF. */
export function inScope<T>(g: Graph, name: string, fn: (scope: string) => T): T {
  return g.nameScope(name, () => fn(g.nameScopeValue));
}

/** Dims [from, to) of `t`'s shape: a Const when static, else a slice of Shape(t). */
export function dynamicShape(t: Tensor, from: number, to: number): Tensor {
  if (t.shape !== null && t.shape.slice(from, to).every((d) => d !== null)) return int32Const(t.shape.slice(from, to) as number[], t.graph, "Const");
  return slice(shape(t), [from], [to - from]);
}

export interface DropoutOptions {
  /** The probability to keep each element (TF1); or give `rate` = 1 - keepProb. */
  keepProb?: number | Tensor;
  rate?: number | Tensor;
  /** The shape of the keep mask, broadcast against x ([batch, 1] keeps whole rows); null dims take x's. */
  noiseShape?: (number | null)[] | Tensor;
  seed?: number;
  name?: string;
}

/**
 * `tf.nn.dropout(x, { keepProb | rate, noiseShape?, seed?, name? })`, TF1's graph:
 * floor(keep_prob + RandomUniform(noise_shape)) masks x / keep_prob.
 */
export function dropout(x: TensorLike, options: DropoutOptions = {}): Tensor {
  const g = graphOf([x, options.keepProb, options.rate]);
  return inScope(g, options.name ?? "dropout", (scope) => {
    const fail = (message: string, received: string, fix: string) => invalidArgument({ code: "bad-dropout", node: scope, message, received, fix });
    if (options.keepProb !== undefined && options.rate !== undefined) throw fail("cannot specify both keepProb and rate", "both", "pass only rate (= 1 - keepProb)");
    if (options.keepProb === undefined && options.rate === undefined) throw fail("you must provide a rate (or keepProb) to dropout", "neither", "pass { rate: 0.5 } or { keepProb: 0.5 }");
    const tx = convertToTensor(x, undefined, "x", g);
    if (tx.dtype !== "float32")
      throw fail("x has to be a floating point tensor since it is going to be scaled", tx.dtype, `cast it: tf.cast(x, "float32")`);
    const keep = options.keepProb ?? (typeof options.rate === "number" ? 1 - options.rate : sub(1, options.rate!, "sub"));
    if (typeof keep === "number") {
      if (!(keep > 0 && keep <= 1)) throw fail("keepProb must be in (0, 1] (rate in [0, 1))", String(keep), "pass a keep probability above 0 and at most 1");
      if (keep === 1) return tx;
    }
    const keepProb = convertToTensor(keep, "float32", "keep_prob", g);
    if (keepProb.rank !== null && keepProb.rank !== 0) throw fail("keepProb must be a scalar", formatShape(keepProb.shape), "pass a number or a scalar tensor");
    const noiseShape = noiseShapeTensor(tx, options.noiseShape, scope);
    const random = inScope(g, "random_uniform", () => {
      const { seed, seed2 } = opSeeds(options.seed);
      return g.addOp({ type: "RandomUniform", name: "RandomUniform", inputs: [noiseShape], attrs: { dtype: "float32", seed, seed2 } }).outputs[0];
    });
    const binaryTensor = floor(add(keepProb, random, "add"), "Floor");
    return mul(div(tx, keepProb, "div"), binaryTensor, "mul");
  });
}

/** TF's _get_noise_shape: x's shape, or `noiseShape` with its unknown dims taken from x. */
function noiseShapeTensor(x: Tensor, noiseShape: DropoutOptions["noiseShape"], node: string): Tensor {
  if (noiseShape === undefined) return shape(x);
  if (!Array.isArray(noiseShape)) return noiseShape;
  const dims = noiseShape.map((d, i) => (d === null && x.shape !== null && x.shape.length === noiseShape.length ? x.shape[i] : d));
  if (dims.some((d) => d === null))
    throw invalidArgument({
      code: "bad-noise-shape",
      node,
      message: "the noise shape has dimensions that x's static shape does not fill",
      received: formatShape(noiseShape),
      fix: "give every dimension of noiseShape, or pass it as an int32 tensor",
    });
  return int32Const(dims as number[], x.graph, "noise_shape");
}
