/**
 * Conv2D 3×3, stride 1, dilation 1 (NHWC) by Winograd's F(m×m, 3×3) (winograd-transform.ts):
 * the output is cut into m×m tiles, each read as an α×α input tile (α = m + 2) of the
 * zero-padded input. The work goes in blocks of `R` rows of tiles (their transformed data sized
 * to stay in L2):
 *
 *   1. input transform   U[ξ][t][c] = (Bᵀ d_t B)[ξ] for every tile t of the block, four
 *                        channels per v128 (α² loads at immediates, adds, α² stores)
 *   2. α² GEMMs          M[ξ] (T × out) = U[ξ] (T × in) · V[ξ] (in × out), V the filter
 *                        transformed and packed at compile time (packWinogradFilter) when it
 *                        is a constant, else by the kernel before its first block
 *                        (winograd-filter.ts: a variable's filter in training); the
 *                        register-blocked micro-kernel of micro-kernel.ts, rows = tiles
 *   3. output transform  Y_t = Aᵀ M_t A, then the fused epilogue, stored where inside the output
 *
 * The GEMMs do 2.25× (m = 2) or 4× (m = 4) fewer multiply-adds than the direct convolution;
 * the transforms are O(channels) per tile. U and M rows are padded to a multiple of 4 channels
 * (the loads take whole vectors; the stores to the output take only the valid lanes).
 */
import { InternalError } from "../../ir/diagnostics";
import type { Expr } from "./binaryen";
import { checkEpilogue, applyEpilogue } from "./epilogue";
import type { ConvKernel } from "./conv";
import type { FunctionBuilder } from "./function-builder";
import { tileOf } from "./gemm";
import { Accumulators, accumulate, storeTile } from "./micro-kernel";
import { emitPadCopy, paddedBytes, paddedExtent } from "./window";
import { emitFilterTransform } from "./winograd-filter";
import { sandwich, winogradMatrices, winogradPositionFloats, type WinogradM } from "./winograd-transform";

export interface WinogradOptions {
  m: WinogradM;
  /** Rows of tiles per block (default: as many as keep the block's U and M under BLOCK_BYTES). */
  blockRows?: number;
  /** Unrolling of the GEMMs' k loop (default 1). */
  unroll?: number;
}

/** Bytes of U and M per block: about half of a 1 MB L2. */
const BLOCK_BYTES = 384 * 1024;

const align16 = (x: number) => Math.ceil(x / 16) * 16;
const round4 = (x: number) => Math.ceil(x / 4) * 4;
/**
 * Bytes between positions ξ of U or M: an odd number of 64-byte lines, so that the α² loads or
 * stores of one tile fall in different L1 sets (a multiple of 4 KiB would put them all in one).
 */
const positionStride = (bytes: number) => (Math.ceil(bytes / 64) | 1) * 64;

/** Whether the kernel's shape is one Winograd F(m×m, 3×3) computes. */
export function winogradApplies(c: Pick<ConvKernel, "geometry">): boolean {
  const g = c.geometry;
  return g.kH === 3 && g.kW === 3 && g.sH === 1 && g.sW === 1 && g.dH === 1 && g.dW === 1;
}

interface Layout {
  m: number;
  alpha: number;
  tilesH: number;
  tilesW: number;
  /** Rows of tiles in all (batch · tilesH) and per block. */
  tileRows: number;
  blockRows: number;
  /** Tiles per full block. */
  T: number;
  /** Bytes between the positions of U and of M. */
  uStride: number;
  mStride: number;
  inP: number;
  outP: number;
  /** The geometry whose padded extent covers every tile's α×α window. */
  padGeometry: ConvKernel["geometry"];
  padBytes: number;
  uBytes: number;
  mBytes: number;
  /** Bytes of the filter transformed at run time (0 for a constant filter, packed at compile time). */
  filterBytes: number;
}

function layout(c: ConvKernel, w: WinogradOptions): Layout {
  const g = c.geometry;
  const m = w.m;
  const alpha = m + 2;
  const tilesH = Math.ceil(g.outH / m);
  const tilesW = Math.ceil(g.outW / m);
  const tileRows = g.batch * tilesH;
  const inP = round4(c.inC);
  const outP = round4(c.outC);
  const perRow = alpha * alpha * tilesW * (inP + outP) * 4;
  for (const [name, value] of [["blockRows", w.blockRows], ["unroll", w.unroll]] as const)
    if (value !== undefined && !(Number.isInteger(value) && value >= 1))
      throw new InternalError({ code: "wasm-winograd", node: c.op, message: `Winograd ${name} must be a positive integer`, received: String(value) });
  const blockRows = Math.max(1, Math.min(tileRows, w.blockRows ?? Math.floor(BLOCK_BYTES / Math.max(perRow, 1))));
  const T = blockRows * tilesW;
  const padGeometry = { ...g, outH: tilesH * m, outW: tilesW * m };
  const uStride = positionStride(T * inP * 4);
  const mStride = positionStride(T * outP * 4);
  return {
    m, alpha, tilesH, tilesW, tileRows, blockRows, T, uStride, mStride, inP, outP, padGeometry,
    padBytes: align16(paddedBytes(padGeometry, c.inC)),
    uBytes: alpha * alpha * uStride,
    mBytes: alpha * alpha * mStride,
    filterBytes: c.wPacked ? 0 : 4 * winogradFilterFloats(c.inC, c.outC, w.m, tileOf(c.tile, c.op).nr),
  };
}

export function winogradScratchBytes(c: ConvKernel, w: WinogradOptions): number {
  const l = layout(c, w);
  return l.padBytes + l.uBytes + l.mBytes + l.filterBytes;
}

/** Floats of the transformed, packed filter the kernel reads (packWinogradFilter). */
export function winogradFilterFloats(inC: number, outC: number, m: WinogradM, nr?: number): number {
  const alpha = m + 2;
  return alpha * alpha * winogradPositionFloats(inC, outC, nr);
}

export function emitWinograd(fb: FunctionBuilder, c: ConvKernel, w: WinogradOptions): Expr[] {
  const g = c.geometry;
  if (!winogradApplies(c))
    throw new InternalError({ code: "wasm-winograd", node: c.op, message: "Winograd F(m×m, 3×3) needs a 3×3, stride-1, undilated conv", received: JSON.stringify({ kH: g.kH, kW: g.kW, sH: g.sH, sW: g.sW, dH: g.dH, dW: g.dW }) });
  checkEpilogue(c.epilogue ?? [], c.op);
  const code: Expr[] = [];
  const M = g.batch * g.outH * g.outW;
  if (M === 0 || c.outC === 0) return code;
  const L = layout(c, w);
  const { m, alpha, tilesH, tilesW, uStride, mStride, inP, outP } = L;
  const A2 = alpha * alpha;
  const { BT, AT } = winogradMatrices(w.m);
  const { mr: MR, nr: NR } = tileOf(c.tile, c.op);
  const inC = c.inC;
  const outC = c.outC;
  const mm = fb.m;

  const { hp, wp, padded } = paddedExtent(L.padGeometry);
  const src = padded ? c.scratch! : c.x;
  if (padded) code.push(...emitPadCopy(fb, L.padGeometry, inC, c.x, src));
  const U = c.scratch! + L.padBytes;
  const Mo = U + L.uBytes;
  const positionBytes = winogradPositionFloats(inC, outC, NR) * 4;
  // A filter that is not a constant ([3, 3, in, out] at c.w): transformed and packed here, each step.
  const filter = c.wPacked ? c.w : Mo + L.mBytes;
  if (!c.wPacked) code.push(...emitFilterTransform(fb, { w: c.w, inC, outC, m: w.m, nr: NR, positionBytes, dst: filter }));

  const [tr, n, th, p, q, p2, q2, col, elem] = Array.from({ length: 9 }, () => fb.i32Local());
  const xs = Array.from({ length: A2 }, () => fb.v128Local());
  const mid = Array.from({ length: A2 }, () => fb.v128Local());
  const us = Array.from({ length: A2 }, () => fb.v128Local());
  const ys = Array.from({ length: m * m }, () => fb.v128Local());

  /** n, th of tile row `tr`. */
  const tileRow = (): Expr[] => [
    fb.set(n, mm.i32.div_u(fb.get(tr), fb.i32(tilesH))),
    fb.set(th, mm.i32.sub(fb.get(tr), mm.i32.mul(fb.get(n), fb.i32(tilesH)))),
  ];

  // ---- 1. input transform of `rows` tile rows from tile row `tr` into U ----
  const inputTransform = (rows: number): Expr[] => {
    const pixel = inC * 4;
    const channelVector: Expr[] = [];
    for (let i = 0; i < alpha; i++)
      for (let j = 0; j < alpha; j++) channelVector.push(fb.set(xs[i * alpha + j], fb.loadV({ local: p2, offset: (i * wp + j) * pixel })));
    channelVector.push(...sandwich(fb, BT, xs, mid, us));
    for (let k = 0; k < A2; k++) channelVector.push(fb.storeV({ local: q2, offset: k * uStride }, fb.getV(us[k])));
    channelVector.push(...fb.bump(p2, 16), ...fb.bump(q2, 16));
    const tile = [fb.set(p2, fb.get(p)), fb.set(q2, fb.get(q)), fb.repeat(inP / 4, channelVector), ...fb.bump(p, m * pixel), ...fb.bump(q, inP * 4)];
    const row = [
      ...tileRow(),
      fb.set(p, mm.i32.add(fb.i32(src), mm.i32.mul(mm.i32.add(mm.i32.mul(fb.get(n), fb.i32(hp)), mm.i32.mul(fb.get(th), fb.i32(m))), fb.i32(wp * pixel)))),
      fb.repeat(tilesW, tile),
      ...fb.bump(tr, 1),
    ];
    return [fb.set(q, fb.i32(U)), fb.repeat(rows, row)];
  };

  // ---- 2. the α² GEMMs over `tiles` rows ----
  const pool = new Accumulators(fb);
  const [xa, xb, xc, pa, ka, kb, panelStart, column, rowOut, element] = Array.from({ length: 10 }, () => fb.i32Local());
  const unroll = w.unroll ?? 1;
  const gemms = (tiles: number): Expr[] => {
    const tile = (mr: number, vectors: number, columns: number): Expr[] => {
      const { code: acc, acc: locals } = accumulate(fb, pool, {
        mr,
        vectors,
        rows: Array.from({ length: mr }, (_, r) => ({ local: ka, offset: r * inP * 4 })),
        panel: kb,
        loops: [{ count: Math.floor(inC / unroll), aAdvance: 4 * unroll, bAdvance: unroll * vectors * 16 }],
        subSteps: Array.from({ length: unroll }, (_, j) => ({ a: 4 * j, b: j * vectors * 16 })),
        tail: Array.from({ length: inC % unroll }, (_, j) => ({ a: 4 * j, b: j * vectors * 16 })),
      });
      return [
        fb.set(ka, fb.get(pa)),
        fb.set(kb, fb.get(panelStart)),
        ...acc,
        fb.set(element, mm.i32.add(fb.get(rowOut), fb.get(column))),
        ...storeTile(fb, locals, [], { out: { local: element, offset: 0 }, rowBytes: outP * 4, columns, columnBytes: column, elementBytes: element }),
      ];
    };
    const full = Math.floor(outC / NR);
    const rest = outC % NR;
    const across = (mr: number): Expr[] => [
      fb.set(panelStart, fb.get(xb)),
      fb.set(column, fb.i32(0)),
      fb.repeat(full, [...tile(mr, NR / 4, NR), ...fb.bump(panelStart, inC * NR * 4), ...fb.bump(column, NR * 4)]),
      ...(rest > 0 ? tile(mr, Math.ceil(rest / 4), rest) : []),
    ];
    const position = [
      fb.set(pa, fb.get(xa)),
      fb.set(rowOut, fb.get(xc)),
      fb.repeat(Math.floor(tiles / MR), [...across(MR), ...fb.bump(pa, MR * inP * 4), ...fb.bump(rowOut, MR * outP * 4)]),
      ...(tiles % MR ? across(tiles % MR) : []),
      ...fb.bump(xa, uStride),
      ...fb.bump(xb, positionBytes),
      ...fb.bump(xc, mStride),
    ];
    return [fb.set(xa, fb.i32(U)), fb.set(xb, fb.i32(filter)), fb.set(xc, fb.i32(Mo)), fb.repeat(A2, position)];
  };

  // ---- 3. output transform + epilogue of `rows` tile rows from tile row `tr` ----
  const epilogue = c.epilogue ?? [];
  const outPixel = outC * 4;
  /** One tile's m×m outputs, `vr` rows and `vc` columns of them inside the output. */
  const outputTile = (vr: number, vc: number): Expr[] => {
    const vector = (lanes: number): Expr[] => {
      const body: Expr[] = [];
      for (let k = 0; k < A2; k++) body.push(fb.set(xs[k], fb.loadV({ local: q2, offset: k * mStride })));
      body.push(...sandwich(fb, AT, xs, mid, ys));
      for (let i = 0; i < vr; i++)
        for (let j = 0; j < vc; j++) {
          const v = ys[i * m + j];
          const at = (i * g.outW + j) * outPixel;
          body.push(...applyEpilogue(fb, epilogue, v, { channel: (offset) => ({ local: col, offset }), tensor: (offset) => ({ local: elem, offset: offset + at }) }));
          body.push(...fb.storeLanes({ local: elem, offset: c.y + at }, v, lanes));
        }
      return body;
    };
    const step = [...fb.bump(q2, 16), ...fb.bump(col, 16), ...fb.bump(elem, 16)];
    return [
      fb.set(q2, fb.get(q)),
      fb.set(col, fb.i32(0)),
      fb.set(p2, fb.get(elem)),
      fb.repeat(Math.floor(outC / 4), [...vector(4), ...step]),
      ...(outC % 4 ? vector(outC % 4) : []),
      fb.set(elem, fb.get(p2)),
    ];
  };
  const outputRow = (vr: number): Expr[] => [
    fb.repeat(Math.floor(g.outW / m), [...outputTile(vr, m), ...fb.bump(elem, m * outPixel), ...fb.bump(q, outP * 4)]),
    ...(g.outW % m ? [...outputTile(vr, g.outW % m), ...fb.bump(q, outP * 4)] : []),
  ];
  const outputTransform = (rows: number): Expr[] => {
    const lastRows = g.outH % m;
    const body =
      lastRows === 0
        ? outputRow(m)
        : [mm.if(mm.i32.eq(fb.get(th), fb.i32(tilesH - 1)), fb.block(outputRow(lastRows)), fb.block(outputRow(m)))];
    const row = [
      ...tileRow(),
      fb.set(elem, mm.i32.mul(mm.i32.add(mm.i32.mul(fb.get(n), fb.i32(g.outH)), mm.i32.mul(fb.get(th), fb.i32(m))), fb.i32(g.outW * outPixel))),
      ...body,
      ...fb.bump(tr, 1),
    ];
    return [fb.set(q, fb.i32(Mo)), fb.repeat(rows, row)];
  };

  const start = fb.i32Local();
  const block = (rows: number): Expr[] => [
    fb.set(tr, fb.get(start)),
    ...inputTransform(rows),
    ...gemms(rows * tilesW),
    fb.set(tr, fb.get(start)),
    ...outputTransform(rows),
    ...fb.bump(start, rows),
  ];
  code.push(fb.set(start, fb.i32(0)));
  code.push(fb.repeat(Math.floor(L.tileRows / L.blockRows), block(L.blockRows)));
  if (L.tileRows % L.blockRows) code.push(...block(L.tileRows % L.blockRows));
  return code;
}
