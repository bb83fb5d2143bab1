/**
 * The two implementations of tf.contrib.layers.batch_norm that do not go through the core
 * layer (see ./batch-norm.ts for which runs when):
 *
 *   fusedBatchNormPath   contrib's _fused_batch_norm: FusedBatchNormV3 under cond(isTraining),
 *                        rank-2 inputs reshaped to [-1, 1, 1, C] ([-1, C, 1, 1] for NCHW)
 *   legacyBatchNormPath  moments (or weighted moments with batchWeights) and
 *                        tf.nn.batchNormalization; NCHW parameters reshaped to [1, C, 1, ...]
 *
 * Updates: assign_moving_average(moving_mean, mean, decay, zero_debias=zeroDebiasMovingMean)
 * and (moving_variance, variance, decay). With updatesCollections null they run inside
 * cond(isTraining) before an Identity of the output (fused) or of the statistics (legacy), so
 * fetching the output updates them; otherwise cond(isTraining, updates, moving variables) is
 * added to each collection.
 */
import type { Tensor } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import { constantOp, convertToTensor, type TensorLike } from "../../ir/ops/build";
import { reshape, shape as shapeOf } from "../../ir/ops/array";
import { identity } from "../../ir/ops/control";
import { smartCond } from "../control-flow";
import { assignMovingAverage } from "../moving-averages";
import { batchNormalization, fusedBatchNorm, moments, weightedMoments } from "../nn/batch-norm";
import type { Variable } from "../variables";
import { badInput, trainingValue } from "../layers/batch-normalization-base";
import type { ContribSettings } from "./batch-norm";

function updatePair(s: ContribSettings, movingMean: Variable, movingVariance: Variable, mean: Tensor, variance: Tensor): [Tensor, Tensor] {
  const updateMean = assignMovingAverage(movingMean, mean, s.decay, { zeroDebias: s.zeroDebiasMovingMean });
  const updateVariance = assignMovingAverage(movingVariance, variance, s.decay, { zeroDebias: false });
  return [updateMean, updateVariance];
}

function addUpdates(s: ContribSettings, updates: Tensor[]): void {
  for (const key of s.updatesCollections ?? []) for (const u of updates) u.graph.addToCollection(key, u.op);
}

function channelsOf(x: Tensor, axis: number, node: string): number {
  const c = x.shape![axis];
  if (c === null) throw badInput(node, `inputs ${x.name} have an undefined channels (C) dimension`, "a known C dimension", x.shape, "give the input a static channels dimension");
  return c;
}

export function fusedBatchNormPath(inputs: Tensor, s: ContribSettings, node: string): Tensor {
  const graph = inputs.graph;
  const originalRank = inputs.rank!;
  let x = inputs;
  if (originalRank === 2) {
    const c = channelsOf(inputs, 1, node);
    x = reshape(inputs, s.dataFormat === "NCHW" ? [-1, c, 1, 1] : [-1, 1, 1, c]);
  }
  const channels = channelsOf(x, s.dataFormat === "NCHW" ? 1 : 3, node);
  const filled = (value: number) => constantOp(new NDArray("float32", [channels], new Float32Array(channels).fill(value)), "Const", graph);
  const beta = s.center ? s.createVariable("beta", [channels]) : filled(0);
  const gamma = s.scale ? s.createVariable("gamma", [channels]) : filled(1);
  const movingMean = s.createVariable("moving_mean", [channels]);
  const movingVariance = s.createVariable("moving_variance", [channels]);
  const format = s.dataFormat;
  const [y, mean, variance] = smartCond(
    s.isTraining,
    () => fusedBatchNorm(x, gamma, beta, { epsilon: s.epsilon, dataFormat: format }),
    () => fusedBatchNorm(x, gamma, beta, { mean: movingMean, variance: movingVariance, epsilon: s.epsilon, isTraining: false, dataFormat: format }),
  );
  let output = y;
  if (trainingValue(s.isTraining) !== false) {
    if (s.updatesCollections === null) {
      output = smartCond(
        s.isTraining,
        () => {
          const [um, uv] = updatePair(s, movingMean, movingVariance, mean, variance);
          return graph.controlDependencies([um.op, uv.op], () => identity(y));
        },
        () => y,
      );
    } else {
      const updates = smartCond(s.isTraining, () => updatePair(s, movingMean, movingVariance, mean, variance), () => [movingMean as Tensor, movingVariance as Tensor]);
      addUpdates(s, updates);
    }
  }
  if (originalRank === 2) output = reshape(output, shapeOf(inputs));
  return output;
}

export function legacyBatchNormPath(inputs: Tensor, s: ContribSettings, batchWeights: TensorLike | null, node: string): Tensor {
  const graph = inputs.graph;
  const rank = inputs.rank!;
  let weights: Tensor | null = null;
  if (batchWeights !== null) {
    const w = convertToTensor(batchWeights, "float32", "batch_weights", graph);
    const batch = inputs.shape![0];
    if (w.shape !== null && w.shape.length >= 1 && w.shape[0] !== null && batch !== null && w.shape[0] !== batch)
      throw badInput(node, `batchWeights has ${w.shape[0]} entries for a batch of ${batch}`, `shape [${batch}]`, w.shape, "give one weight per example");
    weights = reshape(w, [-1, ...new Array<number>(rank - 1).fill(1)]);
  }
  const nchw = s.dataFormat === "NCHW";
  const momentsAxes = nchw ? [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)] : Array.from({ length: rank - 1 }, (_, i) => i);
  const channels = channelsOf(inputs, nchw ? 1 : rank - 1, node);
  const broadcastShape = nchw ? [1, channels, ...new Array<number>(rank - 2).fill(1)] : null;

  let beta: Tensor | null = s.center ? s.createVariable("beta", [channels]) : null;
  let gamma: Tensor | null = s.scale ? s.createVariable("gamma", [channels]) : null;
  const movingMean = s.createVariable("moving_mean", [channels]);
  const movingVariance = s.createVariable("moving_variance", [channels]);

  let mean: Tensor = movingMean;
  let variance: Tensor = movingVariance;
  if (trainingValue(s.isTraining) !== false) {
    let [batchMean, batchVariance] = weights
      ? weightedMoments(inputs, momentsAxes, weights, { keepDims: nchw })
      : moments(inputs, momentsAxes, { keepDims: nchw });
    if (nchw) {
      batchMean = reshape(batchMean, [-1]);
      batchVariance = reshape(batchVariance, [-1]);
    }
    const movingVars = (): [Tensor, Tensor] => [movingMean, movingVariance];
    if (s.updatesCollections === null) {
      [mean, variance] = smartCond(
        s.isTraining,
        (): [Tensor, Tensor] => {
          const [um, uv] = updatePair(s, movingMean, movingVariance, batchMean, batchVariance);
          return graph.controlDependencies([um.op, uv.op], () => [identity(batchMean), identity(batchVariance)]);
        },
        movingVars,
      );
    } else {
      const updates = smartCond(s.isTraining, () => updatePair(s, movingMean, movingVariance, batchMean, batchVariance), movingVars);
      addUpdates(s, updates);
      [mean, variance] = smartCond(s.isTraining, (): [Tensor, Tensor] => [batchMean, batchVariance], movingVars);
    }
  }
  if (broadcastShape) {
    mean = reshape(mean, broadcastShape);
    variance = reshape(variance, broadcastShape);
    if (beta) beta = reshape(beta, broadcastShape);
    if (gamma) gamma = reshape(gamma, broadcastShape);
  }
  return batchNormalization(inputs, mean, variance, beta, gamma, s.epsilon);
}
