import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as layers from "../../src/layers";
import * as losses from "../../src/losses";
import * as train from "../../src/train";
import { randomData } from "../helpers/run";

const optimizers: [string, () => train.Optimizer][] = [
  ["GradientDescent", () => new train.GradientDescentOptimizer(0.3)],
  ["Momentum", () => new train.MomentumOptimizer(0.05, 0.9)],
  ["Momentum (Nesterov)", () => new train.MomentumOptimizer(0.05, 0.9, { useNesterov: true })],
  ["Adam", () => new train.AdamOptimizer({ learningRate: 0.03 })],
];

/** Builds `model`, trains `steps` steps on (xs, ys), returns the losses before and after. */
function fit(model: (x: tf.Tensor) => tf.Tensor, xShape: number[], xs: Float32Array, ys: Int32Array, opt: () => train.Optimizer, steps: number) {
  const g = new tf.Graph();
  const r = g.asDefault(() => {
    const x = tf.placeholder("float32", [null, ...xShape.slice(1)], "x");
    const y = tf.placeholder("int32", [null], "y");
    const logits = model(x);
    const loss = losses.sparseSoftmaxCrossEntropy(y, logits);
    const step = train.getOrCreateGlobalStep();
    const op = opt().minimize(loss, { globalStep: step });
    return { loss, op, step, init: tf.globalVariablesInitializer() };
  });
  const sess = new tf.Session({ graph: g });
  sess.runSync(r.init);
  const feeds = { x: tf.ndarray(xs, xShape), y: ys };
  const before = sess.runSync(r.loss, feeds).scalar();
  for (let i = 0; i < steps; i++) sess.runSync(r.op, feeds);
  const after = sess.runSync(r.loss, feeds).scalar();
  expect(sess.runSync(r.step).scalar()).toBe(steps);
  return { before, after };
}

describe("training converges", () => {
  // Three classes from the sign pattern of two linear functions of 4 features.
  const n = 24;
  const xs = randomData(n * 4, 13);
  const ys = Int32Array.from({ length: n }, (_, i) => {
    const a = xs[i * 4] + xs[i * 4 + 1] - xs[i * 4 + 2];
    const b = xs[i * 4 + 3] - xs[i * 4];
    return a > 0 ? 0 : b > 0 ? 1 : 2;
  });
  const mlp = (x: tf.Tensor) => {
    const h = layers.dense(x, 16, { activation: tf.nn.relu, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) });
    return layers.dense(h, 3, { kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) });
  };

  for (const [name, make] of optimizers)
    it(`an MLP (dense 16 relu -> dense 3) with ${name}`, () => {
      const { before, after } = fit(mlp, [n, 4], xs, ys, make, 40);
      expect(after).toBeLessThan(before * 0.3);
    });

  // 6x6 single-channel images: class 0 has a bright 2x2 blob on the left, class 1 on the right.
  const m = 8;
  const images = new Float32Array(m * 36);
  const labels = Int32Array.from({ length: m }, (_, i) => i % 2);
  const noise = randomData(m * 36, 17, 0, 0.2);
  for (let i = 0; i < m; i++) {
    const col = labels[i] === 0 ? 1 : 3;
    const row = 1 + (i % 3);
    for (let p = 0; p < 36; p++) images[i * 36 + p] = noise[i * 36 + p];
    for (const [dr, dc] of [[0, 0], [0, 1], [1, 0], [1, 1]]) images[i * 36 + (row + dr) * 6 + col + dc] += 1;
  }
  const convNet = (x: tf.Tensor) => {
    const c = layers.conv2d(x, 4, 3, { padding: "same", activation: tf.nn.relu, kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) });
    const p = layers.maxPooling2d(c, 2, 2);
    return layers.dense(layers.flatten(p), 2, { kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }) });
  };

  for (const [name, make] of optimizers)
    it(`a conv net (conv2d -> relu -> maxPool -> flatten -> dense) with ${name}`, () => {
      const { before, after } = fit(convNet, [m, 6, 6, 1], images, labels, make, 25);
      expect(after).toBeLessThan(before * 0.3);
    });
});
