/**
 * Batch-norm folding tests: build a small model with the tf API (random weights, moving
 * statistics, gamma and beta in variables), freeze it, fold it, and run the frozen and the
 * folded GraphDefs through importGraphDef + Session to compare.
 */
import { expect } from "vitest";
import * as tf from "foldflow";
import { apply } from "../../ir/ops/build";
import { fusedBatchNormOp } from "../../ir/ops/batch-norm";
import { biasAdd } from "../../ir/ops/nn";
import { convertVariablesToConstants } from "../../src/freeze";
import { foldBatchNorms } from "../../src/tools";
import { randomData } from "../helpers/run";

export type ProducerKind = "conv-NHWC" | "conv-NCHW" | "dw1-NHWC" | "dw2-NHWC" | "dw1-NCHW" | "dw2-NCHW" | "matmul" | "matmul-transposeB";
export type BiasKind = "none" | "BiasAdd" | "Add";
export type FormKind = "FusedBatchNorm" | "FusedBatchNormV2" | "FusedBatchNormV3" | "BatchNormWithGlobalNormalization" | "batchNormalization";

export const BN_TYPES = ["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "BatchNormWithGlobalNormalization", "Rsqrt"];

let seed = 100;
/** A variable holding random values in [lo, hi). */
export function randomVariable(name: string, shape: number[], lo = -1, hi = 1): tf.Variable {
  const size = shape.reduce((a, b) => a * b, 1);
  return new tf.Variable(tf.ndarray(randomData(size, seed++, lo, hi), shape), { name });
}

export function randomInput(shape: number[], s = 7): tf.NDArray {
  return tf.ndarray(randomData(shape.reduce((a, b) => a * b, 1), s, -2, 2), shape);
}

export interface Producer {
  y: tf.Tensor;
  channels: number;
  format: "NHWC" | "NCHW";
  rank: number;
}

/** The input placeholder "x" and the producer op named "producer"; returns its output. */
export function buildProducer(kind: ProducerKind): { x: tf.Tensor; feed: tf.NDArray; producer: Producer } {
  const inC = 3;
  if (kind.startsWith("matmul")) {
    const x = tf.placeholder("float32", [null, 6], "x");
    const transposeB = kind === "matmul-transposeB";
    const w = randomVariable("w", transposeB ? [5, 6] : [6, 5]);
    const y = tf.matmul(x, w, { transposeB, name: "producer" });
    return { x, feed: randomInput([4, 6]), producer: { y, channels: 5, format: "NHWC", rank: 2 } };
  }
  const format = kind.endsWith("NCHW") ? "NCHW" : "NHWC";
  const inShape = format === "NCHW" ? [2, inC, 5, 5] : [2, 5, 5, inC];
  const x = tf.placeholder("float32", [null, ...inShape.slice(1)], "x");
  if (kind.startsWith("conv")) {
    const w = randomVariable("w", [3, 3, inC, 4]);
    const y = tf.nn.conv2d(x, w, 1, "SAME", { dataFormat: format, name: "producer" });
    return { x, feed: randomInput(inShape), producer: { y, channels: 4, format, rank: 4 } };
  }
  const multiplier = kind.startsWith("dw2") ? 2 : 1;
  const w = randomVariable("w", [3, 3, inC, multiplier]);
  const y = tf.nn.depthwiseConv2d(x, w, 1, "VALID", { dataFormat: format, name: "producer" });
  return { x, feed: randomInput(inShape), producer: { y, channels: inC * multiplier, format, rank: 4 } };
}

/** A per-channel parameter shaped to broadcast along the producer's channel axis ([C], or [C, 1, 1] for NCHW). */
function channelParam(name: string, p: Producer, lo: number, hi: number): tf.Tensor {
  const v = randomVariable(name, [p.channels], lo, hi);
  return p.format === "NCHW" && p.rank === 4 ? tf.reshape(v, [p.channels, 1, 1]) : v;
}

export function addBias(p: Producer, kind: BiasKind): tf.Tensor {
  if (kind === "none") return p.y;
  const b = randomVariable("b", [p.channels]);
  if (kind === "BiasAdd") return biasAdd(p.y, b, p.format, "bias");
  return tf.add(p.y, p.format === "NCHW" && p.rank === 4 ? tf.reshape(b, [p.channels, 1, 1]) : b, "bias");
}

/** The batch norm of `h` in inference form with random constant-to-be parameters; its output. */
export function addBatchNorm(h: tf.Tensor, p: Producer, form: FormKind, name = "bn"): tf.Tensor {
  const param = (what: string, lo: number, hi: number) => randomVariable(`${name}/${what}`, [p.channels], lo, hi);
  if (form === "batchNormalization") {
    const mean = channelParam(`${name}/moving_mean`, p, -1, 1);
    const variance = channelParam(`${name}/moving_variance`, p, 0.5, 2);
    const gamma = channelParam(`${name}/gamma`, p, 0.5, 1.5);
    const beta = channelParam(`${name}/beta`, p, -1, 1);
    return tf.nn.batchNormalization(h, mean, variance, beta, gamma, 1e-3, name);
  }
  const [gamma, beta, mean, variance] = [param("gamma", 0.5, 1.5), param("beta", -1, 1), param("moving_mean", -1, 1), param("moving_variance", 0.5, 2)];
  if (form === "BatchNormWithGlobalNormalization")
    return apply("BatchNormWithGlobalNormalization", [h, mean, variance, beta, gamma], { variance_epsilon: 1e-3, scale_after_normalization: true }, name).outputs[0];
  const version = form === "FusedBatchNorm" ? 1 : form === "FusedBatchNormV2" ? 2 : 3;
  return fusedBatchNormOp(h, gamma, beta, mean, variance, { version, isTraining: false, epsilon: 1e-3, dataFormat: p.format, name }).outputs[0];
}

export interface Frozen {
  graph: tf.Graph;
  sess: tf.Session;
  frozen: tf.GraphDef;
  feeds: Record<string, tf.NDArray>;
}

/** Builds in a fresh graph, initializes the variables and freezes to `outputs`. */
export function buildAndFreeze(build: () => Record<string, tf.NDArray>, outputs: string[]): Frozen {
  const graph = new tf.Graph();
  const feeds = graph.asDefault(build);
  const sess = new tf.Session({ graph });
  sess.runSync(graph.asDefault(() => tf.globalVariablesInitializer()));
  const frozen = convertVariablesToConstants(sess, graph.asGraphDef(), outputs);
  return { graph, sess, frozen, feeds };
}

/** Runs a GraphDef through importGraphDef and a fresh session. */
export function runGraphDef(graphDef: tf.GraphDef | string, fetches: string[], feeds: Record<string, tf.NDArray>, highPrecision = false): tf.NDArray[] {
  const graph = tf.importGraphDef(graphDef);
  return new tf.Session({ graph, highPrecision }).runSync(fetches, feeds) as tf.NDArray[];
}

/**
 * Element-wise within `rtol` relative to the larger of |expected| and `floor` times the output's
 * largest magnitude. Folding rounds the scaled weights to float32 and reorders the sums, so an
 * element that cancels to near zero differs by float32 rounding of the terms (~1e-7 of the
 * output's scale), not by 1e-5 of itself; the floor measures it against the output's scale.
 */
export function expectRelativeClose(actual: tf.NDArray, expected: tf.NDArray, what: string, rtol = 1e-5, floor = 0.1): void {
  expect(actual.shape, `${what} shape`).toEqual(expected.shape);
  let scale = 0;
  for (const v of expected.data) scale = Math.max(scale, Math.abs(v));
  for (let i = 0; i < expected.size; i++) {
    const e = expected.data[i];
    const a = actual.data[i];
    if (!(Math.abs(a - e) <= rtol * Math.max(Math.abs(e), scale * floor))) expect(a, `${what}[${i}] (expected ${e})`).toBe(e);
  }
}

/** The op types of a GraphDef's nodes. */
export function opTypes(graphDef: tf.GraphDef): string[] {
  return graphDef.node.map((n) => n.op);
}

/**
 * Folds `frozen` and checks the outputs against the unfolded graph, computed in float32 and in
 * float64 (highPrecision sessions: then only the float32 rounding of the folded constants
 * differs, and the tolerance floor is 1% of the output's scale); returns the tool's result.
 */
export function foldAndCompare(f: Frozen, fetches: string[], options: { outputs?: string[] } = {}): ReturnType<typeof foldBatchNorms> {
  const result = foldBatchNorms(f.frozen, options);
  const expected = runGraphDef(f.frozen, fetches, f.feeds);
  const actual = runGraphDef(result.graphDef, fetches, f.feeds);
  fetches.forEach((name, k) => expectRelativeClose(actual[k], expected[k], name));
  const expected64 = runGraphDef(f.frozen, fetches, f.feeds, true);
  const actual64 = runGraphDef(result.graphDef, fetches, f.feeds, true);
  fetches.forEach((name, k) => expectRelativeClose(actual64[k], expected64[k], `${name} (float64)`, 1e-5, 0.01));
  // The frozen graph computes what the session computed (to float32 rounding: the default wasm
  // backend packs constant weights at compile time, and its kernels may sum in another order
  // than for weights read from variables).
  const live = f.sess.runSync(fetches, f.feeds) as tf.NDArray[];
  fetches.forEach((name, k) => expectRelativeClose(expected[k], live[k], `${name} frozen vs session`, 1e-6));
  return result;
}
