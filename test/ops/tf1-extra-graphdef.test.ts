/**
 * The TF1 extra ops through GraphDef text: each op written by `g.asGraphDef().toText()` imports
 * back with its type and attributes and computes the same numbers; a TF1-style .pbtxt (TF's
 * attribute sets: T, Tidx, Tpaddings ..., tf.assert_positive's AssertGuard cond with string
 * Consts) imports and runs; and every one runs on the default backend with the interpreter's
 * numbers.
 */
import { afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import * as tf from "foldflow";
import { expectClose } from "../helpers/run";
import { tfjs, tfjsReady, tfjsValues } from "../helpers/tfjs";
import { binary } from "../../ir/ops/elementwise";
import { leakyReluGrad } from "../../ir/ops/activation";
import { mirrorPadGrad } from "../../ir/ops/array/pad";
import { data, expectInvalid } from "./array-helpers";

beforeAll(() => tfjsReady());
beforeEach(() => {
  vi.spyOn(process.stderr, "write").mockImplementation(() => true);
});
afterEach(() => vi.restoreAllMocks());

const X = tf.ndarray(data([2, 3], 21), [2, 3]);
const ph = () => tf.placeholder("float32", [null, 3], "x");

/** Results of `fetch` on the interpreter, then on the default (wasm) and js backends: the same numbers. */
function runBoth(graph: tf.Graph, fetch: string, feeds: Record<string, tf.FeedValue>): tf.NDArray {
  const expected = new tf.Session({ graph, backend: "interpreter" }).runSync(fetch, feeds);
  for (const backend of [undefined, "js"] as const) {
    const actual = new tf.Session({ graph, backend }).runSync(fetch, feeds);
    expect([actual.dtype, actual.shape]).toEqual([expected.dtype, expected.shape]);
    expectClose(actual.values(), expected.values(), 1e-6, 1e-6);
  }
  return expected;
}

const cases: [string, () => tf.Tensor][] = [
  ["Rank", () => tf.rank(tf.placeholder("float32", null, "u"))],
  ["Size", () => tf.size(ph())],
  ["ShapeN", () => tf.shapeN([ph(), tf.constant([[1]], [1, 1])])[1]],
  ["Range", () => tf.range(0.5, 3, 0.25)],
  ["Range", () => tf.range(tf.size(ph()), 0, -2)],
  ["Div", () => tf.getDefaultGraph().addOp({ type: "Div", inputs: [tf.constant([9, -9, 4], [3], "int32"), tf.constant([2, 2, -3], [3], "int32")] }).outputs[0]],
  ["Div", () => tf.getDefaultGraph().addOp({ type: "Div", inputs: [ph(), tf.constant([2, 4, -8], [3])] }).outputs[0]],
  ["LeakyRelu", () => tf.nn.leakyRelu(ph(), 0.3)],
  ["LeakyReluGrad", () => leakyReluGrad(tf.constant(tf.ndarray(data([2, 3], 22), [2, 3])), ph(), 0.7)],
  ["Softplus", () => tf.nn.softplus(ph())],
  ["SoftplusGrad", () => binary("SoftplusGrad", tf.constant(tf.ndarray(data([2, 3], 23), [2, 3])), ph())],
  ["Softsign", () => tf.nn.softsign(ph())],
  ["SoftsignGrad", () => binary("SoftsignGrad", tf.constant(tf.ndarray(data([2, 3], 24), [2, 3])), ph())],
  ["PadV2", () => tf.pad(ph(), [[1, 0], [0, 2]], "CONSTANT", undefined, 1.5)],
  ["MirrorPad", () => tf.pad(ph(), [[1, 1], [2, 0]], "REFLECT")],
  ["MirrorPadGrad", () => mirrorPadGrad(ph(), [[0, 1], [1, 0]], "SYMMETRIC")],
  ["Cumsum", () => tf.cumsum(ph(), 1, true, true)],
  ["Print", () => tf.Print(ph(), ["x:", ph()], "msg ", { firstN: 3, summarize: 2 })],
  ["Assert", () => {
    const x = ph();
    return tf.controlDependencies([tf.assertGreater(x, -10, { message: "big" })], () => tf.identity(x, "checked"));
  }],
];

describe("GraphDef text round trip", () => {
  for (const [type, build] of cases)
    it(type, () => {
      const g = new tf.Graph();
      const out = g.asDefault(build);
      const original = g.operations.find((o) => o.type === type)!;
      expect(original, `no ${type} op`).toBeDefined();
      const text = g.asGraphDef().toText();
      expect(text).toContain(`op: "${type}"`);
      const g2 = tf.importGraphDef(text);
      const imported = g2.getOperationByName(original.name);
      expect(imported.type).toBe(type);
      expect(imported.attrs).toEqual(original.attrs);
      expect(imported.inputs.map((t) => t.name)).toEqual(original.inputs.map((t) => t.name));
      const feeds = Object.fromEntries(g.operations.filter((o) => o.type === "Placeholder").map((p) => [p.name, p.outputs[0].shape === null ? [[1, 2]] : X]));
      const before = new tf.Session({ graph: g, backend: "interpreter" }).runSync(out, feeds);
      const after = runBoth(g2, out.name, feeds);
      expect(after.values()).toEqual(before.values());
    });

  it("a string in an Assert's data comes back as a string", () => {
    const g = new tf.Graph();
    g.asDefault(() => tf.Assert(tf.placeholder("bool", [], "c"), ["float32", "a \"quoted\"\nline", tf.constant([1, 2], [2])], 3, "check"));
    const g2 = tf.importGraphDef(g.asGraphDef().toText());
    const op = g2.getOperationByName("check/Assert");
    expect(op.attrs._string_data).toEqual(["float32", "a \"quoted\"\nline"]);
    expectInvalid(() => new tf.Session({ graph: g2 }).runSync(op, { c: false }), "check/Assert", 'assertion failed: [float32] [a \\"quoted\\"\\nline] [1 2]');
  });
});

/** What TF 1.15 writes for the ops of this file (trimmed of _output_shapes). */
const TF1_PBTXT = String.raw`
node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "shape" value { shape { dim { size: -1 } dim { size: 3 } } } } }
node { name: "range/start" op: "Const" attr { key: "dtype" value { type: DT_INT32 } } attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { } int_val: 0 } } } }
node { name: "range/limit" op: "Const" attr { key: "dtype" value { type: DT_INT32 } } attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { } int_val: 6 } } } }
node { name: "range/delta" op: "Const" attr { key: "dtype" value { type: DT_INT32 } } attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { } int_val: 2 } } } }
node { name: "range" op: "Range" input: "range/start" input: "range/limit" input: "range/delta" attr { key: "Tidx" value { type: DT_INT32 } } }
node { name: "Cumsum/axis" op: "Const" attr { key: "dtype" value { type: DT_INT32 } } attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { } int_val: 1 } } } }
node { name: "Cumsum" op: "Cumsum" input: "x" input: "Cumsum/axis" attr { key: "T" value { type: DT_FLOAT } } attr { key: "Tidx" value { type: DT_INT32 } } attr { key: "exclusive" value { b: true } } attr { key: "reverse" value { b: false } } }
node { name: "LeakyRelu" op: "LeakyRelu" input: "x" attr { key: "T" value { type: DT_FLOAT } } attr { key: "alpha" value { f: 0.1 } } }
node { name: "Softplus" op: "Softplus" input: "x" attr { key: "T" value { type: DT_FLOAT } } }
node { name: "PadV2/paddings" op: "Const" attr { key: "dtype" value { type: DT_INT32 } } attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 2 } dim { size: 2 } } tensor_content: "\000\000\000\000\000\000\000\000\001\000\000\000\001\000\000\000" } } } }
node { name: "PadV2/constant_values" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { } float_val: 2 } } } }
node { name: "PadV2" op: "PadV2" input: "x" input: "PadV2/paddings" input: "PadV2/constant_values" attr { key: "T" value { type: DT_FLOAT } } attr { key: "Tpaddings" value { type: DT_INT32 } } }
node { name: "MirrorPad" op: "MirrorPad" input: "x" input: "PadV2/paddings" attr { key: "T" value { type: DT_FLOAT } } attr { key: "Tpaddings" value { type: DT_INT32 } } attr { key: "mode" value { s: "REFLECT" } } }
node { name: "Size" op: "Size" input: "x" attr { key: "T" value { type: DT_FLOAT } } attr { key: "out_type" value { type: DT_INT32 } } }
node { name: "ShapeN" op: "ShapeN" input: "x" input: "LeakyRelu" attr { key: "N" value { i: 2 } } attr { key: "T" value { type: DT_FLOAT } } attr { key: "out_type" value { type: DT_INT32 } } }
node { name: "Print" op: "Print" input: "x" input: "x" attr { key: "T" value { type: DT_FLOAT } } attr { key: "U" value { list { type: DT_FLOAT } } } attr { key: "first_n" value { i: -1 } } attr { key: "message" value { s: "x: " } } attr { key: "summarize" value { i: 3 } } }
node { name: "assert_positive/Const" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "value" value { tensor { dtype: DT_FLOAT tensor_shape { } float_val: 0 } } } }
node { name: "assert_positive/assert_less/Less" op: "Less" input: "assert_positive/Const" input: "x" attr { key: "T" value { type: DT_FLOAT } } }
node { name: "assert_positive/assert_less/Const" op: "Const" attr { key: "dtype" value { type: DT_INT32 } } attr { key: "value" value { tensor { dtype: DT_INT32 tensor_shape { dim { size: 2 } } tensor_content: "\000\000\000\000\001\000\000\000" } } } }
node { name: "assert_positive/assert_less/All" op: "All" input: "assert_positive/assert_less/Less" input: "assert_positive/assert_less/Const" attr { key: "Tidx" value { type: DT_INT32 } } attr { key: "keep_dims" value { b: false } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/Switch" op: "Switch" input: "assert_positive/assert_less/All" input: "assert_positive/assert_less/All" attr { key: "T" value { type: DT_BOOL } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/switch_t" op: "Identity" input: "assert_positive/assert_less/Assert/AssertGuard/Switch:1" attr { key: "T" value { type: DT_BOOL } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/switch_f" op: "Identity" input: "assert_positive/assert_less/Assert/AssertGuard/Switch" attr { key: "T" value { type: DT_BOOL } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/pred_id" op: "Identity" input: "assert_positive/assert_less/All" attr { key: "T" value { type: DT_BOOL } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/NoOp" op: "NoOp" input: "^assert_positive/assert_less/Assert/AssertGuard/switch_t" }
node { name: "assert_positive/assert_less/Assert/AssertGuard/control_dependency" op: "Identity" input: "assert_positive/assert_less/Assert/AssertGuard/switch_t" input: "^assert_positive/assert_less/Assert/AssertGuard/NoOp" attr { key: "T" value { type: DT_BOOL } } attr { key: "_class" value { list { s: "loc:@assert_positive/assert_less/Assert/AssertGuard/switch_t" } } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/Assert/data_0" op: "Const" input: "^assert_positive/assert_less/Assert/AssertGuard/switch_f" attr { key: "dtype" value { type: DT_STRING } } attr { key: "value" value { tensor { dtype: DT_STRING tensor_shape { } string_val: "x must be positive" } } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/Assert/data_1" op: "Const" input: "^assert_positive/assert_less/Assert/AssertGuard/switch_f" attr { key: "dtype" value { type: DT_STRING } } attr { key: "value" value { tensor { dtype: DT_STRING tensor_shape { } string_val: "Condition x > 0 did not hold element-wise:" } } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/Assert/data_2" op: "Const" input: "^assert_positive/assert_less/Assert/AssertGuard/switch_f" attr { key: "dtype" value { type: DT_STRING } } attr { key: "value" value { tensor { dtype: DT_STRING tensor_shape { } string_val: "x (x:0) = " } } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/Assert/Switch" op: "Switch" input: "assert_positive/assert_less/All" input: "assert_positive/assert_less/Assert/AssertGuard/pred_id" attr { key: "T" value { type: DT_BOOL } } attr { key: "_class" value { list { s: "loc:@assert_positive/assert_less/All" } } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/Assert/Switch_1" op: "Switch" input: "x" input: "assert_positive/assert_less/Assert/AssertGuard/pred_id" attr { key: "T" value { type: DT_FLOAT } } attr { key: "_class" value { list { s: "loc:@x" } } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/Assert" op: "Assert" input: "assert_positive/assert_less/Assert/AssertGuard/Assert/Switch" input: "assert_positive/assert_less/Assert/AssertGuard/Assert/data_0" input: "assert_positive/assert_less/Assert/AssertGuard/Assert/data_1" input: "assert_positive/assert_less/Assert/AssertGuard/Assert/data_2" input: "assert_positive/assert_less/Assert/AssertGuard/Assert/Switch_1" attr { key: "T" value { list { type: DT_STRING type: DT_STRING type: DT_STRING type: DT_FLOAT } } } attr { key: "summarize" value { i: 3 } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/control_dependency_1" op: "Identity" input: "assert_positive/assert_less/Assert/AssertGuard/switch_f" input: "^assert_positive/assert_less/Assert/AssertGuard/Assert" attr { key: "T" value { type: DT_BOOL } } attr { key: "_class" value { list { s: "loc:@assert_positive/assert_less/Assert/AssertGuard/switch_f" } } } }
node { name: "assert_positive/assert_less/Assert/AssertGuard/Merge" op: "Merge" input: "assert_positive/assert_less/Assert/AssertGuard/control_dependency_1" input: "assert_positive/assert_less/Assert/AssertGuard/control_dependency" attr { key: "N" value { i: 2 } } attr { key: "T" value { type: DT_BOOL } } }
node { name: "y" op: "Identity" input: "Print" input: "^assert_positive/assert_less/Assert/AssertGuard/Merge" attr { key: "T" value { type: DT_FLOAT } } }
versions { producer: 134 }
`;

describe("a TF1 .pbtxt", () => {
  const positive = tf.ndarray(data([2, 3], 25).map(Math.abs), [2, 3]);
  const t = tfjs.tensor(positive.values(), [2, 3]);

  it("imports with TF's attributes, the Assert's strings folded into it", () => {
    const g = tf.importGraphDef(TF1_PBTXT);
    const check = g.getOperationByName("assert_positive/assert_less/Assert/AssertGuard/Assert");
    expect(check.inputs.map((i) => i.name)).toEqual(["assert_positive/assert_less/Assert/AssertGuard/Assert/Switch:0", "assert_positive/assert_less/Assert/AssertGuard/Assert/Switch_1:0"]);
    expect(check.attrs).toMatchObject({ T: ["float32"], summarize: 3, _string_positions: [0, 1, 2] });
    expect(g.hasOperation("assert_positive/assert_less/Assert/AssertGuard/Assert/data_0")).toBe(false);
    expect(g.getOperationByName("Cumsum").attrs).toMatchObject({ exclusive: true, reverse: false, T: "float32", Tidx: "int32" });
    expect(g.getTensorByName("range:0").shape).toEqual([3]);
    // It writes itself out and imports again.
    expect(tf.importGraphDef(g.asGraphDef().toText()).getOperationByName(check.name).attrs).toEqual(check.attrs);
  });

  it("computes TF's numbers on the interpreter and the default backend", () => {
    const g = tf.importGraphDef(TF1_PBTXT);
    const feeds = { x: positive };
    const value = (name: string) => runBoth(g, name, feeds);
    expect(value("range:0").values()).toEqual([0, 2, 4]);
    expectClose(value("Cumsum:0").values(), tfjsValues(tfjs.cumsum(t, 1, true)));
    expectClose(value("LeakyRelu:0").values(), tfjsValues(tfjs.leakyRelu(t, 0.1)));
    expectClose(value("Softplus:0").values(), tfjsValues(tfjs.softplus(t)));
    expectClose(value("PadV2:0").values(), tfjsValues(tfjs.pad(t, [[0, 0], [1, 1]], 2)));
    expectClose(value("MirrorPad:0").values(), tfjsValues(tfjs.mirrorPad(t, [[0, 0], [1, 1]], "reflect")));
    expect(value("Size:0").scalar()).toBe(6);
    expect(value("ShapeN:1").values()).toEqual([2, 3]);
    expect(value("y:0").values()).toEqual(positive.values());
  });

  for (const backend of ["interpreter", undefined, "js"] as const)
    it(`fails the run on a non-positive x with the assertion's strings and values (${backend ?? "default backend"})`, () => {
      const g = tf.importGraphDef(TF1_PBTXT);
      const x = tf.ndarray([1, 2, -3, 4, 5, 6], [2, 3]);
      expectInvalid(() => new tf.Session({ graph: g, backend }).runSync("y:0", { x }), "assert_positive/assert_less/Assert/AssertGuard/Assert",
        "assertion failed: [x must be positive] [Condition x > 0 did not hold element-wise:] [x (x:0) = ] [[1 2 -3]...]");
    });

  it("keeps refusing a string Const with another use, naming it", () => {
    const text = TF1_PBTXT.replace('node { name: "y" op: "Identity" input: "Print"', 'node { name: "s" op: "Identity" input: "assert_positive/assert_less/Assert/AssertGuard/Assert/data_0" }\nnode { name: "y" op: "Identity" input: "Print"');
    let error: unknown;
    try {
      tf.importGraphDef(text);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(tf.errors.OpError);
    expect((error as tf.errors.OpError).message).toContain("assert_positive/assert_less/Assert/AssertGuard/Assert/data_0");
  });
});
