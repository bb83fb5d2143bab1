/**
 * Folding the batch norms the layer APIs build: tf.layers.batchNormalization (fused and not)
 * and tf.contrib.layers.batchNorm, with `training` a bool placeholder (default false) under
 * tf.cond, after a few training steps have moved the moving statistics.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { batchNorm as contribBatchNorm, type BatchNormOptions } from "../../src/contrib/batch-norm";
import { convertVariablesToConstants } from "../../src/freeze";
import { batchNormalization, type BatchNormalizationFunctionOptions } from "../../src/layers/batch-normalization";
import { foldBatchNorms } from "../../src/tools";
import { randomData } from "../helpers/run";
import { BN_TYPES, expectRelativeClose, opTypes, randomInput, runGraphDef } from "./fold-helpers";

interface Built {
  out: tf.Tensor;
  x: tf.Tensor;
  feed: tf.NDArray;
}

/** Builds, sets random gamma, beta and moving statistics, trains a few steps with phase true (moving statistics move), freezes to "out". */
function trainAndFreeze(build: (phase: tf.Tensor) => Built) {
  const graph = new tf.Graph();
  const built = graph.asDefault(() => {
    const phase = tf.placeholderWithDefault(false, [], "phase");
    return build(phase);
  });
  const sess = new tf.Session({ graph });
  sess.runSync(graph.asDefault(() => tf.globalVariablesInitializer()));
  let seed = 40;
  for (const v of graph.getCollection<tf.Variable>(tf.GraphKeys.GLOBAL_VARIABLES)) {
    const value = sess.variableValues.get(v.op.name)!;
    const [lo, hi] = /gamma$|moving_variance$/.test(v.op.name) ? [0.5, 1.5] : [-1, 1];
    if (/gamma$|beta$|moving_mean$|moving_variance$/.test(v.op.name)) sess.setVariableValue(v.op.name, tf.ndarray(randomData(value.size, seed++, lo, hi), value.shape));
  }
  const updates = graph.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS);
  for (let step = 0; step < 3; step++) sess.runSync([built.out, ...updates], { [built.x.op.name]: randomInput(built.feed.shape, 60 + step), phase: true });
  const feeds = { [built.x.op.name]: built.feed };
  const before = sess.runSync(built.out, feeds);
  const frozen = convertVariablesToConstants(sess, graph.asGraphDef(), ["out"]);
  // The inference run changed nothing, and the frozen graph computes the same.
  expect(sess.runSync(built.out, feeds).values()).toEqual(before.values());
  expect(runGraphDef(frozen, ["out"], feeds)[0].values()).toEqual(before.values());
  return { graph, sess, frozen, feeds, before };
}

function expectFolded(f: ReturnType<typeof trainAndFreeze>, form: string, producer: string) {
  const r = foldBatchNorms(f.frozen, { outputs: ["out"] });
  expect(r.report.map((row) => [row.form, row.producer, row.folded, row.reason])).toEqual([[form, producer, true, undefined]]);
  const types = opTypes(r.graphDef);
  for (const t of [...BN_TYPES, "Switch", "Merge", "Mean", "AssignSub", "Sub"]) expect(types, t).not.toContain(t);
  expectRelativeClose(runGraphDef(r.graphDef, ["out"], f.feeds)[0], f.before, "out");
  expectRelativeClose(runGraphDef(r.graphDef, ["out"], f.feeds, true)[0], runGraphDef(f.frozen, ["out"], f.feeds, true)[0], "out (float64)", 1e-5, 0.01);
  return r;
}

function conv(format: "NHWC" | "NCHW"): Built & { y: tf.Tensor } {
  const shape = format === "NHWC" ? [2, 6, 6, 3] : [2, 3, 6, 6];
  const x = tf.placeholder("float32", [null, ...shape.slice(1)], "x");
  const w = new tf.Variable(tf.ndarray(randomData(3 * 3 * 3 * 4, 5), [3, 3, 3, 4]), { name: "conv/kernel" });
  const y = tf.nn.conv2d(x, w, 1, "SAME", { dataFormat: format, name: "conv/Conv2D" });
  return { x, y, feed: randomInput(shape, 8), out: y };
}

describe("folding the batch norms of tf.layers.batchNormalization", () => {
  it.each([
    ["NHWC", true, "FusedBatchNormV3"],
    ["NCHW", true, "FusedBatchNormV3"],
    ["NHWC", false, "batchNormalization"],
    ["NCHW", false, "batchNormalization"],
  ] as const)("conv2d %s, fused %s, training a placeholder with default false", (format, fused, form) => {
    const f = trainAndFreeze((phase) => {
      const c = conv(format);
      const options: BatchNormalizationFunctionOptions = { training: phase, fused, axis: format === "NCHW" ? 1 : -1, name: "bn" };
      return { ...c, out: tf.nn.relu(batchNormalization(c.y, options), "out") };
    });
    expect(opTypes(f.frozen)).toContain("Switch");
    expectFolded(f, form, "conv/Conv2D");
  });

  it("dense (with its bias) then a non-fused batch norm", () => {
    const f = trainAndFreeze((phase) => {
      const x = tf.placeholder("float32", [null, 6], "x");
      const h = tf.layers.dense(x, 5, { name: "dense", biasInitializer: tf.initializers.constant(0.3) });
      return { x, feed: randomInput([4, 6], 9), out: tf.identity(batchNormalization(h, { training: phase, name: "bn" }), "out") };
    });
    expectFolded(f, "batchNormalization", "dense/MatMul");
  });

  it("with training: false (resolved while building): a FusedBatchNormV3 in inference mode, no cond", () => {
    const f = trainAndFreeze(() => {
      const c = conv("NHWC");
      return { ...c, out: tf.identity(batchNormalization(c.y, { training: false, name: "bn" }), "out") };
    });
    expect(opTypes(f.frozen)).not.toContain("Switch");
    expectFolded(f, "FusedBatchNormV3", "conv/Conv2D");
  });
});

describe("folding tf.contrib.layers.batchNorm", () => {
  it.each([
    ["the layer path (UPDATE_OPS)", { scale: true }],
    ["the fused path with updates forced into the output (updatesCollections: null)", { scale: true, updatesCollections: null }],
    ["the legacy path (zeroDebiasMovingMean off, fused: false, updatesCollections: null)", { scale: true, fused: false, updatesCollections: null }],
  ] as [string, BatchNormOptions][])("%s", (_, options) => {
    const f = trainAndFreeze((phase) => {
      const c = conv("NHWC");
      return { ...c, out: tf.identity(contribBatchNorm(c.y, { ...options, isTraining: phase, scope: "bn" }), "out") };
    });
    const r = foldBatchNorms(f.frozen, { outputs: ["out"] });
    expect(r.report).toHaveLength(1);
    expect(r.report[0]).toMatchObject({ producer: "conv/Conv2D", folded: true });
    expectRelativeClose(runGraphDef(r.graphDef, ["out"], f.feeds)[0], f.before, "out");
    for (const t of [...BN_TYPES, "Switch", "Merge"]) expect(opTypes(r.graphDef), t).not.toContain(t);
  });

  it("leaves the phase switch (and the batch norm) when the flag has no default, unless training: false is given", () => {
    const graph = new tf.Graph();
    const feed = randomInput([2, 6, 6, 3], 8);
    graph.asDefault(() => {
      const phase = tf.placeholder("bool", [], "phase");
      const c = conv("NHWC");
      tf.identity(contribBatchNorm(c.y, { isTraining: phase, scale: true, scope: "bn" }), "out");
    });
    const sess = new tf.Session({ graph });
    sess.runSync(graph.asDefault(() => tf.globalVariablesInitializer()));
    const frozen = convertVariablesToConstants(sess, graph.asGraphDef(), ["out"]);
    const left = foldBatchNorms(frozen, { outputs: ["out"] });
    expect(left.report.some((r) => r.folded)).toBe(false);
    expect(left.report.map((r) => r.reason).join("\n")).toMatch(/training mode|tf\.cond is still in the graph/);
    const fixed = foldBatchNorms(frozen, { outputs: ["out"], training: false });
    expect(fixed.report.filter((r) => r.folded)).toHaveLength(1);
    const expected = sess.runSync("out", { x: feed, phase: false });
    expectRelativeClose(runGraphDef(fixed.graphDef, ["out"], { x: feed })[0], expected, "out");
  });
});
