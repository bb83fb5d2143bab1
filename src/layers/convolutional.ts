/**
 * `tf.layers.conv2d` / `tf.layers.Conv2D`, TF1's: kernel [kh, kw, in, filters] and bias
 * [filters] under the layer's scope; conv2d/Conv2D -> conv2d/BiasAdd (-> conv2d/Relu).
 * padding "valid" (default) or "same", dataFormat "channels_last" (NHWC) or "channels_first" (NCHW).
 */
import { invalidArgument } from "../../ir/diagnostics";
import type { Tensor } from "../../ir/graph";
import type { MaybeShape } from "../../ir/shape";
import type { TensorLike } from "../../ir/ops/build";
import { conv2d as nnConv2d } from "../../ir/ops/conv";
import { biasAdd } from "../../ir/ops/nn";
import { zeros, type Initializer } from "../initializers";
import type { Constraint, Regularizer, Variable } from "../variables";
import { inputError, positiveInt } from "./core";
import { Layer, type Activation, type LayerOptions } from "./layer";

export type LayerPadding = "valid" | "same";
export type LayerDataFormat = "channels_last" | "channels_first";

/** TF's conv_utils.normalize_padding: "valid" or "same", in any case. */
export function normalizePadding(value: unknown, layer: string): LayerPadding {
  const p = typeof value === "string" ? value.toLowerCase() : value;
  if (p !== "valid" && p !== "same")
    throw invalidArgument({
      code: "bad-layer-argument",
      node: layer,
      message: "padding must be \"valid\" or \"same\"",
      expected: '"valid" | "same"',
      received: JSON.stringify(value),
      fix: 'use padding: "valid" or padding: "same"',
    });
  return p;
}

export function normalizeDataFormat(value: unknown, layer: string): LayerDataFormat {
  const f = value === undefined ? "channels_last" : typeof value === "string" ? value.toLowerCase() : value;
  if (f !== "channels_last" && f !== "channels_first")
    throw invalidArgument({
      code: "bad-layer-argument",
      node: layer,
      message: "dataFormat must be \"channels_last\" or \"channels_first\"",
      expected: '"channels_last" | "channels_first"',
      received: JSON.stringify(value),
      fix: 'use dataFormat: "channels_last" (NHWC) or "channels_first" (NCHW)',
    });
  return f;
}

/** TF's conv_utils.normalize_tuple: a number or a pair of positive integers. */
export function normalizePair(value: number | readonly number[], what: string, layer: string): [number, number] {
  const pair = typeof value === "number" ? [value, value] : [...value];
  if (pair.length !== 2)
    throw invalidArgument({
      code: "bad-layer-argument",
      node: layer,
      message: `${what} must be a number or a pair of numbers`,
      expected: "n or [h, w]",
      received: JSON.stringify(value),
      fix: `pass ${what} as one integer or [height, width]`,
    });
  return [positiveInt(pair[0], what, layer), positiveInt(pair[1], what, layer)];
}

export interface Conv2DOptions extends LayerOptions {
  strides?: number | readonly number[];
  padding?: LayerPadding | "VALID" | "SAME";
  dataFormat?: LayerDataFormat;
  dilationRate?: number | readonly number[];
  activation?: Activation | null;
  useBias?: boolean;
  kernelInitializer?: Initializer;
  biasInitializer?: Initializer;
  kernelRegularizer?: Regularizer;
  biasRegularizer?: Regularizer;
  kernelConstraint?: Constraint;
  biasConstraint?: Constraint;
}

export class Conv2D extends Layer {
  readonly filters: number;
  readonly kernelSize: [number, number];
  readonly strides: [number, number];
  readonly padding: LayerPadding;
  readonly dataFormat: LayerDataFormat;
  readonly dilationRate: [number, number];
  readonly activation: Activation | null;
  readonly useBias: boolean;
  kernel: Variable | null = null;
  bias: Variable | null = null;
  private readonly options: Conv2DOptions;

  constructor(filters: number, kernelSize: number | readonly number[], options: Conv2DOptions = {}) {
    super(options);
    const label = options.name ?? "conv2d";
    this.filters = positiveInt(filters, "filters", label);
    this.kernelSize = normalizePair(kernelSize, "kernelSize", label);
    this.strides = normalizePair(options.strides ?? 1, "strides", label);
    this.padding = normalizePadding(options.padding ?? "valid", label);
    this.dataFormat = normalizeDataFormat(options.dataFormat, label);
    this.dilationRate = normalizePair(options.dilationRate ?? 1, "dilationRate", label);
    if (this.strides.some((s) => s > 1) && this.dilationRate.some((d) => d > 1))
      throw invalidArgument({
        code: "bad-layer-argument",
        node: label,
        message: "strides > 1 are not supported together with dilationRate > 1",
        expected: "strides 1 or dilationRate 1",
        received: `strides ${JSON.stringify(this.strides)}, dilationRate ${JSON.stringify(this.dilationRate)}`,
        fix: "use either strides or dilation, not both",
      });
    this.activation = options.activation ?? null;
    this.useBias = options.useBias ?? true;
    this.options = options;
  }

  protected override build(inputShape: MaybeShape): void {
    if (inputShape === null || inputShape.length !== 4)
      throw inputError(this, "the input of Conv2D must have rank 4", this.dataFormat === "channels_last" ? "[batch, height, width, channels]" : "[batch, channels, height, width]", inputShape, "reshape the input to a 4-D image batch");
    const channels = inputShape[this.dataFormat === "channels_first" ? 1 : 3];
    if (channels === null)
      throw inputError(this, "the channel dimension of the inputs should be defined; found null", "a known channel dimension", inputShape, "give the input a static channel dimension");
    const o = this.options;
    this.kernel = this.addWeight("kernel", [...this.kernelSize, channels, this.filters], {
      initializer: o.kernelInitializer,
      regularizer: o.kernelRegularizer,
      constraint: o.kernelConstraint,
    });
    if (this.useBias)
      this.bias = this.addWeight("bias", [this.filters], { initializer: o.biasInitializer ?? zeros(), regularizer: o.biasRegularizer, constraint: o.biasConstraint });
  }

  protected override call(inputs: Tensor): Tensor {
    const format = this.dataFormat === "channels_first" ? "NCHW" : "NHWC";
    let outputs = nnConv2d(inputs, this.kernel!, this.strides, this.padding === "same" ? "SAME" : "VALID", {
      dataFormat: format,
      dilations: this.dilationRate,
      name: "Conv2D",
    });
    if (this.bias) outputs = biasAdd(outputs, this.bias, format);
    return this.activation ? this.activation(outputs) : outputs;
  }
}

/** `tf.layers.conv2d(inputs, filters, kernelSize, options)`. */
export function conv2d(inputs: TensorLike, filters: number, kernelSize: number | readonly number[], options: Conv2DOptions = {}): Tensor {
  return new Conv2D(filters, kernelSize, options).apply(inputs);
}
