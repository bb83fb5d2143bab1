/**
 * `tf.layers.maxPooling2d` / `averagePooling2d` (and their classes), TF1's: no variables;
 * max_pooling2d/MaxPool, average_pooling2d/AvgPool. padding "valid" by default.
 */
import type { Tensor } from "../../ir/graph";
import type { TensorLike } from "../../ir/ops/build";
import { avgPool, maxPool } from "../../ir/ops/pool";
import { inputError } from "./core";
import { normalizeDataFormat, normalizePadding, normalizePair, type LayerDataFormat, type LayerPadding } from "./convolutional";
import { Layer, type LayerOptions } from "./layer";

export interface Pooling2DOptions extends LayerOptions {
  padding?: LayerPadding | "VALID" | "SAME";
  dataFormat?: LayerDataFormat;
}

abstract class Pooling2D extends Layer {
  readonly poolSize: [number, number];
  readonly strides: [number, number];
  readonly padding: LayerPadding;
  readonly dataFormat: LayerDataFormat;
  protected abstract readonly opType: "MaxPool" | "AvgPool";

  constructor(poolSize: number | readonly number[], strides: number | readonly number[], options: Pooling2DOptions = {}) {
    super(options);
    const label = options.name ?? this.name;
    this.poolSize = normalizePair(poolSize, "poolSize", label);
    this.strides = normalizePair(strides, "strides", label);
    this.padding = normalizePadding(options.padding ?? "valid", label);
    this.dataFormat = normalizeDataFormat(options.dataFormat, label);
  }

  protected override call(inputs: Tensor): Tensor {
    if (inputs.rank !== 4)
      throw inputError(this, `the input of ${this.opType} must have rank 4`, "a 4-D image batch", inputs.shape, "reshape the input to [batch, height, width, channels]");
    const format = this.dataFormat === "channels_first" ? "NCHW" : "NHWC";
    const padding = this.padding === "same" ? "SAME" : "VALID";
    const pool = this.opType === "MaxPool" ? maxPool : avgPool;
    return pool(inputs, this.poolSize, this.strides, padding, { dataFormat: format, name: this.opType });
  }
}

export class MaxPooling2D extends Pooling2D {
  protected readonly opType = "MaxPool" as const;
}

export class AveragePooling2D extends Pooling2D {
  protected readonly opType = "AvgPool" as const;
}

/** `tf.layers.maxPooling2d(inputs, poolSize, strides, { padding, dataFormat, name })`. */
export function maxPooling2d(inputs: TensorLike, poolSize: number | readonly number[], strides: number | readonly number[], options: Pooling2DOptions = {}): Tensor {
  return new MaxPooling2D(poolSize, strides, options).apply(inputs);
}

/** `tf.layers.averagePooling2d(inputs, poolSize, strides, { padding, dataFormat, name })`. */
export function averagePooling2d(inputs: TensorLike, poolSize: number | readonly number[], strides: number | readonly number[], options: Pooling2DOptions = {}): Tensor {
  return new AveragePooling2D(poolSize, strides, options).apply(inputs);
}
