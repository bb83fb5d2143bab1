/**
 * `tf.losses.*`, TF1's: losses reduced as `reduction` says (SUM_BY_NONZERO_WEIGHTS by default:
 * the weighted sum over the number of non-zero weights, i.e. the mean when weights = 1) and
 * added to the LOSSES collection; regularization losses summed from REGULARIZATION_LOSSES.
 */
import { invalidArgument } from "../ir/diagnostics";
import { getDefaultGraph, Tensor, type Graph } from "../ir/graph";
import { NDArray } from "../ir/ndarray";
import { isFullyDefined } from "../ir/shape";
import { apply1, constantOp, convertToTensor, graphOf, type TensorLike } from "../ir/ops/build";
import { cast, gather, onesLike, shape as shapeOp, squeeze, where, zerosLike } from "../ir/ops/array";
import { identity, stopGradient } from "../ir/ops/control";
import { add, div, equal, mul, squaredDifference } from "../ir/ops/elementwise";
import { reduceProd, reduceSum } from "../ir/ops/reduce";
import { softmaxCrossEntropyWithLogitsV2, sparseSoftmaxCrossEntropyWithLogits } from "../ir/ops/cross-entropy";
import { GraphKeys } from "./collections";

/** `tf.losses.Reduction`, with TF1's string values. */
export const Reduction = {
  NONE: "none",
  SUM: "weighted_sum",
  SUM_OVER_BATCH_SIZE: "weighted_sum_over_batch_size",
  MEAN: "weighted_mean",
  SUM_BY_NONZERO_WEIGHTS: "weighted_sum_by_nonzero_weights",
  SUM_OVER_NONZERO_WEIGHTS: "weighted_sum_by_nonzero_weights",
} as const;
export type ReductionValue = (typeof Reduction)[keyof typeof Reduction];

export interface LossOptions {
  /** A number or a tensor broadcastable to the per-example losses; 1 by default. */
  weights?: number | Tensor;
  /** The name scope (default: the loss's TF name, e.g. "softmax_cross_entropy_loss"). */
  scope?: string;
  /** Where the loss is added; LOSSES by default, null for none. */
  lossCollection?: string | null;
  reduction?: ReductionValue;
}

const scalar = (v: number, name: string, g: Graph) => constantOp(new NDArray("float32", [], Float32Array.of(v)), name, g);

/** `tf.losses.getRegularizationLosses(scope?)`. */
export function getRegularizationLosses(scope?: string, graph: Graph = getDefaultGraph()): Tensor[] {
  return graph.getCollection<Tensor>(GraphKeys.REGULARIZATION_LOSSES, scope);
}

/** `tf.losses.getRegularizationLoss(scope?, name?)`: their sum, or a constant 0 when there are none. */
export function getRegularizationLoss(scope?: string, name = "total_regularization_loss", graph: Graph = getDefaultGraph()): Tensor {
  const losses = getRegularizationLosses(scope, graph);
  if (losses.length === 0) return scalar(0, "Const", graph);
  return sumLosses(losses, name, graph);
}

/** `tf.losses.getLosses(scope?, lossCollection?)`. */
export function getLosses(scope?: string, lossCollection: string = GraphKeys.LOSSES, graph: Graph = getDefaultGraph()): Tensor[] {
  return graph.getCollection<Tensor>(lossCollection, scope);
}

/** `tf.losses.addLoss(loss, lossCollection?)`. */
export function addLoss(loss: Tensor, lossCollection: string | null = GraphKeys.LOSSES): void {
  if (lossCollection) loss.graph.addToCollection(lossCollection, loss);
}

/** `tf.losses.getTotalLoss({ addRegularizationLosses, name, scope })`: LOSSES (+ REGULARIZATION_LOSSES) summed. */
export function getTotalLoss(options: { addRegularizationLosses?: boolean; name?: string; scope?: string } = {}, graph: Graph = getDefaultGraph()): Tensor {
  const losses = getLosses(options.scope, GraphKeys.LOSSES, graph);
  if (options.addRegularizationLosses ?? true) losses.push(...getRegularizationLosses(options.scope, graph));
  if (losses.length === 0)
    throw invalidArgument({
      code: "no-losses",
      message: "getTotalLoss found no losses",
      expected: "losses in the LOSSES (or REGULARIZATION_LOSSES) collection",
      received: "empty collections",
      fix: "build a loss with tf.losses.* (or add one with tf.losses.addLoss) first",
    });
  return sumLosses(losses, options.name ?? "total_loss", graph);
}

/** TF's add_n with a name: one input gives an Identity of that name. */
function sumLosses(losses: Tensor[], name: string, graph: Graph): Tensor {
  return graph.asDefault(() => (losses.length === 1 ? identity(losses[0], name) : apply1("AddN", losses, {}, name)));
}

/** The element count of `losses` as float32: a number when static. */
function numElements(losses: Tensor): number | Tensor {
  if (isFullyDefined(losses.shape)) return losses.shape.reduce((a, b) => a * b, 1);
  return losses.graph.nameScope("num_elements", () => cast(reduceProd(shapeOp(losses), 0), "float32"));
}

/** The number of losses with a non-zero weight (TF's _num_present). */
function numPresent(losses: Tensor, weights: number | Tensor): number | Tensor {
  if (typeof weights === "number") return weights !== 0 ? numElements(losses) : 0;
  return losses.graph.nameScope("num_present", () => {
    const present = where(equal(weights, 0), zerosLike(weights), onesLike(weights), "Select");
    return reduceSum(mul(present, onesLike(losses), "broadcast_weights"));
  });
}

/** total / count, 0 where count is 0 (TF's _safe_mean with div_no_nan), named "value". */
function safeMean(total: Tensor, count: number | Tensor): Tensor {
  if (typeof count === "number") return count === 0 ? mul(total, 0, "value") : div(total, count, "value");
  const isZero = equal(count, 0);
  const denominator = where(isZero, onesLike(count), count, "Select");
  return where(isZero, zerosLike(total), div(total, denominator), "value");
}

/** `tf.losses.computeWeightedLoss(losses, options)`, in the current name scope. */
function weightedLoss(losses: Tensor, options: LossOptions): Tensor {
  const weights = options.weights ?? 1;
  if (weights instanceof Tensor && weights.dtype !== "float32")
    throw invalidArgument({ code: "bad-dtype", node: weights.name, message: "loss weights must be float32", expected: "float32", received: weights.dtype, fix: "cast the weights to float32" });
  const weighted = mul(losses, weights, "Mul");
  const reduction = options.reduction ?? Reduction.SUM_BY_NONZERO_WEIGHTS;
  let loss: Tensor;
  if (reduction === Reduction.NONE) loss = weighted;
  else {
    const total = reduceSum(weighted, null, false, "Sum");
    if (reduction === Reduction.SUM) loss = total;
    else if (reduction === Reduction.MEAN)
      loss = safeMean(total, typeof weights === "number" ? (weights === 0 ? 0 : mul(weights, reduceSum(onesLike(losses)))) : reduceSum(mul(onesLike(losses), weights)));
    else if (reduction === Reduction.SUM_OVER_BATCH_SIZE) loss = safeMean(total, numElements(losses));
    else if (reduction === Reduction.SUM_BY_NONZERO_WEIGHTS) loss = safeMean(total, numPresent(losses, weights));
    else
      throw invalidArgument({
        code: "bad-reduction",
        message: `unknown loss reduction ${JSON.stringify(reduction)}`,
        expected: Object.values(Reduction).join(" | "),
        received: String(reduction),
        fix: "use a tf.losses.Reduction value",
      });
  }
  addLoss(loss, options.lossCollection === undefined ? GraphKeys.LOSSES : options.lossCollection);
  return loss;
}

/** `tf.losses.computeWeightedLoss(losses, { weights, scope, lossCollection, reduction })`. */
export function computeWeightedLoss(losses: TensorLike, options: LossOptions = {}): Tensor {
  const g = graphOf([losses]);
  return g.asDefault(() => g.nameScope(options.scope ?? "weighted_loss", () => weightedLoss(convertToTensor(losses, "float32", "losses", g), options)));
}

/**
 * `tf.losses.softmaxCrossEntropy(onehotLabels, logits, { weights, labelSmoothing, ... })`:
 * labels are cast to float32, smoothed to labels * (1 - s) + s / classes, and stop-gradient.
 */
export function softmaxCrossEntropy(onehotLabels: TensorLike, logits: TensorLike, options: LossOptions & { labelSmoothing?: number } = {}): Tensor {
  const g = graphOf([logits, onehotLabels]);
  return g.asDefault(() =>
    g.nameScope(options.scope ?? "softmax_cross_entropy_loss", () => {
      const lg = convertToTensor(logits, "float32", "logits", g);
      let labels = cast(convertToTensor(onehotLabels, undefined, "onehot_labels", g), "float32");
      checkCompatible(lg, labels, "softmaxCrossEntropy", "onehotLabels");
      const smoothing = options.labelSmoothing ?? 0;
      if (smoothing > 0) {
        const last = lg.shape?.[lg.shape.length - 1] ?? labels.shape?.[labels.shape.length - 1] ?? null;
        const classes = last !== null ? last : cast(gather(shapeOp(labels), -1 + (labels.rank ?? 0)), "float32");
        labels = add(mul(labels, 1 - smoothing, "mul"), div(scalar(smoothing, "Const", g), classes), "add");
      }
      labels = stopGradient(labels, "labels_stop_gradient");
      const losses = softmaxCrossEntropyWithLogitsV2({ labels, logits: lg, name: "xentropy" });
      return weightedLoss(losses, options);
    }),
  );
}

/** `tf.losses.sparseSoftmaxCrossEntropy(labels, logits, options)`: int32 class indices; [batch, 1] labels are squeezed. */
export function sparseSoftmaxCrossEntropy(labels: TensorLike, logits: TensorLike, options: LossOptions = {}): Tensor {
  const g = graphOf([logits, labels]);
  return g.asDefault(() =>
    g.nameScope(options.scope ?? "sparse_softmax_cross_entropy_loss", () => {
      const lg = convertToTensor(logits, "float32", "logits", g);
      let lb = convertToTensor(labels, labels instanceof Tensor ? undefined : "int32", "labels", g);
      if (lb.dtype !== "int32")
        throw invalidArgument({
          code: "bad-dtype",
          node: lb.name,
          message: "sparse softmax cross entropy needs int32 class indices",
          expected: "int32",
          received: lb.dtype,
          fix: `cast the labels: tf.cast(labels, "int32")`,
        });
      // TF's _remove_squeezable_dimensions: labels [batch, 1] with logits [batch, classes].
      if (lb.rank !== null && lg.rank !== null && lb.rank === lg.rank && lb.shape![lb.rank - 1] === 1) lb = squeeze(lb, [-1]);
      const losses = sparseSoftmaxCrossEntropyWithLogits({ labels: lb, logits: lg, name: "xentropy" });
      return weightedLoss(losses, options);
    }),
  );
}

/** `tf.losses.meanSquaredError(labels, predictions, options)`: (predictions - labels)^2, weighted and reduced. */
export function meanSquaredError(labels: TensorLike, predictions: TensorLike, options: LossOptions = {}): Tensor {
  const g = graphOf([predictions, labels]);
  return g.asDefault(() =>
    g.nameScope(options.scope ?? "mean_squared_error", () => {
      const p = cast(convertToTensor(predictions, undefined, "predictions", g), "float32");
      const l = cast(convertToTensor(labels, undefined, "labels", g), "float32");
      checkCompatible(p, l, "meanSquaredError", "labels");
      return weightedLoss(squaredDifference(p, l), options);
    }),
  );
}

function checkCompatible(a: Tensor, b: Tensor, what: string, role: string): void {
  if (a.shape === null || b.shape === null) return;
  const ok = a.shape.length === b.shape.length && a.shape.every((d, i) => d === null || b.shape![i] === null || d === b.shape![i]);
  if (!ok)
    throw invalidArgument({
      code: "incompatible-shapes",
      node: b.name,
      message: `${what}: the shape of ${role} does not match`,
      expected: JSON.stringify(a.shape),
      received: JSON.stringify(b.shape),
      fix: `pass ${role} of the same shape`,
    });
}
