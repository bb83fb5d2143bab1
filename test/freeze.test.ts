import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { tensorFromProto } from "../ir/graphdef/attr-convert";
import type { TensorProto } from "../ir/graphdef/model";
import { convertVariablesToConstants, extractSubGraph, removeTrainingNodes } from "../src/freeze";
import { randomData } from "./helpers/run";

/** x -> MatMul(w) + b -> logits, plus a loss and an SGD-like update nobody needs at inference. */
function model() {
  const graph = new tf.Graph();
  const parts = graph.asDefault(() => {
    const x = tf.placeholder("float32", [null, 3], "x");
    const w = new tf.Variable(tf.ndarray(randomData(6, 3), [3, 2]), { name: "w" });
    const b = new tf.Variable(tf.ndarray([0.5, -0.5]), { name: "b" });
    const logits = tf.add(tf.matmul(x, w), b, "logits");
    const loss = tf.reduceSum(tf.square(logits), undefined, false, "loss");
    const step = tf.assignSub(w, tf.mul(w, 0.5), { name: "shrink" });
    const unrelated = tf.identity(tf.constant(1, [], "float32", "one"), "unrelated");
    return { x, w, b, logits, loss, step, unrelated };
  });
  const sess = new tf.Session({ graph });
  sess.runSync(graph.asDefault(() => tf.globalVariablesInitializer()));
  return { graph, sess, ...parts };
}

const constValue = (gd: tf.GraphDef, name: string) => {
  const node = gd.node.find((n) => n.name === name)!;
  return tensorFromProto((node.attr.value as { tensor: TensorProto }).tensor, name);
};

const xs = tf.ndarray(randomData(12, 9), [4, 3]);

describe("convertVariablesToConstants", () => {
  it("replaces the variables the outputs read by Consts holding their current values, pruned to the outputs", () => {
    const m = model();
    m.sess.runSync(m.step); // w changes: the frozen graph must hold the new value, not the initial one
    const current = m.sess.variableValues.get("w")!;
    const frozen = convertVariablesToConstants(m.sess, m.graph.asGraphDef(), ["logits"]);
    const byName = new Map(frozen.node.map((n) => [n.name, n]));
    expect(byName.get("w")!.op).toBe("Const");
    expect(byName.get("b")!.op).toBe("Const");
    expect(constValue(frozen, "w").values()).toEqual(current.values());
    expect(constValue(frozen, "w").values()).not.toEqual(Array.from(randomData(6, 3)));
    expect(constValue(frozen, "w").shape).toEqual([3, 2]);
    expect(frozen.node.map((n) => n.op)).not.toContain("VariableV2");
    // Only what logits needs: no loss, no update, no initializers, no unrelated node.
    for (const gone of ["loss", "shrink", "w/Assign", "w/Initializer/Const", "unrelated", "one"]) expect(byName.has(gone), gone).toBe(false);
    // The frozen graph computes what the session computes.
    const graph = tf.importGraphDef(frozen.toText());
    const out = new tf.Session({ graph }).runSync("logits", { x: xs });
    expect(out.values()).toEqual(m.sess.runSync(m.logits, { x: xs }).values());
  });

  it("keeps the nodes in the original order and accepts tensor names as outputs", () => {
    const m = model();
    const full = m.graph.asGraphDef();
    const frozen = convertVariablesToConstants(m.sess, full, ["logits:0", "loss"]);
    const order = full.node.map((n) => n.name).filter((n) => frozen.node.some((f) => f.name === n));
    expect(frozen.node.map((n) => n.name)).toEqual(order);
    expect(frozen.node.some((n) => n.name === "loss")).toBe(true);
  });

  it("honours the whitelist and the blacklist", () => {
    const m = model();
    const white = convertVariablesToConstants(m.sess, m.graph.asGraphDef(), ["logits"], { variableNamesWhitelist: ["b"] });
    expect(white.node.find((n) => n.name === "w")!.op).toBe("VariableV2");
    expect(white.node.find((n) => n.name === "b")!.op).toBe("Const");
    const black = convertVariablesToConstants(m.sess, m.graph.asGraphDef(), ["logits"], { variableNamesBlacklist: ["b"] });
    expect(black.node.find((n) => n.name === "w")!.op).toBe("Const");
    expect(black.node.find((n) => n.name === "b")!.op).toBe("VariableV2");
  });

  it("turns the assigns the outputs need into their pure equivalents (Assign -> Identity, AssignSub -> Sub)", () => {
    const graph = new tf.Graph();
    const { out, v } = graph.asDefault(() => {
      const v = new tf.Variable(tf.ndarray([1, 2, 3]), { name: "v" });
      const c = new tf.Variable(tf.ndarray([5, 5, 5]), { name: "c" });
      const update = tf.assignSub(v, tf.ndarray([0.5, 0.5, 0.5]), { name: "update" });
      const set = tf.assign(c, tf.ndarray([7, 8, 9]), { name: "set" });
      const out = tf.controlDependencies([update.op], () => tf.add(tf.identity(v, "read"), set, "out"));
      return { out, v };
    });
    const sess = new tf.Session({ graph });
    sess.runSync(graph.asDefault(() => tf.globalVariablesInitializer()));
    const frozen = convertVariablesToConstants(sess, graph.asGraphDef(), ["out"]);
    const byName = new Map(frozen.node.map((n) => [n.name, n]));
    expect(byName.get("update")!.op).toBe("Sub");
    expect(byName.get("update")!.attr.use_locking).toBeUndefined();
    expect(byName.get("set")!.op).toBe("Identity");
    expect(byName.get("set")!.input).toHaveLength(1);
    expect(byName.get(byName.get("set")!.input[0])!.op).toBe("Const");
    // `c` was read only by its Assign, which no longer reads it.
    expect(byName.has("c")).toBe(false);
    const imported = tf.importGraphDef(frozen);
    const frozenOut = new tf.Session({ graph: imported }).runSync("out");
    // The session's run: the control dependency runs the update first, so read sees [0.5, 1.5, 2.5].
    expect(frozenOut.values()).toEqual([1 + 7, 2 + 8, 3 + 9]);
    expect(sess.runSync(out).values()).toEqual([0.5 + 7, 1.5 + 8, 2.5 + 9]);
    expect(sess.variableValues.get(v.op.name)!.values()).toEqual([0.5, 1.5, 2.5]);
  });

  it("throws NotFoundError with the closest names for an unknown output", () => {
    const m = model();
    const call = () => convertVariablesToConstants(m.sess, m.graph.asGraphDef(), ["logit"]);
    expect(call).toThrow(tf.errors.NotFoundError);
    expect(call).toThrow(/`logit` is not in the graph.*did you mean `logits`/);
  });

  it("throws FailedPreconditionError for a variable the session never initialized", () => {
    const graph = new tf.Graph();
    graph.asDefault(() => tf.identity(new tf.Variable(tf.ndarray([1, 2]), { name: "v" }), "out"));
    const sess = new tf.Session({ graph });
    expect(() => convertVariablesToConstants(sess, graph.asGraphDef(), ["out"])).toThrow(tf.errors.FailedPreconditionError);
    expect(() => convertVariablesToConstants(sess, graph.asGraphDef(), ["out"])).toThrow(/`v`.*globalVariablesInitializer/);
  });
});

describe("extractSubGraph and removeTrainingNodes", () => {
  it("extractSubGraph keeps what the names need, through control inputs too", () => {
    const graph = new tf.Graph();
    graph.asDefault(() => {
      const a = tf.constant([1], [1], "float32", "a");
      const gate = tf.noOp("gate");
      tf.controlDependencies([gate], () => tf.identity(a, "out"));
      tf.identity(a, "other");
    });
    const sub = extractSubGraph(graph.asGraphDef(), ["out"]);
    expect(sub.node.map((n) => n.name)).toEqual(["a", "gate", "out"]);
    expect(sub.toText()).toContain('name: "gate"');
    expect(() => extractSubGraph(graph.asGraphDef(), ["otehr"])).toThrow(/did you mean `other`/);
  });

  it("removeTrainingNodes splices out Identity nodes except protected ones and those on control edges", () => {
    const graph = new tf.Graph();
    graph.asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      const i1 = tf.identity(x, "i1");
      const i2 = tf.identity(i1, "i2");
      const gate = tf.identity(x, "gate");
      tf.controlDependencies([gate.op], () => tf.add(i2, 1, "y"));
      tf.identity(i2, "out");
    });
    const gd = removeTrainingNodes(graph.asGraphDef(), { protectedNodes: ["out"] });
    const byName = new Map(gd.node.map((n) => [n.name, n]));
    expect(byName.has("i1")).toBe(false);
    expect(byName.has("i2")).toBe(false);
    expect(byName.has("gate")).toBe(true);
    expect(byName.get("y")!.input[0]).toBe("x");
    expect(byName.get("out")!.input).toEqual(["x"]);
    const g2 = tf.importGraphDef(gd);
    expect(new tf.Session({ graph: g2 }).runSync("y", { x: [1, 2] }).values()).toEqual([2, 3]);
  });
});
