/**
 * The graphs pass tests share: the seed's MNIST network in small — dense, batch norm whose
 * statistics come from a `tf.cond` on a `phase` flag with the moving-average updates inside
 * the training branch and in UPDATE_OPS, ReLU, a loss and an SGD step under
 * `controlDependencies(UPDATE_OPS)`.
 */
import * as tf from "foldflow";
import { data } from "./helpers";

export interface BnModel {
  graph: tf.Graph;
  outputs: string[];
  /** Feeds for an inference run (x only; phase added by the caller where it is a placeholder). */
  x: tf.NDArray;
}

/** A parameter: a variable, or (frozen) a Const of the same values. */
function parameter(frozen: boolean, name: string, values: number[], trainable = true): tf.Tensor {
  if (frozen) return tf.constant(values, [values.length], "float32", name);
  return tf.getVariable(name, [values.length], { initializer: tf.initializers.constant(values), trainable });
}

function batchNorm(h: tf.Tensor, phase: tf.Tensor, scope: string, frozen: boolean): tf.Tensor {
  return tf.variableScope(scope, () => {
    const width = h.shape![1] as number;
    const movingMean = parameter(frozen, "moving_mean", Array.from(data(width, 21)), false);
    const movingVar = parameter(frozen, "moving_variance", Array.from(data(width, 22), (v) => 1.5 + v), false);
    const gamma = parameter(frozen, "gamma", Array.from(data(width, 23), (v) => 1 + v / 2));
    const beta = parameter(frozen, "beta", Array.from(data(width, 24)));
    const [mean, variance] = tf.nn.moments(h, [0]);
    const [m, v] = tf.cond(
      phase,
      () => {
        if (frozen) return [tf.identity(mean), tf.identity(variance)];
        const upMean = tf.assignSub(movingMean, tf.mul(tf.sub(movingMean, mean), 0.01), { name: "update_mean" });
        const upVar = tf.assignSub(movingVar, tf.mul(tf.sub(movingVar, variance), 0.01), { name: "update_variance" });
        tf.addToCollection(tf.GraphKeys.UPDATE_OPS, upMean);
        tf.addToCollection(tf.GraphKeys.UPDATE_OPS, upVar);
        return tf.controlDependencies([upMean.op, upVar.op], () => [tf.identity(mean), tf.identity(variance)]);
      },
      () => [tf.identity(movingMean), tf.identity(movingVar)],
    );
    return tf.nn.batchNormalization(h, m, v, beta, gamma, 1e-3);
  });
}

/**
 * The network, with `phase` a Placeholder (as in the seed) or a PlaceholderWithDefault(false);
 * `frozen`: parameters are Consts (as after freezing) and there is no training step.
 */
export function bnModel(phaseKind: "placeholder" | "default" = "placeholder", frozen = false): BnModel {
  const graph = new tf.Graph();
  graph.asDefault(() => {
    const x = tf.placeholder("float32", [null, 4], "x");
    const y = tf.placeholder("float32", [null, 2], "y");
    const phase = phaseKind === "placeholder" ? tf.placeholder("bool", [], "phase") : tf.placeholderWithDefault(false, [], "phase");
    const layer = (input: tf.Tensor, units: number, scope: string) =>
      tf.variableScope(scope, () => {
        const rows = input.shape![1] as number;
        const w = frozen
          ? tf.constant(data(rows * units, units + 7), [rows, units], "float32", "kernel")
          : tf.getVariable("kernel", [rows, units], { initializer: tf.initializers.glorotUniform({ seed: units + 7 }) });
        const h = tf.matmul(input, w);
        return tf.nn.relu(batchNorm(h, phase, "bn", frozen), "relu");
      });
    const h1 = layer(x, 5, "layer1");
    const w2 = frozen ? tf.constant(data(10, 3), [5, 2], "float32", "logits/kernel") : tf.getVariable("logits/kernel", [5, 2], { initializer: tf.initializers.glorotUniform({ seed: 3 }) });
    const logits = tf.matmul(h1, w2, { name: "logits" });
    if (frozen) return;
    const loss = tf.reduceMean(tf.square(tf.sub(logits, y)), undefined, false, "loss");
    const [grad] = tf.gradients(loss, [w2]);
    const updates = tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS).map((t) => t.op);
    tf.controlDependencies(updates, () => tf.group([tf.assignSub(w2, tf.mul(grad!, 0.01))], "train"));
  });
  return { graph, outputs: ["logits"], x: tf.ndarray(data(12, 5), [3, 4]) };
}
