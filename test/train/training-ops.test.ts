import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { applyAdam, applyGradientDescent, applyMomentum } from "../../ir/ops/training";
import { expectClose, randomData } from "../helpers/run";

function setup(n: number) {
  const g = new tf.Graph();
  const vars = g.asDefault(() => ({
    v: tf.getVariable("var", [n], { initializer: tf.initializers.constant(Array.from(randomData(n, 3))) }),
    a: tf.getVariable("slot_a", [n], { initializer: tf.initializers.constant(Array.from(randomData(n, 4))) }),
    b: tf.getVariable("slot_b", [n], { initializer: tf.initializers.constant(Array.from(randomData(n, 5), Math.abs)) }),
  }));
  return { g, ...vars };
}

function session(g: tf.Graph): tf.Session {
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  return sess;
}

describe("training op kernels", () => {
  const grad = Array.from(randomData(5, 9));
  const v0 = Array.from(randomData(5, 3));
  const a0 = Array.from(randomData(5, 4));
  const b0 = Array.from(randomData(5, 5), Math.abs);

  it("ApplyGradientDescent updates the variable in place and outputs it", () => {
    const { g, v } = setup(5);
    const out = g.asDefault(() => applyGradientDescent(v, 0.3, tf.constant(grad, [5])));
    expect(out.op.name).toBe("ApplyGradientDescent");
    const sess = session(g);
    const expected = v0.map((x, i) => x - 0.3 * grad[i]);
    expectClose(sess.runSync(out).values(), expected);
    expectClose(sess.runSync(v).values(), expected);
  });

  for (const nesterov of [false, true])
    it(`ApplyMomentum (useNesterov: ${nesterov}) updates var and accum`, () => {
      const { g, v, a } = setup(5);
      const out = g.asDefault(() => applyMomentum(v, a, 0.1, tf.constant(grad, [5]), 0.7, { useNesterov: nesterov }));
      const sess = session(g);
      sess.runSync(out);
      const accum = a0.map((x, i) => x * 0.7 + grad[i]);
      const next = v0.map((x, i) => (nesterov ? x - (grad[i] * 0.1 + accum[i] * 0.7 * 0.1) : x - accum[i] * 0.1));
      expectClose(sess.runSync(a).values(), accum);
      expectClose(sess.runSync(v).values(), next);
    });

  for (const nesterov of [false, true])
    it(`ApplyAdam (useNesterov: ${nesterov}) follows TF's kernel`, () => {
      const { g, v, a, b } = setup(5);
      const [b1p, b2p, lr, b1, b2, eps] = [0.5, 0.7, 0.01, 0.9, 0.99, 1e-4];
      const out = g.asDefault(() => applyAdam(v, a, b, b1p, b2p, lr, b1, b2, eps, tf.constant(grad, [5]), { useNesterov: nesterov }));
      const sess = session(g);
      sess.runSync(out);
      const alpha = (lr * Math.sqrt(1 - b2p)) / (1 - b1p);
      const m = a0.map((x, i) => x + (grad[i] - x) * (1 - b1));
      const s = b0.map((x, i) => x + (grad[i] * grad[i] - x) * (1 - b2));
      const next = v0.map((x, i) => x - (alpha * (nesterov ? grad[i] * (1 - b1) + b1 * m[i] : m[i])) / (Math.sqrt(s[i]) + eps));
      expectClose(sess.runSync(a).values(), m);
      expectClose(sess.runSync(b).values(), s);
      expectClose(sess.runSync(v).values(), next);
    });
});

describe("training op errors", () => {
  it("a gradient of another shape names the node", () => {
    const { g, v } = setup(5);
    g.asDefault(() => {
      expect(() => applyGradientDescent(v, 0.1, tf.constant([1, 2, 3], [3]), { name: "bad_gd" })).toThrow(tf.errors.InvalidArgumentError);
      expect(() => applyGradientDescent(v, 0.1, tf.constant([1, 2, 3], [3]), { name: "bad_gd" })).toThrow(/bad_gd.*delta/);
    });
  });

  it("a non-scalar learning rate and an int gradient are refused", () => {
    const { g, v, a } = setup(5);
    g.asDefault(() => {
      expect(() => applyMomentum(v, a, tf.constant([0.1, 0.2], [2]), tf.constant(grad5(), [5]), 0.9, { name: "mom" })).toThrow(/mom.*lr.*scalar/);
      expect(() => applyGradientDescent(v, 0.1, tf.constant([1, 2, 3, 4, 5], [5], "int32"), { name: "int_gd" })).toThrow(/int_gd.*float32/);
    });
  });

  it("a run-time gradient shape mismatch names the node", () => {
    const { g, v } = setup(5);
    const op = g.asDefault(() => applyGradientDescent(v, 0.1, tf.placeholder("float32", [null], "grad"), { name: "rt_gd" }));
    const sess = session(g);
    expect(() => sess.runSync(op, { grad: [1, 2] })).toThrow(/rt_gd/);
  });

  it("updating an uninitialized variable fails with FailedPrecondition", () => {
    const { g, v } = setup(5);
    const op = g.asDefault(() => applyGradientDescent(v, 0.1, tf.constant(grad5(), [5])));
    const sess = new tf.Session({ graph: g });
    expect(() => sess.runSync(op)).toThrow(tf.errors.FailedPreconditionError);
  });
});

function grad5(): number[] {
  return [1, 2, 3, 4, 5];
}
