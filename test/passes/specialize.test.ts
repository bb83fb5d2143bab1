import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { prune } from "../../passes/prune";
import { specialize } from "../../passes/specialize";
import { countOf, data, expectSameOutputs, initialVariables, runWith } from "./helpers";
import { bnModel } from "./models";

const controlTypes = ["Switch", "Merge", "AssignSub"];

describe("specialize", () => {
  it("resolves the phase cond of the MNIST network for inference and drops the updates", () => {
    const { graph, x } = bnModel("placeholder");
    const r = specialize(graph, { feeds: { phase: false }, outputs: ["logits"] });
    expect(r.changed).toBe(true);
    for (const t of controlTypes) expect(countOf(r.graph, t), t).toBe(0);
    expect(r.graph.hasOperation("phase")).toBe(false);
    expect(r.graph.hasOperation("train")).toBe(false);
    // The batch statistics are gone; the moving ones are read.
    expect(r.graph.operations.some((o) => o.name.includes("moments"))).toBe(false);
    expect(r.graph.hasOperation("layer1/bn/moving_mean")).toBe(true);
    expect(r.diagnostics.map((d) => [d.code, d.node])).toContainEqual(["placeholder-fixed", "phase"]);
    expectSameOutputs(graph, r.graph, ["logits"], { feeds: { x, phase: false }, feedsAfter: { x } });
  });

  it("without outputs, removes only what lost its consumers, and keeps the training parts that do not depend on phase", () => {
    const { graph, x } = bnModel("placeholder");
    const r = specialize(graph, { feeds: { phase: false } });
    for (const t of controlTypes) expect(countOf(r.graph, t), t).toBe(0);
    expect(r.graph.hasOperation("loss")).toBe(true);
    expect(r.graph.getCollection(tf.GraphKeys.UPDATE_OPS)).toEqual([]);
    expect(r.graph.operations.some((o) => o.name.includes("moments"))).toBe(false);
    // The train op waits on the updates inside the untaken branch: it is dead at inference, so gone,
    // and so is the SGD step (an update) it ran.
    expect(r.graph.hasOperation("train")).toBe(false);
    expect(countOf(r.graph, "AssignSub")).toBe(0);
    // The variables stay (a Saver still needs them), and so do their initializers.
    expect(r.graph.hasOperation("logits/kernel")).toBe(true);
    const initializers = graph.getCollection<tf.Variable>(tf.GraphKeys.GLOBAL_VARIABLES).map((v) => v.initializer.name);
    expect(initializers.length).toBe(6);
    for (const n of initializers) expect(r.graph.getOperationByName(n).type, n).toBe("Assign");
    const sess = new tf.Session({ graph: r.graph });
    sess.runSync(initializers);
    expect([...sess.variableValues.keys()].sort()).toEqual([...initialVariables(graph).keys()].sort());
    expectSameOutputs(graph, r.graph, ["logits", "loss"], { feeds: { x, y: tf.ndarray(data(6, 8), [3, 2]), phase: false }, feedsAfter: { x, y: tf.ndarray(data(6, 8), [3, 2]) } });
  });

  it("takes a PlaceholderWithDefault's constant default with training: false, useDefaults or feeds 'default'", () => {
    for (const options of [{ training: false }, { useDefaults: true }, { feeds: { phase: "default" as const } }]) {
      const { graph, x } = bnModel("default");
      const r = specialize(graph, { ...options, outputs: ["logits"] });
      for (const t of controlTypes) expect(countOf(r.graph, t), `${t} with ${JSON.stringify(options)}`).toBe(0);
      expectSameOutputs(graph, r.graph, ["logits"], { feeds: { x }, feedsAfter: { x } });
    }
  });

  it("specializes for training with training: true, keeping the updates", () => {
    const { graph, x } = bnModel("placeholder");
    const r = specialize(graph, { training: true, outputs: ["logits", "train"] });
    expect(countOf(r.graph, "Switch")).toBe(0);
    expect(countOf(r.graph, "Merge")).toBe(0);
    expect(countOf(r.graph, "AssignSub")).toBe(3);
    const feeds = { x, y: tf.ndarray(data(6, 8), [3, 2]) };
    expectSameOutputs(graph, r.graph, ["logits"], { feeds: { ...feeds, phase: true }, feedsAfter: feeds });
    // One training step updates the variables the same way.
    const vars = initialVariables(graph);
    const s1 = new tf.Session({ graph });
    const s2 = new tf.Session({ graph: r.graph });
    for (const [n, v] of vars) {
      s1.setVariableValue(n, v);
      s2.setVariableValue(n, v);
    }
    s1.runSync("train", { ...feeds, phase: true });
    s2.runSync("train", feeds);
    for (const n of ["layer1/bn/moving_mean", "layer1/bn/moving_variance", "logits/kernel"])
      expect(s2.variableValues.get(n)!.values(), n).toEqual(s1.variableValues.get(n)!.values());
  });

  it("does not fire on a cond over a real placeholder when nothing fixes it", () => {
    const { graph, x } = bnModel("placeholder");
    const r = specialize(graph, { dropUpdates: false });
    expect(r.changed).toBe(false);
    expect(r.graph).toBe(graph);
    const d = bnModel("default");
    const r2 = specialize(d.graph, { dropUpdates: false, outputs: ["logits"] });
    const needed = prune(d.graph, { outputs: ["logits"] }).graph;
    expect(countOf(r2.graph, "Switch")).toBe(countOf(needed, "Switch"));
    expect(countOf(r2.graph, "Merge")).toBe(countOf(needed, "Merge"));
    expect(countOf(r2.graph, "Merge")).toBe(2);
    for (const phase of [true, false]) expectSameOutputs(graph, r.graph, ["logits"], { feeds: { x, phase } });
  });

  it("resolves a cond on a Const without options, nested conds included", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [3], "x");
      const outer = tf.constant(true, [], "bool", "outer");
      const inner = tf.placeholderWithDefault(false, [], "inner");
      tf.identity(
        tf.cond(outer, () => tf.cond(inner, () => tf.exp(x), () => tf.neg(x), "inner_cond"), () => tf.square(x)),
        "out",
      );
    });
    const r = specialize(g, { outputs: ["out"] });
    // The outer cond is resolved; the inner one switches on a placeholder nobody fixed.
    expect(countOf(r.graph, "Merge")).toBe(1);
    expect(countOf(r.graph, "Square")).toBe(0);
    for (const inner of [true, false]) expectSameOutputs(g, r.graph, ["out"], { feeds: { x: [1, -2, 3], inner } });
    const both = specialize(g, { useDefaults: true, outputs: ["out"] });
    expect(countOf(both.graph, "Merge")).toBe(0);
    expect(countOf(both.graph, "Exp")).toBe(0);
    expectSameOutputs(g, both.graph, ["out"], { feeds: { x: [1, -2, 3] } });
  });

  it("drops updates and the control edges onto them; keeps an update whose value is read, with a warning", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [3], "x");
      const count = tf.getVariable("count", [], { initializer: tf.initializers.zeros(), trainable: false });
      const total = tf.getVariable("total", [], { initializer: tf.initializers.zeros(), trainable: false });
      const bump = tf.assignAdd(count, 1, { name: "bump" });
      tf.controlDependencies([bump.op], () => tf.mul(x, 2, "out"));
      const read = tf.assignAdd(total, 1, { name: "read_update" });
      tf.add(read, 0, "uses_update");
    });
    const r = specialize(g, {});
    expect(r.graph.hasOperation("bump")).toBe(false);
    expect(r.graph.getOperationByName("out").controlInputs).toEqual([]);
    expect(r.graph.hasOperation("read_update")).toBe(true);
    expect(r.diagnostics.map((d) => [d.code, d.node])).toContainEqual(["update-kept", "read_update"]);
    const vars = initialVariables(g);
    const sess = new tf.Session({ graph: r.graph });
    for (const [n, v] of vars) sess.setVariableValue(n, v);
    expect(sess.runSync("out", { x: [1, 2, 3] }).values()).toEqual([2, 4, 6]);
    expect(sess.variableValues.get("count")!.values()).toEqual([0]);
    expect(runWith(g, ["out"], { x: [1, 2, 3] }, vars)[0].values()).toEqual([2, 4, 6]);
    // With dropUpdates: false nothing changes.
    expect(specialize(g, { dropUpdates: false }).changed).toBe(false);
  });

  it("warns when a requested output lies in the deleted branch, and keeps the others", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [3], "x");
      const p = tf.placeholder("bool", [], "p");
      tf.identity(tf.cond(p, () => tf.exp(x, "inside"), () => tf.neg(x)), "out");
    });
    const r = specialize(g, { feeds: { p: false }, outputs: ["out", "cond/inside"] });
    expect(r.graph.hasOperation("cond/inside")).toBe(false);
    expect(r.diagnostics.map((d) => [d.code, d.node, d.severity])).toContainEqual(["dead-output", "cond/inside", "warning"]);
    expectSameOutputs(g, r.graph, ["out"], { feeds: { x: [1, 2, 3], p: false }, feedsAfter: { x: [1, 2, 3] } });
  });

  it("refuses to fix what is not a placeholder, naming it", () => {
    const { graph } = bnModel("placeholder");
    expect(() => specialize(graph, { feeds: { phse: false } })).toThrow(tf.errors.NotFoundError);
    expect(() => specialize(graph, { feeds: { phse: false } })).toThrow(/phase/);
    expect(() => specialize(graph, { feeds: { logits: 1 } })).toThrow(tf.errors.InvalidArgumentError);
    expect(() => specialize(graph, { feeds: { phase: "default" } })).toThrow(/no constant default/);
  });
});
