import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { cse } from "../../passes/cse";
import { countOf, data, expectSameOutputs, initialVariables, runWith } from "./helpers";

const x23 = () => tf.ndarray(data(6, 2), [2, 3]);

describe("cse", () => {
  it("merges identical ops, cascading through their consumers", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      const a = tf.add(tf.exp(x, "e1"), tf.constant([1, 2, 3], [3], "float32", "c1"), "a1");
      const b = tf.add(tf.exp(x, "e2"), tf.constant([1, 2, 3], [3], "float32", "c2"), "a2");
      tf.mul(a, b, "out");
    });
    const r = cse(g, { outputs: ["out"] });
    expect(r.changed).toBe(true);
    expect(countOf(r.graph, "Exp")).toBe(1);
    expect(countOf(r.graph, "AddV2")).toBe(1);
    expect(countOf(r.graph, "Const")).toBe(1);
    const out = r.graph.getOperationByName("out");
    expect(out.inputs[0]).toBe(out.inputs[1]);
    expectSameOutputs(g, r.graph, ["out"], { feeds: { x: x23() } });
  });

  it("merges the Switches both branches of a cond make for the same tensor", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      const p = tf.placeholder("bool", [], "p");
      tf.identity(tf.cond(p, () => tf.exp(x), () => tf.neg(x)), "out");
    });
    const switches = countOf(g, "Switch");
    const r = cse(g, { outputs: ["out"] });
    expect(countOf(r.graph, "Switch")).toBeLessThan(switches);
    expectSameOutputs(g, r.graph, ["out"], { feeds: { x: x23(), p: true } });
    expectSameOutputs(g, r.graph, ["out"], { feeds: { x: x23(), p: false } });
  });

  it("keeps requested outputs under their names", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      tf.sqrt(tf.abs(x), "first");
      tf.sqrt(tf.abs(x), "second");
    });
    const r = cse(g, { outputs: ["first", "second"] });
    expect(r.graph.getOperationByName("second").type).toBe("Sqrt");
    expect(countOf(r.graph, "Abs")).toBe(1);
    expectSameOutputs(g, r.graph, ["first", "second"], { feeds: { x: x23() } });
  });

  it("never merges two assignAdds, two placeholders, or two seeded random ops", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const v = tf.getVariable("v", [], { initializer: tf.initializers.constant(1) });
      const a = tf.assignAdd(v, tf.constant(1, [], "float32", "one"), { name: "up1" });
      const b = tf.assignAdd(v, tf.constant(1, [], "float32", "one_again"), { name: "up2" });
      tf.group([a, b], "updates");
      tf.add(tf.placeholder("float32", [2], "p1"), tf.placeholder("float32", [2], "p2"), "sum");
      tf.sub(tf.initializers.randomUniform({ seed: 1 })([2], "float32"), tf.initializers.randomUniform({ seed: 1 })([2], "float32"), "noise");
    });
    const r = cse(g, {});
    expect(countOf(r.graph, "AssignAdd")).toBe(2);
    expect(countOf(r.graph, "Placeholder")).toBe(2);
    expect(countOf(r.graph, "RandomUniform")).toBe(2);
    // The two constant `1`s do merge, and both updates still run.
    const variables = initialVariables(g);
    const sess = new tf.Session({ graph: r.graph });
    sess.setVariableValue("v", variables.get("v")!);
    sess.runSync("updates");
    expect(sess.variableValues.get("v")!.values()).toEqual([3]);
    expectSameOutputs(g, r.graph, ["sum"], { feeds: { p1: [1, 2], p2: [3, 5] } });
  });

  it("does not merge ops whose attributes, constant values or control inputs differ", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [3, 3], "x");
      const m1 = tf.matmul(x, x, { name: "m1" });
      const m2 = tf.matmul(x, x, { transposeA: true, name: "m2" });
      const z1 = tf.constant([0, 1], [2], "float32", "zero");
      const z2 = tf.constant([-0, 1], [2], "float32", "negative_zero");
      const z3 = tf.constant([0, 1], [2], "int32", "int_zero");
      const gate = tf.noOp("gate");
      const plain = tf.exp(x, "plain");
      const gated = tf.controlDependencies([gate], () => tf.exp(x, "gated"));
      tf.group([m1, m2, z1, z2, z3, plain, gated], "all");
    });
    const r = cse(g, {});
    expect(r.changed).toBe(false);
    expect(r.graph).toBe(g);
    expect(runWith(g, ["m1", "m2"], { x: tf.ndarray(data(9, 4), [3, 3]) })[0].values()).not.toEqual(
      runWith(g, ["m2"], { x: tf.ndarray(data(9, 4), [3, 3]) })[0].values(),
    );
  });
});
