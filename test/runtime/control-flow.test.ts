import { describe, expect, it } from "vitest";
import * as tf from "foldflow";

function setup() {
  const g = new tf.Graph();
  const r = g.asDefault(() => {
    const pred = tf.placeholder("bool", [], "pred");
    const x = tf.placeholder("float32", [2], "x");
    const hits = tf.getVariable("hits", [2], { initializer: tf.initializers.zeros() });
    const misses = tf.getVariable("misses", [2], { initializer: tf.initializers.zeros() });
    const out = tf.cond(
      pred,
      () => tf.mul(tf.assignAdd(hits, x), 2),
      () => tf.sub(tf.assignAdd(misses, x), 1),
    );
    return { pred, x, hits, misses, out, init: tf.globalVariablesInitializer() };
  });
  const sess = new tf.Session({ graph: g });
  sess.runSync(r.init);
  return { g, sess, ...r };
}

describe("tf.cond", () => {
  it("runs only the taken branch's assigns", () => {
    const { sess, out, hits, misses } = setup();
    expect(sess.runSync(out, { pred: true, x: [1, 2] }).values()).toEqual([2, 4]);
    expect(sess.runSync(hits).values()).toEqual([1, 2]);
    expect(sess.runSync(misses).values()).toEqual([0, 0]);
    expect(sess.runSync(out, { pred: false, x: [5, 5] }).values()).toEqual([4, 4]);
    expect(sess.runSync(hits).values()).toEqual([1, 2]);
    expect(sess.runSync(misses).values()).toEqual([5, 5]);
  });

  it("a boolean predicate is resolved while building", () => {
    const g = new tf.Graph();
    const out = g.asDefault(() => tf.cond(true, () => tf.constant(1), () => tf.constant(2)));
    expect(g.operations.some((o) => o.type === "Switch" || o.type === "Merge")).toBe(false);
    expect(new tf.Session({ graph: g }).runSync(out).scalar()).toBe(1);
  });

  it("branches returning outside tensors, arrays and objects", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const p = tf.placeholder("bool", [], "p");
      const a = tf.constant([1, 2], [2], "float32", "a");
      const b = tf.constant([3, 4], [2], "float32", "b");
      const pair = tf.cond(p, () => [a, tf.add(b, 1)], () => [b, a]);
      const obj = tf.cond(p, () => ({ v: a }), () => ({ v: b }));
      return { pair, obj };
    });
    const sess = new tf.Session({ graph: g });
    const [t0, t1] = sess.runSync(r.pair as tf.Tensor[], { p: true });
    expect(t0.values()).toEqual([1, 2]);
    expect(t1.values()).toEqual([4, 5]);
    expect(sess.runSync((r.obj as { v: tf.Tensor }).v, { p: false }).values()).toEqual([3, 4]);
  });

  it("nested conditionals take the right path", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const p = tf.placeholder("bool", [], "p");
      const q = tf.placeholder("bool", [], "q");
      const x = tf.constant(10, [], "float32", "x");
      return tf.cond(p, () => tf.cond(q, () => tf.add(x, 1), () => tf.add(x, 2)), () => tf.add(x, 3));
    });
    const sess = new tf.Session({ graph: g });
    expect(sess.runSync(r, { p: true, q: true }).scalar()).toBe(11);
    expect(sess.runSync(r, { p: true, q: false }).scalar()).toBe(12);
    expect(sess.runSync(r, { p: false, q: true }).scalar()).toBe(13);
  });

  it("a branch returning an operation runs its side effect only when taken", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const p = tf.placeholder("bool", [], "p");
      const v = tf.getVariable("v", [], { initializer: tf.initializers.zeros() });
      const op = tf.cond(p, () => tf.group([tf.assignAdd(v, 1)]), () => tf.noOp());
      return { v, op, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    sess.runSync(r.init);
    expect(sess.runSync(r.op as tf.Operation, { p: false })).toBeNull();
    expect(sess.runSync(r.v).scalar()).toBe(0);
    sess.runSync(r.op as tf.Operation, { p: true });
    expect(sess.runSync(r.v).scalar()).toBe(1);
  });

  it("rejects a non-bool predicate and mismatched branch structures", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const p = tf.placeholder("float32", [], "p");
      expect(() => tf.cond(p, () => tf.constant(1), () => tf.constant(2))).toThrow(/bool/);
      const b = tf.placeholder("bool", [], "b");
      expect(() => tf.cond<tf.Tensor | tf.Tensor[]>(b, () => [tf.constant(1)], () => tf.constant(2))).toThrow(/different structures/);
    });
  });

  it("fetching a tensor inside the untaken branch is a clear error", () => {
    const g = new tf.Graph();
    let inner: tf.Tensor | undefined;
    const out = g.asDefault(() => {
      const p = tf.placeholder("bool", [], "p");
      return tf.cond(p, () => (inner = tf.add(tf.constant(1), 1, "inner")), () => tf.constant(0));
    });
    const sess = new tf.Session({ graph: g });
    expect(sess.runSync(out, { p: false }).scalar()).toBe(0);
    expect(() => sess.runSync(inner!, { p: false })).toThrow(/untaken branch/);
  });
});

describe("control dependencies", () => {
  it("a read under controlDependencies sees the update", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const v = tf.getVariable("v", [], { initializer: tf.initializers.constant(5) });
      const upd = tf.assign(v, tf.constant(7));
      const read = tf.controlDependencies([upd], () => tf.identity(v));
      return { read, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    sess.runSync(r.init);
    expect(sess.runSync(r.read).scalar()).toBe(7);
  });

  it("null clears enclosing blocks; nested blocks accumulate", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const a = tf.noOp("a");
      const b = tf.noOp("b");
      tf.controlDependencies([a], () => {
        const inner = tf.controlDependencies([b], () => tf.constant(1, [], "float32", "inner"));
        expect(inner.op.controlInputs.map((o) => o.name).sort()).toEqual(["a", "b"]);
        const cleared = tf.controlDependencies(null, () => tf.constant(1, [], "float32", "cleared"));
        expect(cleared.op.controlInputs).toEqual([]);
      });
    });
  });

  it("a cycle through control edges is reported", async () => {
    const g = new tf.Graph();
    const { a } = g.asDefault(() => ({ a: tf.noOp("a") }));
    const b = g.addOp({ type: "NoOp", name: "b", controlInputs: [a] });
    // Only an imported graph can close a cycle; simulate one.
    (a.controlInputs as tf.Operation[]).push(b);
    const sess = new tf.Session({ graph: g });
    expect(() => sess.runSync(b)).toThrow(/cycle/);
  });
});
