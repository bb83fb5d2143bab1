/**
 * Reductions over the middle axis of an [outer, reduce, inner] view — the last axis when
 * inner = 1 (SIMD along the reduced row, then across the four lanes), the batch axis (or
 * N·H·W of an NHWC tensor) when outer = 1 (SIMD along the kept columns, blocks of 4 vectors).
 * Sum, Mean, Max, Min as the reference kernels (Max keeps `v > acc ? v : acc`: NaNs are
 * skipped, an empty reduction gives −∞), and moments: mean, then the biased variance
 * mean((x − mean)²) in a second pass, as tf.nn.moments computes them.
 */
import { binaryen, type Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";
import { splatConst } from "./simd-ops";

export interface ReduceView {
  outer: number;
  reduce: number;
  inner: number;
}

export interface ReduceKernel extends ReduceView {
  kind: "reduce";
  op: string;
  type: "Sum" | "Mean" | "Max" | "Min";
  x: number;
  y: number;
  scratch?: number;
}

export interface MomentsKernel extends ReduceView {
  kind: "moments";
  op: string;
  x: number;
  mean: number;
  variance: number;
  scratch?: number;
}

type Combine = "add" | "max" | "min";

interface Pass extends ReduceView {
  combine: Combine;
  x: number;
  y: number;
  /** Per-output values to subtract before squaring (the variance pass): their byte offset. */
  center?: number;
  /** Divide by the reduced count (Mean, moments). */
  average: boolean;
}

const INIT: Record<Combine, number> = { add: 0, max: -Infinity, min: Infinity };
const BLOCK = 4;

/** The first `lanes` lanes set (all ones), the others zero. */
function laneMask(fb: FunctionBuilder, lanes: number): Expr {
  const bytes = new Uint8Array(16);
  bytes.fill(0xff, 0, 4 * lanes);
  return fb.m.v128.const(Array.from(bytes));
}

function combineV(fb: FunctionBuilder, c: Combine, acc: Expr, v: Expr): Expr {
  const f = fb.m.f32x4;
  return c === "add" ? f.add(acc, v) : c === "max" ? f.pmax(acc, v) : f.pmin(acc, v);
}

function combineS(fb: FunctionBuilder, c: Combine, acc: number, v: Expr): Expr {
  const m = fb.m;
  if (c === "add") return m.f32.add(fb.getF(acc), v);
  const t = fb.f32Local();
  const better = c === "max" ? m.f32.lt(fb.getF(acc), fb.getF(t)) : m.f32.gt(fb.getF(acc), fb.getF(t));
  return m.block(null, [fb.set(t, v), m.select(better, fb.getF(t), fb.getF(acc))], binaryen.f32);
}

/** The term accumulated for a loaded vector `x` (a local): x, or (x − center)². */
function term(fb: FunctionBuilder, x: number, center: number | null): Expr {
  if (center === null) return fb.getV(x);
  const f = fb.m.f32x4;
  const d = fb.v128Local();
  return fb.m.block(null, [fb.set(d, f.sub(fb.getV(x), fb.getV(center))), f.mul(fb.getV(d), fb.getV(d))], binaryen.v128);
}

function emitPass(fb: FunctionBuilder, p: Pass): Expr[] {
  const m = fb.m;
  const { outer, reduce: R, inner } = p;
  if (outer * inner === 0) return [];
  const [xp, yp, px] = [fb.i32Local(), fb.i32Local(), fb.i32Local()];
  const x = fb.v128Local();
  const center = p.center === undefined ? null : fb.v128Local();
  const code: Expr[] = [fb.set(xp, fb.i32(p.x)), fb.set(yp, fb.i32(0))];
  if (inner === 1) {
    // Along the row: one vector accumulator, the remainder lanes filled with the neutral value.
    const acc = fb.v128Local();
    const s = fb.f32Local();
    const load = (lanes: number): Expr[] => {
      const raw = fb.loadLanes({ local: px, offset: 0 }, lanes);
      const v = lanes === 4 ? raw : m.v128.bitselect(raw, splatConst(fb, INIT[p.combine]), laneMask(fb, lanes));
      return [fb.set(x, v), fb.set(acc, combineV(fb, p.combine, fb.getV(acc), term(fb, x, center)))];
    };
    const row: Expr[] = [
      fb.set(px, fb.get(xp)),
      fb.set(acc, splatConst(fb, INIT[p.combine])),
      ...(center ? [fb.set(center, m.v128.load32_splat(p.center!, 4, fb.get(yp)))] : []),
      fb.repeat(Math.floor(R / 4), [...load(4), ...fb.bump(px, 16)]),
      ...(R % 4 && (p.combine !== "add" || !center) ? load(R % 4) : []),
    ];
    if (R % 4 && p.combine === "add" && center) {
      // (0 − center)² is not neutral: mask the squared deviations of the missing lanes instead.
      row.push(fb.set(x, fb.loadLanes({ local: px, offset: 0 }, R % 4)));
      row.push(fb.set(acc, m.f32x4.add(fb.getV(acc), m.v128.and(term(fb, x, center), laneMask(fb, R % 4)))));
    }
    row.push(fb.set(s, m.f32x4.extract_lane(fb.getV(acc), 0)));
    for (let l = 1; l < 4; l++) row.push(fb.set(s, combineS(fb, p.combine, s, m.f32x4.extract_lane(fb.getV(acc), l))));
    if (p.average) row.push(fb.set(s, m.f32.div(fb.getF(s), fb.f32(R))));
    row.push(m.f32.store(p.y, 4, fb.get(yp), fb.getF(s)));
    code.push(fb.repeat(outer, [...row, ...fb.bump(xp, R * 4), ...fb.bump(yp, 4)]));
    return code;
  }
  // Along the columns: blocks of up to BLOCK vectors, each accumulated down the reduced axis.
  const acc = Array.from({ length: BLOCK }, () => fb.v128Local());
  const [cx, cy] = [fb.i32Local(), fb.i32Local()];
  const block = (vectors: number, lastLanes: number): Expr[] => {
    const code: Expr[] = [fb.set(px, fb.get(cx))];
    const centers: number[] = [];
    for (let v = 0; v < vectors; v++) {
      code.push(fb.set(acc[v], splatConst(fb, INIT[p.combine])));
      if (center) {
        const c = fb.v128Local();
        centers.push(c);
        code.push(fb.set(c, fb.loadV({ local: cy, offset: p.center! + 16 * v })));
      }
    }
    const step: Expr[] = [];
    for (let v = 0; v < vectors; v++) {
      step.push(fb.set(x, fb.loadV({ local: px, offset: 16 * v })));
      step.push(fb.set(acc[v], combineV(fb, p.combine, fb.getV(acc[v]), term(fb, x, center ? centers[v] : null))));
    }
    code.push(fb.repeat(R, [...step, ...fb.bump(px, inner * 4)]));
    for (let v = 0; v < vectors; v++) {
      if (p.average) code.push(fb.set(acc[v], m.f32x4.div(fb.getV(acc[v]), splatConst(fb, R))));
      code.push(...fb.storeLanes({ local: cy, offset: p.y + 16 * v }, acc[v], v === vectors - 1 ? lastLanes : 4));
    }
    return code;
  };
  const fullBlocks = Math.floor(inner / (4 * BLOCK));
  const rest = inner % (4 * BLOCK);
  const row: Expr[] = [
    fb.set(cx, fb.get(xp)),
    fb.set(cy, fb.get(yp)),
    fb.repeat(fullBlocks, [...block(BLOCK, 4), ...fb.bump(cx, 64), ...fb.bump(cy, 64)]),
    ...(rest ? block(Math.ceil(rest / 4), rest % 4 || 4) : []),
  ];
  code.push(fb.repeat(outer, [...row, ...fb.bump(xp, R * inner * 4), ...fb.bump(yp, inner * 4)]));
  return code;
}

export function emitReduce(fb: FunctionBuilder, r: ReduceKernel): Expr[] {
  const combine: Combine = r.type === "Max" ? "max" : r.type === "Min" ? "min" : "add";
  return emitPass(fb, { ...r, combine, average: r.type === "Mean" });
}

export function emitMoments(fb: FunctionBuilder, k: MomentsKernel): Expr[] {
  return [
    ...emitPass(fb, { ...k, combine: "add", y: k.mean, average: true }),
    ...emitPass(fb, { ...k, combine: "add", y: k.variance, center: k.mean, average: true }),
  ];
}
