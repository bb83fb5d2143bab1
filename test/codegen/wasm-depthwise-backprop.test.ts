/**
 * DepthwiseConv2dNativeBackpropInput and DepthwiseConv2dNativeBackpropFilter as kernels of a
 * `backend: "wasm"` program (NHWC): the interpreter's numbers (1e-5 relative) with no host step,
 * for channel multipliers 1..4, strides, dilations, SAME and VALID, on fixed and random shapes;
 * a depthwise-separable net trains to the interpreter's variables; NCHW keeps its host step.
 */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as tf from "foldflow";
import { windowedOutput } from "../../ir/ops/pool";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { randomData } from "../helpers/run";
import { jsKernelTypes, kernelKinds, runBoth } from "./wasm-helpers-session";
import { forWindowCases, windowCases, type WindowCase } from "./window-cases";

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const feed = (shape: number[], seed: number) => tf.ndarray(randomData(size(shape), seed), shape);

interface Case extends WindowCase {
  channels: number;
  multiplier: number;
}

function backprops(c: Case): void {
  const out = (n: number, k: number, s: number) => windowedOutput(n, k, s, c.dilation, c.padding, "").out!;
  const xShape = [c.batch, c.h, c.w, c.channels];
  const wShape = [c.kh, c.kw, c.channels, c.multiplier];
  const dyShape = [c.batch, out(c.h, c.kh, c.sh), out(c.w, c.kw, c.sw), c.channels * c.multiplier];
  const { wasm } = runBoth(
    () => {
      const x = tf.placeholder("float32", xShape, "x");
      const w = tf.placeholder("float32", wShape, "w");
      const dy = tf.placeholder("float32", dyShape, "dy");
      const strides = [c.sh, c.sw];
      const options = { dilations: c.dilation };
      return {
        fetch: [
          tf.nn.depthwiseConv2dNativeBackpropInput(xShape, w, dy, strides, c.padding, options),
          tf.nn.depthwiseConv2dNativeBackpropFilter(x, wShape, dy, strides, c.padding, options),
        ],
      };
    },
    { feeds: { x: feed(xShape, c.seed), w: feed(wShape, c.seed + 1), dy: feed(dyShape, c.seed + 2) } },
  );
  expect(kernelKinds(wasm).sort()).toEqual(["depthwise-backprop-filter", "depthwise-backprop-input"]);
}

const base: Case = { batch: 2, h: 7, w: 6, channels: 5, multiplier: 1, kh: 3, kw: 3, sh: 1, sw: 1, dilation: 1, padding: "SAME", seed: 1 };

describe("depthwise conv backprops on the wasm backend", () => {
  beforeAll(() => wasmReady());

  it("multipliers 1..4, strides 1, 2 and (1, 3), SAME and VALID", () => {
    for (const padding of ["SAME", "VALID"] as const)
      for (const [sh, sw] of [[1, 1], [2, 2], [1, 3]])
        for (const multiplier of [1, 2, 3, 4]) backprops({ ...base, padding, sh, sw, multiplier, seed: sh * 10 + sw + multiplier * 100 });
  });

  it("dilations, 1×1 and tall filters, one channel, 17 channels, empty VALID windows, the MobileNet-like 32 × 3×3", () => {
    backprops({ ...base, dilation: 2, h: 9, w: 9 });
    backprops({ ...base, dilation: 2, h: 9, w: 8, sh: 2, sw: 2, padding: "VALID", multiplier: 2 });
    backprops({ ...base, kh: 1, kw: 1, channels: 16 });
    backprops({ ...base, kh: 4, kw: 1, padding: "VALID", multiplier: 3 });
    backprops({ ...base, channels: 1, multiplier: 1 });
    backprops({ ...base, channels: 1, multiplier: 5 });
    backprops({ ...base, channels: 17, multiplier: 2 });
    backprops({ ...base, h: 2, w: 2, padding: "VALID", kh: 2, kw: 2, sh: 3, sw: 3 });
    backprops({ ...base, batch: 4, h: 16, w: 16, channels: 32, sh: 2, sw: 2 });
    backprops({ ...base, channels: 40, multiplier: 1 });
  });

  it("random shapes (multipliers 1..4, strides 1..3, dilations 1..2, SAME / VALID)", () => {
    const cases = windowCases<{ channels: number; multiplier: number }>(
      { size: 9, kernel: 3 },
      { channels: fc.integer({ min: 1, max: 13 }), multiplier: fc.integer({ min: 1, max: 4 }) },
    );
    forWindowCases(cases, 30, backprops);
  });

  it("a depthwise-separable conv net trains 3 steps to the interpreter's variables with no host step", () => {
    const n = 3;
    const { wasm } = runBoth(
      () => {
        const x = tf.placeholder("float32", [null, 8, 8, 3], "x");
        const y = tf.placeholder("int32", [null], "y");
        const init = (seed: number) => tf.initializers.glorotUniform({ seed });
        const dw1 = tf.getVariable("dw1", [3, 3, 3, 2], { initializer: init(1) });
        let h = tf.nn.relu(tf.nn.depthwiseConv2d(x, dw1, [1, 1], "SAME"));
        h = tf.layers.conv2d(h, 8, 1, { kernelInitializer: init(2) });
        const dw2 = tf.getVariable("dw2", [3, 3, 8, 1], { initializer: init(3) });
        h = tf.nn.relu(tf.nn.depthwiseConv2d(h, dw2, [2, 2], "SAME", { rate: 1 }));
        const logits = tf.layers.dense(tf.reshape(h, [-1, 4 * 4 * 8]), 5, { kernelInitializer: init(4) });
        const loss = tf.losses.sparseSoftmaxCrossEntropy(y, logits);
        return { fetch: [loss, new tf.train.AdamOptimizer(0.01).minimize(loss)], init: tf.globalVariablesInitializer() };
      },
      { feeds: { x: feed([n, 8, 8, 3], 9), y: tf.ndarray(Int32Array.of(1, 4, 0), [n], "int32") }, steps: 3, allowFallback: ["SelectV2"] },
    );
    const kinds = kernelKinds(wasm);
    expect(kinds).toEqual(expect.arrayContaining(["depthwise-backprop-input", "depthwise-backprop-filter", "cross-entropy"]));
    expect(kinds.filter((k) => k === "depthwise-backprop-filter")).toHaveLength(2);
  });

  it("NCHW keeps its host step and its numbers", () => {
    const { wasm } = runBoth(
      () => {
        const w = tf.placeholder("float32", [3, 3, 2, 2], "w");
        const dy = tf.placeholder("float32", [2, 4, 5, 5], "dy");
        return { fetch: tf.nn.depthwiseConv2dNativeBackpropInput([2, 2, 5, 5], w, dy, 1, "SAME", { dataFormat: "NCHW" }) };
      },
      { feeds: { w: feed([3, 3, 2, 2], 3), dy: feed([2, 4, 5, 5], 4) }, allowFallback: ["DepthwiseConv2dNativeBackpropInput"] },
    );
    expect(jsKernelTypes(wasm)).toContain("DepthwiseConv2dNativeBackpropInput");
  });
});
