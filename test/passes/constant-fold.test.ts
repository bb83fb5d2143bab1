import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { constantFold } from "../../passes/constant-fold";
import { countOf, data, expectSameOutputs } from "./helpers";

describe("constantFold", () => {
  it("folds ops over Consts into Consts of the same name, cascading, and the numbers do not change", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      const a = tf.constant(data(6, 3), [2, 3], "float32", "a");
      const scale = tf.mul(a, tf.constant(3, [], "float32", "three"), "scale");
      const shift = tf.add(scale, tf.reduceSum(tf.constant([[1, 2], [3, 4]], [2, 2], "float32", "m"), 1, true, "rowsum"), "shift");
      const w = tf.matmul(tf.constant(data(6, 5), [3, 2], "float32", "w"), tf.constant(data(6, 9), [2, 3], "float32", "v"), { name: "w_product" });
      const folded = tf.add(tf.matmul(scale, w, { name: "folded_mm" }), 1, "folded_out");
      tf.mul(tf.add(x, shift, "live"), folded, "out");
    });
    const r = constantFold(g, {});
    expect(r.changed).toBe(true);
    expect(r.diagnostics).toEqual([]);
    for (const n of ["scale", "rowsum", "shift", "w_product", "folded_mm", "folded_out"]) expect(r.graph.getOperationByName(n).type, n).toBe("Const");
    expect(r.graph.getOperationByName("live").type).toBe("AddV2");
    expect(r.graph.getOperationByName("out").type).toBe("Mul");
    expectSameOutputs(g, r.graph, ["out", "scale:0", "shift", "w_product", "folded_out"], { feeds: { x: tf.ndarray(data(6, 11), [2, 3]) } });
  });

  it("folds every output of a multi-output op", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const parts = tf.unstack(tf.constant([[1, 2], [3, 4], [5, 6]], [3, 2], "float32", "c"), {}, "parts");
      tf.add(tf.add(parts[0], parts[1]), parts[2], "out");
    });
    const r = constantFold(g, {});
    expect(countOf(r.graph, "Unpack")).toBe(0);
    expect(r.graph.getOperationByName("out").type).toBe("Const");
    expectSameOutputs(g, r.graph, ["out"]);
    // When `parts:1` is a requested output its name must stay, so Unpack is left alone.
    const kept = constantFold(g, { outputs: ["parts:1", "out"] });
    expect(kept.graph.getOperationByName("parts").type).toBe("Unpack");
  });

  it("keeps a folded value inside an untaken cond branch dead", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const p = tf.placeholder("bool", [], "p");
      const c = tf.cond(
        p,
        () => tf.add(tf.constant(1, [], "float32", "one"), tf.constant(2, [], "float32", "two"), "three"),
        () => tf.mul(tf.constant(5, [], "float32", "five"), tf.constant(7, [], "float32", "seven"), "thirty_five"),
      );
      tf.identity(c, "out");
    });
    const r = constantFold(g, {});
    expect(r.graph.getOperationByName("cond/three").type).toBe("Const");
    expect(r.graph.getOperationByName("cond/thirty_five").type).toBe("Const");
    expect(r.graph.getOperationByName("cond/three").controlInputs.map((o) => o.name)).toEqual(["cond/pivot_t"]);
    expect(countOf(r.graph, "Merge")).toBe(1);
    expectSameOutputs(g, r.graph, ["out"], { feeds: { p: true } });
    expectSameOutputs(g, r.graph, ["out"], { feeds: { p: false } });
  });

  it("leaves stateful, random and placeholder ops (and what they feed) alone", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const v = tf.getVariable("v", [2], { initializer: tf.initializers.constant(1) });
      const read = tf.add(v, tf.constant([1, 1], [2]), "read_plus");
      const noise = tf.initializers.randomUniform({ seed: 3 })([2], "float32");
      const withNoise = tf.add(noise, 1, "noise_plus");
      const pwd = tf.placeholderWithDefault(tf.constant([2, 2], [2]), [2], "pwd");
      const fed = tf.mul(pwd, 3, "pwd_times");
      const up = tf.assignAdd(v, tf.constant([1, 1], [2]), { name: "update" });
      tf.group([read, withNoise, fed, up], "all");
    });
    const before = countOf(g, "Const");
    const r = constantFold(g, {});
    for (const n of ["read_plus", "noise_plus", "pwd", "pwd_times", "update", "v"]) expect(r.graph.getOperationByName(n).type, n).not.toBe("Const");
    expect(countOf(r.graph, "RandomUniform")).toBe(1);
    expect(countOf(r.graph, "Const")).toBe(before);
    expect(r.changed).toBe(false);
    expect(r.graph).toBe(g);
    expectSameOutputs(g, r.graph, ["pwd_times"], { feeds: { pwd: [4, 5] } });
  });

  it("respects maxElements", () => {
    const g = new tf.Graph();
    g.asDefault(() => tf.tile(tf.constant([1, 2], [2]), [1000], "big"));
    expect(constantFold(g, { maxElements: 1000 }).changed).toBe(false);
    const r = constantFold(g, { maxElements: 5000 });
    expect(r.graph.getOperationByName("big").type).toBe("Const");
    expectSameOutputs(g, r.graph, ["big"]);
  });

  it("leaves an op whose kernel fails in place, with a warning naming it", () => {
    const g = new tf.Graph();
    g.asDefault(() => tf.gather(tf.constant([1, 2, 3], [3]), tf.constant([7], [1], "int32"), 0, "bad_gather"));
    const r = constantFold(g, {});
    expect(r.graph.getOperationByName("bad_gather").type).toBe("GatherV2");
    expect(r.diagnostics.map((d) => [d.code, d.node])).toEqual([["fold-failed", "bad_gather"]]);
  });
});
