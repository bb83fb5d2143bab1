/**
 * ONNX export, checked by running the exported models in onnxruntime-node (CPU) against the
 * foldflow session on the same inputs (1e-4), folded and unfolded, NHWC and NCHW; the model's
 * structure (opset, inputs, initializers); and the errors for what cannot be exported.
 */
import * as ort from "onnxruntime-node";
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { batchNormWithGlobalNormalizationOp } from "../../ir/ops/batch-norm-global";
import { exportOnnx, ONNX_OPSET } from "../../codegen/onnx/export";
import { decodeModel } from "../../codegen/onnx/schema";
import { sinkOps } from "../../passes/sinks";
import { foldBatchNorms } from "../../src/tools";
import { randomData } from "../helpers/run";
import { cnnGraph, cnnInput, condModel, tf1Input, tf1Model } from "../cli/models";

type Feeds = Record<string, tf.NDArray>;

function ortTensor(a: tf.NDArray): ort.Tensor {
  if (a.dtype === "float32") return new ort.Tensor("float32", Float32Array.from(a.data), a.shape);
  if (a.dtype === "int32") return new ort.Tensor("int32", Int32Array.from(a.data), a.shape);
  return new ort.Tensor("bool", Uint8Array.from(a.data), a.shape);
}

async function runOnnx(bytes: Uint8Array, feeds: Feeds, outputs: string[]): Promise<ort.Tensor[]> {
  const session = await ort.InferenceSession.create(bytes);
  const result = await session.run(Object.fromEntries(Object.entries(feeds).map(([k, v]) => [k, ortTensor(v)])));
  return outputs.map((o) => result[o]);
}

function runFoldflow(graph: tf.Graph | string, feeds: Feeds, outputs: string[]): tf.NDArray[] {
  const g = typeof graph === "string" ? tf.importGraphDef(graph) : graph;
  const sess = new tf.Session({ graph: g });
  return sess.runSync(outputs, feeds) as tf.NDArray[];
}

/** Exports `source`, runs it in onnxruntime and expects the foldflow session's values on `reference`. */
async function expectSameAsSession(source: tf.Graph | tf.GraphDef | string, reference: tf.Graph | string, feeds: Feeds, outputs: string[], tol = 1e-4) {
  const exported = exportOnnx(source, { outputs });
  const got = await runOnnx(exported.bytes, feeds, outputs);
  const want = runFoldflow(reference, feeds, outputs);
  outputs.forEach((name, i) => {
    expect(got[i], `output ${name}`).toBeDefined();
    expect([...got[i].dims]).toEqual(want[i].shape);
    const a = got[i].data as Float32Array;
    const b = want[i].data;
    let worst = 0;
    for (let k = 0; k < b.length; k++) worst = Math.max(worst, Math.abs(a[k] - b[k]) / Math.max(1, Math.abs(b[k])));
    expect(worst, `largest difference in ${name}`).toBeLessThan(tol);
  });
  return exported;
}

describe("ONNX export matches the foldflow session", () => {
  it("exports the CNN unfolded (FusedBatchNormV3 -> BatchNormalization)", async () => {
    const g = cnnGraph();
    const e = await expectSameAsSession(g, g, { x: cnnInput(3) }, ["logits", "probs"]);
    const types = e.model.graph.node.map((n) => n.op_type);
    expect(types.filter((t) => t === "BatchNormalization")).toHaveLength(2);
    expect(types).toContain("Conv");
    expect(types).toContain("AveragePool");
    expect(types).toContain("ReduceMean");
    expect(types).toContain("Clip");
  });

  it("exports the CNN after folding: no BatchNormalization left, same outputs as the unfolded graph", async () => {
    const text = cnnGraph().asGraphDef().toText();
    const { graphDef, report } = foldBatchNorms(text, { outputs: ["probs"] });
    expect(report.filter((r) => r.folded)).toHaveLength(2);
    const e = await expectSameAsSession(graphDef, text, { x: cnnInput(4) }, ["probs"]);
    expect(e.model.graph.node.map((n) => n.op_type)).not.toContain("BatchNormalization");
    // The NHWC chain (conv, bias, relu, pool ...) stays in NCHW: one transpose in, one back before the mean.
    expect(e.model.graph.node.filter((n) => n.op_type === "Transpose")).toHaveLength(2);
  });

  it("exports a hand-written TF1 GraphDef (Conv2D, BiasAdd, FusedBatchNorm V1, Reshape, MatMul)", async () => {
    const text = tf1Model();
    await expectSameAsSession(text, text, { x: tf1Input() }, ["logits"]);
    await expectSameAsSession(foldBatchNorms(text).graphDef, text, { x: tf1Input() }, ["logits"]);
  });

  it("exports the cond-switched dense network once folded with its default (phase false)", async () => {
    const text = condModel();
    const folded = foldBatchNorms(text, { outputs: ["logits"] }).graphDef;
    const x = tf.ndarray(randomData(12, 5), [3, 4]);
    const e = await expectSameAsSession(folded, text, { x }, ["logits"]);
    expect(e.inputs.map((i) => i.name)).toEqual(["x"]);
  });

  it("maps NCHW convolutions, pools, bias and batch norm, with strides and odd sizes", async () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 3, 7, 7], "x");
      const w = tf.constant(Array.from(randomData(3 * 3 * 3 * 4, 2)), [3, 3, 3, 4], "float32", "w");
      const c = tf.nn.conv2d(x, w, [1, 1, 2, 2], "SAME", { dataFormat: "NCHW" });
      const b = tf.nn.biasAdd(c, tf.constant(Array.from(randomData(4, 3)), [4]), "NCHW");
      const gamma = tf.constant([1, 2, 0.5, 1.5], [4]);
      const stats = (seed: number) => tf.constant(Array.from(randomData(4, seed), (v) => 1 + v / 2), [4]);
      const [bn] = tf.nn.fusedBatchNorm(b, gamma, stats(4), { mean: stats(5), variance: stats(6), isTraining: false, dataFormat: "NCHW" });
      const m = tf.nn.maxPool(bn, [1, 1, 3, 3], [1, 1, 2, 2], "SAME", { dataFormat: "NCHW" });
      tf.nn.avgPool(m, [1, 1, 2, 2], [1, 1, 1, 1], "SAME", { dataFormat: "NCHW", name: "out" });
    });
    await expectSameAsSession(g, g, { x: tf.ndarray(randomData(2 * 3 * 7 * 7, 9), [2, 3, 7, 7]) }, ["out"]);
  });

  it("maps depthwise convolutions with a multiplier and stride, SAME average pooling excluding the padding", async () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 5, 5, 3], "x");
      const w = tf.constant(Array.from(randomData(3 * 3 * 3 * 2, 7)), [3, 3, 3, 2], "float32", "w");
      const d = tf.nn.depthwiseConv2d(x, w, [1, 2, 2, 1], "SAME");
      tf.nn.avgPool(d, [1, 3, 3, 1], [1, 2, 2, 1], "SAME", { name: "out" });
    });
    await expectSameAsSession(g, g, { x: tf.ndarray(randomData(2 * 5 * 5 * 3, 8), [2, 5, 5, 3]) }, ["out"]);
  });

  it("maps matmul transposes (Gemm), elementwise ops, reductions, softmax and placeholder defaults", async () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 4], "x");
      const scale = tf.placeholderWithDefault(tf.constant([2], [1]), [1], "scale");
      const w = tf.constant(Array.from(randomData(4 * 3, 2)), [3, 4]);
      const h = tf.matmul(x, w, { transposeB: true });
      const a = tf.matmul(tf.transpose(h), tf.constant(Array.from(randomData(6, 3)), [2, 3]), { transposeA: true, transposeB: true });
      const y = tf.div(tf.sub(tf.mul(a, scale), 0.5), tf.add(tf.abs(a), 1));
      tf.identity(tf.nn.softmax(tf.nn.relu6(tf.mul(y, 4))), "probs");
      tf.reduceSum(tf.square(h), [1], true, "energy");
      tf.reduceMean(tf.sqrt(tf.abs(h)), [0, 1], false, "mean");
      tf.reduceSum(h, [], false, "no_reduction");
    });
    const x = tf.ndarray(randomData(8, 4), [2, 4]);
    await expectSameAsSession(g, g, { x }, ["probs", "energy", "mean", "no_reduction"]);
    // The default is a constant of the inference model; with overridableDefaults also a graph input.
    const plain = exportOnnx(g, { outputs: ["probs"] }).model.graph;
    expect(plain.input.map((i) => i.name)).toEqual(["x"]);
    expect(plain.initializer.map((i) => i.name)).toContain("scale");
    const overridable = exportOnnx(g, { outputs: ["probs"], overridableDefaults: true });
    expect(overridable.model.graph.input.map((i) => i.name)).toEqual(["x", "scale"]);
    expect(overridable.inputs.map((i) => i.name)).toEqual(["x", "scale"]);
  });

  it("maps BatchNormWithGlobalNormalization, with and without scale_after_normalization", async () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3, 3, 2], "x");
      const v = (seed: number) => tf.constant(Array.from(randomData(2, seed), (a) => 1 + a / 2), [2]);
      batchNormWithGlobalNormalizationOp(x, v(1), v(2), v(3), v(4), 1e-3, true, "scaled");
      batchNormWithGlobalNormalizationOp(x, v(1), v(2), v(3), v(4), 1e-3, false, "unscaled");
    });
    await expectSameAsSession(g, g, { x: tf.ndarray(randomData(36, 5), [2, 3, 3, 2]) }, ["scaled", "unscaled"]);
  });
});

describe("the exported model", () => {
  it("declares opset 13, the placeholders as inputs (unknown dims symbolic) and the constants it reads as initializers", () => {
    const text = cnnGraph().asGraphDef().toText();
    const folded = foldBatchNorms(text, { outputs: ["probs"] }).graphDef;
    const e = exportOnnx(folded, { outputs: ["probs"] });
    const model = decodeModel(e.bytes);
    expect(model.opset_import[0].version).toBe(ONNX_OPSET);
    expect(model.graph.input.map((i) => i.name)).toEqual(["x"]);
    const dims = model.graph.input[0].type.tensor_type.shape!.dim;
    expect(dims[0].dim_param).toBe("x_dim0");
    expect(dims.slice(1).map((d) => d.dim_value)).toEqual([6, 6, 2]);
    expect(model.graph.output.map((o) => o.name)).toEqual(["probs"]);
    // Every initializer is read by some node (the folded-away BN parameters are gone).
    const read = new Set(model.graph.node.flatMap((n) => n.input));
    for (const t of model.graph.initializer) expect(read.has(t.name), t.name).toBe(true);
    expect(model.graph.initializer.map((t) => t.name)).not.toContain("bn1/gamma");
  });

  it("exports the graph's sinks when no outputs are named (not the ops inside a cond's branches)", () => {
    expect(exportOnnx(cnnGraph()).outputs.map((o) => o.name)).toEqual(["probs"]);
    const cond = tf.importGraphDef(condModel());
    // The cond's pivots (Identity of a Switch) are read by nothing either, but lie inside a branch.
    const unread = cond.operations.filter((op) => op.type === "Identity" && op.inputs[0]?.op.type === "Switch" && op.outputs.every((t) => t.consumers().length === 0));
    expect(unread.length).toBeGreaterThan(0);
    expect(sinkOps(cond).map((op) => op.name)).toEqual(["logits"]);
  });
});

describe("what cannot be exported is an error naming the node", () => {
  it("an op without an ONNX mapping", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [4], "x");
      tf.oneHot(tf.cast(x, "int32"), 3, {}, "hot");
    });
    expect(() => exportOnnx(g, { outputs: ["hot"] })).toThrow(tf.errors.UnimplementedError);
    expect(() => exportOnnx(g, { outputs: ["hot"] })).toThrow(/`hot` \(OneHot\).*no mapping for op type `OneHot`/);
  });

  it("a batch norm in training mode, and a variable", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 2, 2, 2], "x");
      tf.nn.fusedBatchNorm(x, tf.constant([1, 1], [2]), tf.constant([0, 0], [2]), { isTraining: true, name: "bn" });
      const v = tf.getVariable("v", [2], { initializer: tf.initializers.ones() });
      tf.mul(x, v, "scaled");
    });
    expect(() => exportOnnx(g, { outputs: ["bn"] })).toThrow(/training mode/);
    expect(() => exportOnnx(g, { outputs: ["scaled"] })).toThrow(/`v` \(VariableV2\).*freeze the graph first/);
  });

  it("an unknown output name, with a suggestion", () => {
    expect(() => exportOnnx(cnnGraph(), { outputs: ["prob"] })).toThrow(/did you mean `probs`/);
  });
});
