import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { optimizeForInference } from "../../passes/pipeline";
import { countOf, expectSameOutputs, opCounts } from "./helpers";
import { bnModel } from "./models";

describe("optimizeForInference", () => {
  it.each([{ feeds: { phase: false } }, { training: false }])("turns the MNIST training graph into its inference part, to a fixpoint (%o)", (options) => {
    const { graph, x } = bnModel("placeholder");
    const r = optimizeForInference(graph, { outputs: ["logits"], ...options });
    expect(r.changed).toBe(true);
    const counts = opCounts(r.graph);
    for (const t of ["Switch", "Merge", "AssignSub", "Identity", "NoOp", "Mean", "Placeholder"]) {
      if (t === "Placeholder") expect(counts[t]).toBe(1);
      else expect(counts[t] ?? 0, t).toBe(0);
    }
    expect(r.graph.operations.length).toBeLessThan(graph.operations.length / 3);
    expectSameOutputs(graph, r.graph, ["logits"], { feeds: { x, phase: false }, feedsAfter: { x }, tolerance: 1e-6 });
    // A second run finds nothing to do.
    const again = optimizeForInference(r.graph, { outputs: ["logits"] });
    expect(again.changed).toBe(false);
    expect(again.graph).toBe(r.graph);
  });

  it("folds the batch-norm arithmetic of a frozen graph into constants", () => {
    const { graph, x } = bnModel("default", true);
    const r = optimizeForInference(graph, { outputs: ["logits"], training: false });
    const counts = opCounts(r.graph);
    // x ─MatMul─Mul─(Sub|AddV2)─Relu─MatMul: the scale and shift are Consts now.
    expect(counts.Rsqrt ?? 0).toBe(0);
    expect(counts.MatMul).toBe(2);
    expect(counts.Relu).toBe(1);
    expect(r.graph.operations.filter((o) => o.type !== "Const").length).toBeLessThanOrEqual(6);
    expect(r.diagnostics.map((d) => [d.code, d.node])).toContainEqual(["placeholder-fixed", "phase"]);
    expectSameOutputs(graph, r.graph, ["logits"], { feeds: { x }, tolerance: 1e-6 });
  });

  it("keeps the names of every requested output", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      const c = tf.mul(tf.constant([1, 2], [2]), 3, "folded");
      tf.identity(tf.add(x, c), "first");
      tf.identity(tf.add(x, c), "second");
      tf.identity(c, "constant_out");
    });
    const outputs = ["first", "second:0", "constant_out", "folded"];
    const r = optimizeForInference(g, { outputs });
    for (const n of ["first", "second", "constant_out", "folded"]) expect(r.graph.hasOperation(n), n).toBe(true);
    expect(countOf(r.graph, "AddV2")).toBe(1);
    expectSameOutputs(g, r.graph, outputs, { feeds: { x: [5, 7] } });
  });

  it("does not fire on a graph with nothing to optimize", () => {
    const g = new tf.Graph();
    g.asDefault(() => tf.matmul(tf.placeholder("float32", [1, 2], "x"), tf.placeholder("float32", [2, 2], "w"), { name: "y" }));
    const r = optimizeForInference(g, { outputs: ["y"] });
    expect(r.changed).toBe(false);
    expect(r.graph).toBe(g);
    expect(r.diagnostics).toEqual([]);
  });

  it("leaves a cond on a real placeholder alone when no option fixes it", () => {
    const { graph, x } = bnModel("placeholder");
    const r = optimizeForInference(graph, { outputs: ["logits"] });
    expect(countOf(r.graph, "Switch")).toBeGreaterThan(0);
    expect(countOf(r.graph, "Merge")).toBe(2);
    for (const phase of [true, false]) expectSameOutputs(graph, r.graph, ["logits"], { feeds: { x, phase }, tolerance: 1e-6 });
  });
});
