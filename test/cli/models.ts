/**
 * Models the CLI and ONNX tests share, written as .pbtxt:
 *   cnnModel   built with the tf API and frozen by construction (parameters are Consts):
 *              conv -> FusedBatchNormV3 (inference) -> relu -> maxPool -> depthwise conv ->
 *              FusedBatchNormV3 -> relu6 -> avgPool (SAME) -> mean over H, W -> reshape ->
 *              dense (matmul + biasAdd) -> "logits" -> softmax "probs"
 *   tf1Model   TF1-style text written by hand (test/graphdef/tf1-text.ts): Conv2D + BiasAdd +
 *              FusedBatchNorm (V1, is_training false) + Relu + MatMul "logits"
 *   bnTrainingModel  test/passes/models.ts's dense network with a `phase` cond, variables and a train op
 */
import * as tf from "foldflow";
import * as T from "../graphdef/tf1-text";
import { randomData } from "../helpers/run";
import { bnModel } from "../passes/models";

const positive = (n: number, seed: number) => Array.from(randomData(n, seed), (v) => 0.5 + Math.abs(v));

function frozenBatchNorm(x: tf.Tensor, channels: number, seed: number, name: string): tf.Tensor {
  const gamma = tf.constant(positive(channels, seed), [channels], "float32", `${name}/gamma`);
  const beta = tf.constant(Array.from(randomData(channels, seed + 1)), [channels], "float32", `${name}/beta`);
  const mean = tf.constant(Array.from(randomData(channels, seed + 2)), [channels], "float32", `${name}/moving_mean`);
  const variance = tf.constant(positive(channels, seed + 3), [channels], "float32", `${name}/moving_variance`);
  return tf.nn.fusedBatchNorm(x, gamma, beta, { mean, variance, epsilon: 1e-3, isTraining: false, name })[0];
}

/** The CNN as a Graph (input "x" [null, 6, 6, 2]; outputs "logits" [null, 5] and "probs"). */
export function cnnGraph(): tf.Graph {
  const g = new tf.Graph();
  g.asDefault(() => {
    const x = tf.placeholder("float32", [null, 6, 6, 2], "x");
    const w1 = tf.constant(Array.from(randomData(3 * 3 * 2 * 4, 11)), [3, 3, 2, 4], "float32", "conv1/kernel");
    const c1 = tf.nn.conv2d(x, w1, [1, 1, 1, 1], "SAME", { name: "conv1/Conv2D" });
    const h1 = tf.nn.relu(frozenBatchNorm(c1, 4, 20, "bn1"), "relu1");
    const p1 = tf.nn.maxPool(h1, [1, 2, 2, 1], [1, 2, 2, 1], "VALID", { name: "pool1" });
    const w2 = tf.constant(Array.from(randomData(3 * 3 * 4 * 2, 12)), [3, 3, 4, 2], "float32", "dw/kernel");
    const c2 = tf.nn.depthwiseConv2d(p1, w2, [1, 1, 1, 1], "SAME", { name: "dw/depthwise" });
    const h2 = tf.nn.relu6(frozenBatchNorm(c2, 8, 30, "bn2"), "relu2");
    const p2 = tf.nn.avgPool(h2, [1, 2, 2, 1], [1, 1, 1, 1], "SAME", { name: "pool2" });
    const m = tf.reshape(tf.reduceMean(p2, [1, 2]), [-1, 8], "flatten");
    const w3 = tf.constant(Array.from(randomData(8 * 5, 13)), [8, 5], "float32", "dense/kernel");
    const b3 = tf.constant(Array.from(randomData(5, 14)), [5], "float32", "dense/bias");
    const logits = tf.nn.biasAdd(tf.matmul(m, w3, { name: "dense/MatMul" }), b3, "NHWC", "logits");
    tf.nn.softmax(logits, undefined, "probs");
  });
  return g;
}

export function cnnModel(): string {
  return cnnGraph().asGraphDef().toText();
}

export const cnnInput = (batch = 3): tf.NDArray => tf.ndarray(randomData(batch * 6 * 6 * 2, 99), [batch, 6, 6, 2]);

/** TF1-style text: x [2, 4, 4, 3] -> Conv2D -> BiasAdd -> FusedBatchNorm -> Relu -> reshape -> MatMul "logits". */
export function tf1Model(): string {
  const f = T.type("DT_FLOAT");
  const conv = { T: f, data_format: T.str("NHWC"), dilations: T.ints([1, 1, 1, 1]), padding: T.str("VALID"), strides: T.ints([1, 1, 1, 1]), use_cudnn_on_gpu: T.bool(true) };
  return (
    T.placeholder("x", "DT_FLOAT", [2, 4, 4, 3]) +
    T.floatConst("conv/kernel", [2, 2, 3, 4], randomData(48, 3)) +
    T.node("conv/Conv2D", "Conv2D", ["x", "conv/kernel"], conv) +
    T.floatConst("conv/bias", [4], randomData(4, 4)) +
    T.node("conv/BiasAdd", "BiasAdd", ["conv/Conv2D", "conv/bias"], { T: f, data_format: T.str("NHWC") }) +
    T.floatConst("bn/gamma", [4], positive(4, 5)) +
    T.floatConst("bn/beta", [4], randomData(4, 6)) +
    T.floatConst("bn/moving_mean", [4], randomData(4, 7)) +
    T.floatConst("bn/moving_variance", [4], positive(4, 8)) +
    T.node("bn/FusedBatchNorm", "FusedBatchNorm", ["conv/BiasAdd", "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"], {
      T: f,
      data_format: T.str("NHWC"),
      epsilon: T.float("0.001"),
      is_training: T.bool(false),
    }) +
    T.node("relu", "Relu", ["bn/FusedBatchNorm"], { T: f }) +
    T.intConst("flatten/shape", [2], [-1, 36]) +
    T.node("flatten", "Reshape", ["relu", "flatten/shape"], { T: f, Tshape: T.type("DT_INT32") }) +
    T.floatConst("dense/kernel", [36, 3], randomData(108, 9)) +
    T.node("logits", "MatMul", ["flatten", "dense/kernel"], { T: f, transpose_a: T.bool(false), transpose_b: T.bool(false) }) +
    T.versions()
  );
}

export const tf1Input = (): tf.NDArray => tf.ndarray(randomData(2 * 4 * 4 * 3, 98), [2, 4, 4, 3]);

/** The dense network with a `phase` PlaceholderWithDefault(false), frozen: batch norms in a cond. */
export function condModel(): string {
  return bnModel("default", true).graph.asGraphDef().toText();
}

/** The same network with variables, UPDATE_OPS assigns and a train op (not frozen). */
export function trainingModel(): string {
  return bnModel("placeholder", false).graph.asGraphDef().toText();
}
