/**
 * tf.nn's batch-normalization functions, built exactly as TF1's Python (nn_impl.py) builds them,
 * op for op and name for name:
 *   moments            mean = reduce_mean(x, axes, keepdims); variance = reduce_mean(
 *                      squared_difference(x, stop_gradient(mean))) — the biased variance
 *   weightedMoments    the frequency-weighted two-pass mean and variance
 *   batchNormalization inv = rsqrt(variance + ε)·scale; x·inv + (offset - mean·inv)
 *   fusedBatchNorm     the FusedBatchNormV3 op (epsilon at least 1.001e-5; in training the
 *                      returned variance is Bessel-corrected, n/(n-1))
 *   batchNormWithGlobalNormalization  batchNormalization with gamma only when scaling
 */
import { invalidArgument } from "../../ir/diagnostics";
import type { Tensor } from "../../ir/graph";
import { cast, squeeze, zerosLike } from "../../ir/ops/array";
import { fusedBatchNormOp } from "../../ir/ops/batch-norm";
import { constantOp, convertToTensor, graphOf, type TensorLike } from "../../ir/ops/build";
import { stopGradient } from "../../ir/ops/control";
import { add, mul, neg, reciprocal, rsqrt, squaredDifference, sub } from "../../ir/ops/elementwise";
import type { DataFormat } from "../../ir/ops/pool";
import { reduceMean, reduceSum } from "../../ir/ops/reduce";
import { NDArray } from "../../ir/ndarray";

export interface MomentsOptions {
  /** Accepted for TF1 compatibility and ignored, as TF1's implementation ignores it. */
  shift?: TensorLike | null;
  keepDims?: boolean;
  name?: string;
}

/**
 * `tf.nn.moments(x, axes)`: [mean, variance] over `axes`. Ops `moments/mean` and
 * `moments/variance` (kept dims), squeezed by `moments/Squeeze` and `moments/Squeeze_1`
 * unless keepDims.
 */
export function moments(x: TensorLike, axes: number[], options: MomentsOptions = {}): [Tensor, Tensor] {
  const g = graphOf([x]);
  return g.nameScope(options.name ?? "moments", () => {
    const y = convertToTensor(x, undefined, "x", g);
    let mean = reduceMean(y, axes, true, "mean");
    let variance = reduceMean(squaredDifference(y, stopGradient(mean)), axes, true, "variance");
    if (!options.keepDims) {
      mean = squeeze(mean, axes);
      variance = squeeze(variance, axes);
    }
    return [mean, variance];
  });
}

export interface WeightedMomentsOptions {
  keepDims?: boolean;
  name?: string;
}

/**
 * `tf.nn.weighted_moments(x, axes, frequency_weights)`: the mean and (biased) variance of x
 * with each element counted `frequencyWeights` times (weights broadcast against x).
 */
export function weightedMoments(x: TensorLike, axes: number[], frequencyWeights: TensorLike, options: WeightedMomentsOptions = {}): [Tensor, Tensor] {
  const g = graphOf([x, frequencyWeights]);
  return g.nameScope(options.name ?? "weighted_moments", () => {
    const tx = convertToTensor(x, undefined, "x", g);
    let w = convertToTensor(frequencyWeights, undefined, "frequency_weights", g);
    if (w.dtype !== tx.dtype) w = cast(w, tx.dtype);
    // keep_dims=True throughout, so the results stay broadcast-compatible with x.
    const weightedInputSum = reduceSum(mul(w, tx), axes, true, "weighted_input_sum");
    // Weights broadcast to x's shape, so the sum of weights counts every element.
    const broadcastWeights = add(w, zerosLike(tx));
    const sumOfWeights = reduceSum(broadcastWeights, axes, true, "sum_of_weights");
    const divisor = reciprocal(sumOfWeights, "inv_weight_sum");
    let mean = mul(weightedInputSum, divisor, "Mul");
    const distsq = reduceSum(mul(w, squaredDifference(tx, mean)), axes, true, "weighted_distsq");
    let variance = mul(distsq, divisor, "Mul");
    if (!options.keepDims) {
      mean = squeeze(mean, axes);
      variance = squeeze(variance, axes);
    }
    return [mean, variance];
  });
}

/**
 * `tf.nn.batch_normalization(x, mean, variance, offset, scale, variance_epsilon)`:
 * (x - mean)·scale/sqrt(variance + ε) + offset, built as TF1 builds it (which BN folding and
 * TF's quantization tools recognize): inv = rsqrt(variance + ε)·scale; x·inv + (offset - mean·inv).
 * `offset` and `scale` may be null.
 */
export function batchNormalization(
  x: TensorLike,
  mean: TensorLike,
  variance: TensorLike,
  offset: TensorLike | null | undefined,
  scale: TensorLike | null | undefined,
  varianceEpsilon: number,
  name?: string,
): Tensor {
  const g = graphOf([x, mean, variance, offset ?? null, scale ?? null]);
  return g.nameScope(name ?? "batchnorm", () => {
    let inv = rsqrt(add(variance, varianceEpsilon));
    if (scale !== null && scale !== undefined) inv = mul(inv, scale);
    const shift = offset !== null && offset !== undefined ? sub(offset, mul(mean, inv)) : mul(neg(mean), inv);
    return add(mul(x, inv), shift);
  });
}

export interface FusedBatchNormOptions {
  /** Required when not training (or when exponentialAvgFactor is not 1); ignored otherwise. */
  mean?: TensorLike | null;
  variance?: TensorLike | null;
  /** Default 0.001; values below 1.001e-5 are raised to it, as TF does for cuDNN. */
  epsilon?: number;
  dataFormat?: DataFormat;
  isTraining?: boolean;
  /** TF 2.x's v1 wrapper argument: the returned statistics are blended with mean / variance. */
  exponentialAvgFactor?: number;
  name?: string;
}

/** TF's minimum epsilon for fused batch norm (cuDNN's CUDNN_BN_MIN_EPSILON plus a margin). */
export const FUSED_BATCH_NORM_MIN_EPSILON = 1.001e-5;

/**
 * `tf.nn.fused_batch_norm(x, scale, offset, mean, variance, ...)`: [y, batchMean, batchVariance]
 * from one FusedBatchNormV3 op. x is 4-D (NHWC or NCHW). In training the statistics are the
 * batch's and batchVariance is Bessel-corrected (n/(n-1)) while y uses the biased one; in
 * inference `mean` and `variance` normalize and come back unchanged.
 */
export function fusedBatchNorm(x: TensorLike, scale: TensorLike, offset: TensorLike, options: FusedBatchNormOptions = {}): [Tensor, Tensor, Tensor] {
  const isTraining = options.isTraining ?? true;
  const factor = options.exponentialAvgFactor ?? 1;
  const g = graphOf([x, scale, offset, options.mean ?? null, options.variance ?? null]);
  const tx = convertToTensor(x, undefined, "input", g);
  const tScale = convertToTensor(scale, undefined, "scale", g);
  const tOffset = convertToTensor(offset, undefined, "offset", g);
  const missing = [options.mean == null ? "mean" : null, options.variance == null ? "variance" : null].filter((s) => s !== null);
  if ((!isTraining || factor !== 1) && missing.length)
    throw invalidArgument({
      code: "missing-statistics",
      node: g.uniqueName(options.name ?? "FusedBatchNormV3", false),
      message: `fusedBatchNorm needs \`mean\` and \`variance\` (1-D, one entry per channel) when ${isTraining ? "exponentialAvgFactor is not 1" : "isTraining is false"}`,
      expected: "mean and variance tensors",
      received: `no ${missing.join(" and no ")}`,
      fix: "pass { mean: movingMean, variance: movingVariance }, or isTraining: true",
    });
  const empty = () => constantOp(new NDArray("float32", [0], new Float32Array(0)), "Const", g);
  const mean = options.mean == null ? empty() : options.mean;
  const variance = options.variance == null ? empty() : options.variance;
  const requested = options.epsilon ?? 0.001;
  const epsilon = requested > FUSED_BATCH_NORM_MIN_EPSILON ? requested : FUSED_BATCH_NORM_MIN_EPSILON;
  const op = fusedBatchNormOp(tx, tScale, tOffset, mean, variance, {
    epsilon,
    exponentialAvgFactor: factor,
    dataFormat: options.dataFormat ?? "NHWC",
    isTraining,
    version: 3,
    name: options.name,
  });
  return [op.outputs[0], op.outputs[1], op.outputs[2]];
}

/** TF1's `tf.nn.batch_norm_with_global_normalization`: batchNormalization, with gamma only when scaleAfterNormalization. */
export function batchNormWithGlobalNormalization(
  t: TensorLike,
  m: TensorLike,
  v: TensorLike,
  beta: TensorLike,
  gamma: TensorLike,
  varianceEpsilon: number,
  scaleAfterNormalization: boolean,
  name?: string,
): Tensor {
  return batchNormalization(t, m, v, beta, scaleAfterNormalization ? gamma : null, varianceEpsilon, name);
}
