/**
 * StridedSlice (Python's `x[1:-1:2, ..., tf.newaxis, 0]`) and StridedSliceGrad, its gradient,
 * with TF's semantics: `begin`, `end`, `strides` are int32 vectors of one length (the *sparse*
 * spec); bit i of a mask concerns entry i:
 *
 *   begin_mask / end_mask  ignore begin[i] / end[i]: take the dimension from its start / to its end
 *   ellipsis_mask          entry i is `...`: as many full dimensions as the input has left (one bit at most)
 *   new_axis_mask          entry i inserts a dimension of size 1 (begin/end/stride ignored)
 *   shrink_axis_mask       entry i takes the single index begin[i] and removes the dimension
 *
 * A spec without an ellipsis ends with an implicit one. Negative indices count from the end;
 * out-of-range begin/end are clamped, as in Python (a shrunk index out of range is an error).
 */
import type { Tensor } from "../../graph";
import { NDArray } from "../../ndarray";
import { registerOp, type Attrs, type AttrSpec, type TensorSpec } from "../../registry";
import { formatShape, isFullyDefined, stridesOf, type MaybeShape } from "../../shape";
import type { TensorLike } from "../build";
import { buildOp, copyBlock, fail, ints, product, rankFromLength, unknownDims, vectorInput } from "./common";
import { shape as shapeOf } from "./reshape";

const MASKS = ["begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask"] as const;
const MASK_ATTRS: Record<string, AttrSpec> = Object.fromEntries(MASKS.map((m) => [m, { kind: "int", default: 0 }]));

const NEW_AXIS = -1;
const SHRINK_AXIS = -2;
const bit = (mask: number, i: number) => ((mask >>> i) & 1) === 1;

/** The spec over the input's dimensions (the ellipsis expanded, new axes set aside). */
interface DenseSpec {
  begin: (number | undefined)[];
  end: (number | undefined)[];
  strides: (number | undefined)[];
  beginMask: boolean[];
  endMask: boolean[];
  shrink: boolean[];
  /** Per output dimension before shrinking: the input dimension, NEW_AXIS or SHRINK_AXIS. */
  gather: number[];
}

function denseSpec(rank: number, sparseDims: number, sparse: { begin?: number[]; end?: number[]; strides?: number[] }, attrs: Attrs, node: string): DenseSpec {
  const [beginMask, endMask, ellipsisMaskIn, newAxisMask, shrinkMask] = MASKS.map((m) => attrs[m] as number);
  let ellipsisMask = ellipsisMaskIn;
  if (ellipsisMask & (ellipsisMask - 1))
    fail(node, { code: "bad-strided-slice", message: "StridedSlice allows one ellipsis at most", expected: "at most one bit set in ellipsis_mask", received: String(ellipsisMask), fix: "use `...` once in the slice" });
  let dims = sparseDims;
  let newAxesAfterEllipsis = 0;
  let seen = false;
  for (let i = 0; i < dims; i++) {
    if (seen && bit(newAxisMask, i)) newAxesAfterEllipsis++;
    if (bit(ellipsisMask, i)) seen = true;
  }
  if (!seen) ellipsisMask |= 1 << dims++;
  const dense: DenseSpec = { begin: [], end: [], strides: [], beginMask: [], endMask: [], shrink: [], gather: [] };
  let full = 0;
  for (let i = 0; i < dims; i++) {
    if (bit(ellipsisMask, i)) {
      const next = Math.min(rank - (dims - i) + 1 + newAxesAfterEllipsis, rank);
      for (; full < next; full++) {
        dense.begin[full] = dense.end[full] = 0;
        dense.strides[full] = 1;
        dense.beginMask[full] = dense.endMask[full] = true;
        dense.shrink[full] = false;
        dense.gather.push(full);
      }
    } else if (bit(newAxisMask, i)) dense.gather.push(NEW_AXIS);
    else {
      if (full === rank)
        fail(node, {
          code: "bad-strided-slice",
          message: `StridedSlice indexes more dimensions than the input's ${rank}`,
          expected: `at most ${rank} indexed dimensions`,
          received: `entry ${i} of the slice`,
          fix: "index fewer dimensions, or reshape the input",
        });
      dense.begin[full] = sparse.begin?.[i];
      dense.end[full] = sparse.end?.[i];
      dense.strides[full] = sparse.strides?.[i];
      dense.beginMask[full] = bit(beginMask, i);
      dense.endMask[full] = bit(endMask, i);
      dense.shrink[full] = bit(shrinkMask, i);
      dense.gather.push(dense.shrink[full] ? SHRINK_AXIS : full);
      full++;
    }
  }
  return dense;
}

/** Where the slice starts and how it steps per input dimension, and the sliced sizes before reshaping. */
export interface SliceGeometry {
  begin: number[];
  strides: number[];
  /** The sliced block, one dim per input dimension (null where not known statically). */
  processing: (number | null)[];
  /** The output: `processing` with new axes inserted and shrunk dims removed. */
  output: MaybeShape;
}

function geometry(input: MaybeShape, sparseDims: number | null, sparse: { begin?: number[]; end?: number[]; strides?: number[] }, attrs: Attrs, node: string): SliceGeometry | null {
  if (input === null || sparseDims === null) return null;
  const dense = denseSpec(input.length, sparseDims, sparse, attrs, node);
  const g: SliceGeometry = { begin: [], strides: [], processing: [], output: [] };
  input.forEach((dim, i) => {
    const stride = dense.strides[i];
    const shrink = dense.shrink[i];
    if (stride === 0)
      fail(node, { code: "bad-strided-slice", message: `StridedSlice's stride ${i} is zero`, expected: "non-zero strides", received: "0", fix: "use a stride of 1 (or -1 to reverse)" });
    if (shrink && stride !== undefined && stride < 0)
      fail(node, { code: "bad-strided-slice", message: `StridedSlice takes a single index in dimension ${i} with a negative stride`, expected: "stride > 0", received: String(stride), fix: "index with a positive stride" });
    let b = dense.begin[i];
    let e = dense.end[i];
    g.begin.push(b ?? 0);
    g.strides.push(stride ?? 1);
    if (dim === null || stride === undefined) return void g.processing.push(shrink ? 1 : null);
    if (shrink) {
      if (b === undefined) return void g.processing.push(1);
      const index = b < 0 ? dim + b : b;
      if (index < 0 || index >= dim)
        fail(node, {
          code: "slice-out-of-bounds",
          message: `StridedSlice index ${b} is out of bounds in dimension ${i} of shape ${formatShape(input)}`,
          expected: `an index in [${-dim}, ${dim})`,
          received: String(b),
          fix: "index inside the dimension",
        });
      g.begin[i] = index;
      return void g.processing.push(1);
    }
    const range = stride > 0 ? [0, dim] : [-1, dim - 1];
    const canonical = (x: number | undefined, masked: boolean, c: 0 | 1): number | undefined => {
      if (masked) return stride > 0 ? range[c] : range[1 - c];
      if (x === undefined) return undefined;
      const forward = x < 0 ? dim + x : x;
      return Math.min(Math.max(forward, range[0]), range[1]);
    };
    b = canonical(b, dense.beginMask[i], 0);
    e = canonical(e, dense.endMask[i], 1);
    if (b === undefined || e === undefined) return void g.processing.push(null);
    g.begin[i] = b;
    const length = e - b;
    const size = length === 0 || length < 0 !== stride < 0 ? 0 : Math.trunc(length / stride) + (length % stride !== 0 ? 1 : 0);
    g.processing.push(size);
  });
  g.output = dense.gather.filter((k) => k !== SHRINK_AXIS).map((k) => (k === NEW_AXIS ? 1 : g.processing[k]));
  return g;
}

/** The constant parts of begin / end / strides, checked to be int32 vectors of one length. */
function sparseInputs([, b, e, s]: TensorSpec[], node: string): { sparse: { begin?: number[]; end?: number[]; strides?: number[] }; dims: number | null } {
  const begin = vectorInput(b, "StridedSlice", "begin", node);
  const end = vectorInput(e, "StridedSlice", "end", node);
  const strides = vectorInput(s, "StridedSlice", "strides", node);
  const lengths = [b, e, s].map((v, i) => rankFromLength(v, "StridedSlice", ["begin", "end", "strides"][i], node));
  const known = lengths.filter((n): n is number => n !== null);
  if (known.some((n) => n !== known[0]))
    fail(node, {
      code: "bad-strided-slice",
      message: "StridedSlice's begin, end and strides must have one length",
      expected: "vectors of equal length",
      received: `lengths ${lengths.map((n) => n ?? "?").join(", ")}`,
      fix: "pass one begin, end and stride per sliced dimension",
    });
  return { sparse: { begin, end, strides }, dims: known[0] ?? null };
}

registerOp({
  type: "StridedSlice",
  inputs: 4,
  attrs: MASK_ATTRS,
  infer: (inputs, attrs, node) => {
    const { sparse, dims } = sparseInputs(inputs, node);
    const g = geometry(inputs[0].shape, dims, sparse, attrs, node);
    return [{ dtype: inputs[0].dtype, shape: g ? g.output : null }];
  },
  kernel: ([x, b, e, s], attrs, ctx) => {
    const g = geometry(x.shape, b.size, { begin: ints(b), end: ints(e), strides: ints(s) }, attrs, ctx.node)!;
    const block = g.processing as number[];
    const inStrides = stridesOf(x.shape);
    const out = ctx.alloc(x.dtype, product(block));
    const offset = g.begin.reduce((acc, v, i) => acc + v * inStrides[i], 0);
    copyBlock(x.data, offset, g.strides.map((st, i) => st * inStrides[i]), out, 0, stridesOf(block), block);
    return [new NDArray(x.dtype, g.output as number[], out)];
  },
  // As TF's _StridedSliceGrad: scatter dy into zeros of the input's shape.
  gradient: (op, [dy]) => {
    const [x, begin, end, strides] = op.inputs;
    const xShape: TensorLike = isFullyDefined(x.shape) ? [...x.shape] : shapeOf(x);
    return [stridedSliceGrad(xShape, begin, end, strides, dy!, maskOptions(op.attrs)), null, null, null];
  },
});

registerOp({
  type: "StridedSliceGrad",
  inputs: 5,
  attrs: MASK_ATTRS,
  infer: ([shape, b, e, s, dy], attrs, node) => {
    const target = vectorInput(shape, "StridedSliceGrad", "shape", node);
    const { sparse, dims } = sparseInputs([shape, b, e, s], node);
    const out: MaybeShape = target ?? unknownDims(rankFromLength(shape, "StridedSliceGrad", "shape", node));
    const g = geometry(out, dims, sparse, attrs, node);
    if (g?.output && dy.shape && isFullyDefined(g.output) && isFullyDefined(dy.shape) && formatShape(g.output) !== formatShape(dy.shape))
      fail(node, { code: "shape-mismatch", message: "StridedSliceGrad's dy does not have the slice's shape", expected: formatShape(g.output), received: formatShape(dy.shape) });
    return [{ dtype: dy.dtype, shape: out }];
  },
  kernel: ([shape, b, e, s, dy], attrs, ctx) => {
    const target = ints(shape);
    const g = geometry(target, b.size, { begin: ints(b), end: ints(e), strides: ints(s) }, attrs, ctx.node)!;
    const block = g.processing as number[];
    if (product(block) !== dy.size)
      fail(ctx.node, { code: "shape-mismatch", message: "StridedSliceGrad's dy does not have the slice's shape", expected: formatShape(g.output), received: formatShape(dy.shape) });
    const inStrides = stridesOf(target);
    const out = ctx.alloc(dy.dtype, product(target));
    const offset = g.begin.reduce((acc, v, i) => acc + v * inStrides[i], 0);
    copyBlock(dy.data, 0, stridesOf(block), out, offset, g.strides.map((st, i) => st * inStrides[i]), block);
    return [new NDArray(dy.dtype, target, out)];
  },
  gradient: (op, [ddx]) => {
    const [, begin, end, strides] = op.inputs;
    return [null, null, null, null, stridedSlice(ddx!, begin, end, strides, maskOptions(op.attrs))];
  },
});

export interface StridedSliceOptions {
  beginMask?: number;
  endMask?: number;
  ellipsisMask?: number;
  newAxisMask?: number;
  shrinkAxisMask?: number;
  name?: string;
}

function maskOptions(attrs: Attrs): StridedSliceOptions {
  return {
    beginMask: attrs.begin_mask as number,
    endMask: attrs.end_mask as number,
    ellipsisMask: attrs.ellipsis_mask as number,
    newAxisMask: attrs.new_axis_mask as number,
    shrinkAxisMask: attrs.shrink_axis_mask as number,
  };
}

function maskAttrs(o: StridedSliceOptions): Attrs {
  return {
    begin_mask: o.beginMask ?? 0,
    end_mask: o.endMask ?? 0,
    ellipsis_mask: o.ellipsisMask ?? 0,
    new_axis_mask: o.newAxisMask ?? 0,
    shrink_axis_mask: o.shrinkAxisMask ?? 0,
  };
}

function onesLike(begin: TensorLike): TensorLike | undefined {
  if (Array.isArray(begin)) return begin.map(() => 1);
  if (begin instanceof NDArray) return new Array<number>(begin.size).fill(1);
  return undefined;
}

/**
 * `tf.stridedSlice(input, begin, end, strides?, { beginMask, endMask, ellipsisMask, newAxisMask,
 * shrinkAxisMask, name })`; strides default to ones when begin is a literal.
 */
export function stridedSlice(input: TensorLike, begin: TensorLike, end: TensorLike, strides?: TensorLike, options: StridedSliceOptions = {}): Tensor {
  const s = strides ?? onesLike(begin);
  if (s === undefined)
    fail(options.name ?? "StridedSlice", { code: "bad-strided-slice", message: "tf.stridedSlice needs strides when begin is a tensor", fix: "pass strides explicitly" });
  const inputs: [TensorLike, string, "int32"?][] = [[input, "input"], [begin, "begin", "int32"], [end, "end", "int32"], [s, "strides", "int32"]];
  return buildOp("StridedSlice", options.name ?? "StridedSlice", inputs, maskAttrs(options)).outputs[0];
}

/** `StridedSliceGrad(shape, begin, end, strides, dy)`: dy scattered into zeros of `shape` where the slice took its values. */
export function stridedSliceGrad(shape: TensorLike, begin: TensorLike, end: TensorLike, strides: TensorLike, dy: TensorLike, options: StridedSliceOptions = {}): Tensor {
  const inputs: [TensorLike, string, "int32"?][] = [[shape, "shape", "int32"], [begin, "begin", "int32"], [end, "end", "int32"], [strides, "strides", "int32"], [dy, "dy"]];
  return buildOp("StridedSliceGrad", options.name ?? "StridedSliceGrad", inputs, maskAttrs(options)).outputs[0];
}
