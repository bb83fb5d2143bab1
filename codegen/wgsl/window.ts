/**
 * Window geometry shared by the convolution and pooling emitters, from the same helpers the
 * reference kernels use (ir/ops/pool.ts): TF's SAME / VALID output sizes and padding, and the
 * element strides of NHWC / NCHW arrays. Coordinates are named n, h, w, c in WGSL.
 */
import { axesOf, elementStrides, spatialAttr, windowedOutput, type DataFormat, type Padding, type Strides4 } from "../../ir/ops/pool";
import { coordinates, u32, type EmitContext } from "./common";

export interface WindowGeometry {
  format: DataFormat;
  batch: number;
  inH: number;
  inW: number;
  outH: number;
  outW: number;
  kH: number;
  kW: number;
  sH: number;
  sW: number;
  dH: number;
  dW: number;
  padTop: number;
  padLeft: number;
  x: Strides4;
  y: Strides4;
}

/** Geometry for input `xShape`, output `yShape` and a kH × kW window (ksize or the filter's). */
export function windowGeometry(ctx: EmitContext, xShape: readonly number[], yShape: readonly number[], kH: number, kW: number, dilated: boolean): WindowGeometry {
  const attrs = ctx.op.attrs;
  const format = (attrs.data_format as DataFormat | undefined) ?? "NHWC";
  const [sH, sW] = spatialAttr(attrs, "strides", ctx.op.type, ctx.op.name);
  const [dH, dW] = dilated && attrs.dilations ? spatialAttr(attrs, "dilations", ctx.op.type, ctx.op.name) : [1, 1];
  const [ni, hi, wi] = axesOf(format);
  const padding = attrs.padding as Padding;
  const rows = windowedOutput(xShape[hi], kH, sH, dH, padding, ctx.op.name);
  const cols = windowedOutput(xShape[wi], kW, sW, dW, padding, ctx.op.name);
  return {
    format, batch: xShape[ni], inH: xShape[hi], inW: xShape[wi], outH: yShape[hi], outW: yShape[wi], kH, kW, sH, sW, dH, dW,
    padTop: rows.padBefore, padLeft: cols.padBefore, x: elementStrides(xShape, format), y: elementStrides(yShape, format),
  };
}

/** `let n, h, w, c` (u32) of flat index `index` in a 4-D array of `shape` and `format`. */
export function layoutCoordinates(index: string, shape: readonly number[], format: DataFormat, names: [string, string, string, string]): string {
  const axes = axesOf(format);
  const lines = coordinates(index, shape, "d").split("\n");
  const rename = axes.map((axis, k) => `let ${names[k]} = ${lines[axis].replace(/^let d\d+ = /, "").replace(/;$/, "")};`);
  return rename.join("\n");
}

/** The flat offset of (n, h, w, c) expressions in an array with strides `s` (terms with a 0u coordinate dropped). */
export function at(s: Strides4, n: string, h: string, w: string, c: string): string {
  const terms: string[] = [];
  const add = (coord: string, stride: number) => {
    if (coord === "0u") return;
    terms.push(stride === 1 ? coord : `${coord} * ${u32(stride)}`);
  };
  add(n, s.n);
  add(h, s.h);
  add(w, s.w);
  add(c, s.c);
  return terms.length ? terms.join(" + ") : "0u";
}
