/**
 * importGraphDef's TF1 op table (ir/graphdef/tf1-ops.ts) and the TF1 text it must read: int64
 * narrowing with its range check, Select v1's vector condition, Concat v1, StridedSlice in
 * TF's dynamic-reshape pattern, the old `Variable` op, a sweep of TF1 op types with their TF
 * attrs, unknown ops, and the text-format features TF files use. Values from plain JS.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { expectClose } from "../helpers/run";
import { bool, float, floatConst, int, intConst, ints, node, outputShapes, placeholder, shape, str, tensor, type, versions } from "./tf1-text";

const T = type("DT_FLOAT");
const I32 = type("DT_INT32");
const I64 = type("DT_INT64");

function int64Const(name: string, dims: number[], body: string[], inputs: string[] = [], extra = {}): string {
  return node(name, "Const", inputs, { _output_shapes: outputShapes(dims), dtype: I64, value: tensor("DT_INT64", dims, body), ...extra });
}

describe("DT_INT64 becomes int32", () => {
  it("global_step (VariableV2 int64) initializes and counts", () => {
    const text =
      int64Const("global_step/Initializer/zeros", [], ["int64_val: 0"]) +
      node("global_step", "VariableV2", [], { _output_shapes: outputShapes([]), container: str(""), dtype: I64, shape: shape([]), shared_name: str("") }) +
      node("global_step/Assign", "Assign", ["global_step", "global_step/Initializer/zeros"], { T: I64, use_locking: bool(true), validate_shape: bool(true) }) +
      node("global_step/read", "Identity", ["global_step"], { T: I64 }) +
      int64Const("AssignAdd/value", [], ["int64_val: 1"]) +
      node("AssignAdd", "AssignAdd", ["global_step", "AssignAdd/value"], { T: I64, use_locking: bool(false) });
    const g = tf.importGraphDef(text);
    expect(g.getTensorByName("global_step:0").dtype).toBe("int32");
    const sess = new tf.Session({ graph: g });
    sess.runSync("global_step/Assign");
    sess.runSync("AssignAdd");
    expect(sess.runSync("AssignAdd").data[0]).toBe(2);
    expect(sess.runSync("global_step/read").dtype).toBe("int32");
  });

  it("ArgMax's int64 output_type and Cast to int64 give int32 values", () => {
    const text =
      placeholder("x", "DT_FLOAT", [-1, 3]) +
      intConst("ArgMax/dimension", [], [1]) +
      node("ArgMax", "ArgMax", ["x", "ArgMax/dimension"], { T, Tidx: I32, _output_shapes: outputShapes([-1]), output_type: I64 }) +
      node("Cast", "Cast", ["x"], { DstT: I64, SrcT: T, Truncate: bool(false) });
    const g = tf.importGraphDef(text);
    const sess = new tf.Session({ graph: g });
    const x = [[1, 5, 2], [-1, -3, -0.5], [2.7, 0, 2.7]];
    const argmax = sess.runSync("ArgMax", { x });
    expect(argmax.dtype).toBe("int32");
    expect(Array.from(argmax.data)).toEqual([1, 2, 0]);
    expect(Array.from(sess.runSync("Cast", { x }).data)).toEqual(x.flat().map((v) => Math.trunc(v) + 0));
  });

  it("refuses int64 values outside int32's range, naming the node and the value", () => {
    const big = int64Const("big", [], ["int64_val: 3000000000"]);
    expect(() => tf.importGraphDef(big)).toThrowError(tf.errors.InvalidArgumentError);
    expect(() => tf.importGraphDef(big)).toThrowError(/big: attribute `value` holds the int64 value 3000000000, which does not fit in int32/);
    // -2^31 - 1 as little-endian bytes ff ff ff 7f ff ff ff ff.
    const low = int64Const("low", [2], ['tensor_content: "\\000\\000\\000\\000\\000\\000\\000\\000\\377\\377\\377\\177\\377\\377\\377\\377"']);
    expect(() => tf.importGraphDef(low)).toThrowError(/low: .*int64 value -2147483649/);
    const edge = int64Const("edge", [2], ['tensor_content: "\\000\\000\\000\\200\\377\\377\\377\\377\\377\\377\\377\\177\\000\\000\\000\\000"']);
    expect(Array.from((tf.importGraphDef(edge).getOperationByName("edge").attrs.value as tf.NDArray).data)).toEqual([-2147483648, 2147483647]);
  });
});

describe("Select (v1), Concat (v1), StridedSlice, Variable", () => {
  const x = [[1, 2, 3], [4, 5, 6]];
  const y = [[-1, -2, -3], [-4, -5, -6]];

  it("Select with a vector condition picks rows; scalar and same-shape conditions pick as SelectV2", () => {
    const text =
      placeholder("x", "DT_FLOAT", [-1, 3]) +
      placeholder("y", "DT_FLOAT", [-1, 3]) +
      placeholder("rows", "DT_BOOL", [-1]) +
      placeholder("all", "DT_BOOL", []) +
      placeholder("each", "DT_BOOL", [-1, 3]) +
      node("Select", "Select", ["rows", "x", "y"], { T, _output_shapes: outputShapes([-1, 3]) }) +
      node("Select_1", "Select", ["all", "x", "y"], { T }) +
      node("Select_2", "Select", ["each", "x", "y"], { T });
    const g = tf.importGraphDef(text);
    const sess = new tf.Session({ graph: g });
    const each = [[true, false, true], [false, false, true]];
    const feeds = { x, y, rows: [false, true], all: true, each };
    expect(sess.runSync("Select", feeds).toArray()).toEqual([y[0], x[1]]);
    expect(sess.runSync("Select_1", feeds).toArray()).toEqual(x);
    expect(sess.runSync("Select_2", feeds).toArray()).toEqual(each.map((r, i) => r.map((c, j) => (c ? x[i][j] : y[i][j]))));
    expect(g.getOperationByName("Select").type).toBe("SelectV2");
  });

  it("Select with a vector condition and values of unknown rank is a clear error", () => {
    const text = placeholder("x", "DT_FLOAT", null) + placeholder("c", "DT_BOOL", [-1]) + node("pick", "Select", ["c", "x", "x"], { T });
    expect(() => tf.importGraphDef(text)).toThrowError(/pick: cannot import Select: the rank/);
  });

  it("Concat takes its dimension first; ConcatV2 last", () => {
    const text =
      placeholder("x", "DT_FLOAT", [-1, 3]) +
      placeholder("y", "DT_FLOAT", [-1, 3]) +
      intConst("concat/concat_dim", [], [1]) +
      node("concat", "Concat", ["concat/concat_dim", "x", "y"], { N: int(2), T }) +
      intConst("concat_1/axis", [], [0]) +
      node("concat_1", "ConcatV2", ["x", "y", "concat_1/axis"], { N: int(2), T, Tidx: I32 });
    const g = tf.importGraphDef(text);
    const sess = new tf.Session({ graph: g });
    expect(g.getTensorByName("concat:0").shape).toEqual([null, 6]);
    expect(sess.runSync("concat", { x, y }).toArray()).toEqual(x.map((r, i) => [...r, ...y[i]]));
    expect(sess.runSync("concat_1", { x, y }).toArray()).toEqual([...x, ...y]);
  });

  it("tf.reshape(x, [tf.shape(x)[0], -1]) as TF 1.15 writes it (Shape, StridedSlice, Pack)", () => {
    const text =
      placeholder("x", "DT_FLOAT", [-1, 2, 3]) +
      node("Shape", "Shape", ["x"], { T, _output_shapes: outputShapes([3]), out_type: I32 }) +
      intConst("strided_slice/stack", [1], [0]) +
      intConst("strided_slice/stack_1", [1], [1]) +
      intConst("strided_slice/stack_2", [1], [1]) +
      node("strided_slice", "StridedSlice", ["Shape", "strided_slice/stack", "strided_slice/stack_1", "strided_slice/stack_2"], {
        Index: I32, T: I32, _output_shapes: outputShapes([]), begin_mask: int(0), ellipsis_mask: int(0), end_mask: int(0), new_axis_mask: int(0), shrink_axis_mask: int(1),
      }) +
      intConst("Reshape/shape/1", [], [-1]) +
      node("Reshape/shape", "Pack", ["strided_slice", "Reshape/shape/1"], { N: int(2), T: I32, _output_shapes: outputShapes([2]), axis: int(0) }) +
      node("Reshape", "Reshape", ["x", "Reshape/shape"], { T, Tshape: I32, _output_shapes: outputShapes([-1, -1]) });
    const g = tf.importGraphDef(text);
    expect(g.getTensorByName("strided_slice:0").shape).toEqual([]);
    const input = [[[1, 2, 3], [4, 5, 6]], [[7, 8, 9], [10, 11, 12]], [[0, 0, 0], [1, 1, 1]]];
    const out = new tf.Session({ graph: g }).runSync("Reshape", { x: input });
    expect(out.toArray()).toEqual(input.map((m) => m.flat()));
  });

  it("the old `Variable` op is a VariableV2", () => {
    const text =
      floatConst("v/initial_value", [2], [3, 4]) +
      node("v", "Variable", [], { dtype: T, shape: shape([2]), container: str(""), shared_name: str("") }) +
      node("v/Assign", "Assign", ["v", "v/initial_value"], { T, use_locking: bool(true), validate_shape: bool(true) });
    const g = tf.importGraphDef(text);
    expect(g.getOperationByName("v").type).toBe("VariableV2");
    expect(Array.from(new tf.Session({ graph: g }).runSync("v/Assign").data)).toEqual([3, 4]);
  });
});

describe("a sweep of TF1 op types with TF's attrs", () => {
  const X = [[0.5, -1, 2], [3, -0.25, 1]];
  const Y = [[1, 2, -1], [0.5, -0.25, 4]];
  const flat = X.flat();
  const map = (f: (v: number, i: number) => number) => flat.map(f);
  const unary = (name: string, op: string) => node(name, op, ["x"], { T, _output_shapes: outputShapes([2, 3]) });
  const binary = (name: string, op: string, a = "x", b = "y") => node(name, op, [a, b], { T, _output_shapes: outputShapes([2, 3]) });
  const softmaxRow = (r: number[]) => r.map((v) => Math.exp(v) / r.reduce((s, u) => s + Math.exp(u), 0));
  const text =
    placeholder("x", "DT_FLOAT", [2, 3]) +
    placeholder("y", "DT_FLOAT", [2, 3]) +
    ["Sigmoid", "Tanh", "Exp", "Neg", "Square", "Relu", "Relu6", "Softmax"].map((op) => unary(op, op)).join("") +
    binary("Add", "Add") + binary("AddV2", "AddV2") + binary("Sub", "Sub") + binary("Mul", "Mul") + binary("RealDiv", "RealDiv") +
    binary("Maximum", "Maximum") + binary("Minimum", "Minimum") + binary("SquaredDifference", "SquaredDifference") +
    node("sq1", "AddV2", ["Square", "one"], { T }) + floatConst("one", [], [1]) +
    node("Log", "Log", ["sq1"], { T }) + node("Sqrt", "Sqrt", ["sq1"], { T }) + node("Rsqrt", "Rsqrt", ["sq1"], { T }) +
    intConst("Mean/reduction_indices", [1], [1]) +
    node("Mean", "Mean", ["x", "Mean/reduction_indices"], { T, Tidx: I32, _output_shapes: outputShapes([2, 1]), keep_dims: bool(true) }) +
    intConst("Sum/reduction_indices", [], [0]) +
    node("Sum", "Sum", ["x", "Sum/reduction_indices"], { T, Tidx: I32, keep_dims: bool(false) }) +
    intConst("transpose/perm", [2], [1, 0]) +
    node("transpose", "Transpose", ["x", "transpose/perm"], { T, Tperm: I32 }) +
    intConst("Pad/paddings", [2, 2], [0, 1, 1, 0]) +
    node("Pad", "Pad", ["x", "Pad/paddings"], { T, Tpaddings: I32 }) +
    intConst("ExpandDims/dim", [], [0]) +
    node("ExpandDims", "ExpandDims", ["x", "ExpandDims/dim"], { T, Tdim: I32 }) +
    node("Squeeze", "Squeeze", ["ExpandDims"], { T, squeeze_dims: ints([0]) }) +
    intConst("Fill/dims", [2], [2, 2]) + floatConst("Fill/value", [], [1.5]) +
    node("Fill", "Fill", ["Fill/dims", "Fill/value"], { T, index_type: I32 }) +
    node("Greater", "Greater", ["x", "y"], { T }) + node("Less", "Less", ["x", "y"], { T }) + node("Equal", "Equal", ["x", "x"], { T, incompatible_shape_error: bool(true) }) +
    node("LogicalAnd", "LogicalAnd", ["Greater", "Equal"], {}) +
    intConst("Reshape/shape", [4], [1, 2, 3, 1]) +
    node("x4", "Reshape", ["x", "Reshape/shape"], { T, Tshape: I32 }) +
    node("MaxPool", "MaxPool", ["x4"], { T, data_format: str("NHWC"), ksize: ints([1, 2, 2, 1]), padding: str("VALID"), strides: ints([1, 1, 1, 1]) }) +
    node("AvgPool", "AvgPool", ["x4"], { T, data_format: str("NHWC"), ksize: ints([1, 2, 2, 1]), padding: str("VALID"), strides: ints([1, 1, 1, 1]) }) +
    floatConst("w", [3, 2], [1, 0, -1, 2, 0.5, 1]) +
    node("MatMul", "MatMul", ["x", "w"], { T, transpose_a: bool(false), transpose_b: bool(false) }) +
    floatConst("b", [2], [0.25, -0.75]) +
    node("BiasAdd", "BiasAdd", ["MatMul", "b"], { T, data_format: str("NHWC") }) +
    node("Identity", "Identity", ["BiasAdd", "^NoOp"], { T }) + node("NoOp", "NoOp", []) +
    versions();
  const y = Y.flat();
  const sq1 = map((v) => v * v + 1);
  const expected: Record<string, number[]> = {
    Sigmoid: map((v) => 1 / (1 + Math.exp(-v))),
    Tanh: map(Math.tanh),
    Exp: map(Math.exp),
    Neg: map((v) => -v),
    Square: map((v) => v * v),
    Relu: map((v) => Math.max(v, 0)),
    Relu6: map((v) => Math.min(Math.max(v, 0), 6)),
    Softmax: X.flatMap(softmaxRow),
    Add: map((v, i) => v + y[i]),
    AddV2: map((v, i) => v + y[i]),
    Sub: map((v, i) => v - y[i]),
    Mul: map((v, i) => v * y[i]),
    RealDiv: map((v, i) => v / y[i]),
    Maximum: map((v, i) => Math.max(v, y[i])),
    Minimum: map((v, i) => Math.min(v, y[i])),
    SquaredDifference: map((v, i) => (v - y[i]) ** 2),
    Log: sq1.map(Math.log),
    Sqrt: sq1.map(Math.sqrt),
    Rsqrt: sq1.map((v) => 1 / Math.sqrt(v)),
    Mean: X.map((r) => r.reduce((a, b) => a + b, 0) / 3),
    Sum: [0, 1, 2].map((j) => X[0][j] + X[1][j]),
    transpose: [0, 1, 2].flatMap((j) => [X[0][j], X[1][j]]),
    Pad: [0, ...X[0], 0, ...X[1], 0, 0, 0, 0],
    Squeeze: flat,
    Fill: [1.5, 1.5, 1.5, 1.5],
    Greater: map((v, i) => Number(v > y[i])),
    Less: map((v, i) => Number(v < y[i])),
    LogicalAnd: map((v, i) => Number(v > y[i])),
    MaxPool: [0, 1].map((j) => Math.max(X[0][j], X[0][j + 1], X[1][j], X[1][j + 1])),
    AvgPool: [0, 1].map((j) => (X[0][j] + X[0][j + 1] + X[1][j] + X[1][j + 1]) / 4),
    Identity: X.flatMap((r) => [r[0] * 1 + r[1] * -1 + r[2] * 0.5 + 0.25, r[0] * 0 + r[1] * 2 + r[2] * 1 - 0.75]),
  };

  it("every op computes what TF computes", () => {
    const g = tf.importGraphDef(text);
    const sess = new tf.Session({ graph: g });
    const names = Object.keys(expected);
    const values = sess.runSync(names, { x: X, y: Y });
    names.forEach((name, i) => {
      try {
        expectClose(values[i].data, expected[name], 1e-5, 1e-6);
      } catch (e) {
        throw new Error(`${name}: ${(e as Error).message}`);
      }
    });
    expect(values[names.indexOf("Mean")].shape).toEqual([2, 1]);
    expect(values[names.indexOf("Pad")].shape).toEqual([3, 4]);
  });
});

describe("unknown ops and the text format of TF files", () => {
  it("an unknown op is a NotFoundError naming the op type and the node, with the closest name", () => {
    const text = placeholder("x", "DT_FLOAT", [2]) + node("model/read", "ReadVariableOpp", ["x"], { dtype: T });
    expect(() => tf.importGraphDef(text)).toThrowError(tf.errors.NotFoundError);
    expect(() => tf.importGraphDef(text)).toThrowError(/model\/read: op type `ReadVariableOpp` is not registered.*did you mean `ReadVariableOp`/);
    const v4 = placeholder("x", "DT_FLOAT", [2]) + node("bn", "FusedBatchNormV4", ["x"]);
    expect(() => tf.importGraphDef(v4)).toThrowError(/bn: op type `FusedBatchNormV4`.*`FusedBatchNormV3`/);
  });

  it("reads comments, colons before `{`, angle brackets, `library` and `versions`", () => {
    const text = `# Written by hand in TF's style
node {
  name: "a"   # a constant
  op: "Const"
  attr: {
    key: "dtype"
    value: { type: DT_FLOAT }
  }
  attr <
    key: "value"
    value < tensor { dtype: DT_FLOAT tensor_shape { dim { size: 2 } } float_val: [1.5, 2.5] } >
  >
}
node { name: "b" op: "Neg" input: "a" attr { key: "T" value { type: DT_FLOAT } } }
library {
  function {
    signature { name: "unused_fn" output_arg { name: "out" type: DT_FLOAT } }
  }
}
versions { producer: 134 min_consumer: 12 }
`;
    const g = tf.importGraphDef(text);
    expect(Array.from(new tf.Session({ graph: g }).runSync("b").data)).toEqual([-1.5, -2.5]);
  });

  it("reports a syntax error with its line and column", () => {
    const text = placeholder("x", "DT_FLOAT", [2]) + 'node {\n  name: "y"\n  op: "Neg"\n  input: "x"\n  attr { key: "T" value { type DT_FLOAT } }\n}\n';
    expect(() => tf.importGraphDef(text)).toThrowError(tf.errors.InvalidArgumentError);
    const lines = placeholder("x", "DT_FLOAT", [2]).split("\n").length - 1;
    expect(() => tf.importGraphDef(text)).toThrowError(new RegExp(`line ${lines + 5}, column \\d+`));
    const fixed = text.replace("type DT_FLOAT", "type: DT_FLOAT");
    expect(tf.importGraphDef(fixed).getOperationByName("y").type).toBe("Neg");
    expect(() => tf.importGraphDef(fixed.slice(0, -3))).toThrowError(/line \d+, column \d+: the text ends too early/);
  });

  it("accepts attrs foldflow's schemas lack and ignores an empty `_class`", () => {
    const text = placeholder("x", "DT_FLOAT", [2, 2]) + node("y", "Relu", ["x"], { T, _class: ints([]), _kernel: str("host"), use_cudnn_on_gpu: bool(true), some_float: float("0.5") });
    const g = tf.importGraphDef(text);
    expect(g.getOperationByName("y").attrs).toMatchObject({ _kernel: "host", use_cudnn_on_gpu: true, some_float: 0.5 });
  });
});
