/** `foldflow fold`: writes the folded GraphDef, prints the report; the outputs do not change. */
import * as fs from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { expectClose, randomData } from "../helpers/run";
import { expectOneLineError, expectSuccess, leftoverTemporaries, runCli, tempDir } from "./helpers";
import { cnnInput, cnnModel, condModel, tf1Input, tf1Model, trainingModel } from "./models";

const dir = tempDir({ "cnn.pbtxt": cnnModel(), "tf1.pbtxt": tf1Model(), "cond.pbtxt": condModel(), "train.pbtxt": trainingModel() });
const path = (name: string) => join(dir, name);

function run(text: string, outputs: string[], feeds: Record<string, tf.FeedValue>): tf.NDArray[] {
  return new tf.Session({ graph: tf.importGraphDef(text) }).runSync(outputs, feeds) as tf.NDArray[];
}

const types = (text: string) => tf.importGraphDef(text).operations.map((op) => op.type);

describe("foldflow fold", () => {
  it("folds both batch norms of the CNN; the folded file computes the same outputs", () => {
    const r = runCli(["fold", path("cnn.pbtxt"), "-o", path("cnn-folded.pbtxt")]);
    expectSuccess(r);
    expect(r.stdout).toMatch(/bn1\s+FusedBatchNormV3\s+conv1\/Conv2D\s+folded/);
    expect(r.stdout).toMatch(/bn2\s+FusedBatchNormV3\s+dw\/depthwise\s+folded/);
    expect(r.stdout).toMatch(/2 of 2 batch norm\(s\) folded; wrote .*cnn-folded\.pbtxt/);
    const folded = fs.readFileSync(path("cnn-folded.pbtxt"), "utf8");
    expect(types(folded)).not.toContain("FusedBatchNormV3");
    const x = cnnInput(3);
    const [before] = run(cnnModel(), ["probs"], { x });
    const [after] = run(folded, ["probs"], { x });
    expectClose(after.data, before.data, 1e-5, 1e-6);
  });

  it("folds a TF1 FusedBatchNorm after Conv2D + BiasAdd", () => {
    expectSuccess(runCli(["fold", path("tf1.pbtxt"), "-o", path("tf1-folded.pbtxt")]));
    const folded = fs.readFileSync(path("tf1-folded.pbtxt"), "utf8");
    expect(types(folded)).not.toContain("FusedBatchNorm");
    expectClose(run(folded, ["logits"], { x: tf1Input() })[0].data, run(tf1Model(), ["logits"], { x: tf1Input() })[0].data, 1e-5, 1e-6);
  });

  it("prunes to --outputs, fixes the cond's default, and reports as JSON", () => {
    const r = runCli(["fold", path("cond.pbtxt"), "-o", path("cond-folded.pbtxt"), "--outputs", "logits", "--json"]);
    expectSuccess(r);
    const report = JSON.parse(r.stdout) as { nodes: { before: number; after: number }; report: { node: string; folded: boolean }[] };
    expect(report.report).toEqual([expect.objectContaining({ node: "layer1/bn/batchnorm/add_1", folded: true })]);
    const folded = fs.readFileSync(path("cond-folded.pbtxt"), "utf8");
    expect(report.nodes.after).toBe(tf.importGraphDef(folded).operations.length);
    expect(types(folded)).not.toContain("Switch");
    const x = tf.ndarray(randomData(12, 5), [3, 4]);
    expectClose(run(folded, ["logits"], { x })[0].data, run(condModel(), ["logits"], { x, phase: false })[0].data, 1e-5, 1e-6);
  });

  it("reports why a batch norm is not folded (variables), and still writes the graph", () => {
    const r = runCli(["fold", path("train.pbtxt"), "-o", path("train-folded.pbtxt"), "--training", "false", "--outputs", "logits"]);
    expectSuccess(r);
    expect(r.stdout).toMatch(/not folded: .*VariableV2/);
    expect(r.stdout).toMatch(/0 of 1 batch norm/);
    expect(fs.existsSync(path("train-folded.pbtxt"))).toBe(true);
  });

  it("on bad input exits 1 in one line and leaves an existing output file untouched", () => {
    const out = path("kept.pbtxt");
    fs.writeFileSync(out, "previous contents\n");
    const truncated = cnnModel().slice(0, 2000);
    fs.writeFileSync(path("truncated.pbtxt"), truncated);
    expectOneLineError(runCli(["fold", path("truncated.pbtxt"), "-o", out]), /truncated\.pbtxt: line \d+, column \d+/);
    expect(fs.readFileSync(out, "utf8")).toBe("previous contents\n");
    expectOneLineError(runCli(["fold", path("cnn.pbtxt"), "-o", out, "--outputs", "prob"]), /did you mean `probs`/);
    expect(fs.readFileSync(out, "utf8")).toBe("previous contents\n");
    expect(leftoverTemporaries(dir)).toEqual([]);
  });

  it("needs -o", () => {
    expectOneLineError(runCli(["fold", path("cnn.pbtxt")]), /required option '-o, --output <file>'/);
  });
});
