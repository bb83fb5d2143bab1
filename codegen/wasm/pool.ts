/**
 * MaxPool and AvgPool (NHWC), SIMD over channels. Windows are clipped to the input as in the
 * reference kernels: max pooling never sees the padded cells, average pooling divides by the
 * number of cells inside the input. Max keeps `best < x ? x : best` (pmax), so NaNs behave as
 * in the reference's `x > best` scan, starting from the window's first cell.
 */
import type { Geometry } from "../../ir/ops/pool";
import type { Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";
import { clippedWindow } from "./window";
import { splatConst } from "./simd-ops";

export interface PoolKernel {
  kind: "pool";
  op: string;
  type: "MaxPool" | "AvgPool";
  geometry: Geometry;
  channels: number;
  x: number;
  y: number;
  scratch?: number;
}

const BLOCK = 4;

export function emitPool(fb: FunctionBuilder, p: PoolKernel): Expr[] {
  const g = p.geometry;
  const C = p.channels;
  const m = fb.m;
  const i32 = m.i32;
  const max = p.type === "MaxPool";
  if (g.batch * g.outH * g.outW * C === 0) return [];
  const pixel = C * 4;
  const [n, oh, ow, h0, h1, w0, w1, t, rowPtr, px, yp, count] = Array.from({ length: 12 }, () => fb.i32Local());
  const acc = Array.from({ length: BLOCK }, () => fb.v128Local());
  const scale = fb.v128Local();

  const block = (v0: number, count_: number): Expr[] => {
    const first = fb.i32Local();
    const init = acc.slice(0, count_).map((a, v) =>
      fb.set(a, max ? fb.loadV({ local: first, offset: 16 * (v0 + v) }) : splatConst(fb, 0)),
    );
    const combine = acc.slice(0, count_).map((a, v) => {
      const x = fb.loadV({ local: px, offset: 16 * (v0 + v) });
      return fb.set(a, max ? m.f32x4.pmax(fb.getV(a), x) : m.f32x4.add(fb.getV(a), x));
    });
    const loops = fb.forDynamic(i32.sub(fb.get(h1), fb.get(h0)), (ih) => [
      fb.set(px, i32.add(fb.get(rowPtr), i32.mul(i32.add(fb.get(h0), fb.get(ih)), fb.i32(g.inW * pixel)))),
      fb.set(px, i32.add(fb.get(px), i32.mul(fb.get(w0), fb.i32(pixel)))),
      fb.forDynamic(i32.sub(fb.get(w1), fb.get(w0)), () => [...combine, ...fb.bump(px, pixel)]),
    ]);
    const stores = acc.slice(0, count_).flatMap((a, v) => [
      ...(max ? [] : [fb.set(a, m.f32x4.div(fb.getV(a), fb.getV(scale)))]),
      ...fb.storeLanes({ local: yp, offset: p.y + 16 * (v0 + v) }, a, Math.min(4, C - 4 * (v0 + v))),
    ]);
    const firstCell = fb.set(first, i32.add(fb.get(rowPtr), i32.mul(i32.add(i32.mul(fb.get(h0), fb.i32(g.inW)), fb.get(w0)), fb.i32(pixel))));
    return [firstCell, ...init, loops, ...stores];
  };

  const vectors = Math.ceil(C / 4);
  const perPixel: Expr[] = [];
  for (let v0 = 0; v0 < vectors; v0 += BLOCK) perPixel.push(...block(v0, Math.min(BLOCK, vectors - v0)));
  const body = fb.forRange(g.batch, (nn) => [
    fb.set(n, fb.get(nn)),
    fb.set(rowPtr, i32.add(fb.i32(p.x), i32.mul(fb.get(n), fb.i32(g.inH * g.inW * pixel)))),
    fb.forRange(g.outH, (ohh) => [
      fb.set(oh, fb.get(ohh)),
      fb.set(t, i32.sub(i32.mul(fb.get(oh), fb.i32(g.sH)), fb.i32(g.padTop))),
      ...clippedWindow(fb, t, g.kH, g.inH, h0, h1),
      fb.forRange(g.outW, (oww) => [
        fb.set(ow, fb.get(oww)),
        fb.set(t, i32.sub(i32.mul(fb.get(ow), fb.i32(g.sW)), fb.i32(g.padLeft))),
        ...clippedWindow(fb, t, g.kW, g.inW, w0, w1),
        fb.set(count, i32.mul(i32.sub(fb.get(h1), fb.get(h0)), i32.sub(fb.get(w1), fb.get(w0)))),
        ...(max ? [] : [fb.set(scale, m.f32x4.splat(m.f32.convert_s.i32(fb.get(count))))]),
        fb.set(yp, i32.mul(i32.add(i32.mul(i32.add(i32.mul(fb.get(n), fb.i32(g.outH)), fb.get(oh)), fb.i32(g.outW)), fb.get(ow)), fb.i32(C * 4))),
        ...perPixel,
      ]),
    ]),
  ]);
  return [body];
}
