import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as train from "../../src/train";
import { expectClose } from "../helpers/run";

// A tiny quadratic: loss = sum(c * (w - t)^2) + sum(c * (u - t)^2) * 0.5, gradient 2c(w - t) and c(u - t).
const W0 = [1, -2, 0.5];
const U0 = [0.25, 3, -1];
const T = [3, 1, -0.5];
const C = [1, 0.5, 2];
const gradW = (w: number[]) => w.map((x, i) => 2 * C[i] * (x - T[i]));
const gradU = (u: number[]) => u.map((x, i) => C[i] * (x - T[i]));

function session(g: tf.Graph): tf.Session {
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  return sess;
}

/** Runs two training steps and returns w and u after each. */
function twoSteps(makeOptimizer: () => train.Optimizer) {
  const g = new tf.Graph();
  const r = g.asDefault(() => {
    const w = tf.getVariable("w", [3], { initializer: tf.initializers.constant(W0) });
    const u = tf.getVariable("u", [3], { initializer: tf.initializers.constant(U0) });
    const frozen = tf.getVariable("frozen", [3], { initializer: tf.initializers.constant([1, 1, 1]), trainable: false });
    const t = tf.constant(T, [3]);
    const c = tf.constant(C, [3]);
    const quad = (v: tf.Tensor) => tf.reduceSum(tf.mul(c, tf.square(tf.sub(v, t))));
    const loss = tf.add(tf.add(quad(w), tf.mul(quad(u), 0.5)), tf.reduceSum(tf.mul(frozen, frozen)));
    const globalStep = train.getOrCreateGlobalStep();
    const opt = makeOptimizer();
    const op = opt.minimize(loss, { globalStep });
    return { w, u, frozen, op, opt, globalStep };
  });
  const sess = session(g);
  const steps: { w: number[]; u: number[]; step: number; frozen: number[] }[] = [];
  for (let i = 0; i < 2; i++) {
    sess.runSync(r.op);
    const [w, u, step, frozen] = sess.runSync([r.w, r.u, r.globalStep, r.frozen]);
    steps.push({ w: w.values(), u: u.values(), step: step.scalar(), frozen: frozen.values() });
  }
  return { g, sess, steps, ...r };
}

function expectSteps(steps: { w: number[]; u: number[]; step: number; frozen: number[] }[], update: (grad: number[], value: number[], state: Record<string, number[]>, t: number) => number[]) {
  let w = [...W0];
  let u = [...U0];
  const sw: Record<string, number[]> = {};
  const su: Record<string, number[]> = {};
  steps.forEach((got, i) => {
    const gw = gradW(w);
    const gu = gradU(u);
    w = update(gw, w, sw, i + 1);
    u = update(gu, u, su, i + 1);
    expectClose(got.w, w, 1e-5, 1e-6);
    expectClose(got.u, u, 1e-5, 1e-6);
    expect(got.step).toBe(i + 1);
    expect(got.frozen).toEqual([1, 1, 1]);
  });
}

describe("optimizer steps match TF1's update formulas", () => {
  it("GradientDescentOptimizer: var -= lr * grad", () => {
    const lr = 0.1;
    const { steps } = twoSteps(() => new train.GradientDescentOptimizer(lr));
    expectSteps(steps, (g, v) => v.map((x, i) => x - lr * g[i]));
  });

  it("MomentumOptimizer: accum = accum * m + grad; var -= lr * accum", () => {
    const lr = 0.05;
    const m = 0.9;
    const { steps, opt, w, sess } = twoSteps(() => new train.MomentumOptimizer(lr, m));
    expectSteps(steps, (g, v, s) => {
      s.a = (s.a ?? [0, 0, 0]).map((a, i) => a * m + g[i]);
      return v.map((x, i) => x - lr * s.a[i]);
    });
    // The slot holds the accumulator.
    const slot = opt.getSlot(w, "momentum")!;
    expect(slot.op.name).toBe("w/Momentum");
    const wAccum = (() => {
      let ww = [...W0];
      let a = [0, 0, 0];
      for (let k = 0; k < 2; k++) {
        const g = gradW(ww);
        a = a.map((x, i) => x * m + g[i]);
        ww = ww.map((x, i) => x - lr * a[i]);
      }
      return a;
    })();
    expectClose(sess.runSync(slot).values(), wAccum, 1e-5, 1e-6);
  });

  it("MomentumOptimizer with useNesterov: var -= lr * grad + lr * m * accum", () => {
    const lr = 0.05;
    const m = 0.8;
    const { steps } = twoSteps(() => new train.MomentumOptimizer(lr, m, { useNesterov: true }));
    expectSteps(steps, (g, v, s) => {
      s.a = (s.a ?? [0, 0, 0]).map((a, i) => a * m + g[i]);
      return v.map((x, i) => x - (lr * g[i] + lr * m * s.a[i]));
    });
  });

  it("AdamOptimizer: lr_t = lr * sqrt(1 - b2^t) / (1 - b1^t); var -= lr_t * m / (sqrt(v) + eps)", () => {
    const lr = 0.1;
    const b1 = 0.8;
    const b2 = 0.95;
    const eps = 1e-3;
    const { steps, opt, g, sess, w } = twoSteps(() => new train.AdamOptimizer({ learningRate: lr, beta1: b1, beta2: b2, epsilon: eps }));
    expectSteps(steps, (grad, v, s, t) => {
      s.m = (s.m ?? [0, 0, 0]).map((m, i) => m + (grad[i] - m) * (1 - b1));
      s.v = (s.v ?? [0, 0, 0]).map((vv, i) => vv + (grad[i] * grad[i] - vv) * (1 - b2));
      const lrT = (lr * Math.sqrt(1 - b2 ** t)) / (1 - b1 ** t);
      return v.map((x, i) => x - (lrT * s.m[i]) / (Math.sqrt(s.v[i]) + eps));
    });
    const [b1p, b2p] = (opt as train.AdamOptimizer).getBetaAccumulators(g)!;
    expect(b1p.op.name).toBe("beta1_power");
    expect(b2p.op.name).toBe("beta2_power");
    expectClose([sess.runSync(b1p).scalar(), sess.runSync(b2p).scalar()], [b1 ** 3, b2 ** 3], 1e-6);
    expect(opt.getSlot(w, "m")!.op.name).toBe("w/Adam");
    expect(opt.getSlot(w, "v")!.op.name).toBe("w/Adam_1");
  });

  it("AdamOptimizer defaults are TF's (0.001, 0.9, 0.999, 1e-8) and accept a bare learning rate", () => {
    const a = new train.AdamOptimizer();
    expect([a.learningRate, a.beta1, a.beta2, a.epsilon]).toEqual([0.001, 0.9, 0.999, 1e-8]);
    const b = new train.AdamOptimizer(0.01, { beta1: 0.5 });
    expect([b.learningRate, b.beta1]).toEqual([0.01, 0.5]);
    expect(() => new train.AdamOptimizer({ beta1: 1 })).toThrow(tf.errors.InvalidArgumentError);
  });

  it("a learning rate placeholder is read at run time", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const w = tf.getVariable("w", [], { initializer: tf.initializers.constant(2) });
      const lr = tf.placeholder("float32", [], "lr");
      const op = new train.GradientDescentOptimizer(lr).minimize(tf.square(w));
      return { w, op };
    });
    const sess = session(g);
    sess.runSync(r.op, { lr: 0.25 });
    expect(sess.runSync(r.w).scalar()).toBeCloseTo(2 - 0.25 * 4, 6);
    sess.runSync(r.op, { lr: 0 });
    expect(sess.runSync(r.w).scalar()).toBeCloseTo(1, 6);
  });
});
