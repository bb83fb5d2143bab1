/**
 * Ops that pick elements by index or condition: GatherV2, UnsortedSegmentSum (its gradient's
 * dense scatter-add, named as TF names it), OneHot, and SelectV2 (`tf.where(cond, x, y)`).
 */
import type { DType } from "../../dtype";
import { Tensor } from "../../graph";
import { NDArray } from "../../ndarray";
import { broadcastIndex } from "../../broadcast";
import { registerOp } from "../../registry";
import { broadcastShapes, formatShape, isFullyDefined, normalizeAxis, type MaybeShape } from "../../shape";
import type { TensorLike } from "../build";
import { greaterEqual, maximum } from "../elementwise";
import { buildOp, fail, mergeDim, product, range, requireInt32, requireRank, scalarInput, tensorInts, unknownDims } from "./common";
import { concat } from "./join";
import { reshape, shape, zerosLike } from "./reshape";
import { transpose } from "./slice";

function gatherShape(params: MaybeShape, indices: MaybeShape, axis: number | undefined, node: string): MaybeShape {
  if (params === null || indices === null) return null;
  if (axis === undefined) return unknownDims(params.length - 1 + indices.length);
  const a = normalizeAxis(axis, params.length, node);
  return [...params.slice(0, a), ...indices, ...params.slice(a + 1)];
}

registerOp({
  type: "GatherV2",
  inputs: 3,
  attrs: { batch_dims: { kind: "int", default: 0 } },
  infer: ([params, indices, axis], attrs, node) => {
    requireInt32(indices, "GatherV2", "indices", node);
    const a = scalarInput(axis, "GatherV2", "axis", node);
    if (attrs.batch_dims !== 0)
      fail(node, { code: "unsupported", message: "GatherV2 supports batch_dims 0 only", expected: "0", received: String(attrs.batch_dims) });
    return [{ dtype: params.dtype, shape: gatherShape(params.shape, indices.shape, a, node) }];
  },
  kernel: ([params, indices, axis], _, ctx) => {
    const a = normalizeAxis(axis.data[0], params.rank, ctx.node);
    const outShape = gatherShape(params.shape, indices.shape, a, ctx.node) as number[];
    const outer = product(params.shape.slice(0, a));
    const dim = params.shape[a];
    const inner = product(params.shape.slice(a + 1));
    const n = indices.size;
    const out = ctx.alloc(params.dtype, product(outShape));
    for (let k = 0; k < n; k++) {
      const idx = indices.data[k];
      if (idx < 0 || idx >= dim)
        fail(ctx.node, {
          code: "index-out-of-range",
          message: `indices[${k}] = ${idx} is not in [0, ${dim})`,
          expected: `indices in [0, ${dim})`,
          received: String(idx),
          fix: `keep the indices below the size of dimension ${a} of the params`,
        });
      for (let o = 0; o < outer; o++) {
        const from = (o * dim + idx) * inner;
        const to = (o * n + k) * inner;
        for (let j = 0; j < inner; j++) out[to + j] = params.data[from + j];
      }
    }
    return [new NDArray(params.dtype, outShape, out)];
  },
  // Move the index dimensions of dy to the front, scatter-add them into rows of the params'
  // axis (UnsortedSegmentSum, as TF densifies its IndexedSlices), and move that axis back.
  gradient: (op, [dy]) => {
    const [params, indices, axisTensor] = op.inputs;
    const axis = tensorInts(axisTensor)?.[0];
    const p = params.rank;
    const q = indices.rank;
    if (axis === undefined || p === null || q === null)
      fail(op.name, {
        code: "gradient-unsupported",
        message: "the gradient of GatherV2 needs a constant axis and params and indices of static rank",
        fix: "give the axis as a number and the inputs static ranks",
      });
    const a = normalizeAxis(axis, p, op.name);
    const grad = dy!;
    const front = [...range(a, a + q), ...range(0, a), ...range(a + q, p + q - 1)];
    const moved = front.every((v, i) => v === i) ? grad : transpose(grad, front);
    const rest = moved.shape?.slice(q) ?? null;
    const flatShape: TensorLike = rest !== null && isFullyDefined(rest) ? [-1, ...rest] : concat([[-1], sliceFrom(shape(moved), q, p - 1)], 0);
    const values = reshape(moved, flatShape);
    const flatIndices = reshape(indices, [-1]);
    const numSegments: TensorLike = params.shape?.[a] ?? gather(shape(params), a);
    const summed = unsortedSegmentSum(values, flatIndices, numSegments);
    const back = [...range(1, a + 1), 0, ...range(a + 1, p)];
    return [back.every((v, i) => v === i) ? summed : transpose(summed, back), null, null];
  },
});

/** Elements `from`..`from+count` of an int32 vector, as a GatherV2 of a constant index range. */
function sliceFrom(v: Tensor, from: number, count: number): Tensor {
  return gather(v, range(from, from + count));
}

registerOp({
  type: "UnsortedSegmentSum",
  inputs: 3,
  infer: ([data, ids, num], _, node) => {
    requireInt32(ids, "UnsortedSegmentSum", "segment_ids", node);
    const n = scalarInput(num, "UnsortedSegmentSum", "num_segments", node);
    if (data.dtype === "bool")
      fail(node, { code: "bad-dtype", message: "UnsortedSegmentSum needs numeric data", expected: "float32 or int32", received: "bool" });
    if (data.shape === null || ids.shape === null) return [{ dtype: data.dtype, shape: null }];
    checkSegmentShape(data.shape, ids.shape, node);
    return [{ dtype: data.dtype, shape: [n ?? null, ...data.shape.slice(ids.shape.length)] }];
  },
  kernel: ([data, ids, num], _, ctx) => {
    checkSegmentShape(data.shape, ids.shape, ctx.node);
    const n = num.data[0];
    if (n < 0) fail(ctx.node, { code: "bad-num-segments", message: "num_segments must be non-negative", expected: ">= 0", received: String(n) });
    const inner = product(data.shape.slice(ids.rank));
    const out = ctx.alloc(data.dtype, n * inner);
    for (let k = 0; k < ids.size; k++) {
      const id = ids.data[k];
      if (id < 0) continue; // TF drops negative ids
      if (id >= n)
        fail(ctx.node, {
          code: "index-out-of-range",
          message: `segment_ids[${k}] = ${id} is out of range [0, ${n})`,
          expected: `ids below num_segments (${n})`,
          received: String(id),
          fix: "raise num_segments or fix the ids",
        });
      for (let j = 0; j < inner; j++) out[id * inner + j] += data.data[k * inner + j];
    }
    return [new NDArray(data.dtype, [n, ...data.shape.slice(ids.rank)], out)];
  },
  // As TF's _UnsortedSegmentSumGrad: gather dy by the ids; rows of negative ids get zeros.
  gradient: (op, [dy]) => {
    const [data, ids] = op.inputs;
    if (data.rank === null || ids.rank === null)
      fail(op.name, { code: "gradient-unsupported", message: "the gradient of UnsortedSegmentSum needs inputs of static rank" });
    const gathered = gather(dy!, maximum(ids, 0));
    const ones = new Array<number>(data.rank - ids.rank).fill(1);
    let mask = greaterEqual(ids, 0);
    if (ones.length) mask = reshape(mask, isFullyDefined(ids.shape) ? [...ids.shape, ...ones] : concat([shape(ids), ones], 0));
    return [where(mask, gathered, zerosLike(gathered)), null, null];
  },
});

function checkSegmentShape(data: readonly (number | null)[], ids: readonly (number | null)[], node: string): void {
  if (ids.length > data.length)
    fail(node, {
      code: "bad-segment-ids",
      message: `segment_ids of shape ${formatShape([...ids])} must be a prefix of data's shape ${formatShape([...data])}`,
      expected: `rank <= ${data.length}`,
      received: `rank ${ids.length}`,
    });
  ids.forEach((d, i) => mergeDim(data[i], d, node, `segment_ids must match dimension ${i} of data`));
}

function oneHotShape(indices: MaybeShape, depth: number | null, axis: number, node: string): MaybeShape {
  if (indices === null) return null;
  const rank = indices.length;
  if (axis !== -1 && (axis < 0 || axis > rank))
    fail(node, {
      code: "axis-out-of-range",
      message: `OneHot's axis ${axis} is out of range for indices of rank ${rank}`,
      expected: `-1 or an axis in [0, ${rank}]`,
      received: String(axis),
      fix: "use -1 (the last dimension) or an axis between 0 and the indices' rank",
    });
  const at = axis === -1 ? rank : axis;
  return [...indices.slice(0, at), depth, ...indices.slice(at)];
}

function checkDepth(depth: number | undefined, node: string): void {
  if (depth !== undefined && depth < 0)
    fail(node, { code: "bad-depth", message: "OneHot's depth must be non-negative", expected: ">= 0", received: String(depth) });
}

registerOp({
  type: "OneHot",
  inputs: 4,
  attrs: { axis: { kind: "int", default: -1 } },
  nonDifferentiable: true,
  infer: ([indices, depth, on, off], attrs, node) => {
    requireInt32(indices, "OneHot", "indices", node);
    const d = scalarInput(depth, "OneHot", "depth", node);
    checkDepth(d, node);
    requireRank(on.shape, 0, "OneHot", "on_value", node);
    requireRank(off.shape, 0, "OneHot", "off_value", node);
    if (on.dtype !== off.dtype)
      fail(node, { code: "dtype-mismatch", message: "OneHot's on_value and off_value need one dtype", expected: on.dtype, received: off.dtype });
    return [{ dtype: on.dtype, shape: oneHotShape(indices.shape, d ?? null, attrs.axis as number, node) }];
  },
  kernel: ([indices, depth, on, off], attrs, ctx) => {
    const d = depth.data[0];
    checkDepth(d, ctx.node);
    const outShape = oneHotShape(indices.shape, d, attrs.axis as number, ctx.node) as number[];
    const at = (attrs.axis as number) === -1 ? indices.rank : (attrs.axis as number);
    const prefix = product(indices.shape.slice(0, at));
    const suffix = product(indices.shape.slice(at));
    const out = ctx.alloc(on.dtype, product(outShape));
    const onValue = on.data[0];
    const offValue = off.data[0];
    for (let p = 0; p < prefix; p++)
      for (let k = 0; k < d; k++)
        for (let s = 0; s < suffix; s++) out[(p * d + k) * suffix + s] = indices.data[p * suffix + s] === k ? onValue : offValue;
    return [new NDArray(on.dtype, outShape, out)];
  },
});

registerOp({
  type: "SelectV2",
  inputs: 3,
  infer: ([c, t, e], _, node) => {
    if (c.dtype !== "bool")
      fail(node, { code: "bad-dtype", message: "SelectV2's condition must be bool", expected: "bool", received: c.dtype, fix: "compare first, e.g. tf.greater(x, 0)" });
    if (t.dtype !== e.dtype)
      fail(node, { code: "dtype-mismatch", message: "SelectV2's two branches need one dtype", expected: t.dtype, received: e.dtype, fix: `cast one branch: tf.cast(y, "${t.dtype}")` });
    return [{ dtype: t.dtype, shape: broadcastShapes(broadcastShapes(c.shape, t.shape, node), e.shape, node) }];
  },
  kernel: ([c, t, e], _, ctx) => {
    const outShape = broadcastShapes(broadcastShapes(c.shape, t.shape, ctx.node), e.shape, ctx.node) as number[];
    const [ic, it, ie] = [c, t, e].map((a) => broadcastIndex(a.shape, outShape));
    const out = ctx.alloc(t.dtype, product(outShape));
    for (let i = 0; i < out.length; i++)
      out[i] = c.data[ic ? ic[i] : i] !== 0 ? t.data[it ? it[i] : i] : e.data[ie ? ie[i] : i];
    return [new NDArray(t.dtype, outShape, out)];
  },
  // dy goes to the branch each element came from; the driver sums broadcast dims away.
  gradient: (op, [dy]) => {
    const zeros = zerosLike(dy!);
    return [null, where(op.inputs[0], dy!, zeros), where(op.inputs[0], zeros, dy!)];
  },
});

/** `tf.gather(params, indices, axis)`: slices of `params` along `axis` at `indices`. */
export function gather(params: TensorLike, indices: TensorLike, axis: TensorLike = 0, name = "GatherV2"): Tensor {
  return buildOp("GatherV2", name, [[params, "params"], [indices, "indices", "int32"], [axis, "axis", "int32"]], { batch_dims: 0 }).outputs[0];
}

/** `tf.math.unsortedSegmentSum(data, segmentIds, numSegments)`: sums rows of data by id. */
export function unsortedSegmentSum(data: TensorLike, segmentIds: TensorLike, numSegments: TensorLike, name = "UnsortedSegmentSum"): Tensor {
  return buildOp("UnsortedSegmentSum", name, [[data, "data"], [segmentIds, "segment_ids", "int32"], [numSegments, "num_segments", "int32"]]).outputs[0];
}

export interface OneHotOptions {
  onValue?: TensorLike;
  offValue?: TensorLike;
  /** Where the new dimension goes: -1 (last, the default) or 0..rank. */
  axis?: number;
  /** Output dtype; defaults to the dtype of the on/off value (a tensor's, bool for booleans), else float32. */
  dtype?: DType;
}

/** `tf.oneHot(indices, depth, { onValue, offValue, axis, dtype })`; an index outside [0, depth) gives a row of offValue. */
export function oneHot(indices: TensorLike, depth: TensorLike, options: OneHotOptions = {}, name = "one_hot"): Tensor {
  const { onValue, offValue } = options;
  const dtype = options.dtype ?? valueDType(onValue) ?? valueDType(offValue) ?? "float32";
  return buildOp(
    "OneHot",
    name,
    [[indices, "indices", "int32"], [depth, "depth", "int32"], [onValue ?? 1, "on_value", dtype], [offValue ?? 0, "off_value", dtype]],
    { axis: options.axis ?? -1 },
  ).outputs[0];
}

/** The dtype a given on/off value implies, as TF1's one_hot infers it (JS numbers are float32). */
function valueDType(v: TensorLike | undefined): DType | undefined {
  if (v instanceof Tensor || v instanceof NDArray) return v.dtype;
  if (typeof v === "boolean") return "bool";
  if (v instanceof Int32Array) return "int32";
  return v === undefined ? undefined : "float32";
}

/** `tf.where(cond, x, y)` (SelectV2): elements of `x` where `cond`, else of `y`; all three broadcast. */
export function where(cond: TensorLike, x: TensorLike, y: TensorLike, name = "SelectV2"): Tensor {
  const hint = x instanceof Tensor ? x.dtype : y instanceof Tensor ? y.dtype : undefined;
  return buildOp("SelectV2", name, [[cond, "condition", "bool"], [x, "t", hint], [y, "e", hint]]).outputs[0];
}
