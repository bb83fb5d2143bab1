/** The wasm Conv2D and DepthwiseConv2dNative kernels (NHWC) against the interpreter, fixed and random shapes. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import { packFilter } from "../../codegen/wasm/conv";
import type { EpilogueStep } from "../../codegen/wasm/epilogue";
import { nhwcGeometry } from "../../codegen/wasm/window";
import { expectNear, reference, runProgram, seeded } from "./wasm-helpers";

interface Case {
  depthwise: boolean;
  batch: number;
  h: number;
  w: number;
  cin: number;
  /** Output channels (conv) or multiplier (depthwise). */
  cout: number;
  kh: number;
  kw: number;
  stride: number;
  dilation: number;
  padding: "SAME" | "VALID";
  packed: boolean;
  order?: "tile" | "panel";
  epilogue: "none" | "bias-relu" | "scale-shift-relu6";
  seed: number;
}

function run(c: Case): void {
  const xShape = [c.batch, c.h, c.w, c.cin];
  const wShape = [c.kh, c.kw, c.cin, c.cout];
  const x = seeded(xShape.reduce((a, b) => a * b), c.seed);
  const w = seeded(wShape.reduce((a, b) => a * b), c.seed + 1);
  const outC = c.depthwise ? c.cin * c.cout : c.cout;
  const bias = seeded(outC, c.seed + 2);
  const scale = seeded(outC, c.seed + 3, 0.5, 3);
  const shift = seeded(outC, c.seed + 4, -1, 1);
  const attrs = { strides: [1, c.stride, c.stride, 1], padding: c.padding, data_format: "NHWC", dilations: [1, c.dilation, c.dilation, 1] };
  let y = reference(c.depthwise ? "DepthwiseConv2dNative" : "Conv2D", [{ shape: xShape, data: x }, { shape: wShape, data: w }], attrs)[0];
  const vec = (d: Float32Array) => ({ shape: [outC], data: d });
  const apply = (type: string, other?: Float32Array) => {
    y = reference(type, other ? [{ shape: y.shape, data: y.data }, vec(other)] : [{ shape: y.shape, data: y.data }], type === "BiasAdd" ? { data_format: "NHWC" } : {})[0];
  };
  if (c.epilogue === "bias-relu") apply("BiasAdd", bias), apply("Relu");
  if (c.epilogue === "scale-shift-relu6") apply("Mul", scale), apply("AddV2", shift), apply("Relu6");

  const g = nhwcGeometry(xShape, c.kh, c.kw, [c.stride, c.stride], [c.dilation, c.dilation], c.padding);
  expect([g.batch, g.outH, g.outW, outC]).toEqual(y.shape);
  const packed = c.packed && !c.depthwise;
  const wData = packed ? packFilter(w, c.kh, c.kw, c.cin, c.cout) : w;
  const epilogue = (at: (n: string) => number): EpilogueStep[] =>
    c.epilogue === "bias-relu"
      ? [{ type: "BiasAdd", operand: { kind: "channel", offset: at("bias") } }, { type: "Relu" }]
      : c.epilogue === "scale-shift-relu6"
        ? [{ type: "Mul", operand: { kind: "channel", offset: at("scale") } }, { type: "AddV2", operand: { kind: "channel", offset: at("shift") } }, { type: "Relu6" }]
        : [];
  const program = runProgram(
    {
      x: { size: x.length, data: x },
      w: { size: wData.length, data: wData, role: packed ? "constant" : "input" },
      bias: { size: outC, data: bias },
      scale: { size: outC, data: scale },
      shift: { size: outC, data: shift },
      y: { size: y.size },
    },
    [
      {
        reads: ["x", "w", "bias", "scale", "shift"],
        writes: ["y"],
        make: (at) =>
          c.depthwise
            ? { kind: "depthwise", op: "depthwise", geometry: g, channels: c.cin, multiplier: c.cout, x: at("x"), w: at("w"), y: at("y"), epilogue: epilogue(at) }
            : { kind: "conv2d", op: "conv2d/Conv2D", geometry: g, inC: c.cin, outC: c.cout, x: at("x"), w: at("w"), y: at("y"), wPacked: packed, order: c.order, epilogue: epilogue(at) },
      },
    ],
  );
  expectNear(program.view("y"), y.data, Math.max(1, Math.sqrt(c.kh * c.kw * (c.depthwise ? 1 : c.cin))));
}

const base: Case = { depthwise: false, batch: 2, h: 7, w: 6, cin: 3, cout: 5, kh: 3, kw: 3, stride: 1, dilation: 1, padding: "SAME", packed: false, epilogue: "none", seed: 1 };

describe("wasm Conv2D", () => {
  it("matches for SAME and VALID, strides 1 and 2, packed and run-time-packed filters, both loop orders", () => {
    for (const padding of ["SAME", "VALID"] as const)
      for (const stride of [1, 2])
        for (const [packed, order] of [[false, "tile"], [true, "panel"]] as const) run({ ...base, padding, stride, packed, order, seed: stride });
  });

  it("handles 1×1 filters, one channel, 19 channels, dilations, tall filters and empty VALID outputs", () => {
    run({ ...base, kh: 1, kw: 1, cin: 16, cout: 19 });
    run({ ...base, cin: 1, cout: 1, h: 5, w: 5 });
    run({ ...base, cin: 19, cout: 17, stride: 2 });
    run({ ...base, dilation: 2, h: 9, w: 8 });
    run({ ...base, kh: 4, kw: 1, padding: "VALID" });
    run({ ...base, h: 2, w: 2, padding: "VALID" });
  });

  it("fuses bias + relu and folded batch-norm scale/shift + relu6", () => {
    run({ ...base, epilogue: "bias-relu", cout: 13 });
    run({ ...base, epilogue: "scale-shift-relu6", cout: 8, packed: true });
  });

  it("the benchmark shape (batch 8, 32×32, 16 → 32, 3×3 SAME) matches", () => {
    run({ ...base, batch: 8, h: 32, w: 32, cin: 16, cout: 32, packed: true, epilogue: "bias-relu" });
  });

  it("matches the interpreter on random shapes (sizes, strides 1/2, SAME/VALID, channels 1..19, epilogues)", () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 1, max: 11 }),
          w: fc.integer({ min: 1, max: 11 }),
          cin: fc.integer({ min: 1, max: 19 }),
          cout: fc.integer({ min: 1, max: 19 }),
          kh: fc.integer({ min: 1, max: 4 }),
          kw: fc.integer({ min: 1, max: 4 }),
          stride: fc.constantFrom(1, 2),
          dilation: fc.constantFrom(1, 1, 2),
          padding: fc.constantFrom<"SAME" | "VALID">("SAME", "VALID"),
          packed: fc.boolean(),
          order: fc.constantFrom<"tile" | "panel">("tile", "panel"),
          epilogue: fc.constantFrom<Case["epilogue"]>("none", "bias-relu", "scale-shift-relu6"),
          seed: fc.integer({ min: 1, max: 1 << 20 }),
        }),
        (r) => {
          const c: Case = { ...r, depthwise: false };
          fc.pre(c.padding === "SAME" || ((c.kh - 1) * c.dilation + 1 <= c.h && (c.kw - 1) * c.dilation + 1 <= c.w));
          run(c);
        },
      ),
      { numRuns: 40 },
    );
  });
});

describe("wasm DepthwiseConv2dNative", () => {
  it("matches for multipliers 1, 2, 3 and 4, SAME and VALID, strides 1 and 2", () => {
    for (const cout of [1, 2, 3, 4]) for (const padding of ["SAME", "VALID"] as const) run({ ...base, depthwise: true, cin: 5, cout, padding, stride: cout % 2 ? 1 : 2 });
  });

  it("fuses the epilogue, and handles 19 channels and dilations", () => {
    run({ ...base, depthwise: true, cin: 19, cout: 1, epilogue: "scale-shift-relu6" });
    run({ ...base, depthwise: true, cin: 7, cout: 2, dilation: 2, h: 9, w: 9, epilogue: "bias-relu" });
  });

  it("matches the interpreter on random shapes (channels 1..19, multiplier 1/2)", () => {
    fc.assert(
      fc.property(
        fc.record({
          batch: fc.integer({ min: 1, max: 3 }),
          h: fc.integer({ min: 1, max: 11 }),
          w: fc.integer({ min: 1, max: 11 }),
          cin: fc.integer({ min: 1, max: 19 }),
          cout: fc.constantFrom(1, 2),
          kh: fc.integer({ min: 1, max: 4 }),
          kw: fc.integer({ min: 1, max: 4 }),
          stride: fc.constantFrom(1, 2),
          dilation: fc.constantFrom(1, 1, 2),
          padding: fc.constantFrom<"SAME" | "VALID">("SAME", "VALID"),
          epilogue: fc.constantFrom<Case["epilogue"]>("none", "bias-relu", "scale-shift-relu6"),
          seed: fc.integer({ min: 1, max: 1 << 20 }),
        }),
        (r) => {
          const c: Case = { ...r, depthwise: true, packed: false };
          fc.pre(c.padding === "SAME" || ((c.kh - 1) * c.dilation + 1 <= c.h && (c.kw - 1) * c.dilation + 1 <= c.w));
          run(c);
        },
      ),
      { numRuns: 40 },
    );
  });
});
