import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as losses from "../../src/losses";
import { expectClose, randomData } from "../helpers/run";

function session(g: tf.Graph): tf.Session {
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  return sess;
}

/** Per-example softmax cross entropy in JS. */
function xent(logits: ArrayLike<number>, labels: ArrayLike<number>, n: number, k: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) {
    const row = Array.from({ length: k }, (_, j) => logits[i * k + j]);
    const max = Math.max(...row);
    const lse = max + Math.log(row.reduce((s, v) => s + Math.exp(v - max), 0));
    out.push(row.reduce((s, v, j) => s + labels[i * k + j] * (lse - v), 0));
  }
  return out;
}

const N = 4;
const K = 3;
const logits = randomData(N * K, 21, -2, 2);
const classes = [0, 2, 1, 2];
const onehot = classes.flatMap((c) => [0, 1, 2].map((j) => (j === c ? 1 : 0)));
const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;

describe("tf.losses", () => {
  it("softmaxCrossEntropy is the mean per-example cross entropy and goes to LOSSES", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const lg = tf.constant(logits, [N, K]);
      return {
        plain: losses.softmaxCrossEntropy(tf.constant(onehot, [N, K], "int32"), lg),
        smooth: losses.softmaxCrossEntropy(tf.constant(onehot, [N, K]), lg, { labelSmoothing: 0.3 }),
        weighted: losses.softmaxCrossEntropy(tf.constant(onehot, [N, K]), lg, { weights: tf.constant([1, 0, 2, 0], [N]), lossCollection: null }),
        sum: losses.softmaxCrossEntropy(tf.constant(onehot, [N, K]), lg, { reduction: losses.Reduction.SUM, lossCollection: null }),
        none: losses.softmaxCrossEntropy(tf.constant(onehot, [N, K]), lg, { reduction: losses.Reduction.NONE, lossCollection: null }),
      };
    });
    expect(r.plain.op.name).toBe("softmax_cross_entropy_loss/value");
    expect(g.getCollection(tf.GraphKeys.LOSSES)).toEqual([r.plain, r.smooth]);
    const per = xent(logits, onehot, N, K);
    const smoothLabels = onehot.map((v) => v * 0.7 + 0.1);
    const [plain, smooth, weighted, sum, none] = session(g).runSync([r.plain, r.smooth, r.weighted, r.sum, r.none]);
    expect(plain.shape).toEqual([]);
    expect(plain.scalar()).toBeCloseTo(mean(per), 5);
    expect(smooth.scalar()).toBeCloseTo(mean(xent(logits, smoothLabels, N, K)), 5);
    // SUM_BY_NONZERO_WEIGHTS: weighted sum over the two examples with non-zero weight.
    expect(weighted.scalar()).toBeCloseTo((per[0] + 2 * per[2]) / 2, 5);
    expect(sum.scalar()).toBeCloseTo(per.reduce((a, b) => a + b, 0), 5);
    expectClose(none.values(), per, 1e-5);
  });

  it("sparseSoftmaxCrossEntropy takes class indices ([batch] or [batch, 1])", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const lg = tf.constant(logits, [N, K]);
      return {
        a: losses.sparseSoftmaxCrossEntropy(tf.constant(classes, [N], "int32"), lg),
        b: losses.sparseSoftmaxCrossEntropy(tf.constant(classes, [N, 1], "int32"), lg),
        zero: losses.sparseSoftmaxCrossEntropy(classes, lg, { weights: 0 }),
      };
    });
    expect(r.a.op.name).toBe("sparse_softmax_cross_entropy_loss/value");
    const [a, b, zero] = session(g).runSync([r.a, r.b, r.zero]);
    const expected = mean(xent(logits, onehot, N, K));
    expect(a.scalar()).toBeCloseTo(expected, 5);
    expect(b.scalar()).toBeCloseTo(expected, 5);
    expect(zero.scalar()).toBe(0);
    g.asDefault(() => {
      expect(() => losses.sparseSoftmaxCrossEntropy(tf.constant(classes, [N], "float32"), tf.constant(logits, [N, K]))).toThrow(/int32/);
    });
  });

  it("meanSquaredError, with MEAN and SUM_OVER_BATCH_SIZE reductions and a dynamic batch", () => {
    const g = new tf.Graph();
    const labels = [1, 2, 3, 4, 5, 6];
    const preds = [1.5, 2, 2, 4, 7, 6.5];
    const weights = [0.5, 0, 1, 2, 0, 1];
    const r = g.asDefault(() => {
      const p = tf.placeholder("float32", [null, 2], "p");
      const l = tf.constant(labels, [3, 2]);
      const w = tf.constant(weights, [3, 2]);
      return {
        mse: losses.meanSquaredError(l, p),
        meanW: losses.meanSquaredError(l, p, { weights: w, reduction: losses.Reduction.MEAN }),
        batch: losses.meanSquaredError(l, p, { weights: w, reduction: losses.Reduction.SUM_OVER_BATCH_SIZE }),
        nonzero: losses.meanSquaredError(l, p, { weights: w }),
      };
    });
    const sq = labels.map((v, i) => (preds[i] - v) ** 2);
    const wsum = sq.reduce((s, v, i) => s + v * weights[i], 0);
    const [mse, meanW, batch, nonzero] = session(g).runSync([r.mse, r.meanW, r.batch, r.nonzero], { p: Float32Array.from(preds) });
    expect(mse.scalar()).toBeCloseTo(mean(sq), 5);
    expect(meanW.scalar()).toBeCloseTo(wsum / 4.5, 5);
    expect(batch.scalar()).toBeCloseTo(wsum / 6, 5);
    expect(nonzero.scalar()).toBeCloseTo(wsum / 4, 5);
  });

  it("getTotalLoss sums LOSSES and REGULARIZATION_LOSSES; errors when there are none", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      expect(() => losses.getTotalLoss()).toThrow(tf.errors.InvalidArgumentError);
      tf.getVariable("w", [2], { initializer: tf.initializers.constant([1, 2]), regularizer: (w) => tf.reduceSum(w) });
      const mse = losses.meanSquaredError([1, 1], [2, 3]);
      return { mse, total: losses.getTotalLoss(), dataOnly: losses.getTotalLoss({ addRegularizationLosses: false }) };
    });
    expect(r.total.op.name).toBe("total_loss");
    expect(losses.getLosses(undefined, undefined, g)).toEqual([r.mse]);
    const [total, dataOnly] = session(g).runSync([r.total, r.dataOnly]);
    expect(total.scalar()).toBeCloseTo(2.5 + 3, 5);
    expect(dataOnly.scalar()).toBeCloseTo(2.5, 5);
  });

  it("gradients flow into the logits, not the labels", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const lg = tf.placeholder("float32", [N, K], "logits");
      const labels = tf.placeholder("float32", [N, K], "labels");
      const loss = losses.softmaxCrossEntropy(labels, lg);
      return tf.gradients(loss, [lg, labels]);
    });
    expect(r[1]).toBeNull();
    const grad = session(g).runSync(r[0]!, { logits, labels: Float32Array.from(onehot) });
    // d mean(xent) / d logits = (softmax - labels) / N
    for (let i = 0; i < N; i++) {
      const row = Array.from({ length: K }, (_, j) => logits[i * K + j]);
      const z = row.reduce((s, v) => s + Math.exp(v), 0);
      row.forEach((v, j) => expect(grad.data[i * K + j]).toBeCloseTo((Math.exp(v) / z - onehot[i * K + j]) / N, 5));
    }
  });
});
