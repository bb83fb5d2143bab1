/**
 * Pooling as TF defines it: MaxPool, AvgPool, MaxPoolGrad, AvgPoolGrad and the gradient rules
 * of MaxPool and AvgPool. SAME padding never reads the padded cells: max pooling ignores them
 * and average pooling divides by the number of cells inside the input, like TF.
 * This file also holds the window geometry that convolutions (conv.ts) share: data formats,
 * window attributes (strides, dilations, ksize), TF's windowed output size and padding.
 */
import { invalidArgument } from "../diagnostics";
import type { Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp, type Attrs, type AttrSpec, type TensorSpec } from "../registry";
import { formatShape, type MaybeShape, type Shape } from "../shape";
import { shape } from "./array";
import { apply1, convertToTensor, graphOf, type TensorLike } from "./build";

export type Padding = "SAME" | "VALID";
export type DataFormat = "NHWC" | "NCHW";

/** Positions of [batch, height, width, channel] in a 4-D shape of `format`. */
export function axesOf(format: DataFormat): [number, number, number, number] {
  return format === "NHWC" ? [0, 1, 2, 3] : [0, 2, 3, 1];
}

/** A 4-D shape of `format` from its batch, height, width and channel sizes. */
export function layoutShape<T>(format: DataFormat, n: T, h: T, w: T, c: T): T[] {
  return format === "NHWC" ? [n, h, w, c] : [n, c, h, w];
}

/** Element strides of batch, height, width and channel in a concrete 4-D array of `format`. */
export interface Strides4 {
  n: number;
  h: number;
  w: number;
  c: number;
}
export function elementStrides(shape: readonly number[], format: DataFormat): Strides4 {
  const [, H, W, C] = axesOf(format).map((a) => shape[a]);
  return format === "NHWC" ? { n: H * W * C, h: W * C, w: C, c: 1 } : { n: C * H * W, h: W, w: 1, c: H * W };
}

/** Checks a 4-entry window attribute (strides, dilations, ksize) and returns its [height, width]. */
export function spatialAttr(attrs: Attrs, key: string, type: string, node: string): [number, number] {
  const format = attrs.data_format as DataFormat;
  const v = attrs[key] as number[];
  const [ni, hi, wi, ci] = axesOf(format);
  const example = layoutShape(format, 1, 2, 2, 1).join(", ");
  if (v.length !== 4)
    throw invalidArgument({
      code: `bad-${key}`,
      node,
      message: `${type} needs \`${key}\` with 4 entries, one per dimension of the ${format} input`,
      expected: "4 entries",
      received: `${v.length} entries ${JSON.stringify(v)}`,
      fix: `pass ${key} like [${example}] (the builders also take one number or [height, width])`,
    });
  if (v[ni] !== 1 || v[ci] !== 1 || v[hi] < 1 || v[wi] < 1)
    throw invalidArgument({
      code: `bad-${key}`,
      node,
      message: `${type} supports \`${key}\` only over height and width (batch and channel entries must be 1, the others at least 1)`,
      expected: `[${layoutShape(format, "1", "h", "w", "1").join(", ")}]`,
      received: JSON.stringify(v),
      fix: `use [${example}]-style ${key}`,
    });
  return [v[hi], v[wi]];
}

/** TF's GetWindowedOutputSize: output size and padding before, or null when `inSize` is unknown. */
export function windowedOutput(inSize: number | null, k: number, stride: number, dilation: number, padding: Padding, node: string): { out: number | null; padBefore: number } {
  if (inSize === null) return { out: null, padBefore: 0 };
  const effective = (k - 1) * dilation + 1;
  if (padding === "SAME") {
    const out = Math.ceil(inSize / stride);
    const total = Math.max((out - 1) * stride + effective - inSize, 0);
    return { out, padBefore: Math.floor(total / 2) };
  }
  // C++ integer division, as TF: an output of 0 is allowed, a negative one is an error.
  const out = Math.trunc((inSize - effective + stride) / stride);
  if (out < 0)
    throw invalidArgument({
      code: "window-too-large",
      node,
      message: `with VALID padding the window (effective size ${effective}, stride ${stride}) does not fit the input`,
      expected: `an input dimension of at least ${effective - 2 * stride + 1}`,
      received: String(inSize),
      fix: 'use padding "SAME", a smaller window or a larger input',
    });
  return { out, padBefore: 0 };
}

/** Checks that a tensor is float32 and 4-D (when its rank is known). */
export function check4D(spec: TensorSpec, what: string, type: string, node: string, dtypes: readonly string[] = ["float32"]): void {
  if (!dtypes.includes(spec.dtype))
    throw invalidArgument({
      code: "bad-dtype",
      node,
      message: `${type} does not accept a ${spec.dtype} ${what}`,
      expected: dtypes.join(" or "),
      received: spec.dtype,
      fix: `cast it: tf.cast(${what}, "${dtypes[0]}")`,
    });
  if (spec.shape !== null && spec.shape.length !== 4)
    throw invalidArgument({
      code: "bad-rank",
      node,
      message: `${type} needs a 4-D ${what}`,
      expected: "rank 4",
      received: `shape ${formatShape(spec.shape)}`,
      fix: `reshape the ${what} to 4 dimensions`,
    });
}

/** Concrete window geometry for the kernels. */
export interface Geometry {
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
  /** Element strides of the input and the output arrays. */
  x: Strides4;
  y: Strides4;
}

/** Reads a 4-entry int32 sizes tensor (input_sizes, filter_sizes) at run time. */
export function sizesValue(a: NDArray, what: string, node: string): number[] {
  if (a.size !== 4 || a.rank !== 1 || Array.from(a.data).some((d) => !Number.isInteger(d) || d < 0))
    throw invalidArgument({
      code: "bad-sizes",
      node,
      message: `\`${what}\` must be a 1-D int32 tensor of 4 non-negative sizes`,
      expected: "4 sizes",
      received: `${formatShape(a.shape)} ${JSON.stringify(Array.from(a.data))}`,
      fix: `pass ${what} as the 4-D shape, e.g. tf.shape(x)`,
    });
  return Array.from(a.data);
}

export const windowAttrs: Record<string, AttrSpec> = {
  strides: { kind: "list(int)" },
  padding: { kind: "string", oneOf: ["SAME", "VALID"] },
  data_format: { kind: "string", default: "NHWC", oneOf: ["NHWC", "NCHW"] },
};

/** strides / dilations / ksize as TF's Python API takes them: one number, [h, w] or all 4. */
export function expandWindow(v: number | readonly number[], format: DataFormat): number[] {
  if (typeof v === "number") return layoutShape(format, 1, v, v, 1);
  if (v.length === 1) return layoutShape(format, 1, v[0], v[0], 1);
  if (v.length === 2) return layoutShape(format, 1, v[0], v[1], 1);
  return [...v];
}

/** Static value of a sizes input: its Const value, else 4 unknown dims. */
export function staticSizes(spec: TensorSpec, what: string, type: string, node: string): Shape {
  check4D({ dtype: spec.dtype, shape: null }, what, type, node, ["int32"]);
  if (spec.value) return sizesValue(spec.value, what, node);
  if (spec.shape !== null && (spec.shape.length !== 1 || (spec.shape[0] !== null && spec.shape[0] !== 4)))
    throw invalidArgument({ code: "bad-sizes", node, message: `\`${what}\` must be a vector of 4 sizes`, expected: "shape [4]", received: formatShape(spec.shape) });
  return [null, null, null, null];
}

/** Checks that a static or concrete shape fits the forward op's output shape (nulls match anything). */
export function checkFits(type: string, node: string, what: string, expected: MaybeShape, received: MaybeShape): void {
  if (expected === null || received === null) return;
  if (expected.length === received.length && expected.every((d, i) => d === null || received[i] === null || d === received[i])) return;
  throw invalidArgument({
    code: "shape-mismatch",
    node,
    message: `${type}: the ${what} does not match the forward op's output shape`,
    expected: formatShape(expected),
    received: formatShape(received),
    fix: "pass the input sizes, window, strides, padding and dilations of the forward op",
  });
}

/** The attributes of `attrs` that `schema` names (gradient ops copy their forward op's). */
export function pickAttrs(attrs: Attrs, schema: Record<string, AttrSpec>): Attrs {
  const out: Attrs = {};
  for (const k of Object.keys(schema)) if (attrs[k] !== undefined) out[k] = attrs[k];
  return out;
}

// ---- pooling ----

const poolAttrs: Record<string, AttrSpec> = { ksize: { kind: "list(int)" }, ...windowAttrs };

function poolShapes(input: MaybeShape, attrs: Attrs, type: string, node: string): { out: Shape; geometry: (x: number[], y: number[]) => Geometry } | null {
  const format = attrs.data_format as DataFormat;
  const padding = attrs.padding as Padding;
  const [kH, kW] = spatialAttr(attrs, "ksize", type, node);
  const [sH, sW] = spatialAttr(attrs, "strides", type, node);
  if (input === null) return null;
  const [ni, hi, wi, ci] = axesOf(format);
  const rows = windowedOutput(input[hi], kH, sH, 1, padding, node);
  const cols = windowedOutput(input[wi], kW, sW, 1, padding, node);
  return {
    out: layoutShape(format, input[ni], rows.out, cols.out, input[ci]),
    geometry: (x, y) => ({
      batch: x[ni], inH: x[hi], inW: x[wi], outH: y[hi], outW: y[wi], kH, kW, sH, sW, dH: 1, dW: 1,
      padTop: rows.padBefore, padLeft: cols.padBefore, x: elementStrides(x, format), y: elementStrides(y, format),
    }),
  };
}

type PoolRole = "max" | "avg" | "maxGrad" | "avgGrad";

/**
 * One loop for the four pooling kernels. `x` is the input (read), `y` the output (written by
 * max/avg) or the incoming gradient (read by the grads), `dx` the input gradient (written).
 * Windows are clipped to the input, so padded cells are never read nor counted.
 */
function poolLoop(role: PoolRole, g: Geometry, channels: number, x: ArrayLike<number>, y: { [i: number]: number }, dx: { [i: number]: number }): void {
  const xs = g.x;
  for (let n = 0; n < g.batch; n++)
    for (let oh = 0; oh < g.outH; oh++) {
      const top = oh * g.sH - g.padTop;
      const h0 = Math.max(top, 0);
      const h1 = Math.min(top + g.kH, g.inH);
      for (let ow = 0; ow < g.outW; ow++) {
        const left = ow * g.sW - g.padLeft;
        const w0 = Math.max(left, 0);
        const w1 = Math.min(left + g.kW, g.inW);
        const count = Math.max(h1 - h0, 0) * Math.max(w1 - w0, 0);
        const yb = n * g.y.n + oh * g.y.h + ow * g.y.w;
        for (let c = 0; c < channels; c++) {
          const xb = n * xs.n + c * xs.c;
          const yi = yb + c * g.y.c;
          if (role === "max" || role === "maxGrad") {
            // The first maximum in scan order wins, as in TF's CPU kernels.
            let best = -Infinity;
            let at = -1;
            for (let ih = h0; ih < h1; ih++)
              for (let iw = w0, i = xb + ih * xs.h + w0 * xs.w; iw < w1; iw++, i += xs.w)
                if (at < 0 || x[i] > best) {
                  best = x[i];
                  at = i;
                }
            if (role === "max") y[yi] = best;
            else if (at >= 0) dx[at] += y[yi];
          } else if (role === "avg") {
            let sum = 0;
            for (let ih = h0; ih < h1; ih++)
              for (let iw = w0, i = xb + ih * xs.h + w0 * xs.w; iw < w1; iw++, i += xs.w) sum += x[i];
            y[yi] = count > 0 ? sum / count : 0;
          } else {
            const share = count > 0 ? y[yi] / count : 0;
            for (let ih = h0; ih < h1; ih++)
              for (let iw = w0, i = xb + ih * xs.h + w0 * xs.w; iw < w1; iw++, i += xs.w) dx[i] += share;
          }
        }
      }
    }
}

const sizeOfShape = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function registerPool(type: "MaxPool" | "AvgPool", grad: "MaxPoolGrad" | "AvgPoolGrad"): void {
  const role = type === "MaxPool" ? "max" : "avg";
  registerOp({
    type,
    inputs: 1,
    attrs: poolAttrs,
    infer: ([x], attrs, node) => {
      check4D(x, "input", type, node, type === "MaxPool" ? ["float32", "int32"] : ["float32"]);
      return [{ dtype: x.dtype, shape: poolShapes(x.shape, attrs, type, node)?.out ?? null }];
    },
    kernel: ([x], attrs, ctx) => {
      check4D({ dtype: x.dtype, shape: x.shape }, "input", type, ctx.node, ["float32", "int32"]);
      const s = poolShapes(x.shape, attrs, type, ctx.node)!;
      const out = s.out as number[];
      const y = ctx.alloc(x.dtype, sizeOfShape(out));
      poolLoop(role, s.geometry(x.shape, out), x.shape[axesOf(attrs.data_format as DataFormat)[3]], x.data, y, y);
      return [new NDArray(x.dtype, out, y)];
    },
    gradient: (op, [dy]) => {
      if (!dy) return [null];
      const [x] = op.inputs;
      const first = type === "MaxPool" ? [x, op.outputs[0]] : [shape(x)];
      return [apply1(grad, [...first, dy], pickAttrs(op.attrs, poolAttrs), grad)];
    },
  });
}

registerPool("MaxPool", "MaxPoolGrad");
registerPool("AvgPool", "AvgPoolGrad");

/** Shared by both pool grads: the input-gradient of `grad` (shape of the forward output) for input shape `xShape`. */
function poolGradKernel(role: "maxGrad" | "avgGrad", type: string, xShape: number[], x: NDArray | null, grad: NDArray, attrs: Attrs, ctx: { node: string; alloc: (d: "float32", n: number) => NDArray["data"] }): NDArray[] {
  check4D({ dtype: "float32", shape: xShape }, "original input", type, ctx.node);
  const s = poolShapes(xShape, attrs, type, ctx.node)!;
  checkFits(type, ctx.node, "gradient", s.out, grad.shape);
  const dx = ctx.alloc("float32", sizeOfShape(xShape));
  const channels = xShape[axesOf(attrs.data_format as DataFormat)[3]];
  poolLoop(role, s.geometry(xShape, grad.shape), channels, x ? x.data : dx, grad.data, dx);
  return [new NDArray("float32", [...xShape], dx)];
}

registerOp({
  type: "MaxPoolGrad",
  inputs: 3,
  attrs: poolAttrs,
  infer: ([x, y, dy], attrs, node) => {
    check4D(x, "orig_input", "MaxPoolGrad", node);
    check4D(y, "orig_output", "MaxPoolGrad", node);
    check4D(dy, "grad", "MaxPoolGrad", node);
    const s = poolShapes(x.shape, attrs, "MaxPoolGrad", node);
    checkFits("MaxPoolGrad", node, "orig_output", s?.out ?? null, y.shape);
    checkFits("MaxPoolGrad", node, "grad", s?.out ?? null, dy.shape);
    return [{ dtype: "float32", shape: x.shape }];
  },
  // Like TF's CPU kernel, the argmax is recomputed from orig_input; orig_output is only checked.
  kernel: ([x, , dy], attrs, ctx) => poolGradKernel("maxGrad", "MaxPoolGrad", x.shape, x, dy, attrs, ctx),
});

registerOp({
  type: "AvgPoolGrad",
  inputs: 2,
  attrs: poolAttrs,
  infer: ([sizes, dy], attrs, node) => {
    check4D(dy, "grad", "AvgPoolGrad", node);
    const xShape = staticSizes(sizes, "orig_input_shape", "AvgPoolGrad", node);
    const [ni, , , ci] = axesOf(attrs.data_format as DataFormat);
    for (const a of [ni, ci]) if (xShape[a] === null && dy.shape) xShape[a] = dy.shape[a];
    checkFits("AvgPoolGrad", node, "grad", poolShapes(xShape, attrs, "AvgPoolGrad", node)?.out ?? null, dy.shape);
    return [{ dtype: "float32", shape: xShape }];
  },
  kernel: ([sizes, dy], attrs, ctx) => poolGradKernel("avgGrad", "AvgPoolGrad", sizesValue(sizes, "orig_input_shape", ctx.node), null, dy, attrs, ctx),
  gradient: (op, [g]) => (g ? [null, apply1("AvgPool", [g], pickAttrs(op.attrs, poolAttrs), "AvgPool")] : [null, null]),
});

export interface PoolOptions {
  dataFormat?: DataFormat;
  name?: string;
}

function poolAttrsFrom(ksize: number | readonly number[], strides: number | readonly number[], padding: Padding, options: PoolOptions): Attrs {
  const format = options.dataFormat ?? "NHWC";
  return { ksize: expandWindow(ksize, format), strides: expandWindow(strides, format), padding, data_format: format };
}

/** `tf.nn.max_pool(value, ksize, strides, padding, { dataFormat, name })`; ksize/strides: a number, [h, w] or 4 entries. */
export function maxPool(value: TensorLike, ksize: number | readonly number[], strides: number | readonly number[], padding: Padding, options: PoolOptions = {}): Tensor {
  return apply1("MaxPool", [value], poolAttrsFrom(ksize, strides, padding, options), options.name ?? "MaxPool");
}

/** `tf.nn.avg_pool(value, ksize, strides, padding, { dataFormat, name })`. */
export function avgPool(value: TensorLike, ksize: number | readonly number[], strides: number | readonly number[], padding: Padding, options: PoolOptions = {}): Tensor {
  return apply1("AvgPool", [value], poolAttrsFrom(ksize, strides, padding, options), options.name ?? "AvgPool");
}

/** TF's gen_nn_ops.max_pool_grad(orig_input, orig_output, grad, ksize, strides, padding). */
export function maxPoolGrad(origInput: TensorLike, origOutput: TensorLike, grad: TensorLike, ksize: number | readonly number[], strides: number | readonly number[], padding: Padding, options: PoolOptions = {}): Tensor {
  return apply1("MaxPoolGrad", [origInput, origOutput, grad], poolAttrsFrom(ksize, strides, padding, options), options.name ?? "MaxPoolGrad");
}

/** TF's gen_nn_ops.avg_pool_grad(orig_input_shape, grad, ksize, strides, padding). */
export function avgPoolGrad(origInputShape: TensorLike, grad: TensorLike, ksize: number | readonly number[], strides: number | readonly number[], padding: Padding, options: PoolOptions = {}): Tensor {
  const g = graphOf([grad]);
  const dy = convertToTensor(grad, undefined, "grad", g);
  const sizes = convertToTensor(origInputShape, "int32", "orig_input_shape", g);
  return apply1("AvgPoolGrad", [sizes, dy], poolAttrsFrom(ksize, strides, padding, options), options.name ?? "AvgPoolGrad");
}
