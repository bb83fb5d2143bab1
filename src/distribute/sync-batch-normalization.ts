/**
 * `tf.keras.layers.experimental.SyncBatchNormalization`: batch normalization whose training
 * statistics are those of the global batch, all replicas together (TF 2.2's
 * normalization_v2.SyncBatchNormalization, a BatchNormalization subclass that is never fused).
 *
 * Inside `strategy.run`, in training, each replica computes over its shard
 *
 *   local_sum = Σx   local_squared_sum = Σx²   count = the number of values per feature
 *
 * and one AllReduce op (the three packed) sums them over the replicas; then
 *
 *   mean = Σx / N      variance = Σx² / N - mean²        (TF's formula; N the global count)
 *
 * so N replicas normalize exactly as plain BN over the concatenated batch, gradients
 * included (they flow back through the AllReduce). The moving statistics move toward the
 * global ones; being the same on every replica, that update is built once and shared by the
 * replicas' layers (`layer.updates`), so a step applies it once. In inference, and outside a
 * replica context (no strategy, or cross-replica context), the layer is plain BatchNormalization.
 *
 * The BatchNormalization class offers no hook for the statistics (TF's
 * `_calculate_mean_and_var`), so the training path in a replica context is built here, op
 * for op as the base class's non-fused path: cond(training, batch, moving) statistics,
 * cond(training, AssignMovingAvg, variable) updates, tf.nn.batchNormalization.
 */
import { UnimplementedError } from "../../ir/diagnostics";
import type { Tensor } from "../../ir/graph";
import type { MaybeShape } from "../../ir/shape";
import { cast, gather, reshape, shape as shapeOf, squeeze } from "../../ir/ops/array";
import { constantOp } from "../../ir/ops/build";
import { div, square, sub } from "../../ir/ops/elementwise";
import { reduceProd, reduceSum } from "../../ir/ops/reduce";
import { NDArray } from "../../ir/ndarray";
import { smartCond } from "../control-flow";
import { BatchNormalization, type BatchNormalizationOptions } from "../layers/batch-normalization";
import { trainingValue, type Training } from "../layers/batch-normalization-base";
import type { ApplyOptions } from "../layers/layer";
import { assignMovingAverage } from "../moving-averages";
import { batchNormalization } from "../nn/batch-norm";
import type { Variable } from "../variables";
import { getReplicaContext } from "./current";
import type { ReplicaContext } from "./replica-context";

export type SyncBatchNormalizationOptions = Omit<BatchNormalizationOptions, "fused">;

export class SyncBatchNormalization extends BatchNormalization {
  private builtRank: number | null = null;

  constructor(options: SyncBatchNormalizationOptions = {}) {
    // TF: "SyncBatchNormalization does not support fused=True".
    super({ ...options, fused: false });
  }

  protected override build(inputShape: MaybeShape): void {
    super.build(inputShape);
    this.builtRank = inputShape === null ? null : inputShape.length;
  }

  protected override call(inputs: Tensor, options: ApplyOptions): Tensor {
    const ctx = getReplicaContext();
    const training = options.training ?? false;
    if (!ctx || trainingValue(training) === false) return super.call(inputs, options);
    const node = this.scopeName ?? this.name;
    const unsupported = [this.renorm && "renorm", this.virtualBatchSize !== null && "virtualBatchSize", this.adjustment !== null && "adjustment"].filter(Boolean);
    if (unsupported.length)
      throw new UnimplementedError({
        code: "sync-batch-norm-option",
        node,
        message: `SyncBatchNormalization does not support ${unsupported.join(", ")} when training inside strategy.run`,
        fix: "drop the option, or use it with tf.layers.BatchNormalization (per-replica statistics)",
      });
    if (inputs.rank !== this.builtRank) return super.call(inputs, options); // the base class reports the rank problem
    const { output, updates } = this.syncForward(inputs, training, ctx);
    this.addUpdate(updates);
    return output;
  }

  /** The base class's non-fused forward, with the statistics all-reduced across replicas. */
  private syncForward(x: Tensor, training: Training, ctx: ReplicaContext): { output: Tensor; updates: Tensor[] } {
    const axis = this.axis as number[];
    const ndims = x.rank!;
    const reductionAxes = Array.from({ length: ndims }, (_, i) => i).filter((i) => !axis.includes(i));
    const broadcastShape = new Array<number>(ndims).fill(1);
    broadcastShape[axis[0]] = x.shape![axis[0]] as number;
    const featuresLast = reductionAxes.length === ndims - 1 && reductionAxes.every((a, i) => a === i);
    const broadcast = (v: Tensor | null): Tensor | null => (v !== null && v.rank !== ndims && !featuresLast ? reshape(v, broadcastShape) : v);

    const [batchMean, batchVariance] = this.calculateMeanAndVar(x, reductionAxes, axis.length > 1, ctx);
    const movingMean = this.movingMean!;
    const movingVariance = this.movingVariance!;
    const mean = smartCond(training, () => batchMean, () => movingMean as Tensor);
    const variance = smartCond(training, () => batchVariance, () => movingVariance as Tensor);
    const update = (variable: Variable, value: Tensor) =>
      ctx.updateMirrored(variable, () => smartCond(training, () => assignMovingAverage(variable, value, this.momentum), () => variable as Tensor));
    const updates = [update(movingMean, mean), update(movingVariance, variance)];
    const output = batchNormalization(x, broadcast(mean)!, broadcast(variance)!, broadcast(this.beta), broadcast(this.gamma), this.epsilon);
    return { output, updates };
  }

  /**
   * TF's SyncBatchNormalization._calculate_mean_and_var in a replica context: the global
   * mean and (biased) variance over `axes`, from all-reduced sums, squared sums and counts.
   */
  protected calculateMeanAndVar(x: Tensor, axes: number[], keepDims: boolean, ctx: ReplicaContext): [Tensor, Tensor] {
    const graph = x.graph;
    return graph.nameScope("moments", () => {
      const localSum = reduceSum(x, axes, true, "local_sum");
      const localSquaredSum = reduceSum(square(x), axes, true, "local_squared_sum");
      const dims = axes.map((a) => x.shape![a]);
      const count = dims.every((d): d is number => d !== null)
        ? constantOp(new NDArray("float32", [], Float32Array.of(dims.reduce((p, d) => p * d, 1))), "count", graph)
        : cast(reduceProd(gather(shapeOf(x), axes)), "float32", "count");
      const [ySum, ySquaredSum, globalCount] = ctx.allReduce("SUM", [localSum, localSquaredSum, count]);
      let mean = div(ySum, globalCount, "mean");
      const ySquaredMean = div(ySquaredSum, globalCount, "squared_mean");
      // var = E(x²) - E(x)²
      let variance = sub(ySquaredMean, square(mean), "variance");
      if (!keepDims) {
        mean = squeeze(mean, axes);
        variance = squeeze(variance, axes);
      }
      return [mean, variance];
    });
  }
}
