/**
 * The per-run caches of Session.runSync (run plans by signature, resolved feed / fetch names) and
 * of the compiled backends (fetch keys, stand-ins): a graph that grows after a run, runs with
 * other feed keys, order or shapes, and name errors behave as without caches.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { wasmReady } from "../../src/runtime/wasm/loader";

const BACKENDS = ["wasm", "js", "interpreter"] as const;

function build() {
  const g = new tf.Graph();
  const r = g.asDefault(() => {
    const x = tf.placeholder("float32", [null], "x");
    const y = tf.mul(x, 2, "y");
    const z = tf.add(y, 1, "z");
    return { x, y, z };
  });
  return { g, ...r };
}

describe.each(BACKENDS)("run caches (%s)", (backend) => {
  beforeAll(() => wasmReady());

  it("an op added to the graph after a run can be fetched, and a re-planned run includes it", () => {
    const { g, x, y } = build();
    const sess = new tf.Session({ graph: g, backend });
    expect([...sess.runSync(y, { x: [1, 2] }).data]).toEqual([2, 4]);
    const w = g.asDefault(() => tf.sub(y, 3, "w"));
    expect([...sess.runSync(w, { x: [1, 2] }).data]).toEqual([-1, 1]);
    // The same fetch again after the graph grew: still right.
    expect([...sess.runSync(y, { x: [5] }).data]).toEqual([10]);
    // A control dependency added to an existing fetch's graph: the old fetch is unchanged, a new one runs it.
    const v = g.asDefault(() => tf.getVariable("v", [], { initializer: tf.initializers.zeros() }));
    sess.runSync(tf.variablesInitializer([v]));
    const inc = g.asDefault(() => tf.assignAdd(v, 1));
    const yAfter = g.asDefault(() => tf.controlDependencies([inc], () => tf.identity(y, "yAfter")));
    const meta: tf.RunMetadata = { executedOps: [] };
    expect([...sess.runSync(yAfter, { x: [1] }, { runMetadata: meta }).data]).toEqual([2]);
    expect(meta.executedOps).toContain(inc.op.name);
    expect(sess.runSync(v).scalar()).toBe(1);
  });

  it("runs with other feed keys re-plan: feeding an intermediate tensor cuts the graph there", () => {
    const { g, x, y, z } = build();
    const sess = new tf.Session({ graph: g, backend });
    const meta: tf.RunMetadata = { executedOps: [] };
    expect([...sess.runSync(z, { x: [1] }, { runMetadata: meta }).data]).toEqual([3]);
    expect(meta.executedOps).toContain("y");
    // Same fetch, y fed instead of x: y's op must not run, and x is not needed.
    expect([...sess.runSync(z, new Map([[y, tf.ndarray(new Float32Array([10]), [1])]]), { runMetadata: meta }).data]).toEqual([11]);
    expect(meta.executedOps).not.toContain("y");
    // Both fed, in either order, and back to x only.
    expect([...sess.runSync(z, { x: [1], y: [7] }).data]).toEqual([8]);
    expect([...sess.runSync(z, { "y:0": [7], x: [1] }).data]).toEqual([8]);
    expect([...sess.runSync(z, { x: [4] }).data]).toEqual([9]);
    // Feeding y only, then also fetching x (which needs a feed): the plan includes the placeholder.
    expect(() => sess.runSync([z, x], { y: [1] })).toThrow(/you must feed a value for placeholder `x`/);
    expect([...sess.runSync([z], { y: [1] })[0].data]).toEqual([2]);
  });

  it("fetch order, fetch structure and fed shapes vary between runs of one signature", () => {
    const { g, x, y, z } = build();
    const sess = new tf.Session({ graph: g, backend });
    const [a, b] = sess.runSync([y, z], { x: [1, 2, 3] });
    expect([...a.data]).toEqual([2, 4, 6]);
    expect([...b.data]).toEqual([3, 5, 7]);
    const [c, d] = sess.runSync([z, y], { x: [1] });
    expect([...c.data]).toEqual([3]);
    expect([...d.data]).toEqual([2]);
    const o = sess.runSync({ zz: "z", yy: "y:0", xx: x }, { x: [2, 2] });
    expect([...o.zz.data]).toEqual([5, 5]);
    expect([...o.yy.data]).toEqual([4, 4]);
    expect([...o.xx.data]).toEqual([2, 2]);
  });

  it("name errors are not cached: an unknown name fails each time, and works once the op exists", () => {
    const { g, x } = build();
    const sess = new tf.Session({ graph: g, backend });
    expect(() => sess.runSync("later", { x: [1] })).toThrow(tf.errors.NotFoundError);
    expect(() => sess.runSync("y", { x: [1], later: [1] })).toThrow(tf.errors.NotFoundError);
    expect(() => sess.runSync("y", { x: [1], later: [1] })).toThrow(/later/);
    g.asDefault(() => tf.neg(x, "later"));
    expect([...sess.runSync("later", { x: [1] }).data]).toEqual([-1]);
    expect([...sess.runSync("y", { x: [1], later: [5] }).data]).toEqual([2]);
    expect([...sess.runSync("later:0", { later: [5] }).data]).toEqual([5]);
  });

  it("bad feeds fail on every run, also after good runs of the same signature", () => {
    const { g, y } = build();
    const sess = new tf.Session({ graph: g, backend });
    sess.runSync(y, { x: [1] });
    for (let i = 0; i < 2; i++) {
      expect(() => sess.runSync(y, { x: [[1]] })).toThrow(tf.errors.InvalidArgumentError);
      expect(() => sess.runSync(y, { x: new Int32Array([1]) })).toThrow(/cannot feed this value for tensor `x:0`/);
      expect(() => sess.runSync(y, { x: [true] })).toThrow(tf.errors.InvalidArgumentError);
    }
    expect([...sess.runSync(y, { x: [3] }).data]).toEqual([6]);
  });

  it("a closed session refuses runs of a cached signature", () => {
    const { g, y } = build();
    const sess = new tf.Session({ graph: g, backend });
    sess.runSync(y, { x: [1] });
    sess.close();
    expect(() => sess.runSync(y, { x: [1] })).toThrow(tf.errors.FailedPreconditionError);
  });
});
