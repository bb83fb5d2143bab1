/**
 * e^x in float64 as the host computes `Math.exp` (V8's port of fdlibm's __ieee754_exp): the
 * same argument reduction (k = trunc(x/ln2 ± ½), hi/lo parts of k·ln2), the same degree-5
 * polynomial and the same scaling by 2^k, so that kernels that compute as the reference kernels
 * do (in float64 over float32 data) give their bits — softmax cross entropy's exp(x − max).
 *
 * Scalar f64 code with structured branches; the result is an f64 expression. Checked against
 * Math.exp in test/codegen/wasm-cross-entropy.test.ts.
 */
import { binaryen, type Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";

const LN2_HI = 6.93147180369123816490e-1;
const LN2_LO = 1.90821492927058770002e-10;
const INV_LN2 = 1.44269504088896338700e0;
const P = [1.66666666666666019037e-1, -2.77777777770155933842e-3, 6.61375632143793436117e-5, -1.65339022054652515390e-6, 4.13813679705723846039e-8];
const O_THRESHOLD = 7.09782712893383973096e2;
const U_THRESHOLD = -7.45133219101941108420e2;
const TWO_M1000 = 9.33263618503218878990e-302;
const TWO_1023 = 8.98846567431158e307;

/** Locals an exp needs; allocate once per kernel and reuse for every call site. */
export interface ExpLocals {
  x: number;
  hi: number;
  lo: number;
  t: number;
  c: number;
  y: number;
  hx: number;
  xsb: number;
  k: number;
}

export function expLocals(fb: FunctionBuilder): ExpLocals {
  const d = () => fb.local(binaryen.f64);
  return { x: d(), hi: d(), lo: d(), t: d(), c: d(), y: d(), hx: fb.i32Local(), xsb: fb.i32Local(), k: fb.i32Local() };
}

/** 2^e as an f64 (e + 1023 in [1, 2046]). */
function pow2(fb: FunctionBuilder, e: Expr): Expr {
  const m = fb.m;
  return m.f64.reinterpret(m.i64.shl(m.i64.extend_s(m.i32.add(e, fb.i32(1023))), m.i64.const(BigInt(52))));
}

/** Statements leaving e^(value) in local `L.y` (f64). `value` is evaluated once, into `L.x`. */
export function emitExp64(fb: FunctionBuilder, L: ExpLocals, value: Expr): Expr[] {
  const m = fb.m;
  const f = m.f64;
  const d = (l: number) => fb.get(l, binaryen.f64);
  const c = (v: number) => f.const(v);
  const i = (l: number) => fb.get(l);
  // t = x·x; c = x − t·(P1 + t·(P2 + t·(P3 + t·(P4 + t·P5))))
  // Expressions are trees: `main()` builds a fresh copy for each of its two uses.
  const main = (): Expr[] => {
    let poly = c(P[4]);
    for (let j = 3; j >= 0; j--) poly = f.add(c(P[j]), f.mul(d(L.t), poly));
    // k ≠ 0: y = 1 − ((lo − (x·c)/(2 − c)) − hi), scaled by 2^k (k < −1021: by 2^(k+1000) then 2^−1000).
    const reduced = f.sub(c(1), f.sub(f.sub(d(L.lo), f.div(f.mul(d(L.x), d(L.c)), f.sub(c(2), d(L.c)))), d(L.hi)));
    const scaled = m.if(
      m.i32.ge_s(i(L.k), fb.i32(-1021)),
      m.if(m.i32.eq(i(L.k), fb.i32(1024)), f.mul(f.mul(d(L.y), c(2)), c(TWO_1023)), f.mul(d(L.y), pow2(fb, i(L.k)))),
      f.mul(f.mul(d(L.y), pow2(fb, m.i32.add(i(L.k), fb.i32(1000)))), c(TWO_M1000)),
    );
    return [
      fb.set(L.t, f.mul(d(L.x), d(L.x))),
      fb.set(L.c, f.sub(d(L.x), f.mul(d(L.t), poly))),
      m.if(
        m.i32.eqz(i(L.k)),
        fb.set(L.y, f.sub(c(1), f.sub(f.div(f.mul(d(L.x), d(L.c)), f.sub(d(L.c), c(2))), d(L.x)))),
        fb.block([fb.set(L.y, reduced), fb.set(L.y, scaled)]),
      ),
    ];
  };
  // |x| > ½ln2: k = ±1 below 1.5·ln2, else trunc(x/ln2 ± ½); hi = x − k·ln2_hi, lo = k·ln2_lo, x = hi − lo.
  const half = m.select(m.i32.eqz(i(L.xsb)), c(0.5), c(-0.5));
  const reduce = [
    fb.set(
      L.k,
      m.if(m.i32.lt_u(i(L.hx), fb.i32(0x3ff0a2b2)), m.i32.sub(fb.i32(1), m.i32.shl(i(L.xsb), fb.i32(1))), m.i32.trunc_s_sat.f64(f.add(f.mul(c(INV_LN2), d(L.x)), half))),
    ),
    fb.set(L.t, f.convert_s.i32(i(L.k))),
    fb.set(L.hi, f.sub(d(L.x), f.mul(d(L.t), c(LN2_HI)))),
    fb.set(L.lo, f.mul(d(L.t), c(LN2_LO))),
    fb.set(L.x, f.sub(d(L.hi), d(L.lo))),
  ];
  const finite = m.if(
    m.i32.gt_u(i(L.hx), fb.i32(0x3fd62e42)),
    fb.block([...reduce, ...main()]),
    m.if(
      m.i32.lt_u(i(L.hx), fb.i32(0x3e300000)),
      fb.set(L.y, f.add(c(1), d(L.x))),
      fb.block([fb.set(L.k, fb.i32(0)), ...main()]),
    ),
  );
  // NaN: x + x; above the overflow threshold: +∞; below the underflow threshold: +0.
  const special = m.select(f.ne(d(L.x), d(L.x)), f.add(d(L.x), d(L.x)), m.select(f.gt(d(L.x), c(0)), c(Infinity), c(0)));
  return [
    fb.set(L.x, value),
    fb.set(L.hx, m.i32.wrap(m.i64.shr_u(m.i64.reinterpret(d(L.x)), m.i64.const(BigInt(32))))),
    fb.set(L.xsb, m.i32.shr_u(i(L.hx), fb.i32(31))),
    fb.set(L.hx, m.i32.and(i(L.hx), fb.i32(0x7fffffff))),
    m.if(
      m.i32.and(f.ge(d(L.x), c(U_THRESHOLD)), f.le(d(L.x), c(O_THRESHOLD))),
      // V8 returns Math.E itself for x = 1.
      m.if(f.eq(d(L.x), c(1)), fb.set(L.y, c(Math.E)), finite),
      fb.set(L.y, special),
    ),
  ];
}
