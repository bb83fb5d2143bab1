/** WGSL elementwise kernels (the expression table, broadcasting, Cast, BiasAdd, AddN, copies) against the interpreter. */
import { array, ints, random, randomInts, scalar, type OpCase } from "../../helpers/wgsl-cases";
import { wgslSuite } from "../../helpers/wgsl-suite";

const positive = ["Sqrt", "Rsqrt", "Log", "Reciprocal"];
const floatUnary = ["Neg", "Square", "Sqrt", "Rsqrt", "Exp", "Log", "Abs", "Relu", "Relu6", "Sigmoid", "Tanh", "Elu", "Reciprocal", "Sign", "Floor"];
const intUnary = ["Neg", "Square", "Abs", "Relu", "Relu6", "Sign"];
const floatBinary = ["AddV2", "Sub", "Mul", "RealDiv", "FloorDiv", "Maximum", "Minimum", "SquaredDifference"];
const comparisons = ["Equal", "NotEqual", "Greater", "GreaterEqual", "Less", "LessEqual"];
const gradients = ["ReluGrad", "Relu6Grad", "EluGrad", "SigmoidGrad", "TanhGrad", "SqrtGrad", "RsqrtGrad", "ReciprocalGrad"];

const cases: OpCase[] = [];
for (const type of floatUnary) {
  const x = positive.includes(type) ? random([3, 70], 11, 0.1, 4) : random([3, 70], 11, -8, 8);
  cases.push({ label: `${type} float32`, type, inputs: [x] });
}
cases.push({ label: "Elu near zero", type: "Elu", inputs: [random([100], 3, -1e-3, 1e-3)] });
cases.push({ label: "Tanh large", type: "Tanh", inputs: [array("float32", [4], [-100, -20, 20, 100])] });
for (const type of intUnary) cases.push({ label: `${type} int32`, type, inputs: [randomInts([257], 5, -9, 9)] });
for (const type of floatBinary) {
  cases.push({ label: `${type} same shape`, type, inputs: [random([5, 60], 1, -3, 3), random([5, 60], 2, 0.5, 3)] });
  cases.push({ label: `${type} broadcast [4,1,6]·[5,1]`, type, inputs: [random([4, 1, 6], 3, -3, 3), random([5, 1], 4, 0.5, 3)] });
}
cases.push({ label: "Pow float32", type: "Pow", inputs: [random([3, 40], 5, 0.1, 3), random([40], 6, -2, 2)] });
cases.push({ label: "AddV2 scalar + matrix", type: "AddV2", inputs: [scalar(2.5), random([7, 9], 7)] });
cases.push({ label: "Mul size-1 dims", type: "Mul", inputs: [random([1, 1], 8), random([1, 3, 1], 9)] });
cases.push({ label: "Sub empty", type: "Sub", inputs: [random([0, 3], 8), random([3], 9)] });
for (const type of ["AddV2", "Sub", "Mul", "Maximum", "Minimum", "SquaredDifference"])
  cases.push({ label: `${type} int32 broadcast`, type, inputs: [randomInts([6, 5], 10, -50, 50), randomInts([5], 11, -50, 50)] });
cases.push({ label: "FloorDiv int32 negatives and zero", type: "FloorDiv", inputs: [array("int32", [8], [7, -7, 7, -7, 0, 5, -1, 9]), array("int32", [8], [2, 2, -2, -2, 3, 0, 3, -4])] });
cases.push({ label: "Pow int32", type: "Pow", inputs: [array("int32", [7], [2, -3, 5, 1, -1, 2, 0]), array("int32", [7], [10, 3, 0, -2, -3, -1, 4])] });
for (const type of comparisons) {
  const a = randomInts([4, 30], 12, -3, 3);
  cases.push({ label: `${type} float32 broadcast`, type, inputs: [array("float32", [4, 30], a.data), array("float32", [30], randomInts([30], 13, -3, 3).data)] });
  cases.push({ label: `${type} int32`, type, inputs: [a, randomInts([4, 30], 14, -3, 3)] });
}
cases.push({ label: "Equal bool", type: "Equal", inputs: [randomInts([33], 15, 0, 1, "bool"), randomInts([33], 16, 0, 1, "bool")] });
for (const type of ["LogicalAnd", "LogicalOr"])
  cases.push({ label: `${type} broadcast`, type, inputs: [randomInts([3, 11], 17, 0, 1, "bool"), randomInts([11], 18, 0, 1, "bool")] });
for (const type of gradients) {
  const positiveY = ["SqrtGrad", "RsqrtGrad", "ReciprocalGrad", "SigmoidGrad", "TanhGrad"].includes(type);
  const first = type.startsWith("Relu") || type === "EluGrad" ? random([2, 64], 19, -2, 2) : random([2, 64], 19, positiveY ? 0.2 : -2, positiveY ? 0.9 : 2);
  const second = type.startsWith("Relu") ? random([2, 64], 20, -2, 8) : type === "EluGrad" ? random([2, 64], 20, -1, 2) : random([2, 64], 20, -2, 2);
  cases.push({ label: type, type, inputs: [first, second] });
}
cases.push({ label: "ReluGrad int32", type: "ReluGrad", inputs: [randomInts([40], 21, -5, 5), randomInts([40], 22, -5, 5)] });
cases.push({ label: "SelectV2 broadcast", type: "SelectV2", inputs: [randomInts([4, 1], 23, 0, 1, "bool"), random([4, 6], 24), random([6], 25)] });
cases.push({ label: "SelectV2 int32", type: "SelectV2", inputs: [randomInts([9], 26, 0, 1, "bool"), randomInts([9], 27, -9, 9), randomInts([9], 28, -9, 9)] });
const castFloats = array("float32", [10], [1.7, -1.7, 0, -0.2, 2.5, NaN, 1e3, -3.999, 0.5, 7]);
for (const [from, to] of [["float32", "int32"], ["float32", "bool"], ["int32", "float32"], ["int32", "bool"], ["bool", "float32"], ["bool", "int32"]] as const) {
  const x = from === "float32" ? castFloats : from === "int32" ? randomInts([10], 29, -3, 3) : randomInts([10], 30, 0, 1, "bool");
  cases.push({ label: `Cast ${from} to ${to}`, type: "Cast", attrs: { SrcT: from, DstT: to }, inputs: [x] });
}
cases.push({ label: "ZerosLike", type: "ZerosLike", inputs: [random([3, 5], 31)] });
cases.push({ label: "OnesLike int32", type: "OnesLike", inputs: [randomInts([7], 32, -3, 3)] });
cases.push({ label: "Identity", type: "Identity", inputs: [random([17], 33)] });
cases.push({ label: "StopGradient", type: "StopGradient", inputs: [random([17], 34)] });
cases.push({ label: "BiasAdd NHWC", type: "BiasAdd", inputs: [random([2, 3, 4, 5], 35), random([5], 36)] });
cases.push({ label: "BiasAdd NCHW", type: "BiasAdd", attrs: { data_format: "NCHW" }, inputs: [random([2, 5, 3, 4], 37), random([5], 38)] });
cases.push({ label: "BiasAdd matrix", type: "BiasAdd", inputs: [random([100, 10], 39), random([10], 40)] });
cases.push({ label: "BiasAdd int32", type: "BiasAdd", inputs: [randomInts([4, 3], 41, -9, 9), randomInts([3], 42, -9, 9)] });
cases.push({ label: "AddN of 2", type: "AddN", attrs: { N: 2 }, inputs: [random([30], 43), random([30], 44)] });
cases.push({ label: "AddN of 9 (two dispatches)", type: "AddN", attrs: { N: 9 }, inputs: Array.from({ length: 9 }, (_, k) => random([3, 50], 45 + k)) });
cases.push({ label: "AddN of 15 (three dispatches)", type: "AddN", attrs: { N: 15 }, inputs: Array.from({ length: 15 }, (_, k) => random([20], 60 + k)) });
cases.push({ label: "BroadcastTo", type: "BroadcastTo", inputs: [random([3, 1], 80), ints([2, 3, 4])], constants: [1] });
cases.push({ label: "Fill", type: "Fill", inputs: [ints([3, 4]), scalar(1.25)], constants: [0] });
cases.push({ label: "Reshape", type: "Reshape", inputs: [random([4, 6], 81), ints([3, 8])], constants: [1] });
cases.push({ label: "ExpandDims", type: "ExpandDims", inputs: [random([4, 6], 82), array("int32", [], [1])], constants: [1] });
cases.push({ label: "Squeeze", type: "Squeeze", attrs: { squeeze_dims: [1] }, inputs: [random([4, 1, 6], 83)] });

wgslSuite("elementwise", cases);
