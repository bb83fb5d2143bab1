/**
 * Convolutions as TF defines them: Conv2D and DepthwiseConv2dNative, their backprop ops
 * (Conv2DBackpropInput/Filter, DepthwiseConv2dNativeBackpropInput/Filter) and gradient rules.
 * Filters are [kh, kw, in, out] (depthwise: [kh, kw, in, multiplier], output channel
 * c * multiplier + m). NHWC and NCHW share one kernel through element strides. SAME padding is
 * TF's: out = ceil(in / stride), pad_before = floor(pad_total / 2).
 * The window geometry (formats, window attributes, output sizes) lives in pool.ts.
 */
import type { TypedArray } from "../dtype";
import { invalidArgument } from "../diagnostics";
import type { Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp, type Attrs, type AttrSpec, type GradientRule, type KernelContext } from "../registry";
import { formatShape, type MaybeShape, type Shape } from "../shape";
import { shape } from "./array";
import { apply1, convertAll, convertToTensor, graphOf, type TensorLike } from "./build";
import {
  axesOf, check4D, checkFits, elementStrides, expandWindow, layoutShape, pickAttrs, sizesValue,
  spatialAttr, staticSizes, windowAttrs, windowedOutput, type DataFormat, type Geometry, type Padding,
} from "./pool";

export type { DataFormat, Padding } from "./pool";

interface ConvShapes {
  /** Output shape (nulls where unknown). */
  out: Shape;
  geometry: (input: number[], output: number[]) => Geometry;
}

/** Shape inference for Conv2D/DepthwiseConv2dNative over static or concrete shapes. */
function convShapes(input: MaybeShape, filter: MaybeShape, attrs: Attrs, type: string, node: string, depthwise: boolean): ConvShapes | null {
  const format = attrs.data_format as DataFormat;
  const [sH, sW] = spatialAttr(attrs, "strides", type, node);
  const [dH, dW] = spatialAttr(attrs, "dilations", type, node);
  if (input === null) return null;
  const [ni, hi, wi, ci] = axesOf(format);
  const f = filter ?? [null, null, null, null];
  const inC = input[ci];
  if (inC !== null && f[2] !== null && inC !== f[2])
    throw invalidArgument({
      code: "channel-mismatch",
      node,
      message: `${type}: the input has ${inC} channels (${format}) but the filter [kh, kw, in, ${depthwise ? "multiplier" : "out"}] expects ${f[2]}`,
      expected: `${f[2]} input channels (filter dimension 2)`,
      received: `${inC} channels in input of shape ${formatShape(input)}`,
      fix: "make the filter's third dimension equal the input's channel count, or check data_format",
    });
  const rows = f[0] === null ? { out: null, padBefore: 0 } : windowedOutput(input[hi], f[0], sH, dH, attrs.padding as Padding, node);
  const cols = f[1] === null ? { out: null, padBefore: 0 } : windowedOutput(input[wi], f[1], sW, dW, attrs.padding as Padding, node);
  const channels = f[2] ?? inC;
  const outC = !depthwise ? f[3] : channels !== null && f[3] !== null ? channels * f[3] : null;
  const out = layoutShape(format, input[ni], rows.out, cols.out, outC);
  const geometry = (x: number[], y: number[]): Geometry => ({
    batch: x[ni], inH: x[hi], inW: x[wi], outH: y[hi], outW: y[wi], kH: f[0]!, kW: f[1]!,
    sH, sW, dH, dW, padTop: rows.padBefore, padLeft: cols.padBefore,
    x: elementStrides(x, format), y: elementStrides(y, format),
  });
  return { out, geometry };
}

/**
 * Calls `tap(xBase, yBase, wBase)` for every (output position, filter tap) pair that reads
 * inside the input: xBase/yBase are the channel-0 offsets, wBase the filter offset of the tap.
 */
function forEachTap(g: Geometry, tapSize: number, tap: (xb: number, yb: number, wb: number) => void): void {
  for (let n = 0; n < g.batch; n++)
    for (let oh = 0; oh < g.outH; oh++) {
      const ih0 = oh * g.sH - g.padTop;
      for (let ow = 0; ow < g.outW; ow++) {
        const iw0 = ow * g.sW - g.padLeft;
        const yb = n * g.y.n + oh * g.y.h + ow * g.y.w;
        for (let kh = 0; kh < g.kH; kh++) {
          const ih = ih0 + kh * g.dH;
          if (ih < 0 || ih >= g.inH) continue;
          const xRow = n * g.x.n + ih * g.x.h;
          for (let kw = 0; kw < g.kW; kw++) {
            const iw = iw0 + kw * g.dW;
            if (iw < 0 || iw >= g.inW) continue;
            tap(xRow + iw * g.x.w, yb, (kh * g.kW + kw) * tapSize);
          }
        }
      }
    }
}

type Role = "forward" | "input" | "filter";

/**
 * One kernel for all six ops: `x` input, `w` filter, `y` output (the array written is the one
 * named by `role`). cin/cout are the filter's dimensions 2 and 3 (depthwise: C and M).
 */
function convLoop(role: Role, depthwise: boolean, g: Geometry, cin: number, cout: number, x: TypedArray, w: TypedArray, y: TypedArray): void {
  const xc = g.x.c;
  const yc = g.y.c;
  if (!depthwise) {
    const inner = {
      forward: (xb: number, yb: number, wb: number) => {
        for (let ci = 0; ci < cin; ci++) {
          const xv = x[xb + ci * xc];
          const wr = wb + ci * cout;
          for (let co = 0; co < cout; co++) y[yb + co * yc] += xv * w[wr + co];
        }
      },
      input: (xb: number, yb: number, wb: number) => {
        for (let ci = 0; ci < cin; ci++) {
          const wr = wb + ci * cout;
          let s = 0;
          for (let co = 0; co < cout; co++) s += y[yb + co * yc] * w[wr + co];
          x[xb + ci * xc] += s;
        }
      },
      filter: (xb: number, yb: number, wb: number) => {
        for (let ci = 0; ci < cin; ci++) {
          const xv = x[xb + ci * xc];
          const wr = wb + ci * cout;
          for (let co = 0; co < cout; co++) w[wr + co] += xv * y[yb + co * yc];
        }
      },
    }[role];
    forEachTap(g, cin * cout, inner);
    return;
  }
  const m = cout;
  const inner = {
    forward: (xb: number, yb: number, wb: number) => {
      for (let c = 0; c < cin; c++) {
        const xv = x[xb + c * xc];
        for (let k = 0; k < m; k++) y[yb + (c * m + k) * yc] += xv * w[wb + c * m + k];
      }
    },
    input: (xb: number, yb: number, wb: number) => {
      for (let c = 0; c < cin; c++) {
        let s = 0;
        for (let k = 0; k < m; k++) s += y[yb + (c * m + k) * yc] * w[wb + c * m + k];
        x[xb + c * xc] += s;
      }
    },
    filter: (xb: number, yb: number, wb: number) => {
      for (let c = 0; c < cin; c++) {
        const xv = x[xb + c * xc];
        for (let k = 0; k < m; k++) w[wb + c * m + k] += xv * y[yb + (c * m + k) * yc];
      }
    },
  }[role];
  forEachTap(g, cin * m, inner);
}

const convAttrs: Record<string, AttrSpec> = { ...windowAttrs, dilations: { kind: "list(int)", default: [1, 1, 1, 1] } };

function registerConvFamily(base: string, depthwise: boolean): void {
  const [fwd, bInput, bFilter] = [base, `${base}BackpropInput`, `${base}BackpropFilter`];
  const attrsOf = (op: { attrs: Attrs }) => pickAttrs(op.attrs, convAttrs);
  const gradient: GradientRule = (op, [dy]) => {
    if (!dy) return [null, null];
    const [x, w] = op.inputs;
    return [apply1(bInput, [shape(x), w, dy], attrsOf(op), bInput), apply1(bFilter, [x, shape(w), dy], attrsOf(op), bFilter)];
  };
  const run = (ctx: KernelContext, role: Role, xShape: number[], wShape: number[], dyShape: number[] | null, attrs: Attrs, arrays: { x?: NDArray; w?: NDArray; y?: NDArray }) => {
    const type = role === "forward" ? fwd : role === "input" ? bInput : bFilter;
    check4D({ dtype: "float32", shape: xShape }, "input", type, ctx.node);
    check4D({ dtype: "float32", shape: wShape }, "filter", type, ctx.node);
    const shapes = convShapes(xShape, wShape, attrs, type, ctx.node, depthwise)!;
    const outShape = shapes.out as number[];
    if (dyShape) checkFits(type, ctx.node, "out_backprop", outShape, dyShape);
    const g = shapes.geometry(xShape, outShape);
    const sizes = { forward: outShape, input: xShape, filter: wShape }[role];
    let size = 1;
    for (const d of sizes) size *= d;
    const out = ctx.alloc("float32", size);
    const x = arrays.x?.data ?? out;
    const w = arrays.w?.data ?? out;
    const y = arrays.y?.data ?? out;
    if (size > 0) convLoop(role, depthwise, g, wShape[2], wShape[3], x, w, y);
    return [new NDArray("float32", [...sizes], out)];
  };
  registerOp({
    type: fwd,
    inputs: 2,
    attrs: convAttrs,
    infer: ([x, w], attrs, node) => {
      check4D(x, "input", fwd, node);
      check4D(w, "filter", fwd, node);
      const s = convShapes(x.shape, w.shape, attrs, fwd, node, depthwise);
      return [{ dtype: "float32", shape: s ? s.out : null }];
    },
    kernel: ([x, w], attrs, ctx) => run(ctx, "forward", x.shape, w.shape, null, attrs, { x, w }),
    gradient,
  });
  registerOp({
    type: bInput,
    inputs: 3,
    attrs: convAttrs,
    infer: ([sizes, w, dy], attrs, node) => {
      check4D(w, "filter", bInput, node);
      check4D(dy, "out_backprop", bInput, node);
      const xShape = staticSizes(sizes, "input_sizes", bInput, node);
      const [ni, , , ci] = axesOf(attrs.data_format as DataFormat);
      if (xShape[ni] === null && dy.shape) xShape[ni] = dy.shape[ni];
      if (xShape[ci] === null && w.shape) xShape[ci] = w.shape[2];
      const s = convShapes(xShape, w.shape, attrs, bInput, node, depthwise);
      if (s) checkFits(bInput, node, "out_backprop", s.out, dy.shape);
      return [{ dtype: "float32", shape: xShape }];
    },
    kernel: ([sizes, w, y], attrs, ctx) => run(ctx, "input", sizesValue(sizes, "input_sizes", ctx.node), w.shape, y.shape, attrs, { w, y }),
    gradient: (op, [grad]) => {
      if (!grad) return [null, null, null];
      const [, w, dy] = op.inputs;
      return [null, apply1(bFilter, [grad, shape(w), dy], attrsOf(op), bFilter), apply1(fwd, [grad, w], attrsOf(op), fwd)];
    },
  });
  registerOp({
    type: bFilter,
    inputs: 3,
    attrs: convAttrs,
    infer: ([x, sizes, dy], attrs, node) => {
      check4D(x, "input", bFilter, node);
      check4D(dy, "out_backprop", bFilter, node);
      const wShape = staticSizes(sizes, "filter_sizes", bFilter, node);
      const [, , , ci] = axesOf(attrs.data_format as DataFormat);
      if (wShape[2] === null && x.shape) wShape[2] = x.shape[ci];
      const s = convShapes(x.shape, wShape, attrs, bFilter, node, depthwise);
      if (s) checkFits(bFilter, node, "out_backprop", s.out, dy.shape);
      return [{ dtype: "float32", shape: wShape }];
    },
    kernel: ([x, sizes, y], attrs, ctx) => run(ctx, "filter", x.shape, sizesValue(sizes, "filter_sizes", ctx.node), y.shape, attrs, { x, y }),
    gradient: (op, [grad]) => {
      if (!grad) return [null, null, null];
      const [x, , dy] = op.inputs;
      return [apply1(bInput, [shape(x), grad, dy], attrsOf(op), bInput), null, apply1(fwd, [x, grad], attrsOf(op), fwd)];
    },
  });
}

registerConvFamily("Conv2D", false);
registerConvFamily("DepthwiseConv2dNative", true);

/** An int32 sizes tensor and the float operands, converted apart so that literals stay float. */
function sizedInputs(sizes: TensorLike, name: string, operands: TensorLike[]): Tensor[] {
  const g = graphOf(operands);
  return [convertToTensor(sizes, "int32", name, g), ...convertAll(operands, g)];
}

export interface Conv2DOptions {
  dataFormat?: DataFormat;
  dilations?: number | readonly number[];
  name?: string;
}

function convAttrsFrom(strides: number | readonly number[], padding: Padding, options: Conv2DOptions): Attrs {
  const format = options.dataFormat ?? "NHWC";
  return { strides: expandWindow(strides, format), padding, data_format: format, dilations: expandWindow(options.dilations ?? 1, format) };
}

/** `tf.nn.conv2d(input, filter, strides, padding, { dataFormat, dilations, name })`. */
export function conv2d(input: TensorLike, filter: TensorLike, strides: number | readonly number[], padding: Padding, options: Conv2DOptions = {}): Tensor {
  return apply1("Conv2D", [input, filter], convAttrsFrom(strides, padding, options), options.name ?? "Conv2D");
}

/** `tf.nn.conv2d_backprop_input(input_sizes, filter, out_backprop, strides, padding, ...)`. */
export function conv2dBackpropInput(inputSizes: TensorLike, filter: TensorLike, outBackprop: TensorLike, strides: number | readonly number[], padding: Padding, options: Conv2DOptions = {}): Tensor {
  const [sizes, w, dy] = sizedInputs(inputSizes, "input_sizes", [filter, outBackprop]);
  return apply1("Conv2DBackpropInput", [sizes, w, dy], convAttrsFrom(strides, padding, options), options.name ?? "Conv2DBackpropInput");
}

/** `tf.nn.conv2d_backprop_filter(input, filter_sizes, out_backprop, strides, padding, ...)`. */
export function conv2dBackpropFilter(input: TensorLike, filterSizes: TensorLike, outBackprop: TensorLike, strides: number | readonly number[], padding: Padding, options: Conv2DOptions = {}): Tensor {
  const [sizes, x, dy] = sizedInputs(filterSizes, "filter_sizes", [input, outBackprop]);
  return apply1("Conv2DBackpropFilter", [x, sizes, dy], convAttrsFrom(strides, padding, options), options.name ?? "Conv2DBackpropFilter");
}

export interface DepthwiseConv2DOptions {
  /** Dilation rate over height and width (TF's `rate`; `dilations` is its newer name). */
  rate?: number | readonly number[];
  dilations?: number | readonly number[];
  dataFormat?: DataFormat;
  name?: string;
}

/** `tf.nn.depthwise_conv2d(input, filter, strides, padding, { rate, dataFormat, name })`; the op is named "depthwise". */
export function depthwiseConv2d(input: TensorLike, filter: TensorLike, strides: number | readonly number[], padding: Padding, options: DepthwiseConv2DOptions = {}): Tensor {
  const attrs = convAttrsFrom(strides, padding, { dataFormat: options.dataFormat, dilations: options.rate ?? options.dilations });
  return apply1("DepthwiseConv2dNative", [input, filter], attrs, options.name ?? "depthwise");
}

/** `tf.nn.depthwise_conv2d_native(input, filter, strides, padding, { dataFormat, dilations, name })`. */
export function depthwiseConv2dNative(input: TensorLike, filter: TensorLike, strides: number | readonly number[], padding: Padding, options: Conv2DOptions = {}): Tensor {
  return apply1("DepthwiseConv2dNative", [input, filter], convAttrsFrom(strides, padding, options), options.name ?? "DepthwiseConv2dNative");
}

/** `tf.nn.depthwise_conv2d_native_backprop_input(input_sizes, filter, out_backprop, strides, padding, ...)`. */
export function depthwiseConv2dNativeBackpropInput(inputSizes: TensorLike, filter: TensorLike, outBackprop: TensorLike, strides: number | readonly number[], padding: Padding, options: Conv2DOptions = {}): Tensor {
  const [sizes, w, dy] = sizedInputs(inputSizes, "input_sizes", [filter, outBackprop]);
  return apply1("DepthwiseConv2dNativeBackpropInput", [sizes, w, dy], convAttrsFrom(strides, padding, options), options.name ?? "DepthwiseConv2dNativeBackpropInput");
}

/** `tf.nn.depthwise_conv2d_native_backprop_filter(input, filter_sizes, out_backprop, strides, padding, ...)`. */
export function depthwiseConv2dNativeBackpropFilter(input: TensorLike, filterSizes: TensorLike, outBackprop: TensorLike, strides: number | readonly number[], padding: Padding, options: Conv2DOptions = {}): Tensor {
  const [sizes, x, dy] = sizedInputs(filterSizes, "filter_sizes", [input, outBackprop]);
  return apply1("DepthwiseConv2dNativeBackpropFilter", [x, sizes, dy], convAttrsFrom(strides, padding, options), options.name ?? "DepthwiseConv2dNativeBackpropFilter");
}
