/**
 * BatchNormalization's batch renormalization, virtual (ghost) batches and adjustment, against
 * float64 loops: r and d with clipping active, the renorm moving statistics, ghost-batch
 * statistics and their averaged moving statistics, (scale, bias) adjustments in training only.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { BatchNormalization } from "../../src/layers/batch-normalization";
import { expectClose } from "../helpers/run";
import { channelData, channelStats, channelsLast, movingUpdate, normalize } from "./bn-reference";

function session(g: tf.Graph): tf.Session {
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  return sess;
}
const values = (a: tf.NDArray) => Array.from(a.data as ArrayLike<number>);
const names = (g: tf.Graph, key: string) => g.getCollection<tf.Tensor>(key).map((v) => v.op.name);
const clip = (v: number, lo: number, hi: number) => Math.min(Math.max(v, lo), hi);

describe("BatchNormalization with renorm", () => {
  const EPS = 1e-3;
  const GAMMA = [1.5, 0.5, 2];
  const BETA = [0.25, -1, 0.5];
  const CLIP = { rmax: 1.5, rmin: 0.5, dmax: 0.5 };

  function build(training: "true" | "tensor") {
    const g = new tf.Graph();
    const layer = new BatchNormalization({
      renorm: true,
      renormClipping: CLIP,
      renormMomentum: 0.7,
      momentum: 0.9,
      gammaInitializer: tf.initializers.constant(GAMMA),
      betaInitializer: tf.initializers.constant(BETA),
      movingMeanInitializer: tf.initializers.constant([0.2, 0, -0.1]),
      movingVarianceInitializer: tf.initializers.constant([1, 4, 0.25]),
    });
    const y = g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      return layer.apply(x, { training: training === "true" ? true : tf.placeholder("bool", [], "phase") });
    });
    return { g, layer, y };
  }

  it("creates renorm_mean and renorm_stddev (non-trainable, initialized from the moving statistics) and is never fused", () => {
    const { g, layer } = build("true");
    expect(layer.fused).toBe(false);
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual([
      "batch_normalization/gamma",
      "batch_normalization/beta",
      "batch_normalization/moving_mean",
      "batch_normalization/moving_variance",
      "batch_normalization/renorm_mean",
      "batch_normalization/renorm_stddev",
    ]);
    expect(names(g, tf.GraphKeys.TRAINABLE_VARIABLES)).toEqual(["batch_normalization/gamma", "batch_normalization/beta"]);
    const sess = session(g);
    expectClose(sess.runSync(layer.renormMean!).data, [0.2, 0, -0.1]);
    expectClose(sess.runSync(layer.renormStddev!).data, [1, 2, 0.5]);
  });

  it("r and d are clipped, scale the normalized values, and the renorm statistics move at renormMomentum", () => {
    const { g, layer, y } = build("true");
    const sess = session(g);
    const r = g.getTensorByName("batch_normalization/renorm_r:0");
    const d = g.getTensorByName("batch_normalization/renorm_d:0");
    expect(r.op.type).toBe("StopGradient");
    let rm = [0.2, 0, -0.1];
    let rs = [1, 2, 0.5];
    let mm = [0.2, 0, -0.1];
    let mv = [1, 4, 0.25];
    const seen = { rmax: false, rmin: false, dmax: false, free: false };
    for (let step = 0; step < 3; step++) {
      // Channel 0: std ≈ 3.5 and mean ≈ 2 (r, d clipped high); channel 1: std ≈ 0.3 (r clipped low); channel 2 in range.
      const xs = channelData(24, 3, 31 + step, [12, 1, 1.6], [2, 0.1, -0.2]);
      const [out, rv, dv] = sess.runSync([y, r, d, ...layer.updates], { x: tf.ndarray(xs, [8, 3]) }) as tf.NDArray[];
      const st = channelStats(xs, 3, channelsLast(3));
      const stddev = st.variance.map((v) => Math.sqrt(v + EPS));
      const renormStd = rs.map((s) => Math.max(s, Math.sqrt(EPS)));
      const rRef = stddev.map((s, c) => clip(s / renormStd[c], CLIP.rmin, CLIP.rmax));
      const dRef = st.mean.map((m, c) => clip((m - rm[c]) / renormStd[c], -CLIP.dmax, CLIP.dmax));
      rRef.forEach((v) => {
        if (v === CLIP.rmax) seen.rmax = true;
        else if (v === CLIP.rmin) seen.rmin = true;
        else seen.free = true;
      });
      if (dRef.some((v) => Math.abs(v) === CLIP.dmax)) seen.dmax = true;
      expectClose(rv.data, rRef, 1e-5, 1e-6);
      expectClose(dv.data, dRef, 1e-5, 1e-6);
      const expected = Array.from(xs, (v, i) => {
        const c = i % 3;
        const xhat = (v - st.mean[c]) / Math.sqrt(st.variance[c] + EPS);
        return (xhat * rRef[c] + dRef[c]) * GAMMA[c] + BETA[c];
      });
      expectClose(out.data, expected, 1e-4, 1e-5);
      rm = movingUpdate(rm, st.mean, 0.7);
      rs = movingUpdate(rs, stddev, 0.7);
      mm = movingUpdate(mm, st.mean, 0.9);
      mv = movingUpdate(mv, st.variance, 0.9);
      expectClose(sess.runSync(layer.renormMean!).data, rm, 1e-5, 1e-6);
      expectClose(sess.runSync(layer.renormStddev!).data, rs, 1e-5, 1e-6);
      expectClose(sess.runSync(layer.movingMean!).data, mm, 1e-5, 1e-6);
      expectClose(sess.runSync(layer.movingVariance!).data, mv, 1e-5, 1e-6);
    }
    expect(seen).toEqual({ rmax: true, rmin: true, dmax: true, free: true });
  });

  it("r and d read the renorm variables before their updates write them (control dependencies)", () => {
    const { g, layer } = build("true");
    /** Whether `target` is reachable backwards from `op` through data (not ref) inputs and control inputs. */
    const dependsOn = (op: tf.Operation, target: tf.Operation): boolean => {
      const seen = new Set<tf.Operation>();
      const stack = [op];
      while (stack.length) {
        const o = stack.pop()!;
        if (o === target) return true;
        if (seen.has(o)) continue;
        seen.add(o);
        o.inputs.forEach((t, i) => {
          if (!(["AssignSub", "Assign"].includes(o.type) && i === 0)) stack.push(t.op);
        });
        stack.push(...o.controlInputs);
      }
      return false;
    };
    for (const variable of [layer.renormMean!, layer.renormStddev!]) {
      const consumers = variable.consumers();
      const assign = consumers.find((o) => o.type === "AssignSub")!;
      expect(assign).toBeDefined();
      const readers = consumers.filter((o) => !["Assign", "AssignSub"].includes(o.type) && !o.name.startsWith(`${assign.name}/`));
      expect(readers.length).toBeGreaterThan(0);
      for (const reader of readers) expect(dependsOn(assign, reader), `${assign.name} after ${reader.name}`).toBe(true);
    }
  });

  it("with a false training tensor r = 1, d = 0, the output uses the moving statistics and no variable changes", () => {
    const { g, layer, y } = build("tensor");
    const sess = session(g);
    const r = g.getTensorByName("batch_normalization/renorm_r:0");
    const d = g.getTensorByName("batch_normalization/renorm_d:0");
    const vars = g.getCollection<tf.Tensor>(tf.GraphKeys.GLOBAL_VARIABLES);
    const before = (sess.runSync(vars) as tf.NDArray[]).map(values);
    const xs = channelData(12, 3, 2, [12, 1, 1.6], [2, 0.1, -0.2]);
    const [out, rv, dv] = sess.runSync([y, r, d, ...layer.updates], { x: tf.ndarray(xs, [4, 3]), phase: false }) as tf.NDArray[];
    expect(values(rv)).toEqual([1, 1, 1]);
    expect(values(dv)).toEqual([0, 0, 0]);
    expectClose(out.data, normalize(xs, channelsLast(3), [0.2, 0, -0.1], [1, 4, 0.25], GAMMA, BETA, EPS), 1e-5, 1e-6);
    expect((sess.runSync(vars) as tf.NDArray[]).map(values)).toEqual(before);
    // And true trains: the renorm mean moves.
    sess.runSync(layer.updates, { x: tf.ndarray(xs, [4, 3]), phase: true });
    const st = channelStats(xs, 3, channelsLast(3));
    expectClose(sess.runSync(layer.renormMean!).data, movingUpdate([0.2, 0, -0.1], st.mean, 0.7), 1e-5, 1e-6);
  });
});

describe("BatchNormalization with virtual batches (ghost batch normalization)", () => {
  /** TF reshapes [N, C] to [V, N/V, C]: ghost batch j holds rows j, j + N/V, j + 2N/V ... */
  function ghostStats(xs: ArrayLike<number>, N: number, C: number, V: number) {
    const G = N / V;
    return Array.from({ length: G }, (_, j) => {
      const rows: number[] = [];
      for (let k = 0; k < V; k++) for (let c = 0; c < C; c++) rows.push(xs[(j + k * G) * C + c]);
      return channelStats(rows, C, channelsLast(C));
    });
  }

  it("normalizes each ghost batch with its own statistics; moving statistics move toward their mean", () => {
    const N = 6;
    const C = 2;
    const V = 2;
    const g = new tf.Graph();
    const layer = new BatchNormalization({ virtualBatchSize: V, momentum: 0.5, gammaInitializer: tf.initializers.constant([2, 3]), betaInitializer: tf.initializers.constant([0.5, -0.5]) });
    const y = g.asDefault(() => {
      const phase = tf.placeholder("bool", [], "phase");
      return layer.apply(tf.placeholder("float32", [null, C], "x"), { training: phase });
    });
    expect(layer.fused).toBe(false);
    expect(layer.gamma!.shape).toEqual([1, 1, C]);
    expect(layer.movingMean!.shape).toEqual([1, 1, C]);
    expect(y.shape).toEqual([null, C]);
    const sess = session(g);
    const xs = channelData(N * C, C, 77, [2, 5], [1, -1]);
    const [out] = sess.runSync([y, ...layer.updates], { x: tf.ndarray(xs, [N, C]), phase: true }) as tf.NDArray[];
    const ghosts = ghostStats(xs, N, C, V);
    const expected = Array.from(xs, (v, i) => {
      const row = Math.floor(i / C);
      const c = i % C;
      const s = ghosts[row % (N / V)];
      return ((v - s.mean[c]) / Math.sqrt(s.variance[c] + 1e-3)) * [2, 3][c] + [0.5, -0.5][c];
    });
    expectClose(out.data, expected, 1e-4, 1e-5);
    const avg = (k: "mean" | "variance") => [0, 1].map((c) => ghosts.reduce((s, gs) => s + gs[k][c], 0) / ghosts.length);
    expectClose(sess.runSync(layer.movingMean!).data, movingUpdate([0, 0], avg("mean"), 0.5), 1e-5, 1e-6);
    expectClose(sess.runSync(layer.movingVariance!).data, movingUpdate([1, 1], avg("variance"), 0.5), 1e-5, 1e-6);
    // The whole-batch statistics differ from the ghost average (the test would catch plain BN).
    const whole = channelStats(xs, C, channelsLast(C));
    expect(Math.abs(whole.variance[1] - avg("variance")[1])).toBeGreaterThan(1e-3);

    // Inference: the moving statistics, for any batch size.
    const mm = values(sess.runSync(layer.movingMean!));
    const mv = values(sess.runSync(layer.movingVariance!));
    const xs2 = channelData(4 * C, C, 5, [1, 1], [0, 0]);
    const inference = sess.runSync(y, { x: tf.ndarray(xs2, [4, C]), phase: false });
    expectClose(inference.data, normalize(xs2, channelsLast(C), mm, mv, [2, 3], [0.5, -0.5], 1e-3), 1e-5, 1e-6);
  });
});

describe("BatchNormalization with adjustment", () => {
  it("applies (scale, bias) = adjustment(shape) to the normalized values in training only", () => {
    const g = new tf.Graph();
    let shapeSeen: tf.Tensor | null = null;
    const layer = new BatchNormalization({
      gammaInitializer: tf.initializers.constant([2, 3]),
      betaInitializer: tf.initializers.constant([0.5, -0.5]),
      movingMeanInitializer: tf.initializers.constant([1, -1]),
      adjustment: (shape) => {
        shapeSeen = shape;
        return [tf.constant([1.5, 0.5], [2], "float32"), tf.constant([0.1, -0.2], [2], "float32")];
      },
    });
    const y = g.asDefault(() => layer.apply(tf.placeholder("float32", [null, 2], "x"), { training: tf.placeholder("bool", [], "phase") }));
    expect(layer.fused).toBe(false);
    const sess = session(g);
    const xs = channelData(10, 2, 13, [3, 1], [1, 2]);
    const feed = (phase: boolean) => ({ x: tf.ndarray(xs, [5, 2]), phase });
    const [out, shape] = sess.runSync([y, shapeSeen!], feed(true)) as tf.NDArray[];
    expect(values(shape)).toEqual([5, 2]);
    const st = channelStats(xs, 2, channelsLast(2));
    const gamma = [2, 3];
    const beta = [0.5, -0.5];
    const expected = Array.from(xs, (v, i) => {
      const c = i % 2;
      const xhat = (v - st.mean[c]) / Math.sqrt(st.variance[c] + 1e-3);
      return (xhat * [1.5, 0.5][c] + [0.1, -0.2][c]) * gamma[c] + beta[c];
    });
    expectClose(out.data, expected, 1e-4, 1e-5);
    const inference = sess.runSync(y, feed(false));
    expectClose(inference.data, normalize(xs, channelsLast(2), [1, -1], [1, 1], gamma, beta, 1e-3), 1e-5, 1e-6);
  });

  it("rejects adjustment together with virtualBatchSize", () => {
    expect(() => new BatchNormalization({ virtualBatchSize: 2, adjustment: (s) => [s, s] })).toThrow(/adjustment/);
  });
});
