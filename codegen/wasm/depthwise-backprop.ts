/**
 * DepthwiseConv2dNativeBackpropInput and DepthwiseConv2dNativeBackpropFilter (NHWC, filter
 * [kh, kw, C, M], output channel o = c·M + m), SIMD over the C·M output channels, any strides,
 * dilations and SAME / VALID padding. Each dx / dw element sums its terms in the reference
 * kernel's order (output pixels in row-major order), in float32.
 *
 *   input:  a scatter: every dy pixel adds dy[o]·w[tap, o] into an expanded dx E[n, h, w, o] at
 *           each tap's position — E zero-padded so that no tap needs a bounds check; dx is then
 *           E's interior (M = 1: row copies, or E is dx itself when no padding is needed) or,
 *           for M > 1, Σ_m E[c·M + m].
 *   filter: per tap and block of up to 4 output vectors, accumulators in registers over all
 *           output pixels, reading a zero-padded copy of x when there is padding; lane l of an
 *           x vector holds channel floor((o0 + l) / M), shuffled from one load as in depthwise.ts.
 */
import type { Geometry } from "../../ir/ops/pool";
import type { Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";
import { splatConst } from "./simd-ops";
import { emitPadCopy, paddedBytes, paddedExtent } from "./window";

interface Common {
  op: string;
  /** The forward op's geometry: its input has x's (dx's) shape, its output dy's. */
  geometry: Geometry;
  channels: number;
  multiplier: number;
  dy: number;
  scratch?: number;
}

export interface DepthwiseBackpropInputKernel extends Common {
  kind: "depthwise-backprop-input";
  w: number;
  dx: number;
}

export interface DepthwiseBackpropFilterKernel extends Common {
  kind: "depthwise-backprop-filter";
  x: number;
  dw: number;
}

/** Whether the input backprop scatters straight into dx (no padding, multiplier 1). */
const direct = (k: DepthwiseBackpropInputKernel) => k.multiplier === 1 && !paddedExtent(k.geometry).padded;

export function depthwiseBackpropInputScratchBytes(k: DepthwiseBackpropInputKernel): number {
  if (direct(k)) return 0;
  const { hp, wp } = paddedExtent(k.geometry);
  return k.geometry.batch * hp * wp * k.channels * k.multiplier * 4;
}

export function depthwiseBackpropFilterScratchBytes(k: DepthwiseBackpropFilterKernel): number {
  return paddedBytes(k.geometry, k.channels);
}

/** Vectors over `oc` channels: [first channel, lanes]. */
const vectorsOf = (oc: number): [number, number][] => Array.from({ length: Math.ceil(oc / 4) }, (_, v) => [4 * v, Math.min(4, oc - 4 * v)]);

export function emitDepthwiseBackpropInput(fb: FunctionBuilder, k: DepthwiseBackpropInputKernel): Expr[] {
  const g = k.geometry;
  const [C, M] = [k.channels, k.multiplier];
  const OC = C * M;
  const m = fb.m;
  const f = m.f32x4;
  if (g.batch * g.inH * g.inW * C === 0) return [];
  const { hp, wp } = direct(k) ? { hp: g.inH, wp: g.inW } : paddedExtent(g);
  const E = direct(k) ? k.dx : k.scratch!;
  const pixel = OC * 4;
  const code: Expr[] = [m.memory.fill(fb.i32(E), fb.i32(0), fb.i32(g.batch * hp * wp * pixel))];
  const [en, eh, ew, et, eth, pdy, pw] = Array.from({ length: 7 }, () => fb.i32Local());
  const vectors = vectorsOf(OC);
  // dy's vectors stay in registers across the taps when there are few of them.
  const held = vectors.length <= 8 ? vectors.map(() => fb.v128Local()) : null;
  const t = fb.v128Local();
  const dyAt = (v: number): Expr => (held ? fb.getV(held[v]) : fb.loadLanes({ local: pdy, offset: vectors[v][0] * 4 }, vectors[v][1]));
  const tap: Expr[] = vectors.flatMap(([o0, lanes], v) => [
    fb.set(t, f.add(fb.loadLanes({ local: et, offset: o0 * 4 }, lanes), f.mul(dyAt(v), fb.loadLanes({ local: pw, offset: o0 * 4 }, lanes)))),
    ...fb.storeLanes({ local: et, offset: o0 * 4 }, t, lanes),
  ]);
  const perPixel: Expr[] = [
    ...(held ? vectors.map(([o0, lanes], v) => fb.set(held[v], fb.loadLanes({ local: pdy, offset: o0 * 4 }, lanes))) : []),
    fb.set(pw, fb.i32(k.w)),
    fb.set(eth, fb.get(ew)),
    fb.repeat(g.kH, [
      fb.set(et, fb.get(eth)),
      fb.repeat(g.kW, [...tap, ...fb.bump(et, g.dW * pixel), ...fb.bump(pw, pixel)]),
      ...fb.bump(eth, g.dH * wp * pixel),
    ]),
  ];
  code.push(
    fb.set(en, fb.i32(E)),
    fb.set(pdy, fb.i32(k.dy)),
    fb.repeat(g.batch, [
      fb.set(eh, fb.get(en)),
      fb.repeat(g.outH, [
        fb.set(ew, fb.get(eh)),
        fb.repeat(g.outW, [...perPixel, ...fb.bump(pdy, pixel), ...fb.bump(ew, g.sW * pixel)]),
        ...fb.bump(eh, g.sH * wp * pixel),
      ]),
      ...fb.bump(en, hp * wp * pixel),
    ]),
  );
  if (direct(k)) return code;
  // dx: E's interior, summed over the multiplier.
  const [src, dst] = [fb.i32Local(), fb.i32Local()];
  const start = E + (g.padTop * wp + g.padLeft) * pixel;
  let row: Expr[];
  if (M === 1) row = [m.memory.copy(fb.get(dst), fb.get(src), fb.i32(g.inW * C * 4)), ...fb.bump(dst, g.inW * C * 4), ...fb.bump(src, wp * pixel)];
  else {
    const sum = (c: number): Expr => {
      let s: Expr = fb.loadF({ local: src, offset: c * M * 4 });
      for (let j = 1; j < M; j++) s = m.f32.add(s, fb.loadF({ local: src, offset: (c * M + j) * 4 }));
      return s;
    };
    const channel = Array.from({ length: C }, (_, c) => fb.storeF({ local: dst, offset: c * 4 }, sum(c)));
    const [rowSrc] = [fb.i32Local()];
    row = [
      fb.set(rowSrc, fb.get(src)),
      fb.repeat(g.inW, [...channel, ...fb.bump(src, pixel), ...fb.bump(dst, C * 4)]),
      fb.set(src, m.i32.add(fb.get(rowSrc), fb.i32(wp * pixel))),
    ];
  }
  const image = fb.i32Local();
  code.push(
    fb.set(dst, fb.i32(k.dx)),
    fb.set(image, fb.i32(start)),
    fb.repeat(g.batch, [fb.set(src, fb.get(image)), fb.repeat(g.inH, row), ...fb.bump(image, hp * wp * pixel)]),
  );
  return code;
}

/** Accumulators per block of output vectors. */
const BLOCK = 4;

/** i8x16.shuffle mask putting source lane `lanes[l]` in lane l. */
const laneMask = (lanes: readonly number[]) => lanes.flatMap((s) => [4 * s, 4 * s + 1, 4 * s + 2, 4 * s + 3]);

export function emitDepthwiseBackpropFilter(fb: FunctionBuilder, k: DepthwiseBackpropFilterKernel): Expr[] {
  const g = k.geometry;
  const [C, M] = [k.channels, k.multiplier];
  const OC = C * M;
  const m = fb.m;
  const f = m.f32x4;
  const taps = g.kH * g.kW;
  if (taps * OC === 0) return [];
  const { hp, wp, padded } = paddedExtent(g);
  const code: Expr[] = [];
  const src = padded ? k.scratch! : k.x;
  if (padded && g.batch * g.outH * g.outW > 0) code.push(...emitPadCopy(fb, g, C, k.x, src));
  const pixel = C * 4;
  const [th, tw, pout, xn, xh, xw, pdy] = Array.from({ length: 7 }, () => fb.i32Local());
  const acc = Array.from({ length: BLOCK }, () => fb.v128Local());
  const vectors = vectorsOf(OC);

  /** Lane l of output vector at o0: x channel floor(min(o0 + l, OC − 1) / M), from one load. */
  const xVector = (o0: number): Expr => {
    const lanes = [0, 1, 2, 3].map((l) => Math.min(o0 + l, OC - 1));
    const c0 = Math.floor(lanes[0] / M);
    const shuffle = lanes.map((o) => Math.floor(o / M) - c0);
    const load = fb.loadLanes({ local: xw, offset: c0 * 4 }, Math.max(...shuffle) + 1);
    return shuffle.every((s, l) => s === l) ? load : m.i8x16.shuffle(load, splatConst(fb, 0), laneMask(shuffle));
  };
  const block = (first: number, count: number): Expr[] => {
    const body = vectors
      .slice(first, first + count)
      .map(([o0, lanes], j) => fb.set(acc[j], f.add(fb.getV(acc[j]), f.mul(xVector(o0), fb.loadLanes({ local: pdy, offset: o0 * 4 }, lanes)))));
    return [
      ...acc.slice(0, count).map((a) => fb.set(a, splatConst(fb, 0))),
      fb.set(xn, fb.get(tw)),
      fb.set(pdy, fb.i32(k.dy)),
      fb.repeat(g.batch, [
        fb.set(xh, fb.get(xn)),
        fb.repeat(g.outH, [
          fb.set(xw, fb.get(xh)),
          fb.repeat(g.outW, [...body, ...fb.bump(xw, g.sW * pixel), ...fb.bump(pdy, OC * 4)]),
          ...fb.bump(xh, g.sH * wp * pixel),
        ]),
        ...fb.bump(xn, hp * wp * pixel),
      ]),
      ...vectors.slice(first, first + count).flatMap(([o0, lanes], j) => fb.storeLanes({ local: pout, offset: o0 * 4 }, acc[j], lanes)),
    ];
  };
  const perTap: Expr[] = [];
  for (let v = 0; v < vectors.length; v += BLOCK) perTap.push(...block(v, Math.min(BLOCK, vectors.length - v)));
  code.push(
    fb.set(th, fb.i32(src)),
    fb.set(pout, fb.i32(k.dw)),
    fb.repeat(g.kH, [
      fb.set(tw, fb.get(th)),
      fb.repeat(g.kW, [...perTap, ...fb.bump(tw, g.dW * pixel), ...fb.bump(pout, OC * 4)]),
      ...fb.bump(th, g.dH * wp * pixel),
    ]),
  );
  return code;
}
