/**
 * The JS expression of every fusable elementwise op, keyed by TF op type: one line per op.
 * Arguments are always plain local names (the group emitter binds every load and every
 * intermediate to a `const`), so a template may use an argument more than once.
 * Each template computes exactly what the op's reference kernel (`fn` in ir/ops/elementwise.ts)
 * computes; the group emitter wraps int32 results in `| 0` and rounds float32 intermediates
 * with Math.fround, as the reference kernels' typed-array stores do.
 */
import type { DType } from "../../ir/dtype";

export type UnaryTemplate = (x: string) => string;
export type BinaryTemplate = (a: string, b: string) => string;

export const unaryTemplates: Record<string, UnaryTemplate> = {
  Neg: (x) => `(-${x})`,
  Square: (x) => `(${x} * ${x})`,
  Sqrt: (x) => `Math.sqrt(${x})`,
  Rsqrt: (x) => `(1 / Math.sqrt(${x}))`,
  Exp: (x) => `Math.exp(${x})`,
  Log: (x) => `Math.log(${x})`,
  Abs: (x) => `Math.abs(${x})`,
  Relu: (x) => `(${x} > 0 ? ${x} : 0)`,
  Relu6: (x) => `Math.min(Math.max(${x}, 0), 6)`,
  Sigmoid: (x) => `(1 / (1 + Math.exp(-${x})))`,
  Tanh: (x) => `Math.tanh(${x})`,
  Elu: (x) => `(${x} > 0 ? ${x} : Math.expm1(${x}))`,
  Reciprocal: (x) => `(1 / ${x})`,
  Sign: (x) => `Math.sign(${x})`,
  Floor: (x) => `Math.floor(${x})`,
};

export const binaryTemplates: Record<string, BinaryTemplate> = {
  AddV2: (a, b) => `(${a} + ${b})`,
  Add: (a, b) => `(${a} + ${b})`,
  Sub: (a, b) => `(${a} - ${b})`,
  Mul: (a, b) => `(${a} * ${b})`,
  RealDiv: (a, b) => `(${a} / ${b})`,
  FloorDiv: (a, b) => `Math.floor(${a} / ${b})`,
  Maximum: (a, b) => `(${a} >= ${b} ? ${a} : ${b})`,
  Minimum: (a, b) => `(${a} <= ${b} ? ${a} : ${b})`,
  Pow: (a, b) => `Math.pow(${a}, ${b})`,
  SquaredDifference: (a, b) => `((${a} - ${b}) * (${a} - ${b}))`,
  Equal: (a, b) => `(${a} === ${b} ? 1 : 0)`,
  NotEqual: (a, b) => `(${a} !== ${b} ? 1 : 0)`,
  Greater: (a, b) => `(${a} > ${b} ? 1 : 0)`,
  GreaterEqual: (a, b) => `(${a} >= ${b} ? 1 : 0)`,
  Less: (a, b) => `(${a} < ${b} ? 1 : 0)`,
  LessEqual: (a, b) => `(${a} <= ${b} ? 1 : 0)`,
  LogicalAnd: (a, b) => `(${a} && ${b} ? 1 : 0)`,
  LogicalOr: (a, b) => `(${a} || ${b} ? 1 : 0)`,
  // TF's gradient ops: (gradients, features or outputs) and (y, dy) operand orders as in ir/ops.
  ReluGrad: (g, f) => `(${f} > 0 ? ${g} : 0)`,
  Relu6Grad: (g, f) => `(${f} > 0 && ${f} < 6 ? ${g} : 0)`,
  EluGrad: (g, y) => `(${y} < 0 ? ${g} * (${y} + 1) : ${g})`,
  SigmoidGrad: (y, dy) => `(${dy} * ${y} * (1 - ${y}))`,
  TanhGrad: (y, dy) => `(${dy} * (1 - ${y} * ${y}))`,
  SqrtGrad: (y, dy) => `((${dy} * 0.5) / ${y})`,
  RsqrtGrad: (y, dy) => `(${dy} * -0.5 * ${y} * ${y} * ${y})`,
  ReciprocalGrad: (y, dy) => `(-${dy} * ${y} * ${y})`,
};

/** Ops whose operands are not all their inputs, or whose expression depends on attributes. */
export const specialTemplates: Record<string, (args: string[], out: DType) => string> = {
  SelectV2: ([c, t, e]) => `(${c} !== 0 ? ${t} : ${e})`,
  BiasAdd: ([x, b]) => `(${x} + ${b})`,
  BroadcastTo: ([x]) => x,
  Fill: ([v]) => v,
  ZerosLike: () => "0",
  OnesLike: () => "1",
  AddN: (args, out) => args.slice(1).reduce((sum, a) => (out === "float32" ? `Math.fround(${sum} + ${a})` : `((${sum} + ${a}) | 0)`), args[0]),
  Cast: ([x], out) => (out === "bool" ? `(${x} !== 0 ? 1 : 0)` : out === "int32" ? `(${x} | 0)` : x),
};

/** The template of `type`, as a function of its operand names; undefined when not fusable. */
export function templateOf(type: string): ((args: string[], out: DType) => string) | undefined {
  const u = unaryTemplates[type];
  if (u) return ([x]) => u(x);
  const b = binaryTemplates[type];
  if (b) return ([x, y]) => b(x, y);
  return specialTemplates[type];
}
