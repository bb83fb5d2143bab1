/**
 * Helpers shared by the array op family (ir/ops/array/*.ts): reading int inputs that are
 * constants, input checks that name the node, building an op with TF's input-constant names
 * (`Reshape/shape`), and one strided block copy that every data-moving kernel uses.
 */
import type { DType, TypedArray } from "../../dtype";
import { invalidArgument } from "../../diagnostics";
import { Tensor, type Graph, type Operation } from "../../graph";
import type { NDArray } from "../../ndarray";
import type { Attrs, TensorSpec } from "../../registry";
import { formatShape, type MaybeShape } from "../../shape";
import { convertToTensor, graphOf, type TensorLike } from "../build";

/** The values of a constant int input, or undefined when the input is not a Const. */
export function constInts(spec: TensorSpec): number[] | undefined {
  return spec.value ? Array.from(spec.value.data, (v) => v) : undefined;
}

/** The values of a tensor produced by a Const op (for gradient rules), else undefined. */
export function tensorInts(t: Tensor): number[] | undefined {
  if (t.op.type !== "Const") return undefined;
  return Array.from((t.op.attrs.value as NDArray).data, (v) => v);
}

export function ints(a: NDArray): number[] {
  return Array.from(a.data, (v) => v);
}

export function product(dims: readonly number[]): number {
  let n = 1;
  for (const d of dims) n *= d;
  return n;
}

export function range(start: number, end: number): number[] {
  const out: number[] = [];
  for (let i = start; i < end; i++) out.push(i);
  return out;
}

export interface Problem {
  code: string;
  message: string;
  expected?: string;
  received?: string;
  fix?: string;
}

/** Throws an InvalidArgumentError for `node`. */
export function fail(node: string, p: Problem): never {
  throw invalidArgument({ node, ...p });
}

/** An int input (shape, axis, perm ...) must be int32. */
export function requireInt32(spec: { dtype: DType }, type: string, what: string, node: string): void {
  if (spec.dtype !== "int32")
    fail(node, {
      code: "bad-dtype",
      message: `the \`${what}\` input of ${type} must be int32`,
      expected: "int32",
      received: spec.dtype,
      fix: `pass integers, or cast it: tf.cast(${what}, "int32")`,
    });
}

/** The input must have rank `rank` when its rank is known (0: scalar, 1: vector). */
export function requireRank(shape: MaybeShape, rank: number, type: string, what: string, node: string): void {
  if (shape !== null && shape.length !== rank)
    fail(node, {
      code: "bad-rank",
      message: `the \`${what}\` input of ${type} must be ${rank === 0 ? "a scalar" : rank === 1 ? "a vector" : `of rank ${rank}`}`,
      expected: `rank ${rank}`,
      received: `shape ${formatShape(shape)}`,
      fix: rank === 0 ? `pass one integer for \`${what}\`` : `pass a ${rank}-D int32 tensor for \`${what}\``,
    });
}

/** An int32 scalar input (axis, dim, depth); returns its constant value when known. */
export function scalarInput(spec: TensorSpec, type: string, what: string, node: string): number | undefined {
  requireInt32(spec, type, what, node);
  const s = spec.shape;
  const ok = s === null || s.length === 0 || (s.length === 1 && (s[0] === 1 || s[0] === null));
  if (!ok) requireRank(s, 0, type, what, node);
  return constInts(spec)?.[0];
}

/** An int32 vector input (shape, perm, multiples ...); returns its constant value when known. */
export function vectorInput(spec: TensorSpec, type: string, what: string, node: string): number[] | undefined {
  requireInt32(spec, type, what, node);
  requireRank(spec.shape, 1, type, what, node);
  return constInts(spec);
}

/** The length of a vector input from its static shape, when known. */
export function vectorLength(spec: TensorSpec): number | null {
  const n = spec.shape?.[0];
  return n === undefined ? null : n;
}

/** The most dimensions a tensor may have (TF's TensorShape::MaxDimensions). */
export const MAX_RANK = 254;

/**
 * The rank that a shape-like vector input (a shape, perm, multiples, begin ...) gives, from its
 * static length: null when unknown, an InvalidArgumentError naming the node above MAX_RANK (a
 * placeholder of shape [2147483647] must not make shape inference allocate that many dims).
 */
export function rankFromLength(spec: TensorSpec, type: string, what: string, node: string): number | null {
  const n = vectorLength(spec);
  if (n === null || n <= MAX_RANK) return n;
  return fail(node, {
    code: "bad-rank",
    message: `the \`${what}\` input of ${type} has ${n} entries, one per dimension of a tensor of rank ${n}, above the most a tensor may have (${MAX_RANK})`,
    expected: `at most ${MAX_RANK} entries`,
    received: `shape ${formatShape(spec.shape)}`,
    fix: `pass one entry per dimension for \`${what}\``,
  });
}

/** The most outputs one op may have (Split's num_split, Unpack's num): as many as a GraphDef may have nodes by default. */
export const MAX_OUTPUTS = 1e6;

/** An attribute that sets an op's output count: an integer in [min, MAX_OUTPUTS]. */
export function outputCount(num: number, type: string, attr: string, node: string, min = 1): number {
  if (Number.isInteger(num) && num >= min && num <= MAX_OUTPUTS) return num;
  return fail(node, {
    code: "bad-output-count",
    message: `${type}'s \`${attr}\` sets its number of outputs, and must be an integer from ${min} to ${MAX_OUTPUTS}`,
    expected: `an integer in [${min}, ${MAX_OUTPUTS}]`,
    received: String(num),
    fix: `set \`${attr}\` to the number of pieces`,
  });
}

/** A shape of `rank` unknown dims, or unknown rank. */
export function unknownDims(rank: number | null): MaybeShape {
  return rank === null ? null : new Array<null>(rank).fill(null);
}

/** All inputs of a multi-input op (ConcatV2, Pack, SelectV2 ...) must share one dtype. */
export function requireSameDType(specs: readonly TensorSpec[], type: string, node: string): DType {
  const dtype = specs[0].dtype;
  specs.forEach((s, i) => {
    if (s.dtype !== dtype)
      fail(node, {
        code: "dtype-mismatch",
        message: `${type} needs all its values of one dtype, but value ${i} is ${s.dtype}`,
        expected: dtype,
        received: s.dtype,
        fix: `cast value ${i}: tf.cast(v, "${dtype}")`,
      });
  });
  return dtype;
}

/** Merges two static dims that must agree; throws naming the node when both are known and differ. */
export function mergeDim(a: number | null, b: number | null, node: string, what: string): number | null {
  if (a === null) return b;
  if (b === null || a === b) return a;
  return fail(node, {
    code: "incompatible-shapes",
    message: `${what}: ${a} vs ${b}`,
    expected: String(a),
    received: String(b),
    fix: "make the shapes agree (reshape or slice one of them)",
  });
}

/** One input of a builder: its value, TF's argument name (for the Const) and an optional dtype. */
export type BuildInput = [value: TensorLike, arg: string, dtype?: DType];

/**
 * Adds op `type` named `name` like TF's generated wrappers do: inside a name scope of that name,
 * so that literals become Consts named `<op>/<arg>` (`Reshape/shape`), and the op takes the
 * scope's own (uniquified) name.
 */
export function buildOp(type: string, name: string, inputs: BuildInput[], attrs: Attrs = {}, graph?: Graph): Operation {
  const g = graph ?? graphOf(inputs.map((i) => i[0]));
  return g.nameScope(name, () => {
    const scope = g.nameScopeValue;
    // Tensors pass unchanged: a wrong dtype is the op's error (naming the node), not a conversion's.
    const tensors = inputs.map(([value, arg, dtype]) => (value instanceof Tensor ? value : convertToTensor(value, dtype, arg, g)));
    return g.addOp({ type, name: scope, absoluteName: true, inputs: tensors, attrs });
  });
}

/**
 * Copies a block of `shape` from `src` (starting at `srcOffset`, element strides `srcStrides`)
 * into `dst` (at `dstOffset`, strides `dstStrides`). Stride 0 repeats (Tile); the data-moving
 * kernels (Transpose, Slice, Pad, ConcatV2, Pack, Split ...) are all one or a few calls of it.
 */
export function copyBlock(
  src: ArrayLike<number>,
  srcOffset: number,
  srcStrides: readonly number[],
  dst: TypedArray,
  dstOffset: number,
  dstStrides: readonly number[],
  shape: readonly number[],
): void {
  const rank = shape.length;
  if (rank === 0) {
    dst[dstOffset] = src[srcOffset];
    return;
  }
  for (const d of shape) if (d === 0) return;
  const last = rank - 1;
  const n = shape[last];
  const ss = srcStrides[last];
  const ds = dstStrides[last];
  const counter = new Array<number>(rank).fill(0);
  let s = srcOffset;
  let d = dstOffset;
  for (;;) {
    for (let i = 0; i < n; i++) dst[d + i * ds] = src[s + i * ss];
    let k = last - 1;
    for (; k >= 0; k--) {
      counter[k]++;
      s += srcStrides[k];
      d += dstStrides[k];
      if (counter[k] < shape[k]) break;
      s -= srcStrides[k] * shape[k];
      d -= dstStrides[k] * shape[k];
      counter[k] = 0;
    }
    if (k < 0) return;
  }
}
