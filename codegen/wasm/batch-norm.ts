/**
 * FusedBatchNorm / V2 / V3 and their gradient ops over NHWC (every 4-D NHWC tensor is a
 * [pixels, channels] matrix), as TF's CPU kernels and the reference kernels (ir/ops/batch-norm.ts)
 * compute them: per-channel statistics and the normalization in f64 (f64x2, two channels a
 * vector), each result rounded to f32 once when stored — the same operations in the same order
 * as the reference's JS numbers, so the outputs are the interpreter's to the bit.
 *
 *   forward, training:  mean (pass 1), biased variance of the centred values (pass 2), then
 *                       y = (x − mean)·(scale / sqrt(var + ε)) + offset (pass 3, with an optional
 *                       fused epilogue: Relu after the batch norm is one pass)
 *   forward, inference: the same pass 3 with the given mean and variance
 *   gradient:           Σ dy and Σ dy·(x − mean) (pass 1), then dx (pass 2):
 *                       training  dx = scale·r·(dy − Σdy/n − (x − mean)·r·r·Σdy(x−mean)/n)
 *                       inference dx = dy·scale·r,   r = 1 / sqrt(var + ε)
 *
 * Per-channel f64 tables live in the kernel's scratch. The statistics passes keep a block of
 * channels in registers while they walk all pixels (each channel's sum in pixel order).
 */
import type { Expr } from "./binaryen";
import { applyEpilogue, checkEpilogue, type EpilogueStep } from "./epilogue";
import { demoteHalves, f64, f64Local, getD, loadD, promoteHalf, storeD, zeroV } from "./f64-lanes";
import type { FunctionBuilder } from "./function-builder";

export interface BatchNormKernel {
  kind: "batch-norm";
  op: string;
  /** N·H·W and C of the NHWC input (pixels ≥ 1). */
  pixels: number;
  channels: number;
  training: boolean;
  epsilon: number;
  exponentialAvgFactor: number;
  /** Byte offsets of the inputs; mean and variance are read in inference, and in training when the factor is not 1. */
  x: number;
  scale: number;
  offset: number;
  mean?: number;
  variance?: number;
  /** Byte offsets of the outputs that are stored (y after the epilogue). */
  y?: number;
  batchMean?: number;
  batchVariance?: number;
  reserve1?: number;
  reserve2?: number;
  /** V3's scalar reserve_space_3 (0). */
  reserve3?: number;
  epilogue?: readonly EpilogueStep[];
  scratch?: number;
}

export interface BatchNormGradKernel {
  kind: "batch-norm-grad";
  op: string;
  pixels: number;
  channels: number;
  training: boolean;
  epsilon: number;
  /** Byte offsets: y_backprop, x, scale, reserve_space_1 (mean), reserve_space_2 (variance). */
  dy: number;
  x: number;
  scale: number;
  mean: number;
  variance: number;
  dx?: number;
  dScale?: number;
  dOffset?: number;
  scratch?: number;
}

const round4 = (c: number) => Math.ceil(c / 4) * 4;
/** Bytes of one per-channel f64 table. */
const tableBytes = (channels: number) => round4(channels) * 8;

export function batchNormScratchBytes(k: BatchNormKernel): number {
  return 4 * tableBytes(k.channels);
}
export function batchNormGradScratchBytes(k: BatchNormGradKernel): number {
  return 7 * tableBytes(k.channels);
}

/** The f64 halves (lanes 0–1, 2–3) of each accumulated quantity for channel vector v of a block. */
type Terms = (e: number, tb: number, v: number, lanes: number) => { code: Expr[]; halves: Expr[][] };

/**
 * Σ over pixels of `quantities` per-channel terms, into f64 tables at `tables` (byte offsets).
 * Channels go in blocks of `blockVectors` vectors; `e` walks the pixels (bytes from the
 * tensors' start), `tb` is the block's table offset (channel·8).
 */
function sumPass(fb: FunctionBuilder, C: number, P: number, blockVectors: number, tables: readonly number[], terms: Terms): Expr[] {
  const m = fb.m;
  const [cb, tb, e] = [fb.i32Local(), fb.i32Local(), fb.i32Local()];
  const acc = tables.map(() => Array.from({ length: blockVectors }, () => [fb.v128Local(), fb.v128Local()]));
  const block = (vectors: number, lastLanes: number): Expr[] => {
    const code: Expr[] = [fb.set(e, fb.get(cb))];
    for (const q of acc) for (const v of q.slice(0, vectors)) code.push(fb.set(v[0], zeroV(fb)), fb.set(v[1], zeroV(fb)));
    const step: Expr[] = [];
    for (let v = 0; v < vectors; v++) {
      const t = terms(e, tb, v, v === vectors - 1 ? lastLanes : 4);
      step.push(...t.code);
      acc.forEach((q, i) => q[v].forEach((local, h) => step.push(fb.set(local, m.f64x2.add(fb.getV(local), t.halves[i][h])))));
    }
    code.push(fb.repeat(P, [...step, ...fb.bump(e, C * 4)]));
    acc.forEach((q, i) => q.slice(0, vectors).forEach((v, j) => v.forEach((local, h) => code.push(m.v128.store(tables[i] + 32 * j + 16 * h, 8, fb.get(tb), fb.getV(local))))));
    return code;
  };
  const per = 4 * blockVectors;
  const rest = C % per;
  return [
    fb.set(cb, fb.i32(0)),
    fb.set(tb, fb.i32(0)),
    fb.repeat(Math.floor(C / per), [...block(blockVectors, 4), ...fb.bump(cb, 16 * blockVectors), ...fb.bump(tb, 32 * blockVectors)]),
    ...(rest ? block(Math.ceil(rest / 4), rest % 4 || 4) : []),
  ];
}

/**
 * For every pixel and channel vector: `vector(e, cb, tb, lanes)` with `e` the element's byte
 * offset, `cb` the channel's (channel·4) and `tb` its table offset (channel·8).
 */
function perElement(fb: FunctionBuilder, C: number, P: number, vector: (e: number, cb: number, tb: number, lanes: number) => Expr[]): Expr[] {
  const [e, cb, tb] = [fb.i32Local(), fb.i32Local(), fb.i32Local()];
  const rest = C % 4;
  const pixel = [
    fb.set(cb, fb.i32(0)),
    fb.set(tb, fb.i32(0)),
    fb.repeat(Math.floor(C / 4), [...vector(e, cb, tb, 4), ...fb.bump(e, 16), ...fb.bump(cb, 16), ...fb.bump(tb, 32)]),
    ...(rest ? [...vector(e, cb, tb, rest), ...fb.bump(e, rest * 4)] : []),
  ];
  return [fb.set(e, fb.i32(0)), fb.repeat(P, pixel)];
}

/** A loop over channels c with locals c4 = 4c and c8 = 8c. */
function perChannel(fb: FunctionBuilder, C: number, body: (c4: number, c8: number) => Expr[]): Expr {
  const [c4, c8] = [fb.i32Local(), fb.i32Local()];
  return fb.forRange(C, (c) => [fb.set(c4, fb.m.i32.shl(fb.get(c), fb.i32(2))), fb.set(c8, fb.m.i32.shl(fb.get(c), fb.i32(3))), ...body(c4, c8)]);
}

/** f64 of the f32 at (local + offset), and an f32 store of an f64. */
const promoted = (fb: FunctionBuilder, local: number, offset: number) => fb.m.f64.promote(fb.m.f32.load(offset, 4, fb.get(local)));
const storeRounded = (fb: FunctionBuilder, local: number, offset: number, v: Expr) => fb.m.f32.store(offset, 4, fb.get(local), fb.m.f32.demote(v));

export function emitBatchNorm(fb: FunctionBuilder, k: BatchNormKernel): Expr[] {
  const m = fb.m;
  const d = m.f64;
  const C = k.channels;
  const P = k.pixels;
  checkEpilogue(k.epilogue ?? [], k.op);
  const T = tableBytes(C);
  const s = k.scratch ?? 0;
  const [MU, MULT, OFF, SUM] = [s, s + T, s + 2 * T, s + 3 * T];
  const n = P;
  const [mu, variance] = [f64Local(fb), f64Local(fb)];
  const xv = fb.v128Local();
  const code: Expr[] = [];
  const factor = k.exponentialAvgFactor;
  const blend = (c4: number, old: number | undefined, v: Expr): Expr =>
    factor === 1 || old === undefined ? v : d.add(d.mul(f64(fb, 1 - factor), promoted(fb, c4, old)), d.mul(f64(fb, factor), v));
  /** The normalization constants of channel c (mu and variance set) and the vector outputs. */
  const finish = (c4: number, c8: number): Expr[] => {
    const out: Expr[] = [
      storeD(fb, c8, MU, getD(fb, mu)),
      storeD(fb, c8, MULT, d.div(promoted(fb, c4, k.scale), d.sqrt(d.add(getD(fb, variance), f64(fb, k.epsilon))))),
      storeD(fb, c8, OFF, promoted(fb, c4, k.offset)),
    ];
    const adjust = n / Math.max(n - 1, 1);
    const vectors: [number | undefined, Expr][] = k.training
      ? [[k.batchMean, blend(c4, k.mean, getD(fb, mu))], [k.batchVariance, blend(c4, k.variance, d.mul(getD(fb, variance), f64(fb, adjust)))]]
      : [[k.batchMean, getD(fb, mu)], [k.batchVariance, getD(fb, variance)]];
    vectors.push([k.reserve1, getD(fb, mu)], [k.reserve2, getD(fb, variance)]);
    for (const [at, v] of vectors) if (at !== undefined) out.push(storeRounded(fb, c4, at, v));
    return out;
  };
  if (k.training) {
    const lo = fb.v128Local();
    const sums: Terms = (e, _tb, v, lanes) => ({
      code: [fb.set(xv, fb.loadLanes({ local: e, offset: k.x + 16 * v }, lanes))],
      halves: [[promoteHalf(fb, xv, 0), promoteHalf(fb, xv, 1)]],
    });
    const squares: Terms = (e, tb, v, lanes) => {
      const h = [0, 1].map((half) => m.f64x2.sub(promoteHalf(fb, xv, half as 0 | 1), m.v128.load(MU + 32 * v + 16 * half, 8, fb.get(tb))));
      const hi = fb.v128Local();
      return {
        code: [fb.set(xv, fb.loadLanes({ local: e, offset: k.x + 16 * v }, lanes)), fb.set(lo, h[0]), fb.set(hi, h[1])],
        halves: [[m.f64x2.mul(fb.getV(lo), fb.getV(lo)), m.f64x2.mul(fb.getV(hi), fb.getV(hi))]],
      };
    };
    code.push(...sumPass(fb, C, P, 2, [SUM], sums));
    code.push(perChannel(fb, C, (_c4, c8) => [storeD(fb, c8, MU, d.div(loadD(fb, c8, SUM), f64(fb, n)))]));
    code.push(...sumPass(fb, C, P, 2, [SUM], squares));
    code.push(perChannel(fb, C, (c4, c8) => [fb.set(mu, loadD(fb, c8, MU)), fb.set(variance, d.div(loadD(fb, c8, SUM), f64(fb, n))), ...finish(c4, c8)]));
  } else {
    code.push(perChannel(fb, C, (c4, c8) => [fb.set(mu, promoted(fb, c4, k.mean!)), fb.set(variance, promoted(fb, c4, k.variance!)), ...finish(c4, c8)]));
  }
  if (k.reserve3 !== undefined) code.push(m.f32.store(k.reserve3, 4, fb.i32(0), fb.f32(0)));
  if (k.y === undefined) return code;
  const y = k.y;
  const yv = fb.v128Local();
  const half = (tb: number, h: 0 | 1) => {
    const table = (at: number) => m.v128.load(at + 16 * h, 8, fb.get(tb));
    return m.f64x2.add(m.f64x2.mul(m.f64x2.sub(promoteHalf(fb, xv, h), table(MU)), table(MULT)), table(OFF));
  };
  code.push(
    ...perElement(fb, C, P, (e, cb, tb, lanes) => [
      fb.set(xv, fb.loadLanes({ local: e, offset: k.x }, lanes)),
      fb.set(yv, demoteHalves(fb, half(tb, 0), half(tb, 1))),
      ...applyEpilogue(fb, k.epilogue ?? [], yv, { channel: (offset) => ({ local: cb, offset }), tensor: (offset) => ({ local: e, offset }) }),
      ...fb.storeLanes({ local: e, offset: y }, yv, lanes),
    ]),
  );
  return code;
}

export function emitBatchNormGrad(fb: FunctionBuilder, k: BatchNormGradKernel): Expr[] {
  const m = fb.m;
  const d = m.f64;
  const C = k.channels;
  const P = k.pixels;
  const T = tableBytes(C);
  const s = k.scratch ?? 0;
  const [MU, R, A, MDY, M2, S1, S2] = Array.from({ length: 7 }, (_, i) => s + i * T);
  const n = P;
  const r = f64Local(fb);
  const [dyv, xv, lo, hi] = [fb.v128Local(), fb.v128Local(), fb.v128Local(), fb.v128Local()];
  const code: Expr[] = [perChannel(fb, C, (c4, c8) => [storeD(fb, c8, MU, promoted(fb, c4, k.mean))])];
  // Σ dy and Σ dy·(x − mean), channel by channel in pixel order.
  const terms: Terms = (e, tb, v, lanes) => {
    const centred = (h: 0 | 1) => m.f64x2.sub(promoteHalf(fb, xv, h), m.v128.load(MU + 32 * v + 16 * h, 8, fb.get(tb)));
    const dyh = [fb.v128Local(), fb.v128Local()];
    return {
      code: [
        fb.set(dyv, fb.loadLanes({ local: e, offset: k.dy + 16 * v }, lanes)),
        fb.set(xv, fb.loadLanes({ local: e, offset: k.x + 16 * v }, lanes)),
        fb.set(dyh[0], promoteHalf(fb, dyv, 0)),
        fb.set(dyh[1], promoteHalf(fb, dyv, 1)),
        fb.set(lo, centred(0)),
        fb.set(hi, centred(1)),
      ],
      halves: [
        [fb.getV(dyh[0]), fb.getV(dyh[1])],
        [m.f64x2.mul(fb.getV(dyh[0]), fb.getV(lo)), m.f64x2.mul(fb.getV(dyh[1]), fb.getV(hi))],
      ],
    };
  };
  code.push(...sumPass(fb, C, P, 1, [S1, S2], terms));
  code.push(
    perChannel(fb, C, (c4, c8) => {
      const out: Expr[] = [
        fb.set(r, d.div(f64(fb, 1), d.sqrt(d.add(promoted(fb, c4, k.variance), f64(fb, k.epsilon))))),
        storeD(fb, c8, R, getD(fb, r)),
        storeD(fb, c8, A, k.training ? d.mul(promoted(fb, c4, k.scale), getD(fb, r)) : promoted(fb, c4, k.scale)),
      ];
      if (k.training) out.push(storeD(fb, c8, MDY, d.div(loadD(fb, c8, S1), f64(fb, n))), storeD(fb, c8, M2, d.div(loadD(fb, c8, S2), f64(fb, n))));
      if (k.dScale !== undefined) out.push(storeRounded(fb, c4, k.dScale, d.mul(loadD(fb, c8, S2), getD(fb, r))));
      if (k.dOffset !== undefined) out.push(storeRounded(fb, c4, k.dOffset, loadD(fb, c8, S1)));
      return out;
    }),
  );
  if (k.dx === undefined) return code;
  const dx = k.dx;
  const half = (tb: number, h: 0 | 1): Expr => {
    const table = (at: number) => m.v128.load(at + 16 * h, 8, fb.get(tb));
    const g = promoteHalf(fb, dyv, h);
    if (!k.training) return m.f64x2.mul(m.f64x2.mul(g, table(A)), table(R));
    const xc = m.f64x2.sub(promoteHalf(fb, xv, h), table(MU));
    const t = m.f64x2.mul(m.f64x2.mul(m.f64x2.mul(xc, table(R)), table(R)), table(M2));
    return m.f64x2.mul(table(A), m.f64x2.sub(m.f64x2.sub(g, table(MDY)), t));
  };
  const out = fb.v128Local();
  code.push(
    ...perElement(fb, C, P, (e, _cb, tb, lanes) => [
      fb.set(dyv, fb.loadLanes({ local: e, offset: k.dy }, lanes)),
      ...(k.training ? [fb.set(xv, fb.loadLanes({ local: e, offset: k.x }, lanes))] : []),
      fb.set(out, demoteHalves(fb, half(tb, 0), half(tb, 1))),
      ...fb.storeLanes({ local: e, offset: dx }, out, lanes),
    ]),
  );
  return code;
}
