import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { rewriteGraph } from "../../ir/rewrite";

describe("rewriteGraph", () => {
  it("copies a graph: names, types, inputs, control inputs and collections", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      const n = tf.noOp("first");
      const y = tf.controlDependencies([n], () => tf.exp(x, "y"));
      tf.addToCollection("OUT", y);
      tf.addToCollection("OPS", n);
    });
    const copy = rewriteGraph(g);
    expect(copy).not.toBe(g);
    expect(copy.operations.map((o) => [o.name, o.type])).toEqual(g.operations.map((o) => [o.name, o.type]));
    expect(copy.getOperationByName("y").controlInputs.map((o) => o.name)).toEqual(["first"]);
    expect(copy.getOperationByName("y").inputs[0]).toBe(copy.getTensorByName("x:0"));
    expect((copy.getCollection("OUT")[0] as tf.Tensor).graph).toBe(copy);
    expect(copy.getCollection("OPS")[0]).toBe(copy.getOperationByName("first"));
  });

  it("reserves every source name, so replacements never take the name of an op copied later", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      const a = tf.neg(x, "a");
      tf.exp(a, "Exp"); // a later op named like the default name of a replacement
    });
    const copy = rewriteGraph(g, (op, ctx) => {
      if (op.name !== "a") return undefined;
      return [ctx.graph.addOp({ type: "Exp", inputs: [ctx.tensor(op.inputs[0])] }).outputs[0]];
    });
    expect(copy.getOperationByName("Exp").inputs[0].op.name).toBe("Exp_1");
  });

  it("maps control inputs on dropped ops to their own control inputs, and reports missing copies", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const a = tf.noOp("a");
      const b = tf.controlDependencies([a], () => tf.noOp("b"));
      tf.controlDependencies([b], () => tf.noOp("c"));
      tf.neg(tf.exp(tf.placeholder("float32", [1], "x"), "e"), "n");
    });
    const seen: string[][] = [];
    const copy = rewriteGraph(g, (op, ctx) => {
      if (op.name === "c") seen.push(ctx.controlInputs(op).map((o) => o.name));
      if (op.name === "n") expect(ctx.has(op.inputs[0])).toBe(false);
      return op.name === "b" || op.name === "e" || op.name === "n" ? "drop" : undefined;
    });
    expect(seen).toEqual([["a"]]);
    expect(copy.getOperationByName("c").controlInputs.map((o) => o.name)).toEqual(["a"]);
    expect(() => rewriteGraph(g, (op) => (op.name === "e" ? "drop" : undefined))).toThrow(/e:0/);
  });

  it("keeps the predicates tf.cond recorded for its Merges, so gradients still flow through a copy", () => {
    const g = new tf.Graph();
    const x = g.asDefault(() => tf.placeholder("float32", [2], "x"));
    g.asDefault(() => {
      const p = tf.placeholder("bool", [], "p");
      tf.identity(tf.cond(p, () => tf.square(x), () => tf.mul(x, 3)), "out");
    });
    const copy = rewriteGraph(g);
    const recorded = copy.extras.get("condPredicates") as Map<string, tf.Tensor>;
    expect([...recorded.entries()].map(([m, t]) => [m, t.name, t.graph === copy])).toEqual([["cond/Merge", "p:0", true]]);
    const [dx] = copy.asDefault(() => tf.gradients(copy.getTensorByName("out:0"), [copy.getTensorByName("x:0")]));
    const sess = new tf.Session({ graph: copy });
    expect(sess.runSync(dx!, { x: [1, 2], p: true }).values()).toEqual([2, 4]);
    expect(sess.runSync(dx!, { x: [1, 2], p: false }).values()).toEqual([3, 3]);
  });
});
