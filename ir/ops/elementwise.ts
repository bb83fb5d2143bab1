/**
 * Elementwise ops, table-driven: each unary and binary op is one row with its TF name, its
 * scalar function (the reference kernel) and its gradient. Binary ops broadcast like numpy.
 * Codegen keeps its own expression table per target, keyed by the same names.
 */
import type { DType } from "../dtype";
import { invalidArgument } from "../diagnostics";
import { Tensor, type Operation } from "../graph";
import { NDArray } from "../ndarray";
import { broadcastIndex } from "../broadcast";
import { registerAlias, registerOp, type GradientRule, type KernelContext, type OpDef } from "../registry";
import { broadcastShapes } from "../shape";
import { apply1, convertAll, convertToTensor, graphOf, type TensorLike } from "./build";

export interface UnaryRow {
  type: string;
  fn: (x: number) => number;
  /** dtypes accepted; defaults to float32 only. */
  dtypes?: readonly DType[];
  gradient?: GradientRule;
  /** Not differentiable: gradients stop here without an error (TF's NotDifferentiable). */
  nonDifferentiable?: boolean;
}

export interface BinaryRow {
  type: string;
  fn: (a: number, b: number) => number;
  dtypes?: readonly DType[];
  /** Output dtype when it is not the inputs' (comparisons give bool). */
  outDType?: DType;
  gradient?: GradientRule;
  nonDifferentiable?: boolean;
  /** A kernel of its own (checks beyond the scalar function), instead of binaryKernel(fn). */
  kernel?: OpDef["kernel"];
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
    // Fed shapes are checked here: static inference may not have known them.
    const shape = broadcastShapes(a.shape, b.shape, ctx.node) as number[];
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
    nonDifferentiable: row.nonDifferentiable,
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
    kernel: row.kernel ?? binaryKernel(row.fn, row.outDType),
    gradient: row.gradient,
    nonDifferentiable: row.nonDifferentiable,
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

/** A rule for a single-output op: `dy` is never null when the driver calls it. */
function rule(math: (dy: Tensor, op: Operation) => (Tensor | null)[]): GradientRule {
  return (op, [dy]) => (dy ? math(dy, op) : op.inputs.map(() => null));
}
const zerosLike = (t: Tensor) => apply1("ZerosLike", [t], {}, "zeros_like");
const onesLike = (t: Tensor) => apply1("OnesLike", [t], {}, "ones_like");
/** `tf.where(cond, x, y)`: SelectV2, as TF's math_grad builds it. */
const select = (cond: Tensor, x: Tensor, y: Tensor) => apply1("SelectV2", [cond, x, y], {}, "SelectV2");

/** Maximum / Minimum: dy goes to the side the selector picked (x on ties), like TF. */
function selectedSideGrad(selector: string): GradientRule {
  return rule((dy, op) => {
    const mask = binary(selector, op.inputs[0], op.inputs[1]);
    const zeros = zerosLike(dy);
    return [select(mask, dy, zeros), select(mask, zeros, dy)];
  });
}

/** TF's _PowGrad: y·x^(y-1) for x, and z·log(x) where x > 0 (else 0) for y. */
const powGrad = rule((dy, op) => {
  const [x, y] = op.inputs;
  const gx = mul(mul(dy, y), pow(x, sub(y, 1)));
  if (x.dtype !== "float32") return [gx, null];
  const mask = greater(x, 0);
  const logX = select(mask, log(select(mask, x, onesLike(x))), zerosLike(x));
  return [gx, mul(mul(dy, op.outputs[0]), logX)];
});

/** Gradient rules go in the rows; they may call the builders below (they run later). */
export const unaryRows: UnaryRow[] = [
  { type: "Neg", fn: (x) => -x, dtypes: NUMERIC, gradient: rule((dy) => [neg(dy)]) },
  { type: "Square", fn: (x) => x * x, dtypes: NUMERIC, gradient: rule((dy, op) => [mul(dy, mul(op.inputs[0], 2))]) },
  { type: "Sqrt", fn: Math.sqrt, gradient: rule((dy, op) => [binary("SqrtGrad", op.outputs[0], dy)]) },
  { type: "Rsqrt", fn: (x) => 1 / Math.sqrt(x), gradient: rule((dy, op) => [binary("RsqrtGrad", op.outputs[0], dy)]) },
  { type: "Exp", fn: Math.exp, gradient: rule((dy, op) => [mul(dy, op.outputs[0])]) },
  { type: "Log", fn: Math.log, gradient: rule((dy, op) => [mul(dy, reciprocal(op.inputs[0]))]) },
  { type: "Abs", fn: Math.abs, dtypes: NUMERIC, gradient: rule((dy, op) => [mul(dy, sign(op.inputs[0]))]) },
  { type: "Relu", fn: (x) => (x > 0 ? x : 0), dtypes: NUMERIC, gradient: rule((dy, op) => [binary("ReluGrad", dy, op.outputs[0])]) },
  { type: "Relu6", fn: (x) => Math.min(Math.max(x, 0), 6), dtypes: NUMERIC, gradient: rule((dy, op) => [binary("Relu6Grad", dy, op.outputs[0])]) },
  { type: "Sigmoid", fn: (x) => 1 / (1 + Math.exp(-x)), gradient: rule((dy, op) => [binary("SigmoidGrad", op.outputs[0], dy)]) },
  { type: "Tanh", fn: Math.tanh, gradient: rule((dy, op) => [binary("TanhGrad", op.outputs[0], dy)]) },
  { type: "Elu", fn: (x) => (x > 0 ? x : Math.expm1(x)), gradient: rule((dy, op) => [binary("EluGrad", dy, op.outputs[0])]) },
  { type: "Reciprocal", fn: (x) => 1 / x, gradient: rule((dy, op) => [binary("ReciprocalGrad", op.outputs[0], dy)]) },
  { type: "Sign", fn: Math.sign, dtypes: NUMERIC, gradient: rule((_, op) => [zerosLike(op.inputs[0])]) },
  { type: "Floor", fn: Math.floor, gradient: () => [null] },
];

export const binaryRows: BinaryRow[] = [
  { type: "AddV2", fn: (a, b) => a + b, gradient: rule((dy) => [dy, dy]) },
  { type: "Sub", fn: (a, b) => a - b, gradient: rule((dy) => [dy, neg(dy)]) },
  { type: "Mul", fn: (a, b) => a * b, gradient: rule((dy, op) => [mul(dy, op.inputs[1]), mul(op.inputs[0], dy)]) },
  { type: "RealDiv", fn: (a, b) => a / b, dtypes: ["float32"], gradient: rule((dy, { inputs: [x, y] }) => [div(dy, y), mul(dy, div(div(neg(x), y), y))]) },
  { type: "FloorDiv", fn: (a, b) => Math.floor(a / b), gradient: () => [null, null] },
  { type: "Maximum", fn: (a, b) => (a >= b ? a : b), gradient: selectedSideGrad("GreaterEqual") },
  { type: "Minimum", fn: (a, b) => (a <= b ? a : b), gradient: selectedSideGrad("LessEqual") },
  { type: "Pow", fn: (a, b) => Math.pow(a, b), gradient: powGrad },
  { type: "SquaredDifference", fn: (a, b) => (a - b) * (a - b), gradient: rule((dy, { inputs: [x, y] }) => {
      const gx = mul(mul(dy, 2), sub(x, y));
      return [gx, neg(gx)];
    }) },
  { type: "Equal", fn: (a, b) => (a === b ? 1 : 0), dtypes: ["float32", "int32", "bool"], outDType: "bool", nonDifferentiable: true },
  { type: "NotEqual", fn: (a, b) => (a !== b ? 1 : 0), dtypes: ["float32", "int32", "bool"], outDType: "bool", nonDifferentiable: true },
  { type: "Greater", fn: (a, b) => (a > b ? 1 : 0), outDType: "bool", nonDifferentiable: true },
  { type: "GreaterEqual", fn: (a, b) => (a >= b ? 1 : 0), outDType: "bool", nonDifferentiable: true },
  { type: "Less", fn: (a, b) => (a < b ? 1 : 0), outDType: "bool", nonDifferentiable: true },
  { type: "LessEqual", fn: (a, b) => (a <= b ? 1 : 0), outDType: "bool", nonDifferentiable: true },
  { type: "LogicalAnd", fn: (a, b) => (a && b ? 1 : 0), dtypes: ["bool"], nonDifferentiable: true },
  { type: "LogicalOr", fn: (a, b) => (a || b ? 1 : 0), dtypes: ["bool"], nonDifferentiable: true },
];

/**
 * TF's gradient ops, which the rules above build (and TF GraphDefs of training graphs hold).
 * Operands as in TF: (y, dy) for SigmoidGrad & co, (gradients, features or outputs) for ReluGrad & co.
 * Their own rules are TF's second-order ones.
 */
export const gradientRows: BinaryRow[] = [
  { type: "ReluGrad", fn: (g, f) => (f > 0 ? g : 0), gradient: rule((dy, { inputs: [, f] }) => [binary("ReluGrad", dy, f), zerosLike(f)]) },
  { type: "Relu6Grad", fn: (g, f) => (f > 0 && f < 6 ? g : 0), gradient: rule((dy, { inputs: [, f] }) => [binary("Relu6Grad", dy, f), zerosLike(f)]) },
  { type: "EluGrad", fn: (g, y) => (y < 0 ? g * (y + 1) : g), dtypes: ["float32"], gradient: rule((dy, { inputs: [g, y] }) =>
      [binary("EluGrad", dy, y), select(less(y, 0), mul(dy, g), zerosLike(y))]) },
  { type: "SigmoidGrad", fn: (y, dy) => dy * y * (1 - y), dtypes: ["float32"], gradient: rule((dy, { inputs: [a, b] }) => {
      const gb = mul(dy, b);
      return [sub(gb, mul(mul(gb, 2), a)), binary("SigmoidGrad", a, dy)];
    }) },
  { type: "TanhGrad", fn: (y, dy) => dy * (1 - y * y), dtypes: ["float32"], gradient: rule((dy, { inputs: [a, b] }) =>
      [mul(mul(mul(dy, -2), b), a), binary("TanhGrad", a, dy)]) },
  { type: "SqrtGrad", fn: (y, dy) => (dy * 0.5) / y, dtypes: ["float32"], gradient: rule((dy, { inputs: [a], outputs: [z] }) => {
      const ga = div(dy, a);
      return [mul(neg(ga), z), mul(ga, 0.5)];
    }) },
  { type: "RsqrtGrad", fn: (y, dy) => dy * -0.5 * y * y * y, dtypes: ["float32"], gradient: rule((dy, { inputs: [a, b] }) =>
      [mul(mul(mul(dy, -1.5), b), square(a)), binary("RsqrtGrad", a, dy)]) },
  { type: "ReciprocalGrad", fn: (y, dy) => -dy * y * y, dtypes: ["float32"], gradient: rule((dy, { inputs: [a, b] }) =>
      [mul(mul(mul(dy, -2), b), a), binary("ReciprocalGrad", a, dy)]) },
];

for (const row of unaryRows) registerUnary(row);
for (const row of [...binaryRows, ...gradientRows]) registerBinary(row);
registerAlias("Add", "AddV2");

/**
 * TF's Div op (older TF1 graphs; tf.div builds RealDiv or FloorDiv): real division for floats,
 * C++ division (truncating toward zero) for ints, where a zero divisor fails the run as in TF.
 * Not in the rows above: it has no codegen expression yet (compiled backends run this kernel).
 */
const divFloat = binaryKernel((a, b) => a / b);
registerBinary({
  type: "Div",
  fn: (a, b) => a / b,
  kernel: (inputs, attrs, ctx) => {
    const [a, b] = inputs;
    if (a.dtype === "int32" && b.data.includes(0))
      throw invalidArgument({
        code: "division-by-zero",
        node: ctx.node,
        message: "Integer division by zero",
        expected: "non-zero divisors",
        received: `a zero at index ${b.data.indexOf(0)} of the divisor`,
        fix: "keep int32 divisors non-zero (tf.maximum(y, 1)), or divide in float32",
      });
    return divFloat(inputs, attrs, ctx);
  },
  // TF's _DivGrad: as RealDiv's for floats; integer division has no gradient.
  gradient: rule((dy, { inputs: [x, y] }) => (x.dtype === "float32" ? [div(dy, y), mul(dy, div(div(neg(x), y), y))] : [null, null])),
});

export const add = (a: TensorLike, b: TensorLike, name?: string) => binary("AddV2", a, b, name ?? "add");
export const sub = (a: TensorLike, b: TensorLike, name?: string) => binary("Sub", a, b, name ?? "sub");
export const mul = (a: TensorLike, b: TensorLike, name?: string) => binary("Mul", a, b, name ?? "mul");
export const div = (a: TensorLike, b: TensorLike, name?: string) => binary("RealDiv", a, b, name ?? "truediv");
/**
 * TF1's `tf.div`: Python 2 division — RealDiv for floats, FloorDiv (rounding toward -inf) for
 * ints — in scope `div`, like TF's `_div_python2`. `tf.div` is this one; `div` above (RealDiv,
 * "truediv") is what gradient rules and layers use.
 */
export function pythonDiv(x: TensorLike, y: TensorLike, name = "div"): Tensor {
  const g = graphOf([x, y]);
  return g.nameScope(name, () => {
    const scope = g.nameScopeValue;
    const hint = x instanceof Tensor ? x.dtype : y instanceof Tensor ? y.dtype : undefined;
    const tx = convertToTensor(x, x instanceof Tensor ? undefined : hint, "x", g);
    const ty = convertToTensor(y, y instanceof Tensor ? undefined : tx.dtype, "y", g);
    const type = tx.dtype === "float32" ? "RealDiv" : "FloorDiv";
    return g.addOp({ type, name: scope, absoluteName: true, inputs: [tx, ty] }).outputs[0];
  });
}
/** TF1's `tf.realdiv`: the RealDiv op (floats only). */
export const realdiv = (a: TensorLike, b: TensorLike, name?: string) => binary("RealDiv", a, b, name ?? "RealDiv");
/** TF1's `tf.truediv` / `tf.divide`: real division; int32 operands are cast to float32 first (TF: float64). */
export function truediv(x: TensorLike, y: TensorLike, name = "truediv"): Tensor {
  const g = graphOf([x, y]);
  return g.nameScope(name, () => {
    const scope = g.nameScopeValue;
    let [tx, ty] = convertAll([x, y], g);
    if (tx.dtype === "int32") tx = apply1("Cast", [tx], { SrcT: "int32", DstT: "float32" }, "Cast");
    if (ty.dtype === "int32") ty = apply1("Cast", [ty], { SrcT: "int32", DstT: "float32" }, "Cast");
    return g.addOp({ type: "RealDiv", name: scope, absoluteName: true, inputs: [tx, ty] }).outputs[0];
  });
}
export const divide = (x: TensorLike, y: TensorLike, name?: string) => truediv(x, y, name);
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
export const floor = (x: TensorLike, name?: string) => unary("Floor", x, name ?? "Floor");
