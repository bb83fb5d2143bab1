/**
 * tf.contrib.layers.batchNorm on its three paths (core layer, contrib fused, legacy): outputs
 * and moving statistics against float64 loops, zero-debiased moving mean, batch weights,
 * updatesCollections null (updates in the output's dependencies), isTraining as a tensor,
 * NCHW vs NHWC, collections, scopes and reuse.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { batchNorm, MODEL_VARIABLES, type BatchNormOptions } from "../../src/contrib/batch-norm";
import * as contrib from "../../src/contrib";
import * as regularizers from "../../src/regularizers";
import { expectClose } from "../helpers/run";
import { bessel, channelData, channelStats, channelsFirst, channelsLast, movingUpdate, nhwcToNchw, normalize } from "../layers/bn-reference";

function session(g: tf.Graph): tf.Session {
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  return sess;
}
const values = (a: tf.NDArray) => Array.from(a.data as ArrayLike<number>);
const names = (g: tf.Graph, key: string) => g.getCollection<tf.Tensor>(key).map((v) => v.op.name);
const opTypes = (g: tf.Graph) => g.operations.map((o) => o.type);
const updates = (g: tf.Graph) => g.getCollection<tf.Operation>(tf.GraphKeys.UPDATE_OPS);
const read = (sess: tf.Session, name: string) => values(sess.runSync(`${name}:0`));

function build(shape: (number | null)[], options: BatchNormOptions, withPhase = false) {
  const g = new tf.Graph();
  const y = g.asDefault(() => {
    const x = tf.placeholder("float32", shape, "x");
    const isTraining = withPhase ? tf.placeholder("bool", [], "phase") : options.isTraining;
    return batchNorm(x, { ...options, isTraining });
  });
  return { g, y, sess: session(g) };
}

describe("contrib.layers.batchNorm defaults", () => {
  it("is reachable as contrib.layers.batchNorm", () => {
    expect(contrib.layers.batchNorm).toBe(batchNorm);
  });

  it("4-D NHWC: the core layer's fused computation, scale false, decay 0.999, updates in UPDATE_OPS", () => {
    const { g, y, sess } = build([2, 2, 2, 3], {});
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(["BatchNorm/beta", "BatchNorm/moving_mean", "BatchNorm/moving_variance"]);
    expect(opTypes(g).filter((t) => t === "FusedBatchNormV3")).toHaveLength(1);
    expect(y.op.name.startsWith("BatchNorm/")).toBe(true);
    expect(updates(g)).toHaveLength(2);
    let mm = [0, 0, 0];
    let mv = [1, 1, 1];
    for (let step = 0; step < 3; step++) {
      const xs = channelData(24, 3, 40 + step, [1, 2, 3], [0.5, -1, 2]);
      const [out] = sess.runSync([y, ...updates(g)], { x: tf.ndarray(xs, [2, 2, 2, 3]) }) as tf.NDArray[];
      const st = channelStats(xs, 3, channelsLast(3));
      expectClose(out.data, normalize(xs, channelsLast(3), st.mean, st.variance, null, [0, 0, 0], 1e-3), 1e-4, 1e-5);
      mm = movingUpdate(mm, st.mean, 0.999);
      mv = movingUpdate(mv, bessel(st.variance, 8), 0.999);
      expectClose(read(sess, "BatchNorm/moving_mean"), mm, 1e-5, 1e-7);
      expectClose(read(sess, "BatchNorm/moving_variance"), mv, 1e-5, 1e-7);
    }
  });

  it("3-D input with the default updates: the core layer, non-fused, biased variance", () => {
    const { g, y, sess } = build([2, 3, 2], { decay: 0.5, scale: true, paramInitializers: { gamma: tf.initializers.constant([2, -1]) } });
    expect(opTypes(g)).not.toContain("FusedBatchNormV3");
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(["BatchNorm/gamma", "BatchNorm/beta", "BatchNorm/moving_mean", "BatchNorm/moving_variance"]);
    const xs = channelData(12, 2, 3, [2, 1], [0, 1]);
    const [out] = sess.runSync([y, ...updates(g)], { x: tf.ndarray(xs, [2, 3, 2]) }) as tf.NDArray[];
    const st = channelStats(xs, 2, channelsLast(2));
    expectClose(out.data, normalize(xs, channelsLast(2), st.mean, st.variance, [2, -1], [0, 0], 1e-3), 1e-4, 1e-5);
    expectClose(read(sess, "BatchNorm/moving_variance"), movingUpdate([1, 1], st.variance, 0.5), 1e-5, 1e-7);
  });

  it("2-D input: contrib's fused path on a [-1, 1, 1, C] reshape, output reshaped back", () => {
    const { g, y, sess } = build([null, 3], { decay: 0.9, activationFn: tf.nn.relu });
    expect(opTypes(g)).toContain("FusedBatchNormV3");
    expect(y.op.type).toBe("Relu");
    expect(updates(g)).toHaveLength(2);
    const xs = channelData(15, 3, 8, [1, 2, 3], [0, 1, -1]);
    const [out] = sess.runSync([y, ...updates(g)], { x: tf.ndarray(xs, [5, 3]) }) as tf.NDArray[];
    expect(out.shape).toEqual([5, 3]);
    const st = channelStats(xs, 3, channelsLast(3));
    expectClose(out.data, normalize(xs, channelsLast(3), st.mean, st.variance, null, null, 1e-3).map((v) => Math.max(v, 0)), 1e-4, 1e-5);
    expectClose(read(sess, "BatchNorm/moving_variance"), movingUpdate([1, 1, 1], bessel(st.variance, 5), 0.9), 1e-5, 1e-7);
  });
});

describe("contrib.layers.batchNorm zeroDebiasMovingMean", () => {
  for (const fused of [undefined, false]) {
    it(`${fused === false ? "legacy" : "fused"} path: moving_mean = biased / (1 - decay^t) with shadow variables`, () => {
      const decay = 0.8;
      const { g, y, sess } = build([null, 2], { decay, zeroDebiasMovingMean: true, fused, paramInitializers: { moving_mean: tf.initializers.constant([5, 5]) } });
      expect(opTypes(g).includes("FusedBatchNormV3")).toBe(fused !== false);
      expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual([
        "BatchNorm/beta",
        "BatchNorm/moving_mean",
        "BatchNorm/moving_variance",
        "BatchNorm/BatchNorm/moving_mean/biased",
        "BatchNorm/BatchNorm/moving_mean/local_step",
      ]);
      expect(names(g, tf.GraphKeys.TRAINABLE_VARIABLES)).toEqual(["BatchNorm/beta"]);
      let biased = [0, 0];
      let mv = [1, 1];
      for (let t = 1; t <= 3; t++) {
        const xs = channelData(8, 2, 60 + t, [2, 1], [3, -2]);
        sess.runSync([y, ...updates(g)], { x: tf.ndarray(xs, [4, 2]) });
        const st = channelStats(xs, 2, channelsLast(2));
        biased = movingUpdate(biased, st.mean, decay);
        mv = movingUpdate(mv, fused === false ? st.variance : bessel(st.variance, 4), decay);
        expectClose(read(sess, "BatchNorm/moving_mean"), biased.map((b) => b / (1 - decay ** t)), 1e-5, 1e-6);
        expectClose(read(sess, "BatchNorm/BatchNorm/moving_mean/local_step"), [t]);
        expectClose(read(sess, "BatchNorm/moving_variance"), mv, 1e-5, 1e-6); // the variance is not debiased
      }
    });
  }

  it("works under a bool isTraining tensor (shadow variables initialize without the predicate)", () => {
    const { g, y, sess } = build([null, 2], { zeroDebiasMovingMean: true, decay: 0.5 }, true);
    const xs = channelData(8, 2, 9, [2, 1], [3, -2]);
    sess.runSync([y, ...updates(g)], { x: tf.ndarray(xs, [4, 2]), phase: false });
    expectClose(read(sess, "BatchNorm/moving_mean"), [0, 0]);
    expectClose(read(sess, "BatchNorm/BatchNorm/moving_mean/local_step"), [0]);
    sess.runSync([y, ...updates(g)], { x: tf.ndarray(xs, [4, 2]), phase: true });
    expectClose(read(sess, "BatchNorm/moving_mean"), channelStats(xs, 2, channelsLast(2)).mean, 1e-5, 1e-6);
  });
});

describe("contrib.layers.batchNorm batchWeights", () => {
  it("uses weighted moments for the output and the moving statistics (legacy path)", () => {
    const weights = [1, 3, 0.5, 2];
    const g = new tf.Graph();
    const y = g.asDefault(() => batchNorm(tf.placeholder("float32", [4, 2, 2], "x"), { decay: 0.6, scale: true, batchWeights: tf.constant(weights, [4], "float32") }));
    expect(opTypes(g)).not.toContain("FusedBatchNormV3");
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(["BatchNorm/beta", "BatchNorm/gamma", "BatchNorm/moving_mean", "BatchNorm/moving_variance"]);
    const sess = session(g);
    const xs = channelData(16, 2, 19, [2, 4], [1, -1]);
    const [out] = sess.runSync([y, ...updates(g)], { x: tf.ndarray(xs, [4, 2, 2]) }) as tf.NDArray[];
    const st = channelStats(xs, 2, channelsLast(2), (i) => weights[Math.floor(i / 4)]);
    const plain = channelStats(xs, 2, channelsLast(2));
    expect(Math.abs(st.mean[0] - plain.mean[0])).toBeGreaterThan(1e-3);
    expectClose(out.data, normalize(xs, channelsLast(2), st.mean, st.variance, [1, 1], [0, 0], 1e-3), 1e-4, 1e-5);
    expectClose(read(sess, "BatchNorm/moving_mean"), movingUpdate([0, 0], st.mean, 0.6), 1e-5, 1e-6);
    expectClose(read(sess, "BatchNorm/moving_variance"), movingUpdate([1, 1], st.variance, 0.6), 1e-5, 1e-6);
  });
});

describe("contrib.layers.batchNorm updatesCollections: null", () => {
  for (const fused of [undefined, false]) {
    it(`${fused === false ? "legacy" : "fused"} path: fetching the output alone updates the moving statistics`, () => {
      const { g, y, sess } = build([2, 1, 2, 2], { updatesCollections: null, decay: 0.5, fused });
      expect(updates(g)).toHaveLength(0);
      expect(opTypes(g).includes("FusedBatchNormV3")).toBe(fused !== false);
      const xs = channelData(8, 2, 23, [3, 1], [2, -1]);
      const out = sess.runSync(y, { x: tf.ndarray(xs, [2, 1, 2, 2]) });
      const st = channelStats(xs, 2, channelsLast(2));
      expectClose(out.data, normalize(xs, channelsLast(2), st.mean, st.variance, null, null, 1e-3), 1e-4, 1e-5);
      expectClose(read(sess, "BatchNorm/moving_mean"), movingUpdate([0, 0], st.mean, 0.5), 1e-5, 1e-6);
      const variance = fused === false ? st.variance : bessel(st.variance, 4);
      expectClose(read(sess, "BatchNorm/moving_variance"), movingUpdate([1, 1], variance, 0.5), 1e-5, 1e-6);
    });
  }

  it("with a bool isTraining tensor: a false run leaves the variables, a true run updates them", () => {
    const { g, y, sess } = build([null, 2], { updatesCollections: null, decay: 0.5, fused: false }, true);
    const xs = channelData(6, 2, 2, [3, 1], [2, -1]);
    const out = sess.runSync(y, { x: tf.ndarray(xs, [3, 2]), phase: false });
    expectClose(out.data, normalize(xs, channelsLast(2), [0, 0], [1, 1], null, null, 1e-3), 1e-5, 1e-6);
    expect(read(sess, "BatchNorm/moving_mean")).toEqual([0, 0]);
    sess.runSync(y, { x: tf.ndarray(xs, [3, 2]), phase: true });
    expectClose(read(sess, "BatchNorm/moving_mean"), movingUpdate([0, 0], channelStats(xs, 2, channelsLast(2)).mean, 0.5), 1e-5, 1e-6);
    expect(g.getCollection(tf.GraphKeys.UPDATE_OPS)).toHaveLength(0);
  });

  it("a custom collection receives the updates instead of UPDATE_OPS", () => {
    const { g } = build([null, 2], { updatesCollections: "my_updates" });
    expect(updates(g)).toHaveLength(0);
    expect(g.getCollection("my_updates")).toHaveLength(2);
  });
});

describe("contrib.layers.batchNorm isTraining as a tensor", () => {
  for (const [label, options] of [
    ["core layer (fused)", {}],
    ["core layer (non-fused)", { fused: false }],
    ["contrib fused", { updatesCollections: ["extra"] }],
    ["legacy", { updatesCollections: ["extra"], fused: false }],
  ] as [string, BatchNormOptions][]) {
    it(`${label}: false uses the moving statistics and changes no variable`, () => {
      const { g, y, sess } = build([2, 1, 2, 2], { ...options, paramInitializers: { moving_mean: tf.initializers.constant([1, -1]), moving_variance: tf.initializers.constant([4, 0.25]) } }, true);
      const all = [...updates(g), ...g.getCollection<tf.Operation>("extra")];
      expect(all).toHaveLength(2);
      expect(opTypes(g).includes("FusedBatchNormV3")).toBe(label.includes("(fused)") || label === "contrib fused");
      expect(opTypes(g).includes("Squeeze")).toBe(label === "core layer (non-fused)" || label === "legacy"); // tf.nn.moments
      const vars = g.getCollection<tf.Tensor>(tf.GraphKeys.GLOBAL_VARIABLES);
      const before = (sess.runSync(vars) as tf.NDArray[]).map(values);
      const xs = channelData(8, 2, 12, [1, 1], [0, 0]);
      const [out] = sess.runSync([y, ...all], { x: tf.ndarray(xs, [2, 1, 2, 2]), phase: false }) as tf.NDArray[];
      expect((sess.runSync(vars) as tf.NDArray[]).map(values)).toEqual(before);
      expectClose(out.data, normalize(xs, channelsLast(2), [1, -1], [4, 0.25], null, null, 1e-3), 1e-5, 1e-6);
    });
  }

  it("isTraining: false builds no moments and no assigns", () => {
    const { g } = build([null, 2], { isTraining: false, fused: false, updatesCollections: null });
    expect(opTypes(g).filter((t) => ["AssignSub", "Mean", "Switch"].includes(t))).toEqual([]);
  });
});

describe("contrib.layers.batchNorm NCHW", () => {
  for (const [label, options] of [
    ["core layer (fused)", {}],
    ["legacy", { fused: false, updatesCollections: null }],
    ["contrib fused", { zeroDebiasMovingMean: true }],
  ] as [string, BatchNormOptions][]) {
    it(`${label}: NCHW equals NHWC transposed, with the same moving statistics`, () => {
      const nhwc = [2, 2, 3, 2];
      const nchw = [2, 2, 2, 3];
      const xs = channelData(24, 2, 90, [1, 3], [0.5, -2]);
      const run = (shape: number[], data: ArrayLike<number>, dataFormat: "NHWC" | "NCHW") => {
        const { g, y, sess } = build(shape, { ...options, dataFormat, decay: 0.5, scale: true, paramInitializers: { gamma: tf.initializers.constant([2, 0.5]) } });
        const [out] = sess.runSync([y, ...updates(g)], { x: tf.ndarray(Float32Array.from(data), shape) }) as tf.NDArray[];
        return { out: values(out), mm: read(sess, "BatchNorm/moving_mean"), mv: read(sess, "BatchNorm/moving_variance") };
      };
      const a = run(nhwc, xs, "NHWC");
      const b = run(nchw, nhwcToNchw(xs, nhwc), "NCHW");
      expectClose(b.out, nhwcToNchw(a.out, nhwc), 1e-4, 1e-5);
      const st = channelStats(xs, 2, channelsLast(2));
      expectClose(b.out, normalize(nhwcToNchw(xs, nhwc), channelsFirst(2, 6), st.mean, st.variance, [2, 0.5], [0, 0], 1e-3), 1e-4, 1e-5);
      expectClose(b.mm, a.mm, 1e-5, 1e-6);
      expectClose(b.mv, a.mv, 1e-5, 1e-6);
    });
  }
});

describe("contrib.layers.batchNorm variables, collections, scopes", () => {
  it("model_variables, MOVING_AVERAGE_VARIABLES, variablesCollections, outputsCollections; trainable", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() =>
      batchNorm(tf.placeholder("float32", [null, 3], "x"), {
        scale: true,
        variablesCollections: { beta: ["betas"], moving_mean: ["means"] },
        outputsCollections: ["outputs"],
      }),
    );
    const all = ["BatchNorm/beta", "BatchNorm/gamma", "BatchNorm/moving_mean", "BatchNorm/moving_variance"];
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(all);
    expect(names(g, MODEL_VARIABLES)).toEqual(all);
    expect(names(g, tf.GraphKeys.TRAINABLE_VARIABLES)).toEqual(all.slice(0, 2));
    expect(names(g, tf.GraphKeys.MOVING_AVERAGE_VARIABLES)).toEqual(all.slice(2));
    expect(names(g, "betas")).toEqual(["BatchNorm/beta"]);
    expect(names(g, "means")).toEqual(["BatchNorm/moving_mean"]);
    expect(g.getCollection("outputs")).toEqual([y]);
    const g2 = new tf.Graph();
    g2.asDefault(() => batchNorm(tf.placeholder("float32", [null, 3], "x"), { scale: true, trainable: false, variablesCollections: ["all_bn"] }));
    expect(g2.getCollection(tf.GraphKeys.TRAINABLE_VARIABLES)).toHaveLength(0);
    expect(names(g2, "all_bn")).toHaveLength(4);
  });

  it("paramRegularizers add REGULARIZATION_LOSSES for beta and gamma", () => {
    const g = new tf.Graph();
    g.asDefault(() =>
      batchNorm(tf.placeholder("float32", [null, 2], "x"), {
        scale: true,
        paramInitializers: { beta: tf.initializers.constant([1, 2]) },
        paramRegularizers: { beta: regularizers.l2(0.5), gamma: regularizers.l2(0.25) },
      }),
    );
    const losses = session(g).runSync(g.getCollection<tf.Tensor>(tf.GraphKeys.REGULARIZATION_LOSSES)) as tf.NDArray[];
    expect(losses.map((l) => values(l)[0])).toEqual([2.5, 0.5]);
  });

  it("default scopes uniquify (BatchNorm, BatchNorm_1), nest in variable scopes, and reuse shares a named scope", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 2], "x");
      batchNorm(x);
      batchNorm(x);
      tf.variableScope("layer1", () => batchNorm(x, { scope: "bn" }));
      tf.variableScope("layer1", { reuse: true }, () => batchNorm(x, { scope: "bn" }));
      batchNorm(x, { scope: "bn2" });
      batchNorm(x, { scope: "bn2", reuse: true });
    });
    expect(names(g, tf.GraphKeys.MOVING_AVERAGE_VARIABLES)).toEqual([
      "BatchNorm/moving_mean",
      "BatchNorm/moving_variance",
      "BatchNorm_1/moving_mean",
      "BatchNorm_1/moving_variance",
      "layer1/bn/moving_mean",
      "layer1/bn/moving_variance",
      "bn2/moving_mean",
      "bn2/moving_variance",
    ]);
    expect(updates(g)).toHaveLength(12);
    expect(() => g.asDefault(() => batchNorm(g.getTensorByName("x:0"), { scope: "bn2" }))).toThrow(tf.errors.AlreadyExistsError);
    expect(() => g.asDefault(() => batchNorm(g.getTensorByName("x:0"), { reuse: true }))).toThrow(/scope/);
  });

  it("rejects renorm with the legacy path and a bad dataFormat", () => {
    const g = new tf.Graph();
    const x = g.asDefault(() => tf.placeholder("float32", [null, 2], "x"));
    expect(() => g.asDefault(() => batchNorm(x, { renorm: true, batchWeights: [1, 1] }))).toThrow(/renorm is not supported/);
    expect(() => g.asDefault(() => batchNorm(x, { dataFormat: "NCW" as never }))).toThrow(/dataFormat/);
  });

  it("renorm goes through the core layer (renorm_mean, renorm_stddev under the scope)", () => {
    const g = new tf.Graph();
    g.asDefault(() => batchNorm(tf.placeholder("float32", [null, 2], "x"), { renorm: true, renormDecay: 0.9, renormClipping: { rmax: 2 } }));
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(["BatchNorm/beta", "BatchNorm/moving_mean", "BatchNorm/moving_variance", "BatchNorm/renorm_mean", "BatchNorm/renorm_stddev"]);
    expect(g.hasOperation("BatchNorm/renorm_r")).toBe(true);
  });
});
