/**
 * Elementwise ops, table-driven: each unary and binary op is one row with its TF name, its
 * scalar function (the reference kernel) and its gradient. Binary ops broadcast like numpy.
 * Codegen keeps its own expression table per target, keyed by the same names.
 */
import type { DType } from "../dtype";
import { invalidArgument } from "../diagnostics";
import type { Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { broadcastConcrete, broadcastIndex } from "../broadcast";
import { registerAlias, registerOp, type GradientRule, type KernelContext } from "../registry";
import { broadcastShapes } from "../shape";
import { apply1, convertAll, graphOf, type TensorLike } from "./build";

export interface UnaryRow {
  type: string;
  fn: (x: number) => number;
  /** dtypes accepted; defaults to float32 only. */
  dtypes?: readonly DType[];
  gradient?: GradientRule;
}

export interface BinaryRow {
  type: string;
  fn: (a: number, b: number) => number;
  dtypes?: readonly DType[];
  /** Output dtype when it is not the inputs' (comparisons give bool). */
  outDType?: DType;
  gradient?: GradientRule;
}

const NUMERIC: readonly DType[] = ["float32", "int32"];

function checkDType(type: string, dtype: DType, allowed: readonly DType[], node: string): void {
  if (!allowed.includes(dtype))
    throw invalidArgument({
      code: "bad-dtype",
      node,
      message: `${type} does not accept ${dtype} inputs`,
      expected: allowed.join(" or "),
      received: dtype,
      fix: `cast the input first, e.g. tf.cast(x, "${allowed[0]}")`,
    });
}

export function unaryKernel(fn: (x: number) => number) {
  return ([x]: NDArray[], _: unknown, ctx: KernelContext): NDArray[] => {
    const out = ctx.alloc(x.dtype, x.size);
    const src = x.data;
    for (let i = 0; i < out.length; i++) out[i] = fn(src[i]);
    return [new NDArray(x.dtype, [...x.shape], out)];
  };
}

export function binaryKernel(fn: (a: number, b: number) => number, outDType?: DType) {
  return ([a, b]: NDArray[], _: unknown, ctx: KernelContext): NDArray[] => {
    const shape = broadcastConcrete(a.shape, b.shape);
    const ia = broadcastIndex(a.shape, shape);
    const ib = broadcastIndex(b.shape, shape);
    const dtype = outDType ?? a.dtype;
    let size = 1;
    for (const d of shape) size *= d;
    const out = ctx.alloc(dtype, size);
    const da = a.data;
    const db = b.data;
    if (!ia && !ib) for (let i = 0; i < size; i++) out[i] = fn(da[i], db[i]);
    else for (let i = 0; i < size; i++) out[i] = fn(da[ia ? ia[i] : i], db[ib ? ib[i] : i]);
    if (dtype === "int32") for (let i = 0; i < size; i++) out[i] = out[i] | 0;
    return [new NDArray(dtype, shape, out)];
  };
}

export function registerUnary(row: UnaryRow): void {
  const allowed = row.dtypes ?? ["float32"];
  registerOp({
    type: row.type,
    inputs: 1,
    infer: ([x], _, node) => {
      checkDType(row.type, x.dtype, allowed, node);
      return [x];
    },
    kernel: unaryKernel(row.fn),
    gradient: row.gradient,
  });
}

export function registerBinary(row: BinaryRow): void {
  const allowed = row.dtypes ?? NUMERIC;
  registerOp({
    type: row.type,
    inputs: 2,
    infer: ([a, b], _, node) => {
      checkDType(row.type, a.dtype, allowed, node);
      if (a.dtype !== b.dtype)
        throw invalidArgument({
          code: "dtype-mismatch",
          node,
          message: `${row.type} needs both operands of one dtype`,
          expected: a.dtype,
          received: b.dtype,
          fix: `cast one operand: tf.cast(y, "${a.dtype}")`,
        });
      return [{ dtype: row.outDType ?? a.dtype, shape: broadcastShapes(a.shape, b.shape, node) }];
    },
    kernel: binaryKernel(row.fn, row.outDType),
    gradient: row.gradient,
  });
}

/** Builds a binary op over two tensor-likes, converting literals to the other operand's dtype. */
export function binary(type: string, a: TensorLike, b: TensorLike, name?: string): Tensor {
  const g = graphOf([a, b]);
  const [ta, tb] = convertAll([a, b], g);
  return apply1(type, [ta, tb], {}, name ?? type);
}

export function unary(type: string, x: TensorLike, name?: string): Tensor {
  return apply1(type, [x], {}, name ?? type);
}

/** Gradient rules go in the rows; they may call the builders below (they run later). */
export const unaryRows: UnaryRow[] = [
  { type: "Neg", fn: (x) => -x, dtypes: NUMERIC },
  { type: "Square", fn: (x) => x * x, dtypes: NUMERIC },
  { type: "Sqrt", fn: Math.sqrt },
  { type: "Rsqrt", fn: (x) => 1 / Math.sqrt(x) },
  { type: "Exp", fn: Math.exp },
  { type: "Log", fn: Math.log },
  { type: "Abs", fn: Math.abs, dtypes: NUMERIC },
  { type: "Relu", fn: (x) => (x > 0 ? x : 0), dtypes: NUMERIC },
  { type: "Relu6", fn: (x) => Math.min(Math.max(x, 0), 6), dtypes: NUMERIC },
  { type: "Sigmoid", fn: (x) => 1 / (1 + Math.exp(-x)) },
  { type: "Tanh", fn: Math.tanh },
  { type: "Elu", fn: (x) => (x > 0 ? x : Math.expm1(x)) },
  { type: "Reciprocal", fn: (x) => 1 / x },
  { type: "Sign", fn: Math.sign, dtypes: NUMERIC },
];

export const binaryRows: BinaryRow[] = [
  { type: "AddV2", fn: (a, b) => a + b },
  { type: "Sub", fn: (a, b) => a - b },
  { type: "Mul", fn: (a, b) => a * b },
  { type: "RealDiv", fn: (a, b) => a / b, dtypes: ["float32"] },
  { type: "FloorDiv", fn: (a, b) => Math.floor(a / b) },
  { type: "Maximum", fn: (a, b) => (a >= b ? a : b) },
  { type: "Minimum", fn: (a, b) => (a <= b ? a : b) },
  { type: "Pow", fn: (a, b) => Math.pow(a, b) },
  { type: "SquaredDifference", fn: (a, b) => (a - b) * (a - b) },
  { type: "Equal", fn: (a, b) => (a === b ? 1 : 0), dtypes: ["float32", "int32", "bool"], outDType: "bool" },
  { type: "NotEqual", fn: (a, b) => (a !== b ? 1 : 0), dtypes: ["float32", "int32", "bool"], outDType: "bool" },
  { type: "Greater", fn: (a, b) => (a > b ? 1 : 0), outDType: "bool" },
  { type: "GreaterEqual", fn: (a, b) => (a >= b ? 1 : 0), outDType: "bool" },
  { type: "Less", fn: (a, b) => (a < b ? 1 : 0), outDType: "bool" },
  { type: "LessEqual", fn: (a, b) => (a <= b ? 1 : 0), outDType: "bool" },
  { type: "LogicalAnd", fn: (a, b) => (a && b ? 1 : 0), dtypes: ["bool"] },
  { type: "LogicalOr", fn: (a, b) => (a || b ? 1 : 0), dtypes: ["bool"] },
];

for (const row of unaryRows) registerUnary(row);
for (const row of binaryRows) registerBinary(row);
registerAlias("Add", "AddV2");

export const add = (a: TensorLike, b: TensorLike, name?: string) => binary("AddV2", a, b, name ?? "add");
export const sub = (a: TensorLike, b: TensorLike, name?: string) => binary("Sub", a, b, name ?? "sub");
export const mul = (a: TensorLike, b: TensorLike, name?: string) => binary("Mul", a, b, name ?? "mul");
export const div = (a: TensorLike, b: TensorLike, name?: string) => binary("RealDiv", a, b, name ?? "truediv");
export const floorDiv = (a: TensorLike, b: TensorLike, name?: string) => binary("FloorDiv", a, b, name ?? "floordiv");
export const maximum = (a: TensorLike, b: TensorLike, name?: string) => binary("Maximum", a, b, name ?? "Maximum");
export const minimum = (a: TensorLike, b: TensorLike, name?: string) => binary("Minimum", a, b, name ?? "Minimum");
export const pow = (a: TensorLike, b: TensorLike, name?: string) => binary("Pow", a, b, name ?? "pow");
export const squaredDifference = (a: TensorLike, b: TensorLike, name?: string) => binary("SquaredDifference", a, b, name ?? "SquaredDifference");
export const equal = (a: TensorLike, b: TensorLike, name?: string) => binary("Equal", a, b, name ?? "Equal");
export const notEqual = (a: TensorLike, b: TensorLike, name?: string) => binary("NotEqual", a, b, name ?? "NotEqual");
export const greater = (a: TensorLike, b: TensorLike, name?: string) => binary("Greater", a, b, name ?? "Greater");
export const greaterEqual = (a: TensorLike, b: TensorLike, name?: string) => binary("GreaterEqual", a, b, name ?? "GreaterEqual");
export const less = (a: TensorLike, b: TensorLike, name?: string) => binary("Less", a, b, name ?? "Less");
export const lessEqual = (a: TensorLike, b: TensorLike, name?: string) => binary("LessEqual", a, b, name ?? "LessEqual");
export const logicalAnd = (a: TensorLike, b: TensorLike, name?: string) => binary("LogicalAnd", a, b, name ?? "LogicalAnd");
export const logicalOr = (a: TensorLike, b: TensorLike, name?: string) => binary("LogicalOr", a, b, name ?? "LogicalOr");

export const neg = (x: TensorLike, name?: string) => unary("Neg", x, name ?? "Neg");
export const square = (x: TensorLike, name?: string) => unary("Square", x, name ?? "Square");
export const sqrt = (x: TensorLike, name?: string) => unary("Sqrt", x, name ?? "Sqrt");
export const rsqrt = (x: TensorLike, name?: string) => unary("Rsqrt", x, name ?? "Rsqrt");
export const exp = (x: TensorLike, name?: string) => unary("Exp", x, name ?? "Exp");
export const log = (x: TensorLike, name?: string) => unary("Log", x, name ?? "Log");
export const abs = (x: TensorLike, name?: string) => unary("Abs", x, name ?? "Abs");
export const relu = (x: TensorLike, name?: string) => unary("Relu", x, name ?? "Relu");
export const relu6 = (x: TensorLike, name?: string) => unary("Relu6", x, name ?? "Relu6");
export const sigmoid = (x: TensorLike, name?: string) => unary("Sigmoid", x, name ?? "Sigmoid");
export const tanh = (x: TensorLike, name?: string) => unary("Tanh", x, name ?? "Tanh");
export const elu = (x: TensorLike, name?: string) => unary("Elu", x, name ?? "Elu");
export const reciprocal = (x: TensorLike, name?: string) => unary("Reciprocal", x, name ?? "Reciprocal");
export const sign = (x: TensorLike, name?: string) => unary("Sign", x, name ?? "Sign");
