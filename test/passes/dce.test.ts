import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { dce } from "../../passes/dce";
import { countOf, data, expectSameOutputs } from "./helpers";

const feeds = { x: tf.ndarray(data(6), [2, 3]) };

describe("dce", () => {
  it("removes unreachable ops, stateful ones included, and bypasses forwarding Identities", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      const w = tf.getVariable("w", [3], { initializer: tf.initializers.constant(2) });
      const h = tf.identity(tf.mul(x, w, "scaled"), "h");
      const h2 = tf.identity(h, "h2");
      tf.exp(x, "unused");
      tf.assignAdd(w, [1, 1, 1], { name: "unreachable_update" });
      tf.add(h2, 1, "out");
    });
    const r = dce(g, { outputs: ["out"] });
    expect(r.changed).toBe(true);
    expect(r.graph.hasOperation("unused")).toBe(false);
    expect(r.graph.hasOperation("unreachable_update")).toBe(false);
    expect(r.graph.hasOperation("w/Assign")).toBe(false);
    expect(countOf(r.graph, "Identity")).toBe(0);
    expect(r.graph.getOperationByName("out").inputs[0].name).toBe("scaled:0");
    expectSameOutputs(g, r.graph, ["out"], { feeds });
  });

  it("keeps a requested Identity and stateful ops the outputs reach", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      const v = tf.getVariable("v", [3], { initializer: tf.initializers.constant(1) });
      const up = tf.assignAdd(v, [1, 2, 3], { name: "update" });
      tf.controlDependencies([up.op], () => tf.identity(tf.add(x, v, "sum"), "result"));
    });
    const r = dce(g, { outputs: ["result:0"] });
    expect(r.graph.hasOperation("result")).toBe(true);
    expect(r.graph.getOperationByName("result").type).toBe("Identity");
    expect(r.graph.hasOperation("update")).toBe(true);
    expectSameOutputs(g, r.graph, ["result"], { feeds });
  });

  it("does not bypass a read of an updated variable, an Identity with control inputs, or a cond pivot", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      const p = tf.placeholder("bool", [], "p");
      const v = tf.getVariable("v", [3], { initializer: tf.initializers.constant(3) });
      const read = tf.identity(v, "read");
      // The update runs after the read and before `out`: `out` must see the value read before it.
      const up = tf.controlDependencies([read.op], () => tf.assignAdd(v, [10, 20, 30], { name: "up" }));
      const gated = tf.controlDependencies([read.op], () => tf.identity(x, "gated"));
      const c = tf.cond(p, () => tf.add(tf.constant(1), tf.constant(2), "three"), () => tf.constant(5, [], "float32", "five"));
      tf.controlDependencies([up.op], () => tf.add(tf.add(gated, read), c, "out"));
      // A read of a variable nothing updates is bypassed.
      const w = tf.getVariable("w", [3], { initializer: tf.initializers.constant(2) });
      tf.mul(x, tf.identity(w, "read_w"), "out_w");
    });
    const r = dce(g, { outputs: ["out", "out_w"] });
    expectSameOutputs(g, r.graph, ["out", "out_w"], { feeds: { ...feeds, p: true } });
    expectSameOutputs(g, r.graph, ["out"], { feeds: { ...feeds, p: false } });
    for (const n of ["read", "gated", "cond/pivot_t", "cond/pivot_f"]) expect(r.graph.hasOperation(n), n).toBe(true);
    expect(r.graph.hasOperation("read_w")).toBe(false);
  });

  it("bypasses a NoOp when that adds no control edge", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const v = tf.getVariable("v", [], { initializer: tf.initializers.constant(1) });
      const up = tf.assignAdd(v, 1, { name: "update" });
      const gate = tf.group([up], "gate");
      tf.controlDependencies([gate], () => tf.identity(v, "after"));
      // A NoOp with 3 control inputs and 3 dependents stays (bypassing it would need 9 edges).
      const ups = [0, 1, 2].map((i) => tf.assignAdd(tf.getVariable(`u${i}`, [], { initializer: tf.initializers.zeros() }), 1));
      const wide = tf.group(ups, "wide");
      [0, 1, 2].map((i) => tf.controlDependencies([wide], () => tf.noOp(`dep${i}`)));
      tf.group([g.getOperationByName("after"), g.getOperationByName("dep0"), g.getOperationByName("dep1"), g.getOperationByName("dep2")], "all");
    });
    const r = dce(g, { outputs: ["all"] });
    expect(r.graph.hasOperation("gate")).toBe(false);
    expect(r.graph.getOperationByName("after").controlInputs.map((c) => c.name)).toEqual(["update"]);
    expect(r.graph.hasOperation("wide")).toBe(true);
    expect(r.graph.hasOperation("all")).toBe(true);
  });

  it("does not fire when nothing is dead", () => {
    const g = new tf.Graph();
    g.asDefault(() => tf.nn.relu(tf.placeholder("float32", [2], "a"), "out"));
    const r = dce(g, { outputs: ["out"] });
    expect(r.changed).toBe(false);
    expect(r.graph).toBe(g);
  });
});
