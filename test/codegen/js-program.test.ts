/**
 * The compiled program as a whole: no allocation once set up, buffers shared by the memory
 * planner, one program per fed-shape signature, untaken branches skipped, errors as tf.errors
 * naming the node, variables never aliased with arrays the caller holds, fallbacks.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { SETUP_MARK, STEPS_MARK } from "../../codegen/js/program";
import { randomData } from "../helpers/run";
import { compare } from "./js-helpers";

function mlp(batch: number | null = null) {
  const g = new tf.Graph();
  const r = g.asDefault(() => {
    const x = tf.placeholder("float32", [batch, 20], "x");
    const y = tf.placeholder("int32", [batch], "y");
    const h = tf.layers.dense(x, 16, { activation: tf.nn.relu, kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) });
    const logits = tf.layers.dense(h, 4, { kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) });
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
    const train = new tf.train.MomentumOptimizer(0.1, 0.9).minimize(loss);
    return { x, y, logits, loss, train, init: tf.globalVariablesInitializer() };
  });
  return { g, ...r };
}

const feedsFor = (n: number) => ({ x: tf.ndarray(randomData(n * 20, n), [n, 20]), y: tf.ndarray(Int32Array.from({ length: n }, (_, i) => i % 4), [n], "int32") });

const TYPED = ["Float32Array", "Float64Array", "Int32Array", "Uint8Array", "Array"] as const;

describe("steady state", () => {
  it("allocates nothing after setup: no constructor calls in the step code", () => {
    const m = mlp();
    const sess = new tf.Session({ graph: m.g, backend: "js" });
    sess.runSync(m.init);
    sess.runSync([m.loss, m.train], feedsFor(8));
    const body = sess.js!.last!.program.body;
    expect(body.indexOf(SETUP_MARK)).toBeLessThan(body.indexOf(STEPS_MARK));
    const setup = body.slice(0, body.indexOf(STEPS_MARK));
    const steps = body.slice(body.indexOf(STEPS_MARK));
    expect(setup).toMatch(/new Float32Array/);
    expect(steps).not.toMatch(/\bnew\b/);
    expect(steps).not.toMatch(/\.(slice|map|concat|filter)\(/);
  });

  it("allocates no typed array or Array while running (instrumented constructors)", () => {
    const m = mlp();
    const sess = new tf.Session({ graph: m.g, backend: "js" });
    sess.runSync(m.init);
    const feeds = feedsFor(8);
    sess.runSync(m.train, feeds);
    const loaded = sess.js!.last!;
    const arrays = loaded.program.analysis.feeds.map((name) => (name === "x:0" ? feeds.x.data : feeds.y.data));
    const saved = TYPED.map((name) => globalThis[name]);
    let count = 0;
    TYPED.forEach((name, i) => {
      (globalThis as Record<string, unknown>)[name] = new Proxy(saved[i] as object, {
        construct(target, args, newTarget) {
          count++;
          return Reflect.construct(target as new (...a: unknown[]) => object, args, newTarget);
        },
        apply(target, self, args) {
          count++;
          return Reflect.apply(target as (...a: unknown[]) => unknown, self, args);
        },
      });
    });
    try {
      for (let i = 0; i < 5; i++) loaded.run(arrays);
    } finally {
      TYPED.forEach((name, i) => ((globalThis as Record<string, unknown>)[name] = saved[i]));
    }
    expect(count).toBe(0);
  });

  it("shares buffers between tensors whose lifetimes do not overlap", () => {
    const m = mlp();
    const sess = new tf.Session({ graph: m.g, backend: "js" });
    sess.runSync(m.init);
    sess.runSync([m.loss, m.train], feedsFor(32));
    const { memory, analysis } = sess.js!.last!.program;
    const planned = [...analysis.storage.values()].filter((s) => s.kind === "buffer").length;
    expect(memory.buffers.length).toBeLessThan(planned);
    expect(memory.plannedBytes).toBeLessThan(memory.naiveBytes);
  });
});

describe("specialization", () => {
  it("compiles once per fed-shape signature and reuses the program", () => {
    const m = mlp();
    const sess = new tf.Session({ graph: m.g, backend: "js" });
    const ref = new tf.Session({ graph: m.g, backend: "interpreter" });
    sess.runSync(m.init);
    for (const [k, v] of sess.variableValues) ref.setVariableValue(k, v);
    sess.runSync(m.logits, feedsFor(8));
    const first = sess.js!.last;
    sess.runSync(m.logits, feedsFor(8));
    expect(sess.js!.last).toBe(first);
    const other = sess.runSync(m.logits, feedsFor(3));
    expect(sess.js!.last).not.toBe(first);
    expect(other.shape).toEqual([3, 4]);
    expect(Array.from(other.data)).toEqual(Array.from(ref.runSync(m.logits, feedsFor(3)).data));
    sess.runSync(m.logits, feedsFor(8));
    expect(sess.js!.last).toBe(first);
  });

  it("runs plans whose shapes depend on fed values on the interpreter", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => tf.reshape(tf.placeholder("float32", [6], "x"), tf.placeholder("int32", [2], "s")));
    const sess = new tf.Session({ graph: g, backend: "js" });
    const out = sess.runSync(y, { x: [1, 2, 3, 4, 5, 6], s: Int32Array.from([3, 2]) });
    expect(out.shape).toEqual([3, 2]);
    expect(sess.js!.lastFallback).toMatch(/shape/);
  });

  it("runs ops without an emitter with their reference kernel (dropout's RandomUniform)", () => {
    const { program } = compare(
      () => tf.nn.dropout(tf.placeholder("float32", [4, 5], "x"), { rate: 0.5, seed: 3 }),
      { feeds: { x: tf.ndarray(randomData(20, 1), [4, 5]) }, allowFallback: ["RandomUniform"] },
    );
    expect(program.fallbacks.map((o) => o.type)).toEqual(["RandomUniform"]);
  });
});

describe("conditionals", () => {
  function condGraph() {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const p = tf.placeholder("bool", [], "p");
      const x = tf.placeholder("float32", [3], "x");
      const counter = tf.getVariable("counter", [], { initializer: tf.initializers.zeros() });
      const out = tf.cond(
        p,
        () => tf.controlDependencies([tf.assignAdd(counter, 1).op], () => tf.mul(x, 2)),
        () => tf.sub(x, 1),
      );
      return { p, x, counter, out, init: tf.globalVariablesInitializer() };
    });
    return { g, ...r };
  }

  it("skips the untaken branch, side effects included, and agrees with the interpreter", () => {
    const c = condGraph();
    const sessions = (["interpreter", "js"] as const).map((backend) => new tf.Session({ graph: c.g, backend }));
    const seen = sessions.map((sess) => {
      sess.runSync(c.init);
      const runs = [true, false, true, false].map((p) => {
        const metadata = { executedOps: [] as string[] };
        const v = sess.runSync(c.out, { p, x: [1, 2, 3] }, { runMetadata: metadata });
        return { values: v.values(), ops: metadata.executedOps };
      });
      return { runs, counter: sess.runSync(c.counter).scalar() };
    });
    expect(seen[1]).toEqual(seen[0]);
    expect(seen[1].counter).toBe(2);
    expect(seen[1].runs[1].values).toEqual([0, 1, 2]);
    expect(sessions[1].js!.lastFallback).toBeNull();
  });

  it("fetching a tensor of the untaken branch is an InvalidArgumentError", () => {
    const c = condGraph();
    const inside = c.g.getOperationByName("cond/mul").outputs[0];
    const sess = new tf.Session({ graph: c.g, backend: "js" });
    sess.runSync(c.init);
    expect(() => sess.runSync(inside, { p: false, x: [1, 2, 3] })).toThrow(tf.errors.InvalidArgumentError);
    expect(sess.runSync(inside, { p: true, x: [1, 2, 3] }).values()).toEqual([2, 4, 6]);
  });
});

describe("errors and state", () => {
  it("an uninitialized variable is a FailedPreconditionError naming the reader and every missing variable", () => {
    const m = mlp();
    const sess = new tf.Session({ graph: m.g, backend: "js" });
    const run = () => sess.runSync(m.logits, feedsFor(2));
    expect(run).toThrow(tf.errors.FailedPreconditionError);
    expect(run).toThrow(/attempting to use 4 uninitialized variables/);
    const ref = new tf.Session({ graph: m.g, backend: "interpreter" });
    const message = (f: () => unknown) => {
      try {
        f();
      } catch (e) {
        return (e as Error).message;
      }
      return "";
    };
    expect(message(run)).toBe(message(() => ref.runSync(m.logits, feedsFor(2))));
  });

  it("bad feeds are InvalidArgumentErrors naming the tensor", () => {
    const m = mlp();
    const sess = new tf.Session({ graph: m.g, backend: "js" });
    sess.runSync(m.init);
    expect(() => sess.runSync(m.logits, { x: tf.ndarray(randomData(9, 1), [3, 3]) })).toThrow(/x:0: cannot feed this value/);
    expect(() => sess.runSync(m.logits, {})).toThrow(/you must feed a value for placeholder `x`/);
  });

  it("never writes arrays the caller holds: fetched values, restored values, snapshots", () => {
    const m = mlp();
    const sess = new tf.Session({ graph: m.g, backend: "js" });
    sess.runSync(m.init);
    const name = [...sess.variableValues.keys()][0];
    const restored = tf.ndarray(new Float32Array(sess.variableValues.get(name)!.size).fill(0.5), [...sess.variableValues.get(name)!.shape]);
    sess.setVariableValue(name, restored);
    const snapshot = sess.variableValues.get(name)!;
    const fetched = sess.runSync(m.g.getOperationByName(name).outputs[0]);
    sess.runSync(m.train, feedsFor(4));
    expect(Array.from(restored.data).every((v) => v === 0.5)).toBe(true);
    expect(Array.from(snapshot.data).every((v) => v === 0.5)).toBe(true);
    expect(Array.from(fetched.data).every((v) => v === 0.5)).toBe(true);
    expect(Array.from(sess.variableValues.get(name)!.data).some((v) => v !== 0.5)).toBe(true);
  });
});

describe("the default backend", () => {
  it("is wasm, except for float64 (highPrecision) sessions, which the interpreter alone runs", () => {
    const g = new tf.Graph();
    expect(new tf.Session({ graph: g }).backend).toBe("wasm");
    expect(new tf.Session({ graph: g, highPrecision: true }).backend).toBe("interpreter");
    expect(() => new tf.Session({ graph: g, backend: "js", highPrecision: true })).toThrow(tf.errors.InvalidArgumentError);
  });
});
