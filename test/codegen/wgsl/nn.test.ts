/** WGSL Softmax / LogSoftmax, cross-entropy, fused batch norm (training, inference, gradients), variable updates, data movement. */
import { NDArray } from "../../../ir/ndarray";
import { array, ints, random, randomInts, scalar, type OpCase } from "../../helpers/wgsl-cases";
import { wgslSuite } from "../../helpers/wgsl-suite";

const cases: OpCase[] = [];
for (const type of ["Softmax", "LogSoftmax"]) {
  cases.push({ label: `${type} [100,10]`, type, inputs: [random([100, 10], 1, -5, 5)] });
  cases.push({ label: `${type} [3,1000]`, type, inputs: [random([3, 1000], 2, -20, 20)] });
  cases.push({ label: `${type} [2,3,7]`, type, inputs: [random([2, 3, 7], 3, -5, 5)] });
  cases.push({ label: `${type} one class`, type, inputs: [random([4, 1], 4)] });
}
cases.push({ label: "SoftmaxCrossEntropyWithLogits [100,10]", type: "SoftmaxCrossEntropyWithLogits", inputs: [random([100, 10], 5, -4, 4), random([100, 10], 6, 0, 1)] });
const oneHot = new NDArray("float32", [50, 10], new Float32Array(500));
randomInts([50], 7, 0, 9).data.forEach((c, r) => (oneHot.data[r * 10 + c] = 1));
cases.push({ label: "SoftmaxCrossEntropyWithLogits one-hot", type: "SoftmaxCrossEntropyWithLogits", inputs: [random([50, 10], 8, -4, 4), oneHot] });
cases.push({ label: "SoftmaxCrossEntropyWithLogits [4,300]", type: "SoftmaxCrossEntropyWithLogits", inputs: [random([4, 300], 9, -4, 4), random([4, 300], 10, 0, 0.01)] });
cases.push({ label: "SparseSoftmaxCrossEntropyWithLogits", type: "SparseSoftmaxCrossEntropyWithLogits", inputs: [random([100, 10], 11, -4, 4), randomInts([100], 12, 0, 9)] });

/** FusedBatchNorm cases: forward in training and inference, and the gradient op. */
function batchNorm(version: "" | "V2" | "V3", format: "NHWC" | "NCHW", x: number[], seed: number, factor = 1): void {
  const c = x[format === "NHWC" ? 3 : 1];
  const tag = `${format} ${JSON.stringify(x)}`;
  const xv = random(x, seed, -3, 5);
  const [scale, offset, mean, variance] = [random([c], seed + 1, 0.5, 2), random([c], seed + 2), random([c], seed + 3), random([c], seed + 4, 0.5, 2)];
  const forward = `FusedBatchNorm${version}`;
  for (const training of [true, false])
    cases.push({
      label: `${forward} ${training ? "training" : "inference"} ${tag}${factor !== 1 ? ` factor ${factor}` : ""}`,
      type: forward,
      attrs: { epsilon: 0.001, data_format: format, is_training: training, exponential_avg_factor: factor },
      inputs: [xv, scale, offset, mean, variance],
    });
  const grad = `FusedBatchNormGrad${version}`;
  const reserve = version === "V3" ? [scalar(0)] : [];
  for (const training of [true, false])
    cases.push({
      label: `${grad} ${training ? "training" : "inference"} ${tag}`,
      type: grad,
      attrs: { epsilon: 0.001, data_format: format, is_training: training },
      inputs: [random(x, seed + 5), xv, scale, random([c], seed + 6, 0, 1), random([c], seed + 7, 0.5, 2), ...reserve],
      atol: 1e-4,
    });
}
batchNorm("V3", "NHWC", [100, 1, 1, 100], 20);
batchNorm("V3", "NCHW", [4, 6, 5, 5], 30);
batchNorm("V3", "NHWC", [2, 7, 7, 3], 40, 0.3);
batchNorm("", "NHWC", [8, 3, 3, 5], 50);
batchNorm("V2", "NCHW", [1, 2, 40, 30], 60);
cases.push({
  label: "BatchNormWithGlobalNormalization",
  type: "BatchNormWithGlobalNormalization",
  attrs: { variance_epsilon: 0.001, scale_after_normalization: true },
  inputs: [random([2, 3, 3, 4], 70), random([4], 71), random([4], 72, 0.5, 2), random([4], 73), random([4], 74)],
});
cases.push({
  label: "BatchNormWithGlobalNormalization without scale",
  type: "BatchNormWithGlobalNormalization",
  attrs: { variance_epsilon: 0.001, scale_after_normalization: false },
  inputs: [random([2, 3, 3, 4], 75), random([4], 76), random([4], 77, 0.5, 2), random([4], 78), random([4], 79)],
});

cases.push({ label: "Assign", type: "Assign", inputs: [random([10, 10], 80), random([10, 10], 81)] });
cases.push({ label: "AssignAdd", type: "AssignAdd", inputs: [random([100], 82), random([100], 83)] });
cases.push({ label: "AssignSub int32", type: "AssignSub", inputs: [randomInts([9], 84, -9, 9), randomInts([9], 85, -9, 9)] });
cases.push({ label: "ApplyGradientDescent", type: "ApplyGradientDescent", inputs: [random([784, 100], 86), scalar(0.01), random([784, 100], 87)] });
for (const nesterov of [false, true]) {
  cases.push({
    label: `ApplyMomentum${nesterov ? " nesterov" : ""}`,
    type: "ApplyMomentum",
    attrs: { use_nesterov: nesterov },
    inputs: [random([50, 3], 88), random([50, 3], 89), scalar(0.1), random([50, 3], 90), scalar(0.9)],
  });
  cases.push({
    label: `ApplyAdam${nesterov ? " nesterov" : ""}`,
    type: "ApplyAdam",
    attrs: { use_nesterov: nesterov },
    inputs: [random([40], 91), random([40], 92), random([40], 93, 0, 1), scalar(0.9 ** 3), scalar(0.999 ** 3), scalar(0.001), scalar(0.9), scalar(0.999), scalar(1e-7), random([40], 94)],
  });
}

cases.push({ label: "Transpose [2,3,4] perm [2,0,1]", type: "Transpose", inputs: [random([2, 3, 4], 100), ints([2, 0, 1])], constants: [1] });
cases.push({ label: "Transpose NHWC to NCHW", type: "Transpose", inputs: [random([2, 5, 6, 3], 101), ints([0, 3, 1, 2])], constants: [1] });
cases.push({ label: "Slice", type: "Slice", inputs: [random([5, 6, 7], 102), ints([1, 0, 2]), ints([3, -1, 4])], constants: [1, 2] });
cases.push({ label: "Pad", type: "Pad", inputs: [random([3, 4], 103), new NDArray("int32", [2, 2], Int32Array.from([1, 2, 0, 3]))], constants: [1] });
cases.push({ label: "Tile", type: "Tile", inputs: [random([2, 3], 104), ints([3, 2])], constants: [1] });
cases.push({ label: "GatherV2 axis 0", type: "GatherV2", inputs: [random([10, 4], 105), randomInts([3, 2], 106, 0, 9), array("int32", [], [0])], constants: [2] });
cases.push({ label: "GatherV2 axis 1", type: "GatherV2", inputs: [random([3, 10, 2], 107), randomInts([5], 108, 0, 9), array("int32", [], [1])], constants: [2] });
cases.push({ label: "OneHot", type: "OneHot", inputs: [randomInts([100], 109, 0, 9), array("int32", [], [10]), scalar(1), scalar(0)], constants: [1] });
cases.push({ label: "OneHot axis 0", type: "OneHot", attrs: { axis: 0 }, inputs: [randomInts([2, 3], 110, 0, 3), array("int32", [], [4]), scalar(5), scalar(-1)], constants: [1] });
cases.push({ label: "ConcatV2 axis 1", type: "ConcatV2", attrs: { N: 3 }, inputs: [random([2, 3], 111), random([2, 1], 112), random([2, 4], 113), array("int32", [], [1])], constants: [3] });
cases.push({ label: "ConcatV2 axis 0", type: "ConcatV2", attrs: { N: 2 }, inputs: [random([2, 3], 114), random([4, 3], 115), array("int32", [], [0])], constants: [2] });
cases.push({ label: "Pack axis 1", type: "Pack", attrs: { N: 3, axis: 1 }, inputs: [random([2, 3], 116), random([2, 3], 117), random([2, 3], 118)] });

wgslSuite("nn ops, batch norm, training and array ops", cases);
