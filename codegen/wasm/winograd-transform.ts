/**
 * The Winograd minimal-filtering transforms F(m×m, 3×3) (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2015): a tile of (m+2)×(m+2) input pixels d and a 3×3 filter g
 * give an m×m tile of the correlation as
 *
 *   Y = Aᵀ [ (G g Gᵀ) ⊙ (Bᵀ d B) ] A
 *
 * with α = m + 2 products per dimension instead of 3m. F(2×2, 3×3) (points 0, ±1, ∞) has
 * coefficients 0, ±1 and ½: its rounding error is about half the direct sum's (shorter sums).
 * F(4×4, 3×3) (points 0, ±1, 2, −½, ∞) has coefficients up to 8 and 16/15, and errs 2.5–4×
 * more than the direct sum.
 *
 * Here: the matrices, the filter transform (at compile time, in float64, then packed as the
 * GEMM micro-kernel's panels, one K = in × N = out matrix per position ξ of the α×α domain),
 * and the emitter of a small constant matrix applied to v128 locals (adds, subtracts, and
 * multiplies by a splatted constant only where the coefficient is not ±1).
 */
import type { Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";
import { packedFloats, packPanels, DEFAULT_TILE } from "./gemm";
import { splatConst } from "./simd-ops";

export type WinogradM = 2 | 4;

export interface WinogradMatrices {
  m: WinogradM;
  /** α = m + 2. */
  alpha: number;
  /** Bᵀ: α × α (input transform). */
  BT: number[][];
  /** G: α × 3 (filter transform). */
  G: number[][];
  /** Aᵀ: m × α (output transform). */
  AT: number[][];
}

const F2: WinogradMatrices = {
  m: 2,
  alpha: 4,
  BT: [
    [1, 0, -1, 0],
    [0, 1, 1, 0],
    [0, -1, 1, 0],
    [0, 1, 0, -1],
  ],
  G: [
    [1, 0, 0],
    [0.5, 0.5, 0.5],
    [0.5, -0.5, 0.5],
    [0, 0, 1],
  ],
  AT: [
    [1, 1, 1, 0],
    [0, 1, -1, -1],
  ],
};

/**
 * F(4×4, 3×3) at the points 0, 1, −1, 2, −½ (and ∞): Lavin's 0, ±1, ±2 loses about twice as
 * much to rounding (measured on random layers; the ±½ / ∓2 pairing is the one Barabasz et al.
 * recommend). The rows are Toom-Cook's (Bᵀ row j: the coefficients of Π_{l≠j} (x − a_l)).
 */
const F4: WinogradMatrices = {
  m: 4,
  alpha: 6,
  BT: [
    [1, 1.5, -2, -1.5, 1, 0],
    [0, -1, -2.5, -0.5, 1, 0],
    [0, 1, 0.5, -2.5, 1, 0],
    [0, -0.5, -1, 0.5, 1, 0],
    [0, 2, -1, -2, 1, 0],
    [0, 1, 1.5, -2, -1.5, 1],
  ],
  G: [
    [1, 0, 0],
    [-1 / 3, -1 / 3, -1 / 3],
    [1 / 3, -1 / 3, 1 / 3],
    [1 / 15, 2 / 15, 4 / 15],
    [-16 / 15, 8 / 15, -4 / 15],
    [0, 0, 1],
  ],
  AT: [
    [1, 1, 1, 1, 1, 0],
    [0, 1, -1, 2, -0.5, 0],
    [0, 1, 1, 4, 0.25, 0],
    [0, 1, -1, 8, -0.125, 1],
  ],
};

export function winogradMatrices(m: WinogradM): WinogradMatrices {
  return m === 2 ? F2 : F4;
}

/** Floats of one position's packed [in × out] matrix. */
export function winogradPositionFloats(inC: number, outC: number, nr: number = DEFAULT_TILE.nr): number {
  return packedFloats(inC, outC, nr);
}

/**
 * A 3×3 filter [3, 3, in, out] transformed (G g Gᵀ for each in/out pair) into α² matrices
 * [in × out], each packed in the GEMM's panel layout, one after the other.
 */
export function packWinogradFilter(w: ArrayLike<number>, inC: number, outC: number, m: WinogradM, nr: number = DEFAULT_TILE.nr): Float32Array {
  const { alpha, G } = winogradMatrices(m);
  const positions = alpha * alpha;
  const transformed = Array.from({ length: positions }, () => new Float64Array(inC * outC));
  const g = [0, 0, 0, 0, 0, 0, 0, 0, 0];
  const t = new Float64Array(alpha * 3);
  for (let ci = 0; ci < inC; ci++)
    for (let co = 0; co < outC; co++) {
      for (let k = 0; k < 9; k++) g[k] = w[(k * inC + ci) * outC + co];
      // t = G g (α × 3), then G g Gᵀ (α × α).
      for (let i = 0; i < alpha; i++)
        for (let j = 0; j < 3; j++) t[i * 3 + j] = G[i][0] * g[j] + G[i][1] * g[3 + j] + G[i][2] * g[6 + j];
      for (let i = 0; i < alpha; i++)
        for (let j = 0; j < alpha; j++) transformed[i * alpha + j][ci * outC + co] = t[i * 3] * G[j][0] + t[i * 3 + 1] * G[j][1] + t[i * 3 + 2] * G[j][2];
    }
  const each = winogradPositionFloats(inC, outC, nr);
  const out = new Float32Array(positions * each);
  transformed.forEach((matrix, xi) => out.set(packPanels(matrix, inC, outC, false, nr), xi * each));
  return out;
}

/** Σ coefficients[k]·terms[k] over v128 locals: ±1 as add / sub, zeros skipped. */
export function combine(fb: FunctionBuilder, coefficients: readonly number[], terms: readonly number[]): Expr {
  const f = fb.m.f32x4;
  let sum: Expr | null = null;
  let negated = false;
  coefficients.forEach((c, k) => {
    if (c === 0) return;
    const x = fb.getV(terms[k]);
    const magnitude = Math.abs(c);
    const term = magnitude === 1 ? x : f.mul(x, splatConst(fb, magnitude));
    if (sum === null) {
      sum = term;
      negated = c < 0;
    } else if (c < 0 !== negated) sum = f.sub(sum, term);
    else sum = f.add(sum, term);
  });
  if (sum === null) return splatConst(fb, 0);
  return negated ? f.neg(sum) : sum;
}

/**
 * M · X · Mᵀ for X an n×n grid of v128 locals (row-major) and M a rows×n constant matrix:
 * statements that set `out` (rows × rows locals, row-major), through `mid` (rows × n locals).
 */
export function sandwich(fb: FunctionBuilder, M: readonly (readonly number[])[], x: readonly number[], mid: readonly number[], out: readonly number[]): Expr[] {
  const rows = M.length;
  const n = M[0].length;
  const code: Expr[] = [];
  // mid = M · X: mid[i][j] = Σ_k M[i][k] X[k][j]
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < n; j++)
      code.push(fb.set(mid[i * n + j], combine(fb, M[i], Array.from({ length: n }, (_, k) => x[k * n + j]))));
  // out = mid · Mᵀ: out[i][j] = Σ_k mid[i][k] M[j][k]
  for (let i = 0; i < rows; i++)
    for (let j = 0; j < rows; j++)
      code.push(fb.set(out[i * rows + j], combine(fb, M[j], Array.from({ length: n }, (_, k) => mid[i * n + k]))));
  return code;
}
