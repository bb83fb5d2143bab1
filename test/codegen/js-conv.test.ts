/**
 * The js backend's window ops against the interpreter: Conv2D and DepthwiseConv2dNative with
 * their backprop ops, pooling and pooling gradients, fused batch norm and its gradient, in
 * NHWC and NCHW, SAME and VALID, strided and dilated.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { fusedBatchNormOp } from "../../ir/ops/batch-norm";
import { randomData } from "../helpers/run";
import { compare } from "./js-helpers";

const nd = (shape: number[], seed: number, lo = -1, hi = 1) => tf.ndarray(randomData(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape);
const layout = (format: "NHWC" | "NCHW", n: number, h: number, w: number, c: number) => (format === "NHWC" ? [n, h, w, c] : [n, c, h, w]);

interface ConvCase {
  format: "NHWC" | "NCHW";
  padding: "SAME" | "VALID";
  strides: number | number[];
  dilations: number;
  input: [number, number, number, number];
  filter: [number, number, number, number];
}

const cases: ConvCase[] = [
  { format: "NHWC", padding: "SAME", strides: 1, dilations: 1, input: [2, 6, 5, 3], filter: [3, 3, 3, 4] },
  { format: "NHWC", padding: "VALID", strides: [2, 1], dilations: 1, input: [1, 7, 6, 2], filter: [2, 3, 2, 3] },
  { format: "NCHW", padding: "SAME", strides: 2, dilations: 1, input: [2, 5, 5, 3], filter: [3, 3, 3, 2] },
  { format: "NHWC", padding: "SAME", strides: 1, dilations: 2, input: [1, 6, 6, 2], filter: [3, 3, 2, 2] },
  { format: "NCHW", padding: "VALID", strides: 1, dilations: 1, input: [1, 4, 4, 1], filter: [1, 1, 1, 5] },
];

describe("Conv2D and DepthwiseConv2dNative, forward and backprop", () => {
  for (const c of cases) {
    const label = `${c.format} ${c.padding} strides ${JSON.stringify(c.strides)} dilations ${c.dilations} input ${JSON.stringify(c.input)} filter ${JSON.stringify(c.filter)}`;
    const [n, h, w, ci] = c.input;
    const xShape = layout(c.format, n, h, w, ci);
    it(`conv2d ${label}`, () => {
      compare(
        () => {
          const x = tf.placeholder("float32", xShape, "x");
          const f = tf.placeholder("float32", c.filter, "f");
          const y = tf.nn.conv2d(x, f, c.strides, c.padding, { dataFormat: c.format, dilations: c.dilations });
          return [y, ...tf.gradients(tf.reduceSum(tf.square(y)), [x, f])];
        },
        { feeds: { x: nd(xShape, 1), f: nd(c.filter, 2) }, emits: ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter"] },
      );
    });
    it(`depthwiseConv2d ${label}`, () => {
      const filter = [c.filter[0], c.filter[1], ci, 2];
      compare(
        () => {
          const x = tf.placeholder("float32", xShape, "x");
          const f = tf.placeholder("float32", filter, "f");
          const y = tf.nn.depthwiseConv2d(x, f, c.strides, c.padding, { dataFormat: c.format, rate: c.dilations });
          return [y, ...tf.gradients(tf.reduceSum(tf.square(y)), [x, f])];
        },
        {
          feeds: { x: nd(xShape, 3), f: nd(filter, 4) },
          emits: ["DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropInput", "DepthwiseConv2dNativeBackpropFilter"],
        },
      );
    });
  }

  it("fuses BiasAdd and Relu into the convolution's store", () => {
    const { program } = compare(
      () => tf.nn.relu(tf.nn.biasAdd(tf.nn.conv2d(tf.placeholder("float32", [2, 5, 5, 3], "x"), tf.constant(randomData(54, 3), [3, 3, 3, 2]), 1, "SAME"), tf.constant([0.5, -0.5]))),
      { feeds: { x: nd([2, 5, 5, 3], 1) } },
    );
    const fused = program.analysis.steps.find((s) => s.kind === "ops" && s.producer);
    expect(fused && fused.kind === "ops" && [fused.producer!.type, ...fused.ops.map((o) => o.type)]).toEqual(["Conv2D", "BiasAdd", "Relu"]);
  });
});

describe("pooling and its gradients", () => {
  for (const format of ["NHWC", "NCHW"] as const)
    for (const [padding, k, s] of [["SAME", 3, 2], ["VALID", 2, 2], ["SAME", 2, 1], ["VALID", 3, [1, 2]]] as const)
      it(`${format} ${padding} window ${k} strides ${JSON.stringify(s)}`, () => {
        const shape = layout(format, 2, 7, 6, 3);
        compare(
          () => {
            const x = tf.placeholder("float32", shape, "x");
            const max = tf.nn.maxPool(x, k, s, padding, { dataFormat: format });
            const avg = tf.nn.avgPool(x, k, s, padding, { dataFormat: format });
            return [max, avg, ...tf.gradients(tf.add(tf.reduceSum(tf.square(max)), tf.reduceSum(tf.square(avg))), [x])];
          },
          { feeds: { x: nd(shape, 5) }, emits: ["MaxPool", "AvgPool", "MaxPoolGrad", "AvgPoolGrad"] },
        );
      });
});

describe("fused batch norm", () => {
  for (const format of ["NHWC", "NCHW"] as const)
    for (const [training, factor] of [[true, 1], [true, 0.3], [false, 1]] as const)
      it(`${format} training=${training} exponential_avg_factor=${factor}, outputs and gradients`, () => {
        const shape = layout(format, 3, 4, 5, 2);
        compare(
          () => {
            const x = tf.placeholder("float32", shape, "x");
            const scale = tf.constant([1.5, -0.5]);
            const offset = tf.constant([0.1, 0.2]);
            const op = fusedBatchNormOp(x, scale, offset, tf.constant([0.2, -0.1]), tf.constant([1.2, 0.7]), {
              epsilon: 0.001, dataFormat: format, isTraining: training, exponentialAvgFactor: factor,
            });
            const y = tf.nn.relu(op.outputs[0]);
            return [y, op.outputs[1], op.outputs[2], op.outputs[3], op.outputs[4], op.outputs[5], ...tf.gradients(tf.reduceSum(tf.square(y)), [x, scale, offset])];
          },
          { feeds: { x: nd(shape, 9, -2, 3) }, emits: ["FusedBatchNormV3", "FusedBatchNormGradV3"] },
        );
      });

  it("a conv → batch norm → relu inference net runs entirely on emitters", () => {
    const { program } = compare(
      () => {
        const x = tf.placeholder("float32", [null, 8, 8, 3], "x");
        const f = tf.getVariable("f", [3, 3, 3, 4], { initializer: tf.initializers.glorotUniform({ seed: 2 }) });
        const [bn] = tf.nn.fusedBatchNorm(tf.nn.conv2d(x, f, 1, "SAME"), tf.constant([1, 2, 0.5, 1]), tf.constant([0, 0.1, -0.1, 0.2]), {
          mean: tf.constant([0.1, 0, -0.2, 0.3]), variance: tf.constant([1, 0.5, 2, 1]), isTraining: false,
        });
        const pooled = tf.nn.maxPool(tf.nn.relu(bn), 2, 2, "VALID");
        return tf.nn.softmax(tf.reshape(pooled, [-1, 64]));
      },
      { feeds: { x: nd([5, 8, 8, 3], 3) } },
    );
    expect(program.fallbacks).toEqual([]);
  });
});
