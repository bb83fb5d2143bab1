/**
 * Winograd F(m×m, 3×3) Conv2D (codegen/wasm/winograd.ts) against the interpreter: the transform
 * matrices in exact arithmetic, the kernel on fixed and random shapes (partial tiles, channel
 * tails, blocks, epilogues with channel and tensor operands), its accuracy against the direct
 * kernel, the per-layer choice (planConvFilter), and the wasm session using it.
 */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as tf from "foldflow";
import { convCosts, packFilter, planConvFilter, type ConvKernel } from "../../codegen/wasm/conv";
import type { EpilogueStep } from "../../codegen/wasm/epilogue";
import { nhwcGeometry } from "../../codegen/wasm/window";
import { winogradFilterFloats } from "../../codegen/wasm/winograd";
import { packWinogradFilter, winogradMatrices, type WinogradM } from "../../codegen/wasm/winograd-transform";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { randomData } from "../helpers/run";
import { expectNear, reference, runProgram, seeded } from "./wasm-helpers";
import { backendOf, kernelKinds, runBoth } from "./wasm-helpers-session";

type Epilogue = "none" | "bias-relu" | "scale-shift-relu6" | "residual";

interface Case {
  batch: number;
  h: number;
  w: number;
  cin: number;
  cout: number;
  padding: "SAME" | "VALID";
  epilogue: Epilogue;
  m: WinogradM;
  blockRows?: number;
  seed: number;
}

/** The interpreter's Conv2D and epilogue, and the Winograd kernel's (and the direct kernel's) output. */
function compute(c: Case): { expected: Float32Array; winograd: Float32Array; direct: Float32Array; scale: number; exact: () => Float64Array } {
  const xShape = [c.batch, c.h, c.w, c.cin];
  const wShape = [3, 3, c.cin, c.cout];
  const x = seeded(xShape.reduce((a, b) => a * b), c.seed);
  const w = seeded(wShape.reduce((a, b) => a * b), c.seed + 1);
  const bias = seeded(c.cout, c.seed + 2);
  const scale = seeded(c.cout, c.seed + 3, 0.5, 3);
  const shift = seeded(c.cout, c.seed + 4, -1, 1);
  const attrs = { strides: [1, 1, 1, 1], padding: c.padding, data_format: "NHWC", dilations: [1, 1, 1, 1] };
  let y = reference("Conv2D", [{ shape: xShape, data: x }, { shape: wShape, data: w }], attrs)[0];
  const residual = seeded(y.size, c.seed + 5);
  const apply = (type: string, other?: { shape: number[]; data: Float32Array }) => {
    y = reference(type, other ? [{ shape: y.shape, data: y.data }, other] : [{ shape: y.shape, data: y.data }], type === "BiasAdd" ? { data_format: "NHWC" } : {})[0];
  };
  const vec = (d: Float32Array) => ({ shape: [c.cout], data: d });
  if (c.epilogue === "bias-relu") apply("BiasAdd", vec(bias)), apply("Relu");
  if (c.epilogue === "scale-shift-relu6") apply("Mul", vec(scale)), apply("AddV2", vec(shift)), apply("Relu6");
  if (c.epilogue === "residual") apply("AddV2", { shape: [...y.shape], data: residual }), apply("Relu");

  const g = nhwcGeometry(xShape, 3, 3, [1, 1], [1, 1], c.padding);
  expect([g.batch, g.outH, g.outW, c.cout]).toEqual(y.shape);
  const epilogue = (at: (n: string) => number): EpilogueStep[] =>
    c.epilogue === "bias-relu"
      ? [{ type: "BiasAdd", operand: { kind: "channel", offset: at("bias") } }, { type: "Relu" }]
      : c.epilogue === "scale-shift-relu6"
        ? [{ type: "Mul", operand: { kind: "channel", offset: at("scale") } }, { type: "AddV2", operand: { kind: "channel", offset: at("shift") } }, { type: "Relu6" }]
        : c.epilogue === "residual"
          ? [{ type: "AddV2", operand: { kind: "tensor", offset: at("residual") }, operandFirst: true }, { type: "Relu" }]
          : [];
  const run = (winograd: boolean) => {
    const wData = winograd ? packWinogradFilter(w, c.cin, c.cout, c.m) : packFilter(w, 3, 3, c.cin, c.cout);
    const program = runProgram(
      {
        x: { size: x.length, data: x },
        w: { size: wData.length, data: wData, role: "constant" },
        bias: { size: c.cout, data: bias },
        scale: { size: c.cout, data: scale },
        shift: { size: c.cout, data: shift },
        residual: { size: residual.length, data: residual },
        y: { size: y.size },
      },
      [
        {
          reads: ["x", "w", "bias", "scale", "shift", "residual"],
          writes: ["y"],
          make: (at): ConvKernel => ({
            kind: "conv2d", op: "conv2d/Conv2D", geometry: g, inC: c.cin, outC: c.cout, x: at("x"), w: at("w"), y: at("y"), wPacked: true,
            winograd: winograd ? { m: c.m, blockRows: c.blockRows } : undefined, epilogue: epilogue(at),
          }),
        },
      ],
    );
    return program.view("y").slice();
  };
  return { expected: Float32Array.from(y.data), winograd: run(true), direct: run(false), scale: Math.sqrt(9 * c.cin), exact: () => exactConv(c, g, x, w, bias) };
}

/** The conv (and a bias + relu epilogue) in float64, for the rounding comparison. */
function exactConv(c: Case, g: ReturnType<typeof nhwcGeometry>, x: Float32Array, w: Float32Array, bias: Float32Array): Float64Array {
  if (c.epilogue !== "none" && c.epilogue !== "bias-relu") throw new Error("exactConv covers no epilogue or bias + relu");
  const y = new Float64Array(g.batch * g.outH * g.outW * c.cout);
  for (let n = 0; n < g.batch; n++)
    for (let oh = 0; oh < g.outH; oh++)
      for (let ow = 0; ow < g.outW; ow++)
        for (let co = 0; co < c.cout; co++) {
          let s = 0;
          for (let i = 0; i < 3; i++)
            for (let j = 0; j < 3; j++) {
              const ih = oh + i - g.padTop;
              const iw = ow + j - g.padLeft;
              if (ih < 0 || ih >= c.h || iw < 0 || iw >= c.w) continue;
              for (let ci = 0; ci < c.cin; ci++) s += x[((n * c.h + ih) * c.w + iw) * c.cin + ci] * w[((i * 3 + j) * c.cin + ci) * c.cout + co];
            }
          y[((n * g.outH + oh) * g.outW + ow) * c.cout + co] = c.epilogue === "bias-relu" ? Math.max(0, s + bias[co]) : s;
        }
  return y;
}

/**
 * F(2×2): 1e-5 of the natural scale. With `againstDirect` (a case with enough outputs for the
 * largest error to be a stable statistic): a largest error from the float64 result no worse than
 * the direct kernel's.
 */
function check(c: Case, againstDirect = false): void {
  const { expected, winograd, direct, scale, exact } = compute(c);
  const tolerance = c.m === 2 ? 1e-5 : 1e-4;
  expectNear(winograd, expected, scale, tolerance);
  if (!againstDirect) return;
  // Against float64: the interpreter sums in the direct kernel's order, so it shares that kernel's rounding.
  const truth = exact();
  const largest = (a: Float32Array) => a.reduce((worst, v, i) => Math.max(worst, Math.abs(v - truth[i])), 0);
  expect(largest(winograd)).toBeLessThanOrEqual(largest(direct));
}

const base: Case = { batch: 2, h: 7, w: 6, cin: 5, cout: 7, padding: "SAME", epilogue: "none", m: 2, seed: 1 };

describe("Winograd transforms", () => {
  it("Aᵀ[(G g) ⊙ (Bᵀ d)] is the 1-D correlation of d (m + 2 inputs) with g (3 taps), exactly", () => {
    for (const m of [2, 4] as const) {
      const { alpha, BT, G, AT } = winogradMatrices(m);
      expect([BT.length, G.length, AT.length, AT[0].length]).toEqual([alpha, alpha, m, alpha]);
      for (let trial = 0; trial < 20; trial++) {
        const d = Array.from(randomData(alpha, 10 + trial));
        const g = Array.from(randomData(3, 40 + trial));
        const u = G.map((row) => row.reduce((s, v, k) => s + v * g[k], 0));
        const v = BT.map((row) => row.reduce((s, x, k) => s + x * d[k], 0));
        const y = AT.map((row) => row.reduce((s, a, k) => s + a * u[k] * v[k], 0));
        const direct = Array.from({ length: m }, (_, i) => d[i] * g[0] + d[i + 1] * g[1] + d[i + 2] * g[2]);
        y.forEach((value, i) => expect(value).toBeCloseTo(direct[i], 12));
      }
    }
  });
});

describe("wasm Conv2D by Winograd F(2×2, 3×3)", () => {
  it("matches the interpreter for SAME and VALID, odd sizes (partial tiles) and channel tails", () => {
    for (const padding of ["SAME", "VALID"] as const) for (const [h, w] of [[7, 6], [8, 8], [5, 9]]) check({ ...base, padding, h, w, seed: h * w });
  });

  it("handles one channel, 1×1 and 2×1 outputs, 3×3 VALID inputs, and wide channel counts", () => {
    check({ ...base, cin: 1, cout: 1 });
    check({ ...base, h: 1, w: 1 });
    check({ ...base, h: 2, w: 1, cin: 4, cout: 8 });
    check({ ...base, h: 3, w: 3, padding: "VALID" });
    check({ ...base, h: 4, w: 5, cin: 40, cout: 36 });
    check({ ...base, batch: 2, h: 16, w: 16, cin: 64, cout: 64 }, true);
  });

  it("splits the tile rows into blocks (a remainder block too) with the same numbers", () => {
    for (const blockRows of [1, 2, 3, 100]) check({ ...base, batch: 3, h: 9, w: 10, blockRows, seed: blockRows });
  });

  it("fuses bias + relu, folded batch-norm scale/shift + relu6 and a residual tensor operand", () => {
    for (const epilogue of ["bias-relu", "scale-shift-relu6", "residual"] as const) check({ ...base, epilogue, cout: 13, seed: 3 });
  });

  it("the benchmark shape (batch 8, 32×32, 16 → 32, SAME, bias + relu) and 64 → 64 match, no less accurate than the direct kernel", () => {
    check({ ...base, batch: 8, h: 32, w: 32, cin: 16, cout: 32, epilogue: "bias-relu" }, true);
  });

  it("matches the interpreter on random shapes (sizes, SAME/VALID, channels 1..19, batches, blocks, epilogues)", () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 1, max: 12 }),
          w: fc.integer({ min: 1, max: 12 }),
          cin: fc.integer({ min: 1, max: 19 }),
          cout: fc.integer({ min: 1, max: 19 }),
          padding: fc.constantFrom<"SAME" | "VALID">("SAME", "VALID"),
          epilogue: fc.constantFrom<Epilogue>("none", "bias-relu", "scale-shift-relu6", "residual"),
          blockRows: fc.option(fc.integer({ min: 1, max: 5 }), { nil: undefined }),
          seed: fc.integer({ min: 1, max: 1 << 20 }),
        }),
        (r) => {
          fc.pre(r.padding === "SAME" || (r.h >= 3 && r.w >= 3));
          check({ ...r, m: 2 });
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("wasm Conv2D by Winograd F(4×4, 3×3) (opt-in: 2.5–4× the direct kernel's rounding error)", () => {
  it("matches the interpreter to 1e-4 of the natural scale on random shapes", () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 1, max: 2 }),
          h: fc.integer({ min: 1, max: 13 }),
          w: fc.integer({ min: 1, max: 13 }),
          cin: fc.integer({ min: 1, max: 19 }),
          cout: fc.integer({ min: 1, max: 19 }),
          padding: fc.constantFrom<"SAME" | "VALID">("SAME", "VALID"),
          epilogue: fc.constantFrom<Epilogue>("none", "bias-relu", "residual"),
          seed: fc.integer({ min: 1, max: 1 << 20 }),
        }),
        (r) => {
          fc.pre(r.padding === "SAME" || (r.h >= 3 && r.w >= 3));
          check({ ...r, m: 4 });
        },
      ),
      { numRuns: 15 },
    );
  });
});

describe("planConvFilter", () => {
  const geometry = (n: number, h: number, k: number, stride = 1, dilation = 1) => nhwcGeometry([n, h, h, 1], k, k, [stride, stride], [dilation, dilation], "SAME");

  it("takes F(2×2) for the benchmark net's layers with 16 or more input channels, and never F(4×4) unless asked", () => {
    const channels = [3, 16, 16, 32, 32, 64, 64];
    for (let i = 2; i < channels.length; i++) {
      const plan = planConvFilter(geometry(8, 32, 3), channels[i - 1], channels[i]);
      expect(plan.winograd).toEqual({ m: 2 });
      expect(plan.pack(randomData(9 * channels[i - 1] * channels[i])).length).toBe(16 * channels[i - 1] * Math.ceil(channels[i] / 8) * 8);
      expect(winogradFilterFloats(channels[i - 1], channels[i], 2)).toBe(16 * channels[i - 1] * Math.ceil(channels[i] / 8) * 8);
    }
    expect(planConvFilter(geometry(8, 32, 3), 64, 64, [2, 4]).winograd).toEqual({ m: 4 });
  });

  it("keeps the direct kernel for 1×1 and 5×5 filters, strides, dilations, one output pixel and one channel", () => {
    expect(planConvFilter(geometry(8, 32, 1), 64, 64).winograd).toBeUndefined();
    expect(planConvFilter(geometry(8, 32, 5), 64, 64).winograd).toBeUndefined();
    expect(planConvFilter(geometry(8, 32, 3, 2), 64, 64).winograd).toBeUndefined();
    expect(planConvFilter(geometry(8, 32, 3, 1, 2), 64, 64).winograd).toBeUndefined();
    expect(planConvFilter(geometry(1, 1, 3), 64, 64).winograd).toBeUndefined();
    expect(planConvFilter(geometry(8, 32, 3), 1, 1).winograd).toBeUndefined();
    const direct = planConvFilter(geometry(2, 8, 1), 3, 5);
    expect(direct.key).toBe("direct");
    expect(direct.pack(randomData(15))).toEqual(packFilter(randomData(15), 1, 1, 3, 5));
  });

  it("costs: F(2×2) does 4 multiply-adds per output and channel pair where the direct kernel does 9", () => {
    const c = convCosts(geometry(1, 32, 3), 256, 256);
    expect(c.direct / 9).toBe(32 * 32 * 256 * 256);
    expect(c.winograd2! / c.direct).toBeGreaterThan(4 / 9);
    expect(c.winograd2! / c.direct).toBeLessThan(0.5);
  });
});

describe("the wasm session runs constant-filter 3×3 convolutions by Winograd", () => {
  beforeAll(() => wasmReady());

  it("a two-layer conv + bias + relu net matches the interpreter, whole and split across threads", () => {
    const build = () => {
      const x = tf.placeholder("float32", [4, 17, 16, 14], "x");
      // Filters scaled by 1/√fan-in (as initializers do): outputs of order 1, where 1e-6 absolute is meaningful.
      const f1 = tf.constant(randomData(9 * 14 * 30, 61, -0.5 / Math.sqrt(9 * 14), 0.5 / Math.sqrt(9 * 14)), [3, 3, 14, 30]);
      const f2 = tf.constant(randomData(9 * 30 * 22, 62, -0.5 / Math.sqrt(9 * 30), 0.5 / Math.sqrt(9 * 30)), [3, 3, 30, 22]);
      const h = tf.nn.relu(tf.nn.biasAdd(tf.nn.conv2d(x, f1, 1, "SAME"), tf.constant(randomData(30, 63))));
      return { fetch: tf.nn.relu(tf.nn.biasAdd(tf.nn.conv2d(h, f2, 1, "VALID"), tf.constant(randomData(22, 64)))) };
    };
    const feeds = { x: tf.ndarray(randomData(4 * 17 * 16 * 14, 65), [4, 17, 16, 14]) };
    const { wasm } = runBoth(build, { feeds });
    const kernels = backendOf(wasm).last!.built.kernels;
    expect(kernels.map((k) => (k.kind === "conv2d" ? k.winograd?.m : undefined))).toEqual(kernels.map(() => 2));
    expect(kernelKinds(wasm).every((k) => k === "conv2d+2")).toBe(true);

    const graph = new tf.Graph();
    const r = graph.asDefault(build);
    const expected = new tf.Session({ graph, backend: "interpreter" }).runSync(r.fetch, feeds) as tf.NDArray;
    const split = new tf.Session({ graph, backend: "wasm", intraOpParallelism: 2 });
    const actual = split.runSync(r.fetch, feeds) as tf.NDArray;
    expect(kernelKinds(split).length).toBeGreaterThan(2);
    expectNear(actual.data, expected.data, 1, 1e-5);
    split.close();
  });
});
