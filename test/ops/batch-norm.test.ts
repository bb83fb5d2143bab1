/**
 * FusedBatchNorm / V2 / V3, their gradient ops, BatchNormWithGlobalNormalization and
 * tf.nn.fusedBatchNorm, checked against plain float64 JS loops written here (independent of
 * foldflow), tfjs-core's batchNorm for inference, and finite differences for gradients.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { fusedBatchNormOp } from "../../ir/ops/batch-norm";
import { batchNormWithGlobalNormalizationOp } from "../../ir/ops/batch-norm-global";
import { batchNormalization, fusedBatchNorm, moments } from "../../src/nn/batch-norm";
import { checkGradients } from "../helpers/gradcheck";
import { expectClose, randomData } from "../helpers/run";
import { tfjs, tfjsReady, tfjsValues } from "../helpers/tfjs";

beforeAll(() => tfjsReady());

type Format = "NHWC" | "NCHW";

function run(build: () => tf.Tensor[], feeds?: Record<string, tf.FeedValue>): tf.NDArray[] {
  const g = new tf.Graph();
  const out = g.asDefault(build);
  return new tf.Session({ graph: g }).runSync(out, feeds) as tf.NDArray[];
}

const channelOf = (i: number, shape: number[], format: Format) =>
  format === "NHWC" ? i % shape[3] : Math.floor(i / (shape[2] * shape[3])) % shape[1];

/** Plain-loop reference: per-channel batch statistics and the normalized output. */
function reference(x: ArrayLike<number>, shape: number[], format: Format, scale: number[], offset: number[], eps: number, stats?: { mean: number[]; variance: number[] }) {
  const C = format === "NHWC" ? shape[3] : shape[1];
  const n = x.length / C;
  const mean = new Array<number>(C).fill(0);
  const biased = new Array<number>(C).fill(0);
  for (let i = 0; i < x.length; i++) mean[channelOf(i, shape, format)] += x[i] / n;
  for (let i = 0; i < x.length; i++) biased[channelOf(i, shape, format)] += (x[i] - mean[channelOf(i, shape, format)]) ** 2 / n;
  const useMean = stats ? stats.mean : mean;
  const useVar = stats ? stats.variance : biased;
  const y = Array.from(x, (v, i) => {
    const c = channelOf(i, shape, format);
    return ((v - useMean[c]) / Math.sqrt(useVar[c] + eps)) * scale[c] + offset[c];
  });
  return { y, mean, biased, corrected: biased.map((v) => (v * n) / (n - 1)) };
}

/** NHWC data → NCHW data. */
function toNCHW(x: ArrayLike<number>, [N, H, W, C]: number[]): number[] {
  const out = new Array<number>(x.length);
  for (let n = 0; n < N; n++)
    for (let h = 0; h < H; h++)
      for (let w = 0; w < W; w++) for (let c = 0; c < C; c++) out[((n * C + c) * H + h) * W + w] = x[((n * H + h) * W + w) * C + c];
  return out;
}

const shape = [4, 2, 2, 3];
const xData = Array.from(randomData(48, 11), (v, i) => 2 * v + (i % 3));
const scale = [1.5, -0.5, 2];
const offset = [0.1, 0.2, -0.3];
const movingMean = [0.3, 0.9, 2.1];
const movingVar = [0.5, 1.2, 0.8];

describe("FusedBatchNormV3 reference kernel", () => {
  it("training: y with the biased variance, batch_variance Bessel-corrected, reserve spaces as TF's CPU", () => {
    const out = run(() => fusedBatchNormOp(tf.constant(xData, shape), scale, offset, [], [], { epsilon: 0.001 }).outputs);
    const ref = reference(xData, shape, "NHWC", scale, offset, 0.001);
    expect(out.length).toBe(6);
    expect(out[0].shape).toEqual(shape);
    expectClose(out[0].data, ref.y, 1e-5, 1e-5);
    expectClose(out[1].data, ref.mean, 1e-5, 1e-6);
    expectClose(out[2].data, ref.corrected, 1e-5, 1e-6);
    expectClose(out[3].data, ref.mean, 1e-5, 1e-6);
    expectClose(out[4].data, ref.biased, 1e-5, 1e-6);
    expect(out[5].shape).toEqual([]);
    // The correction is n/(n-1) with n = N·H·W = 16.
    expect(out[2].data[0] / out[4].data[0]).toBeCloseTo(16 / 15, 5);
  });

  it("inference: normalizes with the given statistics and returns them", () => {
    const out = run(() => fusedBatchNormOp(tf.constant(xData, shape), scale, offset, movingMean, movingVar, { epsilon: 0.001, isTraining: false }).outputs);
    const ref = reference(xData, shape, "NHWC", scale, offset, 0.001, { mean: movingMean, variance: movingVar });
    expectClose(out[0].data, ref.y, 1e-5, 1e-5);
    for (const i of [1, 3]) expectClose(out[i].data, movingMean);
    for (const i of [2, 4]) expectClose(out[i].data, movingVar);
  });

  it("inference agrees with tfjs-core's batchNorm", () => {
    const [y] = run(() => fusedBatchNormOp(tf.constant(xData, shape), scale, offset, movingMean, movingVar, { epsilon: 0.01, isTraining: false }).outputs);
    const expected = tfjs.batchNorm(tfjs.tensor4d(xData, shape as [number, number, number, number]), movingMean, movingVar, offset, scale, 0.01);
    expectClose(y.data, tfjsValues(expected), 1e-5, 1e-5);
  });

  for (const isTraining of [true, false])
    it(`NCHW equals NHWC transposed (${isTraining ? "training" : "inference"})`, () => {
      const nchwShape = [4, 3, 2, 2];
      const nchw = toNCHW(xData, shape);
      const stats = isTraining ? [[], []] : [movingMean, movingVar];
      const [a, b] = [
        run(() => fusedBatchNormOp(tf.constant(xData, shape), scale, offset, stats[0], stats[1], { isTraining }).outputs),
        run(() => fusedBatchNormOp(tf.constant(nchw, nchwShape), scale, offset, stats[0], stats[1], { isTraining, dataFormat: "NCHW" }).outputs),
      ];
      expect(b[0].shape).toEqual(nchwShape);
      expectClose(b[0].data, toNCHW(a[0].data, shape), 1e-6, 1e-6);
      for (let i = 1; i < 5; i++) expectClose(b[i].data, a[i].data, 1e-6, 1e-7);
      const ref = reference(nchw, nchwShape, "NCHW", scale, offset, 0.0001, isTraining ? undefined : { mean: movingMean, variance: movingVar });
      expectClose(b[0].data, ref.y, 1e-5, 1e-5);
    });

  it("FusedBatchNorm and FusedBatchNormV2 compute the same, with five outputs", () => {
    const v3 = run(() => fusedBatchNormOp(tf.constant(xData, shape), scale, offset, [], []).outputs);
    for (const version of [1, 2] as const) {
      const out = run(() => {
        const op = fusedBatchNormOp(tf.constant(xData, shape), scale, offset, [], [], { version });
        expect(op.type).toBe(version === 1 ? "FusedBatchNorm" : "FusedBatchNormV2");
        return op.outputs;
      });
      expect(out.length).toBe(5);
      for (let i = 0; i < 5; i++) expectClose(out[i].data, v3[i].data, 0, 0);
    }
  });

  it("exponential_avg_factor blends the returned statistics with mean and variance", () => {
    const f = 0.3;
    const out = run(() => fusedBatchNormOp(tf.constant(xData, shape), scale, offset, movingMean, movingVar, { exponentialAvgFactor: f }).outputs);
    const ref = reference(xData, shape, "NHWC", scale, offset, 0.0001);
    expectClose(out[0].data, ref.y, 1e-5, 1e-5);
    expectClose(out[1].data, movingMean.map((m, c) => (1 - f) * m + f * ref.mean[c]), 1e-5, 1e-6);
    expectClose(out[2].data, movingVar.map((v, c) => (1 - f) * v + f * ref.corrected[c]), 1e-5, 1e-6);
    expectClose(out[4].data, ref.biased, 1e-5, 1e-6);
  });

  it("a batch of one element per channel: no Bessel correction (n / max(n-1, 1)), zero variance", () => {
    const x = [1, 2, 3];
    const out = run(() => fusedBatchNormOp(tf.constant(x, [1, 1, 1, 3]), scale, offset, [], []).outputs);
    expectClose(out[0].data, offset, 1e-6, 1e-6);
    expectClose(out[1].data, x);
    expectClose(out[2].data, [0, 0, 0]);
  });

  it("an empty batch gives NaN statistics and an empty y", () => {
    const out = run(() => fusedBatchNormOp(tf.constant(new Float32Array(0), [0, 2, 2, 3]), scale, offset, [], []).outputs);
    expect(out[0].shape).toEqual([0, 2, 2, 3]);
    expect(Array.from(out[1].data).every(Number.isNaN)).toBe(true);
    expect(Array.from(out[2].data).every(Number.isNaN)).toBe(true);
  });

  it("infers static shapes, with unknown dims merged from scale", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 5, 5, null], "x");
      const op = fusedBatchNormOp(x, tf.placeholder("float32", [7], "s"), tf.placeholder("float32", [null], "o"), [], []);
      expect(op.outputs.map((t) => t.shape)).toEqual([[null, 5, 5, 7], [7], [7], [7], [7], []]);
      const nchw = fusedBatchNormOp(tf.placeholder("float32", [2, null, 4, 4]), [1, 1], [0, 0], [0, 0], [1, 1], { dataFormat: "NCHW", isTraining: false });
      expect(nchw.outputs[0].shape).toEqual([2, 2, 4, 4]);
    });
  });
});

describe("tf.nn.fusedBatchNorm", () => {
  it("training returns [y, batch mean, Bessel-corrected batch variance] from one FusedBatchNormV3", () => {
    const g = new tf.Graph();
    const outs = g.asDefault(() => fusedBatchNorm(tf.constant(xData, shape), scale, offset));
    expect(outs[0].op.type).toBe("FusedBatchNormV3");
    expect(outs[0].op.name).toBe("FusedBatchNormV3");
    expect(outs[0].op.attrs.epsilon).toBe(0.001);
    const out = new tf.Session({ graph: g }).runSync(outs) as tf.NDArray[];
    const ref = reference(xData, shape, "NHWC", scale, offset, 0.001);
    expectClose(out[0].data, ref.y, 1e-5, 1e-5);
    expectClose(out[1].data, ref.mean, 1e-5, 1e-6);
    expectClose(out[2].data, ref.corrected, 1e-5, 1e-6);
  });

  it("accepts mean and variance while training (the API page's example) and ignores them", () => {
    const a = run(() => fusedBatchNorm(tf.constant(xData, shape), scale, offset, { mean: movingMean, variance: movingVar, epsilon: 1e-3, dataFormat: "NHWC", isTraining: true }));
    const b = run(() => fusedBatchNorm(tf.constant(xData, shape), scale, offset, { epsilon: 1e-3 }));
    for (let i = 0; i < 3; i++) expectClose(a[i].data, b[i].data, 0, 0);
  });

  it("inference uses and returns mean and variance; NCHW works", () => {
    const nchw = toNCHW(xData, shape);
    const out = run(() => fusedBatchNorm(tf.constant(nchw, [4, 3, 2, 2]), scale, offset, { mean: movingMean, variance: movingVar, isTraining: false, dataFormat: "NCHW" }));
    const ref = reference(nchw, [4, 3, 2, 2], "NCHW", scale, offset, 0.001, { mean: movingMean, variance: movingVar });
    expectClose(out[0].data, ref.y, 1e-5, 1e-5);
    expectClose(out[1].data, movingMean);
    expectClose(out[2].data, movingVar);
  });

  it("raises epsilon to at least 1.001e-5, like TF", () => {
    // Channel variances near 1e-5, where 1e-8 and 1.001e-5 give visibly different outputs.
    const x = Array.from(randomData(48, 5), (v) => 0.005 * v);
    const g = new tf.Graph();
    const [y, big] = g.asDefault(() => [
      fusedBatchNorm(tf.constant(x, shape), scale, offset, { epsilon: 1e-8 })[0],
      fusedBatchNorm(tf.constant(x, shape), scale, offset, { epsilon: 2e-5 })[0],
    ]);
    expect(y.op.attrs.epsilon).toBe(1.001e-5);
    expect(big.op.attrs.epsilon).toBe(2e-5);
    const [out] = new tf.Session({ graph: g }).runSync([y]) as tf.NDArray[];
    expectClose(out.data, reference(x, shape, "NHWC", scale, offset, 1.001e-5).y, 1e-4, 1e-5);
    const unclamped = reference(x, shape, "NHWC", scale, offset, 1e-8).y;
    expect(Math.max(...Array.from(out.data, (v, i) => Math.abs(v - unclamped[i])))).toBeGreaterThan(0.01);
  });
});

describe("gradients through FusedBatchNormV3", () => {
  const feeds = { x: Array.from(xData), gamma: scale, beta: offset };
  for (const format of ["NHWC", "NCHW"] as const)
    for (const isTraining of [true, false])
      it(`${format}, ${isTraining ? "training" : "inference"}: x, scale and offset agree with finite differences`, () => {
        checkGradients(() => {
          const x = tf.placeholder("float32", format === "NHWC" ? shape : [4, 3, 2, 2], "x");
          const gamma = tf.placeholder("float32", [3], "gamma");
          const beta = tf.placeholder("float32", [3], "beta");
          const op = isTraining
            ? fusedBatchNormOp(x, gamma, beta, [], [], { epsilon: 0.001, dataFormat: format })
            : fusedBatchNormOp(x, gamma, beta, movingMean, movingVar, { epsilon: 0.001, dataFormat: format, isTraining: false });
          return { y: op.outputs[0], xs: [x, gamma, beta] };
        }, feeds, { rtol: 1e-4, atol: 1e-6 });
      });

  it("builds FusedBatchNormGradV3 (FusedBatchNormGrad / V2 for the older ops); mean and variance get no gradient", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", shape, "x");
      for (const version of [1, 2, 3] as const) {
        const op = fusedBatchNormOp(x, scale, offset, movingMean, movingVar, { version, isTraining: false });
        const mean = op.inputs[3];
        const [dx, dMean] = tf.gradients(op.outputs[0], [x, mean]);
        expect(dx!.op.type).toBe(["FusedBatchNormGrad", "FusedBatchNormGradV2", "FusedBatchNormGradV3"][version - 1]);
        expect(dMean).toBeNull();
      }
    });
  });

  it("the training gradient is DESIGN's formula: gamma·rsqrt(var+eps)·(dy - mean(dy) - x̂·mean(dy·x̂))", () => {
    const dyData = Array.from(randomData(48, 21));
    const eps = 0.001;
    const out = run(() => {
      const x = tf.constant(xData, shape);
      const gamma = tf.constant(scale);
      const beta = tf.constant(offset);
      const op = fusedBatchNormOp(x, gamma, beta, [], [], { epsilon: eps });
      return tf.gradients(op.outputs[0], [x, gamma, beta], tf.constant(dyData, shape)) as tf.Tensor[];
    });
    const { mean, biased } = reference(xData, shape, "NHWC", scale, offset, eps);
    const C = 3;
    const n = 16;
    const xhat = xData.map((v, i) => (v - mean[i % C]) / Math.sqrt(biased[i % C] + eps));
    const meanDy = [0, 0, 0];
    const meanDyXhat = [0, 0, 0];
    dyData.forEach((d, i) => {
      meanDy[i % C] += d / n;
      meanDyXhat[i % C] += (d * xhat[i]) / n;
    });
    const dx = dyData.map((d, i) => (scale[i % C] / Math.sqrt(biased[i % C] + eps)) * (d - meanDy[i % C] - xhat[i] * meanDyXhat[i % C]));
    expectClose(out[0].data, dx, 1e-4, 1e-5);
    expectClose(out[1].data, meanDyXhat.map((v) => v * n), 1e-4, 1e-5);
    expectClose(out[2].data, meanDy.map((v) => v * n), 1e-4, 1e-5);
  });

  it("agrees with the gradient through moments + batchNormalization (training)", () => {
    const dyData = Array.from(randomData(48, 3));
    const grads = (fused: boolean) =>
      run(() => {
        const x = tf.constant(xData, shape);
        const gamma = tf.constant(scale);
        const beta = tf.constant(offset);
        let y: tf.Tensor;
        if (fused) y = fusedBatchNorm(x, gamma, beta, { epsilon: 0.001 })[0];
        else {
          const [m, v] = moments(x, [0, 1, 2]);
          y = batchNormalization(x, m, v, beta, gamma, 0.001);
        }
        return tf.gradients(y, [x, gamma, beta], tf.constant(dyData, shape)) as tf.Tensor[];
      });
    const [a, b] = [grads(true), grads(false)];
    for (let i = 0; i < 3; i++) expectClose(a[i].data, b[i].data, 1e-4, 1e-5);
  });
});

describe("BatchNormWithGlobalNormalization", () => {
  const m = [0.2, -0.4, 1.1];
  const v = [0.6, 1.3, 0.9];
  for (const scaled of [true, false]) {
    it(`values (scale_after_normalization=${scaled})`, () => {
      const [y] = run(() => [batchNormWithGlobalNormalizationOp(tf.constant(xData, shape), m, v, offset, scale, 0.001, scaled)]);
      const ref = reference(xData, shape, "NHWC", scaled ? scale : [1, 1, 1], offset, 0.001, { mean: m, variance: v });
      expect(y.shape).toEqual(shape);
      expectClose(y.data, ref.y, 1e-5, 1e-5);
    });

    it(`gradients of t, m, v, beta, gamma agree with finite differences (scale_after_normalization=${scaled})`, () => {
      checkGradients(() => {
        const ph = (name: string, s: number[]) => tf.placeholder("float32", s, name);
        const [t, pm, pv, pb, pg] = [ph("t", shape), ph("m", [3]), ph("v", [3]), ph("beta", [3]), ph("gamma", [3])];
        const y = batchNormWithGlobalNormalizationOp(t, pm, pv, pb, pg, 0.001, scaled);
        return { y, xs: scaled ? [t, pm, pv, pb, pg] : [t, pm, pv, pb] };
      }, { t: Array.from(xData), m, v, beta: offset, gamma: scale });
    });
  }
});

describe("bad inputs", () => {
  const expectError = (fn: () => unknown, code: string, node: string) => {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(tf.errors.InvalidArgumentError);
    const err = error as tf.errors.InvalidArgumentError;
    expect(err.errorCode).toBe(code);
    expect(err.message).toContain(node);
  };

  it("3-D x into fusedBatchNorm", () => {
    const g = new tf.Graph();
    g.asDefault(() => expectError(() => fusedBatchNorm(tf.constant(xData, [4, 4, 3]), scale, offset, { name: "bn3d" }), "bad-rank", "bn3d"));
  });

  it("scale with the wrong number of channels, NHWC and NCHW", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expectError(() => fusedBatchNorm(tf.constant(xData, shape), [1, 1], offset), "channel-mismatch", "FusedBatchNormV3");
      // In NCHW the channels are dimension 1 (4 here), so the 3-entry scale does not fit.
      expectError(() => fusedBatchNorm(tf.constant(xData, [3, 4, 2, 2]), scale, offset, { dataFormat: "NCHW", name: "bn_nchw" }), "channel-mismatch", "bn_nchw");
    });
  });

  it("inference without mean or variance", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expectError(() => fusedBatchNorm(tf.constant(xData, shape), scale, offset, { isTraining: false, variance: movingVar }), "missing-statistics", "FusedBatchNormV3");
      expectError(() => fusedBatchNorm(tf.constant(xData, shape), scale, offset, { isTraining: false, mean: movingMean, name: "bn" }), "missing-statistics", "bn");
    });
  });

  it("inference with an empty mean fails at build time at the op", () => {
    const g = new tf.Graph();
    g.asDefault(() => expectError(() => fusedBatchNormOp(tf.constant(xData, shape), scale, offset, [], movingVar, { isTraining: false, name: "op" }), "channel-mismatch", "op"));
  });

  it("a wrongly sized scale fed at run time fails naming the node", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => fusedBatchNormOp(tf.constant(xData, shape), tf.placeholder("float32", [null], "s"), offset, [], [], { name: "late" }).outputs[0]);
    expectError(() => new tf.Session({ graph: g }).runSync(y, { s: [1, 2, 3, 4] }), "channel-mismatch", "late");
  });

  it("an unknown data_format and int32 input", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expectError(() => fusedBatchNormOp(tf.constant(xData, shape), scale, offset, [], [], { dataFormat: "NWHC" as "NHWC", name: "fmt" }), "bad-attr", "fmt");
      expectError(() => fusedBatchNormOp(tf.constant(new Int32Array(48), shape, "int32"), scale, offset, [], [], { name: "ints" }), "bad-dtype", "ints");
    });
  });

  it("BatchNormWithGlobalNormalization checks rank and channels", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expectError(() => batchNormWithGlobalNormalizationOp(tf.constant(xData, [16, 3]), [0, 0, 0], [1, 1, 1], offset, scale, 0.001, true, "g2d"), "bad-rank", "g2d");
      expectError(() => batchNormWithGlobalNormalizationOp(tf.constant(xData, shape), [0, 0], [1, 1, 1], offset, scale, 0.001, true, "gc"), "channel-mismatch", "gc");
    });
  });
});
