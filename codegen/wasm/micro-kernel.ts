/**
 * The register-blocked f32x4 micro-kernel shared by GEMM and convolution: an mr × (4·vectors)
 * tile of C accumulated in v128 locals over a packed panel of B (rows of `4·vectors` floats).
 *
 *   for each step (a loop nest, its innermost body unrolled over `subSteps`, then a tail):
 *     b[v]   = v128.load(pb + bOffset + 16v)                  v < vectors
 *     a      = v128.load32_splat(row[r] + aOffset)             r < mr
 *     acc[r][v] += a * b[v]
 *
 * A's rows are addressed by (pointer local, immediate) pairs: one pointer with immediates
 * r·K·4 for a row-major GEMM operand, r·4 for a transposed one, one pointer per row for an
 * implicit-GEMM convolution (output pixels) whose sub-steps are the filter taps.
 * The store phase applies the epilogue and writes whole vectors, or lanes for a column tail.
 */
import type { Expr } from "./binaryen";
import { applyEpilogue, type EpilogueStep } from "./epilogue";
import type { Address, FunctionBuilder } from "./function-builder";
import { splatConst } from "./simd-ops";

export interface SubStep {
  /** Byte displacement added to every row address. */
  a: number;
  /** Byte displacement into the panel. */
  b: number;
}

/** One level of the loop nest over the reduction: pointers advance after each iteration (after the inner levels). */
export interface LoopLevel {
  count: number;
  /** Bytes every distinct row pointer advances per iteration. */
  aAdvance: number;
  /** Bytes the panel pointer advances per iteration. */
  bAdvance: number;
}

export interface TileShape {
  mr: number;
  vectors: number;
  /** Per row: pointer local and base immediate. */
  rows: readonly Address[];
  /** The panel pointer local (advanced by the loops). */
  panel: number;
  /** The loop nest, outermost first (GEMM: one level of k; conv: kh, kw, input channel). */
  loops: readonly LoopLevel[];
  /** Steps of the innermost body, unrolled. */
  subSteps: readonly SubStep[];
  /** Steps after the loops (a remainder), relative to the advanced pointers. */
  tail: readonly SubStep[];
}

/** Accumulator locals, reused by every tile of one function. */
export class Accumulators {
  private pool: number[][] = [];
  constructor(private fb: FunctionBuilder) {}
  get(mr: number, vectors: number): number[][] {
    for (let r = 0; r < mr; r++) {
      this.pool[r] ??= [];
      for (let v = 0; v < vectors; v++) this.pool[r][v] ??= this.fb.v128Local();
    }
    return this.pool.slice(0, mr).map((row) => row.slice(0, vectors));
  }
  private b: number[] = [];
  panel(vectors: number): number[] {
    for (let v = 0; v < vectors; v++) this.b[v] ??= this.fb.v128Local();
    return this.b.slice(0, vectors);
  }
  private a?: number;
  splat(): number {
    this.a ??= this.fb.v128Local();
    return this.a;
  }
}

function step(fb: FunctionBuilder, t: TileShape, acc: number[][], bl: number[], al: number, s: SubStep): Expr[] {
  const m = fb.m;
  const out: Expr[] = [];
  for (let v = 0; v < t.vectors; v++) out.push(fb.set(bl[v], fb.loadV({ local: t.panel, offset: s.b + 16 * v })));
  for (let r = 0; r < t.mr; r++) {
    const row = t.rows[r];
    out.push(fb.set(al, fb.splatF({ local: row.local, offset: row.offset + s.a })));
    for (let v = 0; v < t.vectors; v++)
      out.push(fb.set(acc[r][v], m.f32x4.add(fb.getV(acc[r][v]), m.f32x4.mul(fb.getV(al), fb.getV(bl[v])))));
  }
  return out;
}

/** Statements computing the tile into accumulators (zeroed first, or loaded by `init`). */
export function accumulate(fb: FunctionBuilder, pool: Accumulators, t: TileShape, init?: (r: number, v: number) => Expr): { code: Expr[]; acc: number[][] } {
  const acc = pool.get(t.mr, t.vectors);
  const bl = pool.panel(t.vectors);
  const al = pool.splat();
  const code: Expr[] = [];
  for (let r = 0; r < t.mr; r++) for (let v = 0; v < t.vectors; v++) code.push(fb.set(acc[r][v], init ? init(r, v) : splatConst(fb, 0)));
  const pointers = [...new Set(t.rows.map((r) => r.local))];
  const nest = (level: number): Expr[] => {
    if (level === t.loops.length) return t.subSteps.flatMap((s) => step(fb, t, acc, bl, al, s));
    const l = t.loops[level];
    const body = [...nest(level + 1), ...pointers.flatMap((p) => fb.bump(p, l.aAdvance)), ...fb.bump(t.panel, l.bAdvance)];
    return [fb.repeat(l.count, body)];
  };
  if (t.loops.every((l) => l.count > 0) && t.subSteps.length > 0) code.push(...nest(0));
  for (const s of t.tail) code.push(...step(fb, t, acc, bl, al, s));
  return { code, acc };
}

export interface StoreSite {
  /** Output pointer local; row r, vector v stored at (local, base + r·rowBytes + 16v). */
  out: Address;
  rowBytes: number;
  /** Valid columns of the tile (≤ 4·vectors): the last vector stores lanes only. */
  columns: number;
  /** Local holding the tile's first column in bytes (for channel operands). */
  columnBytes: number;
  /** Local holding the output element offset in bytes of the tile's (row 0, column 0) (for tensor operands). */
  elementBytes: number;
}

/** Epilogue and stores of a computed tile. */
export function storeTile(fb: FunctionBuilder, acc: number[][], steps: readonly EpilogueStep[], site: StoreSite): Expr[] {
  const code: Expr[] = [];
  acc.forEach((row, r) =>
    row.forEach((local, v) => {
      const lanes = Math.min(4, site.columns - 4 * v);
      if (lanes <= 0) return;
      code.push(
        ...applyEpilogue(fb, steps, local, {
          channel: (offset) => ({ local: site.columnBytes, offset: offset + 16 * v }),
          tensor: (offset) => ({ local: site.elementBytes, offset: offset + r * site.rowBytes + 16 * v }),
        }),
      );
      code.push(...fb.storeLanes({ local: site.out.local, offset: site.out.offset + r * site.rowBytes + 16 * v }, local, lanes));
    }),
  );
  return code;
}
