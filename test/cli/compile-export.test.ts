/**
 * `foldflow compile` and `foldflow export`: the generated JS module runs and matches the
 * session; the ONNX file runs in onnxruntime-node and matches the session (1e-4); nothing is
 * written on failure. (The WGSL target: compile-wgsl.test.ts.)
 */
import * as fs from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { expectClose } from "../helpers/run";
import { expectOneLineError, expectSuccess, leftoverTemporaries, runCli, tempDir } from "./helpers";
import { cnnInput, cnnModel, tf1Input, tf1Model } from "./models";

const dir = tempDir({ "cnn.pbtxt": cnnModel(), "tf1.pbtxt": tf1Model() });
const path = (name: string) => join(dir, name);

function session(text: string, outputs: string[], x: tf.NDArray): tf.NDArray[] {
  return new tf.Session({ graph: tf.importGraphDef(text) }).runSync(outputs, { x }) as tf.NDArray[];
}

interface GeneratedModule {
  run(feeds: Record<string, Float32Array>): Promise<Record<string, { shape: number[]; data: Float32Array }>>;
  inputs: { name: string; shape: number[] }[];
}

describe("foldflow compile", () => {
  it("writes the JS module into the output directory, with progress lines when not on a terminal", async () => {
    const r = runCli(["compile", path("cnn.pbtxt"), "--outputs", "probs,logits", "--target", "js", "-o", path("out"), "--input-shape", "x=2,6,6,2"]);
    expectSuccess(r);
    expect(r.stdout).toMatch(/\[1\/4\] reading .*\n\[2\/4\] folding batch norms\n\[3\/4\] generating JavaScript\n\[4\/4\] writing/);
    expect(r.stdout).toContain(`wrote ${join(path("out"), "cnn.js")}`);
    expect(fs.readdirSync(path("out"))).toEqual(["cnn.js"]);
    const mod = (await import(pathToFileURL(join(path("out"), "cnn.js")).href)) as GeneratedModule;
    expect(mod.inputs).toEqual([expect.objectContaining({ name: "x", shape: [2, 6, 6, 2] })]);
    const x = cnnInput(2);
    const got = await mod.run({ x: x.data as Float32Array });
    const [probs, logits] = session(cnnModel(), ["probs", "logits"], x);
    expect(got.probs.shape).toEqual([2, 5]);
    expectClose(got.probs.data, probs.data, 1e-4, 1e-5);
    expectClose(got.logits.data, logits.data, 1e-4, 1e-5);
  });

  it("needs --outputs; refuses an unknown target, creating no directory; accepts wgsl", () => {
    expectOneLineError(runCli(["compile", path("cnn.pbtxt"), "-o", path("none")]), /required option '--outputs <names>'/);
    expectOneLineError(runCli(["compile", path("cnn.pbtxt"), "--outputs", "probs", "--target", "cuda", "-o", path("none")]), /unknown target `cuda`/);
    expect(fs.existsSync(path("none"))).toBe(false);
    expectSuccess(runCli(["compile", path("cnn.pbtxt"), "--outputs", "probs", "--target", "wgsl", "-o", path("wgsl"), "--quiet"]));
    expect(fs.readdirSync(path("wgsl")).some((f) => f.endsWith(".wgsl"))).toBe(true);
  });

  it("names the unknown output with a suggestion, and writes nothing", () => {
    expectOneLineError(runCli(["compile", path("cnn.pbtxt"), "--outputs", "logit", "-o", path("bad"), "-q"]), /did you mean `logits`/);
    expect(fs.existsSync(path("bad"))).toBe(false);
    expect(leftoverTemporaries(dir)).toEqual([]);
  });
});

describe("foldflow export", () => {
  async function onnxRun(file: string, x: tf.NDArray, outputs: string[]): Promise<ort.Tensor[]> {
    const s = await ort.InferenceSession.create(fs.readFileSync(file));
    const r = await s.run({ x: new ort.Tensor("float32", Float32Array.from(x.data), x.shape) });
    return outputs.map((o) => r[o]);
  }

  it("--format onnx: the model runs in onnxruntime and matches the session (folded CNN)", async () => {
    const r = runCli(["export", path("cnn.pbtxt"), "--format", "onnx", "-o", path("cnn.onnx"), "--outputs", "probs,logits"]);
    expectSuccess(r);
    expect(r.stdout).toMatch(/wrote .*cnn\.onnx \(\d+ ONNX nodes; inputs: x; outputs: probs, logits\)/);
    const x = cnnInput(3);
    const [probs, logits] = await onnxRun(path("cnn.onnx"), x, ["probs", "logits"]);
    const want = session(cnnModel(), ["probs", "logits"], x);
    expect([...probs.dims]).toEqual([3, 5]);
    expectClose(probs.data as Float32Array, want[0].data, 1e-4, 1e-5);
    expectClose(logits.data as Float32Array, want[1].data, 1e-4, 1e-5);
  });

  it("--format onnx exports the graph's sinks by default (TF1 model)", async () => {
    expectSuccess(runCli(["export", path("tf1.pbtxt"), "-o", path("tf1.onnx")]));
    const [logits] = await onnxRun(path("tf1.onnx"), tf1Input(), ["logits"]);
    expectClose(logits.data as Float32Array, session(tf1Model(), ["logits"], tf1Input())[0].data, 1e-4, 1e-5);
  });

  it("--format js writes the module as one file", () => {
    expectSuccess(runCli(["export", path("cnn.pbtxt"), "--format", "js", "-o", path("cnn.mjs"), "--outputs", "probs", "-q"]));
    expect(fs.readFileSync(path("cnn.mjs"), "utf8")).toMatch(/export async function run\(feeds\)/);
  });

  it("an op without an ONNX mapping or an unknown format is one line, and the existing file stays", () => {
    const text = cnnModel().replace(/op: "Softmax"/, 'op: "LogSoftmax"');
    fs.writeFileSync(path("log.pbtxt"), text);
    fs.writeFileSync(path("keep.onnx"), "old");
    // LogSoftmax is mapped: this one exports; Unpack is not.
    expectSuccess(runCli(["export", path("log.pbtxt"), "-o", path("log.onnx")]));
    fs.writeFileSync(path("unpack.pbtxt"), unpackModel());
    expectOneLineError(runCli(["export", path("unpack.pbtxt"), "-o", path("keep.onnx")]), /cannot export `parts` \(Unpack\) to ONNX: ONNX export has no mapping for op type `Unpack`/);
    expectOneLineError(runCli(["export", path("cnn.pbtxt"), "--format", "tflite", "-o", path("keep.onnx")]), /unknown export format `tflite`/);
    expect(fs.readFileSync(path("keep.onnx"), "utf8")).toBe("old");
    expect(leftoverTemporaries(dir)).toEqual([]);
  });
});

function unpackModel(): string {
  const g = new tf.Graph();
  g.asDefault(() => {
    const x = tf.placeholder("float32", [2, 3], "x");
    const [a, b] = tf.unstack(x, { num: 2 }, "parts");
    tf.add(a, b, "sum");
  });
  return g.asGraphDef().toText();
}
