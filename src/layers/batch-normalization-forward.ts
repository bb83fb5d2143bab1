/**
 * The computation of TF1's BatchNormalization layer (keras/layers/normalization.py, v1), given
 * its variables: `batchNormForward(inputs, spec, training)` -> { output, updates }.
 *
 * Non-fused (any rank, any axes):
 *   virtual batches   x -> reshape [V, -1, ...rest]; statistics over axis 0 (and the other
 *                     non-feature axes), one per ghost batch along axis 1; the moving
 *                     statistics move toward their mean over the ghost batches
 *   adjustment        (scale, bias) = adjustment(shape(x)), ones / zeros when not training;
 *                     gamma' = scale·gamma, beta' = bias·gamma + beta
 *   moments           tf.nn.moments (biased variance); cond(training, batch, moving)
 *   renorm            r, d (stop-gradient): gamma' = r·gamma, beta' = d·gamma + beta
 *   updates           cond(training, AssignMovingAvg(moving, batch), moving) for the mean and
 *                     the variance: an inference run of a tensor `training` assigns nothing
 *   output            tf.nn.batchNormalization(x, mean, variance, beta', gamma', ε)
 * Fused (4-D, axis 1 or 3): cond(training, FusedBatchNormV3 training, FusedBatchNormV3
 * inference); the moving variance moves toward the Bessel-corrected batch variance.
 * With training === false (or a false Const) no statistics are computed and no assign is built.
 */
import type { Tensor } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import { constantOp } from "../../ir/ops/build";
import { onesLike, reshape, shape as shapeOf, zerosLike } from "../../ir/ops/array";
import { stopGradient } from "../../ir/ops/control";
import { reduceMean } from "../../ir/ops/reduce";
import { smartCond } from "../control-flow";
import { assignMovingAverage } from "../moving-averages";
import { batchNormalization, fusedBatchNorm, moments } from "../nn/batch-norm";
import type { Variable } from "../variables";
import { badInput, composeTransforms, trainingValue, type BatchNormResult, type BatchNormSpec, type Training } from "./batch-normalization-base";
import { renormCorrection } from "./batch-normalization-renorm";

export function batchNormForward(inputs: Tensor, spec: BatchNormSpec, training: Training, node: string): BatchNormResult {
  return spec.fused ? fusedForward(inputs, spec, training) : nonFusedForward(inputs, spec, training, node);
}

/** cond(training, AssignMovingAvg(variable, value), variable): the update of one moving statistic. */
function movingUpdate(training: Training, variable: Variable, value: Tensor, momentum: number): Tensor {
  return smartCond(training, () => assignMovingAverage(variable, value, momentum), () => variable as Tensor);
}

function nonFusedForward(inputs: Tensor, spec: BatchNormSpec, training: Training, node: string): BatchNormResult {
  let x = inputs;
  let axis = [...spec.axis];
  let undoVirtualBatching: ((t: Tensor) => Tensor) | null = null;
  const virtual = spec.virtualBatchSize !== null;
  if (virtual) {
    const rest = x.shape!.slice(1);
    if (rest.some((d) => d === null))
      throw badInput(node, "virtual batches need every dimension but the batch known", "a shape [batch, ...known dims]", x.shape, "give the input static non-batch dimensions");
    const restDims = rest as number[];
    // TF: [virtual_batch_size, -1] + shape[1:]; ghost batch j holds rows j, j + G, j + 2G ...
    x = reshape(x, [spec.virtualBatchSize!, -1, ...restDims]);
    undoVirtualBatching = (t) => reshape(t, [-1, ...restDims]);
    axis = axis.map((a) => a + 1);
  }
  const ndims = x.rank!;
  const reductionAxes = Array.from({ length: ndims }, (_, i) => i).filter((i) => !axis.includes(i));
  if (virtual) reductionAxes.splice(1, 1); // keep the ghost-batch dimension
  const broadcastShape = new Array<number>(ndims).fill(1);
  broadcastShape[axis[0]] = x.shape![axis[0]] as number;
  const featuresLast = reductionAxes.length === ndims - 1 && reductionAxes.every((a, i) => a === i);
  const broadcast = (v: Tensor | null): Tensor | null => (v !== null && v.rank !== ndims && !featuresLast ? reshape(v, broadcastShape) : v);

  let scale = broadcast(spec.gamma);
  let offset = broadcast(spec.beta);
  const known = trainingValue(training);
  let mean: Tensor;
  let variance: Tensor;
  const updates: Tensor[] = [];
  if (known === false) {
    mean = spec.movingMean;
    variance = spec.movingVariance;
  } else {
    if (spec.adjustment) {
      const [rawScale, rawBias] = spec.adjustment(shapeOf(x));
      const adjScale = smartCond(training, () => rawScale, () => onesLike(rawScale));
      const adjBias = smartCond(training, () => rawBias, () => zerosLike(rawBias));
      [scale, offset] = composeTransforms(adjScale, adjBias, scale, offset);
    }
    const keepDims = virtual || axis.length > 1;
    const [batchMean, batchVariance] = moments(x, reductionAxes, { keepDims });
    mean = smartCond(training, () => batchMean, () => spec.movingMean as Tensor);
    variance = smartCond(training, () => batchVariance, () => spec.movingVariance as Tensor);
    let newMean = mean;
    let newVariance = variance;
    if (virtual) {
      newMean = reduceMean(mean, [1], true);
      newVariance = reduceMean(variance, [1], true);
    }
    if (spec.renorm) {
      const c = renormCorrection(newMean, newVariance, training, spec.renorm, spec.epsilon);
      newMean = c.mean;
      newVariance = c.variance;
      const r = broadcast(stopGradient(c.r, "renorm_r"))!;
      const d = broadcast(stopGradient(c.d, "renorm_d"))!;
      [scale, offset] = composeTransforms(r, d, scale, offset);
    }
    updates.push(movingUpdate(training, spec.movingMean, newMean, spec.momentum));
    updates.push(movingUpdate(training, spec.movingVariance, newVariance, spec.momentum));
  }
  let output = batchNormalization(x, broadcast(mean)!, broadcast(variance)!, offset, scale, spec.epsilon);
  if (undoVirtualBatching) output = undoVirtualBatching(output);
  return { output, updates };
}

function fusedForward(inputs: Tensor, spec: BatchNormSpec, training: Training): BatchNormResult {
  const graph = inputs.graph;
  const channelAxis = spec.axis[0];
  const dataFormat = channelAxis === 1 ? "NCHW" : "NHWC";
  const channels = inputs.shape![channelAxis] as number;
  const filled = (value: number) => constantOp(new NDArray("float32", [channels], new Float32Array(channels).fill(value)), "Const", graph);
  const gamma = spec.gamma ?? filled(1);
  const beta = spec.beta ?? filled(0);
  const [output, mean, variance] = smartCond(
    training,
    () => fusedBatchNorm(inputs, gamma, beta, { epsilon: spec.epsilon, dataFormat }),
    () => fusedBatchNorm(inputs, gamma, beta, { mean: spec.movingMean, variance: spec.movingVariance, epsilon: spec.epsilon, isTraining: false, dataFormat }),
  );
  const updates: Tensor[] = [];
  if (trainingValue(training) !== false) {
    // TF 1.x keeps the Bessel-corrected batch variance for the moving variance (_bessels_correction_test_only).
    updates.push(movingUpdate(training, spec.movingMean, mean, spec.momentum));
    updates.push(movingUpdate(training, spec.movingVariance, variance, spec.momentum));
  }
  return { output, updates };
}
