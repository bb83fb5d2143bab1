/**
 * Conv2DBackpropInput for stride 1, 3×3, undilated filters as the Winograd F(2×2, 3×3) conv over
 * dy with the flipped, channel-swapped filter transformed at run time (conv-backprop-input.ts with
 * `winograd`): against the reference kernel on fixed cases (SAME / VALID, channels not multiples
 * of 4, batch 1 and 8) and random shapes, the same kernel split by images, and the wasm session's
 * choice of Winograd for the backprop of a variable filter (planConvFilter, "variable").
 */
import { beforeAll, describe, expect, it } from "vitest";
import fc from "fast-check";
import * as tf from "foldflow";
import type { ConvBackpropInputKernel } from "../../codegen/wasm/conv-backprop-input";
import { nhwcGeometry } from "../../codegen/wasm/window";
import { wasmReady } from "../../src/runtime/wasm/loader";
import { trainingPartOf } from "../../src/runtime/wasm/native-training";
import { randomData } from "../helpers/run";
import { expectNear, reference, runProgram, seeded } from "./wasm-helpers";
import { backendOf, runBoth } from "./wasm-helpers-session";
import { forWindowCases, windowCases, type ConvCase } from "./window-cases";

const size = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

/** dx of a 3×3 stride-1 conv by the Winograd backprop kernel (whole, and in two parts by images) against the reference. */
function check(c: ConvCase): void {
  const xShape = [c.batch, c.h, c.w, c.cin];
  const wShape = [3, 3, c.cin, c.cout];
  const g = nhwcGeometry(xShape, 3, 3, [1, 1], [1, 1], c.padding);
  const dyShape = [c.batch, g.outH, g.outW, c.cout];
  const w = seeded(size(wShape), c.seed + 1);
  const dy = seeded(size(dyShape), c.seed + 2);
  const attrs = { strides: [1, 1, 1, 1], padding: c.padding, data_format: "NHWC", dilations: [1, 1, 1, 1] };
  const dx = reference("Conv2DBackpropInput", [{ shape: [4], data: xShape }, { shape: wShape, data: w }, { shape: dyShape, data: dy }], attrs)[0];
  const kernel = (at: (name: string) => number, out: string): ConvBackpropInputKernel => ({
    kind: "conv2d-backprop-input", op: "Conv2DBackpropInput", geometry: g, inC: c.cin, outC: c.cout, w: at("w"), dy: at("dy"), dx: at(out), winograd: { m: 2 },
  });
  const parts = Math.min(2, c.batch);
  const program = runProgram({ w: { size: w.length, data: w }, dy: { size: dy.length, data: dy }, dx: { size: dx.size }, dxParts: { size: dx.size } }, [
    { reads: ["w", "dy"], writes: ["dx"], make: (at) => kernel(at, "dx") },
    ...Array.from({ length: parts }, (_, j) => ({ reads: ["w", "dy"], writes: ["dxParts"], make: (at: (name: string) => number) => trainingPartOf(kernel(at, "dxParts"), parts, j)! })),
  ]);
  expectNear(program.view("dx"), dx.data, Math.sqrt(9 * c.cout));
  expect(Array.from(program.view("dxParts")), "dx computed in parts by images").toEqual(Array.from(program.view("dx")));
}

const base: ConvCase = { batch: 1, h: 7, w: 6, cin: 3, cout: 5, kh: 3, kw: 3, sh: 1, sw: 1, dilation: 1, padding: "SAME", seed: 1 };

describe("wasm Conv2DBackpropInput as a Winograd conv (stride 1, 3×3)", () => {
  it("matches for SAME and VALID, channels not multiples of 4, batch 1 and 8", () => {
    for (const padding of ["SAME", "VALID"] as const)
      for (const batch of [1, 8])
        for (const [cin, cout] of [[3, 5], [5, 7], [17, 6], [1, 1], [16, 32], [6, 19]])
          check({ ...base, padding, batch, cin, cout, h: 9, w: 7, seed: cin * 31 + cout });
  });

  it("matches on odd and tiny extents (1×1 SAME, 3×3 VALID → 1×1 dy, 4×11)", () => {
    check({ ...base, h: 1, w: 1, cin: 5, cout: 6 });
    check({ ...base, h: 3, w: 3, padding: "VALID", cin: 7, cout: 9 });
    check({ ...base, h: 4, w: 11, batch: 3, padding: "VALID", cin: 9, cout: 4 });
    check({ ...base, h: 16, w: 16, batch: 8, cin: 16, cout: 32, seed: 5 });
  });

  it("matches the reference on random shapes (SAME/VALID, batch 1..3, channels 1..19)", () => {
    const cases = windowCases<{ cin: number; cout: number }>({ size: 12, kernel: 3 }, { cin: fc.integer({ min: 1, max: 19 }), cout: fc.integer({ min: 1, max: 19 }) }).map(
      (c) => ({ ...c, kh: 3, kw: 3, sh: 1, sw: 1, dilation: 1 }),
    );
    forWindowCases(cases, 60, check);
  });
});

describe("the wasm session's Conv2DBackpropInput of a variable filter", () => {
  beforeAll(() => wasmReady());

  it("runs Winograd where the cost rule picks it (16 → 24 VALID, 16 → 12 SAME) and the direct conv for stride 2 and 12 → 1 channel, matching the interpreter over 2 steps", () => {
    const { wasm } = runBoth(
      () => {
        const x = tf.placeholder("float32", [4, 10, 9, 8], "x");
        const filter = (name: string, cin: number, cout: number, seed: number) => tf.getVariable(name, [3, 3, cin, cout], { initializer: tf.initializers.glorotUniform({ seed }) });
        let h = tf.nn.relu(tf.nn.conv2d(x, filter("a", 8, 16, 1), 1, "SAME"));
        h = tf.nn.relu(tf.nn.conv2d(h, filter("b", 16, 24, 2), 1, "VALID"));
        h = tf.nn.relu(tf.nn.conv2d(h, filter("c", 24, 16, 3), 2, "SAME"));
        h = tf.nn.relu(tf.nn.conv2d(h, filter("d", 16, 12, 4), 1, "SAME"));
        h = tf.nn.conv2d(h, filter("e", 12, 1, 5), 1, "SAME");
        const loss = tf.reduceMean(tf.square(h));
        return { fetch: [loss, new tf.train.GradientDescentOptimizer(0.5).minimize(loss)], init: tf.globalVariablesInitializer() };
      },
      { feeds: { x: tf.ndarray(randomData(4 * 10 * 9 * 8, 7), [4, 10, 9, 8]) }, steps: 2 },
    );
    const kernels = backendOf(wasm).last!.built.kernels.filter((k): k is ConvBackpropInputKernel => k.kind === "conv2d-backprop-input");
    const chosen = kernels.map((k) => [k.inC, k.outC, k.geometry.sH, k.winograd?.m]).sort((p, q) => (q[0] as number) - (p[0] as number) || (q[1] as number) - (p[1] as number));
    expect(chosen).toEqual([
      [24, 16, 2, undefined],
      [16, 24, 1, 2],
      [16, 12, 1, 2],
      [12, 1, 1, undefined],
    ]);
  });
});
