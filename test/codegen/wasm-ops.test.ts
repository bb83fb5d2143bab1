/** The wasm elementwise, reduction, moments, softmax and pooling kernels against the interpreter. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { binaryVectorOps, unaryVectorOps } from "../../codegen/wasm/simd-ops";
import { elementwiseOp } from "../../codegen/wasm/elementwise";
import { nhwcGeometry } from "../../codegen/wasm/window";
import { expectNear, reference, runProgram, seeded } from "./wasm-helpers";

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** Inputs away from each op's singular points (log/sqrt of negatives, division by ~0). */
function operand(type: string, n: number, seed: number, second = false): Float32Array {
  const positive = ["Sqrt", "Rsqrt", "Log", "Reciprocal", "SqrtGrad", "RsqrtGrad", "Pow"].includes(type) || (second && ["RealDiv", "FloorDiv"].includes(type));
  const data = seeded(n, seed, positive ? 0.25 : -8, positive ? 4 : 8);
  if (type === "Relu6" || type === "Relu6Grad") data.forEach((v, i) => (data[i] = v * 1.2));
  return data;
}

function runElementwise(type: string, shapes: number[][], seed: number): void {
  const inputs = shapes.map((s, i) => ({ shape: s, data: operand(type, size(s), seed + i, i === 1) }));
  const expected = reference(type, inputs, type === "BiasAdd" ? { data_format: "NHWC" } : {})[0];
  const tensors: Record<string, { size: number; data?: Float32Array }> = { out: { size: expected.size } };
  inputs.forEach((x, i) => (tensors[`in${i}`] = { size: x.data.length, data: x.data }));
  const names = inputs.map((_, i) => `in${i}`);
  const program = runProgram(tensors, [
    { reads: names, writes: ["out"], make: (at) => elementwiseOp(type, type, expected.shape, inputs.map((x, i) => ({ offset: at(names[i]), shape: x.shape })), at("out")) },
  ]);
  expectNear(program.view("out"), expected.data, 1e-3, 2e-6);
}

describe("wasm elementwise kernels", () => {
  it("every unary op matches its reference kernel (lengths with and without a lane tail)", () => {
    for (const type of Object.keys(unaryVectorOps)) for (const shape of [[13], [4, 8], [1]]) runElementwise(type, [shape], 7);
  });

  it("every binary op matches, same shapes and broadcast trailing vectors, rows and scalars", () => {
    runElementwise("BiasAdd", [[6, 9], [9]], 4);
    for (const type of Object.keys(binaryVectorOps).filter((t) => t !== "BiasAdd")) {
      runElementwise(type, [[5, 7], [5, 7]], 3);
      runElementwise(type, [[6, 9], [9]], 4);
      runElementwise(type, [[3, 1], [3, 10]], 5);
      runElementwise(type, [[], [2, 3, 5]], 6);
    }
  });

  it("exp covers under- and overflow, NaN and infinities like Math.exp rounded to f32", () => {
    const x = Float32Array.from([-200, -104, -90, -87.5, -20, -1e-3, 0, 1e-7, 0.5, 1, 10, 88, 88.7, 89, 200, NaN, Infinity, -Infinity]);
    const expected = reference("Exp", [{ shape: [x.length], data: x }])[0];
    const program = runProgram({ x: { size: x.length, data: x }, y: { size: x.length } }, [
      { reads: ["x"], writes: ["y"], make: (at) => elementwiseOp("Exp", "Exp", [x.length], [{ offset: at("x"), shape: [x.length] }], at("y")) },
    ]);
    expectNear(program.view("y"), expected.data, 0, 2e-6);
  });

  it("a fused group Relu(x·scale + shift) with a scalar constant and two outputs", () => {
    const x = seeded(6 * 10, 1, -3, 3);
    const s = seeded(10, 2);
    const t = seeded(10, 3);
    const product = reference("Mul", [{ shape: [6, 10], data: x }, { shape: [10], data: s }])[0];
    const shifted = reference("AddV2", [{ shape: [6, 10], data: product.data }, { shape: [10], data: t }])[0];
    const halved = reference("Mul", [{ shape: [6, 10], data: shifted.data }, { shape: [], data: [0.5] }])[0];
    const out = reference("Relu", [{ shape: [6, 10], data: halved.data }])[0];
    const program = runProgram({ x: { size: 60, data: x }, s: { size: 10, data: s }, t: { size: 10, data: t }, y: { size: 60 }, z: { size: 60 } }, [
      {
        reads: ["x", "s", "t"],
        writes: ["y", "z"],
        make: (at) => ({
          kind: "elementwise",
          op: "fused",
          shape: [6, 10],
          inputs: [{ offset: at("x"), shape: [6, 10] }, { offset: at("s"), shape: [10] }, { offset: at("t"), shape: [10] }, { value: 0.5 }],
          ops: [{ type: "Mul", args: [0, 1] }, { type: "AddV2", args: [4, 2] }, { type: "Mul", args: [5, 3] }, { type: "Relu", args: [6] }],
          outputs: [{ value: 7, offset: at("y") }, { value: 5, offset: at("z") }],
        }),
      },
    ]);
    expectNear(program.view("y"), out.data);
    expectNear(program.view("z"), shifted.data);
  });

  it("matches on random broadcasts (shapes up to rank 4, size-1 dims)", () => {
    fc.assert(
      fc.property(
        fc.array(fc.integer({ min: 1, max: 6 }), { minLength: 0, maxLength: 4 }),
        fc.array(fc.boolean(), { minLength: 4, maxLength: 4 }),
        fc.constantFrom("AddV2", "Sub", "Mul", "Maximum", "SquaredDifference"),
        fc.integer({ min: 1, max: 1000 }),
        (shape, ones, type, seed) => {
          const other = shape.map((d, i) => (ones[i] ? 1 : d)).slice(seed % 2);
          runElementwise(type, seed % 3 ? [shape, other] : [other, shape], seed);
        },
      ),
      { numRuns: 30 },
    );
  });
});

describe("wasm reductions, moments and softmax", () => {
  const reduceCase = (type: "Sum" | "Mean" | "Max" | "Min", shape: number[], axes: number[]) => {
    const x = seeded(size(shape), shape.length + axes.length, -2, 2);
    const expected = reference(type, [{ shape, data: x }, { shape: [axes.length], data: axes }], { keep_dims: false })[0];
    const lo = Math.min(...axes);
    const hi = Math.max(...axes);
    const view = { outer: size(shape.slice(0, lo)), reduce: size(shape.slice(lo, hi + 1)), inner: size(shape.slice(hi + 1)) };
    const program = runProgram({ x: { size: x.length, data: x }, y: { size: expected.size } }, [
      { reads: ["x"], writes: ["y"], make: (at) => ({ kind: "reduce", op: type, type, ...view, x: at("x"), y: at("y") }) },
    ]);
    expectNear(program.view("y"), expected.data, Math.sqrt(view.reduce));
  };

  it("Sum, Mean, Max and Min over the last axis, the batch axis and N·H·W of NHWC", () => {
    for (const type of ["Sum", "Mean", "Max", "Min"] as const) {
      reduceCase(type, [7, 13], [1]);
      reduceCase(type, [5, 4], [1]);
      reduceCase(type, [9, 37], [0]);
      reduceCase(type, [2, 3, 5, 19], [0, 1, 2]);
      reduceCase(type, [3, 6, 7], [1]);
    }
  });

  it("Max skips NaNs like the reference scan", () => {
    const x = Float32Array.from([NaN, 1, 5, NaN, -3, NaN, NaN]);
    const expected = reference("Max", [{ shape: [7], data: x }, { shape: [1], data: [0] }])[0];
    const program = runProgram({ x: { size: 7, data: x }, y: { size: 1 } }, [
      { reads: ["x"], writes: ["y"], make: (at) => ({ kind: "reduce", op: "Max", type: "Max", outer: 1, reduce: 7, inner: 1, x: at("x"), y: at("y") }) },
    ]);
    expect(program.view("y")[0]).toBe(expected.data[0]);
  });

  it("moments: the mean and biased variance per channel, and per row", () => {
    for (const [shape, outer, reduce, inner] of [[[4, 3, 3, 19], 1, 36, 19], [[6, 13], 6, 13, 1], [[100, 10], 1, 100, 10]] as const) {
      const x = seeded(size(shape), reduce, 1, 3);
      const axes = inner === 1 ? [shape.length - 1] : shape.slice(0, -1).map((_, i) => i);
      const mean = reference("Mean", [{ shape: [...shape], data: x }, { shape: [axes.length], data: axes }], { keep_dims: true })[0];
      const sq = reference("SquaredDifference", [{ shape: [...shape], data: x }, { shape: mean.shape, data: mean.data }])[0];
      const variance = reference("Mean", [{ shape: sq.shape, data: sq.data }, { shape: [axes.length], data: axes }], { keep_dims: true })[0];
      const program = runProgram({ x: { size: x.length, data: x }, mean: { size: mean.size }, variance: { size: variance.size } }, [
        { reads: ["x"], writes: ["mean", "variance"], make: (at) => ({ kind: "moments", op: "moments", outer, reduce, inner, x: at("x"), mean: at("mean"), variance: at("variance") }) },
      ]);
      expectNear(program.view("mean"), mean.data);
      expectNear(program.view("variance"), variance.data);
    }
  });

  it("Softmax and LogSoftmax over the last axis (row tails, one column, large logits)", () => {
    for (const type of ["Softmax", "LogSoftmax"] as const)
      for (const [rows, columns, spread] of [[5, 10, 4], [3, 7, 30], [4, 1, 1], [2, 64, 80]]) {
        const x = seeded(rows * columns, columns, -spread, spread);
        const expected = reference(type, [{ shape: [rows, columns], data: x }])[0];
        const program = runProgram({ x: { size: x.length, data: x }, y: { size: x.length } }, [
          { reads: ["x"], writes: ["y"], make: (at) => ({ kind: "softmax", op: type, type, rows, columns, x: at("x"), y: at("y") }) },
        ]);
        expectNear(program.view("y"), expected.data, type === "Softmax" ? 1e-3 : 1, type === "Softmax" ? 2e-5 : 1e-5);
      }
  });
});

describe("wasm pooling", () => {
  const poolCase = (type: "MaxPool" | "AvgPool", shape: number[], k: number, stride: number, padding: "SAME" | "VALID") => {
    const x = seeded(size(shape), k * 10 + stride, -3, 3);
    const attrs = { ksize: [1, k, k, 1], strides: [1, stride, stride, 1], padding, data_format: "NHWC" };
    const expected = reference(type, [{ shape, data: x }], attrs)[0];
    const g = nhwcGeometry(shape, k, k, [stride, stride], [1, 1], padding);
    const program = runProgram({ x: { size: x.length, data: x }, y: { size: expected.size } }, [
      { reads: ["x"], writes: ["y"], make: (at) => ({ kind: "pool", op: type, type, geometry: g, channels: shape[3], x: at("x"), y: at("y") }) },
    ]);
    expectNear(program.view("y"), expected.data);
  };

  it("MaxPool and AvgPool, SAME (clipped windows) and VALID, strides 1 and 2, channel tails", () => {
    for (const type of ["MaxPool", "AvgPool"] as const) {
      poolCase(type, [2, 7, 7, 5], 3, 2, "SAME");
      poolCase(type, [1, 8, 8, 16], 2, 2, "VALID");
      poolCase(type, [2, 5, 6, 19], 3, 1, "SAME");
      poolCase(type, [1, 4, 4, 1], 2, 1, "VALID");
    }
  });
});
