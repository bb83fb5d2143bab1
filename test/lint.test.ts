import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { checkMovingStatistics, lint } from "../src/lint";

/**
 * A TF1-style batch norm by hand, as tf.layers builds it: moments computed unconditionally,
 * `cond(training, batch statistics, moving statistics)`, and the moving-average assigns under
 * a cond, in UPDATE_OPS.
 */
function batchNorm(x: tf.Tensor, training: tf.Tensor, units: number): tf.Tensor {
  return tf.variableScope("bn", {}, () => {
    const gamma = tf.getVariable("gamma", [units], { initializer: tf.initializers.ones() });
    const beta = tf.getVariable("beta", [units], { initializer: tf.initializers.zeros() });
    const movingMean = tf.getVariable("moving_mean", [units], { initializer: tf.initializers.zeros(), trainable: false });
    const movingVariance = tf.getVariable("moving_variance", [units], { initializer: tf.initializers.ones(), trainable: false });
    tf.addToCollection(tf.GraphKeys.MOVING_AVERAGE_VARIABLES, movingMean);
    tf.addToCollection(tf.GraphKeys.MOVING_AVERAGE_VARIABLES, movingVariance);
    const [mean, variance] = tf.nn.moments(x, [0]);
    const [m, v] = tf.cond(training, () => [tf.identity(mean), tf.identity(variance)], () => [tf.identity(movingMean), tf.identity(movingVariance)]);
    const update = (moving: tf.Tensor, value: tf.Tensor, name: string) =>
      tf.cond(training, () => tf.assignSub(moving, tf.mul(tf.sub(moving, value), 0.1), { name }), () => tf.identity(moving), `${name}_cond`);
    tf.addToCollection(tf.GraphKeys.UPDATE_OPS, update(movingMean, mean, "AssignMovingAvg"));
    tf.addToCollection(tf.GraphKeys.UPDATE_OPS, update(movingVariance, variance, "AssignMovingAvg_1"));
    return tf.nn.batchNormalization(x, m, v, beta, gamma, 1e-3);
  });
}

function model(withUpdates: boolean, batch: number | null = null) {
  const g = new tf.Graph();
  const built = g.asDefault(() => {
    const x = tf.placeholder("float32", [batch, 3], "x");
    const y = tf.placeholder("float32", [batch, 2], "y");
    const phase = tf.placeholderWithDefault(false, [], "phase");
    const h = tf.nn.relu(batchNorm(tf.layers.dense(x, 4, { kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) }), phase, 4));
    const logits = tf.layers.dense(h, 2, { kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) });
    const loss = tf.reduceMean(tf.nn.softmaxCrossEntropyWithLogitsV2({ labels: y, logits }));
    const opt = new tf.train.GradientDescentOptimizer(0.1);
    const trainOp = withUpdates
      ? tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () => opt.minimize(loss))
      : opt.minimize(loss);
    return { x, y, phase, logits, loss, trainOp, init: tf.globalVariablesInitializer() };
  });
  return { g, ...built };
}

const xs = [[1, 2, 3], [0, -1, 2], [3, 1, 0], [-2, 0, 1]];
const ys = [[1, 0], [0, 1], [1, 0], [0, 1]];

describe("tf.lint: update-ops-not-run", () => {
  it("warns when the train op does not depend on UPDATE_OPS, naming the update ops and the fix", () => {
    const { g, trainOp } = model(false);
    const ds = lint(g, { trainOp });
    expect(ds).toHaveLength(1);
    const [d] = ds;
    expect(d.code).toBe("update-ops-not-run");
    expect(d.severity).toBe("warning");
    expect(d.node).toBe(trainOp.name);
    const updates = g.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS).map((t) => t.op.name);
    expect(updates).toHaveLength(2);
    for (const name of updates) expect(d.message).toContain(`\`${name}\``);
    expect(d.fix).toContain("tf.controlDependencies(tf.getCollection(tf.GraphKeys.UPDATE_OPS)");
  });

  it("is quiet when the train op depends on them", () => {
    const { g, trainOp } = model(true);
    expect(lint(g, { trainOp })).toEqual([]);
    expect(lint(g, { trainOp: trainOp.name })).toEqual([]);
  });

  it("counts a dependency through data inputs too, and reports only the missing ones", () => {
    const { g, trainOp } = model(false);
    const [first, second] = g.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS);
    const wrapped = g.asDefault(() => tf.group([trainOp, tf.identity(first)]));
    const [d] = lint(g, { trainOp: wrapped });
    expect(d.message).toContain(`\`${second.op.name}\``);
    expect(d.message).not.toContain(`\`${first.op.name}\``);
    expect(d.message).toContain("1 of the 2");
  });

  it("finds the train ops itself when none is given", () => {
    expect(lint(model(false).g).map((d) => d.code)).toEqual(["update-ops-not-run"]);
    expect(lint(model(true).g)).toEqual([]);
  });

  it("flags a statically known training batch of 1", () => {
    const { g, trainOp } = model(true, 1);
    const ds = lint(g, { trainOp });
    expect(ds.map((d) => d.code)).toEqual(["batch-norm-batch-of-one"]);
    expect(ds[0].node).toBe("bn/moments/variance");
  });
});

describe("Session warnings", () => {
  it("warns once per train op that runs without the update ops, through onWarning", () => {
    const { g, trainOp, init, loss } = model(false);
    const seen: tf.Diagnostic[] = [];
    const sess = new tf.Session({ graph: g, onWarning: (d) => seen.push(d) });
    sess.runSync(init);
    sess.runSync(loss, { x: xs, y: ys, phase: true });
    expect(seen).toEqual([]);
    for (let i = 0; i < 3; i++) sess.runSync(trainOp, { x: xs, y: ys, phase: true });
    expect(seen).toHaveLength(1);
    expect(seen[0].code).toBe("update-ops-not-run");
    expect(seen[0].node).toBe(trainOp.name);
    // A new session warns again.
    const again: tf.Diagnostic[] = [];
    const sess2 = new tf.Session({ graph: g, onWarning: (d) => again.push(d) });
    sess2.runSync(init);
    sess2.runSync(trainOp, { x: xs, y: ys, phase: true });
    expect(again).toHaveLength(1);
  });

  it("is quiet when the train op runs the update ops, or when they are fetched with it", () => {
    const withDeps = model(true);
    const seen: tf.Diagnostic[] = [];
    const sess = new tf.Session({ graph: withDeps.g, onWarning: (d) => seen.push(d) });
    sess.runSync(withDeps.init);
    sess.runSync(withDeps.trainOp, { x: xs, y: ys, phase: true });
    const without = model(false);
    const sess2 = new tf.Session({ graph: without.g, onWarning: (d) => seen.push(d) });
    sess2.runSync(without.init);
    const updates = without.g.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS);
    sess2.runSync([without.trainOp, ...updates], { x: xs, y: ys, phase: true });
    expect(seen).toEqual([]);
  });

  it("warns once when a batch norm in training mode is fed a batch of 1, not at inference", () => {
    const { g, trainOp, init, logits } = model(true);
    const seen: tf.Diagnostic[] = [];
    const sess = new tf.Session({ graph: g, onWarning: (d) => seen.push(d) });
    sess.runSync(init);
    sess.runSync(logits, { x: [xs[0]], phase: false });
    sess.runSync(trainOp, { x: xs, y: ys, phase: true });
    expect(seen).toEqual([]);
    sess.runSync(trainOp, { x: [xs[0]], y: [ys[0]], phase: true });
    sess.runSync(logits, { x: [xs[1]], phase: true });
    expect(seen.map((d) => d.code)).toEqual(["batch-norm-batch-of-one"]);
    expect(seen[0].node).toBe("bn/moments/variance");
  });

  it("writes one line to stderr by default", () => {
    const { g, trainOp, init } = model(false);
    const lines: string[] = [];
    const write = process.stderr.write;
    process.stderr.write = ((chunk: string) => (lines.push(String(chunk)), true)) as typeof process.stderr.write;
    try {
      const sess = new tf.Session({ graph: g });
      sess.runSync(init);
      sess.runSync(trainOp, { x: xs, y: ys, phase: true });
      sess.runSync(trainOp, { x: xs, y: ys, phase: true });
    } finally {
      process.stderr.write = write;
    }
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/update-ops-not-run/);
    expect(lines[0].trimEnd().split("\n")).toHaveLength(1);
  });
});

describe("checkMovingStatistics", () => {
  it("flags moving statistics still at their initial values, and is quiet once training updated them", () => {
    const { g, trainOp, init } = model(true);
    const sess = new tf.Session({ graph: g, onWarning: () => {} });
    sess.runSync(init);
    const before = checkMovingStatistics(sess);
    expect(before.map((d) => d.code)).toEqual(["moving-statistics-initial"]);
    expect(before[0].message).toContain("`bn/moving_mean`");
    expect(before[0].message).toContain("`bn/moving_variance`");
    sess.runSync(trainOp, { x: xs, y: ys, phase: true });
    expect(checkMovingStatistics(sess)).toEqual([]);
  });

  it("stays on when training never ran the update ops", () => {
    const { g, trainOp, init } = model(false);
    const sess = new tf.Session({ graph: g, onWarning: () => {} });
    sess.runSync(init);
    for (let i = 0; i < 3; i++) sess.runSync(trainOp, { x: xs, y: ys, phase: true });
    expect(checkMovingStatistics(sess, g)).toHaveLength(1);
  });
});

describe("with tf.layers.batchNormalization", () => {
  function layerModel(fused: boolean, withUpdates: boolean) {
    const g = new tf.Graph();
    const built = g.asDefault(() => {
      const x = tf.placeholder("float32", fused ? [null, null, null, 3] : [null, 3], "x");
      const phase = tf.placeholderWithDefault(false, [], "phase");
      const h = tf.layers.batchNormalization(x, { training: phase, fused, name: "bn" });
      const loss = tf.reduceMean(tf.square(h));
      const opt = new tf.train.GradientDescentOptimizer(0.1);
      const minimize = () => opt.minimize(loss);
      const trainOp = withUpdates ? tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), minimize) : minimize();
      return { x, phase, h, trainOp, init: tf.globalVariablesInitializer() };
    });
    return { g, ...built };
  }

  for (const fused of [false, true]) {
    it(`lint and the session warning see its update ops (fused: ${fused})`, () => {
      const bad = layerModel(fused, false);
      expect(bad.g.getCollection(tf.GraphKeys.UPDATE_OPS)).toHaveLength(2);
      expect(lint(bad.g, { trainOp: bad.trainOp }).map((d) => d.code)).toEqual(["update-ops-not-run"]);
      expect(lint(layerModel(fused, true).g)).toEqual([]);
      const seen: tf.Diagnostic[] = [];
      const sess = new tf.Session({ graph: bad.g, onWarning: (d) => seen.push(d) });
      sess.runSync(bad.init);
      const xs = fused ? tf.ndarray(Float32Array.from({ length: 24 }, (_, i) => Math.sin(i)), [2, 2, 2, 3]) : [[1, 2, 3], [3, 1, 2]];
      sess.runSync(bad.trainOp, { x: xs, phase: true });
      sess.runSync(bad.trainOp, { x: xs, phase: true });
      expect(seen.map((d) => d.code)).toEqual(["update-ops-not-run"]);
    });

    it(`warns about a training batch of 1 only in training mode (fused: ${fused})`, () => {
      const { g, init, h, trainOp } = layerModel(fused, true);
      const seen: tf.Diagnostic[] = [];
      const sess = new tf.Session({ graph: g, onWarning: (d) => seen.push(d) });
      sess.runSync(init);
      const one = fused ? tf.ndarray(Float32Array.from({ length: 3 }, (_, i) => i), [1, 1, 1, 3]) : [[1, 2, 3]];
      const two = fused ? tf.ndarray(Float32Array.from({ length: 24 }, (_, i) => Math.cos(i)), [2, 2, 2, 3]) : [[1, 2, 3], [0, 0, 1]];
      sess.runSync(h, { x: one });
      sess.runSync(trainOp, { x: two, phase: true });
      expect(seen).toEqual([]);
      sess.runSync(trainOp, { x: one, phase: true });
      expect(seen.map((d) => d.code)).toEqual(["batch-norm-batch-of-one"]);
    });
  }
});
