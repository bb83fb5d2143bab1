/**
 * `tf.compile(..., { target: "wasm" })`: the standalone ES module (imported from a temporary .mjs
 * file) and `program.run` give the interpreter's numbers, for inference and training graphs
 * (a phase cond included); ops without a wasm kernel are one-op JS programs in the module.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { buildModel } from "../../examples/mnist-batchnorm";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { expectClose, randomData } from "../helpers/run";

type ModuleResult = Record<string, { data: Float32Array; shape: number[] }>;
interface ImportedModule {
  run(feeds: Record<string, unknown>): Promise<ModuleResult>;
  readVariables(): ModuleResult;
}

/** Writes `source` to a temporary .mjs file and imports it. */
async function importSource(source: string, name: string): Promise<ImportedModule> {
  const { mkdtempSync, writeFileSync } = await import("node:fs");
  const { join } = await import("node:path");
  const { tmpdir } = await import("node:os");
  const { pathToFileURL } = await import("node:url");
  const file = join(mkdtempSync(join(tmpdir(), "foldflow-wasm-")), name);
  writeFileSync(file, source);
  return (await import(/* @vite-ignore */ pathToFileURL(file).href)) as ImportedModule;
}

describe('tf.compile(..., { target: "wasm" })', () => {
  beforeAll(() => wasmReady());

  it("the standalone module runs when imported from a .mjs file and gives program.run's and the interpreter's numbers", async () => {
    const graph = new tf.Graph();
    const logits = graph.asDefault(() => {
      const x = tf.placeholder("float32", [null, 10], "x");
      const h = tf.nn.relu(tf.nn.biasAdd(tf.matmul(x, tf.constant(randomData(80, 30), [10, 8])), tf.constant(randomData(8, 31))));
      return tf.identity(tf.nn.softmax(tf.add(tf.matmul(h, tf.constant(randomData(24, 32), [8, 3])), tf.constant(randomData(3, 33)))), "probs");
    });
    const x = tf.ndarray(randomData(40, 34), [4, 10]);
    const expected = new tf.Session({ graph, backend: "interpreter" }).runSync(logits, { x });
    const program = tf.compile(graph, { outputs: "probs", target: "wasm", inputs: { x: [4, 10] } });
    expectClose((await program.run({ x })).probs.data, expected.data);
    expect(program.source).not.toMatch(/^import /m);
    const mod = await importSource(program.source, "model.mjs");
    const out = await mod.run({ x: x.data });
    expect(out.probs.shape).toEqual([4, 3]);
    expectClose(out.probs.data, expected.data);
  });

  it("a training graph compiles: the module updates its variables in place, as the session does", async () => {
    const graph = new tf.Graph();
    const r = graph.asDefault(() => {
      const x = tf.placeholder("float32", [8, 5], "x");
      const y = tf.placeholder("float32", [8, 2], "y");
      const logits = tf.layers.dense(x, 2, { kernelInitializer: tf.initializers.glorotUniform({ seed: 40 }) });
      const loss = tf.reduceMean(tf.square(tf.sub(logits, y)), undefined, false, "loss");
      return { loss, train: new tf.train.GradientDescentOptimizer(0.1).minimize(loss, { name: "train" }), init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph, backend: "interpreter" });
    sess.runSync(r.init);
    const feeds = { x: tf.ndarray(randomData(40, 41), [8, 5]), y: tf.ndarray(randomData(16, 42), [8, 2]) };
    const program = tf.compile(graph, { outputs: ["loss", "train"], target: "wasm", variables: sess });
    const mod = await importSource(program.source, "train.mjs");
    for (let i = 0; i < 3; i++) {
      const [expected] = sess.runSync([r.loss, r.train], feeds);
      expectClose((await program.run(feeds)).loss.data, expected.data);
      expectClose((await mod.run({ x: feeds.x.data, y: feeds.y.data })).loss.data, expected.data);
    }
    const inModule = mod.readVariables();
    const inProgram = program.readVariables();
    for (const [name, value] of sess.variableValues) {
      expectClose(inModule[name].data, value.data);
      expectClose(inProgram[name].data, value.data);
    }
  });

  it("the MNIST seed model's train op compiles with its phase cond; two steps of the module equal the session's", async () => {
    const model = buildModel({ hidden: 12, seed: 5 });
    const n = 10;
    const feeds = { x: tf.ndarray(randomData(n * 784, 8, 0, 1), [n, 784]), y: tf.ndarray(Float32Array.from({ length: n * 10 }, (_, i) => (i % 10 === (Math.floor(i / 10) * 7) % 10 ? 1 : 0)), [n, 10]) };
    const sess = new tf.Session({ graph: model.graph, backend: "interpreter" });
    sess.runSync(model.init);
    const program = tf.compile(model.graph, {
      outputs: [model.loss.name, model.trainOp.name],
      target: "wasm",
      inputs: { x: [n, 784], y: [n, 10], phase: [] },
      variables: sess,
    });
    const mod = await importSource(program.source, "mnist.mjs");
    for (let i = 0; i < 2; i++) {
      const [expected] = sess.runSync([model.loss, model.trainOp], { ...feeds, phase: true });
      const out = await mod.run({ x: feeds.x.data, y: feeds.y.data, phase: [true] });
      expectClose(out[model.loss.name].data, expected.data);
    }
    const after = mod.readVariables();
    for (const [name, value] of sess.variableValues) expectClose(after[name].data, value.data, 1e-5, 1e-6);
  });

  it("an op without a wasm kernel is a one-op JS program in the module; one with neither is a named error", async () => {
    const graph = new tf.Graph();
    graph.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      tf.transpose(tf.nn.relu(x), [1, 0], "best");
      tf.stridedSlice(x, [0, 1], [2, 3], [1, 1], { name: "sliced" });
    });
    const x = [[1, 3, 2], [5, -4, 0]];
    const best = tf.compile(graph, { outputs: "best", target: "wasm" });
    const mod = await importSource(best.source, "best.mjs");
    const out = await mod.run({ x });
    expect(Array.from(out.best.data)).toEqual([1, 5, 3, 0, 2, 0]);
    expect(Array.from((await best.run({ x })).best.data)).toEqual([1, 5, 3, 0, 2, 0]);
    const sliced = tf.compile(graph, { outputs: "sliced", target: "wasm" });
    let error: unknown;
    try {
      void sliced.source;
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(tf.errors.UnimplementedError);
    expect((error as tf.errors.UnimplementedError).message).toMatch(/StridedSlice/);
    expect(Array.from((await sliced.run({ x })).sliced.data)).toEqual([3, 2, -4, 0]);
  });
});
