/**
 * Winograd F(2×2, 3×3) Conv2D with a filter that is not a constant (codegen/wasm/winograd.ts with
 * the run-time filter transform of winograd-filter.ts): the transform against the compile-time
 * packWinogradFilter, the kernel against the interpreter on random shapes (SAME / VALID, channels
 * not multiples of 4, batches, blocks, epilogues), the per-layer choice for a variable filter,
 * and a conv net trained 3 steps on the wasm session against the interpreter.
 */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as tf from "foldflow";
import { convCosts, planConvFilter, type ConvKernel } from "../../codegen/wasm/conv";
import type { EpilogueStep } from "../../codegen/wasm/epilogue";
import { tileOf } from "../../codegen/wasm/gemm";
import { nhwcGeometry } from "../../codegen/wasm/window";
import { winogradFilterFloats, winogradScratchBytes } from "../../codegen/wasm/winograd";
import { emitFilterTransform } from "../../codegen/wasm/winograd-filter";
import { packWinogradFilter, winogradPositionFloats, type WinogradM } from "../../codegen/wasm/winograd-transform";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { randomData } from "../helpers/run";
import { expectNear, reference, runProgram, seeded } from "./wasm-helpers";
import { backendOf, runBoth } from "./wasm-helpers-session";

interface Case {
  batch: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  padding: "SAME" | "VALID";
  bias: boolean;
  blockRows?: number;
  m?: WinogradM;
  seed: number;
}

/** The interpreter's Conv2D (+ bias + relu), and the Winograd kernel's reading the plain filter [3, 3, in, out]. */
function check(c: Case): void {
  const m = c.m ?? 2;
  const xShape = [c.batch, c.h, c.w, c.cin];
  const wShape = [3, 3, c.cin, c.cout];
  const x = seeded(xShape.reduce((a, b) => a * b), c.seed);
  const w = seeded(wShape.reduce((a, b) => a * b), c.seed + 1);
  const bias = seeded(c.cout, c.seed + 2);
  const attrs = { strides: [1, 1, 1, 1], padding: c.padding, data_format: "NHWC", dilations: [1, 1, 1, 1] };
  let y = reference("Conv2D", [{ shape: xShape, data: x }, { shape: wShape, data: w }], attrs)[0];
  if (c.bias) {
    y = reference("BiasAdd", [{ shape: y.shape, data: y.data }, { shape: [c.cout], data: bias }], { data_format: "NHWC" })[0];
    y = reference("Relu", [{ shape: y.shape, data: y.data }])[0];
  }
  const g = nhwcGeometry(xShape, 3, 3, [1, 1], [1, 1], c.padding);
  const epilogue = (at: (n: string) => number): EpilogueStep[] => (c.bias ? [{ type: "BiasAdd", operand: { kind: "channel", offset: at("bias") } }, { type: "Relu" }] : []);
  const program = runProgram(
    // The filter is an input (written before each run), not a constant packed at compile time.
    { x: { size: x.length, data: x }, w: { size: w.length, data: w }, bias: { size: c.cout, data: bias }, y: { size: y.size } },
    [
      {
        reads: ["x", "w", "bias"],
        writes: ["y"],
        make: (at): ConvKernel => ({
          kind: "conv2d", op: "conv2d/Conv2D", geometry: g, inC: c.cin, outC: c.cout, x: at("x"), w: at("w"), y: at("y"), wPacked: false,
          winograd: { m, blockRows: c.blockRows }, epilogue: epilogue(at),
        }),
      },
    ],
  );
  expectNear(program.view("y"), y.data, Math.sqrt(9 * c.cin), m === 2 ? 1e-5 : 1e-4);
}

const base: Case = { batch: 2, h: 7, w: 6, cin: 5, cout: 7, padding: "SAME", bias: false, seed: 1 };

describe("the run-time Winograd filter transform", () => {
  it("writes packWinogradFilter's layout and values (channel tails, full and partial panels, F(2×2) and F(4×4))", () => {
    const { nr } = tileOf(undefined);
    for (const m of [2, 4] as const)
      for (const [cin, cout] of [[1, 1], [3, 5], [5, 8], [6, 13], [16, 20], [9, 3]]) {
        const w = randomData(9 * cin * cout, cin * 100 + cout + m);
        const expected = packWinogradFilter(w, cin, cout, m);
        const size = winogradFilterFloats(cin, cout, m);
        expect(expected.length).toBe(size);
        const program = runProgram({ w: { size: w.length, data: w }, u: { size } }, [
          {
            reads: ["w"],
            writes: ["u"],
            make: (at) => ({
              kind: "custom", op: "filter-transform",
              emit: (fb) => emitFilterTransform(fb, { w: at("w"), inC: cin, outC: cout, m, nr, positionBytes: winogradPositionFloats(cin, cout, nr) * 4, dst: at("u") }),
            }),
          },
        ]);
        // The padded lanes of a tail panel are written too (zeros, as the compile-time packing leaves them).
        expectNear(program.view("u"), expected, 1, m === 2 ? 1e-6 : 1e-5);
      }
  });
});

describe("wasm Conv2D by Winograd F(2×2, 3×3) with a filter transformed at run time", () => {
  it("matches the interpreter on fixed shapes: partial tiles, one channel, wide channels, blocks, bias + relu", () => {
    for (const padding of ["SAME", "VALID"] as const) for (const [h, w] of [[7, 6], [8, 8], [5, 9]]) check({ ...base, padding, h, w, seed: h * w });
    check({ ...base, cin: 1, cout: 1 });
    check({ ...base, h: 1, w: 1 });
    check({ ...base, h: 3, w: 3, padding: "VALID" });
    check({ ...base, h: 4, w: 5, cin: 40, cout: 37, bias: true });
    check({ ...base, batch: 8, h: 16, w: 16, cin: 16, cout: 32, bias: true });
    for (const blockRows of [1, 2, 3]) check({ ...base, batch: 3, h: 9, w: 10, blockRows, seed: blockRows });
  });

  it("matches the interpreter on random shapes (sizes, SAME/VALID, channels 1..23, batches 1..4, blocks, bias + relu)", () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 1, max: 4 }),
          h: fc.integer({ min: 1, max: 12 }),
          w: fc.integer({ min: 1, max: 12 }),
          cin: fc.integer({ min: 1, max: 23 }),
          cout: fc.integer({ min: 1, max: 23 }),
          padding: fc.constantFrom<"SAME" | "VALID">("SAME", "VALID"),
          bias: fc.boolean(),
          blockRows: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
          seed: fc.integer({ min: 1, max: 1 << 20 }),
        }),
        (r) => {
          fc.pre(r.padding === "SAME" || (r.h >= 3 && r.w >= 3));
          check(r);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("F(4×4) with a run-time filter matches to 1e-4 of the natural scale", () => {
    for (const [cin, cout] of [[3, 5], [12, 9]]) check({ ...base, h: 9, w: 11, cin, cout, m: 4, seed: cin });
  });

  it("scratch holds the transformed filter beside the blocks' buffers", () => {
    const g = nhwcGeometry([2, 8, 8, 16], 3, 3, [1, 1], [1, 1], "SAME");
    const k = (wPacked: boolean): ConvKernel => ({ kind: "conv2d", op: "c", geometry: g, inC: 16, outC: 20, x: 0, w: 0, y: 0, wPacked, winograd: { m: 2 } });
    expect(winogradScratchBytes(k(false), { m: 2 }) - winogradScratchBytes(k(true), { m: 2 })).toBe(4 * winogradFilterFloats(16, 20, 2));
  });
});

describe("planConvFilter for a variable filter", () => {
  const geometry = (n: number, h: number, k: number) => nhwcGeometry([n, h, h, 1], k, k, [1, 1], [1, 1], "SAME");

  it("takes F(2×2) for the benchmark net's layers with 16 or more input channels, paying the filter transform", () => {
    const channels = [3, 16, 16, 32, 32, 64, 64];
    for (let i = 2; i < channels.length; i++) expect(planConvFilter(geometry(8, 32, 3), channels[i - 1], channels[i], undefined, "variable").winograd).toEqual({ m: 2 });
    const constant = convCosts(geometry(8, 32, 3), 64, 64);
    const variable = convCosts(geometry(8, 32, 3), 64, 64, "variable");
    expect(variable.winograd2! - constant.winograd2!).toBe(2 * 16 * 64 * 64);
    expect(variable.direct - constant.direct).toBe(9 * 64 * 64);
  });

  it("keeps the direct kernel where the filter transform outweighs the saving (one output pixel, 1×1 filters)", () => {
    expect(planConvFilter(geometry(1, 2, 3), 64, 64, undefined, "variable").winograd).toBeUndefined();
    expect(planConvFilter(geometry(8, 32, 1), 64, 64, undefined, "variable").winograd).toBeUndefined();
  });
});

describe("training a conv net on the wasm session with Winograd convolutions of variable filters", () => {
  beforeAll(() => wasmReady());

  it("conv → batch norm (training) → relu → conv (VALID) → relu → global mean → dense → sparse cross entropy, SGD under UPDATE_OPS, 3 steps", () => {
    const n = 4;
    const { wasm } = runBoth(
      () => {
        const x = tf.placeholder("float32", [n, 10, 9, 7], "x");
        const y = tf.placeholder("int32", [n], "y");
        let h = tf.layers.conv2d(x, 14, 3, { padding: "same", useBias: false, name: "conv1", kernelInitializer: tf.initializers.glorotUniform({ seed: 11 }) });
        h = tf.nn.relu(tf.layers.batchNormalization(h, { training: true, name: "bn1" }));
        h = tf.layers.conv2d(h, 10, 3, { padding: "valid", name: "conv2", kernelInitializer: tf.initializers.glorotUniform({ seed: 12 }) });
        h = tf.reduceMean(tf.nn.relu(h), [1, 2]);
        const logits = tf.layers.dense(h, 3, { kernelInitializer: tf.initializers.glorotUniform({ seed: 13 }) });
        const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
        const train = tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () => new tf.train.GradientDescentOptimizer(0.1).minimize(loss));
        return { fetch: [loss, train], init: tf.globalVariablesInitializer() };
      },
      {
        feeds: { x: tf.ndarray(randomData(n * 10 * 9 * 7, 31), [n, 10, 9, 7]), y: tf.ndarray(Int32Array.from([0, 2, 1, 2]), [n], "int32") },
        steps: 3,
        allowFallback: ["SparseSoftmaxCrossEntropyWithLogits"],
      },
    );
    const convs = backendOf(wasm).last!.built.kernels.filter((k): k is ConvKernel => k.kind === "conv2d");
    expect(convs.map((k) => [k.inC, k.outC, k.winograd?.m, k.wPacked])).toEqual([
      [7, 14, 2, false],
      [14, 10, 2, false],
    ]);
  });

  it("split across two threads (each part transforms the filter into its own scratch), 2 steps", () => {
    const graph = new tf.Graph();
    const r = graph.asDefault(() => {
      const x = tf.placeholder("float32", [4, 16, 16, 16], "x");
      const f = tf.getVariable("f", [3, 3, 16, 22], { initializer: tf.initializers.glorotUniform({ seed: 21 }) });
      const loss = tf.reduceMean(tf.square(tf.nn.relu(tf.nn.conv2d(x, f, 1, "SAME"))));
      return { loss, train: new tf.train.GradientDescentOptimizer(0.5).minimize(loss), init: tf.globalVariablesInitializer() };
    });
    const feeds = { x: tf.ndarray(randomData(4 * 16 * 16 * 16, 41), [4, 16, 16, 16]) };
    const interpreter = new tf.Session({ graph, backend: "interpreter" });
    interpreter.runSync(r.init);
    const split = new tf.Session({ graph, backend: "wasm", intraOpParallelism: 2 });
    for (const [name, value] of interpreter.variableValues) split.setVariableValue(name, tf.ndarray(value.data.slice(), [...value.shape]));
    for (let step = 0; step < 2; step++) {
      const [expected] = interpreter.runSync([r.loss, r.train], feeds) as tf.NDArray[];
      const [actual] = split.runSync([r.loss, r.train], feeds) as tf.NDArray[];
      expectNear(actual.data, expected.data, 1e-3, 1e-5);
    }
    const convs = backendOf(split).last!.built.kernels.filter((k): k is ConvKernel => k.kind === "conv2d");
    expect(convs.length).toBeGreaterThan(1);
    expect(convs.every((k) => k.winograd?.m === 2 && !k.wPacked)).toBe(true);
    const f = interpreter.variableValues.get("f")!;
    expectNear(split.variableValues.get("f")!.data, f.data, Math.max(...Array.from(f.data, Math.abs)), 1e-5);
    split.close();
  });
});
