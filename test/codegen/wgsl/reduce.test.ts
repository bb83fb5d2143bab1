/** WGSL reductions (workgroup trees and per-thread loops), SumToShape, BiasAddGrad, ArgMax/ArgMin. */
import { array, ints, random, randomInts, type OpCase } from "../../helpers/wgsl-cases";
import { wgslSuite } from "../../helpers/wgsl-suite";

const cases: OpCase[] = [];
const axesCases: [number[], number[]][] = [
  [[100, 10], [0]],
  [[100, 10], [1]],
  [[100, 10], [0, 1]],
  [[4, 5, 6], [1]],
  [[4, 5, 6], [0, 2]],
  [[4, 5, 6], [-1]],
  [[3, 1000], [1]],
  [[2, 3, 4, 5], [0, 1, 2]],
];
for (const type of ["Sum", "Mean", "Max", "Min"])
  for (const [shape, axes] of axesCases) cases.push({ label: `${type} ${JSON.stringify(shape)} axes ${JSON.stringify(axes)}`, type, inputs: [random(shape, shape.length * 7 + axes[0], -2, 2), ints(axes)], constants: [1] });
cases.push({ label: "Sum keep_dims", type: "Sum", attrs: { keep_dims: true }, inputs: [random([6, 7], 1), ints([1])], constants: [1] });
cases.push({ label: "Sum of 70000 elements", type: "Sum", inputs: [random([70000], 2), ints([0])], constants: [1], atol: 1e-5 });
cases.push({ label: "Mean over an empty axis", type: "Mean", inputs: [random([3, 0], 3), ints([1])], constants: [1] });
cases.push({ label: "Max over an empty axis", type: "Max", inputs: [random([2, 0], 3), ints([1])], constants: [1] });
cases.push({ label: "Sum over no axes", type: "Sum", inputs: [random([3, 4], 4), ints([])], constants: [1] });
cases.push({ label: "Prod", type: "Prod", inputs: [random([5, 8], 5, 0.5, 1.5), ints([1])], constants: [1] });
cases.push({ label: "Prod int32 long rows", type: "Prod", inputs: [randomInts([3, 40], 6, -2, 2), ints([1])], constants: [1] });
cases.push({ label: "Sum int32", type: "Sum", inputs: [randomInts([50, 30], 7, -100, 100), ints([0])], constants: [1] });
cases.push({ label: "Mean int32 (truncates)", type: "Mean", inputs: [randomInts([7, 40], 8, -100, 100), ints([1])], constants: [1] });
cases.push({ label: "Max int32", type: "Max", inputs: [randomInts([7, 40], 9, -100, 100), ints([1])], constants: [1] });
cases.push({ label: "All", type: "All", inputs: [randomInts([6, 50], 10, 0, 1, "bool"), ints([1])], constants: [1] });
cases.push({ label: "Any", type: "Any", inputs: [randomInts([6, 5], 11, 0, 1, "bool"), ints([1])], constants: [1] });
cases.push({ label: "All of ones", type: "All", inputs: [array("bool", [4, 40], [1]), ints([1])], constants: [1] });
cases.push({ label: "SumToShape [8,5,3] to [5,1]", type: "SumToShape", inputs: [random([8, 5, 3], 12), ints([5, 1])], constants: [1] });
cases.push({ label: "SumToShape [100,10] to [10]", type: "SumToShape", inputs: [random([100, 10], 13), ints([10])], constants: [1] });
cases.push({ label: "SumToShape to a scalar", type: "SumToShape", inputs: [random([9, 9], 14), ints([])], constants: [1] });
cases.push({ label: "BiasAddGrad matrix", type: "BiasAddGrad", inputs: [random([100, 10], 15)] });
cases.push({ label: "BiasAddGrad NHWC", type: "BiasAddGrad", inputs: [random([2, 3, 4, 5], 16)] });
cases.push({ label: "BiasAddGrad NCHW", type: "BiasAddGrad", attrs: { data_format: "NCHW" }, inputs: [random([2, 5, 3, 4], 17)] });
for (const type of ["ArgMax", "ArgMin"]) {
  cases.push({ label: `${type} axis 1`, type, inputs: [random([50, 10], 18), array("int32", [], [1])], constants: [1] });
  cases.push({ label: `${type} axis 0 with ties`, type, inputs: [randomInts([6, 7], 19, 0, 2), array("int32", [], [0])], constants: [1] });
  cases.push({ label: `${type} 3-D middle axis`, type, inputs: [random([3, 4, 5], 20), array("int32", [], [-2])], constants: [1] });
}

wgslSuite("reductions", cases);
