/** The wasm GEMM kernel against the interpreter's MatMul (and its epilogue ops), fixed and random shapes. */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { EpilogueStep } from "../../codegen/wasm/epilogue";
import { packedFloats, packPanels } from "../../codegen/wasm/gemm";
import { expectNear, reference, runProgram, seeded } from "./wasm-helpers";

type EpilogueName = "none" | "bias" | "bias-relu" | "scale-shift-relu6" | "residual";

interface Case {
  m: number;
  n: number;
  k: number;
  ta: boolean;
  tb: boolean;
  packed: boolean;
  epilogue: EpilogueName;
  tile?: { mr: number; nr: number; unroll?: number };
  seed: number;
}

/** The reference: MatMul, then each epilogue op by its own reference kernel. */
function expected(c: Case, a: Float32Array, b: Float32Array, bias: Float32Array, scale: Float32Array, shift: Float32Array, residual: Float32Array): ArrayLike<number> {
  const aShape = c.ta ? [c.k, c.m] : [c.m, c.k];
  const bShape = c.tb ? [c.n, c.k] : [c.k, c.n];
  let y = reference("MatMul", [{ shape: aShape, data: a }, { shape: bShape, data: b }], { transpose_a: c.ta, transpose_b: c.tb })[0];
  const apply = (type: string, other?: { shape: number[]; data: ArrayLike<number> }) => {
    y = reference(type, other ? [{ shape: y.shape, data: y.data }, other] : [{ shape: y.shape, data: y.data }], type === "BiasAdd" ? { data_format: "NHWC" } : {})[0];
  };
  const vec = (d: Float32Array) => ({ shape: [c.n], data: d });
  if (c.epilogue === "bias" || c.epilogue === "bias-relu") apply("BiasAdd", vec(bias));
  if (c.epilogue === "bias-relu") apply("Relu");
  if (c.epilogue === "scale-shift-relu6") {
    apply("Mul", vec(scale));
    apply("AddV2", vec(shift));
    apply("Relu6");
  }
  if (c.epilogue === "residual") apply("AddV2", { shape: [c.m, c.n], data: residual });
  return y.data;
}

function run(c: Case): void {
  const a = seeded(c.m * c.k, c.seed);
  const b = seeded(c.k * c.n, c.seed + 1);
  const bias = seeded(c.n, c.seed + 2);
  const scale = seeded(c.n, c.seed + 3, 0.5, 4);
  const shift = seeded(c.n, c.seed + 4, -2, 2);
  const residual = seeded(c.m * c.n, c.seed + 5);
  const nr = c.tile?.nr ?? 8;
  const bData = c.packed ? packPanels(b, c.k, c.n, c.tb, nr) : b;
  if (c.packed) expect(bData.length).toBe(packedFloats(c.k, c.n, nr));
  const epilogue = (at: (n: string) => number): EpilogueStep[] => {
    switch (c.epilogue) {
      case "none":
        return [];
      case "bias":
        return [{ type: "BiasAdd", operand: { kind: "channel", offset: at("bias") } }];
      case "bias-relu":
        return [{ type: "BiasAdd", operand: { kind: "channel", offset: at("bias") } }, { type: "Relu" }];
      case "scale-shift-relu6":
        return [
          { type: "Mul", operand: { kind: "channel", offset: at("scale") } },
          { type: "AddV2", operand: { kind: "channel", offset: at("shift") } },
          { type: "Relu6" },
        ];
      case "residual":
        return [{ type: "AddV2", operand: { kind: "tensor", offset: at("residual") }, operandFirst: true }];
    }
  };
  const program = runProgram(
    {
      a: { size: a.length, data: a },
      b: { size: bData.length, data: bData, role: c.packed ? "constant" : "input" },
      bias: { size: c.n, data: bias },
      scale: { size: c.n, data: scale },
      shift: { size: c.n, data: shift },
      residual: { size: residual.length, data: residual },
      c: { size: c.m * c.n },
    },
    [
      {
        reads: ["a", "b", "bias", "scale", "shift", "residual"],
        writes: ["c"],
        make: (at) => ({
          kind: "gemm", op: "dense/MatMul", m: c.m, n: c.n, k: c.k, transposeA: c.ta, transposeB: c.tb,
          a: at("a"), b: at("b"), c: at("c"), bPacked: c.packed, epilogue: epilogue(at), tile: c.tile,
        }),
      },
    ],
  );
  expectNear(program.view("c"), expected(c, a, b, bias, scale, shift, residual), Math.max(1, Math.sqrt(c.k)));
}

describe("wasm GEMM", () => {
  it("computes C = A·B for the four transpose cases, B packed or not", () => {
    for (const ta of [false, true]) for (const tb of [false, true]) for (const packed of [false, true]) run({ m: 13, n: 21, k: 9, ta, tb, packed, epilogue: "none", seed: 3 });
  });

  it("handles every edge: single rows and columns, tails in both dimensions, K = 0", () => {
    for (const [m, n, k] of [[1, 1, 1], [1, 17, 5], [17, 1, 5], [3, 3, 1], [5, 9, 0], [4, 8, 4], [7, 13, 33]]) run({ m, n, k, ta: false, tb: false, packed: false, epilogue: "bias-relu", seed: m + n + k });
  });

  it("fuses bias, folded batch-norm scale/shift with relu6, and residual epilogues", () => {
    for (const epilogue of ["bias", "bias-relu", "scale-shift-relu6", "residual"] as const) run({ m: 10, n: 19, k: 23, ta: false, tb: true, packed: true, epilogue, seed: 11 });
  });

  it("supports other register tiles and k unrolling", () => {
    for (const tile of [{ mr: 1, nr: 4 }, { mr: 3, nr: 16 }, { mr: 6, nr: 8, unroll: 3 }]) run({ m: 11, n: 18, k: 10, ta: true, tb: false, packed: true, epilogue: "bias", tile, seed: 5 });
  });

  it("the MNIST layer shape 100×784 · 784×100 matches", () => {
    run({ m: 100, n: 100, k: 784, ta: false, tb: false, packed: true, epilogue: "bias-relu", seed: 7 });
  });

  it("matches the interpreter on random shapes (M, N, K in 1..70, transposes, epilogues)", () => {
    fc.assert(
      fc.property(
        fc.record({
          m: fc.integer({ min: 1, max: 70 }),
          n: fc.integer({ min: 1, max: 70 }),
          k: fc.integer({ min: 1, max: 70 }),
          ta: fc.boolean(),
          tb: fc.boolean(),
          packed: fc.boolean(),
          epilogue: fc.constantFrom<EpilogueName>("none", "bias", "bias-relu", "scale-shift-relu6", "residual"),
          seed: fc.integer({ min: 1, max: 1 << 20 }),
        }),
        (c) => run(c),
      ),
      { numRuns: 40 },
    );
  });
});
