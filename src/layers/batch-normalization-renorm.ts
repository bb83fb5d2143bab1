/**
 * Batch renormalization (Ioffe 2017), TF's `_renorm_correction_and_moments`:
 *
 *   stddev       = sqrt(batchVariance + ε)
 *   renormStddev = maximum(renorm_stddev, sqrt(ε))
 *   r = clip(stddev / renormStddev, rmin, rmax)            (1 when not training)
 *   d = clip((batchMean - renorm_mean) / renormStddev, -dmax, dmax)   (0 when not training)
 *
 * r and d read the renorm variables before they are updated (the update's inputs carry
 * control dependencies on r and d); renorm_mean and renorm_stddev then move toward the batch
 * mean and stddev at renormMomentum, inside a cond on `training`. The returned mean and
 * variance (still the batch's) carry control dependencies on those updates, so the moving
 * mean / variance updates built from them run after them.
 */
import type { Tensor } from "../../ir/graph";
import { onesLike, zerosLike } from "../../ir/ops/array";
import { identity } from "../../ir/ops/control";
import { add, div, maximum, minimum, neg, sqrt, sub } from "../../ir/ops/elementwise";
import { smartCond } from "../control-flow";
import { assignMovingAverage } from "../moving-averages";
import type { Variable } from "../variables";
import type { RenormState, Training } from "./batch-normalization-base";

export interface RenormCorrection {
  r: Tensor;
  d: Tensor;
  mean: Tensor;
  variance: Tensor;
}

export function renormCorrection(mean: Tensor, variance: Tensor, training: Training, state: RenormState, epsilon: number): RenormCorrection {
  const graph = mean.graph;
  const stddev = sqrt(add(variance, epsilon));
  const renormStddev = maximum(state.stddev, Math.sqrt(epsilon));
  let r = div(stddev, renormStddev);
  let d = div(sub(mean, state.mean), renormStddev);
  // The corrections use the pre-update moving averages.
  const [meanAfter, stddevAfter] = graph.controlDependencies([r.op, d.op], () => [identity(mean), identity(stddev)]);
  const { rmin, rmax, dmax } = state.clipping;
  if (rmin !== undefined) r = maximum(r, rmin);
  if (rmax !== undefined) r = minimum(r, rmax);
  if (dmax !== undefined) {
    d = maximum(d, typeof dmax === "number" ? -dmax : neg(dmax));
    d = minimum(d, dmax);
  }
  const rFinal = r;
  const dFinal = d;
  r = smartCond(training, () => rFinal, () => onesLike(rFinal));
  d = smartCond(training, () => dFinal, () => zerosLike(dFinal));

  const update = (variable: Variable, value: Tensor): Tensor => {
    const v = identity(value);
    return smartCond(training, () => assignMovingAverage(variable, v, state.momentum), () => identity(variable));
  };
  const updateMean = update(state.mean, meanAfter);
  const updateStddev = update(state.stddev, stddevAfter);
  const [outMean, outVariance] = graph.controlDependencies([updateMean.op, updateStddev.op], () => [identity(meanAfter), identity(variance)]);
  return { r, d, mean: outMean, variance: outVariance };
}
