/**
 * Training on the js backend gives the interpreter's variables: a hand-written gradient step,
 * the optimizers' apply ops, the MNIST seed model (batch norm under a `phase` cond, UPDATE_OPS)
 * and a conv net with a fused batch norm in training mode.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { buildModel } from "../../examples/mnist-batchnorm";
import { expectClose, randomData } from "../helpers/run";

function leaves(v: unknown): tf.NDArray[] {
  if (v instanceof tf.NDArray) return [v];
  if (v === null) return [];
  return (v as unknown[]).flatMap(leaves);
}

type Build = () => { train: tf.Fetch; init: tf.Operation; watch?: tf.Fetch };

/** Trains `steps` steps on both backends from the same initial values; returns both sessions. */
function trainBoth(build: Build, feeds: tf.FeedDict, steps = 3) {
  const graph = new tf.Graph();
  const r = graph.asDefault(build);
  const interpreter = new tf.Session({ graph, backend: "interpreter" });
  const js = new tf.Session({ graph, backend: "js" });
  interpreter.runSync(r.init);
  for (const [name, value] of interpreter.variableValues) js.setVariableValue(name, tf.ndarray(value.data.slice(), [...value.shape], value.dtype));
  for (let i = 0; i < steps; i++) {
    const a = leaves(interpreter.runSync(r.train, feeds));
    const b = leaves(js.runSync(r.train, feeds));
    expect(js.js!.lastFallback).toBeNull();
    expect(b.length).toBe(a.length);
    a.forEach((v, k) => expectClose(b[k].data, v.data, 1e-5, 1e-6));
  }
  expect([...js.variableValues.keys()].sort()).toEqual([...interpreter.variableValues.keys()].sort());
  for (const [name, value] of interpreter.variableValues) {
    expect(js.variableValues.get(name)!.shape, name).toEqual(value.shape);
    expectClose(js.variableValues.get(name)!.data, value.data, 1e-5, 1e-6);
  }
  return { graph, r, interpreter, js };
}

const N = 12;
const xs = tf.ndarray(randomData(N * 6, 11), [N, 6]);
const ys = tf.ndarray(Int32Array.from({ length: N }, (_, i) => i % 3), [N], "int32");

function denseRelu(x: tf.Tensor): { logits: tf.Tensor; vars: tf.Tensor[] } {
  const w1 = tf.getVariable("w1", [6, 8], { initializer: tf.initializers.glorotUniform({ seed: 1 }) });
  const b1 = tf.getVariable("b1", [8], { initializer: tf.initializers.constant(0.1) });
  const w2 = tf.getVariable("w2", [8, 3], { initializer: tf.initializers.glorotUniform({ seed: 2 }) });
  const b2 = tf.getVariable("b2", [3], { initializer: tf.initializers.zeros() });
  const h = tf.nn.relu(tf.nn.biasAdd(tf.matmul(x, w1), b1));
  return { logits: tf.nn.biasAdd(tf.matmul(h, w2), b2), vars: [w1, b1, w2, b2] };
}

describe("training steps agree with the interpreter", () => {
  it("dense → relu → softmax cross entropy, tf.gradients and assignSub, 3 steps", () => {
    trainBoth(
      () => {
        const x = tf.placeholder("float32", [null, 6], "x");
        const y = tf.placeholder("int32", [null], "y");
        const { logits, vars } = denseRelu(x);
        const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
        const grads = tf.gradients(loss, vars);
        const updates = vars.map((v, i) => tf.assignSub(v, tf.mul(grads[i]!, 0.5)).op);
        return { train: [loss, tf.group(updates)], init: tf.globalVariablesInitializer() };
      },
      { x: xs, y: ys },
    );
  });

  const optimizers: [string, () => tf.train.Optimizer][] = [
    ["GradientDescent", () => new tf.train.GradientDescentOptimizer(0.3)],
    ["Momentum", () => new tf.train.MomentumOptimizer(0.1, 0.9)],
    ["Momentum (Nesterov)", () => new tf.train.MomentumOptimizer(0.1, 0.9, { useNesterov: true })],
    ["Adam", () => new tf.train.AdamOptimizer({ learningRate: 0.05 })],
  ];
  for (const [name, optimizer] of optimizers)
    it(`${name}: minimize with a global step, 3 steps`, () => {
      const { js } = trainBoth(
        () => {
          const x = tf.placeholder("float32", [null, 6], "x");
          const y = tf.placeholder("int32", [null], "y");
          const { logits } = denseRelu(x);
          const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
          const step = tf.train.getOrCreateGlobalStep();
          return { train: [loss, optimizer().minimize(loss, { globalStep: step })], init: tf.globalVariablesInitializer() };
        },
        { x: xs, y: ys },
      );
      expect(js.js!.last!.program.fallbacks).toEqual([]);
    });

  it("the MNIST seed model: batch norm under a phase cond, 3 training steps, then evaluation", () => {
    const model = buildModel({ hidden: 16, seed: 3 });
    const n = 20;
    const feeds = { x: tf.ndarray(randomData(n * 784, 5, 0, 1), [n, 784]), y: tf.ndarray(Float32Array.from({ length: n * 10 }, (_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0)), [n, 10]) };
    const sessions = (["interpreter", "js"] as const).map((backend) => new tf.Session({ graph: model.graph, backend }));
    sessions[0].runSync(model.init);
    for (const [name, value] of sessions[0].variableValues) sessions[1].setVariableValue(name, tf.ndarray(value.data.slice(), [...value.shape], value.dtype));
    const results = sessions.map((sess) => {
      for (let i = 0; i < 3; i++) sess.runSync([model.loss, model.trainOp], { ...feeds, phase: true });
      // Every op of the training step has an emitter.
      if (sess.js) expect(sess.js.last!.program.fallbacks).toEqual([]);
      const metadata = { executedOps: [] as string[] };
      const evaluation = sess.runSync([model.loss, model.accuracy], feeds, { runMetadata: metadata });
      return { evaluation, metadata, variables: sess.variableValues };
    });
    const [a, b] = results;
    expect(sessions[1].js!.lastFallback).toBeNull();
    expect(sessions[1].js!.last!.program.fallbacks).toEqual([]);
    expectClose(b.evaluation[0].data, a.evaluation[0].data);
    expectClose(b.evaluation[1].data, a.evaluation[1].data);
    for (const [name, value] of a.variables) expectClose(b.variables.get(name)!.data, value.data, 1e-5, 1e-6);
    // The untaken branch (the moving-average updates at evaluation) ran nothing.
    expect(b.metadata.executedOps).toEqual(a.metadata.executedOps);
    expect(b.metadata.executedOps.some((name) => /AssignSub|AssignMovingAvg/.test(name))).toBe(false);
  });

  it("conv → fused batch norm (training) → relu → max pool → dense, GradientDescent, 3 steps", () => {
    trainBoth(
      () => {
        const x = tf.placeholder("float32", [null, 6, 6, 2], "x");
        const y = tf.placeholder("int32", [null], "y");
        const f = tf.getVariable("f", [3, 3, 2, 4], { initializer: tf.initializers.glorotUniform({ seed: 4 }) });
        const gamma = tf.getVariable("gamma", [4], { initializer: tf.initializers.ones() });
        const beta = tf.getVariable("beta", [4], { initializer: tf.initializers.zeros() });
        const [bn] = tf.nn.fusedBatchNorm(tf.nn.conv2d(x, f, 1, "SAME"), gamma, beta, { isTraining: true });
        const pooled = tf.nn.maxPool(tf.nn.relu(bn), 2, 2, "VALID");
        const logits = tf.layers.dense(tf.reshape(pooled, [-1, 36]), 3, { kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) });
        const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
        return { train: [loss, new tf.train.GradientDescentOptimizer(0.1).minimize(loss)], init: tf.globalVariablesInitializer() };
      },
      { x: tf.ndarray(randomData(4 * 72, 7), [4, 6, 6, 2]), y: tf.ndarray(Int32Array.from([0, 1, 2, 1]), [4], "int32") },
    );
  });
});
