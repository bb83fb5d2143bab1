/**
 * Training on `backend: "wasm"` gives the interpreter's numbers (1e-5 relative) and variables:
 * an MLP with batch norm under UPDATE_OPS, every optimizer's apply op as a kernel, a conv net
 * whose backprops and fused batch norms are kernels, the MNIST seed model with its phase cond, and a
 * frozen, batch-norm-folded conv net.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { buildModel } from "../../examples/mnist-batchnorm";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { expectClose, randomData } from "../helpers/run";
import { fallbackTypes, kernelKinds, runBoth } from "./wasm-helpers-session";

describe("training on the wasm backend", () => {
  beforeAll(() => wasmReady());

  it("dense → batch norm (training) → relu → dense → softmax cross entropy, GradientDescent under UPDATE_OPS, 3 steps", () => {
    const n = 16;
    const feeds = {
      x: tf.ndarray(randomData(n * 12, 20), [n, 12]),
      y: tf.ndarray(Float32Array.from({ length: n * 4 }, (_, i) => (i % 4 === Math.floor(i / 4) % 4 ? 1 : 0)), [n, 4]),
    };
    const { wasm } = runBoth(() => {
      const x = tf.placeholder("float32", [null, 12], "x");
      const y = tf.placeholder("float32", [null, 4], "y");
      const h = tf.layers.dense(x, 10, { kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) });
      const bn = tf.layers.batchNormalization(h, { training: true });
      const logits = tf.layers.dense(tf.nn.relu(bn), 4, { kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) });
      const loss = tf.reduceMean(tf.nn.softmaxCrossEntropyWithLogitsV2({ labels: y, logits }));
      const train = tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () => new tf.train.GradientDescentOptimizer(0.2).minimize(loss));
      return { fetch: [loss, train], init: tf.globalVariablesInitializer() };
    }, { feeds, steps: 3 });
    expect(fallbackTypes(wasm)).toEqual([]);
    expect(kernelKinds(wasm)).toContain("gemm+1");
  });

  const optimizers: [string, () => tf.train.Optimizer][] = [
    ["Momentum", () => new tf.train.MomentumOptimizer(0.1, 0.9)],
    ["Momentum (Nesterov)", () => new tf.train.MomentumOptimizer(0.1, 0.9, { useNesterov: true })],
    ["Adam", () => new tf.train.AdamOptimizer({ learningRate: 0.05 })],
  ];
  for (const [name, optimizer] of optimizers)
    it(`${name} with a global step, 3 steps: the apply ops are kernels`, () => {
      const { wasm } = runBoth(() => {
        const x = tf.placeholder("float32", [null, 6], "x");
        const y = tf.placeholder("int32", [null], "y");
        const h = tf.layers.dense(x, 8, { activation: tf.nn.relu, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) });
        const logits = tf.layers.dense(h, 3, { kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) });
        const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
        const step = tf.train.getOrCreateGlobalStep();
        return { fetch: [loss, optimizer().minimize(loss, { globalStep: step })], init: tf.globalVariablesInitializer() };
      }, {
        feeds: { x: tf.ndarray(randomData(10 * 6, 21), [10, 6]), y: tf.ndarray(Int32Array.from({ length: 10 }, (_, i) => i % 3), [10], "int32") },
        steps: 3,
        allowFallback: ["SparseSoftmaxCrossEntropyWithLogits", "AssignAdd"],
      });
      expect(fallbackTypes(wasm).filter((t) => t.startsWith("Apply"))).toEqual([]);
    });

  it("conv → fused batch norm (training) → relu → max pool → dense, 3 steps: the backprops and batch norms are kernels", () => {
    const { wasm } = runBoth(() => {
      const x = tf.placeholder("float32", [null, 6, 6, 2], "x");
      const y = tf.placeholder("int32", [null], "y");
      const f = tf.getVariable("f", [3, 3, 2, 4], { initializer: tf.initializers.glorotUniform({ seed: 4 }) });
      const gamma = tf.getVariable("gamma", [4], { initializer: tf.initializers.ones() });
      const beta = tf.getVariable("beta", [4], { initializer: tf.initializers.zeros() });
      const [bn] = tf.nn.fusedBatchNorm(tf.nn.conv2d(x, f, 1, "SAME"), gamma, beta, { isTraining: true });
      const pooled = tf.nn.maxPool(tf.nn.relu(bn), 2, 2, "VALID");
      const logits = tf.layers.dense(tf.reshape(pooled, [-1, 36]), 3, { kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) });
      const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
      return { fetch: [loss, new tf.train.GradientDescentOptimizer(0.1).minimize(loss)], init: tf.globalVariablesInitializer() };
    }, {
      feeds: { x: tf.ndarray(randomData(4 * 72, 7), [4, 6, 6, 2]), y: tf.ndarray(Int32Array.from([0, 1, 2, 1]), [4], "int32") },
      steps: 3,
      allowFallback: ["SparseSoftmaxCrossEntropyWithLogits"],
    });
    expect(fallbackTypes(wasm)).toEqual([]);
    expect(kernelKinds(wasm)).toEqual(expect.arrayContaining(["batch-norm+1", "pool-grad", "batch-norm-grad", "conv2d-backprop-filter"]));
  });

  it("the MNIST seed model: batch norm under a phase cond, 3 steps, then evaluation with the same executed ops", () => {
    const model = buildModel({ hidden: 16, seed: 3 });
    const n = 20;
    const feeds = { x: tf.ndarray(randomData(n * 784, 5, 0, 1), [n, 784]), y: tf.ndarray(Float32Array.from({ length: n * 10 }, (_, i) => (i % 10 === Math.floor(i / 10) % 10 ? 1 : 0)), [n, 10]) };
    const sessions = (["interpreter", "wasm"] as const).map((backend) => new tf.Session({ graph: model.graph, backend }));
    sessions[0].runSync(model.init);
    for (const [name, value] of sessions[0].variableValues) sessions[1].setVariableValue(name, tf.ndarray(value.data.slice(), [...value.shape], value.dtype));
    const results = sessions.map((sess) => {
      const losses = [];
      for (let i = 0; i < 3; i++) losses.push(sess.runSync([model.loss, model.trainOp], { ...feeds, phase: true })[0]);
      if (sess.backend === "wasm") expect(fallbackTypes(sess)).toEqual([]);
      const metadata = { executedOps: [] as string[] };
      const evaluation = sess.runSync([model.loss, model.accuracy], feeds, { runMetadata: metadata });
      return { losses, evaluation, metadata, variables: sess.variableValues };
    });
    const [a, b] = results;
    a.losses.forEach((l, i) => expectClose(b.losses[i].data, l.data));
    expectClose(b.evaluation[0].data, a.evaluation[0].data);
    expectClose(b.evaluation[1].data, a.evaluation[1].data);
    for (const [name, value] of a.variables) expectClose(b.variables.get(name)!.data, value.data, 1e-5, 1e-6);
    expect(b.metadata.executedOps).toEqual(a.metadata.executedOps);
    expect(b.metadata.executedOps.some((name) => /AssignSub|AssignMovingAvg/.test(name))).toBe(false);
  });

  it("a folded conv + batch norm + relu net: one conv kernel with the folded bias and Relu, interpreter-equal", () => {
    const graph = new tf.Graph();
    const m = graph.asDefault(() => {
      const x = tf.placeholder("float32", [null, 8, 8, 2], "x");
      const conv = tf.layers.conv2d(x, 6, 3, { padding: "same", useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 6 }) });
      const bn = tf.layers.batchNormalization(conv, { training: false, movingMeanInitializer: tf.initializers.randomUniform({ minval: -0.5, maxval: 0.5, seed: 7 }), movingVarianceInitializer: tf.initializers.randomUniform({ minval: 0.5, maxval: 2, seed: 8 }) });
      const pooled = tf.nn.maxPool(tf.nn.relu(bn), 2, 2, "VALID");
      const logits = tf.layers.dense(tf.reshape(pooled, [-1, 96]), 5, { kernelInitializer: tf.initializers.glorotUniform({ seed: 9 }), name: "logits" });
      return { logits, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph, backend: "interpreter" });
    sess.runSync(m.init);
    const frozen = tf.graphUtil.convertVariablesToConstants(sess, graph.asGraphDef(), [m.logits.op.name]);
    const { graphDef: folded, report } = tf.tools.foldBatchNorms(frozen, { outputs: [m.logits.op.name], training: false });
    expect(report.filter((r) => r.folded)).toHaveLength(1);
    const g = tf.importGraphDef(folded);
    const x = tf.ndarray(randomData(3 * 128, 22), [3, 8, 8, 2]);
    const expected = new tf.Session({ graph: g, backend: "interpreter" }).runSync(`${m.logits.op.name}:0`, { x });
    const wasm = new tf.Session({ graph: g, backend: "wasm" });
    const actual = wasm.runSync(`${m.logits.op.name}:0`, { x });
    expectClose(actual.data, expected.data);
    expect(fallbackTypes(wasm)).toEqual([]);
    expect(kernelKinds(wasm)).toEqual(["conv2d+2", "pool", "gemm+1"]);
  });
});

