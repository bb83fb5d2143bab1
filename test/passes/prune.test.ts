import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { prune } from "../../passes/prune";
import { countOf, data, expectSameOutputs, names } from "./helpers";

function model() {
  const g = new tf.Graph();
  const t = g.asDefault(() => {
    const x = tf.placeholder("float32", [null, 3], "x");
    const y = tf.placeholder("float32", [null, 2], "y");
    const w = tf.getVariable("w", [3, 2], { initializer: tf.initializers.constant(0.5) });
    const logits = tf.matmul(x, w, { name: "logits" });
    const loss = tf.reduceMean(tf.square(tf.sub(logits, y)), undefined, false, "loss");
    const step = tf.getVariable("step", [], { initializer: tf.initializers.zeros(), trainable: false });
    const bump = tf.assignAdd(step, 1, { name: "bump" });
    const train = tf.controlDependencies([bump.op], () => tf.group([loss], "train"));
    tf.addToCollection("LOSSES", loss);
    tf.addToCollection("LOGITS", logits);
    return { x, logits, loss, train };
  });
  return { g, ...t };
}

describe("prune", () => {
  it("keeps only what the outputs need and the numbers do not change", () => {
    const { g } = model();
    const r = prune(g, { outputs: ["logits"] });
    expect(r.changed).toBe(true);
    expect(r.graph).not.toBe(g);
    expect(names(r.graph).sort()).toEqual(["logits", "w", "x"]);
    expect(r.graph.getCollection("LOSSES")).toEqual([]);
    expect(r.graph.getCollection("LOGITS").map((t) => (t as tf.Tensor).name)).toEqual(["logits:0"]);
    expectSameOutputs(g, r.graph, ["logits:0"], { feeds: { x: tf.ndarray(data(6), [2, 3]) } });
    // The input graph is untouched.
    expect(g.hasOperation("loss")).toBe(true);
  });

  it("follows control inputs and keeps the variable an update writes", () => {
    const { g } = model();
    const r = prune(g, { outputs: ["train"] });
    for (const n of ["train", "bump", "step", "loss", "logits", "w", "x", "y"]) expect(r.graph.hasOperation(n), n).toBe(true);
    expect(r.graph.getOperationByName("train").controlInputs.map((c) => c.name)).toContain("bump");
    // Initializers are not needed by the train op.
    expect(r.graph.hasOperation("w/Assign")).toBe(false);
    expect(countOf(r.graph, "Assign")).toBe(0);
  });

  it("accepts tensors and operations as outputs", () => {
    const { g, loss } = model();
    const r = prune(g, { outputs: [loss, g.getOperationByName("logits")] });
    expect(r.graph.hasOperation("loss")).toBe(true);
    expect(r.graph.hasOperation("bump")).toBe(false);
    expectSameOutputs(g, r.graph, ["loss", "logits"], { feeds: { x: tf.ndarray(data(6), [2, 3]), y: tf.ndarray(data(4, 7), [2, 2]) } });
  });

  it("does not fire when everything is needed", () => {
    const g = new tf.Graph();
    g.asDefault(() => tf.add(tf.placeholder("float32", [2], "a"), tf.constant([1, 2], [2]), "out"));
    const r = prune(g, { outputs: ["out:0"] });
    expect(r.changed).toBe(false);
    expect(r.graph.operations.length).toBe(3);
  });

  it("names an unknown output with a suggestion", () => {
    const { g } = model();
    expect(() => prune(g, { outputs: ["logit"] })).toThrow(tf.errors.NotFoundError);
    expect(() => prune(g, { outputs: ["logit"] })).toThrow(/logits/);
    expect(() => prune(g, { outputs: ["logits:3"] })).toThrow(tf.errors.NotFoundError);
  });
});
