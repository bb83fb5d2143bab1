/**
 * Padding beyond zeros: PadV2 (a constant value), MirrorPad (REFLECT / SYMMETRIC) and its
 * gradient MirrorPadGrad, and `tf.pad`, which picks Pad, PadV2 or MirrorPad as TF1's wrapper
 * does. Pad itself (zeros) lives in slice.ts beside Slice, whose gradient it is.
 *
 *   REFLECT    [1 2 3] padded [2, 2] -> [3 2 | 1 2 3 | 2 1]   (the edge is not repeated)
 *   SYMMETRIC  [1 2 3] padded [2, 2] -> [2 1 | 1 2 3 | 3 2]   (the edge is repeated)
 */
import type { DType } from "../../dtype";
import { Tensor } from "../../graph";
import { NDArray } from "../../ndarray";
import { getOpDef, registerOp } from "../../registry";
import { formatShape, sizeOf, stridesOf, type MaybeShape } from "../../shape";
import { convertToTensor, graphOf, type TensorLike } from "../build";
import { buildOp, copyBlock, fail, ints, product, range, requireInt32, requireRank, unknownDims } from "./common";
import { pad as zeroPad, padShape } from "./slice";

registerOp({
  type: "PadV2",
  inputs: 3,
  infer: ([x, p, c], _, node) => {
    requireInt32(p, "PadV2", "paddings", node);
    if (c.dtype !== x.dtype)
      fail(node, {
        code: "dtype-mismatch",
        message: `PadV2's constant_values must have the input's dtype`,
        expected: x.dtype,
        received: c.dtype,
        fix: `cast the value: tf.cast(c, "${x.dtype}")`,
      });
    requireRank(c.shape, 0, "PadV2", "constant_values", node);
    return [{ dtype: x.dtype, shape: padShape(x.shape, p.value ? ints(p.value) : undefined, p.shape, node, "PadV2") }];
  },
  kernel: ([x, p, c], _, ctx) => {
    requireRank(c.shape, 0, "PadV2", "constant_values", ctx.node);
    const paddings = ints(p);
    const outShape = padShape(x.shape, paddings, p.shape, ctx.node, "PadV2") as number[];
    const out = ctx.alloc(x.dtype, product(outShape));
    out.fill(c.data[0]);
    const outStrides = stridesOf(outShape);
    const offset = x.shape.reduce((acc, _, i) => acc + paddings[2 * i] * outStrides[i], 0);
    copyBlock(x.data, 0, stridesOf(x.shape), out, offset, outStrides, x.shape);
    return [new NDArray(x.dtype, outShape, out)];
  },
  // TF's _PadGrad serves both: dy sliced back to the input; the constant gets no gradient.
  gradient: (op, grads) => [...getOpDef("Pad").gradient!(op, grads).slice(0, 2), null],
});

const MODES = ["REFLECT", "SYMMETRIC"] as const;
/** How far a mirror starts from the edge: REFLECT skips the edge element, SYMMETRIC repeats it. */
const offsetOf = (mode: unknown) => (mode === "REFLECT" ? 1 : 0);

/** Throws unless every padding fits the dimension it mirrors (TF's MirrorPad checks). */
function checkMirror(dims: MaybeShape, paddings: readonly number[] | undefined, mode: unknown, type: string, node: string): void {
  if (dims === null || paddings === undefined) return;
  const offset = offsetOf(mode);
  dims.forEach((d, i) => {
    const before = paddings[2 * i];
    const after = paddings[2 * i + 1];
    if (d === null || before === undefined) return;
    if (before <= d - offset && after <= d - offset) return;
    fail(node, {
      code: "bad-paddings",
      message: `${type} in ${String(mode)} mode needs paddings ${offset ? "less than" : "no greater than"} the dimension they mirror: ${before}, ${after} for dimension ${i} of size ${d}`,
      expected: `paddings ${offset ? "<" : "<="} ${d}`,
      received: `[${before}, ${after}]`,
      fix: offset ? "pad by less than the dimension (REFLECT does not repeat the edge), or use SYMMETRIC" : "pad by at most the dimension",
    });
  });
}

/** The input index that output index `i` of a mirrored dimension reads (d: the unpadded size). */
function mirrorIndex(i: number, before: number, d: number, offset: number): number {
  const j = i - before;
  if (j < 0) return -j - 1 + offset;
  if (j >= d) return 2 * d - 1 - j - offset;
  return j;
}

/** Calls `fn(p, u)` for every flat index p of `padded` with the flat index u of `unpadded` it mirrors. */
function forEachMirrored(padded: readonly number[], unpadded: readonly number[], before: readonly number[], offset: number, fn: (p: number, u: number) => void): void {
  const total = sizeOf(padded);
  if (total === 0) return;
  const rank = padded.length;
  const strides = stridesOf(unpadded);
  const maps = padded.map((n, d) => Int32Array.from({ length: n }, (_, i) => mirrorIndex(i, before[d], unpadded[d], offset) * strides[d]));
  const index = new Array<number>(rank).fill(0);
  let u = maps.reduce((acc, m) => acc + m[0], 0);
  for (let p = 0; p < total; p++) {
    fn(p, u);
    for (let d = rank - 1; d >= 0; d--) {
      u -= maps[d][index[d]];
      if (++index[d] < padded[d]) {
        u += maps[d][index[d]];
        break;
      }
      index[d] = 0;
      u += maps[d][0];
    }
  }
}

const beforeOf = (paddings: readonly number[]) => range(0, paddings.length / 2).map((i) => paddings[2 * i]);

registerOp({
  type: "MirrorPad",
  inputs: 2,
  attrs: { mode: { kind: "string", oneOf: MODES } },
  infer: ([x, p], attrs, node) => {
    requireInt32(p, "MirrorPad", "paddings", node);
    const paddings = p.value ? ints(p.value) : undefined;
    const shape = padShape(x.shape, paddings, p.shape, node, "MirrorPad");
    checkMirror(x.shape, paddings, attrs.mode, "MirrorPad", node);
    return [{ dtype: x.dtype, shape }];
  },
  kernel: ([x, p], attrs, ctx) => {
    const paddings = ints(p);
    const outShape = padShape(x.shape, paddings, p.shape, ctx.node, "MirrorPad") as number[];
    checkMirror(x.shape, paddings, attrs.mode, "MirrorPad", ctx.node);
    const out = ctx.alloc(x.dtype, product(outShape));
    const src = x.data;
    forEachMirrored(outShape, x.shape, beforeOf(paddings), offsetOf(attrs.mode), (o, i) => (out[o] = src[i]));
    return [new NDArray(x.dtype, outShape, out)];
  },
  gradient: (op, [dy]) => [mirrorPadGrad(dy!, op.inputs[1], op.attrs.mode as string), null],
});

/** The unpadded shape of MirrorPadGrad: each dimension less its paddings. */
function unpaddedShape(dims: MaybeShape, paddings: readonly number[] | undefined, paddingsShape: MaybeShape, node: string): MaybeShape {
  // The same [rank, 2] and non-negativity checks as padding.
  padShape(dims, paddings, paddingsShape, node, "MirrorPadGrad");
  if (paddings === undefined) return unknownDims(dims?.length ?? paddingsShape?.[0] ?? null);
  return range(0, paddings.length / 2).map((i) => {
    const d = dims ? dims[i] : null;
    if (d === null) return null;
    const left = d - paddings[2 * i] - paddings[2 * i + 1];
    if (left < 0)
      fail(node, {
        code: "bad-paddings",
        message: `MirrorPadGrad's paddings remove more than dimension ${i} of its gradient (shape ${formatShape(dims)})`,
        expected: `paddings summing to at most ${d}`,
        received: `[${paddings[2 * i]}, ${paddings[2 * i + 1]}]`,
        fix: "pass the paddings of the MirrorPad whose gradient this is",
      });
    return left;
  });
}

registerOp({
  type: "MirrorPadGrad",
  inputs: 2,
  attrs: { mode: { kind: "string", oneOf: MODES } },
  infer: ([dy, p], attrs, node) => {
    requireInt32(p, "MirrorPadGrad", "paddings", node);
    const paddings = p.value ? ints(p.value) : undefined;
    const shape = unpaddedShape(dy.shape, paddings, p.shape, node);
    checkMirror(shape, paddings, attrs.mode, "MirrorPadGrad", node);
    return [{ dtype: dy.dtype, shape }];
  },
  kernel: ([dy, p], attrs, ctx) => {
    const paddings = ints(p);
    const shape = unpaddedShape(dy.shape, paddings, p.shape, ctx.node) as number[];
    checkMirror(shape, paddings, attrs.mode, "MirrorPadGrad", ctx.node);
    const out = ctx.alloc(dy.dtype, product(shape));
    const src = dy.data;
    forEachMirrored(dy.shape, shape, beforeOf(paddings), offsetOf(attrs.mode), (o, i) => (out[i] += src[o]));
    if (dy.dtype === "int32") for (let i = 0; i < out.length; i++) out[i] |= 0;
    return [new NDArray(dy.dtype, shape, out)];
  },
  // TF's _MirrorPadGradGrad: mirror-pad the gradient again.
  gradient: (op, [dy]) => [mirrorPad(dy!, op.inputs[1], op.attrs.mode as string), null],
});

export type PadMode = "CONSTANT" | "REFLECT" | "SYMMETRIC";

export function mirrorPad(x: TensorLike, paddings: TensorLike, mode: string, name = "MirrorPad"): Tensor {
  return buildOp("MirrorPad", name, [[x, "input"], [paddings, "paddings", "int32"]], { mode }).outputs[0];
}

export function mirrorPadGrad(dy: TensorLike, paddings: TensorLike, mode: string, name = "MirrorPadGrad"): Tensor {
  return buildOp("MirrorPadGrad", name, [[dy, "input"], [paddings, "paddings", "int32"]], { mode }).outputs[0];
}

/** PadV2 with `constantValues` converted to the input's dtype, as TF's generated wrapper does. */
function padV2(x: TensorLike, paddings: TensorLike, constantValues: TensorLike, name: string): Tensor {
  const g = graphOf([x, paddings, constantValues]);
  return g.nameScope(name, () => {
    const scope = g.nameScopeValue;
    const input = convertToTensor(x, undefined, "input", g);
    const p = paddings instanceof Tensor ? paddings : convertToTensor(paddings, "int32", "paddings", g);
    const dtype: DType = input.dtype;
    const c = constantValues instanceof Tensor ? constantValues : convertToTensor(constantValues, dtype, "constant_values", g);
    return g.addOp({ type: "PadV2", name: scope, absoluteName: true, inputs: [input, p, c] }).outputs[0];
  });
}

/**
 * `tf.pad(tensor, paddings, mode = "CONSTANT", name?, constantValues = 0)`, TF1's argument order.
 * `paddings` is `[[before, after], ...]`, one pair per dimension. CONSTANT with a literal 0
 * builds Pad, with any other value (or a tensor) PadV2; REFLECT and SYMMETRIC (any case) MirrorPad.
 */
export function pad(tensor: TensorLike, paddings: TensorLike, mode: string = "CONSTANT", name?: string, constantValues: TensorLike = 0): Tensor {
  const upper = typeof mode === "string" ? mode.toUpperCase() : String(mode);
  if (upper === "CONSTANT") {
    if (!(constantValues instanceof Tensor) && constantValues === 0) return zeroPad(tensor, paddings, name ?? "Pad");
    return padV2(tensor, paddings, constantValues, name ?? "PadV2");
  }
  if (upper === "REFLECT" || upper === "SYMMETRIC") return mirrorPad(tensor, paddings, upper, name ?? "MirrorPad");
  return fail(name ?? "Pad", {
    code: "bad-mode",
    message: `unknown padding mode ${JSON.stringify(mode)}`,
    expected: "CONSTANT, REFLECT or SYMMETRIC",
    received: String(mode),
    fix: 'use mode "CONSTANT" (with constantValues), "REFLECT" or "SYMMETRIC"',
  });
}
