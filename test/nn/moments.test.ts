/**
 * tf.nn.moments, weightedMoments, batchNormalization and batchNormWithGlobalNormalization:
 * values against plain float64 loops written here, TF1's op structure and names, and gradients
 * (x, gamma, beta through moments + batchNormalization) against finite differences.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { batchNormalization, batchNormWithGlobalNormalization, moments, weightedMoments } from "../../src/nn/batch-norm";
import { checkGradients } from "../helpers/gradcheck";
import { expectClose, randomData } from "../helpers/run";

function run(build: () => tf.Tensor[], feeds?: Record<string, tf.FeedValue>): tf.NDArray[] {
  const g = new tf.Graph();
  const out = g.asDefault(build);
  return new tf.Session({ graph: g }).runSync(out, feeds) as tf.NDArray[];
}

const strides = (shape: number[]) => shape.map((_, i) => shape.slice(i + 1).reduce((a, b) => a * b, 1));

/** Reference weighted moments over `axes` with per-element weights (all 1 for plain moments). */
function referenceMoments(x: ArrayLike<number>, shape: number[], axes: number[], weight: (i: number) => number = () => 1) {
  const ax = axes.map((a) => (a < 0 ? a + shape.length : a));
  const st = strides(shape);
  const outShape = shape.map((d, i) => (ax.includes(i) ? 1 : d));
  const outSt = strides(outShape);
  const size = outShape.reduce((a, b) => a * b, 1);
  const slot = (i: number) => shape.reduce((o, _, d) => o + (ax.includes(d) ? 0 : Math.floor(i / st[d]) % shape[d]) * outSt[d], 0);
  const sw = new Array<number>(size).fill(0);
  const swx = new Array<number>(size).fill(0);
  for (let i = 0; i < x.length; i++) {
    sw[slot(i)] += weight(i);
    swx[slot(i)] += weight(i) * x[i];
  }
  const mean = swx.map((s, k) => s / sw[k]);
  const sq = new Array<number>(size).fill(0);
  for (let i = 0; i < x.length; i++) sq[slot(i)] += weight(i) * (x[i] - mean[slot(i)]) ** 2;
  return { mean, variance: sq.map((s, k) => s / sw[k]), keptShape: outShape, squeezedShape: shape.filter((_, i) => !ax.includes(i)) };
}

describe("tf.nn.moments", () => {
  const cases: [number[], number[]][] = [
    [[6, 3], [0]],
    [[2, 3, 2, 4], [0, 1, 2]],
    [[3, 4, 5], [0, 2]],
    [[3, 4, 5], [-1]],
    [[4, 5], [0, 1]],
  ];
  for (const [shape, axes] of cases)
    for (const keepDims of [false, true])
      it(`shape ${JSON.stringify(shape)}, axes ${JSON.stringify(axes)}, keepDims ${keepDims}`, () => {
        const size = shape.reduce((a, b) => a * b, 1);
        const x = Array.from(randomData(size, size + axes.length), (v, i) => 3 * v + (i % 4));
        const [mean, variance] = run(() => moments(tf.constant(x, shape), axes, { keepDims }));
        const ref = referenceMoments(x, shape, axes);
        const expectedShape = keepDims ? ref.keptShape : ref.squeezedShape;
        expect(mean.shape).toEqual(expectedShape);
        expect(variance.shape).toEqual(expectedShape);
        expectClose(mean.data, ref.mean, 1e-5, 1e-6);
        expectClose(variance.data, ref.variance, 1e-5, 1e-6);
      });

  it("the variance is the biased one (divides by n)", () => {
    const [, variance] = run(() => moments(tf.constant([1, 2, 3, 4]), [0]));
    expect(variance.data[0]).toBeCloseTo(1.25, 6);
  });

  it("builds TF1's ops and names: moments/mean, StopGradient, SquaredDifference, moments/variance, Squeeze", () => {
    const g = new tf.Graph();
    const { mean, variance, kept } = g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const [mean, variance] = moments(x, [0]);
      const kept = moments(x, [0], { keepDims: true, name: "stats" });
      return { mean, variance, kept };
    });
    expect(mean.name).toBe("moments/Squeeze:0");
    expect(variance.name).toBe("moments/Squeeze_1:0");
    expect(mean.shape).toEqual([3]);
    const meanOp = g.getOperationByName("moments/mean");
    expect(meanOp.type).toBe("Mean");
    expect(meanOp.attrs.keep_dims).toBe(true);
    const varOp = g.getOperationByName("moments/variance");
    expect(varOp.type).toBe("Mean");
    const sqd = varOp.inputs[0].op;
    expect(sqd.type).toBe("SquaredDifference");
    expect(sqd.inputs[1].op.type).toBe("StopGradient");
    expect(sqd.inputs[1].op.inputs[0].op).toBe(meanOp);
    expect(kept[0].name).toBe("stats/mean:0");
    expect(kept[1].name).toBe("stats/variance:0");
    expect(kept[0].shape).toEqual([1, 3]);
  });

  it("shift is accepted and ignored, like TF1", () => {
    const x = [1, 5, 2, 8, 3, 9];
    const [a, b] = [run(() => moments(tf.constant(x, [3, 2]), [0], { shift: [100, 100] })), run(() => moments(tf.constant(x, [3, 2]), [0]))];
    expectClose(a[0].data, b[0].data, 0, 0);
    expectClose(a[1].data, b[1].data, 0, 0);
  });
});

describe("tf.nn.weightedMoments", () => {
  const shape = [4, 3];
  const x = Array.from(randomData(12, 9), (v) => 2 * v);
  it("per-row weights broadcast across columns, keepDims false and true", () => {
    const w = [1, 2, 0.5, 3];
    const ref = referenceMoments(x, shape, [0], (i) => w[Math.floor(i / 3)]);
    for (const keepDims of [false, true]) {
      const [mean, variance] = run(() => weightedMoments(tf.constant(x, shape), [0], tf.constant(w, [4, 1]), { keepDims }));
      expect(mean.shape).toEqual(keepDims ? [1, 3] : [3]);
      expectClose(mean.data, ref.mean, 1e-5, 1e-6);
      expectClose(variance.data, ref.variance, 1e-5, 1e-6);
    }
  });

  it("full-shape weights over both axes; integer weights equal repeated samples", () => {
    const w = Array.from({ length: 12 }, (_, i) => (i % 3) + 1);
    const ref = referenceMoments(x, shape, [0, 1], (i) => w[i]);
    const [mean, variance] = run(() => weightedMoments(tf.constant(x, shape), [0, 1], tf.constant(w, shape)));
    expect(mean.shape).toEqual([]);
    expectClose(mean.data, ref.mean, 1e-5, 1e-6);
    expectClose(variance.data, ref.variance, 1e-5, 1e-6);
    // Repeating each element w times and taking plain moments gives the same numbers.
    const repeated = x.flatMap((v, i) => new Array<number>(w[i]).fill(v));
    const [m2, v2] = run(() => moments(tf.constant(repeated), [0]));
    expectClose(mean.data, m2.data, 1e-5, 1e-6);
    expectClose(variance.data, v2.data, 1e-5, 1e-6);
  });

  it("int32 weights are cast to x's dtype; names as TF1", () => {
    const g = new tf.Graph();
    const [mean] = g.asDefault(() => weightedMoments(tf.constant(x, shape), [0], tf.constant(new Int32Array([1, 2, 1, 2]), [4, 1], "int32")));
    expect(mean.name).toBe("weighted_moments/Squeeze:0");
    expect(g.getOperationByName("weighted_moments/weighted_input_sum").type).toBe("Sum");
    expect(g.getOperationByName("weighted_moments/inv_weight_sum").type).toBe("Reciprocal");
    const [out] = new tf.Session({ graph: g }).runSync([mean]) as tf.NDArray[];
    expectClose(out.data, referenceMoments(x, shape, [0], (i) => [1, 2, 1, 2][Math.floor(i / 3)]).mean, 1e-5, 1e-6);
  });
});

describe("tf.nn.batchNormalization", () => {
  const shape = [5, 3];
  const x = Array.from(randomData(15, 4), (v, i) => 2 * v + i * 0.1);
  const mean = [0.1, -0.2, 0.3];
  const variance = [0.5, 1.5, 0.25];
  const offset = [1, 2, 3];
  const scale = [0.5, -1, 2];
  const reference = (off: number[] | null, sc: number[] | null, eps: number) =>
    x.map((v, i) => ((v - mean[i % 3]) / Math.sqrt(variance[i % 3] + eps)) * (sc ? sc[i % 3] : 1) + (off ? off[i % 3] : 0));

  for (const [off, sc] of [[offset, scale], [null, scale], [offset, null], [null, null]] as const)
    it(`offset ${off ? "given" : "null"}, scale ${sc ? "given" : "null"}`, () => {
      const [y] = run(() => [batchNormalization(tf.constant(x, shape), mean, variance, off, sc, 1e-3)]);
      expectClose(y.data, reference(off as number[] | null, sc as number[] | null, 1e-3), 1e-5, 1e-6);
    });

  it("builds TF1's expression: batchnorm/{add, Rsqrt, mul, mul_1, mul_2, sub, add_1}", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => batchNormalization(tf.placeholder("float32", shape, "x"), mean, variance, offset, scale, 1e-3));
    expect(y.name).toBe("batchnorm/add_1:0");
    for (const [name, type] of [["add", "AddV2"], ["Rsqrt", "Rsqrt"], ["mul", "Mul"], ["mul_1", "Mul"], ["mul_2", "Mul"], ["sub", "Sub"]])
      expect(g.getOperationByName(`batchnorm/${name}`).type).toBe(type);
    const noOffset = g.asDefault(() => batchNormalization(tf.placeholder("float32", shape, "x2"), mean, variance, null, null, 1e-3, "bn"));
    expect(noOffset.name).toBe("bn/add_1:0");
    expect(g.getOperationByName("bn/Neg").type).toBe("Neg");
  });

  it("batchNormWithGlobalNormalization applies gamma only when scaleAfterNormalization", () => {
    for (const scaled of [true, false]) {
      const [y] = run(() => [batchNormWithGlobalNormalization(tf.constant(x, shape), mean, variance, offset, scale, 1e-3, scaled)]);
      expectClose(y.data, reference(offset, scaled ? scale : null, 1e-3), 1e-5, 1e-6);
    }
  });
});

describe("gradients through moments + batchNormalization", () => {
  const shape = [4, 2, 2, 3];
  const xData = Array.from(randomData(48, 17), (v, i) => 2 * v + (i % 3));
  const feeds = { x: xData, gamma: [1.5, -0.5, 2], beta: [0.1, 0.2, -0.3] };
  for (const keepDims of [false, true])
    it(`x, gamma and beta agree with finite differences (keepDims ${keepDims})`, () => {
      checkGradients(() => {
        const x = tf.placeholder("float32", shape, "x");
        const gamma = tf.placeholder("float32", [3], "gamma");
        const beta = tf.placeholder("float32", [3], "beta");
        const [mean, variance] = moments(x, [0, 1, 2], { keepDims });
        return { y: batchNormalization(x, mean, variance, beta, gamma, 1e-3), xs: [x, gamma, beta] };
      }, feeds);
    });

  it("over axis 0 of a 2-D batch, with an unknown batch size", () => {
    checkGradients(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const gamma = tf.placeholder("float32", [3], "gamma");
      const beta = tf.placeholder("float32", [3], "beta");
      const [mean, variance] = moments(x, [0]);
      const y = batchNormalization(x, mean, variance, beta, gamma, 1e-3);
      return { y: tf.reshape(y, [5, 3]), xs: [x, gamma, beta] };
    }, { x: xData.slice(0, 15), gamma: feeds.gamma, beta: feeds.beta });
  });

  it("weightedMoments is differentiable in x", () => {
    checkGradients(() => {
      const x = tf.placeholder("float32", [4, 3], "x");
      const [mean, variance] = weightedMoments(x, [0], tf.constant([1, 2, 0.5, 3], [4, 1]));
      return { y: tf.add(mean, variance), xs: [x] };
    }, { x: xData.slice(0, 12) });
  });
});
