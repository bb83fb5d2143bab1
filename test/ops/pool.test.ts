import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { getOpDef } from "../../ir/registry";
import { avgPool, avgPoolGrad, maxPool, maxPoolGrad, type Padding } from "../../ir/ops/pool";
import { checkGradients } from "../helpers/gradcheck";
import { expectClose, randomData } from "../helpers/run";
import { tfjs, tfjsReady, tfjsValues } from "../helpers/tfjs";
// tfjs-core 4 registers no gradients by itself (the @tensorflow/tfjs union package does).
import "@tensorflow/tfjs-core/dist/register_all_gradients.js";

beforeAll(tfjsReady);

function runFresh(build: () => tf.Tensor): tf.NDArray;
function runFresh(build: () => tf.Tensor[]): tf.NDArray[];
function runFresh(build: () => tf.Tensor | tf.Tensor[]): tf.NDArray | tf.NDArray[] {
  const graph = new tf.Graph();
  const out = graph.asDefault(build);
  return new tf.Session({ graph }).runSync(out) as tf.NDArray | tf.NDArray[];
}

type Shape4 = [number, number, number, number];
interface Case {
  x: Shape4; // NHWC
  k: number | [number, number];
  s: number | [number, number];
  pad: Padding;
}

const cases: Case[] = [
  { x: [2, 5, 7, 3], k: 3, s: 1, pad: "SAME" },
  { x: [1, 6, 6, 2], k: 2, s: 2, pad: "VALID" },
  { x: [2, 7, 5, 3], k: [3, 2], s: [2, 1], pad: "SAME" },
  { x: [1, 5, 5, 2], k: 3, s: 2, pad: "SAME" },
  { x: [3, 6, 6, 2], k: 4, s: 2, pad: "SAME" },
  { x: [1, 4, 4, 1], k: 4, s: 4, pad: "VALID" },
  { x: [2, 1, 1, 3], k: 3, s: 1, pad: "SAME" },
  { x: [1, 8, 9, 2], k: [2, 3], s: [3, 2], pad: "SAME" },
  { x: [1, 5, 5, 1], k: 1, s: 3, pad: "VALID" },
];

const label = (c: Case) => `x=${c.x} k=${c.k} s=${c.s} ${c.pad}`;
const nchw = (t: tfjs.Tensor) => tfjs.transpose(t, [0, 3, 1, 2]);
const nd = (t: tfjs.Tensor) => tf.ndarray(Float32Array.from(t.dataSync() as Float32Array), t.shape);
const pair = (v: number | [number, number]): [number, number] => (typeof v === "number" ? [v, v] : v);

/**
 * Average pooling rebuilt from tfjs ops whose gradients are right: a window sum (depthwise
 * convolution with ones) over the count of cells inside the input. tfjs's own AvgPoolGrad
 * divides by the full window size under SAME padding, unlike its forward pass and unlike TF.
 */
function avgPoolAsSums(x: tfjs.Tensor, k: [number, number], s: [number, number], pad: "same" | "valid"): tfjs.Tensor {
  const channels = x.shape[3]!;
  const ones = tfjs.ones([k[0], k[1], channels, 1]) as tfjs.Tensor4D;
  const sum = tfjs.depthwiseConv2d(x as tfjs.Tensor4D, ones, s, pad);
  const count = tfjs.depthwiseConv2d(tfjs.onesLike(x) as tfjs.Tensor4D, ones, s, pad);
  return tfjs.div(sum, count);
}

for (const kind of ["MaxPool", "AvgPool"] as const) {
  const ours = kind === "MaxPool" ? maxPool : avgPool;
  const theirs = (x: tfjs.Tensor, c: Case) => (kind === "MaxPool" ? tfjs.maxPool : tfjs.avgPool)(x as tfjs.Tensor4D, pair(c.k), pair(c.s), c.pad === "SAME" ? "same" : "valid");

  describe(`${kind} vs tfjs`, () => {
    for (const c of cases) {
      const x = () => tfjs.tensor4d(randomData(c.x.reduce((a, b) => a * b), 21), c.x);
      it(`${label(c)} forward NHWC and NCHW`, () => {
        const y = theirs(x(), c);
        const out = runFresh(() => ours(nd(x()), c.k, c.s, c.pad));
        expect(out.shape).toEqual(y.shape);
        expectClose(out.data, tfjsValues(y));
        const outNCHW = runFresh(() => ours(nd(nchw(x())), c.k, c.s, c.pad, { dataFormat: "NCHW" }));
        expect(outNCHW.shape).toEqual(nchw(y).shape);
        expectClose(outNCHW.data, tfjsValues(nchw(y)));
      });
      for (const format of ["NHWC", "NCHW"] as const) {
        it(`${label(c)} gradient ${format}`, () => {
          const y = theirs(x(), c);
          const dy = tfjs.tensor4d(randomData(y.size, 22), y.shape as Shape4);
          const reference = kind === "MaxPool" ? (t: tfjs.Tensor) => theirs(t, c) : (t: tfjs.Tensor) => avgPoolAsSums(t, pair(c.k), pair(c.s), c.pad === "SAME" ? "same" : "valid");
          expectClose(tfjsValues(reference(x())), tfjsValues(y)); // the rebuilt forward is tfjs's avgPool
          const expected = tfjs.grad(reference)(x(), dy);
          const t = (v: tfjs.Tensor) => (format === "NCHW" ? nchw(v) : v);
          const [fromRule, fromBuilder] = runFresh(() => {
            const xt = tf.constant(nd(t(x())));
            const out = ours(xt, c.k, c.s, c.pad, { dataFormat: format });
            const dyt = tf.constant(nd(t(dy)));
            const [dx] = getOpDef(kind).gradient!(out.op, [dyt]);
            expect(dx!.op.type).toBe(`${kind}Grad`);
            expect(dx!.shape).toEqual(xt.shape);
            const direct = kind === "MaxPool"
              ? maxPoolGrad(xt, out, dyt, c.k, c.s, c.pad, { dataFormat: format })
              : avgPoolGrad(xt.shape as number[], dyt, c.k, c.s, c.pad, { dataFormat: format });
            return [dx!, direct];
          });
          expectClose(fromRule.data, tfjsValues(t(expected)), 1e-5, 1e-6);
          expectClose(fromBuilder.data, tfjsValues(t(expected)), 1e-5, 1e-6);
        });
      }
    }
  });
}

describe("pooling details", () => {
  it("AvgPool with SAME padding divides by the count of cells inside the input", () => {
    const x = tf.ndarray([1, 2, 3, 4], [1, 2, 2, 1]);
    // 3x3 window at stride 1: every window covers the whole 2x2 input, which has 4 cells.
    expect(runFresh(() => avgPool(x, 3, 1, "SAME")).values()).toEqual([2.5, 2.5, 2.5, 2.5]);
  });

  it("MaxPool ignores padding (all-negative input) and ties go to the first maximum like tfjs", () => {
    const neg = tfjs.tensor4d([-5, -4, -3, -2, -1, -6, -7, -8, -9], [1, 3, 3, 1]);
    expect(runFresh(() => maxPool(nd(neg), 2, 1, "SAME")).values()).toEqual(tfjsValues(tfjs.maxPool(neg, 2, 1, "same")));
    const ties = tfjs.tensor4d([1, 1, 2, 2, 1, 1, 2, 2, 0, 0, 3, 3, 0, 0, 3, 3], [1, 4, 4, 1]);
    const dy = tfjs.tensor4d([1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 3, 3, 1]);
    const expected = tfjs.grad((t: tfjs.Tensor) => tfjs.maxPool(t as tfjs.Tensor4D, 2, 1, "valid"))(ties, dy);
    const out = runFresh(() => maxPoolGrad(nd(ties), maxPool(nd(ties), 2, 1, "VALID"), nd(dy), 2, 1, "VALID"));
    expect(out.values()).toEqual(tfjsValues(expected));
  });

  it("MaxPool over int32", () => {
    const x = tf.ndarray(Int32Array.from([3, -1, 7, 2, 5, 0, -4, 9, 1]), [1, 3, 3, 1], "int32");
    const out = runFresh(() => maxPool(x, 2, 1, "VALID"));
    expect(out.dtype).toBe("int32");
    expect(out.values()).toEqual([5, 7, 9, 9]);
  });

  it("AvgPoolGrad differentiates back to AvgPool", () => {
    const c = cases[3];
    const x = tfjs.tensor4d(randomData(50, 31), c.x);
    const y = tfjs.avgPool(x, 3, 2, "same");
    const dy = tfjs.tensor4d(randomData(y.size, 32), y.shape as Shape4);
    const out = runFresh(() => {
      const g = avgPoolGrad(c.x, nd(dy), 3, 2, "SAME");
      const [sizes, ddy] = getOpDef("AvgPoolGrad").gradient!(g.op, [tf.constant(nd(x))]);
      expect(sizes).toBeNull();
      return ddy!;
    });
    // d<avgPoolGrad(dy), x>/d(dy) = avgPool(x)
    expectClose(out.data, tfjsValues(y));
  });

  it("gradient rules with an unknown batch use the run-time shape", () => {
    const x = tfjs.tensor4d(randomData(2 * 5 * 5 * 3, 41), [2, 5, 5, 3]);
    const dy = tfjs.tensor4d(randomData(2 * 3 * 3 * 3, 42), [2, 3, 3, 3]);
    const expected = tfjs.grad((t: tfjs.Tensor) => avgPoolAsSums(t, [3, 3], [2, 2], "same"))(x, dy);
    const graph = new tf.Graph();
    const dx = graph.asDefault(() => {
      const xp = tf.placeholder("float32", [null, 5, 5, 3], "x");
      const y = avgPool(xp, 3, 2, "SAME");
      expect(y.shape).toEqual([null, 3, 3, 3]);
      const [g] = getOpDef("AvgPool").gradient!(y.op, [tf.placeholder("float32", [null, 3, 3, 3], "dy")]);
      expect(g!.op.inputs[0].op.type).toBe("Shape");
      expect(g!.shape).toEqual([null, null, null, 3]);
      return g!;
    });
    expectClose(new tf.Session({ graph }).runSync(dx, { x: nd(x), dy: nd(dy) }).data, tfjsValues(expected));
  });
});

describe("through tf.gradients, against finite differences in float64", () => {
  // checkGradients runs tf.variablesInitializer outside the graph it built, which only lands in
  // that graph when it has a variable: give it one (unused by the computation).
  const anchor = () => tf.getVariable("anchor", [1], { initializer: tf.initializers.zeros() });
  for (const [kind, build] of [["maxPool", maxPool], ["avgPool", avgPool]] as const)
    it(`${kind} NCHW, SAME, window 3 stride 2`, () =>
      checkGradients(() => {
        anchor();
        const x = tf.placeholder("float32", [2, 2, 5, 6], "x");
        return { y: build(x, 3, 2, "SAME", { dataFormat: "NCHW" }), xs: [x] };
      }, { x: Float64Array.from(randomData(120, 5)) }));
});

describe("static shapes", () => {
  it("pool shapes with unknown dims and ranks", () =>
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [null, 7, 7, 3]);
      expect(maxPool(x, 3, 2, "SAME").shape).toEqual([null, 4, 4, 3]);
      expect(avgPool(x, 3, 2, "VALID").shape).toEqual([null, 3, 3, 3]);
      expect(maxPool(x, [1, 2, 3, 1], [1, 1, 2, 1], "VALID").shape).toEqual([null, 6, 3, 3]);
      expect(maxPool(tf.placeholder("float32", [null, 3, 7, 7]), 2, 2, "SAME", { dataFormat: "NCHW" }).shape).toEqual([null, 3, 4, 4]);
      expect(avgPool(tf.placeholder("float32", [4, null, 7, null]), 2, 2, "VALID").shape).toEqual([4, null, 3, null]);
      expect(avgPool(tf.placeholder("float32", null), 2, 2, "VALID").shape).toBeNull();
      new tf.Graph().asDefault(() => {
        expect(maxPool(tf.placeholder("float32", [1, 4, 4, 1]), 2, 2, "SAME").op.name).toBe("MaxPool");
        expect(avgPool(tf.placeholder("float32", [1, 4, 4, 1]), 2, 2, "SAME").op.name).toBe("AvgPool");
      });
      const dy = tf.placeholder("float32", [8, 4, 4, 3]);
      expect(avgPoolGrad([8, 7, 7, 3], dy, 3, 2, "SAME").shape).toEqual([8, 7, 7, 3]);
      expect(avgPoolGrad(tf.placeholder("int32", [4]), dy, 3, 2, "SAME").shape).toEqual([8, null, null, 3]);
    }));
});

describe("bad input", () => {
  const expectError = (fn: () => unknown, node: string, ...parts: string[]) => {
    let error: unknown;
    try {
      fn();
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(tf.errors.InvalidArgumentError);
    const message = (error as Error).message;
    expect(message).toContain(node);
    for (const p of parts) expect(message).toContain(p);
  };

  it("ksize, strides and padding", () =>
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [1, 5, 5, 3]);
      expectError(() => maxPool(x, [1, 2, 2], 1, "SAME", { name: "k3" }), "k3", "ksize", "received 3 entries");
      expectError(() => avgPool(x, 2, [1, 1, 1, 1, 1], "SAME", { name: "s5" }), "s5", "strides", "received 5 entries");
      expectError(() => maxPool(x, [1, 2, 2, 2], 1, "SAME", { name: "kc" }), "kc", "ksize");
      expectError(() => maxPool(x, 2, 1, "EXPLICIT" as Padding, { name: "p" }), "p", "padding", "EXPLICIT");
      expectError(() => avgPool(x, 7, 1, "VALID", { name: "big" }), "big", "at least 6", "received 5");
      // TF's integer division: a window one larger than the input gives an empty output, no error.
      expect(avgPool(x, 6, 1, "VALID").shape).toEqual([1, 0, 0, 3]);
      expectError(() => avgPool(tf.placeholder("int32", [1, 5, 5, 3]), 2, 1, "VALID", { name: "i" }), "i", "int32");
      expectError(() => maxPool(tf.placeholder("float32", [5, 5, 3]), 2, 1, "VALID", { name: "r" }), "r", "rank 4");
    }));

  it("MaxPoolGrad with a gradient of the wrong shape", () =>
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [1, 6, 6, 3]);
      const y = maxPool(x, 2, 2, "VALID");
      expectError(() => maxPoolGrad(x, y, tf.placeholder("float32", [1, 3, 2, 3]), 2, 2, "VALID", { name: "mg" }), "mg", "[1,3,3,3]", "[1,3,2,3]");
    }));

  it("AvgPoolGrad with run-time sizes that do not fit the gradient", () => {
    const graph = new tf.Graph();
    const g = graph.asDefault(() => avgPoolGrad(tf.placeholder("int32", [4], "sizes"), tf.constant(0, [1, 2, 2, 1]), 2, 2, "VALID", { name: "ag" }));
    expectError(() => new tf.Session({ graph }).runSync(g, { sizes: tf.ndarray(Int32Array.from([1, 6, 6, 1]), [4], "int32") }), "ag", "[1,3,3,1]", "[1,2,2,1]");
  });
});
