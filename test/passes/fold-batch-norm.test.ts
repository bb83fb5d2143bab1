import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { fusedBatchNormOp } from "../../ir/ops/batch-norm";
import { constantFold } from "../../passes/constant-fold";
import { foldBatchNorms as foldPass } from "../../passes/fold-batch-norm";
import { convertVariablesToConstants } from "../../src/freeze";
import { foldBatchNorms, formatFoldReport } from "../../src/tools";
import {
  addBatchNorm, addBias, BN_TYPES, buildAndFreeze, buildProducer, expectRelativeClose, foldAndCompare, opTypes, randomVariable, runGraphDef,
  type BiasKind, type FormKind, type ProducerKind,
} from "./fold-helpers";

const producers: ProducerKind[] = ["conv-NHWC", "conv-NCHW", "dw1-NHWC", "dw2-NHWC", "dw1-NCHW", "dw2-NCHW", "matmul", "matmul-transposeB"];
const biases: BiasKind[] = ["none", "BiasAdd", "Add"];
const forms: FormKind[] = ["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "BatchNormWithGlobalNormalization", "batchNormalization"];

/** The forms that apply to a producer: fused ops need 4-D, the global op NHWC. */
function formsFor(kind: ProducerKind): FormKind[] {
  if (kind.startsWith("matmul")) return ["batchNormalization"];
  if (kind.endsWith("NCHW")) return forms.filter((f) => f !== "BatchNormWithGlobalNormalization");
  return forms;
}

const cases = producers.flatMap((p) => biases.flatMap((b) => formsFor(p).map((f) => [p, b, f] as const)));

describe("foldBatchNorms: every producer, bias and batch-norm form", () => {
  it.each(cases)("%s + bias %s + %s", (producerKind, biasKind, form) => {
    let bnName = "";
    const f = buildAndFreeze(() => {
      const { feed, producer } = buildProducer(producerKind);
      const y = addBatchNorm(addBias(producer, biasKind), producer, form);
      bnName = y.op.name;
      tf.nn.relu(y, "out");
      return { x: feed };
    }, ["out"]);
    const result = foldAndCompare(f, ["out", bnName]);
    expect(result.report).toEqual([{ node: bnName, form, producer: "producer", folded: true }]);
    const types = opTypes(result.graphDef);
    for (const t of BN_TYPES) expect(types, t).not.toContain(t);
    // The folded output is a BiasAdd under the batch norm's name; the producer keeps its name.
    const node = result.graphDef.node.find((n) => n.name === bnName)!;
    expect(node.op).toBe("BiasAdd");
    expect(node.input[0]).toBe("producer");
    expect(types.filter((t) => t === "BiasAdd" || t === "AddV2" || t === "Mul")).toEqual(["BiasAdd"]);
    // Only the input, the weights, the producer, the bias, the batch norm's node and the output are left.
    expect(result.graphDef.node).toHaveLength(6);
  });
});

describe("foldBatchNorms: other matched forms", () => {
  it("folds a constant per-channel Mul then Add (mul-add), and the non-fused form after constant folding", () => {
    const f = buildAndFreeze(() => {
      const { feed, producer } = buildProducer("conv-NHWC");
      const scaled = tf.mul(producer.y, randomVariable("scale", [4], 0.5, 2), "scale_mul");
      tf.identity(tf.add(randomVariable("shift", [4]), scaled, "shift_add"), "out");
      return { x: feed };
    }, ["out"]);
    const r = foldAndCompare(f, ["out"]);
    expect(r.report).toEqual([{ node: "shift_add", form: "mul-add", producer: "producer", folded: true }]);

    const g = buildAndFreeze(() => {
      const { feed, producer } = buildProducer("matmul");
      // TF's default scope of tf.nn.batch_normalization: the folded-constant form is still named for it.
      tf.identity(addBatchNorm(producer.y, producer, "batchNormalization", "batchnorm"), "out");
      return { x: feed };
    }, ["out"]);
    const preFolded = constantFold(tf.importGraphDef(g.frozen), {}).graph;
    // x·inv + shift with inv and shift folded into Consts.
    const add = preFolded.getOperationByName("batchnorm/add_1");
    expect(add.inputs[1].op.type).toBe("Const");
    expect(add.inputs[0].op.inputs.map((t) => t.op.type)).toEqual(["MatMul", "Const"]);
    const r2 = foldBatchNorms(preFolded.asGraphDef());
    expect(r2.report).toEqual([{ node: "batchnorm/add_1", form: "batchNormalization", producer: "producer", folded: true }]);
    expectRelativeClose(runGraphDef(r2.graphDef, ["out"], g.feeds)[0], runGraphDef(g.frozen, ["out"], g.feeds)[0], "out");
  });

  it("folds BatchNormWithGlobalNormalization without scaling by gamma", () => {
    const f = buildAndFreeze(() => {
      const { feed, producer } = buildProducer("conv-NHWC");
      const v = (n: string, lo: number, hi: number) => randomVariable(n, [4], lo, hi);
      const y = tf.getDefaultGraph().addOp({
        type: "BatchNormWithGlobalNormalization",
        name: "bn",
        inputs: [producer.y, v("m", -1, 1), v("v", 0.5, 2), v("beta", -1, 1), v("gamma", 3, 4)],
        attrs: { variance_epsilon: 1e-3, scale_after_normalization: false },
      }).outputs[0];
      tf.identity(y, "out");
      return { x: feed };
    }, ["out"]);
    expect(foldAndCompare(f, ["out"]).report[0].folded).toBe(true);
  });

  it("replaces the consumed statistics outputs of a fused batch norm by constants", () => {
    const f = buildAndFreeze(() => {
      const { feed, producer } = buildProducer("conv-NHWC");
      const mean = randomVariable("mean", [4]);
      const op = fusedBatchNormOp(producer.y, randomVariable("g", [4], 0.5, 1.5), randomVariable("b", [4]), mean, randomVariable("v", [4], 0.5, 2), { isTraining: false, name: "bn" });
      tf.identity(op.outputs[0], "out");
      tf.identity(op.outputs[1], "stat");
      return { x: feed };
    }, ["out", "stat"]);
    const r = foldAndCompare(f, ["out", "stat"]);
    expect(r.report[0].folded).toBe(true);
    expect(opTypes(r.graphDef)).not.toContain("FusedBatchNormV3");
  });

  it("folds the phase-switched non-fused batch norm of the MNIST network after fixing phase to its default", async () => {
    const { bnModel } = await import("./models");
    const { graph, x } = bnModel("default");
    const sess = new tf.Session({ graph });
    sess.runSync(graph.asDefault(() => tf.globalVariablesInitializer()));
    const frozen = convertVariablesToConstants(sess, graph.asGraphDef(), ["logits"]);
    expect(opTypes(frozen)).toContain("Switch");
    const r = foldBatchNorms(frozen, { outputs: ["logits"] });
    expect(r.report).toEqual([{ node: "layer1/bn/batchnorm/add_1", form: "batchNormalization", producer: "layer1/MatMul", folded: true }]);
    const types = opTypes(r.graphDef);
    for (const t of ["Switch", "Merge", "Rsqrt", "Mean"]) expect(types).not.toContain(t);
    expectRelativeClose(runGraphDef(r.graphDef, ["logits"], { x })[0], sess.runSync("logits", { x }), "logits");
  });
});

describe("foldBatchNorms: refusals", () => {
  function refused(build: () => { x: tf.NDArray }, outputs: string[], pattern: RegExp, producer: string | null = "producer") {
    const f = buildAndFreeze(build, outputs);
    const r = foldAndCompare(f, outputs);
    expect(r.report).toHaveLength(1);
    expect(r.report[0]).toMatchObject({ folded: false, producer });
    expect(r.report[0].reason).toMatch(pattern);
    expect(r.diagnostics.some((d) => d.code === "batch-norm-not-folded" && d.node === r.report[0].node && pattern.test(d.message))).toBe(true);
    return r;
  }

  it("refuses when the producer has another consumer", () => {
    const r = refused(() => {
      const { feed, producer } = buildProducer("conv-NHWC");
      tf.identity(addBatchNorm(producer.y, producer, "FusedBatchNormV3"), "out");
      tf.identity(producer.y, "tap");
      return { x: feed };
    }, ["out", "tap"], /`producer` \(Conv2D\) has another consumer, `tap`/);
    expect(opTypes(r.graphDef)).toContain("FusedBatchNormV3");
  });

  it("refuses when the bias has another consumer, or the producer is a requested output", () => {
    refused(() => {
      const { feed, producer } = buildProducer("matmul");
      const h = addBias(producer, "BiasAdd");
      tf.identity(addBatchNorm(h, producer, "batchNormalization"), "out");
      tf.identity(h, "tap");
      return { x: feed };
    }, ["out", "tap"], /`bias` \(BiasAdd\) has another consumer/);
    const f = buildAndFreeze(() => {
      const { feed, producer } = buildProducer("conv-NHWC");
      tf.identity(addBatchNorm(producer.y, producer, "FusedBatchNorm"), "out");
      return { x: feed };
    }, ["out"]);
    const r = foldBatchNorms(f.frozen, { outputs: ["out", "producer"] });
    expect(r.report[0]).toMatchObject({ folded: false, producer: "producer" });
    expect(r.report[0].reason).toMatch(/requested output/);
  });

  it("refuses when a relu stands between the producer and the batch norm", () => {
    refused(() => {
      const { feed, producer } = buildProducer("conv-NCHW");
      tf.identity(addBatchNorm(tf.nn.relu(addBias(producer, "BiasAdd"), "relu"), producer, "FusedBatchNormV2"), "out");
      return { x: feed };
    }, ["out"], /`relu` \(Relu\) stands between `producer` \(Conv2D\) and the batch norm/);
  });

  it("refuses a batch norm on an input that no conv or matmul produces", () => {
    refused(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const p = { y: x, channels: 3, format: "NHWC" as const, rank: 2 };
      tf.identity(addBatchNorm(x, p, "batchNormalization"), "out");
      return { x: tf.ndarray([1, 2, 3, 4, 5, 6], [2, 3]) };
    }, ["out"], /comes from `x` \(Placeholder\), not from a conv2d/, null);
  });

  it("refuses parameters that are not constant (a variable left out of freezing)", () => {
    const graph = new tf.Graph();
    const feeds = graph.asDefault(() => {
      const { feed, producer } = buildProducer("dw2-NHWC");
      tf.identity(addBatchNorm(producer.y, producer, "FusedBatchNormV3"), "out");
      return { x: feed };
    });
    const sess = new tf.Session({ graph });
    sess.runSync(graph.asDefault(() => tf.globalVariablesInitializer()));
    const frozen = convertVariablesToConstants(sess, graph.asGraphDef(), ["out"], { variableNamesBlacklist: ["bn/moving_variance"] });
    const r = foldBatchNorms(frozen);
    expect(r.report[0]).toMatchObject({ node: "bn", folded: false, producer: "producer" });
    expect(r.report[0].reason).toMatch(/parameter `variance` is not constant: it reads `bn\/moving_variance` \(VariableV2\)/);
    // Weights that are not constant: nothing was frozen.
    const unfrozen = foldBatchNorms(convertVariablesToConstants(sess, graph.asGraphDef(), ["out"], { variableNamesWhitelist: ["bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"] }));
    expect(unfrozen.report[0].reason).toMatch(/the weights of `producer` are not constant: they read `w` \(VariableV2\)/);
    const imported = tf.importGraphDef(unfrozen.graphDef);
    const s2 = new tf.Session({ graph: imported });
    s2.setVariableValue("w", sess.variableValues.get("w")!);
    expect(Array.from((s2.runSync("out", feeds) as tf.NDArray).data)).toEqual(Array.from(sess.runSync("out", feeds).data));
  });

  it("refuses batch norms in training mode: fused with is_training, and tf.nn.moments statistics", () => {
    refused(() => {
      const { feed, producer } = buildProducer("conv-NHWC");
      const v = (n: string) => randomVariable(n, [4], 0.5, 1.5);
      tf.identity(fusedBatchNormOp(producer.y, v("g"), v("b"), v("m"), v("v"), { isTraining: true, name: "bn" }).outputs[0], "out");
      return { x: feed };
    }, ["out"], /training mode \(is_training: true\)/);
    refused(() => {
      const { feed, producer } = buildProducer("matmul");
      const [mean, variance] = tf.nn.moments(producer.y, [0]);
      tf.identity(tf.nn.batchNormalization(producer.y, mean, variance, randomVariable("beta", [5]), randomVariable("gamma", [5]), 1e-3, "bn"), "out");
      return { x: feed };
    }, ["out"], /training mode: its mean and variance are computed from the batch/);
  });

  it("refuses a fused batch norm whose channel axis is not the producer's", () => {
    refused(() => {
      const { feed, producer } = buildProducer("conv-NCHW");
      // NHWC batch norm over an NCHW conv output [2, 4, 5, 5]: "channels" are its last dimension (5).
      tf.identity(addBatchNorm(producer.y, { ...producer, channels: 5, format: "NHWC" }, "FusedBatchNormV3"), "out");
      return { x: feed };
    }, ["out"], /not per output channel of `producer` \(NCHW\)/);
  });
});

describe("foldBatchNorms: fixpoint, names, report", () => {
  it("folds two stacked batch norms, one per round", () => {
    const f = buildAndFreeze(() => {
      const { feed, producer } = buildProducer("conv-NHWC");
      const y1 = addBatchNorm(addBias(producer, "BiasAdd"), producer, "FusedBatchNormV3", "bn1");
      const y2 = addBatchNorm(y1, producer, "batchNormalization", "bn2");
      tf.identity(y2, "out");
      return { x: feed };
    }, ["out"]);
    const once = foldPass(tf.importGraphDef(f.frozen), { maxIterations: 1 });
    expect(once.report.map((r) => [r.node, r.folded])).toEqual([["bn1", true], ["bn2/add_1", false]]);
    expect(once.report[1].reason).toMatch(/`bn1` \(BiasAdd\)|stands between/);
    const r = foldAndCompare(f, ["out"]);
    expect(r.report).toEqual([
      { node: "bn1", form: "FusedBatchNormV3", producer: "producer", folded: true },
      { node: "bn2/add_1", form: "batchNormalization", producer: "producer", folded: true },
    ]);
    expect(opTypes(r.graphDef).filter((t) => t === "BiasAdd")).toHaveLength(1);
  });

  it("folds independent batch norms of a two-layer network in one round and keeps every output name", () => {
    const f = buildAndFreeze(() => {
      const { feed, producer } = buildProducer("conv-NHWC");
      const h = tf.nn.relu(addBatchNorm(producer.y, producer, "FusedBatchNorm", "bn1"), "relu1");
      const w2 = randomVariable("w2", [3, 3, 4, 2]);
      const c2 = tf.nn.conv2d(h, w2, 1, "SAME", { name: "conv2" });
      tf.nn.relu(addBatchNorm(c2, { y: c2, channels: 2, format: "NHWC", rank: 4 }, "BatchNormWithGlobalNormalization", "bn2"), "out");
      return { x: feed };
    }, ["out"]);
    const r = foldAndCompare(f, ["out", "bn1", "relu1", "bn2"], { outputs: ["out", "bn1"] });
    expect(r.report.map((row) => [row.node, row.producer, row.folded])).toEqual([["bn1", "producer", true], ["bn2", "conv2", true]]);
    expect(formatFoldReport(r.report)).toContain("folded      bn2 (BatchNormWithGlobalNormalization) into conv2");
  });

  it("accepts the GraphDef's text, and reports an unknown output with a suggestion", () => {
    const f = buildAndFreeze(() => {
      const { feed, producer } = buildProducer("matmul-transposeB");
      tf.identity(addBatchNorm(producer.y, producer, "batchNormalization"), "out");
      return { x: feed };
    }, ["out"]);
    const text = tf.importGraphDef(f.frozen).asGraphDef().toText();
    const r = foldBatchNorms(text, { outputs: ["out"] });
    expect(r.report[0].folded).toBe(true);
    expectRelativeClose(runGraphDef(r.graphDef.toText(), ["out"], f.feeds)[0], runGraphDef(text, ["out"], f.feeds)[0], "out");
    expect(() => foldBatchNorms(text, { outputs: ["ouT1"] })).toThrow(tf.errors.NotFoundError);
    expect(() => foldBatchNorms(text, { outputs: ["ouT1"] })).toThrow(/did you mean `out`/);
  });

  it("reports nothing and changes nothing in a graph without batch norms", () => {
    const f = buildAndFreeze(() => {
      const { feed, producer } = buildProducer("conv-NHWC");
      tf.nn.relu(addBias(producer, "BiasAdd"), "out");
      return { x: feed };
    }, ["out"]);
    const graph = tf.importGraphDef(f.frozen);
    const r = foldPass(graph, {});
    expect(r).toMatchObject({ changed: false, report: [], diagnostics: [] });
    expect(r.graph).toBe(graph);
    expect(formatFoldReport([])).toBe("no batch-norm nodes found");
  });
});

describe("foldBatchNorms on a GraphDef written by TF", () => {
  const attrT = 'attr { key: "T" value { type: DT_FLOAT } }';
  const vector = (name: string, values: number[]) =>
    `node { name: "${name}" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: ${values.length} } } ${values.map((v) => `float_val: ${v}`).join(" ")} } } } }`;
  const text = [
    'node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "shape" value { shape { dim { size: -1 } dim { size: 2 } } } } }',
    'node { name: "w" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 2 } dim { size: 2 } } float_val: 1 float_val: -2 float_val: 3 float_val: 0.5 } } } }',
    `node { name: "w/read" op: "Identity" input: "w" ${attrT} attr { key: "_class" value { list { s: "loc:@w" } } } }`,
    `node { name: "dense/MatMul" op: "MatMul" input: "x" input: "w/read" ${attrT} attr { key: "transpose_a" value { b: false } } attr { key: "transpose_b" value { b: false } } }`,
    vector("bn/scale", [2, 0.25]),
    vector("bn/shift", [-1, 3]),
    `node { name: "bn/mul" op: "Mul" input: "dense/MatMul" input: "bn/scale" ${attrT} }`,
    `node { name: "bn/add" op: "Add" input: "bn/mul" input: "bn/shift" ${attrT} }`,
  ].join("\n");

  it("folds through the w/read Identity, keeps the weights' name and gives the BiasAdd TF's T", () => {
    const r = foldBatchNorms(text);
    expect(r.report).toEqual([{ node: "bn/add", form: "mul-add", producer: "dense/MatMul", folded: true }]);
    const byName = new Map(r.graphDef.node.map((n) => [n.name, n]));
    expect([...byName.keys()]).toEqual(["x", "w", "dense/MatMul", "dense/MatMul_bn_offset", "bn/add"]);
    expect(byName.get("bn/add")!.attr.T).toEqual({ type: "DT_FLOAT" });
    const feeds = { x: tf.ndarray([1, 2, -3, 0.5, 4, -1], [3, 2]) };
    // x·W·s + t by hand: W = [[1, -2], [3, 0.5]], s = [2, 0.25], t = [-1, 3].
    const expected = [[1, 2], [-3, 0.5], [4, -1]].flatMap(([a, b]) => [(a * 1 + b * 3) * 2 - 1, (a * -2 + b * 0.5) * 0.25 + 3]);
    expect(runGraphDef(r.graphDef.toText(), ["bn/add"], feeds)[0].values()).toEqual(expected);
  });
});
