/**
 * `foldflow compile --target wasm` and `foldflow export --format wasm` as a subprocess: the
 * written file is a standalone ES module (no imports, the WebAssembly bytes embedded) that,
 * imported here, computes the interpreter's numbers on the unfolded model (1e-4); an unknown
 * target or format is one line listing the valid ones, and nothing is written on failure.
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { expectClose, randomData } from "../helpers/run";
import { expectOneLineError, expectSuccess, leftoverTemporaries, runCli, tempDir } from "./helpers";
import { cnnInput, cnnModel, condModel, tf1Input, tf1Model, trainingModel } from "./models";

const dir = tempDir({ "cnn.pbtxt": cnnModel(), "tf1.pbtxt": tf1Model(), "cond.pbtxt": condModel(), "train.pbtxt": trainingModel() });
const path = (name: string) => join(dir, name);

/** The reference: the interpreter on the model as written (batch norms not folded). */
function interpreter(text: string, outputs: string[], feeds: Record<string, tf.NDArray | boolean>): tf.NDArray[] {
  const sess = new tf.Session({ graph: tf.importGraphDef(text), backend: "interpreter" });
  const values = sess.runSync(outputs, feeds) as tf.NDArray[];
  sess.close();
  return values;
}

interface Result {
  dtype: string;
  shape: number[];
  data: Float32Array;
}

interface WasmModule {
  run(feeds: Record<string, Float32Array | { shape: number[]; data: Float32Array }>): Promise<Record<string, Result>>;
  runSync(feeds: Record<string, Float32Array>): Record<string, Result>;
  inputs: { name: string; dtype: string; shape: number[] }[];
  outputs: { name: string; dtype: string; shape: number[] }[];
}

const load = async (file: string) => (await import(pathToFileURL(file).href)) as WasmModule;

describe("foldflow compile --target wasm", () => {
  it("writes one standalone ES module whose outputs equal the interpreter's (folded CNN, two outputs)", async () => {
    const out = path("out");
    const r = runCli(["compile", path("cnn.pbtxt"), "--outputs", "probs,logits", "--target", "wasm", "-o", out, "--input-shape", "x=2,6,6,2"]);
    expectSuccess(r);
    expect(r.stdout).toMatch(/\[1\/4\] reading .*\n\[2\/4\] folding batch norms\n\[3\/4\] generating WebAssembly\n\[4\/4\] writing\n/);
    expect(r.stdout).toContain(`wrote ${join(out, "cnn.js")}`);
    expect(fs.readdirSync(out)).toEqual(["cnn.js"]);
    const source = fs.readFileSync(join(out, "cnn.js"), "utf8");
    expect(source).not.toMatch(/^\s*import\b/m);
    expect(source).toMatch(/WebAssembly/);

    const mod = await load(join(out, "cnn.js"));
    expect(mod.inputs).toEqual([{ name: "x", dtype: "float32", shape: [2, 6, 6, 2] }]);
    expect(mod.outputs.map((o) => [o.name, o.shape])).toEqual([
      ["probs", [2, 5]],
      ["logits", [2, 5]],
    ]);
    const x = cnnInput(2);
    const [probs, logits] = interpreter(cnnModel(), ["probs", "logits"], { x });
    const got = await mod.run({ x: Float32Array.from(x.data) });
    expect(got.probs.shape).toEqual([2, 5]);
    expectClose(got.probs.data, probs.data, 1e-4, 1e-5);
    expectClose(got.logits.data, logits.data, 1e-4, 1e-5);
    // Another input through the same module, synchronously, and an { shape, data } feed.
    const x2 = tf.ndarray(randomData(2 * 6 * 6 * 2, 7), [2, 6, 6, 2]);
    const [logits2] = interpreter(cnnModel(), ["logits"], { x: x2 });
    expectClose(mod.runSync({ x: Float32Array.from(x2.data) }).logits.data, logits2.data, 1e-4, 1e-5);
    expectClose((await mod.run({ x: { shape: [2, 6, 6, 2], data: Float32Array.from(x.data) } })).logits.data, logits.data, 1e-4, 1e-5);
  });

  it("compiles a TF1 GraphDef (FusedBatchNorm V1 after BiasAdd) and a cond-switched network with --training false", async () => {
    expectSuccess(runCli(["compile", path("tf1.pbtxt"), "--outputs", "logits", "--target", "wasm", "-o", path("tf1"), "-q"]));
    const tf1 = await load(join(path("tf1"), "tf1.js"));
    const [want] = interpreter(tf1Model(), ["logits"], { x: tf1Input() });
    const got = await tf1.run({ x: Float32Array.from(tf1Input().data) });
    expect(got.logits.shape).toEqual(want.shape);
    expectClose(got.logits.data, want.data, 1e-4, 1e-5);

    expectSuccess(runCli(["compile", path("cond.pbtxt"), "--outputs", "logits", "--target", "wasm", "--training", "false", "--input-shape", "x=3,4", "-o", path("cond"), "-q"]));
    const cond = await load(join(path("cond"), "cond.js"));
    expect(cond.inputs.map((i) => i.name)).toEqual(["x"]);
    const x = tf.ndarray(randomData(12, 5), [3, 4]);
    const [logits] = interpreter(condModel(), ["logits"], { x, phase: false });
    expectClose((await cond.run({ x: Float32Array.from(x.data) })).logits.data, logits.data, 1e-4, 1e-5);
  });

  it("an unknown target is one line listing the valid targets, before anything is read or written", () => {
    const line = expectOneLineError(
      runCli(["compile", path("missing.pbtxt"), "--outputs", "probs", "--target", "wsam", "-o", path("none")]),
      /unknown target `wsam` \(expected js, wasm or wgsl, received wsam\)/,
    );
    expect(line).toMatch(/--target wasm/);
    expect(fs.existsSync(path("none"))).toBe(false);
  });

  it("a graph that still reads variables is one line naming the variable; nothing is written", () => {
    expectOneLineError(
      runCli(["compile", path("train.pbtxt"), "--outputs", "logits", "--target", "wasm", "--training", "false", "-o", path("train"), "-q"]),
      /layer1\/kernel.*variable `layer1\/kernel`.*Fix: .*convertVariablesToConstants/,
    );
    expect(fs.existsSync(path("train"))).toBe(false);
    expect(leftoverTemporaries(dir)).toEqual([]);
  });
});

describe("foldflow export --format wasm", () => {
  it("writes the module as one file, which runs and equals the interpreter; an existing file is replaced whole", async () => {
    fs.writeFileSync(path("cnn.mjs"), "old");
    const r = runCli(["export", path("cnn.pbtxt"), "--format", "wasm", "--outputs", "logits", "--input-shape", "x=3,6,6,2", "-o", path("cnn.mjs"), "-q"]);
    expectSuccess(r);
    expect(r.stdout).toBe(`wrote ${path("cnn.mjs")}\n`);
    const mod = await load(path("cnn.mjs"));
    const x = cnnInput(3);
    const [logits] = interpreter(cnnModel(), ["logits"], { x });
    expectClose((await mod.run({ x: Float32Array.from(x.data) })).logits.data, logits.data, 1e-4, 1e-5);
    expect(leftoverTemporaries(dir)).toEqual([]);
  });

  it("an unknown format is one line listing wasm among the formats; the existing file stays", () => {
    fs.writeFileSync(path("keep.mjs"), "old");
    expectOneLineError(runCli(["export", path("cnn.pbtxt"), "--format", "wasm32", "-o", path("keep.mjs")]), /unknown export format `wasm32` \(expected onnx, js, wasm, wgsl/);
    expect(fs.readFileSync(path("keep.mjs"), "utf8")).toBe("old");
  });
});
