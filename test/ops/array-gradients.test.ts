/**
 * Gradient rules of the array ops, through tf.gradients, against central finite differences
 * (float64 reference kernels). Inputs with unknown dims exercise the rules' run-time shape
 * paths (Shape, ConcatOffset, dynamic paddings ...).
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { checkGradients } from "../helpers/gradcheck";
import { randomData } from "../helpers/run";
import { getOpDef } from "../../ir/registry";
import { inGraph } from "./array-helpers";

const values = (n: number, seed = 1) => Array.from(randomData(n, seed, -2, 2));
const ph = (shape: (number | null)[], name: string) => tf.placeholder("float32", shape, name);
/** A scalar loss over a tensor of unknown dims: sum(y * w) for a constant w of y's run-time shape. */
const weighted = (y: tf.Tensor, shape: number[], seed = 3) =>
  tf.reduceSum(tf.mul(y, tf.constant(tf.ndarray(randomData(shape.reduce((a, b) => a * b, 1), seed), shape))));

describe("gradients with static shapes", () => {
  it("Reshape, Squeeze, ExpandDims", () => {
    checkGradients(() => {
      const x = ph([2, 3], "x");
      return { y: tf.reshape(x, [3, 2]), xs: [x] };
    }, { x: values(6) });
    checkGradients(() => {
      const x = ph([1, 3, 1], "x");
      return { y: tf.squeeze(x), xs: [x] };
    }, { x: values(3) });
    checkGradients(() => {
      const x = ph([2, 3], "x");
      return { y: tf.expandDims(x, 1), xs: [x] };
    }, { x: values(6) });
  });

  it("Transpose", () => {
    checkGradients(() => {
      const x = ph([2, 3, 4], "x");
      return { y: tf.transpose(x, [2, 0, 1]), xs: [x] };
    }, { x: values(24) });
  });

  it("ConcatV2", () => {
    checkGradients(() => {
      const a = ph([2, 3], "a");
      const b = ph([2, 2], "b");
      return { y: tf.concat([a, b], 1), xs: [a, b] };
    }, { a: values(6), b: values(4, 2) });
    checkGradients(() => {
      const a = ph([1, 2], "a");
      const b = ph([3, 2], "b");
      const c = ph([2, 2], "c");
      return { y: tf.concat([a, b, c], -2), xs: [a, b, c] };
    }, { a: values(2), b: values(6, 2), c: values(4, 3) });
  });

  it("Slice and Pad", () => {
    checkGradients(() => {
      const x = ph([3, 4], "x");
      return { y: tf.slice(x, [1, 0], [2, -1]), xs: [x] };
    }, { x: values(12) });
    checkGradients(() => {
      const x = ph([2, 3], "x");
      return { y: tf.pad(x, [[1, 0], [0, 2]]), xs: [x] };
    }, { x: values(6) });
  });

  it("GatherV2 on axis 0 (repeated indices add up), inner axes and a scalar index", () => {
    checkGradients(() => {
      const x = ph([5, 3], "x");
      return { y: tf.gather(x, [4, 0, 4]), xs: [x] };
    }, { x: values(15) });
    checkGradients(() => {
      const x = ph([2, 5, 3], "x");
      return { y: tf.gather(x, tf.constant([[1, 2], [0, 1]], [2, 2], "int32"), 1), xs: [x] };
    }, { x: values(30) });
    checkGradients(() => {
      const x = ph([2, 4], "x");
      return { y: tf.gather(x, tf.constant(3, [], "int32"), -1), xs: [x] };
    }, { x: values(8) });
  });

  it("Tile", () => {
    checkGradients(() => {
      const x = ph([2, 3], "x");
      return { y: tf.tile(x, [2, 2]), xs: [x] };
    }, { x: values(6) });
    checkGradients(() => {
      const x = ph([3], "x");
      return { y: tf.tile(x, [3]), xs: [x] };
    }, { x: values(3) });
  });

  it("SelectV2, with broadcast branches", () => {
    checkGradients(() => {
      const x = ph([2, 3], "x");
      const y = ph([2, 3], "y");
      return { y: tf.where(tf.constant([[true, false, true], [false, false, true]]), x, y), xs: [x, y] };
    }, { x: values(6), y: values(6, 2) });
    checkGradients(() => {
      const x = ph([1, 3], "x");
      const y = ph([], "y");
      return { y: tf.where(tf.constant([[true, false, true], [false, true, true]]), x, y), xs: [x, y] };
    }, { x: values(3), y: [0.5] });
  });

  it("Pack and Unpack (unused outputs get zeros)", () => {
    checkGradients(() => {
      const a = ph([2, 3], "a");
      const b = ph([2, 3], "b");
      return { y: tf.stack([a, b], 1), xs: [a, b] };
    }, { a: values(6), b: values(6, 2) });
    checkGradients(() => {
      const x = ph([3, 2], "x");
      const parts = tf.unstack(x, { axis: 0 });
      return { y: tf.stack([parts[2], parts[0]], -1), xs: [x] };
    }, { x: values(6) });
  });

  it("Split and SplitV (unused pieces get zeros)", () => {
    checkGradients(() => {
      const x = ph([6, 2], "x");
      const parts = tf.split(x, 3, 0);
      return { y: tf.concat([parts[2], parts[0]], 0), xs: [x] };
    }, { x: values(12) });
    checkGradients(() => {
      const x = ph([2, 5], "x");
      const [, b] = tf.split(x, [1, -1], 1);
      return { y: b, xs: [x] };
    }, { x: values(10) });
  });

  it("Fill (the value gets the sum) and UnsortedSegmentSum (negative ids get zeros)", () => {
    checkGradients(() => {
      const s = ph([], "s");
      return { y: tf.fill([2, 3], s), xs: [s] };
    }, { s: [0.7] });
    checkGradients(() => {
      const d = ph([4, 3], "d");
      return { y: tf.unsortedSegmentSum(d, tf.constant([0, -1, 2, 0], [4], "int32"), 3), xs: [d] };
    }, { d: values(12) });
  });
});

describe("gradients with unknown dims (run-time shapes)", () => {
  it("Reshape, ConcatV2 and Slice", () => {
    checkGradients(() => {
      const x = ph([null, 3], "x");
      return { y: weighted(tf.reshape(x, [-1]), [6]), xs: [x] };
    }, { x: values(6) });
    checkGradients(() => {
      const a = ph([null, 3], "a");
      const b = ph([null, 3], "b");
      return { y: weighted(tf.concat([a, b], 0), [5, 3]), xs: [a, b] };
    }, { a: values(6), b: values(9, 2) });
    checkGradients(() => {
      const x = ph([null, 4], "x");
      return { y: weighted(tf.slice(x, [1, 1], [-1, 2]), [2, 2]), xs: [x] };
    }, { x: values(12) });
  });

  it("Pad, GatherV2, Tile", () => {
    checkGradients(() => {
      const x = ph([null, 2], "x");
      return { y: weighted(tf.pad(x, [[1, 1], [0, 1]]), [5, 3]), xs: [x] };
    }, { x: values(6) });
    checkGradients(() => {
      const x = ph([null, 3], "x");
      return { y: weighted(tf.gather(x, [1, 3, 1], 0), [3, 3]), xs: [x] };
    }, { x: values(12) });
    checkGradients(() => {
      const x = ph([2, null], "x");
      return { y: weighted(tf.gather(x, tf.constant([[0, 2]], [1, 2], "int32"), 1), [2, 1, 2]), xs: [x] };
    }, { x: values(6) });
    checkGradients(() => {
      const x = ph([null, 2], "x");
      return { y: weighted(tf.tile(x, tf.constant([2, 3], [2], "int32")), [4, 6]), xs: [x] };
    }, { x: values(4) });
  });
});

describe("rule graphs", () => {
  it("use run-time shape ops only where dims are unknown", () => {
    const types = (build: () => tf.Tensor[]) =>
      inGraph(() => {
        const [y, ...xs] = build();
        const before = new Set(tf.getDefaultGraph().operations);
        tf.gradients(y, xs);
        return new Set(tf.getDefaultGraph().operations.filter((o) => !before.has(o)).map((o) => o.type));
      });
    const unknown = types(() => {
      const a = ph([null, 3], "a");
      const y = tf.reduceSum(tf.concat([tf.slice(a, [1, 0], [-1, -1]), tf.reshape(a, [-1, 3])], 0));
      return [y, a];
    });
    for (const t of ["ConcatOffset", "Shape", "Pad", "Pack"]) expect(unknown.has(t), t).toBe(true);
    const known = types(() => {
      const a = ph([4, 3], "a");
      return [tf.reduceSum(tf.concat([tf.slice(a, [1, 0], [-1, -1]), tf.reshape(a, [-1, 3])], 0)), a];
    });
    for (const t of ["ConcatOffset", "Shape", "Pack"]) expect(known.has(t), t).toBe(false);
  });

  it("Transpose by a fed perm inverts it at run time", () => {
    const w = randomData(24, 5);
    const g = new tf.Graph();
    const { dx, perm } = g.asDefault(() => {
      const x = ph([2, 3, 4], "x");
      const p = tf.placeholder("int32", [3], "p");
      const y = tf.reduceSum(tf.mul(tf.transpose(x, p), tf.constant(tf.ndarray(w, [4, 2, 3]))));
      const [dx] = tf.gradients(y, [x]);
      return { dx: dx!, perm: p };
    });
    expect(g.operations.some((o) => o.type === "InvertPermutation")).toBe(true);
    const out = new tf.Session({ graph: g }).runSync(dx, new Map<tf.Tensor | string, tf.FeedValue>([
      ["x", tf.ndarray(randomData(24), [2, 3, 4])],
      [perm, tf.ndarray([2, 0, 1], [3], "int32")],
    ]));
    // y[i,j,k] = x[j,k,i] for perm [2,0,1], so dx[j,k,i] = w[i,j,k].
    const expected: number[] = [];
    for (let j = 0; j < 2; j++) for (let k = 0; k < 3; k++) for (let i = 0; i < 4; i++) expected.push(w[(i * 2 + j) * 3 + k]);
    expect(out.shape).toEqual([2, 3, 4]);
    out.values().forEach((v, n) => expect(v).toBeCloseTo(expected[n], 5));
  });
});

describe("rules that give no gradient", () => {
  it("Cast to int, the int inputs, and the non-differentiable ops", () => {
    inGraph(() => {
      const x = ph([2], "x");
      const c = tf.cast(x, "int32");
      expect(getOpDef("Cast").gradient!(c.op, [tf.constant([1, 1], [2], "int32")])).toEqual([null]);
      const r = tf.reshape(x, [1, 2]);
      const grads = getOpDef("Reshape").gradient!(r.op, [tf.constant([[1, 1]])]);
      expect([grads.length, grads[1]]).toEqual([2, null]);
      for (const type of ["Shape", "OneHot", "ZerosLike", "OnesLike", "ConcatOffset", "InvertPermutation"]) {
        expect(getOpDef(type).nonDifferentiable, type).toBe(true);
        expect(getOpDef(type).gradient, type).toBeUndefined();
      }
    });
  });
});
