/**
 * Sequences of numbers: Range (TF's sequence_ops) and Cumsum (scan_ops).
 *
 *   Range(start, limit, delta)       [start, start + delta, ...) up to limit, dtype Tidx
 *   Cumsum(x, axis)                  running sums along axis; `exclusive` shifts by one
 *                                    (starting at 0), `reverse` sums from the end
 *
 * Kernels accumulate as TF's do, in the output's dtype: each Range value is the previous one
 * plus delta, each running sum the previous one plus the next element, rounded to float32
 * at every step (float64 under highPrecision).
 */
import type { DType } from "../dtype";
import { Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp, type TensorSpec } from "../registry";
import { formatShape, normalizeAxis, sizeOf } from "../shape";
import { convertToTensor, graphOf, type TensorLike } from "./build";
import { buildOp, fail, requireInt32 } from "./array/common";
import { cast } from "./array/reshape";

// ---- Range ----

/** The most elements a Range may have (an int32 length, as foldflow's arrays have). */
const MAX_RANGE = 2147483647;
const RANGE_ARGS = ["start", "limit", "delta"] as const;

function checkRangeInputs(inputs: TensorSpec[], dtype: DType, node: string): void {
  if (dtype !== "float32" && dtype !== "int32")
    fail(node, { code: "bad-dtype", message: `Range's Tidx must be float32 or int32`, expected: "float32 or int32", received: dtype, fix: "build the range in float32 or int32" });
  inputs.forEach((spec, i) => {
    if (spec.dtype !== dtype)
      fail(node, {
        code: "dtype-mismatch",
        message: `Range's ${RANGE_ARGS[i]} is ${spec.dtype} but its Tidx is ${dtype}`,
        expected: dtype,
        received: spec.dtype,
        fix: `cast ${RANGE_ARGS[i]}: tf.cast(${RANGE_ARGS[i]}, "${dtype}")`,
      });
    const s = spec.shape;
    if (s !== null && !(s.length === 0 || (s.length === 1 && (s[0] === 1 || s[0] === null))))
      fail(node, {
        code: "bad-rank",
        message: `Range's ${RANGE_ARGS[i]} must be a scalar, not shape ${formatShape(s)}`,
        expected: "a scalar",
        received: formatShape(s),
        fix: `pass one number for ${RANGE_ARGS[i]}`,
      });
  });
}

/** The number of elements of a range, with TF's checks (delta != 0, limit on delta's side of start). */
function rangeSize(start: number, limit: number, delta: number, dtype: DType, node: string): number {
  const bad = (message: string, expected: string) =>
    fail(node, { code: "bad-range", message, expected, received: `start ${start}, limit ${limit}, delta ${delta}`, fix: "pass a delta that goes from start toward limit" });
  if (![start, limit, delta].every(Number.isFinite)) bad("Range's start, limit and delta must be finite", "finite numbers");
  if (delta === 0) bad("Range requires delta != 0", "delta != 0");
  if (delta > 0 && start > limit) bad(`Range requires start <= limit when delta > 0: ${start}/${limit}`, "start <= limit");
  if (delta < 0 && start < limit) bad(`Range requires start >= limit when delta < 0: ${start}/${limit}`, "start >= limit");
  const size =
    dtype === "int32"
      ? Math.floor((Math.abs(limit - start) + Math.abs(delta) - 1) / Math.abs(delta))
      : Math.ceil(Math.abs(Math.fround(Math.fround(limit - start) / delta)));
  if (size > MAX_RANGE)
    fail(node, {
      code: "range-too-large",
      message: `Range would have ${size} elements, more than foldflow's arrays hold (${MAX_RANGE})`,
      expected: `at most ${MAX_RANGE} elements`,
      received: String(size),
      fix: "use a larger delta or a smaller interval",
    });
  return size;
}

registerOp({
  type: "Range",
  inputs: 3,
  attrs: { Tidx: { kind: "type", default: "int32" } },
  nonDifferentiable: true,
  infer: (inputs, attrs, node) => {
    const dtype = attrs.Tidx as DType;
    checkRangeInputs(inputs, dtype, node);
    const values = inputs.map((s) => (s.value && s.value.size === 1 ? s.value.data[0] : undefined));
    if (values.some((v) => v === undefined)) return [{ dtype, shape: [null] }];
    const [start, limit, delta] = values as number[];
    return [{ dtype, shape: [rangeSize(start, limit, delta, dtype, node)] }];
  },
  kernel: (inputs, attrs, ctx) => {
    const dtype = attrs.Tidx as DType;
    checkRangeInputs(inputs, dtype, ctx.node);
    inputs.forEach((a, i) => {
      if (a.size !== 1)
        fail(ctx.node, { code: "bad-rank", message: `Range's ${RANGE_ARGS[i]} must be a scalar, not shape ${formatShape(a.shape)}`, expected: "a scalar", received: formatShape(a.shape), fix: `pass one number for ${RANGE_ARGS[i]}` });
    });
    const [start, limit, delta] = inputs.map((a) => a.data[0]);
    const size = rangeSize(start, limit, delta, dtype, ctx.node);
    const out = ctx.alloc(dtype, size);
    if (size > 0) out[0] = start;
    for (let i = 1; i < size; i++) out[i] = out[i - 1] + delta;
    return [new NDArray(dtype, [size], out)];
  },
});

/** The dtype TF1's `tf.range` gives an argument: a tensor's own, int32 for an integer literal, else float32. */
function argDType(v: TensorLike): DType {
  if (v instanceof Tensor || v instanceof NDArray) return v.dtype;
  if (typeof v === "number") return Number.isInteger(v) ? "int32" : "float32";
  if (v instanceof Int32Array) return "int32";
  return "float32";
}

/**
 * `tf.range(start, limit?, delta = 1, dtype?)`: with one argument, `[0, start)`. Without
 * `dtype`, the widest of the arguments' dtypes (int32 < float32) as in TF1; a JS number is an
 * int32 when it is an integer (write `tf.range(0, 5, 1, "float32")` for TF's `tf.range(5.0)`).
 */
export function range(start: TensorLike, limit?: TensorLike | null, delta: TensorLike = 1, dtype?: DType, name = "range"): Tensor {
  const args: TensorLike[] = limit === undefined || limit === null ? [0, start, delta] : [start, limit, delta];
  const g = graphOf(args);
  const types = args.map(argDType);
  const target: DType = dtype ?? (types.includes("float32") ? "float32" : types.every((t) => t === "int32") ? "int32" : types.find((t) => t !== "int32")!);
  return g.nameScope(name, () => {
    const scope = g.nameScopeValue;
    const tensors = args.map((v, i) => {
      // Literals become Consts of the range's dtype (never narrowing: it is the widest), so that
      // the shape stays static; tensors are cast to it (an explicit dtype must be theirs already).
      if (!(v instanceof Tensor)) return convertToTensor(v, target, RANGE_ARGS[i], g);
      return dtype === undefined ? cast(v, target) : convertToTensor(v, dtype, RANGE_ARGS[i], g);
    });
    return g.addOp({ type: "Range", name: scope, absoluteName: true, inputs: tensors, attrs: { Tidx: target } }).outputs[0];
  });
}

// ---- Cumsum ----

function checkScanInputs(x: TensorSpec, axis: TensorSpec, node: string): void {
  if (x.dtype !== "float32" && x.dtype !== "int32")
    fail(node, { code: "bad-dtype", message: `Cumsum does not accept ${x.dtype} inputs`, expected: "float32 or int32", received: x.dtype, fix: 'cast the input first, e.g. tf.cast(x, "float32")' });
  requireInt32(axis, "Cumsum", "axis", node);
  const s = axis.shape;
  if (s !== null && s.length !== 0)
    fail(node, { code: "bad-rank", message: `Cumsum's axis must be a scalar, not shape ${formatShape(s)}`, expected: "a scalar", received: formatShape(s), fix: "pass one axis" });
}

registerOp({
  type: "Cumsum",
  inputs: 2,
  attrs: { exclusive: { kind: "bool", default: false }, reverse: { kind: "bool", default: false } },
  infer: ([x, axis], _, node) => {
    checkScanInputs(x, axis, node);
    if (axis.value && x.shape !== null) normalizeAxis(axis.value.data[0], x.shape.length, node);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  kernel: ([x, axisArray], attrs, ctx) => {
    checkScanInputs(x, axisArray, ctx.node);
    const axis = normalizeAxis(axisArray.data[0], x.rank, ctx.node);
    const n = x.shape[axis];
    const inner = sizeOf(x.shape.slice(axis + 1));
    const outer = sizeOf(x.shape.slice(0, axis));
    const out = ctx.alloc(x.dtype, x.size);
    const src = x.data;
    const exclusive = attrs.exclusive === true;
    const reverse = attrs.reverse === true;
    const wrap = x.dtype === "int32";
    for (let o = 0; o < outer; o++)
      for (let i = 0; i < inner; i++) {
        const base = o * n * inner + i;
        let prev = -1;
        for (let step = 0; step < n; step++) {
          const k = reverse ? n - 1 - step : step;
          const at = base + k * inner;
          // The running sum so far, plus this element unless exclusive (then the previous one).
          const last = prev < 0 ? 0 : out[prev];
          const add = exclusive ? (prev < 0 ? 0 : src[prev]) : src[at];
          out[at] = wrap ? (last + add) | 0 : last + add;
          prev = at;
        }
      }
    return [new NDArray(x.dtype, [...x.shape], out)];
  },
  // TF's _CumsumGrad: the sums of dy in the other direction.
  gradient: (op, [dy]) => [
    dy && cumsum(dy, op.inputs[1], op.attrs.exclusive as boolean, !(op.attrs.reverse as boolean)),
    null,
  ],
});

/** `tf.cumsum(x, axis = 0, exclusive = false, reverse = false)`: running sums along `axis`. */
export function cumsum(x: TensorLike, axis: TensorLike = 0, exclusive = false, reverse = false, name = "Cumsum"): Tensor {
  return buildOp("Cumsum", name, [[x, "x"], [axis, "axis", "int32"]], { exclusive, reverse }).outputs[0];
}
