/**
 * The WGSL expression templates of the elementwise ops, keyed by TF op type like the rows of
 * ir/ops/elementwise.ts (one line per op per target). A template gets its operands as WGSL
 * expressions (let-bound names, so they may repeat) and the operand / result dtypes, and gives
 * a WGSL expression of the result type. Each mirrors its reference kernel's JS expression,
 * ternaries included (`select`), so that NaN and tie handling match.
 * Templates may call helper functions from HELPERS by name; the emitter includes those used.
 */
import type { DType } from "../../ir/dtype";
import { literal, wgslType } from "./common";

export interface ExprTypes {
  /** The dtype of the (first) operand. */
  input: DType;
  output: DType;
}

export type Template = (args: readonly string[], t: ExprTypes) => string;

/** `cond` as the bool storage type (u32 0 / 1). */
const asBool = (cond: string) => `select(0u, 1u, ${cond})`;
const zero = (t: ExprTypes) => literal(0, t.input);
const isInt = (t: ExprTypes) => t.input === "int32";

export const unaryTemplates: Record<string, Template> = {
  Neg: ([x]) => `-${x}`,
  Square: ([x]) => `${x} * ${x}`,
  Sqrt: ([x]) => `sqrt(${x})`,
  Rsqrt: ([x]) => `1.0f / sqrt(${x})`,
  Exp: ([x]) => `exp(${x})`,
  Log: ([x]) => `log(${x})`,
  Abs: ([x]) => `abs(${x})`,
  Relu: ([x], t) => `select(${zero(t)}, ${x}, ${x} > ${zero(t)})`,
  Relu6: ([x], t) => `min(max(${x}, ${zero(t)}), ${literal(6, t.input)})`,
  Sigmoid: ([x]) => `1.0f / (1.0f + exp(-${x}))`,
  Tanh: ([x]) => `tanh(clamp(${x}, -15.0f, 15.0f))`,
  Elu: ([x]) => `select(ff_expm1(${x}), ${x}, ${x} > 0.0f)`,
  Reciprocal: ([x]) => `1.0f / ${x}`,
  Sign: ([x]) => `sign(${x})`,
  Floor: ([x]) => `floor(${x})`,
  // Ops that only move values: Identity and friends, and the value side of ZerosLike / OnesLike.
  Identity: ([x]) => x,
  StopGradient: ([x]) => x,
  Snapshot: ([x]) => x,
  PreventGradient: ([x]) => x,
  ZerosLike: (_, t) => literal(0, t.output),
  OnesLike: (_, t) => literal(1, t.output),
};

export const binaryTemplates: Record<string, Template> = {
  AddV2: ([a, b]) => `${a} + ${b}`,
  Add: ([a, b]) => `${a} + ${b}`,
  Sub: ([a, b]) => `${a} - ${b}`,
  Mul: ([a, b]) => `${a} * ${b}`,
  RealDiv: ([a, b]) => `${a} / ${b}`,
  FloorDiv: ([a, b], t) => (isInt(t) ? `ff_floordiv(${a}, ${b})` : `floor(${a} / ${b})`),
  Maximum: ([a, b]) => `select(${b}, ${a}, ${a} >= ${b})`,
  Minimum: ([a, b]) => `select(${b}, ${a}, ${a} <= ${b})`,
  Pow: ([a, b], t) => (isInt(t) ? `ff_ipow(${a}, ${b})` : `pow(${a}, ${b})`),
  SquaredDifference: ([a, b]) => `(${a} - ${b}) * (${a} - ${b})`,
  Equal: ([a, b]) => asBool(`${a} == ${b}`),
  NotEqual: ([a, b]) => asBool(`${a} != ${b}`),
  Greater: ([a, b]) => asBool(`${a} > ${b}`),
  GreaterEqual: ([a, b]) => asBool(`${a} >= ${b}`),
  Less: ([a, b]) => asBool(`${a} < ${b}`),
  LessEqual: ([a, b]) => asBool(`${a} <= ${b}`),
  LogicalAnd: ([a, b]) => asBool(`${a} != 0u && ${b} != 0u`),
  LogicalOr: ([a, b]) => asBool(`${a} != 0u || ${b} != 0u`),
  // Gradient ops, operands as in TF: (gradients, features / outputs) or (y, dy).
  ReluGrad: ([g, f], t) => `select(${zero(t)}, ${g}, ${f} > ${zero(t)})`,
  Relu6Grad: ([g, f], t) => `select(${zero(t)}, ${g}, ${f} > ${zero(t)} && ${f} < ${literal(6, t.input)})`,
  EluGrad: ([g, y]) => `select(${g}, ${g} * (${y} + 1.0f), ${y} < 0.0f)`,
  SigmoidGrad: ([y, dy]) => `${dy} * ${y} * (1.0f - ${y})`,
  TanhGrad: ([y, dy]) => `${dy} * (1.0f - ${y} * ${y})`,
  SqrtGrad: ([y, dy]) => `(${dy} * 0.5f) / ${y}`,
  RsqrtGrad: ([y, dy]) => `${dy} * -0.5f * ${y} * ${y} * ${y}`,
  ReciprocalGrad: ([y, dy]) => `-${dy} * ${y} * ${y}`,
  // BiasAdd is an add whose second operand the emitter broadcasts along the channel axis.
  BiasAdd: ([a, b]) => `${a} + ${b}`,
};

export const ternaryTemplates: Record<string, Template> = {
  SelectV2: ([c, x, y]) => `select(${y}, ${x}, ${c} != 0u)`,
};

/** Cast from `from` to `to`, as the reference castValue (trunc toward zero, NaN → 0, != 0 → true). */
export function castExpression(x: string, from: DType, to: DType): string {
  if (from === to) return x;
  // NaN tests go through the bits: shader compilers may assume that floats are never NaN.
  if (to === "bool") return from === "float32" ? `select(0u, 1u, (bitcast<u32>(${x}) & 0x7fffffffu) != 0u)` : `select(0u, 1u, ${x} != ${literal(0, from)})`;
  if (to === "int32") return from === "float32" ? `select(i32(${x}), 0i, (bitcast<u32>(${x}) & 0x7fffffffu) > 0x7f800000u)` : `i32(${x})`;
  return `${wgslType(to)}(${x})`;
}

/** Helper functions templates call, by name. */
export const HELPERS: Record<string, string> = {
  // expm1 without cancellation near 0 (Kahan): (u - 1) * x / log(u).
  ff_expm1: `fn ff_expm1(x: f32) -> f32 {
  let u = exp(x);
  if (u == 1.0f) { return x; }
  let um1 = u - 1.0f;
  if (um1 == -1.0f) { return -1.0f; }
  return um1 * x / log(u);
}`,
  // Math.floor(a / b) | 0 for int32 (division by zero gives 0, as the JS kernel's |0 of ±Infinity).
  ff_floordiv: `fn ff_floordiv(a: i32, b: i32) -> i32 {
  if (b == 0i) { return 0i; }
  var q = a / b;
  if ((a % b != 0i) && ((a < 0i) != (b < 0i))) { q = q - 1i; }
  return q;
}`,
  // Math.pow(a, b) | 0 for int32, by squaring (negative exponents: 1/a^|b| truncated).
  ff_ipow: `fn ff_ipow(a: i32, b: i32) -> i32 {
  if (b < 0i) {
    if (a == 1i) { return 1i; }
    if (a == -1i) { return select(-1i, 1i, (b & 1i) == 0i); }
    return 0i;
  }
  var result = 1i;
  var base = a;
  var e = b;
  loop {
    if (e == 0i) { break; }
    if ((e & 1i) == 1i) { result = result * base; }
    base = base * base;
    e = e >> 1u;
  }
  return result;
}`,
};

/** The helper functions an expression uses. */
export function helpersIn(code: string): string[] {
  return Object.keys(HELPERS).filter((name) => code.includes(`${name}(`)).map((name) => HELPERS[name]);
}

/** The template for an elementwise op type (unary, binary or ternary), if any. */
export function templateFor(type: string): { arity: number; template: Template } | undefined {
  if (unaryTemplates[type]) return { arity: 1, template: unaryTemplates[type] };
  if (binaryTemplates[type]) return { arity: 2, template: binaryTemplates[type] };
  if (ternaryTemplates[type]) return { arity: 3, template: ternaryTemplates[type] };
  return undefined;
}
