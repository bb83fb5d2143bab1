/**
 * Conv2DBackpropInput (NHWC): dx[n, ih, iw, ci] = Σ over taps and co of dy[n, oh, ow, co]·w[kh, kw, ci, co]
 * where ih = oh·sH − padTop + kh·dH (and the same for columns).
 *
 *   stride 1 (any dilation): a Conv2D over dy (conv.ts, the implicit GEMM) with the filter
 *     flipped in both spatial axes and its channel axes swapped — w'[kh', kw', co, ci] =
 *     w[kH−1−kh', kW−1−kw', ci, co] — and padding (kH−1)·dH − padTop before (after: as much as
 *     the last window needs). The kernel writes w' into its scratch on every call (the filter is
 *     a variable while training), and conv.ts packs it — or, for a 3×3 undilated filter where
 *     the kernel carries `winograd` (chosen by planConvFilter on the transposed conv with a
 *     "variable" filter), winograd.ts runs that conv and transforms w' at run time
 *     (winograd-filter.ts reads it from the scratch the flip wrote).
 *   stride > 1: the GEMM cols = dy[M × co] · wᵀ (gemm.ts, M = n·outH·outW, K = kh·kw·ci rows of
 *     the filter as B transposed), then col2im: every column block is added into its window of a
 *     zero-padded dx (no bounds checks), whose interior is then copied out.
 */
import type { Geometry } from "../../ir/ops/pool";
import type { Expr } from "./binaryen";
import { convScratchBytes, emitConv, type ConvKernel } from "./conv";
import type { FunctionBuilder } from "./function-builder";
import { emitGemm, gemmScratchBytes, type GemmKernel } from "./gemm";
import { paddedBytes, paddedExtent } from "./window";
import type { WinogradOptions } from "./winograd";

export interface ConvBackpropInputKernel {
  kind: "conv2d-backprop-input";
  op: string;
  /** The forward Conv2D's NHWC geometry: its input has dx's shape, its output dy's. */
  geometry: Geometry;
  /** The filter's in (dx's channels) and out (dy's channels) dimensions. */
  inC: number;
  outC: number;
  /** Byte offsets of the filter [kh, kw, in, out], dy and dx. */
  w: number;
  dy: number;
  dx: number;
  scratch?: number;
  /** Stride 1, 3×3, undilated: the transposed conv as Winograd (its filter transformed at run time). */
  winograd?: WinogradOptions;
}

const align16 = (x: number) => Math.ceil(x / 16) * 16;

/** The stride-1 form: the flipped filter's conv (its offsets relative to the flipped filter at 0, scratch after it). */
function transposedConv(k: ConvBackpropInputKernel, flipped: number, scratch: number): ConvKernel {
  const g = k.geometry;
  const geometry: Geometry = {
    batch: g.batch, inH: g.outH, inW: g.outW, outH: g.inH, outW: g.inW, kH: g.kH, kW: g.kW, sH: 1, sW: 1, dH: g.dH, dW: g.dW,
    padTop: (g.kH - 1) * g.dH - g.padTop, padLeft: (g.kW - 1) * g.dW - g.padLeft, x: g.y, y: g.x,
  };
  return { kind: "conv2d", op: k.op, geometry, inC: k.outC, outC: k.inC, x: k.dy, w: flipped, y: k.dx, scratch, winograd: k.winograd };
}

/** The stride > 1 form's GEMM (cols at `cols`, its packing scratch after). */
function colsGemm(k: ConvBackpropInputKernel, cols: number, scratch: number): GemmKernel {
  const g = k.geometry;
  const M = g.batch * g.outH * g.outW;
  return { kind: "gemm", op: k.op, m: M, n: g.kH * g.kW * k.inC, k: k.outC, transposeA: false, transposeB: true, a: k.dy, b: k.w, c: cols, scratch };
}

const strided = (g: Geometry) => g.sH !== 1 || g.sW !== 1;
const filterBytes = (k: ConvBackpropInputKernel) => align16(k.geometry.kH * k.geometry.kW * k.inC * k.outC * 4);
const colsBytes = (k: ConvBackpropInputKernel) => align16(k.geometry.batch * k.geometry.outH * k.geometry.outW * k.geometry.kH * k.geometry.kW * k.inC * 4);

export function convBackpropInputScratchBytes(k: ConvBackpropInputKernel): number {
  if (!strided(k.geometry)) return filterBytes(k) + convScratchBytes(transposedConv(k, 0, 0));
  return colsBytes(k) + align16(gemmScratchBytes(colsGemm(k, 0, 0))) + paddedBytes(k.geometry, k.inC);
}

/** w'[t', co, ci] = w[taps − 1 − t', ci, co] (row-major), t' = kh'·kW + kw'. */
function emitFlip(fb: FunctionBuilder, k: ConvBackpropInputKernel, dst: number): Expr[] {
  const taps = k.geometry.kH * k.geometry.kW;
  const [CI, CO] = [k.inC, k.outC];
  const [s, sc, d] = [fb.i32Local(), fb.i32Local(), fb.i32Local()];
  const row: Expr[] = [];
  for (let ci = 0; ci < CI; ci++) row.push(fb.storeF({ local: d, offset: 4 * ci }, fb.loadF({ local: sc, offset: ci * CO * 4 })));
  return [
    fb.set(s, fb.i32(k.w + (taps - 1) * CI * CO * 4)),
    fb.set(d, fb.i32(dst)),
    fb.repeat(taps, [fb.set(sc, fb.get(s)), fb.repeat(CO, [...row, ...fb.bump(d, CI * 4), ...fb.bump(sc, 4)]), ...fb.bump(s, -CI * CO * 4)]),
  ];
}

/** dst[0 .. channels) += src[0 .. channels) at two pointer locals, SIMD with a lane tail. */
function addRow(fb: FunctionBuilder, channels: number, dst: number, src: number): Expr[] {
  const m = fb.m;
  const v = fb.v128Local();
  const add = (offset: number, lanes: number): Expr[] => [
    fb.set(v, m.f32x4.add(fb.loadLanes({ local: dst, offset }, lanes), fb.loadLanes({ local: src, offset }, lanes))),
    ...fb.storeLanes({ local: dst, offset }, v, lanes),
  ];
  const full = Math.floor(channels / 4);
  const rest = channels % 4;
  if (full <= 16) {
    const code: Expr[] = [];
    for (let i = 0; i < full; i++) code.push(...add(16 * i, 4));
    if (rest) code.push(...add(16 * full, rest));
    return code;
  }
  // A run-time loop over the vectors: local copies of the pointers advance.
  const [dp, sp] = [fb.i32Local(), fb.i32Local()];
  const vec = (lanes: number): Expr[] => [
    fb.set(v, m.f32x4.add(fb.loadLanes({ local: dp, offset: 0 }, lanes), fb.loadLanes({ local: sp, offset: 0 }, lanes))),
    ...fb.storeLanes({ local: dp, offset: 0 }, v, lanes),
  ];
  return [fb.set(dp, fb.get(dst)), fb.set(sp, fb.get(src)), fb.repeat(full, [...vec(4), ...fb.bump(dp, 16), ...fb.bump(sp, 16)]), ...(rest ? vec(rest) : [])];
}

/** col2im: the GEMM's rows (one per output pixel, K = taps·ci wide) added into their windows of `target` (padded extent). */
function emitCol2Im(fb: FunctionBuilder, k: ConvBackpropInputKernel, cols: number, target: number): Expr[] {
  const g = k.geometry;
  const { hp, wp } = paddedExtent(g);
  const pix = k.inC * 4;
  const [pb, tp, cp] = [fb.i32Local(), fb.i32Local(), fb.i32Local()];
  const taps = [
    fb.set(tp, fb.get(pb)),
    fb.repeat(g.kH, [fb.repeat(g.kW, [...addRow(fb, k.inC, tp, cp), ...fb.bump(cp, pix), ...fb.bump(tp, g.dW * pix)]), ...fb.bump(tp, (g.dH * wp - g.kW * g.dW) * pix)]),
  ];
  return [
    fb.m.memory.fill(fb.i32(target), fb.i32(0), fb.i32(g.batch * hp * wp * pix)),
    fb.set(pb, fb.i32(target)),
    fb.set(cp, fb.i32(cols)),
    fb.repeat(g.batch, [
      fb.repeat(g.outH, [fb.repeat(g.outW, [...taps, ...fb.bump(pb, g.sW * pix)]), ...fb.bump(pb, (g.sH * wp - g.outW * g.sW) * pix)]),
      ...fb.bump(pb, (hp - g.outH * g.sH) * wp * pix),
    ]),
  ];
}

/** Copies the interior of the padded `src` (rows at padTop, columns at padLeft) into dx. */
function emitUnpad(fb: FunctionBuilder, k: ConvBackpropInputKernel, src: number): Expr[] {
  const g = k.geometry;
  const { hp, wp } = paddedExtent(g);
  const pix = k.inC * 4;
  const [s, d] = [fb.i32Local(), fb.i32Local()];
  const row = [fb.m.memory.copy(fb.get(d), fb.get(s), fb.i32(g.inW * pix)), ...fb.bump(s, wp * pix), ...fb.bump(d, g.inW * pix)];
  return [
    fb.set(s, fb.i32(src + (g.padTop * wp + g.padLeft) * pix)),
    fb.set(d, fb.i32(k.dx)),
    fb.repeat(g.batch, [fb.repeat(g.inH, row), ...fb.bump(s, (hp - g.inH) * wp * pix)]),
  ];
}

export function emitConvBackpropInput(fb: FunctionBuilder, k: ConvBackpropInputKernel): Expr[] {
  const g = k.geometry;
  const dxBytes = g.batch * g.inH * g.inW * k.inC * 4;
  if (dxBytes === 0) return [];
  const s = k.scratch ?? 0;
  if (!strided(g)) {
    const flipped = s;
    return [...emitFlip(fb, k, flipped), ...emitConv(fb, transposedConv(k, flipped, s + filterBytes(k)))];
  }
  const M = g.batch * g.outH * g.outW;
  if (M === 0 || k.outC === 0) return [fb.m.memory.fill(fb.i32(k.dx), fb.i32(0), fb.i32(dxBytes))];
  const gemm = colsGemm(k, s, s + colsBytes(k));
  const padded = paddedExtent(g).padded;
  const target = padded ? s + colsBytes(k) + align16(gemmScratchBytes(gemm)) : k.dx;
  return [...emitGemm(fb, gemm), ...emitCol2Im(fb, k, s, target), ...(padded ? emitUnpad(fb, k, target) : [])];
}
