/**
 * The f32x4 expression of every elementwise op the wasm target computes, keyed by TF op type:
 * one line per op, the twin of codegen/js/elementwise-templates.ts. Arguments are v128 locals
 * (a template may read one more than once); the result is a v128 expression. Standalone
 * elementwise kernels and the epilogues fused into GEMM / conv stores share this table.
 *
 * exp is a vectorized Cephes expf (about 1 ulp); log, tanh, expm1 and pow call the host's Math
 * functions lane by lane (imports of module "math"), as the reference kernels compute them.
 * Comparisons, int32 and bool ops are not in this table yet (the program falls back for them).
 */
import { binaryen, type Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";

export type VectorOp = (fb: FunctionBuilder, args: readonly number[]) => Expr;

/** A v128 constant of four equal f32 lanes. */
export function splatConst(fb: FunctionBuilder, v: number): Expr {
  const bytes = new Uint8Array(new Float32Array([v, v, v, v]).buffer);
  return fb.m.v128.const(Array.from(bytes));
}
function splatI32(fb: FunctionBuilder, v: number): Expr {
  const bytes = new Uint8Array(new Int32Array([v, v, v, v]).buffer);
  return fb.m.v128.const(Array.from(bytes));
}

/** Host Math functions the wasm target imports (module "math"), f64 → f64. */
export const MATH_IMPORTS = { log: 1, tanh: 1, expm1: 1, pow: 2 } as const;
export type MathImport = keyof typeof MATH_IMPORTS;

/** Applies the host function lane by lane: f32 lanes promoted to f64, results rounded to f32. */
function perLane(fb: FunctionBuilder, fn: MathImport, args: readonly number[]): Expr {
  const m = fb.m;
  const out = fb.v128Local();
  const lanes: Expr[] = [fb.set(out, splatConst(fb, 0))];
  for (let l = 0; l < 4; l++) {
    const operands = args.map((a) => m.f64.promote(m.f32x4.extract_lane(fb.getV(a), l)));
    const call = m.call(`math.${fn}`, operands, binaryen.f64);
    lanes.push(fb.set(out, m.f32x4.replace_lane(fb.getV(out), l, m.f32.demote(call))));
  }
  return m.block(null, [...lanes, fb.getV(out)], binaryen.v128);
}

/** e^x lane-wise: Cephes' expf polynomial, 2^n applied as two factors so that n ∈ [-150, 128] stays exact. */
export function vectorExp(fb: FunctionBuilder, x: number): Expr {
  const m = fb.m;
  const f = m.f32x4;
  const c = (v: number) => splatConst(fb, v);
  const xc = fb.v128Local();
  const n = fb.v128Local();
  const r = fb.v128Local();
  const p = fb.v128Local();
  const ni = fb.v128Local();
  const half = fb.v128Local();
  const pow2 = (k: Expr) => m.i32x4.shl(m.i32x4.add(k, splatI32(fb, 127)), m.i32.const(23));
  const coefficients = [1.3981999507e-3, 8.3334519073e-3, 4.1665795894e-2, 1.6666665459e-1, 5.0000001201e-1];
  let poly: Expr = c(1.9875691500e-4);
  for (const k of coefficients) poly = f.add(f.mul(poly, fb.getV(r)), c(k));
  return m.block(
    null,
    [
      fb.set(xc, f.min(f.max(fb.getV(x), c(-104)), c(88.8))),
      fb.set(n, f.floor(f.add(f.mul(fb.getV(xc), c(Math.LOG2E)), c(0.5)))),
      fb.set(r, f.sub(f.sub(fb.getV(xc), f.mul(fb.getV(n), c(0.693359375))), f.mul(fb.getV(n), c(-2.12194440e-4)))),
      fb.set(p, poly),
      fb.set(p, f.add(f.add(f.mul(f.mul(fb.getV(p), fb.getV(r)), fb.getV(r)), fb.getV(r)), c(1))),
      fb.set(ni, m.i32x4.trunc_sat_f32x4_s(fb.getV(n))),
      fb.set(half, m.i32x4.shr_s(fb.getV(ni), m.i32.const(1))),
      f.mul(f.mul(fb.getV(p), pow2(fb.getV(half))), pow2(m.i32x4.sub(fb.getV(ni), fb.getV(half)))),
    ],
    binaryen.v128,
  );
}

const f = (fb: FunctionBuilder) => fb.m.f32x4;
const V = (fb: FunctionBuilder, l: number) => fb.getV(l);
const sel = (fb: FunctionBuilder, a: Expr, b: Expr, mask: Expr) => fb.m.v128.bitselect(a, b, mask);

export const unaryVectorOps: Record<string, VectorOp> = {
  Neg: (fb, [x]) => f(fb).neg(V(fb, x)),
  Square: (fb, [x]) => f(fb).mul(V(fb, x), V(fb, x)),
  Sqrt: (fb, [x]) => f(fb).sqrt(V(fb, x)),
  Rsqrt: (fb, [x]) => f(fb).div(splatConst(fb, 1), f(fb).sqrt(V(fb, x))),
  Exp: (fb, [x]) => vectorExp(fb, x),
  Log: (fb, args) => perLane(fb, "log", args),
  Abs: (fb, [x]) => f(fb).abs(V(fb, x)),
  // x > 0 ? x : 0 (NaN → 0): pmax(0, x) is exactly `0 < x ? x : 0`.
  Relu: (fb, [x]) => f(fb).pmax(splatConst(fb, 0), V(fb, x)),
  Relu6: (fb, [x]) => f(fb).min(f(fb).max(V(fb, x), splatConst(fb, 0)), splatConst(fb, 6)),
  Sigmoid: (fb, [x]) => {
    const e = fb.v128Local();
    return fb.m.block(null, [fb.set(e, f(fb).neg(V(fb, x))), f(fb).div(splatConst(fb, 1), f(fb).add(splatConst(fb, 1), vectorExp(fb, e)))], binaryen.v128);
  },
  Tanh: (fb, args) => perLane(fb, "tanh", args),
  Elu: (fb, [x]) => sel(fb, V(fb, x), perLane(fb, "expm1", [x]), f(fb).gt(V(fb, x), splatConst(fb, 0))),
  Reciprocal: (fb, [x]) => f(fb).div(splatConst(fb, 1), V(fb, x)),
  // Math.sign: ±1 with x's sign for non-zero x, x itself for ±0 and NaN.
  Sign: (fb, [x]) => {
    const one = fb.m.v128.or(fb.m.v128.and(V(fb, x), splatI32(fb, -0x80000000)), splatConst(fb, 1));
    return sel(fb, one, V(fb, x), fb.m.v128.and(f(fb).ne(V(fb, x), splatConst(fb, 0)), f(fb).eq(V(fb, x), V(fb, x))));
  },
  Floor: (fb, [x]) => f(fb).floor(V(fb, x)),
};

export const binaryVectorOps: Record<string, VectorOp> = {
  AddV2: (fb, [a, b]) => f(fb).add(V(fb, a), V(fb, b)),
  Add: (fb, [a, b]) => f(fb).add(V(fb, a), V(fb, b)),
  BiasAdd: (fb, [a, b]) => f(fb).add(V(fb, a), V(fb, b)),
  Sub: (fb, [a, b]) => f(fb).sub(V(fb, a), V(fb, b)),
  Mul: (fb, [a, b]) => f(fb).mul(V(fb, a), V(fb, b)),
  RealDiv: (fb, [a, b]) => f(fb).div(V(fb, a), V(fb, b)),
  FloorDiv: (fb, [a, b]) => f(fb).floor(f(fb).div(V(fb, a), V(fb, b))),
  // a >= b ? a : b and a <= b ? a : b, NaN picking b as the reference kernels do.
  Maximum: (fb, [a, b]) => sel(fb, V(fb, a), V(fb, b), f(fb).ge(V(fb, a), V(fb, b))),
  Minimum: (fb, [a, b]) => sel(fb, V(fb, a), V(fb, b), f(fb).le(V(fb, a), V(fb, b))),
  Pow: (fb, args) => perLane(fb, "pow", args),
  SquaredDifference: (fb, [a, b]) => {
    const d = fb.v128Local();
    return fb.m.block(null, [fb.set(d, f(fb).sub(V(fb, a), V(fb, b))), f(fb).mul(V(fb, d), V(fb, d))], binaryen.v128);
  },
  ReluGrad: (fb, [g, x]) => fb.m.v128.and(V(fb, g), f(fb).gt(V(fb, x), splatConst(fb, 0))),
  Relu6Grad: (fb, [g, x]) => fb.m.v128.and(V(fb, g), fb.m.v128.and(f(fb).gt(V(fb, x), splatConst(fb, 0)), f(fb).lt(V(fb, x), splatConst(fb, 6)))),
  EluGrad: (fb, [g, y]) => sel(fb, f(fb).mul(V(fb, g), f(fb).add(V(fb, y), splatConst(fb, 1))), V(fb, g), f(fb).lt(V(fb, y), splatConst(fb, 0))),
  SigmoidGrad: (fb, [y, dy]) => f(fb).mul(f(fb).mul(V(fb, dy), V(fb, y)), f(fb).sub(splatConst(fb, 1), V(fb, y))),
  TanhGrad: (fb, [y, dy]) => f(fb).mul(V(fb, dy), f(fb).sub(splatConst(fb, 1), f(fb).mul(V(fb, y), V(fb, y)))),
  SqrtGrad: (fb, [y, dy]) => f(fb).div(f(fb).mul(V(fb, dy), splatConst(fb, 0.5)), V(fb, y)),
  RsqrtGrad: (fb, [y, dy]) => f(fb).mul(f(fb).mul(f(fb).mul(f(fb).mul(V(fb, dy), splatConst(fb, -0.5)), V(fb, y)), V(fb, y)), V(fb, y)),
  ReciprocalGrad: (fb, [y, dy]) => f(fb).mul(f(fb).mul(f(fb).neg(V(fb, dy)), V(fb, y)), V(fb, y)),
};

/** The vector op of `type` with `arity` operands, or undefined when the wasm target has none. */
export function vectorOp(type: string, arity: number): VectorOp | undefined {
  return arity === 1 ? unaryVectorOps[type] : arity === 2 ? binaryVectorOps[type] : undefined;
}

/** Declares the host Math imports a module may call (module "math", f64 → f64). */
export function addMathImports(m: FunctionBuilder["m"]): void {
  for (const [name, arity] of Object.entries(MATH_IMPORTS)) {
    const params = binaryen.createType(new Array<number>(arity).fill(binaryen.f64));
    m.addFunctionImport(`math.${name}`, "math", name, params, binaryen.f64);
  }
}

/** The import object for a module: `{ math: { log, tanh, expm1, pow } }` from the host's Math. */
export function mathImports(): Record<string, (...xs: number[]) => number> {
  return { log: Math.log, tanh: Math.tanh, expm1: Math.expm1, pow: Math.pow };
}
