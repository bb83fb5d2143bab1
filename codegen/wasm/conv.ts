/**
 * Conv2D (NHWC) as an implicit GEMM, with no im2col buffer: the output pixels are the rows
 * (M = batch·outH·outW), the output channels the columns (N = outC), and the filter
 * [kh, kw, in, out] is already the K×N matrix (K = kh·kw·in) that the GEMM micro-kernel reads
 * as packed panels (packed at compile time for a constant filter, else by the kernel). Each
 * tile row reads its own pixel's window straight from the input (a zero-padded copy when the
 * padding is not empty): the loop nest is kh, kw, input channel, and every displacement is a
 * compile-time constant. When outW is a multiple of the tile height, a tile's pixels share one
 * output row and one pointer (immediates sW·C·4 apart); otherwise each row has its pointer.
 *
 *   order "tile":  for each tile of mr pixels, for each panel   (the filter fits in cache)
 *   order "panel": for each panel, for each tile of mr pixels   (a large filter streams once)
 *
 * A 3×3 stride-1 conv may instead run as Winograd F(m×m, 3×3) (winograd.ts, `winograd` set;
 * a constant filter packed by packWinogradFilter, any other transformed by the kernel each
 * run): planConvFilter picks the algorithm by convCosts.
 */
import type { Geometry } from "../../ir/ops/pool";
import type { Expr } from "./binaryen";
import { checkEpilogue, type EpilogueStep } from "./epilogue";
import type { FunctionBuilder } from "./function-builder";
import { emitPack, packedFloats, packPanels, tileOf, type TileOptions } from "./gemm";
import { Accumulators, accumulate, storeTile } from "./micro-kernel";
import { emitPadCopy, paddedBytes, paddedExtent } from "./window";
import { emitWinograd, winogradApplies, winogradScratchBytes, type WinogradOptions } from "./winograd";
import { packWinogradFilter, type WinogradM } from "./winograd-transform";

export interface ConvKernel {
  kind: "conv2d";
  op: string;
  /** NHWC window geometry (window.ts nhwcGeometry). */
  geometry: Geometry;
  inC: number;
  outC: number;
  /** Byte offsets of the input, the filter and the output. */
  x: number;
  w: number;
  y: number;
  /** The filter is already packed (packFilter with the same tile nr): a constant. */
  wPacked?: boolean;
  scratch?: number;
  epilogue?: readonly EpilogueStep[];
  tile?: Omit<TileOptions, "unroll">;
  order?: "tile" | "panel";
  /**
   * Winograd F(m×m, 3×3) (winograd.ts): `w` is then the filter packed by packWinogradFilter
   * when `wPacked`, else the plain filter [3, 3, in, out] (transformed by the kernel).
   */
  winograd?: WinogradOptions;
}

const align16 = (x: number) => Math.ceil(x / 16) * 16;

/** A constant filter [kh, kw, in, out] in the layout the conv kernel reads. */
export function packFilter(w: ArrayLike<number>, kH: number, kW: number, inC: number, outC: number, nr?: number): Float32Array {
  return packPanels(w, kH * kW * inC, outC, false, nr);
}

/** How a conv with a constant filter runs: the algorithm, and its filter layout. */
export interface ConvFilterPlan {
  /** Names the layout (a constant packed two ways gets two regions). */
  key: string;
  winograd?: WinogradOptions;
  pack(w: ArrayLike<number>): Float32Array;
}

/**
 * The cost of Winograd's transforms (and of writing and reading the transformed tiles), in
 * multiply-adds of the GEMM micro-kernel per α² position and channel: fitted on V8 x64 to the
 * measured times of 3×3 layers from 1 to 64 channels (F(2×2) won on every layer of 3 or more
 * channels in and out, direct on 1 → 1).
 */
const TRANSFORM_COST = 4;

/**
 * The cost of transforming a filter that is not a constant at run time (winograd-filter.ts), in
 * multiply-adds per α² position and (in, out) pair: nine loads, G on both sides and α² stores
 * per four pairs. The direct kernel packs such a filter too: one copy per tap and pair.
 */
const FILTER_TRANSFORM_COST = 2;
const FILTER_PACK_COST = 1;

/**
 * Estimated multiply-adds of each algorithm for a conv of geometry `g`; Winograd only where it
 * applies. A "variable" filter adds its run-time packing (direct) or transform (Winograd).
 */
export function convCosts(g: Geometry, inC: number, outC: number, filter: "constant" | "variable" = "constant"): { direct: number; winograd2?: number; winograd4?: number } {
  const runtime = filter === "variable";
  const direct = g.batch * g.outH * g.outW * g.kH * g.kW * inC * outC + (runtime ? FILTER_PACK_COST * g.kH * g.kW * inC * outC : 0);
  if (!winogradApplies({ geometry: g })) return { direct };
  const cost = (m: number) =>
    g.batch * Math.ceil(g.outH / m) * Math.ceil(g.outW / m) * (m + 2) ** 2 * (inC * outC + TRANSFORM_COST * (inC + outC)) + (runtime ? FILTER_TRANSFORM_COST * (m + 2) ** 2 * inC * outC : 0);
  return { direct, winograd2: cost(2), winograd4: cost(4) };
}

/**
 * Winograd tile sizes a plan may pick. F(2×2, 3×3) rounds no worse than the direct sum (its
 * largest error from the exact result is about half the direct kernel's); F(4×4, 3×3) does
 * 44% fewer multiply-adds again but errs 2.5–4× more than the direct kernel (up to 4e-6 of the
 * output's scale at 256 input channels), so it is opt-in.
 */
export const DEFAULT_WINOGRAD_TILES: readonly WinogradM[] = [2];

/**
 * The cheapest algorithm for a filter [kH, kW, in, out] (convCosts), with its packing for a
 * constant one ("variable": the kernel packs or transforms the filter itself each run, and
 * `pack` is unused).
 */
export function planConvFilter(g: Geometry, inC: number, outC: number, tiles: readonly WinogradM[] = DEFAULT_WINOGRAD_TILES, filter: "constant" | "variable" = "constant"): ConvFilterPlan {
  const costs = convCosts(g, inC, outC, filter);
  let best: { m?: WinogradM; cost: number } = { cost: costs.direct };
  for (const m of tiles) {
    const cost = costs[`winograd${m}`];
    if (cost !== undefined && cost < best.cost) best = { m, cost };
  }
  const m = best.m;
  if (m === undefined) return { key: "direct", pack: (w) => packFilter(w, g.kH, g.kW, inC, outC) };
  return { key: `winograd${m}`, winograd: { m }, pack: (w) => packWinogradFilter(w, inC, outC, m) };
}

export function convScratchBytes(c: ConvKernel): number {
  if (c.winograd) return winogradScratchBytes(c, c.winograd);
  const pad = align16(paddedBytes(c.geometry, c.inC));
  const { nr } = tileOf(c.tile);
  return pad + (c.wPacked ? 0 : 4 * packedFloats(c.geometry.kH * c.geometry.kW * c.inC, c.outC, nr));
}

/** Below this many bytes of packed filter, tiles go outermost (the whole filter stays in cache). */
const TILE_ORDER_LIMIT = 256 * 1024;

export function emitConv(fb: FunctionBuilder, c: ConvKernel): Expr[] {
  if (c.winograd) return emitWinograd(fb, c, c.winograd);
  const g = c.geometry;
  const C = c.inC;
  const N = c.outC;
  const K = g.kH * g.kW * C;
  const M = g.batch * g.outH * g.outW;
  const { mr: MR, nr: NR } = tileOf(c.tile, c.op);
  checkEpilogue(c.epilogue ?? [], c.op);
  const m = fb.m;
  const code: Expr[] = [];
  if (M === 0 || N === 0) return code;
  const { hp, wp, padded } = paddedExtent(g);
  const padBytes = align16(paddedBytes(g, C));
  const src = padded ? c.scratch! : c.x;
  if (padded) code.push(...emitPadCopy(fb, g, C, c.x, src));
  const packed = c.wPacked ? c.w : c.scratch! + padBytes;
  if (!c.wPacked && K > 0) code.push(...emitPack(fb, { b: c.w, k: K, n: N, transposeB: false }, NR, packed));

  const pool = new Accumulators(fb);
  const single = g.outW % MR === 0;
  const pixelBytes = C * 4;
  const bases = Array.from({ length: single ? 1 : MR }, () => fb.i32Local());
  const work = bases.map(() => fb.i32Local());
  const [m0, rowElement, column, element, panelStart, kb, n, rem, oh, ow] = Array.from({ length: 10 }, () => fb.i32Local());
  const plane = g.outH * g.outW;

  /** base[r] = the input address of pixel m0 + r's window origin. */
  const rowPointers = (mr: number): Expr[] =>
    bases.slice(0, single ? 1 : mr).flatMap((base, r) => [
      fb.set(n, m.i32.div_u(m.i32.add(fb.get(m0), fb.i32(r)), fb.i32(plane))),
      fb.set(rem, m.i32.sub(m.i32.add(fb.get(m0), fb.i32(r)), m.i32.mul(fb.get(n), fb.i32(plane)))),
      fb.set(oh, m.i32.div_u(fb.get(rem), fb.i32(g.outW))),
      fb.set(ow, m.i32.sub(fb.get(rem), m.i32.mul(fb.get(oh), fb.i32(g.outW)))),
      fb.set(
        base,
        m.i32.add(
          fb.i32(src),
          m.i32.mul(
            m.i32.add(m.i32.mul(m.i32.add(m.i32.mul(fb.get(n), fb.i32(hp)), m.i32.mul(fb.get(oh), fb.i32(g.sH))), fb.i32(wp)), m.i32.mul(fb.get(ow), fb.i32(g.sW))),
            fb.i32(pixelBytes),
          ),
        ),
      ),
    ]);

  const tile = (mr: number, vectors: number, columns: number): Expr[] => {
    const width = vectors * 4;
    const rows = Array.from({ length: mr }, (_, r) => (single ? { local: work[0], offset: r * g.sW * pixelBytes } : { local: work[r], offset: 0 }));
    const { code: acc, acc: locals } = accumulate(fb, pool, {
      mr,
      vectors,
      rows,
      panel: kb,
      loops: [
        { count: g.kH, aAdvance: (g.dH * wp - g.kW * g.dW) * pixelBytes, bAdvance: 0 },
        { count: g.kW, aAdvance: (g.dW - 1) * pixelBytes, bAdvance: 0 },
        { count: C, aAdvance: 4, bAdvance: width * 4 },
      ],
      subSteps: [{ a: 0, b: 0 }],
      tail: [],
    });
    return [
      ...work.slice(0, single ? 1 : mr).map((w, r) => fb.set(w, fb.get(bases[r]))),
      fb.set(kb, fb.get(panelStart)),
      ...acc,
      fb.set(element, m.i32.add(fb.get(rowElement), fb.get(column))),
      ...storeTile(fb, locals, c.epilogue ?? [], { out: { local: element, offset: c.y }, rowBytes: N * 4, columns, columnBytes: column, elementBytes: element }),
    ];
  };

  const full = Math.floor(N / NR);
  const rest = N % NR;
  const panels = (mr: number): Expr[] => [
    fb.set(column, fb.i32(0)),
    fb.set(panelStart, fb.i32(packed)),
    fb.repeat(full, [...tile(mr, NR / 4, NR), ...fb.bump(column, NR * 4), ...fb.bump(panelStart, K * NR * 4)]),
    ...(rest > 0 ? tile(mr, Math.ceil(rest / 4), rest) : []),
  ];
  // Expressions are tree nodes, used once each: these build fresh ones per use.
  const startRows = () => [fb.set(m0, fb.i32(0)), fb.set(rowElement, fb.i32(0))];
  const nextRows = () => [...fb.bump(m0, MR), ...fb.bump(rowElement, MR * N * 4)];
  const order = c.order ?? (K * N * 4 <= TILE_ORDER_LIMIT ? "tile" : "panel");
  if (order === "tile") {
    code.push(...startRows(), fb.repeat(Math.floor(M / MR), [...rowPointers(MR), ...panels(MR), ...nextRows()]));
    if (M % MR) code.push(...rowPointers(M % MR), ...panels(M % MR));
    return code;
  }
  const allRows = (vectors: number, columns: number): Expr[] => [
    ...startRows(),
    fb.repeat(Math.floor(M / MR), [...rowPointers(MR), ...tile(MR, vectors, columns), ...nextRows()]),
    ...(M % MR ? [...rowPointers(M % MR), ...tile(M % MR, vectors, columns)] : []),
  ];
  code.push(fb.set(column, fb.i32(0)), fb.set(panelStart, fb.i32(packed)));
  code.push(fb.repeat(full, [...allRows(NR / 4, NR), ...fb.bump(column, NR * 4), ...fb.bump(panelStart, K * NR * 4)]));
  if (rest > 0) code.push(...allRows(Math.ceil(rest / 4), rest));
  return code;
}
