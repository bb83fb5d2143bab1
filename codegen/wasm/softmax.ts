/**
 * Softmax and LogSoftmax over the last axis of [rows, columns], as the reference kernels:
 * each row shifted by its max, then exp(x − max) / Σ, or x − max − log Σ. Three SIMD passes
 * per row (max; exp and sum; scale), the vector exp of simd-ops.ts, the row remainder by
 * lanes (filled with −∞ for the max, masked out of the sum).
 */
import { binaryen, type Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";
import { splatConst, vectorExp } from "./simd-ops";

export interface SoftmaxKernel {
  kind: "softmax";
  op: string;
  type: "Softmax" | "LogSoftmax";
  rows: number;
  columns: number;
  x: number;
  y: number;
  scratch?: number;
}

function laneMask(fb: FunctionBuilder, lanes: number): Expr {
  const bytes = new Uint8Array(16);
  bytes.fill(0xff, 0, 4 * lanes);
  return fb.m.v128.const(Array.from(bytes));
}

export function emitSoftmax(fb: FunctionBuilder, s: SoftmaxKernel): Expr[] {
  const m = fb.m;
  const f = m.f32x4;
  const C = s.columns;
  if (s.rows * C === 0) return [];
  const log = s.type === "LogSoftmax";
  const [xr, yr, px, py] = [fb.i32Local(), fb.i32Local(), fb.i32Local(), fb.i32Local()];
  const [x, acc, mx, e, total] = [fb.v128Local(), fb.v128Local(), fb.v128Local(), fb.v128Local(), fb.v128Local()];
  const sc = fb.f32Local();
  const full = Math.floor(C / 4);
  const rest = C % 4;
  const tail = rest ? [rest] : [];

  /** Horizontal reduction of `v` into scalar `sc` (max or sum), then splatted into `into`. */
  const across = (v: number, max: boolean, into: number): Expr[] => {
    const code: Expr[] = [fb.set(sc, f.extract_lane(fb.getV(v), 0))];
    for (let l = 1; l < 4; l++) {
      const lane = f.extract_lane(fb.getV(v), l);
      code.push(fb.set(sc, max ? m.select(m.f32.lt(fb.getF(sc), lane), f.extract_lane(fb.getV(v), l), fb.getF(sc)) : m.f32.add(fb.getF(sc), lane)));
    }
    return [...code, fb.set(into, f.splat(fb.getF(sc)))];
  };
  const maxStep = (lanes: number): Expr[] => {
    const raw = fb.loadLanes({ local: px, offset: 0 }, lanes);
    return [
      fb.set(x, lanes === 4 ? raw : m.v128.bitselect(raw, splatConst(fb, -Infinity), laneMask(fb, lanes))),
      fb.set(acc, f.pmax(fb.getV(acc), fb.getV(x))),
    ];
  };
  const expStep = (lanes: number): Expr[] => {
    const code = [fb.set(x, f.sub(fb.loadLanes({ local: px, offset: 0 }, lanes), fb.getV(mx))), fb.set(e, vectorExp(fb, x))];
    const masked = lanes === 4 ? fb.getV(e) : m.v128.and(fb.getV(e), laneMask(fb, lanes));
    code.push(fb.set(acc, f.add(fb.getV(acc), masked)));
    if (!log) code.push(...fb.storeLanes({ local: py, offset: 0 }, e, lanes));
    return code;
  };
  const finishStep = (lanes: number): Expr[] => {
    const value = log
      ? f.sub(f.sub(fb.loadLanes({ local: px, offset: 0 }, lanes), fb.getV(mx)), fb.getV(total))
      : f.div(fb.loadLanes({ local: py, offset: 0 }, lanes), fb.getV(total));
    return [fb.set(x, value), ...fb.storeLanes({ local: py, offset: 0 }, x, lanes)];
  };
  const pass = (stepFn: (lanes: number) => Expr[]): Expr[] => [
    fb.set(px, fb.get(xr)),
    fb.set(py, fb.get(yr)),
    fb.repeat(full, [...stepFn(4), ...fb.bump(px, 16), ...fb.bump(py, 16)]),
    ...tail.flatMap((l) => stepFn(l)),
  ];
  const row: Expr[] = [
    fb.set(acc, splatConst(fb, -Infinity)),
    ...pass(maxStep),
    ...across(acc, true, mx),
    fb.set(acc, splatConst(fb, 0)),
    ...pass(expStep),
    ...across(acc, false, total),
  ];
  if (log) row.push(fb.set(total, f.splat(m.f32.demote(m.call("math.log", [m.f64.promote(fb.getF(sc))], binaryen.f64)))));
  row.push(...pass(finishStep));
  return [fb.set(xr, fb.i32(s.x)), fb.set(yr, fb.i32(s.y)), fb.repeat(s.rows, [...row, ...fb.bump(xr, C * 4), ...fb.bump(yr, C * 4)])];
}
