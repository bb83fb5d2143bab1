/**
 * Four f32 lanes as two f64x2 halves and back, for kernels that compute as the reference
 * kernels do — in float64 (JS numbers) over float32 data, rounding once when they store:
 * batch-norm statistics and normalization, average-pooling shares. Per-channel f64 tables
 * (`table`) hold four channels in 32 bytes: lanes 0–1 at +0, lanes 2–3 at +16.
 */
import { binaryen, type Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";

const HIGH_TO_LOW = [8, 9, 10, 11, 12, 13, 14, 15, 0, 1, 2, 3, 4, 5, 6, 7];
const JOIN_LOW = [0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23];

/** Lanes 0–1 (half 0) or 2–3 (half 1) of the f32x4 in local `v`, as f64x2. */
export function promoteHalf(fb: FunctionBuilder, v: number, half: 0 | 1): Expr {
  const m = fb.m;
  const src = half === 0 ? fb.getV(v) : m.i8x16.shuffle(fb.getV(v), fb.getV(v), HIGH_TO_LOW);
  return m.f64x2.promote_low_f32x4(src);
}

/** The f32x4 of two f64x2 halves (each rounded to f32). */
export function demoteHalves(fb: FunctionBuilder, lo: Expr, hi: Expr): Expr {
  const m = fb.m;
  return m.i8x16.shuffle(m.f32x4.demote_f64x2_zero(lo), m.f32x4.demote_f64x2_zero(hi), JOIN_LOW);
}

/** Both halves of the f32x4 in local `v` promoted into locals `lo` and `hi`. */
export function promoteInto(fb: FunctionBuilder, v: number, lo: number, hi: number): Expr[] {
  return [fb.set(lo, promoteHalf(fb, v, 0)), fb.set(hi, promoteHalf(fb, v, 1))];
}

/** A v128 zero (as f64x2 or f32x4). */
export function zeroV(fb: FunctionBuilder): Expr {
  return fb.m.v128.const(new Array<number>(16).fill(0));
}

/** Scalar f64 load / store at (local + offset). */
export function loadD(fb: FunctionBuilder, local: number, offset: number): Expr {
  return fb.m.f64.load(offset, 8, fb.get(local));
}
export function storeD(fb: FunctionBuilder, local: number, offset: number, v: Expr): Expr {
  return fb.m.f64.store(offset, 8, fb.get(local), v);
}

/** f64 constant. */
export function f64(fb: FunctionBuilder, v: number): Expr {
  return fb.m.f64.const(v);
}

/** A local of type f64. */
export function f64Local(fb: FunctionBuilder): number {
  return fb.local(binaryen.f64);
}

/** The value of an f64 local. */
export function getD(fb: FunctionBuilder, local: number): Expr {
  return fb.get(local, binaryen.f64);
}
