/**
 * The wasm training kernels for convolutions and pooling (NHWC) against the reference kernels:
 * Conv2DBackpropInput (stride 1 as a flipped-filter conv, strides > 1 as GEMM + col2im),
 * Conv2DBackpropFilter, MaxPoolGrad and AvgPoolGrad — fixed edge cases and random shapes.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { nhwcGeometry } from "../../codegen/wasm/window";
import { expectNear, reference, runProgram, seeded } from "./wasm-helpers";
import { convCases, forWindowCases, type ConvCase } from "./window-cases";


const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

function runConv(c: ConvCase): void {
  const xShape = [c.batch, c.h, c.w, c.cin];
  const wShape = [c.kh, c.kw, c.cin, c.cout];
  const g = nhwcGeometry(xShape, c.kh, c.kw, [c.sh, c.sw], [c.dilation, c.dilation], c.padding);
  const dyShape = [c.batch, g.outH, g.outW, c.cout];
  const x = seeded(size(xShape), c.seed);
  const w = seeded(size(wShape), c.seed + 1);
  const dy = seeded(size(dyShape), c.seed + 2);
  const attrs = { strides: [1, c.sh, c.sw, 1], padding: c.padding, data_format: "NHWC", dilations: [1, c.dilation, c.dilation, 1] };
  const dx = reference("Conv2DBackpropInput", [{ shape: [4], data: xShape }, { shape: wShape, data: w }, { shape: dyShape, data: dy }], attrs)[0];
  const half = Math.floor(c.cin / 2);
  const dw = reference("Conv2DBackpropFilter", [{ shape: xShape, data: x }, { shape: [4], data: wShape }, { shape: dyShape, data: dy }], attrs)[0];
  const program = runProgram(
    { x: { size: x.length, data: x }, w: { size: w.length, data: w }, dy: { size: dy.length, data: dy }, dx: { size: dx.size }, dw: { size: dw.size }, dwParts: { size: dw.size } },
    [
      {
        reads: ["w", "dy"],
        writes: ["dx"],
        make: (at) => ({ kind: "conv2d-backprop-input", op: "Conv2DBackpropInput", geometry: g, inC: c.cin, outC: c.cout, w: at("w"), dy: at("dy"), dx: at("dx") }),
      },
      {
        reads: ["x", "dy"],
        writes: ["dw"],
        make: (at) => ({ kind: "conv2d-backprop-filter", op: "Conv2DBackpropFilter", geometry: g, inC: c.cin, outC: c.cout, x: at("x"), dy: at("dy"), dw: at("dw") }),
      },
      // The same dw in two parts of input channels (as a split kernel computes it).
      ...[{ first: 0, count: half }, { first: half, count: c.cin - half }].map((channels) => ({
        reads: ["x", "dy"],
        writes: ["dwParts"],
        make: (at: (name: string) => number) =>
          ({ kind: "conv2d-backprop-filter", op: "Conv2DBackpropFilter", geometry: g, inC: c.cin, outC: c.cout, x: at("x"), dy: at("dy"), dw: at("dwParts"), channels }) as const,
      })),
    ],
  );
  expectNear(program.view("dx"), dx.data, Math.max(1, Math.sqrt(c.kh * c.kw * c.cout)));
  expectNear(program.view("dw"), dw.data, Math.max(1, Math.sqrt(c.batch * g.outH * g.outW)));
  expect(Array.from(program.view("dwParts")), "dw computed in two parts").toEqual(Array.from(program.view("dw")));
}

const base: ConvCase = { batch: 2, h: 7, w: 6, cin: 3, cout: 5, kh: 3, kw: 3, sh: 1, sw: 1, dilation: 1, padding: "SAME", seed: 1 };

describe("wasm Conv2DBackpropInput and Conv2DBackpropFilter", () => {
  it("match for SAME and VALID, strides 1, 2 and (1, 3)", () => {
    for (const padding of ["SAME", "VALID"] as const)
      for (const [sh, sw] of [[1, 1], [2, 2], [1, 3]]) runConv({ ...base, padding, sh, sw, seed: sh * 10 + sw });
  });

  it("handle 1×1 filters, one channel, 19 and 17 channels, dilations, tall filters and empty VALID outputs", () => {
    runConv({ ...base, kh: 1, kw: 1, cin: 16, cout: 19 });
    runConv({ ...base, kh: 1, kw: 1, cin: 6, cout: 7, sh: 2, sw: 2 });
    runConv({ ...base, cin: 1, cout: 1, h: 5, w: 5 });
    runConv({ ...base, cin: 19, cout: 17, sh: 2, sw: 2 });
    runConv({ ...base, dilation: 2, h: 9, w: 8 });
    runConv({ ...base, dilation: 2, h: 9, w: 8, sh: 2, sw: 2, padding: "VALID" });
    runConv({ ...base, kh: 4, kw: 1, padding: "VALID" });
    runConv({ ...base, h: 2, w: 2, padding: "VALID" });
    runConv({ ...base, cin: 70, cout: 9, h: 4, w: 4, sh: 2, sw: 2 });
  });

  it("the bench shapes (batch 8, 32×32, 3 → 16 and 16×16, 16 → 32, 3×3 SAME) match", () => {
    runConv({ ...base, batch: 8, h: 32, w: 32, cin: 3, cout: 16 });
    runConv({ ...base, batch: 8, h: 16, w: 16, cin: 16, cout: 32 });
  });

  it("match the reference on random shapes (strides 1..3, dilations 1..2, SAME/VALID, channels 1..19)", () => {
    forWindowCases(convCases({ size: 11, kernel: 4, channels: 19 }), 60, runConv);
  });
});

interface PoolCase {
  type: "MaxPoolGrad" | "AvgPoolGrad";
  batch: number;
  h: number;
  w: number;
  c: number;
  kh: number;
  kw: number;
  sh: number;
  sw: number;
  padding: "SAME" | "VALID";
  /** Round x to a few values, so that windows hold ties (the first maximum must win). */
  ties: boolean;
  seed: number;
}

function runPool(p: PoolCase): void {
  const xShape = [p.batch, p.h, p.w, p.c];
  const g = nhwcGeometry(xShape, p.kh, p.kw, [p.sh, p.sw], [1, 1], p.padding);
  const dyShape = [p.batch, g.outH, g.outW, p.c];
  const x = seeded(size(xShape), p.seed).map((v) => (p.ties ? Math.round(v * 2) : v));
  const dy = seeded(size(dyShape), p.seed + 1);
  const attrs = { ksize: [1, p.kh, p.kw, 1], strides: [1, p.sh, p.sw, 1], padding: p.padding, data_format: "NHWC" };
  const inputs =
    p.type === "MaxPoolGrad"
      ? [{ shape: xShape, data: x }, { shape: dyShape, data: new Float32Array(dy.length) }, { shape: dyShape, data: dy }]
      : [{ shape: [4], data: xShape }, { shape: dyShape, data: dy }];
  const dx = reference(p.type, inputs, attrs)[0];
  const program = runProgram({ x: { size: x.length, data: x }, dy: { size: dy.length, data: dy }, dx: { size: dx.size } }, [
    { reads: ["x", "dy"], writes: ["dx"], make: (at) => ({ kind: "pool-grad", op: p.type, type: p.type, geometry: g, channels: p.c, x: at("x"), dy: at("dy"), dx: at("dx") }) },
  ]);
  expectNear(program.view("dx"), dx.data, 1, 1e-6);
}

const pool: PoolCase = { type: "MaxPoolGrad", batch: 2, h: 7, w: 6, c: 5, kh: 2, kw: 2, sh: 2, sw: 2, padding: "VALID", ties: false, seed: 3 };

describe("wasm MaxPoolGrad and AvgPoolGrad", () => {
  it("match for SAME and VALID, overlapping and strided windows, ties and 1..19 channels", () => {
    for (const type of ["MaxPoolGrad", "AvgPoolGrad"] as const)
      for (const padding of ["SAME", "VALID"] as const)
        for (const [k, s] of [[2, 2], [3, 1], [3, 2]])
          for (const c of [1, 4, 19]) runPool({ ...pool, type, padding, kh: k, kw: k, sh: s, sw: s, c, ties: c === 4, seed: k * 7 + s + c });
  });

  it("NaN cells: the first cell of a window keeps the argmax when it is NaN, a later NaN never wins", () => {
    const xShape = [1, 2, 2, 1];
    const g = nhwcGeometry(xShape, 2, 2, [2, 2], [1, 1], "VALID");
    for (const x of [[NaN, 1, 2, 3], [1, NaN, 0, 3], [5, NaN, NaN, NaN]]) {
      const attrs = { ksize: [1, 2, 2, 1], strides: [1, 2, 2, 1], padding: "VALID", data_format: "NHWC" };
      const dx = reference("MaxPoolGrad", [{ shape: xShape, data: x }, { shape: [1, 1, 1, 1], data: [0] }, { shape: [1, 1, 1, 1], data: [7] }], attrs)[0];
      const program = runProgram({ x: { size: 4, data: x }, dy: { size: 1, data: [7] }, dx: { size: 4 } }, [
        { reads: ["x", "dy"], writes: ["dx"], make: (at) => ({ kind: "pool-grad", op: "MaxPoolGrad", type: "MaxPoolGrad", geometry: g, channels: 1, x: at("x"), dy: at("dy"), dx: at("dx") }) },
      ]);
      expect(Array.from(program.view("dx"))).toEqual(Array.from(dx.data));
    }
  });

  it("match the reference on random shapes", () => {
    fc.assert(
      fc.property(
        fc.record({
          type: fc.constantFrom<PoolCase["type"]>("MaxPoolGrad", "AvgPoolGrad"),
          batch: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 1, max: 10 }),
          w: fc.integer({ min: 1, max: 10 }),
          c: fc.integer({ min: 1, max: 19 }),
          kh: fc.integer({ min: 1, max: 4 }),
          kw: fc.integer({ min: 1, max: 4 }),
          sh: fc.integer({ min: 1, max: 3 }),
          sw: fc.integer({ min: 1, max: 3 }),
          padding: fc.constantFrom<"SAME" | "VALID">("SAME", "VALID"),
          ties: fc.boolean(),
          seed: fc.integer({ min: 1, max: 1 << 20 }),
        }),
        (p) => {
          fc.pre(p.padding === "SAME" || (p.kh <= p.h && p.kw <= p.w));
          runPool(p);
        },
      ),
      { numRuns: 60 },
    );
  });
});
