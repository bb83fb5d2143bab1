/**
 * Core layers, TF1's tf.layers: Dense, Flatten, Dropout, as classes and functions.
 *
 *   tf.layers.dense(x, 10)   ->  dense/kernel, dense/bias; dense/MatMul -> dense/BiasAdd (-> dense/Relu)
 *   on rank > 2 inputs       ->  dense/Tensordot/Reshape -> dense/Tensordot/MatMul -> dense/Tensordot
 */
import { invalidArgument } from "../../ir/diagnostics";
import type { Tensor } from "../../ir/graph";
import { formatShape, isFullyDefined, type MaybeShape } from "../../ir/shape";
import { convertToTensor, type TensorLike } from "../../ir/ops/build";
import { cast, concat, gather, reshape, shape as shapeOp, transpose } from "../../ir/ops/array";
import { identity } from "../../ir/ops/control";
import { matmul } from "../../ir/ops/matmul";
import { biasAdd, dropout as nnDropout } from "../../ir/ops/nn";
import { smartCond } from "../control-flow";
import { zeros, type Initializer } from "../initializers";
import type { Constraint, Regularizer, Variable } from "../variables";
import { Layer, type Activation, type ApplyOptions, type LayerOptions } from "./layer";

export interface DenseOptions extends LayerOptions {
  activation?: Activation | null;
  useBias?: boolean;
  /** Default: the variable scope's initializer, else glorotUniform. */
  kernelInitializer?: Initializer;
  /** Default: zeros. */
  biasInitializer?: Initializer;
  kernelRegularizer?: Regularizer;
  biasRegularizer?: Regularizer;
  kernelConstraint?: Constraint;
  biasConstraint?: Constraint;
}

/** The layer's problem with its input, as an InvalidArgumentError naming the layer. */
export function inputError(layer: Layer, message: string, expected: string, received: MaybeShape, fix: string): Error {
  return invalidArgument({ code: "bad-layer-input", node: layer.scopeName ?? layer.name, message, expected, received: formatShape(received), fix });
}

export function positiveInt(value: unknown, what: string, layer: string): number {
  if (typeof value !== "number" || !Number.isInteger(value) || value <= 0)
    throw invalidArgument({
      code: "bad-layer-argument",
      node: layer,
      message: `${what} must be a positive integer`,
      expected: "an integer > 0",
      received: String(value),
      fix: `pass a positive integer ${what}`,
    });
  return value;
}

export class Dense extends Layer {
  readonly units: number;
  readonly activation: Activation | null;
  readonly useBias: boolean;
  kernel: Variable | null = null;
  bias: Variable | null = null;
  private readonly options: DenseOptions;

  constructor(units: number, options: DenseOptions = {}) {
    super(options);
    this.units = positiveInt(units, "units", options.name ?? "dense");
    this.activation = options.activation ?? null;
    this.useBias = options.useBias ?? true;
    this.options = options;
  }

  protected override build(inputShape: MaybeShape): void {
    if (inputShape === null || inputShape.length < 2)
      throw inputError(this, "the input of Dense must have rank 2 or more", "a shape [batch, ..., features]", inputShape, "reshape the input to [batch, features]");
    const last = inputShape[inputShape.length - 1];
    if (last === null)
      throw inputError(this, "the last dimension of the inputs to Dense should be defined; found null", "a known last dimension", inputShape, "give the placeholder a static last dimension");
    const o = this.options;
    this.kernel = this.addWeight("kernel", [last, this.units], { initializer: o.kernelInitializer, regularizer: o.kernelRegularizer, constraint: o.kernelConstraint });
    if (this.useBias)
      this.bias = this.addWeight("bias", [this.units], { initializer: o.biasInitializer ?? zeros(), regularizer: o.biasRegularizer, constraint: o.biasConstraint });
  }

  protected override call(inputs: Tensor): Tensor {
    const rank = inputs.rank;
    const x = inputs.dtype === this.dtype ? inputs : cast(inputs, this.dtype);
    let outputs = rank !== null && rank > 2 ? tensordotLast(x, this.kernel!, this.units) : matmul(x, this.kernel!);
    if (this.bias) outputs = biasAdd(outputs, this.bias);
    return this.activation ? this.activation(outputs) : outputs;
  }
}

/** TF's tensordot(x, kernel, [[rank - 1], [0]]): x flattened to a matrix, multiplied, reshaped back. */
function tensordotLast(x: Tensor, kernel: Tensor, units: number): Tensor {
  const g = x.graph;
  return g.nameScope("Tensordot", () => {
    const scope = g.nameScopeValue;
    const dims = x.shape!;
    const features = dims[dims.length - 1] as number;
    const free = dims.slice(0, -1);
    const flat = reshape(x, [-1, features], "Reshape");
    const product = matmul(flat, kernel, "MatMul");
    const unknown = free.filter((d) => d === null).length;
    // At most one unknown free dimension: a static target with -1 keeps the static shape.
    const target = unknown <= 1
      ? [...free.map((d) => d ?? -1), units]
      : concat([gather(shapeOp(x), free.map((_, i) => i), 0, "GatherV2"), [units]], 0, "concat");
    const shapeTensor = Array.isArray(target) ? convertToTensor(Int32Array.from(target), "int32", "shape", g) : target;
    return g.addOp({ type: "Reshape", name: scope, absoluteName: true, inputs: [product, shapeTensor] }).outputs[0];
  });
}

/** `tf.layers.dense(inputs, units, options)`. */
export function dense(inputs: TensorLike, units: number, options: DenseOptions = {}): Tensor {
  return new Dense(units, options).apply(inputs);
}

export interface FlattenOptions extends LayerOptions {
  dataFormat?: "channels_last" | "channels_first";
}

export class Flatten extends Layer {
  readonly dataFormat: "channels_last" | "channels_first";
  constructor(options: FlattenOptions = {}) {
    super(options);
    this.dataFormat = options.dataFormat ?? "channels_last";
  }

  protected override call(inputs: Tensor): Tensor {
    let x = inputs;
    if (x.rank === null) throw inputError(this, "Flatten needs an input of known rank", "rank 1 or more", x.shape, "give the input a static rank");
    if (x.rank === 0) throw inputError(this, "Flatten needs an input of rank 1 or more", "rank 1 or more", x.shape, "flatten a batch of values");
    if (this.dataFormat === "channels_first" && x.rank > 2) {
      const perm = [0, ...Array.from({ length: x.rank - 2 }, (_, i) => i + 2), 1];
      x = transpose(x, perm, "transpose");
    }
    const rest = x.shape!.slice(1);
    if (isFullyDefined(rest)) return reshape(x, [-1, rest.reduce((a, b) => a * b, 1)], "Reshape");
    const batch = x.shape![0];
    if (batch !== null) return reshape(x, [batch, -1], "Reshape");
    const dynamic = concat([gather(shapeOp(x), [0], 0, "strided_slice"), [-1]], 0, "Reshape/shape");
    return reshape(x, dynamic, "Reshape");
  }
}

/** `tf.layers.flatten(inputs, { name, dataFormat })`: [batch, ...] -> [batch, product]. */
export function flatten(inputs: TensorLike, options: FlattenOptions = {}): Tensor {
  return new Flatten(options).apply(inputs);
}

export interface DropoutLayerOptions extends LayerOptions {
  /** The fraction dropped; 0.5 by default. */
  rate?: number;
  noiseShape?: (number | null)[];
  seed?: number;
}

export class Dropout extends Layer {
  readonly rate: number;
  readonly noiseShape: (number | null)[] | undefined;
  readonly seed: number | undefined;
  constructor(options: DropoutLayerOptions = {}) {
    super(options);
    this.rate = options.rate ?? 0.5;
    this.noiseShape = options.noiseShape;
    this.seed = options.seed;
    if (typeof this.rate !== "number" || !(this.rate >= 0 && this.rate < 1))
      throw invalidArgument({
        code: "bad-layer-argument",
        node: this.name,
        message: "the dropout rate must be a number in [0, 1)",
        expected: "0 <= rate < 1",
        received: String(this.rate),
        fix: "pass the fraction of units to drop, e.g. rate: 0.5",
      });
  }

  /** Dropout when `training` (default false); the input unchanged (an Identity) otherwise. */
  protected override call(inputs: Tensor, options: ApplyOptions): Tensor {
    const training = options.training ?? false;
    return smartCond(
      training,
      () => (this.rate === 0 ? identity(inputs) : nnDropout(inputs, { rate: this.rate, noiseShape: this.noiseShape, seed: this.seed })),
      () => identity(inputs),
    );
  }
}

/** `tf.layers.dropout(inputs, { rate, noiseShape, seed, training, name })`. */
export function dropout(inputs: TensorLike, options: DropoutLayerOptions & ApplyOptions = {}): Tensor {
  return new Dropout(options).apply(inputs, { training: options.training });
}
