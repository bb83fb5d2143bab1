/**
 * `tf.compile(..., { target: "js" })`: a frozen (and folded) graph to a standalone ES module
 * that imports nothing, gives the session's numbers in-process and once written to a .mjs file
 * and imported; unfrozen graphs are refused naming the variable and the fix.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { compile } from "../../src/compile";
import { foldBatchNorms } from "../../src/tools";
import { expectClose, randomData } from "../helpers/run";

const dir = mkdtempSync(join(tmpdir(), "foldflow-js-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let written = 0;

/** Writes `source` to a fresh .mjs file and imports it. */
async function importModule(source: string): Promise<{ run(feeds: Record<string, unknown>): Promise<Record<string, { dtype: string; shape: number[]; data: ArrayLike<number> }>>; inputs: unknown[] }> {
  const file = join(dir, `model-${written++}.mjs`);
  writeFileSync(file, source);
  return import(pathToFileURL(file).href);
}

/** A trained-looking conv → batch norm → relu → pool → dense net, frozen. */
function frozenNet() {
  const g = new tf.Graph();
  const r = g.asDefault(() => {
    const x = tf.placeholder("float32", [null, 8, 8, 2], "x");
    const phase = tf.placeholderWithDefault(false, [], "phase");
    const conv = tf.layers.conv2d(x, 4, 3, { padding: "same", name: "conv", kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }) });
    const bn = tf.layers.batchNormalization(conv, { training: phase, name: "bn", fused: true });
    const pooled = tf.layers.maxPooling2d(tf.nn.relu(bn), 2, 2);
    const logits = tf.layers.dense(tf.layers.flatten(pooled), 5, { name: "logits", kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) });
    const probabilities = tf.nn.softmax(logits, -1, "probabilities");
    return { x, phase, logits, probabilities, init: tf.globalVariablesInitializer() };
  });
  const sess = new tf.Session({ graph: g, backend: "interpreter" });
  sess.runSync(r.init);
  // Move the moving statistics away from their initial values.
  const updates = g.getCollection<tf.Operation | tf.Tensor>(tf.GraphKeys.UPDATE_OPS);
  for (let i = 0; i < 3; i++) sess.runSync([r.logits, ...updates], { x: tf.ndarray(randomData(4 * 128, 10 + i), [4, 8, 8, 2]), phase: true });
  const frozen = tf.graphUtil.convertVariablesToConstants(sess, g.asGraphDef(), ["probabilities"]);
  return { g, sess, r, frozen };
}

describe("tf.compile to a standalone JS module", () => {
  const net = frozenNet();
  const xs = tf.ndarray(randomData(3 * 128, 99), [3, 8, 8, 2]);
  const expected = net.sess.runSync(net.r.probabilities, { x: xs });

  it("program.run gives the session's numbers, for any batch size", async () => {
    const program = compile(net.frozen, { outputs: ["probabilities"], target: "js" });
    const result = await program.run({ x: xs });
    expect(result.probabilities.shape).toEqual([3, 5]);
    expectClose(result.probabilities.data, expected.data);
    const one = await program.run({ x: tf.ndarray(xs.data.slice(0, 128), [1, 8, 8, 2]) });
    expectClose(one.probabilities.data, expected.data.slice(0, 5));
  });

  it("the source imports nothing and runs when written to a .mjs file and imported", async () => {
    const program = compile(net.frozen, { outputs: ["probabilities"], target: "js", inputs: { x: [3, 8, 8, 2] } });
    expect(program.source).not.toMatch(/^\s*import\b|\brequire\(/m);
    expect(program.source).toMatch(/export (async )?function run\(/);
    const mod = await importModule(program.source);
    const out = await mod.run({ x: xs });
    expect(out.probabilities.shape).toEqual([3, 5]);
    expectClose(out.probabilities.data, expected.data);
    // Typed arrays and nested arrays are accepted as feeds too.
    expectClose((await mod.run({ x: xs.data })).probabilities.data, expected.data);
  });

  it("compiles folded GraphDef text, with several outputs", async () => {
    const { graphDef: folded, report } = foldBatchNorms(net.frozen, { outputs: ["probabilities"], training: false });
    expect(report.some((row) => row.folded)).toBe(true);
    const text = tf.importGraphDef(folded).asGraphDef().toText();
    const program = compile(text, { outputs: ["probabilities", "logits/BiasAdd:0"], target: "js", inputs: { x: [3, 8, 8, 2] } });
    const mod = await importModule(program.source);
    const out = await mod.run({ x: xs });
    expectClose(out.probabilities.data, expected.data, 1e-5, 1e-6);
    const logits = net.sess.runSync(net.r.logits, { x: xs });
    expectClose(out["logits/BiasAdd:0"].data, logits.data, 1e-4, 1e-5);
  });

  it("specializes the module on the given (or declared, unknown dims as 1) input shapes and says so", async () => {
    const program = compile(net.frozen, { outputs: ["probabilities"], target: "js" });
    expect(program.inputs).toEqual([{ name: "x", dtype: "float32", shape: [1, 8, 8, 2] }]);
    const mod = await importModule(program.source);
    await expect(mod.run({ x: xs })).rejects.toThrow(/expected shape \[1,8,8,2\].*compile with inputs/);
  });

  it("refuses a graph with variables, naming the variable and the fix", () => {
    const run = () => compile(net.g, { outputs: ["probabilities"], target: "js" });
    expect(run).toThrow(tf.errors.FailedPreconditionError);
    expect(run).toThrow(/variable `(conv|bn|logits)\/[a-z_]+`.*tf\.graphUtil\.convertVariablesToConstants/);
  });

  it("refuses unknown targets and outputs", () => {
    expect(() => compile(net.frozen, { outputs: ["probabilities"], target: "onnx" as "js" })).toThrow(tf.errors.InvalidArgumentError);
    expect(() => compile(net.frozen, { outputs: ["probabilitys"], target: "js" })).toThrow(/did you mean `probabilities`/);
  });
});
