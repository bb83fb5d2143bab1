/**
 * The wasm FusedBatchNorm and FusedBatchNormGrad kernels (NHWC) against the reference kernels:
 * they compute in f64 in the reference's order, so every output must equal the reference's bit
 * for bit — in training and inference, with a moving-average factor, channel counts that are
 * not multiples of 4, data far from zero, and a fused Relu.
 */
import { describe, expect, it } from "vitest";
import fc from "fast-check";
import type { EpilogueStep } from "../../codegen/wasm/epilogue";
import { reference, runProgram, seeded } from "./wasm-helpers";

interface Case {
  pixels: number;
  channels: number;
  training: boolean;
  factor: number;
  epsilon: number;
  /** Added to x: a large mean makes float32 statistics visibly wrong. */
  shift: number;
  relu: boolean;
  seed: number;
}

function exact(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string): void {
  expect(actual.length, what).toBe(expected.length);
  for (let i = 0; i < expected.length; i++)
    if (!Object.is(actual[i], expected[i])) expect(`${what}[${i}] = ${actual[i]}`).toBe(`${what}[${i}] = ${expected[i]}`);
}

function run(c: Case): void {
  const C = c.channels;
  const shape = [1, c.pixels, 1, C];
  const size = c.pixels * C;
  const x = seeded(size, c.seed, -2 + c.shift, 3 + c.shift);
  const dy = seeded(size, c.seed + 1);
  const scale = seeded(C, c.seed + 2, 0.5, 2);
  const offset = seeded(C, c.seed + 3);
  const mean = seeded(C, c.seed + 4, -1 + c.shift, 1 + c.shift);
  const variance = seeded(C, c.seed + 5, 0.5, 3);
  const attrs = { epsilon: c.epsilon, exponential_avg_factor: c.factor, data_format: "NHWC", is_training: c.training };
  const vec = (d: Float32Array) => ({ shape: [C], data: d });
  const fwd = reference("FusedBatchNormV3", [{ shape, data: x }, vec(scale), vec(offset), vec(mean), vec(variance)], attrs);
  const y = c.relu ? reference("Relu", [{ shape, data: fwd[0].data }])[0] : fwd[0];
  const grad = reference("FusedBatchNormGradV3", [{ shape, data: dy }, { shape, data: x }, vec(scale), vec(fwd[3].data as Float32Array), vec(fwd[4].data as Float32Array), { shape: [], data: [0] }], {
    epsilon: c.epsilon, data_format: "NHWC", is_training: c.training,
  });
  const epilogue: EpilogueStep[] = c.relu ? [{ type: "Relu" }] : [];
  const program = runProgram(
    {
      x: { size, data: x }, dy: { size, data: dy }, scale: { size: C, data: scale }, offset: { size: C, data: offset },
      mean: { size: C, data: mean }, variance: { size: C, data: variance },
      y: { size }, bm: { size: C }, bv: { size: C }, r1: { size: C }, r2: { size: C }, r3: { size: 1, data: [5], role: "output" },
      dx: { size }, ds: { size: C }, doff: { size: C },
    },
    [
      {
        reads: ["x", "scale", "offset", "mean", "variance"],
        writes: ["y", "bm", "bv", "r1", "r2", "r3"],
        make: (at) => ({
          kind: "batch-norm", op: "FusedBatchNormV3", pixels: c.pixels, channels: C, training: c.training, epsilon: c.epsilon, exponentialAvgFactor: c.factor,
          x: at("x"), scale: at("scale"), offset: at("offset"), mean: at("mean"), variance: at("variance"),
          y: at("y"), batchMean: at("bm"), batchVariance: at("bv"), reserve1: at("r1"), reserve2: at("r2"), reserve3: at("r3"), epilogue,
        }),
      },
      {
        reads: ["dy", "x", "scale", "r1", "r2"],
        writes: ["dx", "ds", "doff"],
        make: (at) => ({
          kind: "batch-norm-grad", op: "FusedBatchNormGradV3", pixels: c.pixels, channels: C, training: c.training, epsilon: c.epsilon,
          dy: at("dy"), x: at("x"), scale: at("scale"), mean: at("r1"), variance: at("r2"), dx: at("dx"), dScale: at("ds"), dOffset: at("doff"),
        }),
      },
    ],
  );
  exact(program.view("y"), y.data, "y");
  ["bm", "bv", "r1", "r2"].forEach((name, i) => exact(program.view(name), fwd[i + 1].data, name));
  exact(program.view("r3"), [0], "reserve_space_3");
  ["dx", "ds", "doff"].forEach((name, i) => exact(program.view(name), grad[i].data, name));
}

const base: Case = { pixels: 37, channels: 6, training: true, factor: 1, epsilon: 0.001, shift: 0, relu: false, seed: 1 };

describe("wasm FusedBatchNorm and FusedBatchNormGrad", () => {
  it("training and inference, channels 1..19, bit-equal to the reference", () => {
    for (const training of [true, false]) for (const channels of [1, 2, 3, 4, 5, 7, 8, 9, 12, 16, 19]) run({ ...base, training, channels, seed: channels });
  });

  it("a moving-average factor, data far from zero, one pixel, a fused Relu", () => {
    run({ ...base, factor: 0.3 });
    run({ ...base, shift: 1000, channels: 5 });
    run({ ...base, shift: -300, training: false, channels: 11 });
    run({ ...base, pixels: 1, channels: 3 });
    run({ ...base, relu: true, channels: 13 });
    run({ ...base, relu: true, training: false, channels: 2 });
  });

  it("the bench shape (batch 8, 32×32, 16 channels)", () => {
    run({ ...base, pixels: 8 * 32 * 32, channels: 16 });
  });

  it("matches the reference on random shapes", () => {
    fc.assert(
      fc.property(
        fc.record({
          pixels: fc.integer({ min: 1, max: 200 }),
          channels: fc.integer({ min: 1, max: 40 }),
          training: fc.boolean(),
          factor: fc.constantFrom(1, 1, 0.5, 0.01),
          epsilon: fc.constantFrom(1e-3, 1.001e-5, 0.1),
          shift: fc.constantFrom(0, 0, 10, -500),
          relu: fc.boolean(),
          seed: fc.integer({ min: 1, max: 1 << 20 }),
        }),
        run,
      ),
      { numRuns: 60 },
    );
  });
});
