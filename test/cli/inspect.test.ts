/** `foldflow inspect`: op counts, inputs, sinks, batch-norm nodes, UPDATE_OPS, fold candidates. */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { join } from "node:path";
import { expectOneLineError, expectSuccess, runCli, tempDir } from "./helpers";
import { cnnModel, condModel, tf1Model, trainingModel } from "./models";

const dir = tempDir({ "cnn.pbtxt": cnnModel(), "tf1.pbtxt": tf1Model(), "cond.pbtxt": condModel(), "train.pbtxt": trainingModel() });
const model = (name: string) => join(dir, name);

interface Report {
  nodes: number;
  opCounts: { type: string; count: number }[];
  inputs: { name: string; dtype: string; shape: string; default?: string }[];
  sinks: { name: string; type: string }[];
  batchNorms: { node: string; form: string; state: string }[];
  updateOps: { recorded: boolean; assigns: { name: string; type: string; variable: string }[] };
  foldCandidates: { node: string; form: string; producer: string | null; folded: boolean; reason?: string }[];
}

function inspectJson(name: string, ...extra: string[]): Report {
  const r = runCli(["inspect", model(name), "--json", ...extra]);
  expectSuccess(r);
  return JSON.parse(r.stdout) as Report;
}

function counts(text: string): Record<string, number> {
  const out: Record<string, number> = {};
  for (const op of tf.importGraphDef(text).operations) out[op.type] = (out[op.type] ?? 0) + 1;
  return out;
}

describe("foldflow inspect", () => {
  it("counts the ops by type, and lists the placeholders, sinks and batch norms of the CNN", () => {
    const r = inspectJson("cnn.pbtxt");
    expect(Object.fromEntries(r.opCounts.map((c) => [c.type, c.count]))).toEqual(counts(cnnModel()));
    expect(r.nodes).toBe(tf.importGraphDef(cnnModel()).operations.length);
    expect(r.inputs).toEqual([{ name: "x", type: "Placeholder", dtype: "float32", shape: "[?,6,6,2]" }]);
    expect(r.sinks).toEqual([{ name: "probs", type: "Softmax" }]);
    expect(r.batchNorms.map((b) => [b.node, b.form])).toEqual([
      ["bn1", "FusedBatchNormV3"],
      ["bn2", "FusedBatchNormV3"],
    ]);
    expect(r.foldCandidates.map((c) => [c.node, c.producer, c.folded])).toEqual([
      ["bn1", "conv1/Conv2D", true],
      ["bn2", "dw/depthwise", true],
    ]);
  });

  it("reads hand-written TF1 text (FusedBatchNorm V1 after Conv2D + BiasAdd)", () => {
    const r = inspectJson("tf1.pbtxt");
    expect(r.batchNorms).toEqual([{ node: "bn/FusedBatchNorm", form: "FusedBatchNorm", state: "inference mode, constant parameters" }]);
    expect(r.foldCandidates[0]).toMatchObject({ node: "bn/FusedBatchNorm", producer: "conv/Conv2D", folded: true });
  });

  it("shows the moving-statistic updates, the cond that switches the batch norm, and what folds with --training false", () => {
    const r = inspectJson("train.pbtxt");
    const graph = tf.importGraphDef(trainingModel());
    const updates = graph.operations.filter((op) => op.type === "AssignSub" && /moving_(mean|variance)/.test(op.inputs[0].op.name)).map((op) => op.name);
    expect(updates.length).toBe(2);
    expect(r.updateOps.recorded).toBe(false);
    expect(r.updateOps.assigns.map((a) => a.name).sort()).toEqual(updates.sort());
    expect(r.batchNorms).toHaveLength(1);
    expect(r.batchNorms[0].state).toMatch(/tf\.cond on `phase`/);
    expect(r.inputs.map((i) => i.name)).toEqual(["x", "y", "phase"]);
    expect(r.sinks.map((s) => s.name)).toContain("train");
    // Not frozen: with the flag fixed, folding is refused because the parameters are variables.
    const fixed = inspectJson("train.pbtxt", "--training", "false");
    expect(fixed.foldCandidates[0].folded).toBe(false);
    expect(fixed.foldCandidates[0].reason).toMatch(/VariableV2.*freeze/);
  });

  it("shows a PlaceholderWithDefault's default and folds the frozen cond model", () => {
    const r = inspectJson("cond.pbtxt");
    expect(r.inputs.find((i) => i.name === "phase")).toMatchObject({ type: "PlaceholderWithDefault", dtype: "bool", default: "false" });
    expect(r.foldCandidates).toEqual([expect.objectContaining({ producer: "layer1/MatMul", folded: true })]);
  });

  it("prints every section as text", () => {
    const r = runCli(["inspect", model("cnn.pbtxt")]);
    expectSuccess(r);
    for (const heading of ["Ops:", "Inputs (placeholders):", "Outputs (sinks", "Batch-norm nodes:", "UPDATE_OPS", "Fold candidates"]) expect(r.stdout).toContain(heading);
    expect(r.stdout).toMatch(/FusedBatchNormV3\s+2/);
    expect(r.stdout).toMatch(/bn1\s+FusedBatchNormV3\s+conv1\/Conv2D\s+folds/);
  });

  it("rejects a bad --training value in one line", () => {
    expectOneLineError(runCli(["inspect", model("cnn.pbtxt"), "--training", "maybe"]), /--training takes true or false/);
  });
});
