/**
 * The Winograd filter transform at run time, for a conv whose filter is not a constant (a
 * variable in training): U[ξ] = (G g Gᵀ)[ξ] for every (in, out) pair of the filter
 * [3, 3, in, out] at `w`, written as α² matrices [in × out] in the GEMM micro-kernel's panel
 * layout (the layout packWinogradFilter makes at compile time for a constant filter): position ξ
 * at dst + ξ·positionBytes, its full panels nr columns wide, the tail panel round4(rest) wide
 * (padded lanes zero).
 *
 * Four output channels per v128: for each input channel, each group of four output channels
 * loads its nine taps (adjacent in the filter: out is the innermost axis), applies G on both
 * sides (sandwich: adds, and multiplies by a splatted constant where the coefficient is not
 * ±1), and stores the α² vectors at immediates positionBytes apart. In float32 (the
 * compile-time transform rounds once from float64): F(2×2)'s coefficients are 0, ±1 and ½, so
 * each entry of U is a sum of at most 9 taps times a power of two, with a few roundings.
 */
import type { Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";
import { sandwich, winogradMatrices, type WinogradM } from "./winograd-transform";

export interface FilterTransform {
  /** Byte offset of the filter [3, 3, in, out] (float32). */
  w: number;
  inC: number;
  outC: number;
  m: WinogradM;
  /** The GEMM's panel width (a multiple of 4). */
  nr: number;
  /** Bytes between positions ξ (winogradPositionFloats · 4). */
  positionBytes: number;
  /** Byte offset of the packed, transformed filter. */
  dst: number;
}

const round4 = (x: number) => Math.ceil(x / 4) * 4;

export function emitFilterTransform(fb: FunctionBuilder, t: FilterTransform): Expr[] {
  const { inC, outC, nr, positionBytes } = t;
  if (inC === 0 || outC === 0) return [];
  const { alpha, G } = winogradMatrices(t.m);
  const A2 = alpha * alpha;
  const mm = fb.m;
  const taps = Array.from({ length: 9 }, () => fb.v128Local());
  const mid = Array.from({ length: alpha * 3 }, () => fb.v128Local());
  const us = Array.from({ length: A2 }, () => fb.v128Local());
  const [s, d] = [fb.i32Local(), fb.i32Local()];
  const tapBytes = inC * outC * 4;

  /** Four output channels (`lanes` of them valid) at s + offset, stored at d + offset. */
  const vector = (offset: number, lanes: number): Expr[] => {
    const body: Expr[] = [];
    for (let k = 0; k < 9; k++) body.push(fb.set(taps[k], fb.loadLanes({ local: s, offset: k * tapBytes + offset }, lanes)));
    body.push(...sandwich(fb, G, taps, mid, us));
    for (let xi = 0; xi < A2; xi++) body.push(fb.storeV({ local: d, offset: xi * positionBytes + offset }, fb.getV(us[xi])));
    return body;
  };
  const full = Math.floor(outC / nr);
  const rest = outC % nr;
  const panel: Expr[] = [];
  for (let v = 0; v < nr / 4; v++) panel.push(...vector(16 * v, 4));
  panel.push(...fb.bump(s, nr * 4), ...fb.bump(d, inC * nr * 4));
  return [
    fb.forRange(inC, (ci) => {
      const body: Expr[] = [
        fb.set(s, mm.i32.add(mm.i32.mul(fb.get(ci), fb.i32(outC * 4)), fb.i32(t.w))),
        fb.set(d, mm.i32.add(mm.i32.mul(fb.get(ci), fb.i32(nr * 4)), fb.i32(t.dst))),
        fb.repeat(full, panel),
      ];
      if (rest > 0) {
        // The tail panel's rows are round4(rest) wide: d re-aimed at this input channel's row of it (s is already there).
        body.push(fb.set(d, mm.i32.add(mm.i32.mul(fb.get(ci), fb.i32(round4(rest) * 4)), fb.i32(t.dst + full * inC * nr * 4))));
        for (let v = 0; v * 4 < rest; v++) body.push(...vector(16 * v, Math.min(4, rest - 4 * v)));
      }
      return body;
    }),
  ];
}
