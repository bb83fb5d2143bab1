/**
 * importGraphDef on GraphDefs as TF 1.15 writes them (tf.io.write_graph): `T` / `U` /
 * `_output_shapes` / `_class` / `use_cudnn_on_gpu` / `explicit_paddings` attrs, tensor_content
 * with octal escapes, int64 constants, ref and resource variables, tf.cond's Switch/Merge.
 * Every number is checked against plain JS loops.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { expectClose, randomData } from "../helpers/run";
import {
  bool, content, float, floatConst, int, intConst, ints, loc, node, outputShapes, placeholder, refVariable, shape, str, strs, tensor, type, versions,
} from "./tf1-text";

const T = type("DT_FLOAT");

/** NHWC convolution (or depthwise with multiplier `m`) with TF's SAME padding, in plain loops. */
function convSame(x: Float32Array, xs: number[], k: Float32Array, ks: number[], stride: number, depthwise: boolean): { y: number[]; shape: number[] } {
  const [n, h, w, c] = xs;
  const [kh, kw, , m] = ks;
  const oh = Math.ceil(h / stride);
  const ow = Math.ceil(w / stride);
  const padH = Math.floor(Math.max((oh - 1) * stride + kh - h, 0) / 2);
  const padW = Math.floor(Math.max((ow - 1) * stride + kw - w, 0) / 2);
  const oc = depthwise ? c * m : m;
  const y = new Array<number>(n * oh * ow * oc).fill(0);
  for (let b = 0; b < n; b++)
    for (let i = 0; i < oh; i++)
      for (let j = 0; j < ow; j++)
        for (let o = 0; o < oc; o++) {
          let sum = 0;
          for (let p = 0; p < kh; p++)
            for (let q = 0; q < kw; q++) {
              const r = i * stride + p - padH;
              const s = j * stride + q - padW;
              if (r < 0 || r >= h || s < 0 || s >= w) continue;
              if (depthwise) {
                const ch = Math.floor(o / m);
                sum += x[((b * h + r) * w + s) * c + ch] * k[((p * kw + q) * c + ch) * m + (o % m)];
              } else for (let ch = 0; ch < c; ch++) sum += x[((b * h + r) * w + s) * c + ch] * k[((p * kw + q) * c + ch) * m + o];
            }
          y[((b * oh + i) * ow + j) * oc + o] = sum;
        }
  return { y, shape: [n, oh, ow, oc] };
}

/** Inference batch norm over the last axis. */
function batchNorm(v: number[], channels: number, p: { gamma: Float32Array; beta: Float32Array; mean: Float32Array; variance: Float32Array }, eps: number): number[] {
  return v.map((x, i) => {
    const c = i % channels;
    return ((x - p.mean[c]) / Math.sqrt(p.variance[c] + eps)) * p.gamma[c] + p.beta[c];
  });
}

function bnParams(channels: number, seed: number) {
  return {
    gamma: randomData(channels, seed, 0.5, 1.5),
    beta: randomData(channels, seed + 1, -0.5, 0.5),
    mean: randomData(channels, seed + 2, -0.3, 0.3),
    variance: randomData(channels, seed + 3, 0.2, 2),
  };
}

describe("TF1: conv2d + FusedBatchNormV3 (inference) over ref variables", () => {
  const K = randomData(3 * 3 * 2 * 3, 11);
  const bn = bnParams(3, 20);
  const bnVars = { gamma: "gamma", beta: "beta", mean: "moving_mean", variance: "moving_variance" } as const;
  const text =
    placeholder("x", "DT_FLOAT", [-1, 4, 4, 2]) +
    refVariable("conv2d/kernel", [3, 3, 2, 3], K) +
    intConst("conv2d/dilation_rate", [2], [1, 1]) +
    node("conv2d/Conv2D", "Conv2D", ["x", "conv2d/kernel/read"], {
      T, _output_shapes: outputShapes([-1, 4, 4, 3]), data_format: str("NHWC"), dilations: ints([1, 1, 1, 1]),
      explicit_paddings: ints([]), padding: str("SAME"), strides: ints([1, 1, 1, 1]), use_cudnn_on_gpu: bool(true),
    }) +
    (Object.keys(bnVars) as (keyof typeof bnVars)[]).map((k) => refVariable(`batch_normalization/${bnVars[k]}`, [3], bn[k])).join("") +
    node("batch_normalization/FusedBatchNormV3", "FusedBatchNormV3",
      ["conv2d/Conv2D", ...Object.values(bnVars).map((v) => `batch_normalization/${v}/read`)], {
        T, U: T, _output_shapes: outputShapes([-1, 4, 4, 3], [3], [3], [3], [3], null), data_format: str("NHWC"), epsilon: float("0.001"), is_training: bool(false),
      }) +
    node("Relu", "Relu", ["batch_normalization/FusedBatchNormV3"], { T, _output_shapes: outputShapes([-1, 4, 4, 3]) }) +
    node("init", "NoOp", ["^conv2d/kernel/Assign", ...Object.values(bnVars).map((v) => `^batch_normalization/${v}/Assign`)]) +
    versions();

  it("imports, initializes and matches conv -> batch norm -> relu computed in loops", () => {
    const g = tf.importGraphDef(text);
    expect(g.getTensorByName("Relu:0").shape).toEqual([null, 4, 4, 3]);
    expect(g.getOperationByName("conv2d/Conv2D").attrs).toMatchObject({ use_cudnn_on_gpu: true, explicit_paddings: [], T: "float32" });
    const sess = new tf.Session({ graph: g });
    sess.runSync("init");
    const x = randomData(2 * 4 * 4 * 2, 3);
    const out = sess.runSync("Relu:0", { x: tf.ndarray(x, [2, 4, 4, 2]) });
    const conv = convSame(x, [2, 4, 4, 2], K, [3, 3, 2, 3], 1, false);
    const expected = batchNorm(conv.y, 3, bn, 0.001).map((v) => Math.max(v, 0));
    expect(out.shape).toEqual([2, 4, 4, 3]);
    expectClose(out.data, expected, 1e-5, 1e-5);
    expect(expected.some((v) => v === 0) && expected.some((v) => v > 0)).toBe(true);
  });

  it("writes the graph back with the TF attributes it read", () => {
    const back = tf.importGraphDef(tf.importGraphDef(text).asGraphDef().toText());
    expect(back.getOperationByName("batch_normalization/FusedBatchNormV3").attrs).toMatchObject({ U: "float32", is_training: false, epsilon: 0.001 });
  });
});

describe("TF1: depthwise conv + FusedBatchNorm (frozen constants)", () => {
  it("matches depthwise conv (multiplier 2, stride 2, SAME) -> batch norm -> relu6 in loops", () => {
    const W = randomData(3 * 3 * 2 * 2, 31);
    const bn = bnParams(4, 40);
    const text =
      placeholder("input", "DT_FLOAT", [-1, 5, 5, 2]) +
      floatConst("depthwise_weights", [3, 3, 2, 2], W) +
      intConst("depthwise/Shape", [4], [3, 3, 2, 2]) +
      intConst("depthwise/dilation_rate", [2], [1, 1]) +
      node("depthwise", "DepthwiseConv2dNative", ["input", "depthwise_weights"], {
        T, _output_shapes: outputShapes([-1, 3, 3, 4]), data_format: str("NHWC"), dilations: ints([1, 1, 1, 1]), padding: str("SAME"), strides: ints([1, 2, 2, 1]),
      }) +
      floatConst("bn/gamma", [4], bn.gamma) + floatConst("bn/beta", [4], bn.beta) + floatConst("bn/moving_mean", [4], bn.mean) + floatConst("bn/moving_variance", [4], bn.variance) +
      node("bn/FusedBatchNorm", "FusedBatchNorm", ["depthwise", "bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"], {
        T, _output_shapes: outputShapes([-1, 3, 3, 4], [4], [4], [4], [4]), data_format: str("NHWC"), epsilon: float("1e-05"), is_training: bool(false),
      }) +
      node("Relu6", "Relu6", ["bn/FusedBatchNorm"], { T, _output_shapes: outputShapes([-1, 3, 3, 4]) }) +
      versions();
    const g = tf.importGraphDef(text);
    const x = randomData(5 * 5 * 2, 5, -4, 4);
    const out = new tf.Session({ graph: g }).runSync("Relu6", { input: tf.ndarray(x, [1, 5, 5, 2]) });
    const dw = convSame(x, [1, 5, 5, 2], W, [3, 3, 2, 2], 2, true);
    expect(dw.shape).toEqual([1, 3, 3, 4]);
    const expected = batchNorm(dw.y, 4, bn, Math.fround(1e-5)).map((v) => Math.min(Math.max(v, 0), 6));
    expect(out.shape).toEqual([1, 3, 3, 4]);
    expectClose(out.data, expected, 1e-5, 1e-5);
  });
});

/** tf.cond(pred, lambda: x * 2.0, lambda: tf.square(x) - 1.0), in TF 1.15's node order (captures after their users). */
const COND = (() => {
  const bool1 = type("DT_BOOL");
  const xs = outputShapes([-1, 3]);
  return (
    placeholder("x", "DT_FLOAT", [-1, 3]) +
    placeholder("pred", "DT_BOOL", []) +
    node("cond/Switch", "Switch", ["pred", "pred"], { T: bool1, _output_shapes: outputShapes([], []) }) +
    node("cond/switch_t", "Identity", ["cond/Switch:1"], { T: bool1, _output_shapes: outputShapes([]) }) +
    node("cond/switch_f", "Identity", ["cond/Switch"], { T: bool1, _output_shapes: outputShapes([]) }) +
    node("cond/pred_id", "Identity", ["pred"], { T: bool1, _output_shapes: outputShapes([]) }) +
    floatConst("cond/mul/y", [], [2], ["^cond/switch_t"]) +
    node("cond/mul", "Mul", ["cond/mul/Switch:1", "cond/mul/y"], { T, _output_shapes: xs }) +
    node("cond/mul/Switch", "Switch", ["x", "cond/pred_id"], { T, _class: loc("x"), _output_shapes: outputShapes([-1, 3], [-1, 3]) }) +
    node("cond/Square", "Square", ["cond/Square/Switch"], { T, _output_shapes: xs }) +
    node("cond/Square/Switch", "Switch", ["x", "cond/pred_id"], { T, _class: loc("x"), _output_shapes: outputShapes([-1, 3], [-1, 3]) }) +
    floatConst("cond/sub/y", [], [1], ["^cond/switch_f"]) +
    node("cond/sub", "Sub", ["cond/Square", "cond/sub/y"], { T, _output_shapes: xs }) +
    node("cond/Merge", "Merge", ["cond/sub", "cond/mul"], { N: int(2), T, _output_shapes: outputShapes([-1, 3], []) }) +
    versions()
  );
})();

describe("TF1: a Switch/Merge conditional on a placeholder predicate", () => {
  const x = [[1, -2, 0.5], [3, 0, -1.5]];

  it("runs the taken branch only, with forward references resolved", () => {
    const g = tf.importGraphDef(COND);
    expect(g.getTensorByName("cond/Merge:0").shape).toEqual([null, 3]);
    const sess = new tf.Session({ graph: g });
    const meta = { executedOps: [] as string[] };
    const t = sess.runSync("cond/Merge:0", { x, pred: true }, { runMetadata: meta });
    expect(t.toArray()).toEqual(x.map((r) => r.map((v) => v * 2)));
    expect(meta.executedOps).toContain("cond/mul");
    expect(meta.executedOps).not.toContain("cond/sub");
    const f = sess.runSync("cond/Merge:0", { x, pred: false });
    expect(f.toArray()).toEqual(x.map((r) => r.map((v) => v * v - 1)));
    expect(sess.runSync("cond/Merge:1", { x, pred: true }).data[0]).toBe(1);
  });

  it("differentiates through the imported Merge (its predicate found by walking back to a Switch)", () => {
    const g = tf.importGraphDef(COND);
    const [dx] = g.asDefault(() => tf.gradients(g.getTensorByName("cond/Merge:0"), [g.getTensorByName("x:0")]));
    const sess = new tf.Session({ graph: g });
    expect(sess.runSync(dx!, { x, pred: true }).toArray()).toEqual(x.map((r) => r.map(() => 2)));
    expect(sess.runSync(dx!, { x, pred: false }).toArray()).toEqual(x.map((r) => r.map((v) => 2 * v)));
  });
});

/**
 * tf.cond(p, lambda: x * 2.0, lambda: tf.cond(q, lambda: x * 3.0, lambda: tf.square(x))): the
 * inner cond lives in the outer false branch, so q and x enter it through the outer Switches.
 */
const NESTED = (() => {
  const b = type("DT_BOOL");
  const condNodes = (scope: string, pred: string) =>
    node(`${scope}/Switch`, "Switch", [pred, pred], { T: b }) +
    node(`${scope}/switch_t`, "Identity", [`${scope}/Switch:1`], { T: b }) +
    node(`${scope}/switch_f`, "Identity", [`${scope}/Switch`], { T: b }) +
    node(`${scope}/pred_id`, "Identity", [pred], { T: b });
  return (
    placeholder("x", "DT_FLOAT", [-1, 3]) +
    placeholder("p", "DT_BOOL", []) +
    placeholder("q", "DT_BOOL", []) +
    condNodes("cond", "p") +
    floatConst("cond/mul/y", [], [2], ["^cond/switch_t"]) +
    node("cond/mul", "Mul", ["cond/mul/Switch:1", "cond/mul/y"], { T }) +
    node("cond/mul/Switch", "Switch", ["x", "cond/pred_id"], { T, _class: loc("x") }) +
    node("cond/Switch_1", "Switch", ["q", "cond/pred_id"], { T: b, _class: loc("q") }) +
    condNodes("cond/cond", "cond/Switch_1") +
    floatConst("cond/cond/mul/y", [], [3], ["^cond/cond/switch_t"]) +
    node("cond/cond/mul", "Mul", ["cond/cond/mul/Switch:1", "cond/cond/mul/y"], { T }) +
    node("cond/cond/mul/Switch", "Switch", ["cond/cond/mul/Switch/Switch", "cond/cond/pred_id"], { T, _class: loc("x") }) +
    node("cond/cond/mul/Switch/Switch", "Switch", ["x", "cond/pred_id"], { T, _class: loc("x") }) +
    node("cond/cond/Square", "Square", ["cond/cond/Square/Switch"], { T }) +
    node("cond/cond/Square/Switch", "Switch", ["cond/cond/mul/Switch/Switch", "cond/cond/pred_id"], { T, _class: loc("x") }) +
    node("cond/cond/Merge", "Merge", ["cond/cond/Square", "cond/cond/mul"], { N: int(2), T }) +
    node("cond/Merge", "Merge", ["cond/cond/Merge", "cond/mul"], { N: int(2), T }) +
    versions()
  );
})();

describe("TF1: a nested conditional", () => {
  it("computes and differentiates each of its three paths", () => {
    const g = tf.importGraphDef(NESTED);
    const [dx] = g.asDefault(() => tf.gradients(g.getTensorByName("cond/Merge:0"), [g.getTensorByName("x:0")]));
    const sess = new tf.Session({ graph: g });
    const x = [[1, -2, 0.5]];
    const paths: [boolean, boolean, (v: number) => number, (v: number) => number][] = [
      [true, false, (v) => 2 * v, () => 2],
      [false, true, (v) => 3 * v, () => 3],
      [false, false, (v) => v * v, (v) => 2 * v],
    ];
    for (const [p, q, f, df] of paths) {
      const [y, d] = sess.runSync(["cond/Merge:0", dx!], { x, p, q });
      expect(y.toArray()).toEqual(x.map((r) => r.map(f)));
      expect(d.toArray()).toEqual(x.map((r) => r.map(df)));
    }
  });
});

describe("TF1: tensor_content constants", () => {
  it("decodes hand-written octal and C escapes, int64 content and padded *_val", () => {
    // Bytes 0a 22 5c 3f: a float whose encoding holds \n, \" and \\.
    const special = new DataView(Uint8Array.of(0x0a, 0x22, 0x5c, 0x3f).buffer).getFloat32(0, true);
    const text =
      node("f", "Const", [], { _output_shapes: outputShapes([4]), dtype: T, value: tensor("DT_FLOAT", [4], ['tensor_content: "\\000\\000\\200?\\000\\000\\000@\\000\\000\\000\\277\\n\\"\\\\?"']) }) +
      node("i", "Const", [], { dtype: type("DT_INT32"), value: tensor("DT_INT32", [2], ['tensor_content: "\\377\\377\\377\\377\\001\\001\\000\\000"']) }) +
      node("shape64", "Const", [], { dtype: type("DT_INT64"), value: tensor("DT_INT64", [2], ['tensor_content: "\\002\\000\\000\\000\\000\\000\\000\\000\\377\\377\\377\\377\\377\\377\\377\\377"']) }) +
      node("half", "Const", [], { dtype: T, value: tensor("DT_FLOAT", [2, 2], ["float_val: 0.5"]) }) +
      node("r", "Reshape", ["f", "shape64"], { T, Tshape: type("DT_INT64"), _output_shapes: outputShapes([2, 2]) }) +
      node("sum", "AddV2", ["r", "half"], { T });
    const g = tf.importGraphDef(text);
    const value = (name: string) => g.getOperationByName(name).attrs.value as tf.NDArray;
    expect(Array.from(value("f").data)).toEqual([1, 2, -0.5, special]);
    expect(Array.from(value("i").data)).toEqual([-1, 257]);
    expect(value("shape64").dtype).toBe("int32");
    expect(Array.from(value("shape64").data)).toEqual([2, -1]);
    expect(g.getTensorByName("r:0").shape).toEqual([2, 2]);
    expect(Array.from(new tf.Session({ graph: g }).runSync("sum").data)).toEqual([1.5, 2.5, 0, Math.fround(special + 0.5)]);
  });

  it("reads many values as tensor_content exactly as numpy's tobytes() wrote them", () => {
    const values = randomData(40, 77, -1e3, 1e3);
    const g = tf.importGraphDef(node("big", "Const", [], { dtype: T, value: tensor("DT_FLOAT", [5, 8], [content(values, "float32")]) }));
    expect((g.getOperationByName("big").attrs.value as tf.NDArray).data).toEqual(values);
  });
});

describe("TF1: resource variables", () => {
  const K = randomData(6, 51);
  const B = Float32Array.of(0.5, -1, 2);
  const handle = (name: string, dims: number[]) =>
    node(name, "VarHandleOp", [], { _class: loc(name), _output_shapes: outputShapes([]), container: str(""), dtype: T, shape: shape(dims), shared_name: str(name) }) +
    node(`${name}/IsInitialized/VarIsInitializedOp`, "VarIsInitializedOp", [name], { _output_shapes: outputShapes([]) }) +
    node(`${name}/Assign`, "AssignVariableOp", [name, `${name}/Initializer/Const`], { dtype: T }) +
    node(`${name}/Read/ReadVariableOp`, "ReadVariableOp", [name], { _output_shapes: outputShapes(dims), dtype: T });
  const text =
    placeholder("x", "DT_FLOAT", [-1, 2]) +
    floatConst("dense/kernel/Initializer/Const", [2, 3], K, [], { _class: loc("dense/kernel") }) +
    handle("dense/kernel", [2, 3]) +
    floatConst("dense/bias/Initializer/Const", [3], B, [], { _class: loc("dense/bias") }) +
    handle("dense/bias", [3]) +
    node("dense/MatMul/ReadVariableOp", "ReadVariableOp", ["dense/kernel"], { _output_shapes: outputShapes([2, 3]), dtype: T }) +
    node("dense/MatMul", "MatMul", ["x", "dense/MatMul/ReadVariableOp"], { T, _output_shapes: outputShapes([-1, 3]), transpose_a: bool(false), transpose_b: bool(false) }) +
    node("dense/BiasAdd/ReadVariableOp", "ReadVariableOp", ["dense/bias"], { _output_shapes: outputShapes([3]), dtype: T }) +
    node("dense/BiasAdd", "BiasAdd", ["dense/MatMul", "dense/BiasAdd/ReadVariableOp"], { T, _output_shapes: outputShapes([-1, 3]), data_format: str("NHWC") }) +
    floatConst("step", [3], [1, 1, 1]) +
    node("update", "AssignAddVariableOp", ["dense/bias", "step"], { dtype: T }) +
    node("update/read", "ReadVariableOp", ["dense/bias", "^update"], { _output_shapes: outputShapes([3]), dtype: T }) +
    node("init", "NoOp", ["^dense/kernel/Assign", "^dense/bias/Assign"]) +
    node("report", "NoOp", [], { _class: strs([]) }) +
    versions();

  it("become VariableV2 + reads + assigns, and compute x @ K + b", () => {
    const g = tf.importGraphDef(text);
    expect(g.getOperationByName("dense/kernel").type).toBe("VariableV2");
    expect(g.getTensorByName("dense/kernel:0").shape).toEqual([2, 3]);
    expect(g.getOperationByName("dense/MatMul/ReadVariableOp").type).toBe("Identity");
    const sess = new tf.Session({ graph: g });
    expect(sess.runSync("dense/kernel/IsInitialized/VarIsInitializedOp").data[0]).toBe(0);
    sess.runSync("init");
    expect(sess.runSync("dense/kernel/IsInitialized/VarIsInitializedOp").data[0]).toBe(1);
    const x = [[1, 2], [-0.5, 3]];
    const expected = x.flatMap((row) => [0, 1, 2].map((j) => row[0] * K[j] + row[1] * K[3 + j] + B[j]));
    expectClose(sess.runSync("dense/BiasAdd", { x }).data, expected);
    expect(Array.from(sess.variableValues.get("dense/bias")!.data)).toEqual(Array.from(B));
    // The lowered graph writes out and reads back as foldflow ops.
    const again = tf.importGraphDef(g.asGraphDef().toText());
    const s2 = new tf.Session({ graph: again });
    s2.runSync("init");
    expectClose(s2.runSync("dense/BiasAdd", { x }).data, expected);
  });

  it("AssignAddVariableOp updates the variable and a read ordered after it sees the update", () => {
    const g = tf.importGraphDef(text);
    const sess = new tf.Session({ graph: g });
    sess.runSync("init");
    expect(Array.from(sess.runSync("update/read").data)).toEqual(Array.from(B, (b) => b + 1));
    expect(Array.from(sess.runSync("update/read").data)).toEqual(Array.from(B, (b) => b + 2));
    expect(() => new tf.Session({ graph: g }).runSync("dense/BiasAdd", { x: [[1, 1]] })).toThrowError(tf.errors.FailedPreconditionError);
  });
});
