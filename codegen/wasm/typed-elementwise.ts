/**
 * Elementwise kernels over float32, int32 and bool values, one element at a time (scalar code):
 * the ops that the SIMD kernels of elementwise.ts do not have — comparisons, logical ops,
 * SelectV2, Cast, int32 arithmetic — and the plain float32 ones, so that a small group that mixes
 * them (a loss's safe division, an accuracy's Equal → Cast) is one kernel. Operands broadcast
 * numpy-style (dimensions that stay contiguous for every operand merged, as elementwise.ts does);
 * bool values are bytes (0 / 1), held as i32.
 *
 * Each op computes what its reference kernel (ir/ops) does, to the bit: comparisons with IEEE
 * semantics (NaN unequal, −0 = 0), Cast to int32 as JS's ToInt32 of the truncated value (NaN and
 * ±∞ give 0, large values wrap), int32 Add / Sub wrapping, int32 Mul through float64 as the
 * reference's `(a * b) | 0`, float32 FloorDiv in float64 as `Math.floor(a / b)`.
 */
import { InternalError } from "../../ir/diagnostics";
import { stridesOf } from "../../ir/shape";
import { broadcastStrides, coalesce } from "../js/loops";
import { binaryen, type Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";

export type ScalarType = "f32" | "i32" | "u8";

export type TypedInput = { offset: number; shape: readonly number[]; type: ScalarType } | { value: number; type: ScalarType };

export interface TypedElementwiseKernel {
  kind: "typed-elementwise";
  op: string;
  /** The iteration domain (the outputs' shape). */
  shape: readonly number[];
  inputs: readonly TypedInput[];
  /** In order; an argument index < inputs.length is an input, else op (index − inputs.length); `to`: the result's type. */
  ops: readonly { type: string; args: readonly number[]; to: ScalarType }[];
  outputs: readonly { value: number; offset: number }[];
  scratch?: number;
}

const BYTES: Record<ScalarType, number> = { f32: 4, i32: 4, u8: 1 };
const COMPARISONS = new Set(["Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual"]);
const F32_UNARY = new Set(["Neg", "Abs", "Square", "Sqrt", "Relu", "Floor", "Reciprocal"]);
const F32_BINARY = new Set(["AddV2", "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "FloorDiv"]);
const I32_UNARY = new Set(["Neg", "Abs", "Square", "Relu"]);
const I32_BINARY = new Set(["AddV2", "Sub", "Mul", "Maximum", "Minimum"]);

/**
 * The result type of `type` over arguments of `args` types (Cast: to `to`), or null when the
 * kernel has no such op.
 */
export function typedResult(type: string, args: readonly ScalarType[], to?: ScalarType): ScalarType | null {
  const [a, b, c] = args;
  if (type === "Cast") return args.length === 1 && to ? to : null;
  if (COMPARISONS.has(type)) return args.length === 2 && a === b ? "u8" : null;
  if (type === "LogicalAnd" || type === "LogicalOr") return args.length === 2 && a === "u8" && b === "u8" ? "u8" : null;
  if (type === "SelectV2") return args.length === 3 && a === "u8" && b === c ? b : null;
  if (args.length === 1) return (a === "f32" && F32_UNARY.has(type)) || (a === "i32" && I32_UNARY.has(type)) ? a : null;
  if (args.length === 2 && a === b) return (a === "f32" && F32_BINARY.has(type)) || (a === "i32" && I32_BINARY.has(type)) ? a : null;
  return null;
}

/** ToInt32 of a float64 value known to be below 2^63 in magnitude or not finite (NaN, ±∞ → 0). */
function toInt32(fb: FunctionBuilder, x: number): Expr {
  const m = fb.m;
  const d = fb.get(x, binaryen.f64);
  return m.select(m.f64.lt(m.f64.abs(d), m.f64.const(2 ** 63)), m.i32.wrap(m.i64.trunc_s_sat.f64(fb.get(x, binaryen.f64))), fb.i32(0));
}

function emitOp(fb: FunctionBuilder, type: string, args: readonly number[], types: readonly ScalarType[], to: ScalarType, scratch: number): Expr {
  const m = fb.m;
  const t = types[0];
  const v = (j: number) => fb.get(args[j], t === "f32" ? binaryen.f32 : binaryen.i32);
  const F = m.f32;
  const I = m.i32;
  if (type === "Cast") {
    if (t === to) return to === "u8" ? I.ne(v(0), fb.i32(0)) : v(0);
    if (to === "f32") return t === "i32" ? F.convert_s.i32(v(0)) : F.convert_u.i32(v(0));
    if (to === "u8") return t === "f32" ? F.ne(v(0), F.const(0)) : I.ne(v(0), fb.i32(0));
    if (t === "u8") return v(0);
    return m.block(null, [fb.set(scratch, m.f64.promote(v(0))), toInt32(fb, scratch)], binaryen.i32);
  }
  if (COMPARISONS.has(type)) {
    const ops = t === "f32"
      ? { Equal: F.eq, NotEqual: F.ne, Less: F.lt, LessEqual: F.le, Greater: F.gt, GreaterEqual: F.ge }
      : { Equal: I.eq, NotEqual: I.ne, Less: I.lt_s, LessEqual: I.le_s, Greater: I.gt_s, GreaterEqual: I.ge_s };
    return ops[type as keyof typeof ops](v(0), v(1));
  }
  if (type === "LogicalAnd") return I.and(I.ne(v(0), fb.i32(0)), I.ne(v(1), fb.i32(0)));
  if (type === "LogicalOr") return I.or(I.ne(v(0), fb.i32(0)), I.ne(v(1), fb.i32(0)));
  if (type === "SelectV2") {
    const kind = types[1] === "f32" ? binaryen.f32 : binaryen.i32;
    return m.select(I.ne(fb.get(args[0], binaryen.i32), fb.i32(0)), fb.get(args[1], kind), fb.get(args[2], kind));
  }
  if (t === "f32") {
    switch (type) {
      case "Neg": return F.neg(v(0));
      case "Abs": return F.abs(v(0));
      case "Square": return F.mul(v(0), v(0));
      case "Sqrt": return F.sqrt(v(0));
      case "Relu": return m.select(F.gt(v(0), F.const(0)), v(0), F.const(0));
      case "Floor": return F.floor(v(0));
      case "Reciprocal": return F.div(F.const(1), v(0));
      case "AddV2": return F.add(v(0), v(1));
      case "Sub": return F.sub(v(0), v(1));
      case "Mul": return F.mul(v(0), v(1));
      case "RealDiv": return F.div(v(0), v(1));
      case "Maximum": return m.select(F.ge(v(0), v(1)), v(0), v(1));
      case "Minimum": return m.select(F.le(v(0), v(1)), v(0), v(1));
      case "FloorDiv": return F.demote(m.f64.floor(m.f64.div(m.f64.promote(v(0)), m.f64.promote(v(1)))));
    }
  } else {
    switch (type) {
      case "Neg": return I.sub(fb.i32(0), v(0));
      case "Abs": return m.select(I.ge_s(v(0), fb.i32(0)), v(0), I.sub(fb.i32(0), v(0)));
      case "Relu": return m.select(I.gt_s(v(0), fb.i32(0)), v(0), fb.i32(0));
      case "Square":
      case "Mul": {
        const product = m.f64.mul(m.f64.convert_s.i32(v(0)), m.f64.convert_s.i32(v(type === "Square" ? 0 : 1)));
        return m.block(null, [fb.set(scratch, product), toInt32(fb, scratch)], binaryen.i32);
      }
      case "AddV2": return I.add(v(0), v(1));
      case "Sub": return I.sub(v(0), v(1));
      case "Maximum": return m.select(I.ge_s(v(0), v(1)), v(0), v(1));
      case "Minimum": return m.select(I.le_s(v(0), v(1)), v(0), v(1));
    }
  }
  throw new InternalError({ code: "wasm-typed-elementwise", node: type, message: `the typed elementwise kernel has no ${t} ${type}` });
}

/** The types of every value (inputs, then ops), checking each op. */
function valueTypes(e: TypedElementwiseKernel): ScalarType[] {
  const types: ScalarType[] = e.inputs.map((x) => x.type);
  e.ops.forEach((o, j) => {
    const fail = (message: string) => {
      throw new InternalError({ code: "wasm-typed-elementwise", node: e.op, message, expected: "an op of codegen/wasm/typed-elementwise.ts over earlier values", received: o.type });
    };
    if (o.args.some((a) => a < 0 || a >= e.inputs.length + j)) fail(`op ${j} (${o.type}) reads a value not computed before it`);
    const result = typedResult(o.type, o.args.map((a) => types[a]), o.to);
    if (result !== o.to) fail(`the typed elementwise kernel has no ${o.type} over ${o.args.map((a) => types[a]).join(", ")} giving ${o.to}`);
    types.push(o.to);
  });
  return types;
}

export function emitTypedElementwise(fb: FunctionBuilder, e: TypedElementwiseKernel): Expr[] {
  const types = valueTypes(e);
  const domain = [...e.shape];
  if (domain.reduce((a, b) => a * b, 1) === 0) return [];
  const m = fb.m;
  const tensors = e.inputs.flatMap((x, i) => ("offset" in x ? [{ i, offset: x.offset, strides: broadcastStrides(x.shape, domain), bytes: BYTES[x.type] }] : []));
  const { sizes, strides } = coalesce(domain, [stridesOf(domain), ...tensors.map((t) => t.strides)]);
  if (sizes.length === 0) sizes.push(1), strides.forEach((s) => s.push(0));
  const depth = sizes.length;
  const outBytes = e.outputs.map((o) => BYTES[types[o.value]]);
  const pointers = [...e.outputs.map((o, k) => ({ base: o.offset, strides: strides[0], bytes: outBytes[k] })), ...tensors.map((t, k) => ({ base: t.offset, strides: strides[k + 1], bytes: t.bytes }))];
  const levels = Array.from({ length: depth }, () => pointers.map(() => fb.i32Local()));
  const values = types.map((t) => fb.local(t === "f32" ? binaryen.f32 : binaryen.i32));
  const scratch = fb.local(binaryen.f64);
  const constants = e.inputs.flatMap((x, i) => ("value" in x ? [fb.set(values[i], x.type === "f32" ? m.f32.const(x.value) : fb.i32(x.value))] : []));

  const body = (ptrs: number[]): Expr[] => {
    const code: Expr[] = [];
    tensors.forEach((t, k) => {
      const p = fb.get(ptrs[e.outputs.length + k]);
      const type = types[t.i];
      code.push(fb.set(values[t.i], type === "f32" ? m.f32.load(0, 4, p) : type === "i32" ? m.i32.load(0, 4, p) : m.i32.load8_u(0, 1, p)));
    });
    e.ops.forEach((o, j) => code.push(fb.set(values[e.inputs.length + j], emitOp(fb, o.type, o.args.map((a) => values[a]), o.args.map((a) => types[a]), o.to, scratch))));
    e.outputs.forEach((o, k) => {
      const p = fb.get(ptrs[k]);
      const type = types[o.value];
      const value = fb.get(values[o.value], type === "f32" ? binaryen.f32 : binaryen.i32);
      code.push(type === "f32" ? m.f32.store(0, 4, p, value) : type === "i32" ? m.i32.store(0, 4, p, value) : m.i32.store8(0, 1, p, value));
    });
    return code;
  };
  const level = (d: number): Expr[] => {
    const ptrs = levels[d];
    const setup = ptrs.map((p, k) => fb.set(p, d === 0 ? fb.i32(pointers[k].base) : fb.get(levels[d - 1][k])));
    const step = ptrs.flatMap((p, k) => fb.bump(p, pointers[k].strides[d] * pointers[k].bytes));
    return [...setup, fb.repeat(sizes[d], [...(d === depth - 1 ? body(ptrs) : level(d + 1)), ...step])];
  };
  return [...constants, ...level(0)];
}
