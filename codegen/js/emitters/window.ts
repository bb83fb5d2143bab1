/**
 * Window geometry for convolution and pooling emitters, computed once at compile time from
 * the concrete shapes with the op family's own helpers (TF's SAME / VALID arithmetic), and the
 * loop over output positions and in-bounds taps that both families share, with every size,
 * stride and padding inlined as a constant.
 */
import type { Attrs } from "../../../ir/registry";
import { axesOf, elementStrides, spatialAttr, windowedOutput, type DataFormat, type Geometry, type Padding } from "../../../ir/ops/pool";
import type { Names } from "../loops";

/** Geometry of a window op over input `x` with window kH×kW; null when `y` is not the output it implies. */
export function geometry(attrs: Attrs, type: string, node: string, x: number[], y: number[], kH: number, kW: number, dilated: boolean): Geometry | null {
  const format = attrs.data_format as DataFormat;
  const [sH, sW] = spatialAttr(attrs, "strides", type, node);
  const [dH, dW] = dilated ? spatialAttr(attrs, "dilations", type, node) : [1, 1];
  const [ni, hi, wi] = axesOf(format);
  const rows = windowedOutput(x[hi], kH, sH, dH, attrs.padding as Padding, node);
  const cols = windowedOutput(x[wi], kW, sW, dW, attrs.padding as Padding, node);
  if (y.length !== 4 || rows.out !== y[hi] || cols.out !== y[wi] || x[ni] !== y[ni]) return null;
  return {
    batch: x[ni], inH: x[hi], inW: x[wi], outH: y[hi], outW: y[wi], kH, kW, sH, sW, dH, dW,
    padTop: rows.padBefore, padLeft: cols.padBefore, x: elementStrides(x, format), y: elementStrides(y, format),
  };
}

export function channelsOf(shape: number[], attrs: Attrs): number {
  return shape[axesOf(attrs.data_format as DataFormat)[3]];
}

/**
 * for each output position: `perPosition(yb)` code, then for each in-bounds tap `tap(xb, wb)`
 * (xb: the input's channel-0 offset, wb: the tap index kh * kW + kw), then `after(yb)`.
 */
export function positions(names: Names, g: Geometry, perPosition: (yb: string) => string, tap: (xb: string, tapIndex: string, yb: string) => string, after: (yb: string) => string): string {
  const [n, oh, ow, kh, kw] = ["n", "oh", "ow", "kh", "kw"].map((p) => names.next(p));
  const yb = names.next("yb");
  const xb = names.next("xb");
  const ih = names.next("ih");
  const iw = names.next("iw");
  const xRow = names.next("xr");
  return [
    `for (let ${n} = 0; ${n} < ${g.batch}; ${n}++)`,
    `for (let ${oh} = 0; ${oh} < ${g.outH}; ${oh}++) {`,
    `const ${ih}0 = ${oh} * ${g.sH} - ${g.padTop};`,
    `for (let ${ow} = 0; ${ow} < ${g.outW}; ${ow}++) {`,
    `const ${iw}0 = ${ow} * ${g.sW} - ${g.padLeft};`,
    `const ${yb} = ${n} * ${g.y.n} + ${oh} * ${g.y.h} + ${ow} * ${g.y.w};`,
    perPosition(yb),
    `for (let ${kh} = 0; ${kh} < ${g.kH}; ${kh}++) {`,
    `const ${ih} = ${ih}0 + ${kh} * ${g.dH};`,
    `if (${ih} < 0 || ${ih} >= ${g.inH}) continue;`,
    `const ${xRow} = ${n} * ${g.x.n} + ${ih} * ${g.x.h};`,
    `for (let ${kw} = 0; ${kw} < ${g.kW}; ${kw}++) {`,
    `const ${iw} = ${iw}0 + ${kw} * ${g.dW};`,
    `if (${iw} < 0 || ${iw} >= ${g.inW}) continue;`,
    `const ${xb} = ${xRow} + ${iw} * ${g.x.w};`,
    tap(xb, `(${kh} * ${g.kW} + ${kw})`, yb),
    "}}",
    after(yb),
    "}}",
  ].join("\n");
}
