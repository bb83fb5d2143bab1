/**
 * MaxPoolGrad and AvgPoolGrad (NHWC), SIMD over channels, as the reference kernels compute
 * them (ir/ops/pool.ts poolLoop): dx is zeroed, then every output pixel adds into the cells of
 * its window (clipped to the input), output pixels in order.
 *
 *   MaxPoolGrad: the window's argmax is recomputed from the forward input, per lane: the first
 *     cell in scan order wins (`x > best`, so a NaN first cell keeps the argmax), and the
 *     gradient is added there — lane by lane, since lanes may point at different cells.
 *   AvgPoolGrad: share = dy / count in f64, dx = f32(dx + share), as the reference's JS numbers.
 */
import type { Geometry } from "../../ir/ops/pool";
import type { Expr } from "./binaryen";
import { demoteHalves, promoteHalf } from "./f64-lanes";
import type { FunctionBuilder } from "./function-builder";
import { clippedWindow } from "./window";

export interface PoolGradKernel {
  kind: "pool-grad";
  op: string;
  type: "MaxPoolGrad" | "AvgPoolGrad";
  /** The forward op's NHWC window geometry (input = dx's shape, output = dy's). */
  geometry: Geometry;
  channels: number;
  /** Byte offsets: the forward input (read by MaxPoolGrad only), the incoming gradient, dx. */
  x: number;
  dy: number;
  dx: number;
  scratch?: number;
}

/** Channel vectors handled per pass over a window. */
const BLOCK = 4;

export function emitPoolGrad(fb: FunctionBuilder, p: PoolGradKernel): Expr[] {
  const g = p.geometry;
  const C = p.channels;
  const m = fb.m;
  const i32 = m.i32;
  const max = p.type === "MaxPoolGrad";
  const pixel = C * 4;
  const inBytes = g.batch * g.inH * g.inW * pixel;
  if (inBytes === 0) return [];
  const code: Expr[] = [m.memory.fill(fb.i32(p.dx), fb.i32(0), fb.i32(inBytes))];
  if (g.outH * g.outW === 0) return code;
  const [n, oh, ow, h0, h1, w0, w1, t, rowPtr, px, yp, count, first] = Array.from({ length: 13 }, () => fb.i32Local());
  const a = Array.from({ length: BLOCK }, () => fb.v128Local());
  const b = Array.from({ length: BLOCK }, () => fb.v128Local());
  const [xv, mask, cell, divisor] = [fb.v128Local(), fb.v128Local(), fb.v128Local(), fb.v128Local()];
  const lanesOf = (v: number) => Math.min(4, C - 4 * v);
  /** Every cell of the window: `perCell` with px at the cell (bytes from the tensor's start). */
  const cells = (perCell: Expr[]): Expr =>
    fb.forDynamic(i32.sub(fb.get(h1), fb.get(h0)), (ih) => [
      fb.set(px, i32.add(fb.get(rowPtr), i32.mul(i32.add(fb.get(h0), fb.get(ih)), fb.i32(g.inW * pixel)))),
      fb.set(px, i32.add(fb.get(px), i32.mul(fb.get(w0), fb.i32(pixel)))),
      fb.forDynamic(i32.sub(fb.get(w1), fb.get(w0)), () => [...perCell, ...fb.bump(px, pixel)]),
    ]);

  /** MaxPoolGrad over vectors v0 .. v0 + k: a = best values, b = the argmax cells (byte offsets, splatted). */
  const maxBlock = (v0: number, k: number): Expr[] => {
    const vs = Array.from({ length: k }, (_, j) => v0 + j);
    const init = vs.flatMap((v, j) => [fb.set(a[j], fb.loadV({ local: first, offset: p.x + 16 * v })), fb.set(b[j], m.i32x4.splat(fb.get(first)))]);
    const scan = [
      fb.set(cell, m.i32x4.splat(fb.get(px))),
      ...vs.flatMap((v, j) => [
        fb.set(xv, fb.loadV({ local: px, offset: p.x + 16 * v })),
        fb.set(mask, m.f32x4.gt(fb.getV(xv), fb.getV(a[j]))),
        fb.set(a[j], m.v128.bitselect(fb.getV(xv), fb.getV(a[j]), fb.getV(mask))),
        fb.set(b[j], m.v128.bitselect(fb.getV(cell), fb.getV(b[j]), fb.getV(mask))),
      ]),
    ];
    const scatter = vs.flatMap((v, j) =>
      Array.from({ length: lanesOf(v) }, (_, l) => {
        const at = fb.i32Local();
        const offset = p.dx + 16 * v + 4 * l;
        return fb.block([
          fb.set(at, m.i32x4.extract_lane(fb.getV(b[j]), l)),
          m.f32.store(offset, 4, fb.get(at), m.f32.add(m.f32.load(offset, 4, fb.get(at)), m.f32.load(p.dy + 16 * v + 4 * l, 4, fb.get(yp)))),
        ]);
      }),
    );
    return [...init, cells(scan), m.if(i32.gt_s(fb.get(count), fb.i32(0)), fb.block(scatter))];
  };

  /** AvgPoolGrad over vectors v0 .. v0 + k: a / b = the f64 shares of lanes 0–1 / 2–3. */
  const avgBlock = (v0: number, k: number): Expr[] => {
    const vs = Array.from({ length: k }, (_, j) => v0 + j);
    const shares = vs.flatMap((v, j) => [
      fb.set(xv, fb.loadV({ local: yp, offset: p.dy + 16 * v })),
      fb.set(a[j], m.f64x2.div(promoteHalf(fb, xv, 0), fb.getV(divisor))),
      fb.set(b[j], m.f64x2.div(promoteHalf(fb, xv, 1), fb.getV(divisor))),
    ]);
    const add = vs.flatMap((v, j) => [
      fb.set(xv, fb.loadV({ local: px, offset: p.dx + 16 * v })),
      fb.set(xv, demoteHalves(fb, m.f64x2.add(promoteHalf(fb, xv, 0), fb.getV(a[j])), m.f64x2.add(promoteHalf(fb, xv, 1), fb.getV(b[j])))),
      ...fb.storeLanes({ local: px, offset: p.dx + 16 * v }, xv, lanesOf(v)),
    ]);
    return [...shares, cells(add)];
  };

  const vectors = Math.ceil(C / 4);
  const perPixel: Expr[] = [];
  for (let v0 = 0; v0 < vectors; v0 += BLOCK) perPixel.push(...(max ? maxBlock : avgBlock)(v0, Math.min(BLOCK, vectors - v0)));
  const body = fb.forRange(g.batch, (nn) => [
    fb.set(n, fb.get(nn)),
    fb.set(rowPtr, i32.mul(fb.get(n), fb.i32(g.inH * g.inW * pixel))),
    fb.forRange(g.outH, (ohh) => [
      fb.set(oh, fb.get(ohh)),
      fb.set(t, i32.sub(i32.mul(fb.get(oh), fb.i32(g.sH)), fb.i32(g.padTop))),
      ...clippedWindow(fb, t, g.kH, g.inH, h0, h1),
      fb.forRange(g.outW, (oww) => [
        fb.set(ow, fb.get(oww)),
        fb.set(t, i32.sub(i32.mul(fb.get(ow), fb.i32(g.sW)), fb.i32(g.padLeft))),
        ...clippedWindow(fb, t, g.kW, g.inW, w0, w1),
        fb.set(count, i32.mul(i32.sub(fb.get(h1), fb.get(h0)), i32.sub(fb.get(w1), fb.get(w0)))),
        ...(max
          ? [fb.set(first, i32.add(fb.get(rowPtr), i32.mul(i32.add(i32.mul(fb.get(h0), fb.i32(g.inW)), fb.get(w0)), fb.i32(pixel))))]
          : [fb.set(divisor, m.f64x2.splat(m.f64.convert_s.i32(fb.get(count))))]),
        fb.set(yp, i32.mul(i32.add(i32.mul(i32.add(i32.mul(fb.get(n), fb.i32(g.outH)), fb.get(oh)), fb.i32(g.outW)), fb.get(ow)), fb.i32(pixel))),
        ...perPixel,
      ]),
    ]),
  ]);
  code.push(body);
  return code;
}
