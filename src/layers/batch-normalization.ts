/**
 * `tf.layers.BatchNormalization` — TF1's Keras v1 BatchNormalization — and the functional
 * `tf.layers.batchNormalization(inputs, options)`.
 *
 *   variables   <name>/gamma, <name>/beta (trainable), <name>/moving_mean, <name>/moving_variance
 *               (non-trainable; GLOBAL_VARIABLES and MOVING_AVERAGE_VARIABLES), and with renorm
 *               <name>/renorm_mean, <name>/renorm_stddev (non-trainable)
 *   shapes      [C] for one axis; with several axes or virtual batches the input's shape with 1
 *               in every other dimension (and an extra 1 after the batch for virtual batches)
 *   fused       undefined or true: FusedBatchNormV3 whenever possible (4-D input, axis 1 or 3,
 *               no renorm, virtual batch or adjustment), as TF 1.x's v1 layer; false: never
 *   updates     the class keeps them on `layer.updates` only (Keras); the function also adds
 *               them to UPDATE_OPS, as tf.layers.batch_normalization does
 * The computation itself is ./batch-normalization-forward.ts.
 */
import type { Tensor } from "../../ir/graph";
import type { MaybeShape } from "../../ir/shape";
import { sqrt } from "../../ir/ops/elementwise";
import type { TensorLike } from "../../ir/ops/build";
import { GraphKeys } from "../collections";
import { ones, zeros, type Initializer } from "../initializers";
import type { Constraint, Regularizer, Variable } from "../variables";
import { Layer, type ApplyOptions, type LayerOptions } from "./layer";
import {
  badArgument,
  badInput,
  checkRenormClipping,
  fusedCanBeUsed,
  resolveAxes,
  type Adjustment,
  type BatchNormSpec,
  type RenormClipping,
} from "./batch-normalization-base";
import { batchNormForward } from "./batch-normalization-forward";

export interface BatchNormalizationOptions extends LayerOptions {
  /** The feature axis (or axes) normalized separately; -1 by default. */
  axis?: number | number[];
  /** Moving-average momentum; 0.99 by default. */
  momentum?: number;
  /** Added to the variance; 1e-3 by default (fused: at least 1.001e-5). */
  epsilon?: number;
  /** Add beta (default true). */
  center?: boolean;
  /** Multiply by gamma (default true). */
  scale?: boolean;
  betaInitializer?: Initializer;
  gammaInitializer?: Initializer;
  movingMeanInitializer?: Initializer;
  movingVarianceInitializer?: Initializer;
  betaRegularizer?: Regularizer;
  gammaRegularizer?: Regularizer;
  betaConstraint?: Constraint;
  gammaConstraint?: Constraint;
  /** Batch renormalization (adds renorm_mean and renorm_stddev). */
  renorm?: boolean;
  renormClipping?: RenormClipping | null;
  /** Momentum of renorm_mean / renorm_stddev; 0.99 by default. */
  renormMomentum?: number;
  /** undefined or true: fused when possible; false: never. */
  fused?: boolean;
  /** Ghost batch normalization over sub-batches of this size (must divide the batch). */
  virtualBatchSize?: number;
  adjustment?: Adjustment;
  /** Where `apply` adds the updates besides `layer.updates`: null (default, Keras) or a collection key. */
  updatesCollection?: string | null;
}

export class BatchNormalization extends Layer {
  /** The normalized axes, resolved against the input rank once built. */
  axis: number[] | number;
  readonly momentum: number;
  readonly epsilon: number;
  readonly center: boolean;
  readonly scale: boolean;
  readonly renorm: boolean;
  readonly renormClipping: RenormClipping;
  readonly renormMomentum: number;
  readonly virtualBatchSize: number | null;
  readonly adjustment: Adjustment | null;
  /** Whether the fused kernel is used; resolved when the layer is built. */
  fused: boolean | undefined;
  gamma: Variable | null = null;
  beta: Variable | null = null;
  movingMean: Variable | null = null;
  movingVariance: Variable | null = null;
  renormMean: Variable | null = null;
  renormStddev: Variable | null = null;
  private readonly options: BatchNormalizationOptions;
  private rank: number | null = null;

  constructor(options: BatchNormalizationOptions = {}) {
    super(options);
    this.options = options;
    this.axis = Array.isArray(options.axis) ? [...options.axis] : options.axis ?? -1;
    this.momentum = options.momentum ?? 0.99;
    this.epsilon = options.epsilon ?? 1e-3;
    this.center = options.center ?? true;
    this.scale = options.scale ?? true;
    this.renorm = options.renorm ?? false;
    this.renormClipping = this.renorm ? checkRenormClipping(options.renormClipping, this.name) : {};
    this.renormMomentum = options.renormMomentum ?? 0.99;
    this.virtualBatchSize = options.virtualBatchSize ?? null;
    this.adjustment = options.adjustment ?? null;
    this.fused = options.fused === false ? false : undefined;
    this.updatesCollection = options.updatesCollection ?? null;
    if (this.virtualBatchSize !== null && !(Number.isInteger(this.virtualBatchSize) && this.virtualBatchSize > 0))
      throw badArgument(this.name, "virtualBatchSize must be a positive integer that divides the batch size", "an integer > 0", String(this.virtualBatchSize), "pass a positive divisor of the batch size");
    if (this.virtualBatchSize !== null && this.adjustment !== null)
      throw badArgument(this.name, "adjustment cannot be used with virtualBatchSize", "one of them", "both", "drop adjustment or virtualBatchSize");
  }

  protected override build(inputShape: MaybeShape): void {
    const node = this.scopeName ?? this.name;
    if (inputShape === null || inputShape.length === 0)
      throw badInput(node, "batch normalization needs an input of known rank", "rank 1 or more", inputShape, "give the input a static rank");
    const rank = inputShape.length;
    const axis = resolveAxes(this.axis, rank, node);
    if (this.virtualBatchSize !== null && axis.includes(0))
      throw badArgument(node, "with virtualBatchSize the batch dimension must be 0, so axis cannot include 0", "axes other than 0", JSON.stringify(axis), "normalize over a feature axis");
    for (const a of axis)
      if (inputShape[a] === null)
        throw badInput(node, `the input has an undefined dimension ${a} (a normalized axis)`, "known feature dimensions", inputShape, "give the normalized axes a static size");
    this.axis = axis;
    this.rank = rank;
    this.fused = this.fused !== false && fusedCanBeUsed(axis, rank, this.renorm, this.virtualBatchSize, this.adjustment);

    let paramShape: number[];
    if (axis.length === 1 && this.virtualBatchSize === null) paramShape = [inputShape[axis[0]] as number];
    else {
      paramShape = inputShape.map((d, i) => (axis.includes(i) ? (d as number) : 1));
      if (this.virtualBatchSize !== null) paramShape.splice(1, 0, 1);
    }
    const o = this.options;
    if (this.scale)
      this.gamma = this.addWeight("gamma", paramShape, { initializer: o.gammaInitializer ?? ones(), regularizer: o.gammaRegularizer, constraint: o.gammaConstraint });
    if (this.center)
      this.beta = this.addWeight("beta", paramShape, { initializer: o.betaInitializer ?? zeros(), regularizer: o.betaRegularizer, constraint: o.betaConstraint });
    const movingCollections = [GraphKeys.GLOBAL_VARIABLES, GraphKeys.MOVING_AVERAGE_VARIABLES];
    const movingVarianceInitializer = o.movingVarianceInitializer ?? ones();
    this.movingMean = this.addWeight("moving_mean", paramShape, { initializer: o.movingMeanInitializer ?? zeros(), trainable: false, collections: movingCollections });
    this.movingVariance = this.addWeight("moving_variance", paramShape, { initializer: movingVarianceInitializer, trainable: false, collections: movingCollections });
    if (this.renorm) {
      // TF 2.0's renorm variables: renorm_mean starts as the moving mean, renorm_stddev as sqrt(moving variance).
      this.renormMean = this.addWeight("renorm_mean", paramShape, { initializer: o.movingMeanInitializer ?? zeros(), trainable: false });
      this.renormStddev = this.addWeight("renorm_stddev", paramShape, {
        initializer: (shape, dtype) => sqrt(movingVarianceInitializer(shape, dtype)),
        trainable: false,
      });
    }
  }

  /** Normalizes `inputs`; `training` (default false) is a boolean or a bool tensor. */
  protected override call(inputs: Tensor, options: ApplyOptions): Tensor {
    const node = this.scopeName ?? this.name;
    if (inputs.rank !== this.rank)
      throw badInput(node, `the layer was built for inputs of rank ${this.rank}`, `rank ${this.rank}`, inputs.shape, "apply the layer to inputs of one rank, or create another layer");
    const spec: BatchNormSpec = {
      axis: this.axis as number[],
      momentum: this.momentum,
      epsilon: this.epsilon,
      gamma: this.gamma,
      beta: this.beta,
      movingMean: this.movingMean!,
      movingVariance: this.movingVariance!,
      renorm: this.renorm ? { mean: this.renormMean!, stddev: this.renormStddev!, clipping: this.renormClipping, momentum: this.renormMomentum } : null,
      virtualBatchSize: this.virtualBatchSize,
      adjustment: this.adjustment,
      fused: this.fused === true,
    };
    const { output, updates } = batchNormForward(inputs, spec, options.training ?? false, node);
    this.addUpdate(updates);
    return output;
  }
}

export interface BatchNormalizationFunctionOptions extends BatchNormalizationOptions {
  /** A boolean (resolved while building) or a bool tensor such as a placeholder; default false. */
  training?: boolean | Tensor;
}

/**
 * `tf.layers.batchNormalization(inputs, options)`: a new BatchNormalization layer applied once
 * (variables reused with `reuse` and a `name`); its moving-average updates go to UPDATE_OPS.
 */
export function batchNormalization(inputs: TensorLike, options: BatchNormalizationFunctionOptions = {}): Tensor {
  const { training, ...layerOptions } = options;
  const layer = new BatchNormalization({ ...layerOptions, updatesCollection: options.updatesCollection === undefined ? GraphKeys.UPDATE_OPS : options.updatesCollection });
  return layer.apply(inputs, { training: training ?? false });
}
