/**
 * Gradients of BatchNormalization's output with respect to x, gamma and beta against central
 * finite differences (float64 kernels): non-fused (moments + batchNormalization) and fused
 * (FusedBatchNormV3 and its gradient op) in training mode, NHWC and NCHW, and inference.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { BatchNormalization } from "../../src/layers/batch-normalization";
import { batchNorm } from "../../src/contrib/batch-norm";
import { checkGradients } from "../helpers/gradcheck";
import { randomData } from "../helpers/run";

const feedsFor = (x: number[], C: number, extra: Record<string, number[]> = {}) => ({
  x: Array.from(randomData(x.reduce((a, b) => a * b, 1), 3), (v, i) => v * (1 + (i % C)) + (i % C)),
  "batch_normalization/gamma": Array.from({ length: C }, (_, c) => 0.5 + 0.75 * c),
  "batch_normalization/beta": Array.from({ length: C }, (_, c) => 0.3 - 0.2 * c),
  ...extra,
});

function layerCheck(shape: number[], options: ConstructorParameters<typeof BatchNormalization>[0], training: boolean, expectFused: boolean) {
  const C = shape[options?.axis === 1 ? 1 : shape.length - 1];
  checkGradients(
    () => {
      const x = tf.placeholder("float32", shape, "x");
      const layer = new BatchNormalization(options);
      const y = layer.apply(x, { training });
      expect(layer.fused).toBe(expectFused);
      return { y, xs: [x, layer.gamma!, layer.beta!] };
    },
    feedsFor(shape, C),
    { rtol: 1e-4, atol: 1e-6 },
  );
}

describe("BatchNormalization gradients (x, gamma, beta)", () => {
  it("non-fused, training, [N, C]", () => layerCheck([5, 3], {}, true, false));
  it("non-fused, training, 4-D with fused: false", () => layerCheck([2, 2, 1, 3], { fused: false }, true, false));
  it("fused (FusedBatchNormV3), training, NHWC", () => layerCheck([2, 2, 2, 3], {}, true, true));
  it("fused (FusedBatchNormV3), training, NCHW (axis 1)", () => layerCheck([2, 3, 2, 1], { axis: 1 }, true, true));
  it("non-fused and fused, inference (moving statistics constant)", () => {
    layerCheck([4, 3], { movingVarianceInitializer: tf.initializers.constant([0.5, 2, 1]) }, false, false);
    layerCheck([2, 1, 2, 3], { movingMeanInitializer: tf.initializers.constant([0.5, 2, 1]) }, false, true);
  });

  it("the fused training graph differentiates through FusedBatchNormGradV3", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 2, 2, 3], "x");
      const layer = new BatchNormalization();
      tf.gradients(tf.reduceSum(layer.apply(x, { training: true })), [x, layer.gamma!, layer.beta!]);
    });
    expect(g.operations.some((o) => o.type === "FusedBatchNormGradV3")).toBe(true);
  });

  it("contrib.layers.batchNorm (legacy, weighted) differentiates too", () => {
    checkGradients(
      () => {
        const x = tf.placeholder("float32", [4, 2], "x");
        const y = batchNorm(x, { scale: true, batchWeights: tf.constant([1, 2, 0.5, 1], [4], "float32"), scope: "batch_normalization" });
        const g = tf.getDefaultGraph();
        return { y, xs: [x, g.getTensorByName("batch_normalization/gamma:0"), g.getTensorByName("batch_normalization/beta:0")] };
      },
      feedsFor([4, 2], 2),
    );
  });
});
