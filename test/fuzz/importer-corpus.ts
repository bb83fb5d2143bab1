/**
 * The seed corpus of the importer fuzzer: valid GraphDef texts, some written by foldflow's own
 * writer from graphs built with the tf API (dense + batch norm under a cond, conv + fused batch
 * norm, array ops, variables and their initializers), some hand-written the way TF 1.15's
 * Python writer prints them (tensor_content with octal escapes, int64 constants, `T` and
 * `_output_shapes` attrs, ref and resource variables, Select, Concat v1). Every entry imports.
 */
import * as tf from "foldflow";
import { bnModel } from "../passes/models";
import { bool, content, floatConst, int, intConst, ints, node, outputShapes, placeholder, refVariable, shape, str, tensor, type, versions } from "../graphdef/tf1-text";

function built(build: () => void): string {
  const g = new tf.Graph();
  g.asDefault(build);
  return g.asGraphDef().toText();
}

const dense = () =>
  built(() => {
    const x = tf.placeholder("float32", [null, 4], "x");
    const w = tf.getVariable("w", [4, 3], { initializer: tf.initializers.glorotUniform({ seed: 1 }) });
    const b = tf.getVariable("b", [3], { initializer: tf.initializers.zeros() });
    const h = tf.nn.relu(tf.nn.biasAdd(tf.matmul(x, w), b), "relu");
    tf.nn.softmax(h, -1, "probs");
    tf.reduceMean(tf.square(h), [0, 1], false, "loss");
    tf.globalVariablesInitializer();
  });

const conv = () =>
  built(() => {
    const x = tf.placeholder("float32", [2, 5, 5, 2], "images");
    const k = tf.constant(Float32Array.from({ length: 3 * 3 * 2 * 4 }, (_, i) => Math.sin(i)), [3, 3, 2, 4], "float32", "kernel");
    const y = tf.nn.conv2d(x, k, [1, 1, 1, 1], "SAME");
    const gamma = tf.constant([1, 0.5, 2, 1.5], [4], "float32", "gamma");
    const beta = tf.constant([0, 0.1, -0.2, 0.3], [4], "float32", "beta");
    const mean = tf.constant([0.1, 0.2, 0.3, 0.4], [4], "float32", "mean");
    const variance = tf.constant([1, 2, 0.5, 0.25], [4], "float32", "variance");
    const [bn] = tf.nn.fusedBatchNorm(y, gamma, beta, { mean, variance, epsilon: 1e-3, isTraining: false });
    tf.nn.maxPool(tf.nn.relu(bn), [1, 2, 2, 1], [1, 2, 2, 1], "VALID", { name: "pool" });
  });

const arrays = () =>
  built(() => {
    const x = tf.placeholder("float32", [2, 3, 4], "x");
    const t = tf.transpose(x, [2, 0, 1], "t");
    const r = tf.reshape(t, [4, 6], "r");
    const c = tf.concat([r, tf.constant(Float32Array.from({ length: 12 }, (_, i) => i), [2, 6], "float32", "extra")], 0, "c");
    const s = tf.slice(c, [1, 0], [3, 6], "s");
    const g = tf.gather(s, tf.constant(Int32Array.from([2, 0]), [2], "int32", "idx"), 1, "g");
    const am = tf.argmax(g, 1, "am");
    tf.oneHot(am, 3, {}, "oh");
    tf.reduceSum(tf.cast(tf.greater(s, 0), "float32"), [1], true, "count");
    tf.stridedSlice(x, [0, 1, 0], [2, 3, 4], [1, 1, 2], {});
    tf.where(tf.less(x, 0), tf.neg(x), x, "absx");
    tf.expandDims(tf.squeeze(tf.reduceMax(x, [2], true), [2]), 0, "ed");
  });

const condModel = () => bnModel("placeholder").graph.asGraphDef().toText();
const frozenModel = () => bnModel("default", true).graph.asGraphDef().toText();

const T = type("DT_FLOAT");

/** A TF1 graph as tf.io.write_graph prints it: x·w + b with a ref variable, tensor_content constants. */
const tf1Dense = () =>
  placeholder("x", "DT_FLOAT", [-1, 2]) +
  refVariable("w", [2, 2], [1, -2, 0.5, 3]) +
  floatConst("b", [2], [0.25, -0.75]) +
  node("MatMul", "MatMul", ["x", "w/read"], { T, _output_shapes: outputShapes([-1, 2]), transpose_a: bool(false), transpose_b: bool(false) }) +
  node("add", "Add", ["MatMul", "b"], { T, _output_shapes: outputShapes([-1, 2]) }) +
  node("init", "NoOp", ["^w/Assign"]) +
  versions();

/** int64 shape constants, Concat v1, Select with a vector condition, resource variables. */
const tf1Misc = () =>
  placeholder("x", "DT_FLOAT", [3, 2]) +
  node("shape", "Const", [], { dtype: type("DT_INT64"), value: tensor("DT_INT64", [2], [content([2, 3], "int64")]) }) +
  node("r", "Reshape", ["x", "shape"], { T, Tshape: type("DT_INT64") }) +
  intConst("axis", [], [0]) +
  node("cat", "Concat", ["axis", "x", "x"], { N: int(2), T }) +
  placeholder("c", "DT_BOOL", [3]) +
  node("sel", "Select", ["c", "x", "x"], { T }) +
  node("v", "VarHandleOp", [], { _output_shapes: outputShapes([]), container: str(""), dtype: T, shape: shape([3, 2]), shared_name: str("v") }) +
  node("v/Read", "ReadVariableOp", ["v"], { dtype: T }) +
  node("v/assign", "AssignVariableOp", ["v", "x"], { dtype: T }) +
  node("sum", "Sum", ["v/Read", "red"], { T, Tidx: type("DT_INT32"), keep_dims: bool(false) }) +
  intConst("red", [2], [0, 1]) +
  node("pool", "AvgPool", ["x4"], { T, ksize: ints([1, 2, 2, 1]), strides: ints([1, 1, 1, 1]), padding: str("VALID"), data_format: str("NHWC") }) +
  placeholder("x4", "DT_FLOAT", [1, 3, 3, 1]) +
  versions();

/** Escapes, comments, `<>` delimiters, list syntax, separators and a library the importer keeps opaquely. */
const tf1Syntax = () => `# a comment
node < name: 'a' op: "Const" attr { key: 'dtype' value: { type: DT_FLOAT } }
  attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { dim { size: 2 } } float_val: [1.5, -2.5e+00] } } } >;
node { name: "b" op: "Identity" input: ["a"] attr { key: "T" value { type: DT_FLOAT } } attr { key: "_class" value { list { s: "loc:@a" s: "\\x41\\101\\u00e9" } } } },
node { name: "c" op: "Mul" input: "b" input: "a:0" input: "^a" }
node { name: "s" op: "Shape" input: "c" attr { key: "out_type" value { type: DT_INT32 } } }
node { name: "f" op: "Fill" input: "s" input: "k" }
node { name: "k" op: "Const" attr { key: "dtype" value { type: 1 } } attr { key: "value" value { tensor { dtype: DT_FLOAT float_val: 0x10 } } } }
library { function { signature { name: "unused" } } }
versions { producer: 134 min_consumer: 12 }
`;

/** The corpus: every entry imports with the default options. */
export function importerCorpus(): string[] {
  const corpus = [dense(), conv(), arrays(), condModel(), frozenModel(), tf1Dense(), tf1Misc(), tf1Syntax()];
  for (const text of corpus) tf.importGraphDef(text); // a broken seed would make every mutation meaningless
  return corpus;
}
