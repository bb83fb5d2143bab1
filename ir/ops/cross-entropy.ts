/**
 * Softmax cross entropy: SoftmaxCrossEntropyWithLogits (labels a distribution) and
 * SparseSoftmaxCrossEntropyWithLogits (int32 class indices), both [batch, classes] → (loss [batch],
 * backprop [batch, classes]) like TF's ops, with TF's gradient rules; and the TF1 builders
 * softmaxCrossEntropyWithLogitsV2 and sparseSoftmaxCrossEntropyWithLogits, which reshape other
 * ranks (and move another class axis last) around the rank-2 op.
 */
import { invalidArgument } from "../diagnostics";
import { Tensor, type Operation } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp, type KernelContext } from "../registry";
import { formatShape, isFullyDefined, normalizeAxis } from "../shape";
import { apply1, convertToTensor, graphOf, type TensorLike } from "./build";
import { concat, reshape } from "./array";
import { add, mul, neg, sub } from "./elementwise";
import { dynamicShape, expandLast, inScope, mergeDim, requireDType, requireRank, runtimeCheck, swapWithLast } from "./nn";
import { reduceSum } from "./reduce";

// ---------------------------------------------------------------------------------------------
// SoftmaxCrossEntropyWithLogits, SparseSoftmaxCrossEntropyWithLogits.

/** For each row of `logits` [batch, classes]: loss and backprop from `target(row, class)`. */
function crossEntropyRows(logits: NDArray, target: (row: number, c: number) => number, ctx: KernelContext): NDArray[] {
  const [batch, classes] = logits.shape;
  const loss = ctx.alloc("float32", batch);
  const backprop = ctx.alloc("float32", logits.size);
  const src = logits.data;
  for (let r = 0; r < batch; r++) {
    const start = r * classes;
    let max = -Infinity;
    for (let c = 0; c < classes; c++) if (src[start + c] > max) max = src[start + c];
    let sum = 0;
    for (let c = 0; c < classes; c++) sum += Math.exp(src[start + c] - max);
    const logSum = Math.log(sum);
    let total = 0;
    for (let c = 0; c < classes; c++) {
      const shifted = src[start + c] - max;
      const p = target(r, c);
      if (p !== 0) total += p * (logSum - shifted);
      backprop[start + c] = Math.exp(shifted) / sum - p;
    }
    loss[r] = total;
  }
  return [new NDArray("float32", [batch], loss), new NDArray("float32", [batch, classes], backprop)];
}

/**
 * TF's _SoftmaxCrossEntropyWithLogitsGrad: the loss gradient times backprop, plus, when the
 * backprop output is itself differentiated, the softmax Jacobian applied to its gradient.
 */
function crossEntropyLogitsGrad(op: Operation, gradLoss: Tensor | null, gradGrad: Tensor | null): Tensor | null {
  let grad = gradLoss ? mul(expandLast(gradLoss), op.outputs[1]) : null;
  if (gradGrad) {
    const softmax = apply1("Softmax", [op.inputs[0]], {}, "Softmax");
    const term = mul(sub(gradGrad, reduceSum(mul(gradGrad, softmax), -1, true)), softmax);
    grad = grad ? add(grad, term) : term;
  }
  return grad;
}

registerOp({
  type: "SoftmaxCrossEntropyWithLogits",
  inputs: 2,
  infer: ([features, labels], _, node) => {
    const type = "SoftmaxCrossEntropyWithLogits";
    requireDType(type, "features", features, ["float32"], node);
    requireDType(type, "labels", labels, ["float32"], node);
    requireRank(type, "features", features.shape, (r) => r === 2, "a matrix [batch, classes]", node);
    requireRank(type, "labels", labels.shape, (r) => r === 2, "a matrix [batch, classes]", node);
    const f = features.shape ?? [null, null];
    const l = labels.shape ?? [null, null];
    const shapes = `features ${formatShape(features.shape)}, labels ${formatShape(labels.shape)}`;
    const message = "logits and labels must have the same shape [batch, classes]";
    const batch = mergeDim(f[0], l[0], node, message, shapes);
    const classes = mergeDim(f[1], l[1], node, message, shapes);
    return [{ dtype: "float32", shape: [batch] }, { dtype: "float32", shape: [batch, classes] }];
  },
  kernel: ([features, labels], _, ctx) => {
    const same = features.shape[0] === labels.shape[0] && features.shape[1] === labels.shape[1];
    runtimeCheck(same, ctx, "logits and labels must have the same shape", `${formatShape(features.shape)} and ${formatShape(labels.shape)}`);
    const classes = features.shape[1];
    return crossEntropyRows(features, (r, c) => labels.data[r * classes + c], ctx);
  },
  // Labels: -log_softmax × the loss gradient (TF's), minus the backprop output's own gradient
  // (backprop = softmax - labels; TF's rule leaves that term out).
  gradient: (op, [gradLoss, gradGrad]) => {
    let labelsGrad = gradLoss ? mul(expandLast(gradLoss), neg(apply1("LogSoftmax", [op.inputs[0]], {}, "LogSoftmax"))) : null;
    if (gradGrad) labelsGrad = labelsGrad ? sub(labelsGrad, gradGrad) : neg(gradGrad);
    return [crossEntropyLogitsGrad(op, gradLoss, gradGrad), labelsGrad];
  },
});

registerOp({
  type: "SparseSoftmaxCrossEntropyWithLogits",
  inputs: 2,
  infer: ([features, labels], _, node) => {
    const type = "SparseSoftmaxCrossEntropyWithLogits";
    requireDType(type, "features", features, ["float32"], node);
    requireDType(type, "labels", labels, ["int32"], node);
    requireRank(type, "features", features.shape, (r) => r === 2, "a matrix [batch, classes]", node);
    requireRank(type, "labels", labels.shape, (r) => r === 1, "a vector [batch]", node);
    const f = features.shape ?? [null, null];
    const shapes = `features ${formatShape(features.shape)}, labels ${formatShape(labels.shape)}`;
    const batch = mergeDim(f[0], labels.shape?.[0] ?? null, node, "logits and labels must have the same first dimension", shapes);
    return [{ dtype: "float32", shape: [batch] }, { dtype: "float32", shape: [batch, f[1]] }];
  },
  kernel: ([features, labels], _, ctx) => {
    const [batch, classes] = features.shape;
    runtimeCheck(labels.size === batch, ctx, "logits and labels must have the same first dimension", `${formatShape(features.shape)} and ${formatShape(labels.shape)}`);
    for (let r = 0; r < batch; r++) {
      const label = labels.data[r];
      if (!(label >= 0 && label < classes))
        throw invalidArgument({
          code: "label-out-of-range",
          node: ctx.node,
          message: `received a label value of ${label} which is outside the valid range of [0, ${classes})`,
          expected: `labels in [0, ${classes})`,
          received: String(label),
          fix: "check the labels fed against the number of classes",
        });
    }
    return crossEntropyRows(features, (r, c) => (labels.data[r] === c ? 1 : 0), ctx);
  },
  gradient: (op, [gradLoss, gradGrad]) => [crossEntropyLogitsGrad(op, gradLoss, gradGrad), null],
});

// ---------------------------------------------------------------------------------------------
// Builders (tf.nn.*).

/** Reshapes to [-1, classes] (TF's _flatten_outer_dims). */
function flattenOuterDims(t: Tensor): Tensor {
  const rank = t.rank!;
  const classes = t.shape![rank - 1];
  return reshape(t, classes !== null ? [-1, classes] : concat([[-1], dynamicShape(t, rank - 1, rank)], 0));
}

export interface SoftmaxCrossEntropyOptions {
  labels: TensorLike;
  logits: TensorLike;
  /** The class axis; -1 (the last) by default. */
  axis?: number;
  name?: string;
}

/**
 * `tf.nn.softmaxCrossEntropyWithLogitsV2({ labels, logits, axis?, name? })`: the loss, one value
 * per example (the logits' shape without the class axis). Gradients flow into labels too.
 */
export function softmaxCrossEntropyWithLogitsV2(options: SoftmaxCrossEntropyOptions): Tensor {
  const g = graphOf([options.logits, options.labels]);
  return inScope(g, options.name ?? "softmax_cross_entropy_with_logits", (scope) => {
    let logits = convertToTensor(options.logits, undefined, "logits", g);
    let labels = convertToTensor(options.labels, logits.dtype, "labels", g);
    const rank = logits.rank ?? labels.rank;
    if (rank === null || rank === 0)
      throw invalidArgument({
        code: "bad-rank",
        node: scope,
        message: rank === null ? "softmax cross entropy needs logits of known rank" : "logits cannot be scalars",
        expected: "logits of rank 1 or more, with a static rank",
        received: formatShape(logits.shape),
        fix: "give the logits placeholder a shape such as [null, classes]",
      });
    const axis = normalizeAxis(options.axis ?? -1, rank, scope);
    const lastAxis = axis === rank - 1;
    if (rank === 2 && lastAxis) return g.addOp({ type: "SoftmaxCrossEntropyWithLogits", name: scope, absoluteName: true, inputs: [logits, labels] }).outputs[0];
    if (!lastAxis) {
      logits = swapWithLast(logits, axis, "transpose");
      labels = swapWithLast(labels, axis, "transpose_1");
    }
    const outerShape = dynamicShape(logits, 0, rank - 1);
    const op = g.addOp({ type: "SoftmaxCrossEntropyWithLogits", name: scope, absoluteName: true, inputs: [flattenOuterDims(logits), flattenOuterDims(labels)] });
    return reshape(op.outputs[0], outerShape);
  });
}

export interface SparseSoftmaxCrossEntropyOptions {
  /** int32 class indices, the logits' shape without its last axis. */
  labels: TensorLike;
  logits: TensorLike;
  name?: string;
}

/** `tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels, logits, name? })`: the loss per example. */
export function sparseSoftmaxCrossEntropyWithLogits(options: SparseSoftmaxCrossEntropyOptions): Tensor {
  const type = "SparseSoftmaxCrossEntropyWithLogits";
  const g = graphOf([options.logits, options.labels]);
  return inScope(g, options.name ?? type, (scope) => {
    const labels = convertToTensor(options.labels, options.labels instanceof Tensor || options.labels instanceof NDArray ? undefined : "int32", "labels", g);
    const logits = convertToTensor(options.logits, undefined, "logits", g);
    const problem = (message: string) =>
      invalidArgument({
        code: "incompatible-shapes",
        node: scope,
        message,
        expected: "labels of the logits' shape without its last dimension",
        received: `labels ${formatShape(labels.shape)}, logits ${formatShape(logits.shape)}`,
        fix: "pass class indices [batch] for logits [batch, classes]",
      });
    if (logits.rank === 0) throw problem("logits cannot be scalars");
    if (logits.rank !== null && labels.rank !== null && labels.rank !== logits.rank - 1) throw problem("the rank of labels must equal the rank of logits minus 1");
    if (isFullyDefined(logits.shape) && isFullyDefined(labels.shape) && labels.shape.some((d, i) => d !== logits.shape![i]))
      throw problem("the shape of labels must equal the shape of logits except for the last dimension");
    if (logits.rank === 2) return apply1(type, [logits, labels], {}, type);
    if (logits.rank === null)
      throw invalidArgument({ code: "unknown-rank", node: scope, message: "sparse softmax cross entropy needs logits of known rank", fix: "give the logits a static rank" });
    const labelsShape = dynamicShape(labels, 0, logits.rank - 1);
    const flatLabels = reshape(labels, [-1]);
    const cost = apply1(type, [flattenOuterDims(logits), flatLabels], {}, type);
    return reshape(cost, labelsShape);
  });
}
