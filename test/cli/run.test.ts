/** `foldflow run`: feeds from .npy, .json and literals; outputs printed, as JSON, or written as .npy. */
import * as fs from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { readNpy, writeNpy } from "../../cli/npy";
import { expectClose, randomData } from "../helpers/run";
import { expectOneLineError, expectSuccess, runCli, tempDir } from "./helpers";
import { cnnInput, cnnModel, condModel } from "./models";

const x = cnnInput(2);
const dir = tempDir({ "cnn.pbtxt": cnnModel(), "cond.pbtxt": condModel(), "x.npy": writeNpy(x) });
const path = (name: string) => join(dir, name);

/** The oracle: `foldflow run` runs on the interpreter unless told otherwise. */
function session(text: string, outputs: string[], feeds: Record<string, tf.FeedValue>): tf.NDArray[] {
  return new tf.Session({ graph: tf.importGraphDef(text), backend: "interpreter" }).runSync(outputs, feeds) as tf.NDArray[];
}

type Printed = Record<string, { dtype: string; shape: number[]; data: tf.NestedArray }>;

describe("foldflow run", () => {
  it("feeds a .npy file and prints each output's dtype, shape and values", () => {
    const r = runCli(["run", path("cnn.pbtxt"), "--feed", `x=${path("x.npy")}`, "--outputs", "probs", "--outputs", "logits"]);
    expectSuccess(r);
    const lines = r.stdout.trimEnd().split("\n");
    expect(lines[0]).toBe("probs: float32 [2,5]");
    expect(lines[2]).toBe("logits: float32 [2,5]");
    const [probs, logits] = session(cnnModel(), ["probs", "logits"], { x });
    expectClose((JSON.parse(lines[1]) as number[][]).flat(), probs.data, 1e-6, 1e-7);
    expectClose((JSON.parse(lines[3]) as number[][]).flat(), logits.data, 1e-6, 1e-7);
  });

  it("feeds JSON files and literals, prints JSON, and writes a .npy output", () => {
    const xs = tf.ndarray(randomData(12, 5), [3, 4]);
    fs.writeFileSync(path("x.json"), JSON.stringify(xs.toArray()));
    fs.writeFileSync(path("x-object.json"), JSON.stringify({ dtype: "float32", shape: [3, 4], data: xs.values() }));
    const want = session(condModel(), ["logits"], { x: xs, phase: true })[0];
    for (const feed of [path("x.json"), path("x-object.json")]) {
      const r = runCli(["run", path("cond.pbtxt"), "--feed", `x=${feed}`, "--feed", "phase=true", "--outputs", "logits", "--json", "-o", path("logits.npy")]);
      expectSuccess(r);
      const printed = JSON.parse(r.stdout) as Printed;
      expect(printed.logits.shape).toEqual([3, 2]);
      expectClose((printed.logits.data as number[][]).flat(), want.data, 1e-6, 1e-7);
      const written = readNpy(fs.readFileSync(path("logits.npy")));
      expect(written.shape).toEqual([3, 2]);
      expectClose(written.data, want.data, 0, 0);
    }
    // phase defaults to false: the moving statistics, another result.
    const inference = session(condModel(), ["logits"], { x: xs })[0];
    const r = runCli(["run", path("cond.pbtxt"), "--feed", `x=${path("x.json")}`, "--json"]);
    expectSuccess(r);
    expectClose(((JSON.parse(r.stdout) as Printed).logits.data as number[][]).flat(), inference.data, 1e-6, 1e-7);
  });

  it("--backend js and --backend wasm give the interpreter's numbers; another backend is one line", () => {
    const [probs] = session(cnnModel(), ["probs"], { x });
    for (const backend of ["js", "wasm"]) {
      const r = runCli(["run", path("cnn.pbtxt"), "--feed", `x=${path("x.npy")}`, "--outputs", "probs", "--backend", backend, "--json"]);
      expectSuccess(r);
      expectClose(((JSON.parse(r.stdout) as Printed).probs.data as number[][]).flat(), probs.data, 1e-5, 1e-7);
    }
    expectOneLineError(runCli(["run", path("cnn.pbtxt"), "--feed", `x=${path("x.npy")}`, "--backend", "gpu"]), /unknown backend `gpu`.*--backend wasm/);
  });

  it("bad feeds and unknown outputs are one line", () => {
    expectOneLineError(runCli(["run", path("cnn.pbtxt"), "--feed", `x=${path("x.npy")}`, "--outputs", "prob"]), /output `prob` is not in the graph.*did you mean `probs`/);
    expectOneLineError(runCli(["run", path("cnn.pbtxt"), "--feed", `x=${path("missing.npy")}`]), /cannot read `.*missing\.npy`: no such file/);
    fs.writeFileSync(path("short.npy"), writeNpy(x).subarray(0, 100));
    expectOneLineError(runCli(["run", path("cnn.pbtxt"), "--feed", `x=${path("short.npy")}`]), /short\.npy: the \.npy file is truncated/);
    expectOneLineError(runCli(["run", path("cnn.pbtxt"), "--feed", "x"]), /--feed `x` is not name=value/);
    expectOneLineError(runCli(["run", path("cnn.pbtxt"), "--feed", "x=[[1,2"]), /--feed x: not valid JSON/);
    expectOneLineError(runCli(["run", path("cnn.pbtxt"), "--feed", "x=[1,2,3]"]), /^foldflow: x(:0)?: cannot feed this value/);
    expectOneLineError(runCli(["run", path("cnn.pbtxt")]), /x/);
  });
});
