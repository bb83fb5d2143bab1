/**
 * tf.layers.BatchNormalization (Keras v1 class) and tf.layers.batchNormalization: outputs and
 * moving statistics against float64 loops (./bn-reference.ts), fused and non-fused, training
 * as a boolean and as a tensor, collections, names, reuse, constraints, regularizers.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { BatchNormalization, batchNormalization } from "../../src/layers/batch-normalization";
import { GradientDescentOptimizer } from "../../src/train";
import * as regularizers from "../../src/regularizers";
import { expectClose } from "../helpers/run";
import { bessel, channelData, channelStats, channelsFirst, channelsLast, movingUpdate, nhwcToNchw, normalize } from "./bn-reference";

function session(g: tf.Graph): tf.Session {
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  return sess;
}
const names = (g: tf.Graph, key: string) => g.getCollection<tf.Tensor | tf.Operation>(key).map((v) => (v instanceof tf.Operation ? v.name : v.op.name));
const opTypes = (g: tf.Graph) => g.operations.map((o) => o.type);
const values = (a: tf.NDArray) => Array.from(a.data as ArrayLike<number>);
/** All global variables' current values, by name. */
function snapshot(sess: tf.Session, g: tf.Graph): Record<string, number[]> {
  const vars = g.getCollection<tf.Tensor>(tf.GraphKeys.GLOBAL_VARIABLES);
  const vals = sess.runSync(vars) as tf.NDArray[];
  return Object.fromEntries(vars.map((v, i) => [v.op.name, values(vals[i])]));
}

const GAMMA = [1.5, 0.5, 2];
const BETA = [0.25, -1, 0.5];
const MM0 = [0.1, -0.2, 0.3];
const MV0 = [1.5, 0.5, 2];

function layerWithParams(extra: ConstructorParameters<typeof BatchNormalization>[0] = {}) {
  return new BatchNormalization({
    momentum: 0.9,
    gammaInitializer: tf.initializers.constant(GAMMA),
    betaInitializer: tf.initializers.constant(BETA),
    movingMeanInitializer: tf.initializers.constant(MM0),
    movingVarianceInitializer: tf.initializers.constant(MV0),
    ...extra,
  });
}

describe("BatchNormalization (Keras v1 class), training", () => {
  it("non-fused on [N, C]: batch statistics, biased variance; moving averages over several steps", () => {
    const g = new tf.Graph();
    const layer = layerWithParams();
    const y = g.asDefault(() => layer.apply(tf.placeholder("float32", [null, 3], "x"), { training: true }));
    expect(layer.fused).toBe(false);
    expect(opTypes(g)).not.toContain("FusedBatchNormV3");
    expect(layer.updates).toHaveLength(2);
    expect(layer.updates.every((u) => u.type === "AssignSub")).toBe(true);
    expect(g.getCollection(tf.GraphKeys.UPDATE_OPS)).toHaveLength(0); // Keras: layer.updates only
    const sess = session(g);
    let mm = MM0;
    let mv = MV0;
    for (let step = 0; step < 3; step++) {
      const xs = channelData(15, 3, 11 + step, [2, 0.5, 4], [1, -3, 0.5]);
      const [out] = sess.runSync([y, ...layer.updates], { x: tf.ndarray(xs, [5, 3]) }) as tf.NDArray[];
      const st = channelStats(xs, 3, channelsLast(3));
      expectClose(out.data, normalize(xs, channelsLast(3), st.mean, st.variance, GAMMA, BETA, 1e-3), 1e-4, 1e-5);
      mm = movingUpdate(mm, st.mean, 0.9);
      mv = movingUpdate(mv, st.variance, 0.9);
      expectClose(sess.runSync(layer.movingMean!).data, mm, 1e-5, 1e-6);
      expectClose(sess.runSync(layer.movingVariance!).data, mv, 1e-5, 1e-6);
    }
  });

  it("fused on NHWC: one FusedBatchNormV3; the moving variance uses the Bessel-corrected variance", () => {
    const g = new tf.Graph();
    const layer = layerWithParams({ momentum: 0.8 });
    const y = g.asDefault(() => layer.apply(tf.placeholder("float32", [2, 2, 2, 3], "x"), { training: true }));
    expect(layer.fused).toBe(true);
    expect(opTypes(g).filter((t) => t === "FusedBatchNormV3")).toHaveLength(1);
    const sess = session(g);
    let mm = MM0;
    let mv = MV0;
    for (let step = 0; step < 3; step++) {
      const xs = channelData(24, 3, 5 + step, [1, 3, 0.25], [-1, 2, 0]);
      const [out] = sess.runSync([y, ...layer.updates], { x: tf.ndarray(xs, [2, 2, 2, 3]) }) as tf.NDArray[];
      const st = channelStats(xs, 3, channelsLast(3));
      expectClose(out.data, normalize(xs, channelsLast(3), st.mean, st.variance, GAMMA, BETA, 1e-3), 1e-4, 1e-5);
      mm = movingUpdate(mm, st.mean, 0.8);
      mv = movingUpdate(mv, bessel(st.variance, 8), 0.8);
      expectClose(sess.runSync(layer.movingMean!).data, mm, 1e-5, 1e-6);
      expectClose(sess.runSync(layer.movingVariance!).data, mv, 1e-5, 1e-6);
    }
  });

  it("fused: false on 4-D uses moments with the biased variance for the moving variance", () => {
    const g = new tf.Graph();
    const layer = layerWithParams({ fused: false });
    const y = g.asDefault(() => layer.apply(tf.placeholder("float32", [2, 2, 2, 3], "x"), { training: true }));
    expect(layer.fused).toBe(false);
    expect(opTypes(g)).not.toContain("FusedBatchNormV3");
    const sess = session(g);
    const xs = channelData(24, 3, 9, [1, 3, 0.25], [-1, 2, 0]);
    const [out] = sess.runSync([y, ...layer.updates], { x: tf.ndarray(xs, [2, 2, 2, 3]) }) as tf.NDArray[];
    const st = channelStats(xs, 3, channelsLast(3));
    expectClose(out.data, normalize(xs, channelsLast(3), st.mean, st.variance, GAMMA, BETA, 1e-3), 1e-4, 1e-5);
    expectClose(sess.runSync(layer.movingVariance!).data, movingUpdate(MV0, st.variance, 0.9), 1e-5, 1e-6);
  });

  it("center: false and scale: false create no beta / gamma, fused (constants) and not", () => {
    for (const fused of [undefined, false]) {
      const g = new tf.Graph();
      const layer = new BatchNormalization({ center: false, scale: false, fused });
      const y = g.asDefault(() => layer.apply(tf.placeholder("float32", [2, 1, 3, 2], "x"), { training: true }));
      expect(layer.gamma).toBeNull();
      expect(layer.beta).toBeNull();
      expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(["batch_normalization/moving_mean", "batch_normalization/moving_variance"]);
      const xs = channelData(12, 2, 3, [1, 2], [0, 1]);
      const out = session(g).runSync(y, { x: tf.ndarray(xs, [2, 1, 3, 2]) });
      const st = channelStats(xs, 2, channelsLast(2));
      expectClose(out.data, normalize(xs, channelsLast(2), st.mean, st.variance, null, null, 1e-3), 1e-4, 1e-5);
    }
  });

  it("several axes: statistics per (h, c) over the batch, parameters of shape [1, H, C]", () => {
    const g = new tf.Graph();
    const layer = new BatchNormalization({ axis: [1, 2], momentum: 0.5 });
    const y = g.asDefault(() => layer.apply(tf.placeholder("float32", [4, 2, 3], "x"), { training: true }));
    expect(layer.axis).toEqual([1, 2]);
    expect(layer.gamma!.shape).toEqual([1, 2, 3]);
    expect(layer.movingMean!.shape).toEqual([1, 2, 3]);
    const xs = channelData(24, 6, 21, [1, 2, 3, 0.5, 1, 4], [0, 1, 2, 3, 4, 5]);
    const sess = session(g);
    const [out] = sess.runSync([y, ...layer.updates], { x: tf.ndarray(xs, [4, 2, 3]) }) as tf.NDArray[];
    const st = channelStats(xs, 6, channelsLast(6)); // (h, c) flattened: 6 groups
    expectClose(out.data, normalize(xs, channelsLast(6), st.mean, st.variance, null, null, 1e-3), 1e-4, 1e-5);
    expectClose(sess.runSync(layer.movingMean!).data, movingUpdate([0, 0, 0, 0, 0, 0], st.mean, 0.5), 1e-5, 1e-6);
  });
});

describe("BatchNormalization, epsilon and repeated calls", () => {
  it("the fused kernel raises epsilon to 1.001e-5; the non-fused path keeps it", () => {
    const epsilonOf = (shape: number[], fused?: boolean) => {
      const g = new tf.Graph();
      const layer = new BatchNormalization({ epsilon: 1e-8, fused });
      g.asDefault(() => layer.apply(tf.placeholder("float32", shape, "x"), { training: true }));
      const op = g.operations.find((o) => o.type === "FusedBatchNormV3");
      return op ? op.attrs.epsilon : g.operations.find((o) => o.type === "AddV2" && o.name.includes("batchnorm"))!.inputs[1].op.attrs.value;
    };
    expect(epsilonOf([2, 1, 1, 3])).toBeCloseTo(1.001e-5, 12);
    const nonFused = epsilonOf([2, 1, 1, 3], false) as tf.NDArray;
    expect(nonFused.data[0]).toBeCloseTo(1e-8, 14);
  });

  it("a second call shares the variables and adds two more updates", () => {
    const g = new tf.Graph();
    const layer = new BatchNormalization({ momentum: 0.5 });
    const [y1, y2] = g.asDefault(() => {
      const a = tf.placeholder("float32", [null, 2], "a");
      const b = tf.placeholder("float32", [null, 2], "b");
      return [layer.apply(a, { training: true }), layer.apply(b, { training: true })];
    });
    expect(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES)).toHaveLength(4);
    expect(layer.updates).toHaveLength(4);
    const sess = session(g);
    const xa = channelData(4, 2, 1, [1, 1], [1, 2]);
    const xb = channelData(4, 2, 2, [1, 1], [-1, 3]);
    sess.runSync([y1, ...layer.updates.slice(0, 2)], { a: tf.ndarray(xa, [2, 2]) });
    sess.runSync([y2, ...layer.updates.slice(2)], { b: tf.ndarray(xb, [2, 2]) });
    const mean = movingUpdate(movingUpdate([0, 0], channelStats(xa, 2, channelsLast(2)).mean, 0.5), channelStats(xb, 2, channelsLast(2)).mean, 0.5);
    expectClose(sess.runSync(layer.movingMean!).data, mean, 1e-5, 1e-6);
  });
});

describe("BatchNormalization, inference and training as a tensor", () => {
  it("training: false normalizes with the moving statistics and builds no statistics or assigns", () => {
    for (const shape of [[4, 3], [1, 2, 2, 3]]) {
      const g = new tf.Graph();
      const layer = layerWithParams();
      const y = g.asDefault(() => layer.apply(tf.placeholder("float32", shape, "x"), { training: false }));
      expect(layer.updates).toHaveLength(0);
      expect(opTypes(g).filter((t) => ["AssignSub", "Mean", "Switch", "FusedBatchNormV3"].includes(t))).toEqual(shape.length === 4 ? ["FusedBatchNormV3"] : []);
      expect(g.operations.filter((o) => o.type === "FusedBatchNormV3").every((o) => o.attrs.is_training === false)).toBe(true);
      const xs = channelData(12, 3, 2, [1, 1, 1], [0, 0, 0]);
      const out = session(g).runSync(y, { x: tf.ndarray(xs, shape) });
      expectClose(out.data, normalize(xs, channelsLast(3), MM0, MV0, GAMMA, BETA, 1e-3), 1e-5, 1e-6);
    }
  });

  for (const [label, shape] of [["non-fused", [6, 3]], ["fused", [3, 1, 2, 3]]] as const) {
    it(`${label}: a bool placeholder trains when true and changes no variable when false`, () => {
      const g = new tf.Graph();
      const layer = layerWithParams();
      const y = g.asDefault(() => {
        const phase = tf.placeholder("bool", [], "phase");
        return layer.apply(tf.placeholder("float32", shape as unknown as number[], "x"), { training: phase });
      });
      expect(layer.fused).toBe(label === "fused");
      expect(layer.updates).toHaveLength(2);
      expect(layer.updates.every((u) => u.type === "Merge")).toBe(true);
      const sess = session(g);
      const xs = channelData(18, 3, 8, [2, 1, 0.5], [1, 0, -1]);
      const feed = (phase: boolean) => ({ x: tf.ndarray(xs, shape as unknown as number[]), phase });
      const before = snapshot(sess, g);
      const [inference] = sess.runSync([y, ...layer.updates], feed(false)) as tf.NDArray[];
      expect(snapshot(sess, g)).toEqual(before);
      expectClose(inference.data, normalize(xs, channelsLast(3), MM0, MV0, GAMMA, BETA, 1e-3), 1e-5, 1e-6);

      const [trained] = sess.runSync([y, ...layer.updates], feed(true)) as tf.NDArray[];
      const st = channelStats(xs, 3, channelsLast(3));
      expectClose(trained.data, normalize(xs, channelsLast(3), st.mean, st.variance, GAMMA, BETA, 1e-3), 1e-4, 1e-5);
      const variance = label === "fused" ? bessel(st.variance, 6) : st.variance;
      expectClose(sess.runSync(layer.movingMean!).data, movingUpdate(MM0, st.mean, 0.9), 1e-5, 1e-6);
      expectClose(sess.runSync(layer.movingVariance!).data, movingUpdate(MV0, variance, 0.9), 1e-5, 1e-6);
    });
  }

  it("a constant training tensor is resolved while building, like a boolean", () => {
    const g = new tf.Graph();
    const layer = new BatchNormalization();
    g.asDefault(() => layer.apply(tf.placeholder("float32", [2, 3], "x"), { training: tf.constant(false, [], "bool") }));
    expect(layer.updates).toHaveLength(0);
    expect(opTypes(g)).not.toContain("Switch");
  });
});

describe("BatchNormalization, channels first", () => {
  it("axis 1 on NCHW equals axis -1 on the NHWC transpose, fused and non-fused, with its moving statistics", () => {
    const nhwc = [2, 3, 2, 4];
    const nchw = [2, 4, 3, 2];
    const xs = channelData(48, 4, 17, [1, 2, 0.5, 3], [0, -1, 2, 1]);
    const xt = nhwcToNchw(xs, nhwc);
    const run = (shape: number[], data: ArrayLike<number>, axis: number, fused?: boolean) => {
      const g = new tf.Graph();
      const layer = new BatchNormalization({ axis, fused, momentum: 0.5, gammaInitializer: tf.initializers.constant([1, 2, 3, 4]) });
      const y = g.asDefault(() => layer.apply(tf.placeholder("float32", shape, "x"), { training: true }));
      const sess = session(g);
      const [out] = sess.runSync([y, ...layer.updates], { x: tf.ndarray(Float32Array.from(data), shape) }) as tf.NDArray[];
      return { layer, out: values(out), mm: values(sess.runSync(layer.movingMean!)), mv: values(sess.runSync(layer.movingVariance!)), g };
    };
    const reference = run(nhwc, xs, -1);
    expect(reference.layer.fused).toBe(true);
    const st = channelStats(xs, 4, channelsLast(4));
    expectClose(reference.mv, movingUpdate([1, 1, 1, 1], bessel(st.variance, 12), 0.5), 1e-5, 1e-6);
    for (const fused of [undefined, false]) {
      const first = run(nchw, xt, 1, fused);
      expect(first.layer.fused).toBe(fused !== false);
      if (fused !== false) expect(first.g.operations.find((o) => o.type === "FusedBatchNormV3")!.attrs.data_format).toBe("NCHW");
      expectClose(first.out, nhwcToNchw(reference.out, nhwc), 1e-4, 1e-5);
      expectClose(first.out, normalize(xt, channelsFirst(4, 6), st.mean, st.variance, [1, 2, 3, 4], null, 1e-3), 1e-4, 1e-5);
      expectClose(first.mm, reference.mm, 1e-5, 1e-6);
      expectClose(first.mv, fused === false ? movingUpdate([1, 1, 1, 1], st.variance, 0.5) : reference.mv, 1e-5, 1e-6);
    }
  });
});

describe("BatchNormalization, variables, collections, names", () => {
  it("gamma and beta are trainable; the moving statistics are not and are MOVING_AVERAGE_VARIABLES", () => {
    const g = new tf.Graph();
    const layer = new BatchNormalization();
    g.asDefault(() => layer.apply(tf.placeholder("float32", [null, 3], "x"), { training: true }));
    const all = ["batch_normalization/gamma", "batch_normalization/beta", "batch_normalization/moving_mean", "batch_normalization/moving_variance"];
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(all);
    expect(names(g, tf.GraphKeys.TRAINABLE_VARIABLES)).toEqual(all.slice(0, 2));
    expect(names(g, tf.GraphKeys.MOVING_AVERAGE_VARIABLES)).toEqual(all.slice(2));
    expect(layer.variables.map((v) => v.op.name)).toEqual(all);
    expect(layer.trainableVariables.map((v) => v.op.name)).toEqual(all.slice(0, 2));
    expect(layer.movingMean!.shape).toEqual([3]);
    expect(layer.updates.map((u) => u.name)).toEqual(["batch_normalization/AssignMovingAvg", "batch_normalization/AssignMovingAvg_1"]);
  });

  it("trainable: false keeps every variable out of TRAINABLE_VARIABLES", () => {
    const g = new tf.Graph();
    const layer = new BatchNormalization({ trainable: false });
    g.asDefault(() => layer.apply(tf.placeholder("float32", [null, 3], "x")));
    expect(g.getCollection(tf.GraphKeys.TRAINABLE_VARIABLES)).toHaveLength(0);
    expect(layer.trainableVariables).toHaveLength(0);
  });

  it("tf.layers.batchNormalization adds its updates to UPDATE_OPS; names uniquify; reuse shares variables", () => {
    const g = new tf.Graph();
    const { y1, y3 } = g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const y1 = batchNormalization(x, { training: true, momentum: 0.5 });
      batchNormalization(y1, { training: true });
      const y3 = batchNormalization(x, { training: true, name: "batch_normalization", reuse: true, momentum: 0.5 });
      return { y1, y3 };
    });
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual([
      "batch_normalization/gamma",
      "batch_normalization/beta",
      "batch_normalization/moving_mean",
      "batch_normalization/moving_variance",
      "batch_normalization_1/gamma",
      "batch_normalization_1/beta",
      "batch_normalization_1/moving_mean",
      "batch_normalization_1/moving_variance",
    ]);
    expect(g.getCollection(tf.GraphKeys.UPDATE_OPS)).toHaveLength(6);
    expect(y1.op.name.startsWith("batch_normalization/")).toBe(true);
    // The reused layer reads and updates the same variables: running its updates moves moving_mean.
    const sess = session(g);
    const xs = channelData(6, 3, 4, [1, 1, 1], [2, 2, 2]);
    const updates = g.getCollection<tf.Operation>(tf.GraphKeys.UPDATE_OPS);
    const [a, b] = sess.runSync([y1, y3, updates[4], updates[5]], { x: tf.ndarray(xs, [2, 3]) }) as tf.NDArray[];
    expectClose(a.data, b.data, 0, 0);
    const st = channelStats(xs, 3, channelsLast(3));
    expectClose(sess.runSync("batch_normalization/moving_mean:0").data, movingUpdate([0, 0, 0], st.mean, 0.5), 1e-5, 1e-6);
  });

  it("reusing a name without reuse makes a new uniquified layer; reuse of a missing one fails", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      batchNormalization(x, { name: "bn" });
      batchNormalization(x, { name: "bn" });
    });
    expect(names(g, tf.GraphKeys.MOVING_AVERAGE_VARIABLES)).toEqual(["bn/moving_mean", "bn/moving_variance", "bn_1/moving_mean", "bn_1/moving_variance"]);
    const g2 = new tf.Graph();
    expect(() => g2.asDefault(() => batchNormalization(tf.placeholder("float32", [null, 3], "x"), { name: "nope", reuse: true }))).toThrow(tf.errors.NotFoundError);
  });

  it("rejects bad axes, unknown feature dimensions, inputs of another rank and bad renorm keys", () => {
    const build = (shape: (number | null)[] | null, options: ConstructorParameters<typeof BatchNormalization>[0]) => {
      const g = new tf.Graph();
      return () => g.asDefault(() => new BatchNormalization(options).apply(tf.placeholder("float32", shape, "x")));
    };
    expect(build([2, 3], { axis: 2 })).toThrow(/invalid axis 2/);
    expect(build([2, 3], { axis: [1, -1] })).toThrow(/duplicate axis/);
    expect(build([2, null], {})).toThrow(/undefined dimension 1/);
    expect(build(null, {})).toThrow(tf.errors.InvalidArgumentError);
    expect(build([4, 3], { virtualBatchSize: 2, axis: 0 })).toThrow(/axis cannot include 0/);
    expect(() => new BatchNormalization({ renorm: true, renormClipping: { rmax: 2, foo: 1 } as never })).toThrow(/foo/);
    expect(() => new BatchNormalization({ virtualBatchSize: 0 })).toThrow(/virtualBatchSize/);
    const g = new tf.Graph();
    const layer = new BatchNormalization();
    g.asDefault(() => layer.apply(tf.placeholder("float32", [2, 3], "x")));
    expect(() => g.asDefault(() => layer.apply(tf.placeholder("float32", [2, 1, 3], "x3")))).toThrow(/rank 2/);
  });
});

describe("BatchNormalization, regularizers and constraints", () => {
  it("gammaRegularizer / betaRegularizer add losses to the layer and REGULARIZATION_LOSSES", () => {
    const g = new tf.Graph();
    const layer = new BatchNormalization({ gammaRegularizer: regularizers.l2(0.5), betaRegularizer: regularizers.l1(0.25), betaInitializer: tf.initializers.constant([1, -2, 3]) });
    g.asDefault(() => layer.apply(tf.placeholder("float32", [null, 3], "x")));
    expect(layer.losses).toHaveLength(2);
    const [gammaLoss, betaLoss] = session(g).runSync(g.getCollection<tf.Tensor>(tf.GraphKeys.REGULARIZATION_LOSSES)) as tf.NDArray[];
    expectClose(gammaLoss.data, [0.5 * 3], 1e-6);
    expectClose(betaLoss.data, [0.25 * 6], 1e-6);
  });

  it("an optimizer step applies gammaConstraint and betaConstraint after the update", () => {
    const g = new tf.Graph();
    const layer = new BatchNormalization({
      gammaConstraint: (w) => tf.minimum(w, 1),
      betaConstraint: (w) => tf.maximum(w, -0.01),
    });
    const { train, y } = g.asDefault(() => {
      const x = tf.placeholder("float32", [4, 2], "x");
      const y = layer.apply(x, { training: true });
      const loss = tf.reduceSum(tf.mul(y, tf.constant([[1, 2], [3, -1], [0.5, 1], [2, 0]], [4, 2], "float32")));
      return { train: new GradientDescentOptimizer(0.1).minimize(loss), y };
    });
    expect(layer.gamma!.constraint).toBeDefined();
    const sess = session(g);
    const xs = Float32Array.from([1, 2, 3, 5, 2, 0, 6, 1]);
    const w = [1, 2, 3, -1, 0.5, 1, 2, 0];
    sess.runSync([train, y], { x: tf.ndarray(xs, [4, 2]) });
    // dL/dbeta_c = Σ w[:, c] = [6.5, 2]; dL/dgamma_c = Σ w·x̂.
    const st = channelStats(xs, 2, channelsLast(2));
    const xhat = normalize(xs, channelsLast(2), st.mean, st.variance, null, null, 1e-3);
    const dGamma = [0, 1].map((c) => xhat.reduce((sum, v, i) => (i % 2 === c ? sum + v * w[i] : sum), 0));
    const dBeta = [0, 1].map((c) => w.reduce((sum, v, i) => (i % 2 === c ? sum + v : sum), 0));
    expectClose(sess.runSync(layer.beta!).data, dBeta.map((d) => Math.max(-0.1 * d, -0.01)), 1e-5, 1e-6);
    const gamma = dGamma.map((d) => Math.min(1 - 0.1 * d, 1));
    expect(gamma.some((v) => v === 1) && gamma.some((v) => v < 1)).toBe(true); // the constraint binds on one channel only
    expectClose(sess.runSync(layer.gamma!).data, gamma, 1e-5, 1e-6);
  });
});
