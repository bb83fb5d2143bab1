/**
 * Epilogue hoisting on the wasm backend (src/runtime/wasm/hoist.ts): with
 * tf.layers.batchNormalization (fused, training) the moving-average updates sit between
 * FusedBatchNormV3 and the relu; the relu still runs in the batch-norm kernel's last pass, with
 * the interpreter's numbers and variables. It does not move past a step that writes what it reads
 * (a moving average it adds), nor when the normalized value is also read elsewhere.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { randomData } from "../helpers/run";
import { backendOf, kernelKinds, runBoth } from "./wasm-helpers-session";

const feed = (shape: number[], seed: number) => tf.ndarray(randomData(shape.reduce((a, b) => a * b, 1), seed), shape);

/** The ops of the last wasm program's standalone elementwise kernels (their last op's name). */
const elementwiseOps = (sess: tf.Session) => backendOf(sess).last!.built.kernels.flatMap((k) => (k.kind === "elementwise" ? [k.op] : []));

describe("batch norm + activation fusion across the moving-average updates", () => {
  beforeAll(() => wasmReady());

  it("fires for tf.layers.batchNormalization (fused, training) + relu in a conv net training step, with the same numbers", () => {
    const n = 4;
    const { wasm } = runBoth(
      () => {
        const x = tf.placeholder("float32", [null, 12, 12, 3], "x");
        const y = tf.placeholder("int32", [null], "y");
        let h: tf.Tensor = x;
        for (const [i, filters] of [6, 8].entries()) {
          h = tf.layers.conv2d(h, filters, 3, { padding: "same", useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: i + 1 }) });
          h = tf.nn.relu(tf.layers.batchNormalization(h, { training: true, fused: true }));
          h = tf.layers.maxPooling2d(h, 2, 2);
        }
        const logits = tf.layers.dense(tf.reshape(h, [-1, 3 * 3 * 8]), 5, { kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }) });
        const loss = tf.losses.sparseSoftmaxCrossEntropy(y, logits);
        const train = tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () => new tf.train.AdamOptimizer(0.01).minimize(loss));
        return { fetch: [loss, train], init: tf.globalVariablesInitializer() };
      },
      { feeds: { x: feed([n, 12, 12, 3], 1), y: tf.ndarray(Int32Array.of(0, 3, 4, 1), [n], "int32") }, steps: 3 },
    );
    expect(kernelKinds(wasm).filter((k) => k === "batch-norm+1")).toHaveLength(2);
    expect(elementwiseOps(wasm).filter((op) => op.startsWith("Relu"))).toEqual([]);
    const relus = backendOf(wasm).last!.built.kernels.flatMap((k) => (k.kind === "batch-norm" ? (k.epilogue ?? []).map((s) => s.type) : []));
    expect(relus).toEqual(["Relu", "Relu"]);
  });

  it("fires for a longer chain: relu6 then a scale, both in the batch-norm kernel", () => {
    const { wasm } = runBoth(
      () => {
        const x = tf.placeholder("float32", [2, 5, 5, 4], "x");
        const bn = tf.layers.batchNormalization(x, { training: true, fused: true, momentum: 0.9 });
        const a = tf.mul(tf.nn.relu6(bn), 0.5);
        return { fetch: [a, tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS)[0]], init: tf.globalVariablesInitializer() };
      },
      { feeds: { x: feed([2, 5, 5, 4], 2) }, steps: 2 },
    );
    expect(kernelKinds(wasm)).toContain("batch-norm+2");
  });

  it("does not move the activation past the update of a moving average it reads; a copy of it splits the group, and the relu alone moves", () => {
    for (const viaIdentity of [false, true]) {
      const { wasm } = runBoth(
        () => {
          const x = tf.placeholder("float32", [2, 4, 4, 3], "x");
          const bn = tf.layers.batchNormalization(x, { training: true, fused: true, momentum: 0.5 });
          const movingMean = tf.getCollection<tf.Tensor>(tf.GraphKeys.GLOBAL_VARIABLES).find((v) => v.name.includes("moving_mean"))!;
          // Runs after the updates (control dependencies): it must see the updated moving mean.
          const out = tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () =>
            tf.add(tf.nn.relu(bn), viaIdentity ? tf.identity(movingMean) : movingMean),
          );
          return { fetch: out, init: tf.globalVariablesInitializer() };
        },
        { feeds: { x: feed([2, 4, 4, 3], 3) }, steps: 2 },
      );
      expect(kernelKinds(wasm).includes("batch-norm+1"), `relu fused (through an Identity: ${viaIdentity})`).toBe(viaIdentity);
      expect(kernelKinds(wasm)).not.toContain("batch-norm+2");
    }
  });

  it("keeps the normalized value when it is fetched too", () => {
    const { wasm } = runBoth(
      () => {
        const x = tf.placeholder("float32", [2, 4, 4, 3], "x");
        const bn = tf.layers.batchNormalization(x, { training: true, fused: true });
        return { fetch: [bn, tf.nn.relu(bn), tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS)[1]], init: tf.globalVariablesInitializer() };
      },
      { feeds: { x: feed([2, 4, 4, 3], 4) } },
    );
    expect(kernelKinds(wasm)).toContain("batch-norm");
    expect(kernelKinds(wasm)).not.toContain("batch-norm+1");
  });
});
