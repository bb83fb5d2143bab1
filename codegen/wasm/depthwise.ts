/**
 * DepthwiseConv2dNative (NHWC), SIMD over output channels: output channel o = c·M + m reads
 * input channel c = floor(o / M) with filter [kh, kw, C, M] seen as [kh, kw, C·M]. For each
 * output pixel, blocks of up to 4 vectors (16 output channels) accumulate over the taps; the
 * input vector of a block is one v128 load at its first input channel, shuffled so that lane l
 * holds channel floor((o0 + l) / M) (no shuffle when M is 1). The input is read from a
 * zero-padded copy when the padding is not empty. The epilogue is fused into the store.
 */
import type { Geometry } from "../../ir/ops/pool";
import type { Expr } from "./binaryen";
import { applyEpilogue, checkEpilogue, type EpilogueStep } from "./epilogue";
import type { FunctionBuilder } from "./function-builder";
import { splatConst } from "./simd-ops";
import { emitPadCopy, paddedBytes, paddedExtent } from "./window";

export interface DepthwiseKernel {
  kind: "depthwise";
  op: string;
  geometry: Geometry;
  channels: number;
  multiplier: number;
  x: number;
  w: number;
  y: number;
  scratch?: number;
  epilogue?: readonly EpilogueStep[];
}

/** Output vectors per block: 4 accumulators, their input and filter vectors stay in registers. */
const BLOCK = 4;

export function depthwiseScratchBytes(d: DepthwiseKernel): number {
  return paddedBytes(d.geometry, d.channels);
}

/** i8x16.shuffle mask putting source lane `lanes[l]` in lane l. */
function laneMask(lanes: readonly number[]): number[] {
  return lanes.flatMap((s) => [4 * s, 4 * s + 1, 4 * s + 2, 4 * s + 3]);
}

export function emitDepthwise(fb: FunctionBuilder, d: DepthwiseKernel): Expr[] {
  const g = d.geometry;
  const C = d.channels;
  const M = d.multiplier;
  const OC = C * M;
  checkEpilogue(d.epilogue ?? [], d.op);
  const m = fb.m;
  const code: Expr[] = [];
  if (g.batch * g.outH * g.outW * OC === 0) return code;
  const { hp, wp, padded } = paddedExtent(g);
  const src = padded ? d.scratch! : d.x;
  if (padded) code.push(...emitPadCopy(fb, g, C, d.x, src));
  const pixel = C * 4;
  const [xn, xh, xw, px, pw, yrel, zero] = Array.from({ length: 7 }, () => fb.i32Local());
  const acc = Array.from({ length: BLOCK }, () => fb.v128Local());
  const xv = fb.v128Local();

  /** One block of output vectors [v0, v0 + count) for the pixel at xw / yrel. */
  const block = (v0: number, count: number): Expr[] => {
    const taps: Expr[] = [];
    for (let v = 0; v < count; v++) {
      const o0 = 4 * (v0 + v);
      const lanes = [0, 1, 2, 3].map((l) => Math.min(o0 + l, OC - 1));
      const c0 = Math.floor(lanes[0] / M);
      const shuffle = lanes.map((o) => Math.floor(o / M) - c0);
      const identity = shuffle.every((s, l) => s === l);
      const load = fb.loadV({ local: px, offset: c0 * 4 });
      taps.push(fb.set(xv, identity ? load : m.i8x16.shuffle(load, splatConst(fb, 0), laneMask(shuffle))));
      taps.push(fb.set(acc[v], m.f32x4.add(fb.getV(acc[v]), m.f32x4.mul(fb.getV(xv), fb.loadV({ local: pw, offset: o0 * 4 })))));
    }
    const body = [
      ...acc.slice(0, count).map((a) => fb.set(a, splatConst(fb, 0))),
      fb.set(px, fb.get(xw)),
      fb.set(pw, fb.i32(d.w)),
      fb.repeat(g.kH, [
        fb.repeat(g.kW, [...taps, ...fb.bump(px, g.dW * pixel), ...fb.bump(pw, OC * 4)]),
        ...fb.bump(px, (g.dH * wp - g.kW * g.dW) * pixel),
      ]),
    ];
    for (let v = 0; v < count; v++) {
      const o0 = 4 * (v0 + v);
      body.push(
        ...applyEpilogue(fb, d.epilogue ?? [], acc[v], {
          channel: (offset) => ({ local: zero, offset: offset + o0 * 4 }),
          tensor: (offset) => ({ local: yrel, offset: offset + o0 * 4 }),
        }),
        ...fb.storeLanes({ local: yrel, offset: d.y + o0 * 4 }, acc[v], Math.min(4, OC - o0)),
      );
    }
    return body;
  };

  const vectors = Math.ceil(OC / 4);
  const perPixel: Expr[] = [];
  for (let v0 = 0; v0 < vectors; v0 += BLOCK) perPixel.push(...block(v0, Math.min(BLOCK, vectors - v0)));
  code.push(
    fb.set(yrel, fb.i32(0)),
    fb.set(xn, fb.i32(src)),
    fb.repeat(g.batch, [
      fb.set(xh, fb.get(xn)),
      fb.repeat(g.outH, [
        fb.set(xw, fb.get(xh)),
        fb.repeat(g.outW, [...perPixel, ...fb.bump(xw, g.sW * pixel), ...fb.bump(yrel, OC * 4)]),
        ...fb.bump(xh, g.sH * wp * pixel),
      ]),
      ...fb.bump(xn, hp * wp * pixel),
    ]),
  );
  return code;
}
