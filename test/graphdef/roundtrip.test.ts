import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { fromText } from "../../ir/graphdef/read";
import { toText } from "../../ir/graphdef/write";
import { randomData } from "../helpers/run";

interface Fetches {
  /** Values computed from the variables; `out` also counts the steps. */
  compute: string[];
  /** The conditional update of `b`, and a read of `b` ordered after it by a control dependency. */
  update: string[];
}

/** A model touching every kind of node a GraphDef must carry, free of read/write races between the fetches of one run. */
function buildModel(): Fetches {
  const x = tf.placeholder("float32", [null, 3], "x");
  const flag = tf.placeholder("bool", [], "flag");
  const w = tf.getVariable("w", [3], { initializer: tf.initializers.randomUniform({ seed: 7, minval: -1, maxval: 1 }) });
  const b = tf.getVariable("b", [3], { initializer: tf.initializers.constant([0.5, -0.25, 2]) });
  const step = tf.getVariable("step", [], { dtype: "int32", initializer: tf.initializers.zeros() });
  const f32Scalar = tf.constant(0.1, [], "float32", "f32_scalar");
  const f32Matrix = tf.constant([[1.5, -2, 3e-5], [1e10, -0, 7]], undefined, "float32", "f32_matrix");
  const i32Scalar = tf.constant(-7, [], "int32", "i32_scalar");
  const i32Vector = tf.constant([1, -2, 2147483647], undefined, "int32", "i32_vector");
  const boolScalar = tf.constant(true, [], "bool", "bool_scalar");
  const boolVector = tf.constant([true, false, true], undefined, "bool", "bool_vector");
  const filled = tf.constant(2.5, [2, 3], "float32", "filled");
  const empty = tf.constant(new Float32Array(0), [0, 3], "float32", "empty");
  const y = tf.add(tf.mul(x, w), b, "y");
  const inc = tf.assignAdd(step, tf.constant(1, [], "int32"), { name: "inc" });
  const out = tf.controlDependencies([inc], () => tf.identity(y, "out"));
  const branch = tf.cond(flag, () => tf.mul(y, f32Scalar), () => tf.sub(y, tf.mul(f32Matrix, filled)), "branch");
  const update = tf.cond(flag, () => tf.assign(b, tf.add(b, 1)), () => tf.assign(b, tf.sub(b, 0.5)), "update");
  const ints = tf.add(tf.mul(i32Vector, i32Scalar), i32Scalar, "ints");
  const bools = tf.logicalAnd(boolVector, boolScalar, "bools");
  const gated = tf.controlDependencies([update], () => tf.identity(tf.add(b, 0), "gated"));
  tf.group([inc.op, update.op], "train");
  tf.globalVariablesInitializer();
  return { compute: [out, branch, ints, bools, empty].map((t) => t.name), update: [update.name, gated.name] };
}

function normalize(value: unknown): unknown {
  if (value instanceof tf.NDArray) return { dtype: value.dtype, shape: value.shape, data: Array.from(value.data) };
  return value;
}

function expectSameGraph(a: tf.Graph, b: tf.Graph): void {
  expect(b.operations.map((o) => o.name).sort()).toEqual(a.operations.map((o) => o.name).sort());
  for (const op of a.operations) {
    const other = b.getOperationByName(op.name);
    expect(other.type, op.name).toBe(op.type);
    expect(other.inputs.map((t) => t.name), op.name).toEqual(op.inputs.map((t) => t.name));
    expect(other.controlInputs.map((c) => c.name), op.name).toEqual(op.controlInputs.map((c) => c.name));
    const attrs = (o: tf.Operation) => Object.fromEntries(Object.entries(o.attrs).map(([k, v]) => [k, normalize(v)]));
    expect(attrs(other), op.name).toEqual(attrs(op));
    expect(other.outputs.map((t) => [t.dtype, t.shape]), op.name).toEqual(op.outputs.map((t) => [t.dtype, t.shape]));
  }
}

/** Runs "init", then steps of compute and update runs with the same feeds, then reads the variables; returns every value. */
function runSteps(graph: tf.Graph, fetches: Fetches): unknown[] {
  const sess = new tf.Session({ graph });
  sess.runSync(graph.getOperationByName("init"));
  const results: unknown[] = [];
  [true, false, true, false].forEach((flag, i) => {
    const feeds = { x: tf.ndarray(randomData(6, i + 1), [2, 3]), flag };
    results.push(sess.runSync(fetches.compute, feeds).map(normalize));
    results.push(sess.runSync(fetches.update, feeds).map(normalize));
  });
  results.push(sess.runSync(["w:0", "b:0", "step:0"]).map(normalize));
  sess.close();
  return results;
}

describe("GraphDef round trip: build, write, import, run", () => {
  const g = new tf.Graph();
  const fetches = g.asDefault(buildModel);
  const text = g.asGraphDef().toText();

  it("imports every op with the same type, inputs, control inputs, attrs and output specs", () => {
    const imported = tf.importGraphDef(text);
    expectSameGraph(g, imported);
    expect(imported.operations.length).toBe(g.operations.length);
  });

  it("is a fixed point: the imported graph writes the same text", () => {
    expect(tf.importGraphDef(text).asGraphDef().toText()).toBe(text);
  });

  it("gives identical numbers in a Session, variables and conds included", () => {
    const expected = runSteps(g, fetches);
    const actual = runSteps(tf.importGraphDef(text), fetches);
    expect(actual).toEqual(expected);
    // The model did compute something: the seeded initializer gave non-zero weights, the counter counted.
    const [w, b, step] = expected[expected.length - 1] as { data: number[] }[];
    expect(w.data.some((v) => v !== 0)).toBe(true);
    expect(b.data).toEqual([0.5 + 1 - 0.5 + 1 - 0.5, -0.25 + 1 - 0.5 + 1 - 0.5, 2 + 1 - 0.5 + 1 - 0.5]);
    expect(step.data).toEqual([4]);
  });

  it("imports the nodes in any file order (forward references)", () => {
    const gd = fromText(text);
    const shuffled = toText({ ...gd, node: [...gd.node].reverse() });
    const imported = tf.importGraphDef(shuffled);
    expectSameGraph(g, imported);
    expect(runSteps(imported, fetches)).toEqual(runSteps(g, fetches));
  });

  it("imports a GraphDef object as well as text, and under a prefix", () => {
    const target = new tf.Graph();
    tf.importGraphDef(g.asGraphDef(), { graph: target, prefix: "a" });
    tf.importGraphDef(text, { graph: target, prefix: "b/" });
    const mul = target.getOperationByName("b/y").inputs.map((t) => t.name);
    expect(mul[0]).toBe("b/mul:0");
    const sess = new tf.Session({ graph: target });
    sess.runSync([target.getOperationByName("a/init"), target.getOperationByName("b/init")]);
    const feeds = { "a/x": tf.ndarray(randomData(6, 9), [2, 3]), "b/x": tf.ndarray(randomData(6, 9), [2, 3]) };
    const [ya, yb] = sess.runSync(["a/y:0", "b/y:0"], feeds);
    expect(Array.from(ya.data)).toEqual(Array.from(yb.data));
    const reference = new tf.Session({ graph: g });
    reference.runSync(g.getOperationByName("init"));
    expect(Array.from(ya.data)).toEqual(Array.from(reference.runSync("y:0", { x: feeds["a/x"] }).data));
  });
});
