/**
 * Window geometry for the wasm conv, depthwise and pooling kernels (NHWC), from the op
 * family's own TF SAME / VALID arithmetic (ir/ops/pool.ts), and the zero-padded copy of an
 * input that lets the convolutions read every tap without bounds checks: the copy is
 * padTop + inH + padBottom rows of padLeft + inW + padRight pixels, just large enough for the
 * last window.
 */
import { elementStrides, windowedOutput, type Geometry, type Padding } from "../../ir/ops/pool";
import { binaryen, type Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";

/** Geometry of a window over an NHWC input `x` (shape [n, h, w, c]). */
export function nhwcGeometry(x: readonly number[], kH: number, kW: number, strides: readonly [number, number], dilations: readonly [number, number], padding: Padding, node = ""): Geometry {
  const [n, h, w, c] = x;
  const [sH, sW] = strides;
  const [dH, dW] = dilations;
  const rows = windowedOutput(h, kH, sH, dH, padding, node);
  const cols = windowedOutput(w, kW, sW, dW, padding, node);
  const y = [n, rows.out!, cols.out!, c];
  return {
    batch: n, inH: h, inW: w, outH: rows.out!, outW: cols.out!, kH, kW, sH, sW, dH, dW,
    padTop: rows.padBefore, padLeft: cols.padBefore, x: elementStrides(x, "NHWC"), y: elementStrides(y, "NHWC"),
  };
}

export interface Padded {
  /** Rows and columns of the (possibly) padded input. */
  hp: number;
  wp: number;
  /** Whether a padded copy is needed at all. */
  padded: boolean;
}

export function paddedExtent(g: Geometry): Padded {
  const needH = g.outH === 0 ? 0 : (g.outH - 1) * g.sH + (g.kH - 1) * g.dH + 1;
  const needW = g.outW === 0 ? 0 : (g.outW - 1) * g.sW + (g.kW - 1) * g.dW + 1;
  const hp = Math.max(g.padTop + g.inH, needH);
  const wp = Math.max(g.padLeft + g.inW, needW);
  return { hp, wp, padded: g.padTop > 0 || g.padLeft > 0 || hp > g.inH || wp > g.inW };
}

export function paddedBytes(g: Geometry, channels: number): number {
  const p = paddedExtent(g);
  return p.padded ? g.batch * p.hp * p.wp * channels * 4 : 0;
}

/** Zero-fills `dst` and copies the input rows into it at (padTop, padLeft). */
export function emitPadCopy(fb: FunctionBuilder, g: Geometry, channels: number, src: number, dst: number): Expr[] {
  const { hp, wp } = paddedExtent(g);
  const m = fb.m;
  const s = fb.i32Local();
  const d = fb.i32Local();
  const rowBytes = g.inW * channels * 4;
  const code: Expr[] = [m.memory.fill(fb.i32(dst), fb.i32(0), fb.i32(g.batch * hp * wp * channels * 4))];
  if (rowBytes === 0 || g.inH === 0) return code;
  code.push(fb.set(s, fb.i32(src)), fb.set(d, fb.i32(dst + (g.padTop * wp + g.padLeft) * channels * 4)));
  const row = [m.memory.copy(fb.get(d), fb.get(s), fb.i32(rowBytes)), ...fb.bump(s, rowBytes), ...fb.bump(d, wp * channels * 4)];
  code.push(fb.repeat(g.batch, [fb.repeat(g.inH, row), ...fb.bump(d, (hp - g.inH) * wp * channels * 4)]));
  return code;
}

/**
 * The part of a pooling window inside the input along one axis: `lo` and `hi` set to the window
 * start (the i32 local `start`, which may lie in the padding) and start + `size`, each clamped
 * to 0..`extent`.
 */
export function clippedWindow(fb: FunctionBuilder, start: number, size: number, extent: number, lo: number, hi: number): Expr[] {
  const m = fb.m;
  const i32 = m.i32;
  const clamp = (v: Expr) => {
    const s = fb.i32Local();
    return m.block(null, [fb.set(s, v), m.select(i32.lt_s(fb.get(s), fb.i32(0)), fb.i32(0), m.select(i32.gt_s(fb.get(s), fb.i32(extent)), fb.i32(extent), fb.get(s)))], binaryen.i32);
  };
  return [fb.set(lo, clamp(fb.get(start))), fb.set(hi, clamp(i32.add(fb.get(start), fb.i32(size))))];
}
