/**
 * Reductions, table-driven like the elementwise ops: Sum, Mean, Max, Min, Prod, All, Any take
 * (input, reduction_indices) with attr `keep_dims`; ArgMax / ArgMin take (input, dimension).
 * The axes are an int32 tensor as in TF's GraphDef (scalar or vector, negative axes count from
 * the end, an empty list reduces nothing); the builders make it a Const, so shapes infer
 * statically. Kernels accumulate in float64 and round once.
 */
import type { DType } from "../dtype";
import { invalidArgument } from "../diagnostics";
import type { Graph, Operation, Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { broadcastIndex } from "../broadcast";
import { registerOp, type Attrs, type GradientRule, type KernelContext, type TensorSpec } from "../registry";
import { formatShape, isFullyDefined, normalizeAxis, sizeOf, type MaybeShape } from "../shape";
import { apply1, constantOp, convertToTensor, graphOf, type TensorLike } from "./build";
import { add, div, equal, maximum, mul, floorDiv } from "./elementwise";
import { cast, onesLike, reshape, shape } from "./array";
import { rankFromLength, unknownDims } from "./array/common";

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

interface ReduceRow {
  type: string;
  dtypes: readonly DType[];
  init: number;
  step: (acc: number, v: number) => number;
  /** The step for int32 inputs when it differs (products wrap at every step, as TF's do). */
  intStep?: (acc: number, v: number) => number;
  /** The stored value from the accumulator and the number of reduced elements. */
  finish?: (acc: number, count: number, dtype: DType) => number;
  gradient?: GradientRule;
  /** Gradients stop here without an error (All, Any: bool). Prod has no rule yet and errors. */
  nonDifferentiable?: boolean;
}

function dtypeError(type: string, node: string, allowed: readonly DType[], received: DType) {
  return invalidArgument({
    code: "bad-dtype",
    node,
    message: `${type} does not accept ${received} inputs`,
    expected: allowed.join(" or "),
    received,
    fix: `cast the input first, e.g. tf.cast(x, "${allowed[0]}")`,
  });
}

function checkIndexInput(type: string, role: string, spec: TensorSpec, maxRank: number, node: string): void {
  if (spec.dtype !== "int32")
    throw invalidArgument({
      code: "bad-dtype",
      node,
      message: `the ${role} of ${type} must be an int32 tensor`,
      expected: "int32",
      received: spec.dtype,
      fix: "pass plain numbers (the builder makes an int32 constant) or tf.cast(axis, \"int32\")",
    });
  if (spec.shape !== null && spec.shape.length > maxRank)
    throw invalidArgument({
      code: "bad-axis",
      node,
      message: `the ${role} of ${type} must be ${maxRank === 0 ? "a scalar" : "a scalar or a vector"}`,
      expected: maxRank === 0 ? "rank 0" : "rank 0 or 1",
      received: `shape ${formatShape(spec.shape)}`,
      fix: maxRank === 0 ? "pass one axis" : "pass a list of axes",
    });
}

/** Normalized, sorted, de-duplicated axes; throws naming `node` when one is out of range. */
function resolveAxes(axes: ArrayLike<number>, rank: number, node: string): number[] {
  const set = new Set<number>();
  for (let i = 0; i < axes.length; i++) set.add(normalizeAxis(axes[i], rank, node));
  return [...set].sort((a, b) => a - b);
}

/** The static output shape of a reduction over `axes` (undefined: not known statically). */
function reducedShape(x: MaybeShape, axes: ArrayLike<number> | undefined, keepDims: boolean, node: string): MaybeShape {
  if (x === null) return null;
  if (axes === undefined) return keepDims ? x.map(() => null) : null;
  const set = new Set(resolveAxes(axes, x.length, node));
  return keepDims ? x.map((d, i) => (set.has(i) ? 1 : d)) : x.filter((_, i) => !set.has(i));
}

function reduceKernel(row: ReduceRow) {
  return ([x, axesArray]: NDArray[], attrs: Attrs, ctx: KernelContext): NDArray[] => {
    const axes = new Set(resolveAxes(axesArray.data, x.rank, ctx.node));
    const kept = x.shape.map((d, i) => (axes.has(i) ? 1 : d));
    const outShape = attrs.keep_dims ? kept : x.shape.filter((_, i) => !axes.has(i));
    const size = sizeOf(kept);
    const count = size === 0 ? 0 : x.size / size;
    const acc = new Float64Array(size).fill(row.init);
    const index = broadcastIndex(kept, x.shape);
    const src = x.data;
    const step = x.dtype === "int32" && row.intStep ? row.intStep : row.step;
    if (index === null) for (let i = 0; i < src.length; i++) acc[i] = step(acc[i], src[i]);
    else for (let i = 0; i < src.length; i++) acc[index[i]] = step(acc[index[i]], src[i]);
    const out = ctx.alloc(x.dtype, size);
    for (let i = 0; i < size; i++) out[i] = row.finish ? row.finish(acc[i], count, x.dtype) : acc[i];
    return [new NDArray(x.dtype, outShape, out)];
  };
}

function registerReduce(row: ReduceRow): void {
  registerOp({
    type: row.type,
    inputs: 2,
    attrs: { keep_dims: { kind: "bool", default: false } },
    infer: ([x, axes], attrs, node) => {
      if (!row.dtypes.includes(x.dtype)) throw dtypeError(row.type, node, row.dtypes, x.dtype);
      checkIndexInput(row.type, "reduction_indices", axes, 1, node);
      return [{ dtype: x.dtype, shape: reducedShape(x.shape, axes.value?.data, attrs.keep_dims as boolean, node) }];
    },
    kernel: reduceKernel(row),
    gradient: row.gradient,
    nonDifferentiable: row.nonDifferentiable,
  });
}

const extremum = (max: boolean) => (acc: number, _: number, dtype: DType) =>
  dtype === "int32" && !Number.isFinite(acc) ? (max ? INT32_MIN : INT32_MAX) : acc;

// ---------------------------------------------------------------------------------------------
// BroadcastTo (TF's op, which the array family does not define): the Sum/Mean gradients use it.

function broadcastTarget(x: MaybeShape, target: readonly number[], node: string): void {
  const offset = target.length - (x?.length ?? 0);
  const ok = x === null || (offset >= 0 && x.every((d, i) => d === null || d === 1 || d === target[i + offset] || target[i + offset] < 0));
  if (!ok)
    throw invalidArgument({
      code: "incompatible-shapes",
      node,
      message: `BroadcastTo cannot broadcast shape ${formatShape(x)} to ${formatShape([...target])}`,
      expected: `a shape whose dims are 1 or equal to the trailing dims of ${formatShape([...target])}`,
      received: formatShape(x),
      fix: "reshape the input so that each dimension is 1 or the target's",
    });
}

registerOp({
  type: "BroadcastTo",
  inputs: 2,
  infer: ([x, target], _, node) => {
    checkIndexInput("BroadcastTo", "shape", target, 1, node);
    if (target.value) {
      const dims = Array.from(target.value.data);
      broadcastTarget(x.shape, dims, node);
      return [{ dtype: x.dtype, shape: dims }];
    }
    return [{ dtype: x.dtype, shape: unknownDims(rankFromLength(target, "BroadcastTo", "shape", node)) }];
  },
  kernel: ([x, target], _, ctx) => {
    const dims = Array.from(target.data);
    broadcastTarget(x.shape, dims, ctx.node);
    const index = broadcastIndex(x.shape, dims);
    const out = ctx.alloc(x.dtype, sizeOf(dims));
    for (let i = 0; i < out.length; i++) out[i] = x.data[index ? index[i] : i];
    return [new NDArray(x.dtype, dims, out)];
  },
  gradient: (op, [dy]) => [dy && apply1("SumToShape", [dy, shape(op.inputs[0])], {}, "SumToShape"), null],
});

/** `tf.broadcastTo(x, shape)`: repeats x along its size-1 (or missing leading) dimensions. */
export function broadcastTo(x: TensorLike, targetShape: number[] | Tensor, name = "BroadcastTo"): Tensor {
  const g = graphOf([x]);
  const tx = convertToTensor(x, undefined, "input", g);
  const opName = g.uniqueName(name, false);
  const target = Array.isArray(targetShape) ? g.nameScope(`${opName}/`, () => int32Const(targetShape, g, "shape")) : targetShape;
  return apply1("BroadcastTo", [tx, target], {}, name);
}

// ---------------------------------------------------------------------------------------------
// Gradient rules: the graphs TF's math_grad.py builds. Shapes are Consts when static, else
// Shape ops, so that unknown batch dimensions work.

function int32Const(values: readonly number[], graph: Graph, name: string, scalar = false): Tensor {
  return constantOp(new NDArray("int32", scalar ? [] : [values.length], Int32Array.from(values)), name, graph);
}

/** The constant axes of a reduction op, normalized, when its axes input is a Const and x's rank is known. */
function staticAxes(op: Operation): number[] | null {
  const [x, axes] = op.inputs;
  if (x.rank === null || axes.op.type !== "Const") return null;
  return resolveAxes((axes.op.attrs.value as NDArray).data, x.rank, op.name);
}

/** The reduction's output shape with the reduced axes kept as 1 (TF's reduced_shape). */
function keptShape(op: Operation): Tensor {
  const x = op.inputs[0];
  const axes = staticAxes(op);
  if (axes === null) {
    // Unknown rank or run-time axes: the shape of the same reduction with keep_dims.
    return shape(apply1(op.type, [x, op.inputs[1]], { keep_dims: true }, "kept_dims"), "kept_shape");
  }
  const mask = x.shape!.map((_, i) => (axes.includes(i) ? 0 : 1));
  if (isFullyDefined(x.shape)) return int32Const(x.shape.map((d, i) => (mask[i] ? d : 1)), op.graph, "kept_shape");
  const g = op.graph;
  const masked = mul(shape(x), int32Const(mask, g, "kept_mask"));
  return add(masked, int32Const(mask.map((m) => 1 - m), g, "kept_ones"), "kept_shape");
}

/** `t` (an output or output gradient of reduction `op`) reshaped to the kept-dims shape. */
function toKeptDims(t: Tensor, op: Operation, kept: Tensor): Tensor {
  if (op.attrs.keep_dims) return t;
  return reshape(t, kept);
}

function sumGrad(op: Operation, [dy]: (Tensor | null)[]): (Tensor | null)[] {
  if (!dy) return [null, null];
  const kept = keptShape(op);
  return [apply1("BroadcastTo", [toKeptDims(dy, op, kept), shape(op.inputs[0])], {}, "BroadcastTo"), null];
}

/** The number of input elements per output element, as float32 (static when the shapes are). */
function reductionCount(op: Operation): Tensor {
  const x = op.inputs[0];
  const y = op.outputs[0];
  if (isFullyDefined(x.shape) && isFullyDefined(y.shape)) {
    const count = sizeOf(x.shape) / Math.max(sizeOf(y.shape), 1);
    return constantOp(new NDArray("float32", [], Float32Array.of(count)), "count", op.graph);
  }
  const sizeX = reduceProd(shape(x), 0, false, "size_x");
  const sizeY = reduceProd(shape(y), 0, false, "size_y");
  return cast(floorDiv(sizeX, maximum(sizeY, int32Const([1], op.graph, "one", true))), "float32", "count");
}

function meanGrad(op: Operation, grads: (Tensor | null)[]): (Tensor | null)[] {
  const [g] = sumGrad(op, grads);
  return [g && div(g, reductionCount(op), "truediv"), null];
}

/** Max/Min: dy goes to the positions equal to the extremum, split evenly among ties (TF's rule). */
function extremumGrad(op: Operation, [dy]: (Tensor | null)[]): (Tensor | null)[] {
  if (!dy) return [null, null];
  const [x, axes] = op.inputs;
  const kept = keptShape(op);
  const y = toKeptDims(op.outputs[0], op, kept);
  const indicators = cast(equal(y, x), x.dtype);
  const selected = apply1("Sum", [indicators, axes], { keep_dims: true }, "num_selected");
  return [mul(div(indicators, selected), toKeptDims(dy, op, kept)), null];
}

const reduceRows: ReduceRow[] = [
  { type: "Sum", dtypes: ["float32", "int32"], init: 0, step: (a, v) => a + v, gradient: sumGrad },
  {
    type: "Mean",
    dtypes: ["float32", "int32"],
    init: 0,
    step: (a, v) => a + v,
    finish: (acc, count, dtype) => (dtype === "int32" ? (count === 0 ? 0 : Math.trunc((acc | 0) / count)) : acc / count),
    gradient: meanGrad,
  },
  { type: "Max", dtypes: ["float32", "int32"], init: -Infinity, step: (a, v) => (v > a ? v : a), finish: extremum(true), gradient: extremumGrad },
  { type: "Min", dtypes: ["float32", "int32"], init: Infinity, step: (a, v) => (v < a ? v : a), finish: extremum(false), gradient: extremumGrad },
  // Prod has no gradient rule yet (TF's _ProdGrad needs cumprod): differentiating it is an error.
  { type: "Prod", dtypes: ["float32", "int32"], init: 1, step: (a, v) => a * v, intStep: Math.imul },
  { type: "All", dtypes: ["bool"], init: 1, step: (a, v) => (a && v ? 1 : 0), nonDifferentiable: true },
  { type: "Any", dtypes: ["bool"], init: 0, step: (a, v) => (a || v ? 1 : 0), nonDifferentiable: true },
];

for (const row of reduceRows) registerReduce(row);

// ---------------------------------------------------------------------------------------------
// ArgMax / ArgMin: the index of the first extremum along `dimension`.

function registerArg(type: "ArgMax" | "ArgMin", better: (v: number, best: number) => boolean): void {
  registerOp({
    type,
    inputs: 2,
    attrs: { output_type: { kind: "type", default: "int32" } },
    nonDifferentiable: true,
    infer: ([x, dim], attrs, node) => {
      if (x.dtype !== "float32" && x.dtype !== "int32") throw dtypeError(type, node, ["float32", "int32"], x.dtype);
      checkIndexInput(type, "dimension", dim, 0, node);
      if (attrs.output_type !== "int32") throw dtypeError(`${type}'s output_type`, node, ["int32"], attrs.output_type as DType);
      let shape: MaybeShape = null;
      if (x.shape !== null && dim.value) {
        const axis = normalizeAxis(dim.value.data[0], x.shape.length, node);
        shape = x.shape.filter((_, i) => i !== axis);
      } else if (x.shape !== null) shape = new Array<null>(Math.max(x.shape.length - 1, 0)).fill(null);
      return [{ dtype: "int32", shape }];
    },
    kernel: ([x, dim], _, ctx) => {
      const axis = normalizeAxis(dim.data[0], x.rank, ctx.node);
      const n = x.shape[axis];
      const outShape = x.shape.filter((_, i) => i !== axis);
      if (n === 0 && sizeOf(outShape) > 0)
        throw invalidArgument({
          code: "empty-reduction",
          node: ctx.node,
          message: `${type} reduces over axis ${axis}, which is empty in shape ${formatShape(x.shape)}`,
          expected: "a non-empty axis",
          received: formatShape(x.shape),
          fix: "reduce over an axis with at least one element",
        });
      const inner = sizeOf(x.shape.slice(axis + 1));
      const outer = sizeOf(x.shape.slice(0, axis));
      const out = ctx.alloc("int32", outer * inner);
      const src = x.data;
      for (let o = 0; o < outer; o++)
        for (let i = 0; i < inner; i++) {
          const base = o * n * inner + i;
          let best = src[base];
          let at = 0;
          for (let k = 1; k < n; k++) {
            const v = src[base + k * inner];
            if (better(v, best)) {
              best = v;
              at = k;
            }
          }
          out[o * inner + i] = at;
        }
      return [new NDArray("int32", outShape, out)];
    },
  });
}
registerArg("ArgMax", (v, best) => v > best);
registerArg("ArgMin", (v, best) => v < best);

// ---------------------------------------------------------------------------------------------
// Builders.

export type ReductionAxes = number | number[] | Tensor | null;

/** Builds op `type` over x and its axes, naming the axes Const `<op>/reduction_indices` like TF. */
function reduction(type: string, x: TensorLike, axis: ReductionAxes | undefined, attrs: Record<string, boolean | string>, name: string, inputName = "reduction_indices"): Tensor {
  const g = graphOf([x]);
  const tx = convertToTensor(x, undefined, "Const", g);
  let axes: Tensor;
  if (axis !== undefined && axis !== null && typeof axis === "object" && !Array.isArray(axis)) axes = axis;
  else if (axis === undefined || axis === null) {
    if (tx.rank !== null) axes = int32Const(tx.shape!.map((_, i) => i), g, "Const");
    else {
      // Unknown rank: reduce the flattened input; keep_dims reshapes to ones of x's run-time rank.
      const flat = apply1(type, [reshape(tx, [-1]), int32Const([0], g, "Const")], { ...attrs, keep_dims: false }, name);
      return attrs.keep_dims ? reshape(flat, onesLike(shape(tx))) : flat;
    }
  } else {
    const opName = g.uniqueName(name, false);
    axes = g.nameScope(`${opName}/`, () => int32Const(Array.isArray(axis) ? axis : [axis], g, inputName, !Array.isArray(axis)));
  }
  return apply1(type, [tx, axes], attrs, name);
}

/** `tf.reduceSum(x, axis?, keepDims?, name?)`: axis undefined or null reduces every axis. */
export function reduceSum(x: TensorLike, axis?: ReductionAxes, keepDims = false, name = "Sum"): Tensor {
  return reduction("Sum", x, axis, { keep_dims: keepDims }, name);
}
export function reduceMean(x: TensorLike, axis?: ReductionAxes, keepDims = false, name = "Mean"): Tensor {
  return reduction("Mean", x, axis, { keep_dims: keepDims }, name);
}
export function reduceMax(x: TensorLike, axis?: ReductionAxes, keepDims = false, name = "Max"): Tensor {
  return reduction("Max", x, axis, { keep_dims: keepDims }, name);
}
export function reduceMin(x: TensorLike, axis?: ReductionAxes, keepDims = false, name = "Min"): Tensor {
  return reduction("Min", x, axis, { keep_dims: keepDims }, name);
}
export function reduceProd(x: TensorLike, axis?: ReductionAxes, keepDims = false, name = "Prod"): Tensor {
  return reduction("Prod", x, axis, { keep_dims: keepDims }, name);
}
export function reduceAll(x: TensorLike, axis?: ReductionAxes, keepDims = false, name = "All"): Tensor {
  return reduction("All", x, axis, { keep_dims: keepDims }, name);
}
export function reduceAny(x: TensorLike, axis?: ReductionAxes, keepDims = false, name = "Any"): Tensor {
  return reduction("Any", x, axis, { keep_dims: keepDims }, name);
}

/** `tf.argmax(x, axis = 0, name?)`: int32 indices of the first maximum along `axis` (TF1's default axis is 0). */
export function argmax(x: TensorLike, axis: number | Tensor = 0, name = "ArgMax"): Tensor {
  return reduction("ArgMax", x, axis, { output_type: "int32" }, name, "dimension");
}

export function argmin(x: TensorLike, axis: number | Tensor = 0, name = "ArgMin"): Tensor {
  return reduction("ArgMin", x, axis, { output_type: "int32" }, name, "dimension");
}
