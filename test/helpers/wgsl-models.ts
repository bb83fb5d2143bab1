/**
 * The example models compiled to WGSL in tests, with their interpreter references:
 *   mnistTraining   the batch-norm MNIST example specialized for training (phase true), its
 *                   initial variables, a batch, and `steps` interpreter steps (losses, variables)
 *   foldedCnn       test/cli/models' conv → BN → relu → pool → depthwise → BN → relu6 → pool →
 *                   dense → softmax network, frozen by construction and batch norms folded
 *   mnistInference  the MNIST example after two training steps, frozen and folded
 */
import * as tf from "foldflow";
import type { GraphDef } from "../../ir/graphdef/model";
import { NDArray } from "../../ir/ndarray";
import { specialize } from "../../passes/specialize";
import { buildModel } from "../../examples/mnist-batchnorm";
import { cnnGraph, cnnInput } from "../cli/models";
import { random, randomInts } from "./wgsl-cases";

export const clone = (a: NDArray): NDArray => new NDArray(a.dtype, [...a.shape], a.data.slice());

function oneHot(labels: NDArray, classes: number): NDArray {
  const out = new Float32Array(labels.size * classes);
  labels.data.forEach((c, r) => (out[r * classes + c] = 1));
  return new NDArray("float32", [labels.size, classes], out);
}

export interface TrainingCase {
  graph: tf.Graph;
  loss: string;
  train: string;
  feeds: { x: NDArray; y: NDArray };
  variables: Map<string, NDArray>;
  /** Interpreter: the loss of each step, and the variables after the last. */
  expected: { losses: number[]; variables: Map<string, NDArray> };
}

export function mnistTraining(batch = 16, steps = 3): TrainingCase {
  const model = buildModel({ seed: 3 });
  const init = new tf.Session({ graph: model.graph, backend: "interpreter" });
  init.runSync(model.init);
  const variables = new Map([...init.variableValues].map(([k, v]) => [k, clone(v)]));
  const graph = specialize(model.graph, { training: true }).graph;
  const feeds = { x: random([batch, 784], 11, 0, 1), y: oneHot(randomInts([batch], 12, 0, 9), 10) };
  const ref = new tf.Session({ graph, backend: "interpreter" });
  for (const [k, v] of variables) ref.setVariableValue(k, clone(v));
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const [loss] = ref.runSync([model.loss.name, model.trainOp.name], { "x:0": feeds.x, "y:0": feeds.y }) as NDArray[];
    losses.push(loss.data[0]);
  }
  const after = new Map([...ref.variableValues].map(([k, v]) => [k, clone(v)]));
  return { graph, loss: model.loss.name, train: model.trainOp.name, feeds, variables, expected: { losses, variables: after } };
}

export interface InferenceCase {
  graphDef: GraphDef;
  outputs: string[];
  input: string;
  x: NDArray;
  /** Interpreter outputs of the folded graph, in `outputs` order. */
  expected: NDArray[];
}

function reference(graphDef: GraphDef, outputs: string[], feeds: Record<string, NDArray>): NDArray[] {
  const sess = new tf.Session({ graph: tf.importGraphDef(graphDef), backend: "interpreter" });
  return sess.runSync(outputs, feeds) as NDArray[];
}

export function foldedCnn(batch = 3): InferenceCase {
  const outputs = ["probs", "logits"];
  const { graphDef, report } = tf.tools.foldBatchNorms(cnnGraph().asGraphDef(), { outputs });
  if (!report.some((r) => r.folded)) throw new Error("the CNN's batch norms did not fold");
  const x = cnnInput(batch);
  return { graphDef, outputs, input: "x", x, expected: reference(graphDef, outputs, { x }) };
}

export function mnistInference(batch = 8): InferenceCase {
  const model = buildModel({ seed: 5 });
  const sess = new tf.Session({ graph: model.graph, backend: "interpreter" });
  sess.runSync(model.init);
  const x = random([batch, 784], 21, 0, 1);
  const y = oneHot(randomInts([batch], 22, 0, 9), 10);
  for (let s = 0; s < 2; s++) sess.runSync([model.loss, model.trainOp], new Map<tf.Tensor, NDArray | boolean>([[model.x, x], [model.y, y], [model.phase, true]]));
  const output = model.logits.op.name;
  const frozen = tf.graphUtil.convertVariablesToConstants(sess, model.graph.asGraphDef(), [output]);
  const { graphDef, report } = tf.tools.foldBatchNorms(frozen, { outputs: [output], training: false });
  if (!report.some((r) => r.folded)) throw new Error("the MNIST batch norms did not fold");
  return { graphDef, outputs: [output], input: "x", x, expected: reference(graphDef, [output], { x }) };
}

/** The largest |value| (at least 1): absolute tolerances scale with it. */
export function scaleOf(a: NDArray): number {
  let s = 1;
  for (const v of a.data) s = Math.max(s, Math.abs(v));
  return s;
}
