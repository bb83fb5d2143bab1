/** Moving data by position: Transpose (and InvertPermutation, its gradient's helper), Slice, Pad. */
import { Tensor } from "../../graph";
import { NDArray, ndarray, type NestedArray } from "../../ndarray";
import { registerOp } from "../../registry";
import { formatShape, stridesOf, type MaybeShape } from "../../shape";
import type { TypedArray } from "../../dtype";
import { type TensorLike } from "../build";
import { sub } from "../elementwise";
import { buildOp, copyBlock, fail, ints, product, range, requireInt32, requireRank, rankFromLength, tensorInts, unknownDims, vectorInput } from "./common";
import { stack } from "./join";
import { reshape, shape } from "./reshape";

/** Throws unless `perm` is a permutation of 0..rank-1. */
function checkPermutation(perm: readonly number[], rank: number, type: string, node: string): void {
  const seen = new Set<number>();
  const ok = perm.length === rank && perm.every((p) => Number.isInteger(p) && p >= 0 && p < rank && !seen.has(p) && seen.add(p));
  if (!ok)
    fail(node, {
      code: "bad-perm",
      message: `${type} needs a permutation of 0..${rank - 1}`,
      expected: `a permutation of [${range(0, rank).join(",")}]`,
      received: `[${perm.join(",")}]`,
      fix: "list every dimension exactly once",
    });
}

function transposeShape(input: MaybeShape, perm: readonly number[] | undefined, permLength: number | null, node: string): MaybeShape {
  if (perm === undefined) return unknownDims(input?.length ?? permLength);
  checkPermutation(perm, input?.length ?? perm.length, "Transpose", node);
  return perm.map((p) => (input ? input[p] : null));
}

registerOp({
  type: "Transpose",
  inputs: 2,
  infer: ([x, p], _, node) => [{ dtype: x.dtype, shape: transposeShape(x.shape, vectorInput(p, "Transpose", "perm", node), rankFromLength(p, "Transpose", "perm", node), node) }],
  kernel: ([x, p], _, ctx) => {
    const perm = ints(p);
    const outShape = transposeShape(x.shape, perm, perm.length, ctx.node) as number[];
    const inStrides = stridesOf(x.shape);
    const out = ctx.alloc(x.dtype, x.size);
    copyBlock(x.data, 0, perm.map((q) => inStrides[q]), out, 0, stridesOf(outShape), outShape);
    return [new NDArray(x.dtype, outShape, out)];
  },
  gradient: (op, [dy]) => {
    const perm = op.inputs[1];
    const known = tensorInts(perm);
    const inverse: TensorLike = known ? invertArray(known) : invertPermutation(perm);
    return [transpose(dy!, inverse), null];
  },
});

function invertArray(perm: readonly number[]): number[] {
  const out = new Array<number>(perm.length);
  perm.forEach((p, i) => (out[p] = i));
  return out;
}

registerOp({
  type: "InvertPermutation",
  inputs: 1,
  nonDifferentiable: true,
  infer: ([x], _, node) => {
    vectorInput(x, "InvertPermutation", "x", node);
    return [{ dtype: "int32", shape: x.shape }];
  },
  kernel: ([x], _, ctx) => {
    requireRank(x.shape, 1, "InvertPermutation", "x", ctx.node);
    const perm = ints(x);
    checkPermutation(perm, perm.length, "InvertPermutation", ctx.node);
    const out = ctx.alloc("int32", perm.length);
    invertArray(perm).forEach((v, i) => (out[i] = v));
    return [new NDArray("int32", [perm.length], out)];
  },
});

function sliceShape(input: MaybeShape, begin: readonly number[] | undefined, size: readonly number[] | undefined, length: number | null, node: string): MaybeShape {
  const rank = input?.length ?? begin?.length ?? size?.length ?? length;
  if (rank === null) return null;
  for (const [what, v] of [["begin", begin], ["size", size]] as const)
    if (v && v.length !== rank)
      fail(node, {
        code: "bad-slice",
        message: `Slice's ${what} needs one entry per dimension of the input (rank ${rank})`,
        expected: `${rank} entries`,
        received: `[${v.join(",")}]`,
        fix: `pass ${rank} values for ${what}`,
      });
  return range(0, rank).map((i) => {
    const d = input ? input[i] : null;
    const b = begin?.[i];
    const s = size?.[i];
    const end = s === -1 ? d : b !== undefined && s !== undefined ? b + s : undefined;
    const outOfBounds = (b !== undefined && b < 0) || (s !== undefined && s < -1) || (b !== undefined && d !== null && end !== undefined && end !== null && (b > d || end > d));
    if (outOfBounds)
      fail(node, {
        code: "slice-out-of-bounds",
        message: `Slice is out of bounds in dimension ${i} of shape ${formatShape(input)}`,
        expected: `0 <= begin <= begin + size <= ${d ?? "the dimension"} (size -1 means to the end)`,
        received: `begin ${b ?? "?"}, size ${s ?? "?"}`,
        fix: "keep begin and begin + size inside the input",
      });
    if (s === -1) return b === undefined || d === null ? null : d - b;
    return s ?? null;
  });
}

registerOp({
  type: "Slice",
  inputs: 3,
  infer: ([x, b, s], _, node) => {
    const begin = vectorInput(b, "Slice", "begin", node);
    const size = vectorInput(s, "Slice", "size", node);
    return [{ dtype: x.dtype, shape: sliceShape(x.shape, begin, size, rankFromLength(b, "Slice", "begin", node) ?? rankFromLength(s, "Slice", "size", node), node) }];
  },
  kernel: ([x, b, s], _, ctx) => {
    const begin = ints(b);
    const outShape = sliceShape(x.shape, begin, ints(s), null, ctx.node) as number[];
    const inStrides = stridesOf(x.shape);
    const out = ctx.alloc(x.dtype, product(outShape));
    const offset = begin.reduce((acc, v, i) => acc + v * inStrides[i], 0);
    copyBlock(x.data, offset, inStrides, out, 0, stridesOf(outShape), outShape);
    return [new NDArray(x.dtype, outShape, out)];
  },
  // As TF's _SliceGrad: pad dy back to the input's shape.
  gradient: (op, [dy]) => {
    const [x, begin] = op.inputs;
    const b = tensorInts(begin);
    const inShape = x.shape;
    const outShape = op.outputs[0].shape;
    let paddings: TensorLike;
    if (b && inShape && outShape && [...inShape, ...outShape].every((d) => d !== null))
      paddings = b.map((v, i) => [v, inShape[i]! - v - outShape[i]!]);
    else paddings = stack([begin, sub(sub(shape(x), shape(op.outputs[0])), begin)], 1);
    return [pad(dy!, paddings), null, null];
  },
});

/** The output shape of padding `input` (Pad, PadV2, MirrorPad); throws naming `node` on bad paddings. */
export function padShape(input: MaybeShape, paddings: readonly number[] | undefined, paddingsShape: MaybeShape, node: string, type = "Pad"): MaybeShape {
  const rank = input?.length ?? paddingsShape?.[0] ?? null;
  const badShape = paddingsShape !== null && (paddingsShape.length !== 2 || ![null, 2].includes(paddingsShape[1]) || ![null, rank].includes(paddingsShape[0]));
  if (badShape || (paddings && paddings.some((p) => p < 0)))
    fail(node, {
      code: "bad-paddings",
      message: badShape ? `${type}'s paddings must have shape [rank, 2]` : `${type}'s paddings must be non-negative`,
      expected: badShape ? `shape [${rank ?? "rank"},2]` : "paddings >= 0",
      received: badShape ? formatShape(paddingsShape) : `[${paddings!.join(",")}]`,
      fix: "pass one [before, after] pair of non-negative sizes per dimension",
    });
  if (paddings === undefined) return unknownDims(rank);
  return range(0, paddings.length / 2).map((i) => {
    const d = input ? input[i] : null;
    return d === null ? null : d + paddings[2 * i] + paddings[2 * i + 1];
  });
}

registerOp({
  type: "Pad",
  inputs: 2,
  infer: ([x, p], _, node) => {
    requireInt32(p, "Pad", "paddings", node);
    return [{ dtype: x.dtype, shape: padShape(x.shape, p.value ? ints(p.value) : undefined, p.shape, node) }];
  },
  kernel: ([x, p], _, ctx) => {
    const paddings = ints(p);
    const outShape = padShape(x.shape, paddings, p.shape, ctx.node) as number[];
    const out = ctx.alloc(x.dtype, product(outShape));
    const outStrides = stridesOf(outShape);
    const offset = x.shape.reduce((acc, _, i) => acc + paddings[2 * i] * outStrides[i], 0);
    copyBlock(x.data, 0, stridesOf(x.shape), out, offset, outStrides, x.shape);
    return [new NDArray(x.dtype, outShape, out)];
  },
  // As TF's _PadGrad: slice the input's region out of dy.
  gradient: (op, [dy]) => {
    const [x, paddings] = op.inputs;
    const p = tensorInts(paddings);
    const begin: TensorLike = p ? range(0, p.length / 2).map((i) => p[2 * i]) : reshape(slice(paddings, [0, 0], [-1, 1]), [-1]);
    return [slice(dy!, begin, shape(x)), null];
  },
});

function rankOf(x: TensorLike): number | null {
  if (x instanceof Tensor) return x.rank;
  if (x instanceof NDArray) return x.rank;
  return ndarray(x as TypedArray | NestedArray).rank;
}

/** `tf.transpose(x, perm?)`: `perm` defaults to reversing the dimensions. */
export function transpose(x: TensorLike, perm?: TensorLike, name = "transpose"): Tensor {
  let p = perm;
  if (p === undefined) {
    const rank = rankOf(x);
    if (rank === null)
      fail(name, { code: "unknown-rank", message: "tf.transpose without perm needs the input's rank", fix: "pass perm explicitly" });
    p = range(0, rank).reverse();
  }
  return buildOp("Transpose", name, [[x, "x"], [p, "perm", "int32"]]).outputs[0];
}

export function invertPermutation(x: TensorLike, name = "InvertPermutation"): Tensor {
  return buildOp("InvertPermutation", name, [[x, "x", "int32"]]).outputs[0];
}

/** `tf.slice(x, begin, size)`: a size of -1 takes everything to the end of that dimension. */
export function slice(x: TensorLike, begin: TensorLike, size: TensorLike, name = "Slice"): Tensor {
  return buildOp("Slice", name, [[x, "input"], [begin, "begin", "int32"], [size, "size", "int32"]]).outputs[0];
}

/** `tf.pad(x, paddings)`: constant zero padding; `paddings` is `[[before, after], ...]` per dimension. */
export function pad(x: TensorLike, paddings: TensorLike, name = "Pad"): Tensor {
  return buildOp("Pad", name, [[x, "input"], [paddings, "paddings", "int32"]]).outputs[0];
}
