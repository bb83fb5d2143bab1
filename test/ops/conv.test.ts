import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { getOpDef } from "../../ir/registry";
import {
  conv2d, conv2dBackpropFilter, conv2dBackpropInput, depthwiseConv2d, depthwiseConv2dNativeBackpropFilter,
  depthwiseConv2dNativeBackpropInput, type Padding,
} from "../../ir/ops/conv";
import { checkGradients } from "../helpers/gradcheck";
import { expectClose, randomData } from "../helpers/run";
import { tfjs, tfjsReady, tfjsValues } from "../helpers/tfjs";
// tfjs-core 4 registers no gradients by itself (the @tensorflow/tfjs union package does).
import "@tensorflow/tfjs-core/dist/register_all_gradients.js";

beforeAll(tfjsReady);

/** Builds in a fresh graph and runs the result on the interpreter. */
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
  k: [number, number];
  cout: number; // output channels (conv) or multiplier (depthwise)
  s: [number, number];
  pad: Padding;
  d?: [number, number];
}

const cases: Case[] = [
  { x: [2, 5, 7, 3], k: [3, 3], cout: 4, s: [1, 1], pad: "SAME" },
  { x: [1, 6, 6, 2], k: [3, 2], cout: 3, s: [2, 2], pad: "SAME" },
  { x: [2, 7, 5, 3], k: [2, 3], cout: 2, s: [2, 2], pad: "VALID" },
  { x: [1, 5, 5, 2], k: [4, 4], cout: 2, s: [1, 2], pad: "SAME" },
  { x: [3, 9, 8, 2], k: [3, 3], cout: 2, s: [1, 1], pad: "SAME", d: [2, 2] },
  { x: [1, 9, 8, 2], k: [3, 2], cout: 3, s: [1, 1], pad: "VALID", d: [2, 3] },
  { x: [2, 9, 9, 2], k: [3, 3], cout: 2, s: [2, 2], pad: "SAME", d: [2, 2] },
  { x: [1, 9, 7, 1], k: [2, 2], cout: 2, s: [2, 3], pad: "VALID", d: [2, 2] },
  { x: [2, 1, 1, 3], k: [3, 3], cout: 2, s: [1, 1], pad: "SAME" },
  { x: [1, 4, 4, 3], k: [1, 1], cout: 5, s: [2, 2], pad: "VALID" },
  { x: [1, 3, 3, 1], k: [3, 3], cout: 1, s: [3, 3], pad: "SAME" },
];

const label = (c: Case) => `x=${c.x} k=${c.k} out=${c.cout} s=${c.s} ${c.pad} d=${c.d ?? [1, 1]}`;

/** The filter with zeros between its taps: conv(x, w, dilation d) = conv(x, dilate(w), dilation 1). */
function dilateFilter(w: tfjs.Tensor4D, d: [number, number]): tfjs.Tensor4D {
  const [kh, kw, a, b] = w.shape;
  const eh = (kh - 1) * d[0] + 1;
  const ew = (kw - 1) * d[1] + 1;
  const src = w.dataSync();
  const out = new Float32Array(eh * ew * a * b);
  for (let i = 0; i < kh; i++)
    for (let j = 0; j < kw; j++)
      for (let k = 0; k < a * b; k++) out[((i * d[0]) * ew + j * d[1]) * a * b + k] = src[(i * kw + j) * a * b + k];
  return tfjs.tensor4d(out, [eh, ew, a, b]);
}

/** The taps of a gradient with respect to a dilated filter that belong to the real filter. */
function undilate(dw: tfjs.Tensor4D, k: [number, number], d: [number, number]): number[] {
  const [, ew, a, b] = dw.shape;
  const src = dw.dataSync();
  const out: number[] = [];
  for (let i = 0; i < k[0]; i++) for (let j = 0; j < k[1]; j++) for (let c = 0; c < a * b; c++) out.push(src[((i * d[0]) * ew + j * d[1]) * a * b + c]);
  return out;
}

const nchw = (t: tfjs.Tensor4D) => tfjs.transpose(t, [0, 3, 1, 2]);
const nd = (t: tfjs.Tensor) => tf.ndarray(Float32Array.from(t.dataSync() as Float32Array), t.shape);

function setup(c: Case, depthwise: boolean) {
  const cin = c.x[3];
  const wShape: Shape4 = [c.k[0], c.k[1], cin, c.cout];
  const x = tfjs.tensor4d(randomData(c.x.reduce((a, b) => a * b), 11), c.x);
  const w = tfjs.tensor4d(randomData(wShape.reduce((a, b) => a * b), 12), wShape);
  const d = c.d ?? [1, 1];
  const pad = c.pad === "SAME" ? "same" : "valid";
  const op = depthwise ? tfjs.depthwiseConv2d : tfjs.conv2d;
  // tfjs rejects strides and dilations > 1 together and dilated gradients: dilate the filter instead.
  const f = (xx: tfjs.Tensor, dilated: tfjs.Tensor) => op(xx as tfjs.Tensor4D, dilated as tfjs.Tensor4D, c.s, pad);
  const y = f(x, dilateFilter(w, d));
  const dy = tfjs.tensor4d(randomData(y.size, 13), y.shape as Shape4);
  return { x, w, y, dy, d, f };
}

for (const depthwise of [false, true]) {
  const name = depthwise ? "DepthwiseConv2dNative" : "Conv2D";
  const build = (x: tf.TensorLike, w: tf.TensorLike, c: Case, dataFormat: "NHWC" | "NCHW" = "NHWC") =>
    depthwise
      ? depthwiseConv2d(x, w, c.s, c.pad, { rate: c.d, dataFormat })
      : conv2d(x, w, c.s, c.pad, { dilations: c.d, dataFormat });

  describe(`${name} forward vs tfjs`, () => {
    for (const c of cases) {
      it(label(c), () => {
        const { x, w, y } = setup(c, depthwise);
        const out = runFresh(() => build(nd(x), nd(w), c));
        expect(out.shape).toEqual(y.shape);
        expectClose(out.data, tfjsValues(y), 1e-5, 1e-5);
      });
      it(`${label(c)} NCHW`, () => {
        const { x, w, y } = setup(c, depthwise);
        const out = runFresh(() => build(nd(nchw(x)), nd(w), c, "NCHW"));
        expect(out.shape).toEqual(nchw(y as tfjs.Tensor4D).shape);
        expectClose(out.data, tfjsValues(nchw(y as tfjs.Tensor4D)), 1e-5, 1e-5);
      });
    }
    if (depthwise)
      it("multiplier 2 orders output channels c * multiplier + m", () => {
        const x = tf.ndarray([1, 10], [1, 1, 1, 2]);
        const w = tf.ndarray([1, 2, 3, 4], [1, 1, 2, 2]); // [c0m0, c0m1, c1m0, c1m1]
        expect(runFresh(() => depthwiseConv2d(x, w, 1, "VALID")).values()).toEqual([1, 2, 30, 40]);
      });
  });

  describe(`${name} gradients vs tfjs`, () => {
    for (const c of cases) {
      for (const format of ["NHWC", "NCHW"] as const) {
        it(`${label(c)} ${format}`, () => {
          const { x, w, dy, d, f } = setup(c, depthwise);
          const [gx, gw] = tfjs.grads(f)([x, dilateFilter(w, d)], dy);
          const t = (v: tfjs.Tensor) => (format === "NCHW" ? nchw(v as tfjs.Tensor4D) : v);
          const [dx, dw, viaBuilders] = runFresh(() => {
            const xt = tf.constant(nd(t(x)));
            const y = build(xt, nd(w), c, format);
            const dyt = tf.constant(nd(t(dy)));
            const rule = getOpDef(y.op.type).gradient!;
            const [rx, rw] = rule(y.op, [dyt]) as tf.Tensor[];
            expect(rx.op.type).toBe(`${name}BackpropInput`);
            expect(rw.op.type).toBe(`${name}BackpropFilter`);
            expect(rx.shape).toEqual(xt.shape);
            expect(rw.shape).toEqual([c.k[0], c.k[1], c.x[3], c.cout]);
            const opts = { dataFormat: format, dilations: c.d };
            const direct = depthwise
              ? depthwiseConv2dNativeBackpropInput(xt.shape as number[], nd(w), dyt, c.s, c.pad, opts)
              : conv2dBackpropInput(xt.shape as number[], nd(w), dyt, c.s, c.pad, opts);
            return [rx, rw, direct];
          });
          expectClose(dx.data, tfjsValues(t(gx)), 1e-4, 1e-5);
          expectClose(viaBuilders.data, tfjsValues(t(gx)), 1e-4, 1e-5);
          expectClose(dw.data, undilate(gw as tfjs.Tensor4D, c.k, d), 1e-4, 1e-5);
        });
      }
    }
  });
}

describe("gradients of the backprop ops (adjoint identities)", () => {
  it("Conv2DBackpropInput and Conv2DBackpropFilter differentiate back to Conv2D", () => {
    const c = cases[1];
    const { x, w, dy } = setup(c, false);
    const [fromInput, fromFilter] = runFresh(() => {
      const xt = tf.constant(nd(x));
      const wt = tf.constant(nd(w));
      const dyt = tf.constant(nd(dy));
      // d<conv2dBackpropInput(dy), g>/d(dy) = conv2d(g, w); d<conv2dBackpropFilter(x, dy), v>/d(dy) = conv2d(x, v).
      const dx = conv2dBackpropInput(c.x, wt, dyt, c.s, c.pad);
      const [s0, dw0, ddy] = getOpDef("Conv2DBackpropInput").gradient!(dx.op, [xt]);
      expect(s0).toBeNull();
      expect(dw0!.op.type).toBe("Conv2DBackpropFilter");
      const dw = conv2dBackpropFilter(xt, [c.k[0], c.k[1], c.x[3], c.cout], dyt, c.s, c.pad);
      const [gx, s1, ddy2] = getOpDef("Conv2DBackpropFilter").gradient!(dw.op, [wt]);
      expect(s1).toBeNull();
      expect(gx!.op.type).toBe("Conv2DBackpropInput");
      return [ddy!, ddy2!];
    });
    const ref = tfjsValues(tfjs.conv2d(x, w, c.s, "same"));
    expectClose(fromInput.data, ref, 1e-5, 1e-5);
    expectClose(fromFilter.data, ref, 1e-5, 1e-5);
  });

  it("depthwise backprop filter matches tfjs via the builder", () => {
    const c: Case = { x: [2, 6, 5, 3], k: [3, 3], cout: 2, s: [2, 2], pad: "SAME" };
    const { x, w, dy } = setup(c, true);
    const [, gw] = tfjs.grads((a: tfjs.Tensor, b: tfjs.Tensor) => tfjs.depthwiseConv2d(a as tfjs.Tensor4D, b as tfjs.Tensor4D, c.s, "same"))([x, w], dy);
    const out = runFresh(() => depthwiseConv2dNativeBackpropFilter(nd(x), [3, 3, 3, 2], nd(dy), c.s, c.pad));
    expectClose(out.data, tfjsValues(gw), 1e-4, 1e-5);
  });
});

describe("through tf.gradients, against finite differences in float64", () => {
  // checkGradients runs tf.variablesInitializer outside the graph it built, which only lands in
  // that graph when it has a variable: give it one (unused by the computation).
  const anchor = () => tf.getVariable("anchor", [1], { initializer: tf.initializers.zeros() });
  const data = (n: number, seed: number) => Float64Array.from(randomData(n, seed));
  it("conv2d NCHW, strides 2 with dilations 2, SAME", () =>
    checkGradients(() => {
      anchor();
      const x = tf.placeholder("float32", [2, 3, 7, 6], "x");
      const w = tf.placeholder("float32", [3, 3, 3, 2], "w");
      return { y: conv2d(x, w, 2, "SAME", { dataFormat: "NCHW", dilations: 2 }), xs: [x, w] };
    }, { x: data(252, 1), w: data(54, 2) }));
  it("depthwiseConv2d NHWC, multiplier 2, strides [2, 1], VALID", () =>
    checkGradients(() => {
      anchor();
      const x = tf.placeholder("float32", [2, 6, 5, 2], "x");
      const w = tf.placeholder("float32", [2, 3, 2, 2], "w");
      return { y: depthwiseConv2d(x, w, [2, 1], "VALID"), xs: [x, w] };
    }, { x: data(120, 3), w: data(24, 4) }));
});

describe("static shapes", () => {
  const g = () => new tf.Graph();
  it("Conv2D with an unknown batch, NHWC and NCHW", () =>
    g().asDefault(() => {
      const w = tf.constant(0, [5, 5, 3, 8]);
      expect(conv2d(tf.placeholder("float32", [null, 28, 28, 3]), w, 2, "SAME").shape).toEqual([null, 14, 14, 8]);
      expect(conv2d(tf.placeholder("float32", [null, 28, 28, 3]), w, [1, 1], "VALID").shape).toEqual([null, 24, 24, 8]);
      expect(conv2d(tf.placeholder("float32", [null, 28, 27, 3]), w, 1, "VALID", { dilations: 2 }).shape).toEqual([null, 20, 19, 8]);
      expect(conv2d(tf.placeholder("float32", [null, 3, 28, 28]), w, [1, 1, 2, 2], "SAME", { dataFormat: "NCHW" }).shape).toEqual([null, 8, 14, 14]);
      expect(conv2d(tf.placeholder("float32", [null, null, null, 3]), w, 2, "SAME").shape).toEqual([null, null, null, 8]);
      expect(conv2d(tf.placeholder("float32", null), w, 2, "SAME").shape).toBeNull();
      expect(conv2d(tf.placeholder("float32", [2, 9, 9, 3]), tf.placeholder("float32", null), 2, "SAME").shape).toEqual([2, null, null, null]);
    }));

  it("DepthwiseConv2dNative output channels are in * multiplier", () =>
    g().asDefault(() => {
      const x = tf.placeholder("float32", [null, 7, 7, 3]);
      const y = depthwiseConv2d(x, tf.constant(0, [3, 3, 3, 2]), [1, 1], "SAME");
      expect(y.shape).toEqual([null, 7, 7, 6]);
      expect(y.op.name).toBe("depthwise");
      expect(depthwiseConv2d(x, tf.constant(0, [3, 3, 3, 1]), 2, "VALID").op.name).toBe("depthwise_1");
    }));

  it("backprop ops take their shape from constant sizes, else from the other inputs", () =>
    g().asDefault(() => {
      const w = tf.constant(0, [3, 3, 3, 8]);
      const dy = tf.placeholder("float32", [4, 14, 14, 8]);
      expect(conv2dBackpropInput([4, 28, 28, 3], w, dy, 2, "SAME").shape).toEqual([4, 28, 28, 3]);
      expect(conv2dBackpropInput(tf.placeholder("int32", [4]), w, dy, 2, "SAME").shape).toEqual([4, null, null, 3]);
      const x = tf.placeholder("float32", [4, 28, 28, 3]);
      expect(conv2dBackpropFilter(x, [3, 3, 3, 8], dy, 2, "SAME").shape).toEqual([3, 3, 3, 8]);
      expect(conv2dBackpropFilter(x, tf.placeholder("int32", [4]), dy, 2, "SAME").shape).toEqual([null, null, 3, null]);
    }));

  it("gradient rules read the run-time input shape when the batch is unknown", () => {
    const c = cases[0];
    const { x, w, dy, f } = setup(c, false);
    const [gx, gw] = tfjs.grads(f)([x, w], dy);
    const graph = new tf.Graph();
    const [dx, dw] = graph.asDefault(() => {
      const xp = tf.placeholder("float32", [null, 5, 7, 3], "x");
      const y = conv2d(xp, nd(w), 1, "SAME");
      expect(y.shape).toEqual([null, 5, 7, 4]);
      const [a, b] = getOpDef("Conv2D").gradient!(y.op, [tf.placeholder("float32", [null, 5, 7, 4], "dy")]) as tf.Tensor[];
      // TF infers [?, 5, 7, 3] by partially evaluating the Shape op; foldflow's inference reads
      // only Const sizes, so the spatial dims stay unknown while batch and channels are known.
      expect(a.op.inputs[0].op.type).toBe("Shape");
      expect(a.shape).toEqual([null, null, null, 3]);
      expect(b.shape).toEqual([3, 3, 3, 4]);
      return [a, b];
    });
    const out = new tf.Session({ graph }).runSync([dx, dw], { x: nd(x), dy: nd(dy) });
    expectClose(out[0].data, tfjsValues(gx), 1e-4, 1e-5);
    expectClose(out[1].data, tfjsValues(gw), 1e-4, 1e-5);
  });
});

describe("bad input", () => {
  const inGraph = (fn: () => unknown) => () => new tf.Graph().asDefault(fn);
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
  const x = () => tf.placeholder("float32", [1, 5, 5, 3]);

  it("channel mismatch between input and filter names the node, expected and received", inGraph(() => {
    expectError(() => conv2d(x(), tf.constant(0, [3, 3, 4, 2]), 1, "SAME", { name: "myconv" }), "myconv", "expected 4 input channels", "received 3 channels");
    expectError(() => depthwiseConv2d(x(), tf.constant(0, [3, 3, 2, 2]), 1, "SAME"), "depthwise", "expected 2 input channels");
    expectError(() => conv2d(tf.placeholder("float32", [1, 3, 5, 5]), tf.constant(0, [3, 3, 5, 2]), 1, "SAME", { dataFormat: "NCHW", name: "nchw" }), "nchw", "expected 5", "received 3");
  }));

  it("channel mismatch found at run time", () => {
    const graph = new tf.Graph();
    const y = graph.asDefault(() => conv2d(tf.placeholder("float32", [null, null, null, null], "x"), tf.constant(0, [3, 3, 4, 2]), 1, "SAME", { name: "late" }));
    expectError(() => new tf.Session({ graph }).runSync(y, { x: tf.ndarray(new Float32Array(75), [1, 5, 5, 3]) }), "late", "expected 4 input channels");
  });

  it("bad padding string", inGraph(() => {
    expectError(() => conv2d(x(), tf.constant(0, [3, 3, 3, 2]), 1, "FULL" as Padding, { name: "padconv" }), "padconv", "SAME | VALID", "FULL");
    expectError(() => depthwiseConv2d(x(), tf.constant(0, [3, 3, 3, 2]), 1, "same" as Padding), "depthwise", "padding");
  }));

  it("strides and dilations of the wrong length or over batch/channels", inGraph(() => {
    const w = tf.constant(0, [3, 3, 3, 2]);
    expectError(() => conv2d(x(), w, [1, 2, 2], "SAME", { name: "s3" }), "s3", "strides", "expected 4 entries", "received 3 entries");
    expectError(() => conv2d(x(), w, [2, 1, 1, 1], "SAME", { name: "sb" }), "sb", "strides");
    expectError(() => conv2d(x(), w, 1, "SAME", { dilations: [1, 2, 2, 2, 1], name: "d5" }), "d5", "dilations");
    expectError(() => conv2d(x(), w, [1, 1, 2, 2], "SAME", { name: "fmt" }), "fmt", "strides"); // NCHW-style strides on NHWC
  }));

  it("VALID window larger than the input, rank and dtype errors", inGraph(() => {
    expectError(() => conv2d(x(), tf.constant(0, [7, 3, 3, 2]), 1, "VALID", { name: "big" }), "big", "at least 6", "received 5");
    expectError(() => conv2d(tf.placeholder("float32", [5, 5, 3]), tf.constant(0, [3, 3, 3, 2]), 1, "SAME", { name: "r3" }), "r3", "rank 4");
    expectError(() => conv2d(tf.placeholder("int32", [1, 5, 5, 3]), tf.constant(0, [3, 3, 3, 2], "int32"), 1, "SAME", { name: "i32" }), "i32", "float32");
  }));

  it("out_backprop that does not fit the forward shape", inGraph(() => {
    const w = tf.constant(0, [3, 3, 3, 8]);
    expectError(() => conv2dBackpropInput([4, 28, 28, 3], w, tf.placeholder("float32", [4, 13, 14, 8]), 2, "SAME", { name: "bi" }), "bi", "[4,14,14,8]", "[4,13,14,8]");
    expectError(() => conv2dBackpropFilter(tf.placeholder("float32", [4, 28, 28, 3]), [3, 3, 3, 8], tf.placeholder("float32", [4, 14, 14, 7]), 2, "SAME", { name: "bf" }), "bf", "out_backprop");
  }));
});
