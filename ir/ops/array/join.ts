/**
 * Joining and splitting along an axis: ConcatV2 (and ConcatOffset, which its gradient uses),
 * Pack / Unpack (tf.stack / tf.unstack), Split / SplitV, and Tile.
 */
import { Tensor, type Operation } from "../../graph";
import type { TypedArray } from "../../dtype";
import { NDArray, ndarray, type NestedArray } from "../../ndarray";
import { registerOp, type TensorSpec } from "../../registry";
import { formatShape, isFullyDefined, normalizeAxis, stridesOf, type MaybeShape, type Shape } from "../../shape";
import { graphOf, type TensorLike } from "../build";
import { identity } from "../control";
import { reduceSum } from "../reduce";
import { buildOp, copyBlock, fail, ints, mergeDim, outputCount, product, range, rankFromLength, requireSameDType, scalarInput, tensorInts, unknownDims, vectorInput, vectorLength, type BuildInput } from "./common";
import { reshape, shape, zerosLike } from "./reshape";
import { slice, transpose } from "./slice";

/** The rank shared by `shapes` (null when all are unknown); throws naming the node when they differ. */
function commonRank(shapes: readonly MaybeShape[], type: string, node: string): number | null {
  const first = shapes.find((s) => s !== null);
  if (!first) return null;
  shapes.forEach((s, i) => {
    if (s !== null && s.length !== first.length)
      fail(node, {
        code: "rank-mismatch",
        message: `${type} needs values of one rank, but value ${i} has shape ${formatShape(s)} and another ${formatShape(first)}`,
        expected: `rank ${first.length}`,
        received: `rank ${s.length}`,
        fix: "reshape or expandDims the values to one rank",
      });
  });
  return first.length;
}

/** ConcatV2's output shape; `axis` undefined when it is not a constant. */
function concatShape(shapes: readonly MaybeShape[], axis: number | undefined, node: string): MaybeShape {
  const rank = commonRank(shapes, "ConcatV2", node);
  if (rank === null) return null;
  if (axis === undefined) return unknownDims(rank);
  const a = normalizeAxis(axis, rank, node);
  const out: Shape = new Array<number | null>(rank).fill(null);
  let sum: number | null = 0;
  shapes.forEach((s, i) => {
    if (s === null) return void (sum = null);
    for (let k = 0; k < rank; k++)
      if (k !== a) out[k] = mergeDim(out[k], s[k], node, `ConcatV2 value ${i} does not match the others in dimension ${k}`);
    sum = sum === null || s[a] === null ? null : sum + s[a]!;
  });
  out[a] = sum;
  return out;
}

registerOp({
  type: "ConcatV2",
  inputs: "variadic",
  attrs: { N: { kind: "int" } },
  infer: (inputs, attrs, node) => {
    const n = attrs.N as number;
    if (n < 1 || inputs.length !== n + 1)
      fail(node, { code: "input-count", message: "ConcatV2 takes N values and an axis", expected: `${n + 1} inputs`, received: `${inputs.length}` });
    const values = inputs.slice(0, n);
    const dtype = requireSameDType(values, "ConcatV2", node);
    const axis = scalarInput(inputs[n], "ConcatV2", "axis", node);
    return [{ dtype, shape: concatShape(values.map((v) => v.shape), axis, node) }];
  },
  kernel: (inputs, attrs, ctx) => {
    const n = attrs.N as number;
    const values = inputs.slice(0, n);
    const outShape = concatShape(values.map((v) => v.shape), inputs[n].data[0], ctx.node) as number[];
    const a = normalizeAxis(inputs[n].data[0], outShape.length, ctx.node);
    const outer = product(outShape.slice(0, a));
    const row = product(outShape.slice(a));
    const out = ctx.alloc(values[0].dtype, product(outShape));
    let offset = 0;
    for (const v of values) {
      const inner = product(v.shape.slice(a));
      for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) out[o * row + offset + j] = v.data[o * inner + j];
      offset += inner;
    }
    return [new NDArray(values[0].dtype, outShape, out)];
  },
  gradient: (op, grads) => {
    const n = op.attrs.N as number;
    const values = op.inputs.slice(0, n);
    const axisTensor = op.inputs[n];
    const dy = grads[0]!;
    const axis = tensorInts(axisTensor)?.[0];
    const shapes = values.map((v) => v.shape);
    let offsets: TensorLike[];
    if (axis !== undefined && shapes.every(isFullyDefined)) {
      const a = normalizeAxis(axis, shapes[0]!.length, op.name);
      let at = 0;
      offsets = shapes.map((s) => {
        const o = new Array<number>(s!.length).fill(0);
        o[a] = at;
        at += s![a]!;
        return o;
      });
    } else offsets = concatOffset(axisTensor, values.map((v) => shape(v)));
    return [...values.map((v, i) => slice(dy, offsets[i], shape(v))), null];
  },
});

registerOp({
  type: "ConcatOffset",
  inputs: "variadic",
  attrs: { N: { kind: "int" } },
  nonDifferentiable: true,
  infer: (inputs, attrs, node) => {
    const n = attrs.N as number;
    if (n < 1 || inputs.length !== n + 1)
      fail(node, { code: "input-count", message: "ConcatOffset takes a concat_dim and N shapes", expected: `${n + 1} inputs (N = ${n} >= 1)`, received: `${inputs.length}` });
    scalarInput(inputs[0], "ConcatOffset", "concat_dim", node);
    const shapes = inputs.slice(1);
    shapes.forEach((s) => vectorInput(s, "ConcatOffset", "shape", node));
    return shapes.map((s): TensorSpec => ({ dtype: "int32", shape: [vectorLength(s)] })).slice(0, n);
  },
  kernel: (inputs, _, ctx) => {
    const shapes = inputs.slice(1).map((s) => ints(s));
    concatShape(shapes, inputs[0].data[0], ctx.node);
    const a = normalizeAxis(inputs[0].data[0], shapes[0].length, ctx.node);
    let at = 0;
    return shapes.map((s) => {
      const out = ctx.alloc("int32", s.length);
      out[a] = at;
      at += s[a];
      return new NDArray("int32", [s.length], out);
    });
  },
});

/** Pack's output shape: the values' common shape with N inserted at `axis`. */
function packShape(shapes: readonly MaybeShape[], axis: number, node: string): MaybeShape {
  const rank = commonRank(shapes, "Pack", node);
  if (rank === null) return null;
  const merged: Shape = new Array<number | null>(rank).fill(null);
  shapes.forEach((s, i) => {
    if (s) for (let k = 0; k < rank; k++) merged[k] = mergeDim(merged[k], s[k], node, `Pack value ${i} does not match the others in dimension ${k}`);
  });
  const a = normalizeAxis(axis, rank + 1, node);
  return [...merged.slice(0, a), shapes.length, ...merged.slice(a)];
}

registerOp({
  type: "Pack",
  inputs: "variadic",
  attrs: { N: { kind: "int" }, axis: { kind: "int", default: 0 } },
  infer: (inputs, attrs, node) => {
    if (inputs.length < 1) fail(node, { code: "input-count", message: "Pack needs at least one value", expected: ">= 1 values", received: "0" });
    const dtype = requireSameDType(inputs, "Pack", node);
    return [{ dtype, shape: packShape(inputs.map((v) => v.shape), attrs.axis as number, node) }];
  },
  kernel: (inputs, attrs, ctx) => {
    const outShape = packShape(inputs.map((v) => v.shape), attrs.axis as number, ctx.node) as number[];
    const a = normalizeAxis(attrs.axis as number, outShape.length, ctx.node);
    const n = inputs.length;
    const outer = product(outShape.slice(0, a));
    const inner = product(outShape.slice(a + 1));
    const out = ctx.alloc(inputs[0].dtype, product(outShape));
    inputs.forEach((v, i) => {
      for (let o = 0; o < outer; o++) for (let j = 0; j < inner; j++) out[(o * n + i) * inner + j] = v.data[o * inner + j];
    });
    return [new NDArray(inputs[0].dtype, outShape, out)];
  },
  gradient: (op, [dy]) => unstack(dy!, { num: op.inputs.length, axis: op.attrs.axis as number }),
});

registerOp({
  type: "Unpack",
  inputs: 1,
  attrs: { num: { kind: "int" }, axis: { kind: "int", default: 0 } },
  infer: ([x], attrs, node) => {
    const num = outputCount(attrs.num as number, "Unpack", "num", node, 0);
    if (x.shape === null) return new Array<TensorSpec>(num).fill({ dtype: x.dtype, shape: null });
    const a = normalizeAxis(attrs.axis as number, x.shape.length, node);
    mergeDim(num, x.shape[a], node, `Unpack's num must equal the size of dimension ${a}`);
    const rest = x.shape.filter((_, i) => i !== a);
    return range(0, num).map(() => ({ dtype: x.dtype, shape: [...rest] }));
  },
  kernel: ([x], attrs, ctx) => {
    const num = attrs.num as number;
    const a = normalizeAxis(attrs.axis as number, x.rank, ctx.node);
    mergeDim(num, x.shape[a], ctx.node, `Unpack's num must equal the size of dimension ${a}`);
    return splitPieces(x, a, new Array<number>(num).fill(1), (d, k) => ctx.alloc(d, k)).map((p) => new NDArray(p.dtype, x.shape.filter((_, i) => i !== a), p.data));
  },
  gradient: (op, grads) => [stack(grads.map((g, i) => g ?? zerosLike(op.outputs[i])), op.attrs.axis as number)],
});

/** Cuts `x` along axis `a` into pieces of `sizes`. */
function splitPieces(x: NDArray, a: number, sizes: readonly number[], alloc: (dtype: NDArray["dtype"], n: number) => NDArray["data"]): NDArray[] {
  const outer = product(x.shape.slice(0, a));
  const inner = product(x.shape.slice(a + 1));
  const dim = x.shape[a];
  let at = 0;
  return sizes.map((size) => {
    const pieceShape = x.shape.map((d, i) => (i === a ? size : d));
    const out = alloc(x.dtype, outer * size * inner);
    const block = size * inner;
    for (let o = 0; o < outer; o++) for (let j = 0; j < block; j++) out[o * block + j] = x.data[(o * dim + at) * inner + j];
    at += size;
    return new NDArray(x.dtype, pieceShape, out);
  });
}

/** The sizes of SplitV's pieces (one -1 inferred) or Split's equal pieces; null entries are unknown. */
function splitSizes(dim: number | null, num: number, given: readonly number[] | undefined, node: string): (number | null)[] {
  if (given === undefined) {
    if (dim !== null && dim % num !== 0)
      fail(node, {
        code: "split-size",
        message: `cannot split a dimension of ${dim} into ${num} equal pieces`,
        expected: `a dimension divisible by ${num}`,
        received: String(dim),
        fix: "pass the piece sizes as a list (tf.split(x, [a, b, ...])) or pad the input",
      });
    return new Array<number | null>(num).fill(dim === null ? null : dim / num);
  }
  const inferred = given.filter((s) => s === -1).length;
  const known = given.filter((s) => s !== -1).reduce((p, s) => p + s, 0);
  const bad = given.length !== num || inferred > 1 || given.some((s) => s < -1) || (dim !== null && (inferred ? known > dim : known !== dim));
  if (bad)
    fail(node, {
      code: "split-size",
      message: `split sizes ${formatShape([...given])} do not fit a dimension of ${dim ?? "?"} in ${num} pieces`,
      expected: `${num} non-negative sizes summing to ${dim ?? "the dimension"} (one may be -1)`,
      received: formatShape([...given]),
      fix: "make the sizes sum to the dimension, or use -1 for one of them",
    });
  return given.map((s) => (s === -1 ? (dim === null ? null : dim - known) : s));
}

function splitInfer(value: TensorSpec, axis: number | undefined, numSplit: number, sizes: number[] | undefined, node: string): TensorSpec[] {
  const num = outputCount(numSplit, sizes === undefined ? "Split" : "SplitV", "num_split", node);
  if (value.shape === null || axis === undefined) return range(0, num).map(() => ({ dtype: value.dtype, shape: unknownDims(value.shape?.length ?? null) }));
  const a = normalizeAxis(axis, value.shape.length, node);
  const pieces = splitSizes(value.shape[a], num, sizes, node);
  return pieces.map((p) => ({ dtype: value.dtype, shape: value.shape!.map((d, i) => (i === a ? p : d)) }));
}

registerOp({
  type: "Split",
  inputs: 2,
  attrs: { num_split: { kind: "int" } },
  infer: ([dim, value], attrs, node) => splitInfer(value, scalarInput(dim, "Split", "split_dim", node), attrs.num_split as number, undefined, node),
  kernel: ([dim, value], attrs, ctx) => {
    const a = normalizeAxis(dim.data[0], value.rank, ctx.node);
    return splitPieces(value, a, splitSizes(value.shape[a], attrs.num_split as number, undefined, ctx.node) as number[], (d, k) => ctx.alloc(d, k));
  },
  gradient: (op, grads) => [null, concat(zerosForNull(op, grads), op.inputs[0])],
});

registerOp({
  type: "SplitV",
  inputs: 3,
  attrs: { num_split: { kind: "int" } },
  infer: ([value, sizes, dim], attrs, node) =>
    splitInfer(value, scalarInput(dim, "SplitV", "split_dim", node), attrs.num_split as number, vectorInput(sizes, "SplitV", "size_splits", node), node),
  kernel: ([value, sizes, dim], attrs, ctx) => {
    const a = normalizeAxis(dim.data[0], value.rank, ctx.node);
    return splitPieces(value, a, splitSizes(value.shape[a], attrs.num_split as number, ints(sizes), ctx.node) as number[], (d, k) => ctx.alloc(d, k));
  },
  gradient: (op, grads) => [concat(zerosForNull(op, grads), op.inputs[2]), null, null],
});

function zerosForNull(op: Operation, grads: (Tensor | null)[]): Tensor[] {
  return grads.map((g, i) => g ?? zerosLike(op.outputs[i]));
}

function tileShape(input: MaybeShape, multiples: readonly number[] | undefined, length: number | null, node: string): MaybeShape {
  if (multiples === undefined) return unknownDims(input?.length ?? length);
  const rank = input?.length ?? multiples.length;
  if (multiples.length !== rank || multiples.some((m) => m < 0))
    fail(node, {
      code: "bad-multiples",
      message: `Tile's multiples must have one non-negative entry per dimension of the input (rank ${rank})`,
      expected: `${rank} non-negative integers`,
      received: formatShape([...multiples]),
      fix: "pass one multiple per input dimension",
    });
  return multiples.map((m, i) => {
    const d = input ? input[i] : null;
    return m === 0 ? 0 : d === null ? null : d * m;
  });
}

registerOp({
  type: "Tile",
  inputs: 2,
  infer: ([x, m], _, node) => [{ dtype: x.dtype, shape: tileShape(x.shape, vectorInput(m, "Tile", "multiples", node), rankFromLength(m, "Tile", "multiples", node), node) }],
  kernel: ([x, m], _, ctx) => {
    const multiples = ints(m);
    const outShape = tileShape(x.shape, multiples, multiples.length, ctx.node) as number[];
    const out = ctx.alloc(x.dtype, product(outShape));
    const inStrides = stridesOf(x.shape);
    const outStrides = stridesOf(outShape);
    const block = x.shape.flatMap((d, i) => [multiples[i], d]);
    const src = x.shape.flatMap((_, i) => [0, inStrides[i]]);
    const dst = x.shape.flatMap((d, i) => [d * outStrides[i], outStrides[i]]);
    copyBlock(x.data, 0, src, out, 0, dst, block);
    return [new NDArray(x.dtype, outShape, out)];
  },
  // As TF's _TileGrad: view dy as [m0, d0, m1, d1, ...] and sum over the multiples.
  gradient: (op, [dy]) => {
    const [x, multiples] = op.inputs;
    const rank = x.rank ?? vectorLength({ dtype: "int32", shape: multiples.shape });
    if (rank === null)
      fail(op.name, { code: "gradient-unsupported", message: "the gradient of Tile needs the input's rank", fix: "give the input a static rank" });
    const m = tensorInts(multiples);
    const splitShape: TensorLike =
      m && isFullyDefined(x.shape) ? x.shape.flatMap((d, i) => [m[i], d]) : reshape(transpose(stack([multiples, shape(x)]), [1, 0]), [-1]);
    return [reduceSum(reshape(dy!, splitShape), range(0, rank).map((i) => 2 * i)), null];
  },
});

/** `tf.concat(values, axis)`; one value gives an Identity, as in TF1. */
export function concat(values: TensorLike[], axis: TensorLike, name = "concat"): Tensor {
  if (values.length === 0)
    fail(name, { code: "input-count", message: "tf.concat needs at least one value", expected: ">= 1 values", received: "0", fix: "pass a non-empty list" });
  if (values.length === 1) return identity(values[0], name);
  const hint = values.find((v): v is Tensor => v instanceof Tensor)?.dtype;
  const inputs: BuildInput[] = values.map((v) => [v, "values", hint]);
  return buildOp("ConcatV2", name, [...inputs, [axis, "axis", "int32"]], { N: values.length }).outputs[0];
}

/** The offsets of each concatenated value in the result (ConcatV2's gradient). */
export function concatOffset(axis: TensorLike, shapes: TensorLike[], name = "ConcatOffset"): Tensor[] {
  const inputs: BuildInput[] = [[axis, "concat_dim", "int32"], ...shapes.map((s): BuildInput => [s, "shape", "int32"])];
  return buildOp("ConcatOffset", name, inputs, { N: shapes.length }).outputs;
}

/** `tf.stack(values, axis)`: joins same-shape values along a new dimension `axis`. */
export function stack(values: TensorLike[], axis = 0, name = "stack"): Tensor {
  const hint = values.find((v): v is Tensor => v instanceof Tensor)?.dtype;
  return buildOp("Pack", name, values.map((v): BuildInput => [v, "values", hint]), { N: values.length, axis }, graphOf(values)).outputs[0];
}

/** `tf.unstack(x, { num, axis })`: `num` defaults to the static size of dimension `axis`. */
export function unstack(x: TensorLike, options: { num?: number; axis?: number } = {}, name = "unstack"): Tensor[] {
  const axis = options.axis ?? 0;
  let num = options.num;
  if (num === undefined) {
    const dims = x instanceof Tensor ? x.shape : (x instanceof NDArray ? x : ndarray(x as NestedArray | TypedArray)).shape;
    const d = dims && dims.length > 0 ? dims[normalizeAxis(axis, dims.length, name)] : null;
    if (d === null || d === undefined)
      fail(name, {
        code: "unknown-num",
        message: `tf.unstack cannot infer num: dimension ${axis} is unknown`,
        expected: "a static size for that dimension",
        received: dims ? formatShape(dims) : "unknown shape",
        fix: "pass { num }",
      });
    num = d;
  }
  return buildOp("Unpack", name, [[x, "value"]], { num, axis }).outputs;
}

/**
 * `tf.split(x, numOrSizeSplits, axis)`: a number gives Split into equal pieces, a list of sizes
 * (one may be -1) gives SplitV.
 */
export function split(x: TensorLike, numOrSizeSplits: number | number[] | Tensor, axis: TensorLike = 0, name = "split"): Tensor[] {
  if (typeof numOrSizeSplits === "number")
    return buildOp("Split", name, [[axis, "split_dim", "int32"], [x, "value"]], { num_split: numOrSizeSplits }).outputs;
  const num = Array.isArray(numOrSizeSplits) ? numOrSizeSplits.length : numOrSizeSplits.shape?.[0];
  if (num === null || num === undefined)
    fail(name, { code: "unknown-num", message: "tf.split cannot infer the number of pieces from size_splits", fix: "pass the sizes as a list of numbers" });
  return buildOp("SplitV", name, [[x, "value"], [numOrSizeSplits, "size_splits", "int32"], [axis, "split_dim", "int32"]], { num_split: num }).outputs;
}

/** `tf.tile(x, multiples)`. */
export function tile(x: TensorLike, multiples: TensorLike, name = "Tile"): Tensor {
  return buildOp("Tile", name, [[x, "input"], [multiples, "multiples", "int32"]]).outputs[0];
}
