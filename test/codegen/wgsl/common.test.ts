/** The WGSL emitters' shared pieces: literals, grids over the workgroup limit, the registry's errors. */
import { afterAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { f32, gridOf, i32, literal, withHelpers, MAX_WORKGROUPS } from "../../../codegen/wgsl/common";
import { emitFused } from "../../../codegen/wgsl/elementwise";
import { emitKernel, emitOpKernels, wgslOpTypes } from "../../../codegen/wgsl/emit";
import { closeValidator, validateWgsl } from "../../helpers/wgsl-validate";

afterAll(closeValidator);

describe("WGSL literals", () => {
  it("writes f32 literals that read back exactly, and non-finite values through bits", async () => {
    for (const v of [0, 1, -2, 0.1, 1e-7, 3.4e38, -1.5e-3, 1 / 3]) expect(Math.fround(parseFloat(f32(v)))).toBe(Math.fround(v));
    expect(f32(3)).toBe("3.0f");
    expect(f32(-0)).toBe("-0.0f");
    expect(f32(Infinity)).toBe("ff_bits(0x7f800000u)");
    expect(f32(1e39)).toBe("ff_bits(0x7f800000u)");
    expect(f32(NaN)).toBe("ff_bits(0x7fc00000u)");
    const code = withHelpers(`@compute @workgroup_size(1) fn main() { let a = ${f32(-Infinity)}; let b = ${f32(0.1)}; let c = ${i32(-2147483648)}; let d = ${literal(1, "bool")}; }`);
    expect(await validateWgsl(code)).toEqual([]);
  });
});

describe("dispatch grids", () => {
  it("folds workgroup counts over 65535 into y", () => {
    expect(gridOf(10)).toEqual([10, 1, 1]);
    expect(gridOf(MAX_WORKGROUPS)).toEqual([MAX_WORKGROUPS, 1, 1]);
    const [x, y, z] = gridOf(100_000);
    expect(x).toBeLessThanOrEqual(MAX_WORKGROUPS);
    expect(x * y).toBeGreaterThanOrEqual(100_000);
    expect(z).toBe(1);
  });

  it("emits a valid elementwise shader for more than 65535 × 256 elements", async () => {
    const n = 20_000_000;
    const kernel = emitFused({
      label: "big",
      shape: [n],
      inputs: [{ shape: [n], dtype: "float32" }],
      nodes: [{ type: "Relu", args: [{ input: 0 }], dtype: "float32" }],
      outputs: [0],
    });
    expect(kernel.workgroupCount[1]).toBeGreaterThan(1);
    expect(kernel.workgroupCount[0] * kernel.workgroupCount[1] * 256).toBeGreaterThanOrEqual(n);
    const layout = kernel.bindings.map((b) => ({ binding: b.binding, type: b.access === "read" ? ("read-only-storage" as const) : ("storage" as const) }));
    expect(await validateWgsl(kernel.code, { entryPoint: kernel.entryPoint, layout })).toEqual([]);
  });
});

describe("the emitter registry", () => {
  it("covers the op families of the MNIST training graph", () => {
    const types = wgslOpTypes();
    for (const t of ["MatMul", "BiasAdd", "BiasAddGrad", "Relu", "ReluGrad", "SoftmaxCrossEntropyWithLogits", "Mean", "Sum", "SumToShape", "FusedBatchNormV3", "FusedBatchNormGradV3", "ApplyGradientDescent", "AssignSub", "Conv2D", "MaxPool"])
      expect(types).toContain(t);
  });

  it("refuses an op without a kernel, naming the node", () => {
    const g = new tf.Graph();
    const shape = g.addOp({ type: "Const", name: "shape", attrs: { value: new tf.NDArray("int32", [1], Int32Array.of(3)), dtype: "int32" } }).outputs[0];
    const op = g.addOp({ type: "RandomUniform", name: "noise", inputs: [shape], attrs: { dtype: "float32" } });
    expect(() => emitOpKernels(op, [[1]], [[3]])).toThrow(/noise.*WGSL backend cannot compile RandomUniform/s);
  });

  it("asks for a constant where a shader needs one baked in", () => {
    const g = new tf.Graph();
    const op = g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      const axes = tf.placeholder("int32", [1], "axes");
      return tf.reduceSum(x, axes);
    }).op;
    expect(() => emitKernel(op, [[2, 3], [1]], [[2]])).toThrow(/reduction axes \(input 1\) must be a constant/);
  });

  it("points multi-dispatch ops to emitOpKernels", () => {
    const g = new tf.Graph();
    const op = g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 1, 1, 3], "x");
      return tf.nn.fusedBatchNorm(x, tf.constant([1, 1, 1]), tf.constant([0, 0, 0]))[0];
    }).op;
    expect(() => emitKernel(op, op.inputs.map((t) => t.shape as number[]), op.outputs.map((t) => (t.shape ?? []) as number[]))).toThrow(/emitOpKernels/);
    expect(emitOpKernels(op, op.inputs.map((t) => (t.shape ?? [0]) as number[]), [[2, 1, 1, 3], [3], [3], [3], [3], []]).kernels.length).toBe(2);
  });
});
