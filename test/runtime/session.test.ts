import { describe, expect, it } from "vitest";
import * as tf from "foldflow";

function fresh<T>(fn: () => T): { g: tf.Graph; r: T } {
  const g = new tf.Graph();
  return { g, r: g.asDefault(fn) };
}

describe("Session: what runs", () => {
  it("runs a control dependency once, and before its dependent", () => {
    const { g, r } = fresh(() => {
      const counter = tf.getVariable("counter", [], { initializer: tf.initializers.zeros() });
      const inc = tf.assignAdd(counter, 1);
      // Two dependents of one update; fetching both in one run must run the update once.
      const a = tf.controlDependencies([inc], () => tf.identity(counter, "a"));
      const b = tf.controlDependencies([inc], () => tf.identity(counter, "b"));
      return { counter, a, b };
    });
    const sess = new tf.Session({ graph: g });
    sess.runSync(tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES)));
    const [a, b] = sess.runSync([r.a, r.b]);
    // The read after the control dependency sees the increment.
    expect(a.scalar()).toBe(1);
    expect(b.scalar()).toBe(1);
    expect(sess.runSync(r.counter).scalar()).toBe(1);
    sess.runSync(r.a);
    expect(sess.runSync(r.counter).scalar()).toBe(2);
  });

  it("a fetch that does not need an assign leaves the variable alone", () => {
    const { g, r } = fresh(() => {
      const v = tf.getVariable("v", [2], { initializer: tf.initializers.constant([1, 2]) });
      const update = tf.assign(v, tf.constant([10, 20]));
      const doubled = tf.mul(v, 2);
      return { v, update, doubled };
    });
    const sess = new tf.Session({ graph: g });
    sess.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    expect(sess.runSync(r.doubled).values()).toEqual([2, 4]);
    expect(sess.runSync(r.v).values()).toEqual([1, 2]);
    sess.runSync(r.update);
    expect(sess.runSync(r.v).values()).toEqual([10, 20]);
  });

  it("runs each node at most once per run", () => {
    const { g, r } = fresh(() => {
      const c = tf.getVariable("c", [], { initializer: tf.initializers.zeros() });
      const inc = tf.assignAdd(c, 1);
      const x = tf.add(inc, 0, "x");
      const y = tf.add(inc, 0, "y");
      return { c, x, y, sum: tf.add(x, y) };
    });
    const sess = new tf.Session({ graph: g });
    sess.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    expect(sess.runSync(r.sum).scalar()).toBe(2);
    expect(sess.runSync(r.c).scalar()).toBe(1);
  });

  it("keeps the fetch structure: single, array, object, nested; ops give null", async () => {
    const { g, r } = fresh(() => {
      const a = tf.constant([1, 2], [2], "float32", "a");
      const b = tf.constant(3, [], "int32", "b");
      const op = tf.noOp("nothing");
      return { a, b, op };
    });
    const sess = new tf.Session({ graph: g });
    const single = await sess.run(r.a);
    expect(single.values()).toEqual([1, 2]);
    const arr = await sess.run([r.a, r.b, r.op]);
    expect(arr[0].values()).toEqual([1, 2]);
    expect(arr[1].dtype).toBe("int32");
    expect(arr[2]).toBeNull();
    const obj = await sess.run({ first: r.a, rest: [r.b, { deep: "a:0" }], op: r.op });
    expect(obj.first.values()).toEqual([1, 2]);
    expect(obj.rest[0].values()).toEqual([3]);
    expect((obj.rest[1] as { deep: tf.NDArray }).deep.values()).toEqual([1, 2]);
    expect(obj.op).toBeNull();
  });

  it("feeds by name, by name:0, by Map of tensors; typed arrays are reshaped", () => {
    const { g, r } = fresh(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      return { x, y: tf.mul(x, 2) };
    });
    const sess = new tf.Session({ graph: g });
    expect(sess.runSync(r.y, { x: [[1, 2, 3]] }).values()).toEqual([2, 4, 6]);
    expect(sess.runSync(r.y, { "x:0": [[1, 1, 1]] }).values()).toEqual([2, 2, 2]);
    const out = sess.runSync(r.y, new Map([[r.x, new Float32Array([1, 2, 3, 4, 5, 6])]]));
    expect(out.shape).toEqual([2, 3]);
    expect(out.values()).toEqual([2, 4, 6, 8, 10, 12]);
  });

  it("feeding an intermediate tensor skips its producer", () => {
    const { g, r } = fresh(() => {
      const c = tf.getVariable("c", [], { initializer: tf.initializers.zeros() });
      const inc = tf.assignAdd(c, 1);
      const y = tf.mul(inc, 10);
      return { c, inc, y };
    });
    const sess = new tf.Session({ graph: g });
    sess.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    expect(sess.runSync(r.y, new Map([[r.inc, 5]])).scalar()).toBe(50);
    expect(sess.runSync(r.c).scalar()).toBe(0);
  });

  it("placeholderWithDefault uses its default unless fed", () => {
    const { g, r } = fresh(() => tf.placeholderWithDefault(false, [], "phase"));
    const sess = new tf.Session({ graph: g });
    expect(sess.runSync(r).toArray()).toBe(false);
    expect(sess.runSync(r, { phase: true }).toArray()).toBe(true);
  });

  it("variables live in the session", () => {
    const { g, r } = fresh(() => {
      const v = tf.getVariable("v", [], { initializer: tf.initializers.constant(1) });
      return { v, inc: tf.assignAdd(v, 1) };
    });
    const s1 = new tf.Session({ graph: g });
    const s2 = new tf.Session({ graph: g });
    s1.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    s2.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    s1.runSync(r.inc);
    expect(s1.runSync(r.v).scalar()).toBe(2);
    expect(s2.runSync(r.v).scalar()).toBe(1);
  });

  it("seeded initializers repeat across sessions; unseeded random ops differ per run", () => {
    const { g, r } = fresh(() => tf.getVariable("w", [4, 3], { initializer: tf.initializers.glorotUniform({ seed: 3 }) }));
    const a = new tf.Session({ graph: g });
    const b = new tf.Session({ graph: g });
    a.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    b.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    const wa = a.runSync(r).values();
    expect(b.runSync(r).values()).toEqual(wa);
    const limit = Math.sqrt(6 / (4 + 3));
    expect(wa.every((v) => Math.abs(v) <= limit)).toBe(true);
    expect(new Set(wa).size).toBe(12);
  });
});

describe("Session: errors", () => {
  it("lists every uninitialized variable", () => {
    const { g, r } = fresh(() => {
      const a = tf.getVariable("a", [2]);
      const b = tf.getVariable("b", [2]);
      return tf.add(a, b, "sum");
    });
    const sess = new tf.Session({ graph: g });
    let err: unknown;
    try {
      sess.runSync(r);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(tf.errors.FailedPreconditionError);
    expect(String(err)).toMatch(/`a`/);
    expect(String(err)).toMatch(/`b`/);
    expect(String(err)).toMatch(/globalVariablesInitializer/);
  });

  it("suggests the closest name for an unknown fetch or feed", () => {
    const { g } = fresh(() => {
      const logits = tf.placeholder("float32", [2], "logits");
      return tf.identity(logits, "output");
    });
    const sess = new tf.Session({ graph: g });
    expect(() => sess.runSync("logit")).toThrow(tf.errors.NotFoundError);
    expect(() => sess.runSync("logit")).toThrow(/did you mean `logits`/);
    expect(() => sess.runSync("output", { lgits: [1, 2] })).toThrow(/did you mean `logits`/);
    expect(() => sess.runSync("output:3")).toThrow(/output:0/);
  });

  it("names a missing feed with its dtype and shape", () => {
    const { g, r } = fresh(() => tf.mul(tf.placeholder("float32", [null, 784], "x"), 2));
    const sess = new tf.Session({ graph: g });
    expect(() => sess.runSync(r)).toThrow(tf.errors.InvalidArgumentError);
    expect(() => sess.runSync(r)).toThrow(/placeholder `x`.*float32.*\[\?,784\]/);
  });

  it("rejects a feed of the wrong shape or dtype", () => {
    const { g, r } = fresh(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const n = tf.placeholder("int32", [2], "n");
      return { y: tf.mul(x, 2), m: tf.mul(n, 2) };
    });
    const sess = new tf.Session({ graph: g });
    expect(() => sess.runSync(r.y, { x: [[1, 2]] })).toThrow(/expected shape \[\?,3\], received shape \[1,2\]/);
    expect(() => sess.runSync(r.y, { x: new Float32Array(4) })).toThrow(/4 elements/);
    expect(() => sess.runSync(r.y, { x: tf.ndarray([1, 2, 3], [1, 3], "int32") })).toThrow(/expected dtype float32, received dtype int32/);
    expect(() => sess.runSync(r.m, { n: [1.5, 2] })).toThrow(/non-integer/);
    expect(() => sess.runSync(r.m, { n: [true, false] })).toThrow(tf.errors.InvalidArgumentError);
  });

  it("refuses a closed session and a fetch from another graph", () => {
    const { g, r } = fresh(() => tf.constant(1));
    const other = new tf.Graph().asDefault(() => tf.constant(2));
    const sess = new tf.Session({ graph: g });
    expect(() => sess.runSync(other)).toThrow(/another graph/);
    sess.close();
    expect(() => sess.runSync(r)).toThrow(tf.errors.FailedPreconditionError);
  });
});
