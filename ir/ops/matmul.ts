/**
 * MatMul (rank 2, attrs transpose_a / transpose_b) and BatchMatMulV2 (rank >= 2, attrs adj_x /
 * adj_y, batch dimensions broadcast like numpy). `matmul` picks between them as tf.matmul does.
 * The reference kernel is an i-k-j loop over a float64 row accumulator; a transposed right
 * operand is copied to row-major first so that the inner loop reads contiguously.
 */
import type { DType, TypedArray } from "../dtype";
import { invalidArgument } from "../diagnostics";
import type { Operation, Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { broadcastIndex } from "../broadcast";
import { registerOp, type Attrs, type KernelContext, type TensorSpec } from "../registry";
import { broadcastShapes, formatShape, isFullyDefined, sizeOf } from "../shape";
import { apply1, convertAll, graphOf, type TensorLike } from "./build";
import { shape } from "./array";

const DTYPES: readonly DType[] = ["float32", "int32"];

/** Dtypes and ranks: exactly 2 for MatMul (`matrices`), at least 2 for BatchMatMulV2. */
function checkOperands(type: string, a: TensorSpec, b: TensorSpec, matrices: boolean, node: string): void {
  if (!DTYPES.includes(a.dtype))
    throw invalidArgument({
      code: "bad-dtype",
      node,
      message: `${type} does not accept ${a.dtype} inputs`,
      expected: DTYPES.join(" or "),
      received: a.dtype,
      fix: 'cast the operands first, e.g. tf.cast(a, "float32")',
    });
  if (a.dtype !== b.dtype)
    throw invalidArgument({
      code: "dtype-mismatch",
      node,
      message: `${type} needs both operands of one dtype`,
      expected: a.dtype,
      received: b.dtype,
      fix: `cast one operand: tf.cast(b, "${a.dtype}")`,
    });
  for (const [i, s] of [a.shape, b.shape].entries())
    if (s !== null && (matrices ? s.length !== 2 : s.length < 2))
      throw invalidArgument({
        code: "bad-rank",
        node,
        message: `input ${i} of ${type} must be ${matrices ? "a matrix" : "a batch of matrices"}, not shape ${formatShape(s)}`,
        expected: matrices ? "rank 2" : "rank >= 2",
        received: `rank ${s.length}`,
        fix: matrices ? "reshape to [rows, columns], or use tf.matmul for batches" : "give both operands at least two dimensions",
      });
}

/** [rows, inner] of `a` and [inner, columns] of `b` after the transposes; throws on an inner mismatch. */
function matrixDims(type: string, a: readonly (number | null)[], b: readonly (number | null)[], ta: boolean, tb: boolean, node: string): (number | null)[] {
  const ra = a.length;
  const rb = b.length;
  const [m, ka] = ta ? [a[ra - 1], a[ra - 2]] : [a[ra - 2], a[ra - 1]];
  const [kb, n] = tb ? [b[rb - 1], b[rb - 2]] : [b[rb - 2], b[rb - 1]];
  if (ka !== null && kb !== null && ka !== kb)
    throw invalidArgument({
      code: "incompatible-shapes",
      node,
      message: `${type}: the inner dimensions of ${formatShape([...a])}${ta ? " (transposed)" : ""} and ${formatShape([...b])}${tb ? " (transposed)" : ""} differ`,
      expected: `b's ${tb ? "last" : "first"} matrix dimension to equal a's inner dimension ${ka}`,
      received: `${kb}`,
      fix: "transpose one operand (transposeA / transposeB) or fix the shapes so that a's columns match b's rows",
    });
  return [m, ka ?? kb, n];
}

/** out[outOff..] = op(a)[m×k] · op(b)[k×n] for one matrix pair; `row` is a float64 scratch of n. */
function matmulBlock(
  out: TypedArray, outOff: number, a: TypedArray, aOff: number, b: ArrayLike<number>, bOff: number,
  m: number, k: number, n: number, ta: boolean, row: Float64Array, isInt: boolean,
): void {
  for (let i = 0; i < m; i++) {
    row.fill(0);
    for (let p = 0; p < k; p++) {
      const av = ta ? a[aOff + p * m + i] : a[aOff + i * k + p];
      const bRow = bOff + p * n;
      if (isInt) for (let j = 0; j < n; j++) row[j] = (row[j] + Math.imul(av, b[bRow + j])) | 0;
      else for (let j = 0; j < n; j++) row[j] += av * b[bRow + j];
    }
    const o = outOff + i * n;
    for (let j = 0; j < n; j++) out[o + j] = row[j];
  }
}

/** The k×n row-major copy of a transposed (n×k) right operand. */
function transposed(b: TypedArray, off: number, k: number, n: number, into: Float64Array): Float64Array {
  for (let j = 0; j < n; j++) for (let p = 0; p < k; p++) into[p * n + j] = b[off + j * k + p];
  return into;
}

function matmulKernel(type: string, ta: boolean, tb: boolean, [a, b]: NDArray[], ctx: KernelContext): NDArray {
  const [m, k, n] = matrixDims(type, a.shape, b.shape, ta, tb, ctx.node) as number[];
  const batchA = a.shape.slice(0, -2);
  const batchB = b.shape.slice(0, -2);
  const batch = broadcastShapes(batchA, batchB, ctx.node) as number[];
  const batches = sizeOf(batch);
  const ia = broadcastIndex(batchA, batch);
  const ib = broadcastIndex(batchB, batch);
  const out = ctx.alloc(a.dtype, batches * m * n);
  const row = new Float64Array(n);
  const scratch = tb ? new Float64Array(k * n) : null;
  let transposedAt = -1;
  for (let t = 0; t < batches; t++) {
    const aOff = (ia ? ia[t] : t) * m * k;
    const bOff = (ib ? ib[t] : t) * k * n;
    if (scratch && bOff !== transposedAt) transposed(b.data, bOff, k, n, scratch);
    transposedAt = bOff;
    const right = scratch ?? b.data;
    matmulBlock(out, t * m * n, a.data, aOff, right, scratch ? 0 : bOff, m, k, n, ta, row, a.dtype === "int32");
  }
  return new NDArray(a.dtype, [...batch, m, n], out);
}

/** Fed values may have any rank where the static shape was unknown: check again at run time. */
function checkRuntimeRank(type: string, [a, b]: NDArray[], matrices: boolean, node: string): void {
  checkOperands(type, { dtype: a.dtype, shape: a.shape }, { dtype: b.dtype, shape: b.shape }, matrices, node);
}

// ---------------------------------------------------------------------------------------------
// Gradients: TF's _MatMulGrad and _BatchMatMulV2 rules.

type Product = (x: Tensor, y: Tensor, tx: boolean, ty: boolean) => Tensor;

/** [dA, dB] for C = op(A)·op(B), as TF's math_grad.py writes them for the four transpose cases. */
function productGrads(a: Tensor, b: Tensor, dy: Tensor, ta: boolean, tb: boolean, mm: Product): [Tensor, Tensor] {
  if (!ta && !tb) return [mm(dy, b, false, true), mm(a, dy, true, false)];
  if (!ta && tb) return [mm(dy, b, false, false), mm(dy, a, true, false)];
  if (ta && !tb) return [mm(b, dy, false, true), mm(a, dy, false, false)];
  return [mm(b, dy, true, true), mm(dy, a, true, true)];
}

/** Sums a batch gradient over the batch dimensions its input was broadcast along. */
function sumToInput(g: Tensor, x: Tensor): Tensor {
  const same = g.shape !== null && x.shape !== null && isFullyDefined(x.shape) && g.shape.length === x.shape.length && g.shape.every((d, i) => d === x.shape![i]);
  if (same) return g;
  return apply1("SumToShape", [g, shape(x)], {}, "SumToShape");
}

registerOp({
  type: "MatMul",
  inputs: 2,
  attrs: { transpose_a: { kind: "bool", default: false }, transpose_b: { kind: "bool", default: false } },
  infer: ([a, b], attrs, node) => {
    checkOperands("MatMul", a, b, true, node);
    const [m, , n] = matrixDims("MatMul", a.shape ?? [null, null], b.shape ?? [null, null], attrs.transpose_a as boolean, attrs.transpose_b as boolean, node);
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
  kernel: (inputs, attrs: Attrs, ctx) => {
    checkRuntimeRank("MatMul", inputs, true, ctx.node);
    return [matmulKernel("MatMul", attrs.transpose_a as boolean, attrs.transpose_b as boolean, inputs, ctx)];
  },
  gradient: (op: Operation, [dy]) => {
    if (!dy) return [null, null];
    const [a, b] = op.inputs;
    const mm: Product = (x, y, tx, ty) => apply1("MatMul", [x, y], { transpose_a: tx, transpose_b: ty }, "MatMul");
    return productGrads(a, b, dy, op.attrs.transpose_a as boolean, op.attrs.transpose_b as boolean, mm);
  },
});

registerOp({
  type: "BatchMatMulV2",
  inputs: 2,
  attrs: { adj_x: { kind: "bool", default: false }, adj_y: { kind: "bool", default: false } },
  infer: ([a, b], attrs, node) => {
    checkOperands("BatchMatMulV2", a, b, false, node);
    if (a.shape === null || b.shape === null) return [{ dtype: a.dtype, shape: null }];
    const [m, , n] = matrixDims("BatchMatMulV2", a.shape, b.shape, attrs.adj_x as boolean, attrs.adj_y as boolean, node);
    const batch = broadcastShapes(a.shape.slice(0, -2), b.shape.slice(0, -2), node);
    return [{ dtype: a.dtype, shape: batch === null ? null : [...batch, m, n] }];
  },
  kernel: (inputs, attrs: Attrs, ctx) => {
    checkRuntimeRank("BatchMatMulV2", inputs, false, ctx.node);
    return [matmulKernel("BatchMatMulV2", attrs.adj_x as boolean, attrs.adj_y as boolean, inputs, ctx)];
  },
  gradient: (op: Operation, [dy]) => {
    if (!dy) return [null, null];
    const [a, b] = op.inputs;
    const mm: Product = (x, y, tx, ty) => apply1("BatchMatMulV2", [x, y], { adj_x: tx, adj_y: ty }, "MatMul");
    const [da, db] = productGrads(a, b, dy, op.attrs.adj_x as boolean, op.attrs.adj_y as boolean, mm);
    return [sumToInput(da, a), sumToInput(db, b)];
  },
});

export interface MatmulOptions {
  transposeA?: boolean;
  transposeB?: boolean;
  /** Same as transposeA for real matrices. */
  adjointA?: boolean;
  adjointB?: boolean;
  name?: string;
}

/**
 * `tf.matmul(a, b, options?)`: MatMul for two matrices, BatchMatMulV2 (batch dimensions
 * broadcast) when either operand has rank above 2 or an unknown rank, as in TF 1.15.
 * The third argument may be the name instead of the options.
 */
export function matmul(a: TensorLike, b: TensorLike, options: MatmulOptions | string = {}): Tensor {
  const opts: MatmulOptions = typeof options === "string" ? { name: options } : options;
  const ta = Boolean(opts.transposeA || opts.adjointA);
  const tb = Boolean(opts.transposeB || opts.adjointB);
  const name = opts.name ?? "MatMul";
  const [x, y] = convertAll([a, b], graphOf([a, b]));
  const batched = x.rank === null || y.rank === null || x.rank > 2 || y.rank > 2;
  if (batched) return apply1("BatchMatMulV2", [x, y], { adj_x: ta, adj_y: tb }, name);
  return apply1("MatMul", [x, y], { transpose_a: ta, transpose_b: tb }, name);
}
