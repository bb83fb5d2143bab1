/** WGSL MatMul / BatchMatMulV2 (tiled), Conv2D / DepthwiseConv2dNative and backprops, pooling and pool grads. */
import { ints, random, randomInts, type OpCase } from "../../helpers/wgsl-cases";
import { wgslSuite } from "../../helpers/wgsl-suite";
import { Graph } from "../../../ir/graph";
import "../../../ir/ops/index";

const cases: OpCase[] = [];
for (const [m, k, n] of [[100, 784, 100], [17, 33, 5], [1, 1, 1], [16, 16, 16], [3, 0, 4]])
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]]) {
    if ((m === 100 || m === 16) && (ta || tb) && !(ta && tb)) continue;
    cases.push({
      label: `MatMul ${m}x${k}x${n}${ta ? " ta" : ""}${tb ? " tb" : ""}`,
      type: "MatMul",
      attrs: { transpose_a: ta, transpose_b: tb },
      inputs: [random(ta ? [k, m] : [m, k], m + k, -1, 1), random(tb ? [n, k] : [k, n], n * 3 + k, -1, 1)],
    });
  }
cases.push({ label: "MatMul int32", type: "MatMul", inputs: [randomInts([9, 20], 1, -5, 5), randomInts([20, 7], 2, -5, 5)] });
cases.push({ label: "BatchMatMulV2 [3,5,4]·[3,4,6]", type: "BatchMatMulV2", inputs: [random([3, 5, 4], 3), random([3, 4, 6], 4)] });
cases.push({ label: "BatchMatMulV2 broadcast [2,1,5,4]·[3,4,6] adj", type: "BatchMatMulV2", attrs: { adj_x: false, adj_y: true }, inputs: [random([2, 1, 5, 4], 5), random([3, 6, 4], 6)] });
cases.push({ label: "BatchMatMulV2 [4,20]·[2,20,3] adj_x", type: "BatchMatMulV2", attrs: { adj_x: true }, inputs: [random([20, 4], 7), random([2, 20, 3], 8)] });

/** Conv op inputs and attrs for one configuration (the backprop ops get the forward output's shape). */
function convCases(base: string, format: "NHWC" | "NCHW", x: number[], w: number[], stride: number, padding: "SAME" | "VALID", dilation: number, seed: number): void {
  const attrs = {
    strides: format === "NHWC" ? [1, stride, stride, 1] : [1, 1, stride, stride],
    dilations: format === "NHWC" ? [1, dilation, dilation, 1] : [1, 1, dilation, dilation],
    padding,
    data_format: format,
  };
  const g = new Graph();
  const xt = g.addOp({ type: "Placeholder", name: "x", attrs: { dtype: "float32", shape: x } }).outputs[0];
  const wt = g.addOp({ type: "Placeholder", name: "w", attrs: { dtype: "float32", shape: w } }).outputs[0];
  const y = g.addOp({ type: base, inputs: [xt, wt], attrs }).outputs[0].shape as number[];
  const tag = `${format} x${JSON.stringify(x)} w${JSON.stringify(w)} s${stride} ${padding} d${dilation}`;
  cases.push({ label: `${base} ${tag}`, type: base, attrs, inputs: [random(x, seed), random(w, seed + 1)] });
  cases.push({ label: `${base}BackpropInput ${tag}`, type: `${base}BackpropInput`, attrs, inputs: [ints(x), random(w, seed + 2), random(y, seed + 3)], constants: [0] });
  cases.push({ label: `${base}BackpropFilter ${tag}`, type: `${base}BackpropFilter`, attrs, inputs: [random(x, seed + 4), ints(w), random(y, seed + 5)], constants: [1] });
}
convCases("Conv2D", "NHWC", [2, 9, 9, 3], [3, 3, 3, 4], 1, "SAME", 1, 10);
convCases("Conv2D", "NHWC", [2, 10, 9, 3], [3, 2, 3, 5], 2, "SAME", 1, 20);
convCases("Conv2D", "NCHW", [2, 3, 8, 7], [3, 3, 3, 4], 2, "VALID", 1, 30);
convCases("Conv2D", "NHWC", [1, 11, 11, 2], [3, 3, 2, 2], 1, "SAME", 2, 40);
convCases("Conv2D", "NHWC", [4, 28, 28, 1], [5, 5, 1, 8], 1, "SAME", 1, 50);
convCases("DepthwiseConv2dNative", "NHWC", [2, 9, 9, 3], [3, 3, 3, 2], 1, "SAME", 1, 60);
convCases("DepthwiseConv2dNative", "NCHW", [2, 3, 9, 8], [3, 3, 3, 2], 2, "SAME", 1, 70);
convCases("DepthwiseConv2dNative", "NHWC", [1, 7, 7, 4], [2, 2, 4, 1], 1, "VALID", 2, 80);

function poolCases(format: "NHWC" | "NCHW", x: number[], k: number, stride: number, padding: "SAME" | "VALID", seed: number): void {
  const attrs = {
    ksize: format === "NHWC" ? [1, k, k, 1] : [1, 1, k, k],
    strides: format === "NHWC" ? [1, stride, stride, 1] : [1, 1, stride, stride],
    padding,
    data_format: format,
  };
  const g = new Graph();
  const xt = g.addOp({ type: "Placeholder", name: "x", attrs: { dtype: "float32", shape: x } }).outputs[0];
  const y = g.addOp({ type: "MaxPool", inputs: [xt], attrs }).outputs[0].shape as number[];
  const tag = `${format} ${JSON.stringify(x)} k${k} s${stride} ${padding}`;
  const xv = random(x, seed);
  cases.push({ label: `MaxPool ${tag}`, type: "MaxPool", attrs, inputs: [xv] });
  cases.push({ label: `AvgPool ${tag}`, type: "AvgPool", attrs, inputs: [xv] });
  // orig_output is only checked for its shape by the reference kernel.
  cases.push({ label: `MaxPoolGrad ${tag}`, type: "MaxPoolGrad", attrs, inputs: [xv, random(y, seed + 1), random(y, seed + 2)] });
  cases.push({ label: `AvgPoolGrad ${tag}`, type: "AvgPoolGrad", attrs, inputs: [ints(x), random(y, seed + 3)], constants: [0] });
}
poolCases("NHWC", [2, 8, 8, 3], 2, 2, "VALID", 100);
poolCases("NHWC", [2, 9, 7, 2], 3, 2, "SAME", 110);
poolCases("NCHW", [2, 3, 9, 9], 3, 1, "SAME", 120);
poolCases("NHWC", [1, 5, 5, 1], 3, 3, "SAME", 130);
cases.push({
  label: "MaxPool int32 with ties",
  type: "MaxPool",
  attrs: { ksize: [1, 2, 2, 1], strides: [1, 1, 1, 1], padding: "VALID", data_format: "NHWC" },
  inputs: [randomInts([1, 5, 5, 2], 140, 0, 3)],
});
cases.push({
  label: "MaxPoolGrad with ties (first maximum wins)",
  type: "MaxPoolGrad",
  attrs: { ksize: [1, 2, 2, 1], strides: [1, 1, 1, 1], padding: "SAME", data_format: "NHWC" },
  inputs: [randomInts([1, 5, 5, 2], 141, 0, 2, "float32"), random([1, 5, 5, 2], 142), random([1, 5, 5, 2], 143)],
});

wgslSuite("matmul, convolution and pooling", cases);
