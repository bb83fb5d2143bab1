/**
 * GEMM (MatMul, transpose_a / transpose_b): C[m×n] = op(A)·op(B), then the fused epilogue.
 * B is read as panels of `nr` columns (k rows of nr floats; the last panel is as wide as the
 * column tail rounded up to 4, zero-padded): packed once at compile time when B is constant
 * (`packPanels`), else by the kernel itself into its scratch on every call. A is read in place
 * (row-major or transposed) through load32_splat at immediate offsets.
 *
 *   order "panel" (B larger than TILE_ORDER_LIMIT):
 *     for each panel (nr columns of C):        the panel stays in L1 for the whole column
 *       for each block of mr rows:             the micro-kernel (micro-kernel.ts)
 *       the row tail (m mod mr rows)
 *     the column tail panel, the same way
 *   order "tile": the same loops swapped, rows outermost (A is streamed once)
 */
import { InternalError } from "../../ir/diagnostics";
import type { Expr } from "./binaryen";
import { checkEpilogue, type EpilogueStep } from "./epilogue";
import type { FunctionBuilder } from "./function-builder";
import { Accumulators, accumulate, storeTile, type SubStep } from "./micro-kernel";

export interface TileOptions {
  /** Rows of the register tile (default 4). */
  mr?: number;
  /** Columns of the register tile, a multiple of 4 (default 8). */
  nr?: number;
  /** Unrolling of the k loop (default 1). */
  unroll?: number;
}

export interface GemmKernel {
  kind: "gemm";
  /** The op the kernel computes (its node name), for errors. */
  op: string;
  m: number;
  n: number;
  k: number;
  transposeA: boolean;
  transposeB: boolean;
  /** Byte offsets of A, B and C in the linear memory. */
  a: number;
  b: number;
  c: number;
  /** B is already in panel layout (packPanels with the same nr): a constant weight. */
  bPacked?: boolean;
  /** Byte offset of the scratch for packing B at run time (gemmScratchBytes bytes). */
  scratch?: number;
  epilogue?: readonly EpilogueStep[];
  tile?: TileOptions;
  /** Loop order: "tile" (rows outermost: B stays in cache, A is read once) or "panel" (B panels outermost); default by B's size. */
  order?: "tile" | "panel";
}

/** Up to this many bytes of packed B, rows go outermost. */
const TILE_ORDER_LIMIT = 256 * 1024;

/** 4×8 with no unrolling measured fastest on V8 (x64): unrolled steps raise register pressure past 16 xmm. */
export const DEFAULT_TILE = { mr: 4, nr: 8, unroll: 1 } as const;

export function tileOf(options: TileOptions | undefined, node = ""): Required<TileOptions> {
  const t = { ...DEFAULT_TILE, ...options };
  if (t.nr % 4 !== 0 || t.nr < 4 || t.mr < 1 || t.unroll < 1)
    throw new InternalError({ code: "wasm-bad-tile", node, message: "a register tile needs mr ≥ 1, nr a positive multiple of 4 and unroll ≥ 1", received: JSON.stringify(t) });
  return t;
}

const round4 = (x: number) => Math.ceil(x / 4) * 4;

/** Floats of B in panel layout. */
export function packedFloats(k: number, n: number, nr: number): number {
  return k * (Math.floor(n / nr) * nr + round4(n % nr));
}

/** B (k×n, or n×k when transposed) in the panel layout the GEMM micro-kernel reads. */
export function packPanels(b: ArrayLike<number>, k: number, n: number, transposed: boolean, nr: number = DEFAULT_TILE.nr): Float32Array {
  const out = new Float32Array(packedFloats(k, n, nr));
  for (let p0 = 0, base = 0; p0 < n; p0 += nr) {
    const width = Math.min(nr, n - p0);
    const stride = width === nr ? nr : round4(width);
    for (let kk = 0; kk < k; kk++)
      for (let j = 0; j < width; j++) out[base + kk * stride + j] = transposed ? b[(p0 + j) * k + kk] : b[kk * n + p0 + j];
    base += k * stride;
  }
  return out;
}

export function gemmScratchBytes(g: GemmKernel): number {
  return g.bPacked ? 0 : 4 * packedFloats(g.k, g.n, tileOf(g.tile).nr);
}

/** Run-time packing of B (k×n at byte offset `src`, or n×k when transposed) into `dst` (panel layout). */
export function emitPack(fb: FunctionBuilder, g: { b: number; k: number; n: number; transposeB: boolean }, nr: number, dst: number): Expr[] {
  const { k, n } = g;
  const full = Math.floor(n / nr);
  const rest = n % nr;
  const s = fb.i32Local();
  const d = fb.i32Local();
  const code: Expr[] = [];
  if (!g.transposeB) {
    // Row by row of B: full panels by vectors, the tail by lanes (zero-padded).
    code.push(
      fb.forRange(k, (kk) => {
        const body: Expr[] = [
          fb.set(s, fb.m.i32.add(fb.m.i32.mul(fb.get(kk), fb.i32(n * 4)), fb.i32(g.b))),
          fb.set(d, fb.m.i32.add(fb.m.i32.mul(fb.get(kk), fb.i32(nr * 4)), fb.i32(dst))),
        ];
        const copy: Expr[] = [];
        for (let v = 0; v < nr / 4; v++) copy.push(fb.storeV({ local: d, offset: 16 * v }, fb.loadV({ local: s, offset: 16 * v })));
        copy.push(...fb.bump(s, nr * 4), ...fb.bump(d, k * nr * 4));
        body.push(fb.repeat(full, copy));
        if (rest > 0) {
          // The tail panel's rows are round4(rest) wide: re-aim d at this row of it.
          body.push(fb.set(d, fb.m.i32.add(fb.m.i32.mul(fb.get(kk), fb.i32(round4(rest) * 4)), fb.i32(dst + full * k * nr * 4))));
          for (let v = 0; v * 4 < rest; v++) body.push(fb.storeV({ local: d, offset: 16 * v }, fb.loadLanes({ local: s, offset: 16 * v }, Math.min(4, rest - 4 * v))));
        }
        return body;
      }),
    );
    return code;
  }
  // Transposed B (n×k): each panel row gathers `width` floats k apart; a loop over the full panels.
  const [sp, dp] = [fb.i32Local(), fb.i32Local()];
  const panel = (width: number, stride: number): Expr[] => {
    const body: Expr[] = [];
    for (let j = 0; j < stride; j++)
      body.push(fb.storeF({ local: d, offset: 4 * j }, j < width ? fb.loadF({ local: s, offset: j * k * 4 }) : fb.f32(0)));
    body.push(...fb.bump(s, 4), ...fb.bump(d, stride * 4));
    return [fb.set(s, fb.get(sp)), fb.set(d, fb.get(dp)), fb.repeat(k, body)];
  };
  code.push(fb.set(sp, fb.i32(g.b)), fb.set(dp, fb.i32(dst)));
  code.push(fb.repeat(full, [...panel(nr, nr), ...fb.bump(sp, nr * k * 4), ...fb.bump(dp, k * nr * 4)]));
  if (rest > 0) code.push(...panel(rest, round4(rest)));
  return code;
}

export function emitGemm(fb: FunctionBuilder, g: GemmKernel): Expr[] {
  const { m: M, n: N, k: K } = g;
  const { mr: MR, nr: NR, unroll } = tileOf(g.tile, g.op);
  const epilogue = g.epilogue ?? [];
  checkEpilogue(g.epilogue ?? [], g.op);
  const code: Expr[] = [];
  // An empty inner dimension leaves the accumulators at 0: C = epilogue(0).
  if (M === 0 || N === 0) return code;
  const panels = g.bPacked ? g.b : g.scratch!;
  if (!g.bPacked && K > 0) code.push(...emitPack(fb, g, NR, panels));
  const pool = new Accumulators(fb);
  const [pa, ka, kb, panelStart, column, element, rowElement] = Array.from({ length: 7 }, () => fb.i32Local());
  const rowStep = g.transposeA ? 4 : K * 4;
  const kStep = g.transposeA ? M * 4 : 4;

  const tile = (mr: number, vectors: number, columns: number): Expr[] => {
    const width = vectors * 4;
    const sub = (j: number): SubStep => ({ a: j * kStep, b: j * width * 4 });
    const { code: acc, acc: locals } = accumulate(fb, pool, {
      mr,
      vectors,
      rows: Array.from({ length: mr }, (_, r) => ({ local: ka, offset: r * rowStep })),
      panel: kb,
      loops: [{ count: Math.floor(K / unroll), aAdvance: unroll * kStep, bAdvance: unroll * width * 4 }],
      subSteps: Array.from({ length: unroll }, (_, j) => sub(j)),
      tail: Array.from({ length: K % unroll }, (_, j) => sub(j)),
    });
    return [
      fb.set(ka, fb.get(pa)),
      fb.set(kb, fb.get(panelStart)),
      ...acc,
      fb.set(element, fb.m.i32.add(fb.get(rowElement), fb.get(column))),
      ...storeTile(fb, locals, epilogue, { out: { local: element, offset: g.c }, rowBytes: N * 4, columns, columnBytes: column, elementBytes: element }),
    ];
  };

  const full = Math.floor(N / NR);
  const rest = N % NR;
  // Expressions are tree nodes, used once each: these build fresh ones per use.
  const startRows = () => [fb.set(pa, fb.i32(g.a)), fb.set(rowElement, fb.i32(0))];
  const nextRows = () => [...fb.bump(pa, MR * rowStep), ...fb.bump(rowElement, MR * N * 4)];
  const startPanels = () => [fb.set(panelStart, fb.i32(panels)), fb.set(column, fb.i32(0))];
  const nextPanel = () => [...fb.bump(panelStart, K * NR * 4), ...fb.bump(column, NR * 4)];
  const order = g.order ?? (K * N * 4 <= TILE_ORDER_LIMIT ? "tile" : "panel");
  if (order === "tile") {
    /** Every panel for the rows at pa. */
    const across = (mr: number): Expr[] => [
      ...startPanels(),
      fb.repeat(full, [...tile(mr, NR / 4, NR), ...nextPanel()]),
      ...(rest > 0 ? tile(mr, Math.ceil(rest / 4), rest) : []),
    ];
    code.push(...startRows(), fb.repeat(Math.floor(M / MR), [...across(MR), ...nextRows()]));
    if (M % MR) code.push(...across(M % MR));
    return code;
  }
  /** All rows of the panel at panelStart: blocks of MR, then the row tail. */
  const down = (vectors: number, columns: number): Expr[] => [
    ...startRows(),
    fb.repeat(Math.floor(M / MR), [...tile(MR, vectors, columns), ...nextRows()]),
    ...(M % MR ? tile(M % MR, vectors, columns) : []),
  ];
  code.push(...startPanels(), fb.repeat(full, [...down(NR / 4, NR), ...nextPanel()]));
  if (rest > 0) code.push(...down(Math.ceil(rest / 4), rest));
  return code;
}
