/**
 * TF -> ONNX (opset 13) for elementwise, matmul, reduction and array ops:
 *
 *   Relu / Tanh / Exp ... -> the ONNX op of the same meaning     Relu6 -> Clip(x, 0, 6)
 *   Add / AddV2 / Sub / Mul / RealDiv -> Add / Sub / Mul / Div  (both broadcast like numpy)
 *   MatMul (transpose_a / transpose_b) -> MatMul, or Gemm(transA, transB) with a transpose
 *   Mean / Sum / Max / Min / Prod (const axes) -> ReduceMean / ReduceSum ...  (empty axes: Identity)
 *   Reshape (shape as int32) -> Reshape (shape as int64)        Transpose (const perm) -> Transpose
 *   ConcatV2 / Squeeze / ExpandDims / Cast / ArgMax / Pad / Shape / GatherV2 / Tile / SelectV2
 */
import type { Operation } from "../../ir/graph";
import { attr, onnxElemType, type OnnxBuilder } from "./builder";
import { unimplemented } from "./errors";
import { OnnxDataType } from "./schema";

/** Writes `op` into the ONNX graph; `out[i]` is the ONNX name that output i must have. */
export type Converter = (op: Operation, b: OnnxBuilder, out: string[]) => void;

const UNARY: Record<string, string> = {
  Identity: "Identity",
  StopGradient: "Identity",
  Snapshot: "Identity",
  Relu: "Relu",
  Tanh: "Tanh",
  Sigmoid: "Sigmoid",
  Exp: "Exp",
  Log: "Log",
  Sqrt: "Sqrt",
  Neg: "Neg",
  Abs: "Abs",
  Elu: "Elu",
  Floor: "Floor",
  Reciprocal: "Reciprocal",
  Sign: "Sign",
  LogicalNot: "Not",
};

const BINARY: Record<string, string> = {
  Add: "Add",
  AddV2: "Add",
  Sub: "Sub",
  Mul: "Mul",
  RealDiv: "Div",
  Maximum: "Max",
  Minimum: "Min",
  Pow: "Pow",
  Equal: "Equal",
  Greater: "Greater",
  GreaterEqual: "GreaterOrEqual",
  Less: "Less",
  LessEqual: "LessOrEqual",
  LogicalAnd: "And",
  LogicalOr: "Or",
};

const REDUCE: Record<string, string> = { Mean: "ReduceMean", Sum: "ReduceSum", Max: "ReduceMax", Min: "ReduceMin", Prod: "ReduceProd" };

/**
 * A unary elementwise op: on an NHWC value that a Conv / pool produced in NCHW, it runs on the
 * NCHW value, so that the transposes around it cancel (Conv -> Relu -> MaxPool stays in NCHW).
 */
function unary(onnx: string, extra: (op: Operation, b: OnnxBuilder) => string[] = () => []): Converter {
  return (op, b, out) => {
    const x = b.input(op.inputs[0]);
    const twin = b.nchwTwin(x);
    if (twin === undefined) b.node(onnx, [x, ...extra(op, b)], [out[0]]);
    else b.fromNCHW(b.emit(onnx, [twin, ...extra(op, b)], `${out[0]}/nchw`), out[0]);
  };
}

/** Output `out` of a node on `op`'s first input list. */
const inputsOf = (op: Operation, b: OnnxBuilder, count = op.inputs.length) => op.inputs.slice(0, count).map((t) => b.input(t));

function rankOf(op: Operation, index: number, what: string): number {
  const r = op.inputs[index].rank;
  if (r === null) throw unimplemented(op, `the rank of its ${what} is not known statically`, "give the placeholders static ranks");
  return r;
}

function matmul(op: Operation, b: OnnxBuilder, out: string[]): void {
  const [a, w] = inputsOf(op, b);
  const ta = op.attrs.transpose_a === true;
  const tb = op.attrs.transpose_b === true;
  if (!ta && !tb) b.node("MatMul", [a, w], [out[0]]);
  else b.node("Gemm", [a, w], [out[0]], [attr.int("transA", ta ? 1 : 0), attr.int("transB", tb ? 1 : 0)]);
}

function batchMatmul(op: Operation, b: OnnxBuilder, out: string[]): void {
  let [x, y] = inputsOf(op, b);
  const swapLast = (value: string, index: number) => {
    const r = rankOf(op, index, index === 0 ? "x" : "y");
    const perm = [...Array(r).keys()];
    [perm[r - 2], perm[r - 1]] = [perm[r - 1], perm[r - 2]];
    return b.emit("Transpose", [value], `${value}/adjoint`, [attr.ints("perm", perm)]);
  };
  if (op.attrs.adj_x === true) x = swapLast(x, 0);
  if (op.attrs.adj_y === true) y = swapLast(y, 1);
  b.node("MatMul", [x, y], [out[0]]);
}

function reduce(op: Operation, b: OnnxBuilder, out: string[]): void {
  const x = b.input(op.inputs[0]);
  const axes = b.constantInts(op, 1, "reduction axes");
  const keep = attr.int("keepdims", op.attrs.keep_dims === true ? 1 : 0);
  // TF reduces over no axis for an empty list; ONNX would reduce over all of them.
  if (axes.length === 0) b.node("Identity", [x], [out[0]]);
  else if (op.type === "Sum") b.node("ReduceSum", [x, b.int64s(`${op.name}/axes`, axes)], [out[0]], [keep]);
  else b.node(REDUCE[op.type], [x], [out[0]], [attr.ints("axes", axes), keep]);
}

function reshape(op: Operation, b: OnnxBuilder, out: string[]): void {
  const x = b.input(op.inputs[0]);
  const shape = b.constant(op.inputs[1]);
  if (!shape) {
    const cast = b.emit("Cast", [b.input(op.inputs[1])], `${op.name}/shape_int64`, [attr.int("to", OnnxDataType.INT64)]);
    b.node("Reshape", [x, cast], [out[0]]);
    return;
  }
  const dims = Array.from(shape.data, Number);
  if (dims.includes(0) && !op.inputs[0].shape?.includes(0))
    throw unimplemented(op, "its shape has a 0 dimension, which ONNX's Reshape reads as `copy this dimension`", "reshape to a shape without 0");
  b.node("Reshape", [x, b.int64s(`${op.name}/shape`, dims)], [out[0]]);
}

function int64Input(op: Operation, b: OnnxBuilder, index: number, what: string): string {
  const v = b.constant(op.inputs[index]);
  if (v) return b.int64s(`${op.name}/${what}`, Array.from(v.data, Number), [...v.shape]);
  return b.emit("Cast", [b.input(op.inputs[index])], `${op.name}/${what}_int64`, [attr.int("to", OnnxDataType.INT64)]);
}

function slice(op: Operation, b: OnnxBuilder, out: string[]): void {
  const begin = b.constantInts(op, 1, "begin");
  const size = b.constantInts(op, 2, "size");
  const ends = begin.map((s, i) => (size[i] < 0 ? 2 ** 31 - 1 : s + size[i]));
  const axes = begin.map((_, i) => i);
  b.node("Slice", [b.input(op.inputs[0]), b.int64s(`${op.name}/starts`, begin), b.int64s(`${op.name}/ends`, ends), b.int64s(`${op.name}/axes`, axes)], [out[0]]);
}

function pad(op: Operation, b: OnnxBuilder, out: string[]): void {
  const p = b.constantInts(op, 1, "paddings");
  const r = p.length / 2;
  const pads = [...Array(r).keys()].map((i) => p[2 * i]).concat([...Array(r).keys()].map((i) => p[2 * i + 1]));
  b.node("Pad", [b.input(op.inputs[0]), b.int64s(`${op.name}/pads`, pads)], [out[0]], [attr.string("mode", "constant")]);
}

export const MATH_CONVERTERS: Record<string, Converter> = {
  ...Object.fromEntries(Object.entries(UNARY).map(([tf, onnx]) => [tf, unary(onnx)])),
  ...Object.fromEntries(Object.entries(BINARY).map(([tf, onnx]) => [tf, (op: Operation, b: OnnxBuilder, out: string[]) => void b.node(onnx, inputsOf(op, b, 2), [out[0]])])),
  ...Object.fromEntries(Object.keys(REDUCE).map((tf) => [tf, reduce])),
  NotEqual: (op, b, out) => void b.node("Not", [b.emit("Equal", inputsOf(op, b, 2), `${op.name}/equal`)], [out[0]]),
  Rsqrt: (op, b, out) => void b.node("Reciprocal", [b.emit("Sqrt", inputsOf(op, b, 1), `${op.name}/sqrt`)], [out[0]]),
  Square: (op, b, out) => {
    const x = b.input(op.inputs[0]);
    b.node("Mul", [x, x], [out[0]]);
  },
  SquaredDifference: (op, b, out) => {
    const d = b.emit("Sub", inputsOf(op, b, 2), `${op.name}/difference`);
    b.node("Mul", [d, d], [out[0]]);
  },
  Relu6: unary("Clip", (op, b) => [b.floats(`${op.name}/min`, [0], []), b.floats(`${op.name}/max`, [6], [])]),
  AddN: (op, b, out) => void b.node("Sum", inputsOf(op, b), [out[0]]),
  MatMul: matmul,
  BatchMatMulV2: batchMatmul,
  Reshape: reshape,
  Transpose: (op, b, out) => void b.node("Transpose", [b.input(op.inputs[0])], [out[0]], [attr.ints("perm", b.constantInts(op, 1, "permutation"))]),
  ConcatV2: (op, b, out) => {
    const n = op.inputs.length - 1;
    const [axis] = b.constantInts(op, n, "axis");
    b.node("Concat", inputsOf(op, b, n), [out[0]], [attr.int("axis", axis)]);
  },
  Squeeze: (op, b, out) => {
    const dims = (op.attrs.squeeze_dims as number[] | undefined) ?? [];
    const inputs = [b.input(op.inputs[0])];
    if (dims.length) inputs.push(b.int64s(`${op.name}/axes`, dims));
    b.node("Squeeze", inputs, [out[0]]);
  },
  ExpandDims: (op, b, out) => {
    const [dim] = b.constantInts(op, 1, "dimension");
    b.node("Unsqueeze", [b.input(op.inputs[0]), b.int64s(`${op.name}/axes`, [dim])], [out[0]]);
  },
  Cast: (op, b, out) => void b.node("Cast", inputsOf(op, b, 1), [out[0]], [attr.int("to", onnxElemType(op.outputs[0].dtype))]),
  ArgMax: (op, b, out) => {
    const [axis] = b.constantInts(op, 1, "dimension");
    const index = b.emit("ArgMax", inputsOf(op, b, 1), `${op.name}/int64`, [attr.int("axis", axis), attr.int("keepdims", 0)]);
    b.node("Cast", [index], [out[0]], [attr.int("to", onnxElemType(op.outputs[0].dtype))]);
  },
  Shape: (op, b, out) => void b.node("Cast", [b.emit("Shape", inputsOf(op, b, 1), `${op.name}/int64`)], [out[0]], [attr.int("to", OnnxDataType.INT32)]),
  GatherV2: (op, b, out) => {
    if ((op.attrs.batch_dims as number | undefined) ?? 0)
      throw unimplemented(op, "batch_dims is not 0", "gather with batch_dims 0");
    const [axis] = b.constantInts(op, 2, "axis");
    b.node("Gather", inputsOf(op, b, 2), [out[0]], [attr.int("axis", axis)]);
  },
  Tile: (op, b, out) => void b.node("Tile", [b.input(op.inputs[0]), int64Input(op, b, 1, "repeats")], [out[0]]),
  SelectV2: (op, b, out) => void b.node("Where", inputsOf(op, b, 3), [out[0]]),
  Slice: slice,
  Pad: pad,
};
