import { describe, it } from "vitest";
import * as tf from "foldflow";
import * as layers from "../../src/layers";
import { checkGradients } from "../helpers/gradcheck";
import { randomData } from "../helpers/run";

const f64 = (n: number, seed: number) => Float64Array.from(randomData(n, seed));

// Variables are fed like placeholders here, so finite differences can perturb them.
describe("layer gradients against finite differences", () => {
  it("dense with bias and tanh, w.r.t. inputs, kernel and bias", () => {
    checkGradients(
      () => {
        const x = tf.placeholder("float32", [3, 4], "x");
        const layer = new layers.Dense(2, { activation: tf.tanh });
        const y = layer.apply(x);
        return { y, xs: [x, layer.kernel!, layer.bias!] };
      },
      { x: f64(12, 1), "dense/kernel": f64(8, 2), "dense/bias": f64(2, 3) },
    );
  });

  it("dense on a rank-3 input (tensordot)", () => {
    checkGradients(
      () => {
        const x = tf.placeholder("float32", [2, 3, 4], "x");
        const layer = new layers.Dense(3);
        return { y: layer.apply(x), xs: [x, layer.kernel!, layer.bias!] };
      },
      { x: f64(24, 4), "dense/kernel": f64(12, 5), "dense/bias": f64(3, 6) },
    );
  });

  for (const c of [
    { padding: "valid" as const, strides: 1, dataFormat: "channels_last" as const },
    { padding: "same" as const, strides: 2, dataFormat: "channels_last" as const },
    { padding: "same" as const, strides: 1, dataFormat: "channels_first" as const },
  ])
    it(`conv2d ${JSON.stringify(c)} w.r.t. inputs, kernel and bias`, () => {
      const shape = c.dataFormat === "channels_last" ? [2, 5, 4, 2] : [2, 2, 5, 4];
      checkGradients(
        () => {
          const x = tf.placeholder("float32", shape, "x");
          const layer = new layers.Conv2D(3, [3, 2], c);
          return { y: layer.apply(x), xs: [x, layer.kernel!, layer.bias!] };
        },
        { x: f64(80, 7), "conv2d/kernel": f64(3 * 2 * 2 * 3, 8), "conv2d/bias": f64(3, 9) },
      );
    });

  it("conv2d -> relu -> maxPooling2d -> flatten -> dense", () => {
    checkGradients(
      () => {
        const x = tf.placeholder("float32", [2, 6, 6, 1], "x");
        const conv = new layers.Conv2D(2, 3, { padding: "same", activation: tf.nn.relu });
        const h = layers.flatten(layers.maxPooling2d(conv.apply(x), 2, 2));
        const dense = new layers.Dense(2);
        return { y: dense.apply(h), xs: [x, conv.kernel!, dense.kernel!] };
      },
      { x: f64(72, 10), "conv2d/kernel": f64(18, 11), "conv2d/bias": f64(2, 12), "dense/kernel": f64(36, 13), "dense/bias": f64(2, 14) },
    );
  });
});
