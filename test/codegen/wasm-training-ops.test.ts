/**
 * The training ops as kernels of a `backend: "wasm"` program (NHWC): Conv2DBackpropInput / Filter,
 * MaxPoolGrad / AvgPoolGrad, FusedBatchNorm / V2 / V3 (training, inference, moving-average factor)
 * and FusedBatchNormGrad / V2 / V3 give the interpreter's numbers (1e-5 relative) with no host
 * step — on random shapes, strides, paddings and dilations — and a conv net trains to the same
 * variables. NCHW keeps its host step.
 */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as tf from "foldflow";
import { fusedBatchNormOp } from "../../ir/ops/batch-norm";
import { avgPoolGrad, maxPoolGrad, windowedOutput } from "../../ir/ops/pool";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { randomData } from "../helpers/run";
import { expectNear } from "./wasm-helpers";
import { jsKernelTypes, kernelKinds, runBoth } from "./wasm-helpers-session";
import { convCases, forWindowCases, type ConvCase } from "./window-cases";

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
const feed = (shape: number[], seed: number, lo = -1, hi = 1) => tf.ndarray(randomData(size(shape), seed, lo, hi), shape);


function convBackprops(c: ConvCase): void {
  const out = (n: number, k: number, s: number) => windowedOutput(n, k, s, c.dilation, c.padding, "").out!;
  const xShape = [c.batch, c.h, c.w, c.cin];
  const wShape = [c.kh, c.kw, c.cin, c.cout];
  const dyShape = [c.batch, out(c.h, c.kh, c.sh), out(c.w, c.kw, c.sw), c.cout];
  const { wasm } = runBoth(
    () => {
      const x = tf.placeholder("float32", xShape, "x");
      const w = tf.placeholder("float32", wShape, "w");
      const dy = tf.placeholder("float32", dyShape, "dy");
      const options = { dilations: c.dilation };
      const strides = [c.sh, c.sw];
      return { fetch: [tf.nn.conv2dBackpropInput(xShape, w, dy, strides, c.padding, options), tf.nn.conv2dBackpropFilter(x, wShape, dy, strides, c.padding, options)] };
    },
    { feeds: { x: feed(xShape, c.seed), w: feed(wShape, c.seed + 1), dy: feed(dyShape, c.seed + 2) } },
  );
  expect(kernelKinds(wasm).sort()).toEqual(["conv2d-backprop-filter", "conv2d-backprop-input"]);
}

interface PoolCase {
  max: boolean;
  batch: number;
  h: number;
  w: number;
  c: number;
  k: number;
  s: number;
  padding: "SAME" | "VALID";
  seed: number;
}

function poolGrad(p: PoolCase): void {
  const xShape = [p.batch, p.h, p.w, p.c];
  const out = (n: number) => windowedOutput(n, p.k, p.s, 1, p.padding, "").out!;
  const yShape = [p.batch, out(p.h), out(p.w), p.c];
  const { wasm } = runBoth(
    () => {
      const x = tf.placeholder("float32", xShape, "x");
      const dy = tf.placeholder("float32", yShape, "dy");
      const grad = p.max ? maxPoolGrad(x, tf.nn.maxPool(x, p.k, p.s, p.padding), dy, p.k, p.s, p.padding) : avgPoolGrad(xShape, dy, p.k, p.s, p.padding);
      return { fetch: grad };
    },
    { feeds: { x: feed(xShape, p.seed), dy: feed(yShape, p.seed + 1) } },
  );
  expect(kernelKinds(wasm)).toContain("pool-grad");
}

interface NormCase {
  version: 1 | 2 | 3;
  n: number;
  h: number;
  w: number;
  c: number;
  training: boolean;
  factor: number;
  shift: number;
  seed: number;
}

function batchNorm(b: NormCase): void {
  const shape = [b.n, b.h, b.w, b.c];
  const { wasm } = runBoth(
    () => {
      const x = tf.placeholder("float32", shape, "x");
      const [scale, offset, mean, variance] = ["scale", "offset", "mean", "variance"].map((name) => tf.placeholder("float32", [b.c], name));
      const dy = tf.placeholder("float32", shape, "dy");
      const op = fusedBatchNormOp(x, scale, offset, mean, variance, { version: b.version, isTraining: b.training, exponentialAvgFactor: b.factor, epsilon: 0.001 });
      const grads = tf.gradients(op.outputs[0], [x, scale, offset], dy);
      return { fetch: [...op.outputs, ...grads.filter((g): g is tf.Tensor => g !== null)] };
    },
    {
      feeds: {
        x: feed(shape, b.seed, b.shift - 2, b.shift + 3), dy: feed(shape, b.seed + 1), scale: feed([b.c], b.seed + 2, 0.5, 2), offset: feed([b.c], b.seed + 3),
        mean: feed([b.c], b.seed + 4, b.shift - 1, b.shift + 1), variance: feed([b.c], b.seed + 5, 0.5, 2),
      },
    },
  );
  expect(kernelKinds(wasm)).toEqual(["batch-norm", "batch-norm-grad"]);
}

describe("training ops on the wasm backend", () => {
  beforeAll(() => wasmReady());

  it("Conv2DBackpropInput and Conv2DBackpropFilter: strides 1 and 2, SAME and VALID, dilation, 19 channels", () => {
    const base: ConvCase = { batch: 2, h: 7, w: 6, cin: 3, cout: 5, kh: 3, kw: 3, sh: 1, sw: 1, dilation: 1, padding: "SAME", seed: 1 };
    for (const padding of ["SAME", "VALID"] as const) for (const s of [1, 2]) convBackprops({ ...base, padding, sh: s, sw: s });
    convBackprops({ ...base, dilation: 2, h: 9, w: 9 });
    convBackprops({ ...base, cin: 19, cout: 13, sh: 1, sw: 3 });
  });

  it("Conv2DBackpropInput and Conv2DBackpropFilter on random shapes", () => {
    forWindowCases(convCases({ size: 9, kernel: 3, channels: 13 }), 20, convBackprops);
  });

  it("MaxPoolGrad and AvgPoolGrad on random shapes", () => {
    fc.assert(
      fc.property(
        fc.record({
          max: fc.boolean(),
          batch: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 1, max: 9 }),
          w: fc.integer({ min: 1, max: 9 }),
          c: fc.integer({ min: 1, max: 13 }),
          k: fc.integer({ min: 1, max: 3 }),
          s: fc.integer({ min: 1, max: 3 }),
          padding: fc.constantFrom<"SAME" | "VALID">("SAME", "VALID"),
          seed: fc.integer({ min: 1, max: 1 << 20 }),
        }),
        (p) => {
          fc.pre(p.padding === "SAME" || (p.k <= p.h && p.k <= p.w));
          poolGrad(p);
        },
      ),
      { numRuns: 20 },
    );
  });

  it("FusedBatchNorm, V2 and V3 and their gradients: training, inference and a moving-average factor", () => {
    const base: NormCase = { version: 3, n: 2, h: 3, w: 4, c: 5, training: true, factor: 1, shift: 0, seed: 1 };
    for (const version of [1, 2, 3] as const) for (const training of [true, false]) batchNorm({ ...base, version, training, seed: version });
    batchNorm({ ...base, factor: 0.25 });
    batchNorm({ ...base, shift: 200, c: 3 });
  });

  it("FusedBatchNormV3 and its gradient on random shapes", () => {
    fc.assert(
      fc.property(
        fc.record({
          version: fc.constantFrom<1 | 2 | 3>(1, 2, 3),
          n: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 1, max: 5 }),
          w: fc.integer({ min: 1, max: 5 }),
          c: fc.integer({ min: 1, max: 21 }),
          training: fc.boolean(),
          factor: fc.constantFrom(1, 1, 0.1),
          shift: fc.constantFrom(0, 0, 50),
          seed: fc.integer({ min: 1, max: 1 << 20 }),
        }),
        batchNorm,
      ),
      { numRuns: 20 },
    );
  });

  it("large conv backprops run in parts on worker threads (by images, by input channels), with the interpreter's numbers", () => {
    const graph = new tf.Graph();
    const shapes = { x: [5, 24, 24, 16], w: [3, 3, 16, 24], dy1: [5, 24, 24, 24], dy2: [5, 12, 12, 24] };
    const fetches = graph.asDefault(() => {
      const [x, w, dy1, dy2] = (["x", "w", "dy1", "dy2"] as const).map((name) => tf.placeholder("float32", shapes[name], name));
      return [1, 2].flatMap((stride) => {
        const dy = stride === 1 ? dy1 : dy2;
        return [tf.nn.conv2dBackpropInput(shapes.x, w, dy, stride, "SAME"), tf.nn.conv2dBackpropFilter(x, shapes.w, dy, stride, "SAME")];
      });
    });
    const feeds = Object.fromEntries(Object.entries(shapes).map(([name, shape], i) => [name, feed(shape, 60 + i)]));
    const expected = new tf.Session({ graph, backend: "interpreter" }).runSync(fetches, feeds);
    const [whole, split] = [1, 3].map((threads) => new tf.Session({ graph, backend: "wasm", intraOpParallelism: threads }));
    const [a, b] = [whole, split].map((sess) => sess.runSync(fetches, feeds));
    b.forEach((t, k) => {
      expect(Array.from(t.data), "the parts compute what the whole kernel does").toEqual(Array.from(a[k].data));
      // Sums of hundreds of products: 1e-5 relative to their magnitude.
      expectNear(t.data, expected[k].data, Math.max(...Array.from(expected[k].data, Math.abs)));
    });
    const kinds = kernelKinds(split);
    expect(kinds.filter((k) => k === "conv2d-backprop-input")).toHaveLength(6);
    expect(kinds.filter((k) => k === "conv2d-backprop-filter")).toHaveLength(6);
    expect(kernelKinds(whole)).toHaveLength(4);
    whole.close();
    split.close();
  });

  it("NCHW batch norm keeps its host step and its numbers", () => {
    const { wasm } = runBoth(
      () => {
        const x = tf.placeholder("float32", [2, 3, 4, 4], "x");
        const [y] = tf.nn.fusedBatchNorm(x, tf.constant(randomData(3, 4, 0.5, 2)), tf.constant(randomData(3, 5)), { dataFormat: "NCHW" });
        return { fetch: [y, tf.gradients(tf.reduceSum(tf.square(y)), x)[0]!] };
      },
      { feeds: { x: feed([2, 3, 4, 4], 6) }, allowFallback: ["FusedBatchNormV3", "FusedBatchNormGradV3"] },
    );
    expect(jsKernelTypes(wasm)).toContain("FusedBatchNormV3");
  });

  it("a conv net (strided and dilated convs, batch norm + relu, avg and max pooling) trains 3 steps to the interpreter's variables", () => {
    const n = 3;
    const labels = Float32Array.from({ length: n * 4 }, (_, i) => (i % 4 === Math.floor(i / 4) % 4 ? 1 : 0));
    const { wasm } = runBoth(
      () => {
        const x = tf.placeholder("float32", [null, 9, 9, 3], "x");
        const y = tf.placeholder("float32", [null, 4], "y");
        let h = tf.layers.conv2d(x, 6, 3, { strides: 2, padding: "same", useBias: false, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) });
        h = tf.nn.relu(tf.layers.batchNormalization(h, { training: true }));
        h = tf.layers.conv2d(h, 7, 3, { dilationRate: 2, padding: "same", kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) });
        h = tf.nn.relu(tf.layers.batchNormalization(h, { training: true }));
        h = tf.nn.maxPool(tf.nn.avgPool(h, 2, 1, "SAME"), 2, 2, "VALID");
        const logits = tf.layers.dense(tf.reshape(h, [-1, 2 * 2 * 7]), 4, { kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) });
        const loss = tf.reduceMean(tf.nn.softmaxCrossEntropyWithLogitsV2({ labels: y, logits }));
        const train = tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () => new tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss));
        return { fetch: [loss, train], init: tf.globalVariablesInitializer() };
      },
      { feeds: { x: feed([n, 9, 9, 3], 8), y: tf.ndarray(labels, [n, 4]) }, steps: 3 },
    );
    const kinds = kernelKinds(wasm);
    expect(kinds).toEqual(expect.arrayContaining(["conv2d-backprop-input", "conv2d-backprop-filter", "batch-norm-grad", "pool-grad"]));
    expect(kinds.filter((k) => k.startsWith("batch-norm") && !k.startsWith("batch-norm-grad"))).toHaveLength(2);
  });
});
