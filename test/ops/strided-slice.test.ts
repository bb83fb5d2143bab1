/**
 * StridedSlice: values against tfjs-core (which implements TF's mask semantics) for every mask,
 * negative indices and strides, clamping and empty results; static shapes with unknown dims;
 * the gradient (StridedSliceGrad) against finite differences; bad inputs.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { stridedSlice, type StridedSliceOptions } from "../../ir/ops/array/strided-slice";
import { checkGradients } from "../helpers/gradcheck";
import { randomData } from "../helpers/run";
import { tfjs, tfjsReady } from "../helpers/tfjs";
import { expectInvalid, expectMatches, inGraph, pair, run } from "./array-helpers";

beforeAll(() => tfjsReady());

type Case = [name: string, shape: number[], begin: number[], end: number[], strides: number[], masks: StridedSliceOptions];

const cases: Case[] = [
  ["a plain range", [5], [1], [4], [1], {}],
  ["a step of 2", [7], [0], [7], [2], {}],
  ["a step that leaves a remainder", [8], [1], [8], [3], {}],
  ["a negative stride (reverse)", [6], [-1], [-7], [-1], {}],
  ["negative begin and end", [6, 3], [-4, 0], [-1, 3], [1, 1], {}],
  ["begin and end masks", [4, 5], [2, 1], [0, 3], [1, 1], { beginMask: 1, endMask: 2 }],
  ["masks with a negative stride", [4, 5], [0, 0], [0, 0], [-1, -2], { beginMask: 3, endMask: 3 }],
  ["clamping out-of-range bounds", [4, 3], [-10, 1], [10, 100], [1, 1], {}],
  ["shrinking an axis (x[1])", [3, 4], [1], [2], [1], { shrinkAxisMask: 1 }],
  ["shrinking with a negative index (x[:, -1])", [3, 4], [0, -1], [0, 0], [1, 1], { beginMask: 1, endMask: 1, shrinkAxisMask: 2 }],
  ["shrinking every axis", [2, 3], [1, 2], [2, 3], [1, 1], { shrinkAxisMask: 3 }],
  ["a new axis (x[tf.newaxis, 1:])", [4, 2], [0, 1], [0, 4], [1, 1], { newAxisMask: 1 }],
  ["an ellipsis (x[..., 1])", [2, 3, 4], [0, 1], [0, 2], [1, 1], { ellipsisMask: 1, shrinkAxisMask: 2 }],
  ["an ellipsis and a new axis after it (x[..., tf.newaxis, 0])", [2, 3], [0, 0, 0], [0, 0, 1], [1, 1, 1], { ellipsisMask: 1, newAxisMask: 2, shrinkAxisMask: 4 }],
  ["fewer entries than dimensions (implicit trailing ellipsis)", [3, 4, 2], [1], [3], [1], {}],
];

describe("StridedSlice values match tfjs-core", () => {
  for (const [name, shape, begin, end, strides, m] of cases)
    for (const dtype of ["float32", "int32"] as const)
      it(`${name} (${dtype})`, () => {
        let theirs!: tfjs.Tensor;
        const out = run(() => {
          const [x, t] = pair(shape, 5, dtype);
          theirs = tfjs.stridedSlice(t, begin, end, strides, m.beginMask, m.endMask, m.ellipsisMask, m.newAxisMask, m.shrinkAxisMask);
          return stridedSlice(x, begin, end, strides, m);
        });
        expectMatches(out, theirs);
      });

  // tfjs-core 4.22 fails on these two (its slice rejects the empty interval, and it misplaces an
  // ellipsis between indexed dims), so the expected values come from plain loops.
  it("an empty interval gives a size-0 dim (x[3:1])", () => {
    const out = run(() => stridedSlice(pair([5, 2], 5)[0], [3, 0], [1, 2], [1, 1]));
    expect(out.shape).toEqual([0, 2]);
  });

  it("an ellipsis in the middle (x[1, ..., ::2])", () => {
    const shape = [3, 2, 2, 5];
    const values = randomData(60, 9);
    const out = run(() => stridedSlice(tf.constant(tf.ndarray(values, shape)), [1, 0, 0], [2, 0, 5], [1, 1, 2], { ellipsisMask: 2, shrinkAxisMask: 1 }));
    const expected: number[] = [];
    for (let i = 0; i < 2; i++) for (let j = 0; j < 2; j++) for (let k = 0; k < 5; k += 2) expected.push(values[((1 * 2 + i) * 2 + j) * 5 + k]);
    expect(out.shape).toEqual([2, 2, 3]);
    expect(Array.from(out.data)).toEqual(expected);
  });

  it("slices bool tensors and keeps size-0 dims", () => {
    const out = run(() => stridedSlice(tf.constant([[true, false], [false, true], [true, true]]), [1], [3], [1]));
    expect(out.toArray()).toEqual([[false, true], [true, true]]);
    expect(run(() => stridedSlice(tf.constant(new Float32Array(0), [0, 3], "float32"), [0, 1], [0, 3], [1, 1])).shape).toEqual([0, 2]);
  });
});

describe("StridedSlice static shapes", () => {
  it("infers shapes from constant specs, with unknown dims where they stay unknown", () => {
    inGraph(() => {
      const x = tf.placeholder("float32", [null, 6, 4], "x");
      expect(stridedSlice(x, [0], [1], [1], { shrinkAxisMask: 1 }).shape).toEqual([6, 4]);
      expect(stridedSlice(x, [0, 1], [0, 5], [1, 2], { beginMask: 1, endMask: 1 }).shape).toEqual([null, 2, 4]);
      expect(stridedSlice(x, [0, 0], [0, 0], [1, 1], { ellipsisMask: 1, newAxisMask: 2 }).shape).toEqual([null, 6, 4, 1]);
      expect(stridedSlice(tf.placeholder("float32", null), [0], [1], [1]).shape).toBeNull();
      const begin = tf.placeholder("int32", [2], "begin");
      expect(stridedSlice(x, begin, [3, 3], [1, 1], { shrinkAxisMask: 1 }).shape).toEqual([null, 4]);
    });
  });

  it("the classic dynamic reshape: tf.shape(x)[0] is an int32 scalar", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 2, 3], "x");
      const n = stridedSlice(tf.shape(x), [0], [1], [1], { shrinkAxisMask: 1 });
      expect(n.shape).toEqual([]);
      return tf.reshape(x, tf.stack([n, -1]));
    });
    const out = new tf.Session({ graph: g }).runSync(y, { x: tf.ndarray(randomData(12), [2, 2, 3]) });
    expect(out.shape).toEqual([2, 6]);
  });
});

describe("StridedSlice gradient", () => {
  const grads: [string, number[], number[], number[], number[], StridedSliceOptions][] = [
    ["a strided range", [6, 3], [1, 0], [6, 3], [2, 1], {}],
    ["a reversed shrink", [4, 5], [0, 2], [0, 3], [-1, 1], { beginMask: 1, endMask: 1, shrinkAxisMask: 2 }],
    ["an ellipsis and a new axis", [2, 3, 4], [0, 0, 1], [0, 0, 4], [1, 1, 2], { ellipsisMask: 1, newAxisMask: 2 }],
  ];
  for (const [name, shape, begin, end, strides, m] of grads)
    it(`matches finite differences: ${name}`, () => {
      const size = shape.reduce((a, b) => a * b, 1);
      checkGradients(() => {
        const x = tf.placeholder("float32", shape, "x");
        return { y: stridedSlice(x, begin, end, strides, m), xs: [x] };
      }, { x: Float64Array.from(randomData(size, 3)) });
    });

  it("scatters into zeros of the input's shape (unknown static shape too)", () => {
    const g = new tf.Graph();
    const [dx] = g.asDefault(() => {
      const x = tf.placeholder("float32", [null], "x");
      return tf.gradients(tf.reduceSum(stridedSlice(x, [1], [0], [2], { endMask: 1 })), [x]);
    });
    expect(new tf.Session({ graph: g }).runSync(dx!, { x: [1, 2, 3, 4, 5] }).toArray()).toEqual([0, 1, 0, 1, 0]);
  });
});

describe("StridedSlice errors", () => {
  it("names the node for zero strides, two ellipses, out-of-range shrinks and too many indices", () => {
    inGraph(() => {
      const x = tf.placeholder("float32", [3, 4], "x");
      expectInvalid(() => stridedSlice(x, [0], [2], [0], { name: "zero" }), "zero", "stride 0 is zero");
      expectInvalid(() => stridedSlice(x, [0, 0], [1, 1], [1, 1], { ellipsisMask: 3, name: "two" }), "two", "one ellipsis");
      expectInvalid(() => stridedSlice(x, [5], [6], [1], { shrinkAxisMask: 1, name: "far" }), "far", "index 5 is out of bounds");
      expectInvalid(() => stridedSlice(x, [0, 0, 0], [1, 1, 1], [1, 1, 1], { name: "many" }), "many", "more dimensions");
      expectInvalid(() => stridedSlice(x, [0, 0], [1], [1, 1], { name: "lengths" }), "lengths", "one length");
      expectInvalid(() => stridedSlice(x, tf.constant([0.5]), [1], [1], { name: "floaty" }), "floaty", "must be int32");
    });
  });

  it("checks a shrunk index at run time when begin is fed", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => stridedSlice(tf.constant([1, 2, 3]), tf.placeholder("int32", [1], "b"), [0], [1], { shrinkAxisMask: 1, name: "pick" }));
    const sess = new tf.Session({ graph: g });
    expect(sess.runSync(y, { b: tf.ndarray(new Int32Array([-1]), [1], "int32") }).data[0]).toBe(3);
    expect(() => sess.runSync(y, { b: tf.ndarray(new Int32Array([3]), [1], "int32") })).toThrowError(/pick: StridedSlice index 3 is out of bounds/);
  });
});
