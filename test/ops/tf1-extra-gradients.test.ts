/**
 * Gradient rules of the TF1 extra ops (tf1-extra.test.ts), through tf.gradients, against
 * float64 central finite differences — first order, and second order where TF has a rule for
 * the gradient op (LeakyReluGrad, SoftplusGrad, MirrorPadGrad).
 */
import { describe, expect, it, vi } from "vitest";
import * as tf from "foldflow";
import { checkGradients } from "../helpers/gradcheck";
import { randomData } from "../helpers/run";
import { binary } from "../../ir/ops/elementwise";
import { leakyReluGrad } from "../../ir/ops/activation";
import { mirrorPadGrad } from "../../ir/ops/array/pad";
import { inGraph } from "./array-helpers";

const values = (n: number, seed = 1, lo = -2, hi = 2) => Array.from(randomData(n, seed, lo, hi));
const ph = (shape: (number | null)[], name: string) => tf.placeholder("float32", shape, name);

describe("activations", () => {
  for (const alpha of [0.2, 0.01, 2])
    it(`LeakyRelu alpha ${alpha}`, () => {
      checkGradients(() => {
        const x = ph([3, 4], "x");
        return { y: tf.nn.leakyRelu(x, alpha), xs: [x] };
      }, { x: values(12, 3) });
    });

  it("Softplus and Softsign", () => {
    checkGradients(() => {
      const x = ph([2, 5], "x");
      return { y: tf.nn.softplus(x), xs: [x] };
    }, { x: values(10, 4, -4, 4) });
    checkGradients(() => {
      const x = ph([2, 5], "x");
      return { y: tf.nn.softsign(x), xs: [x] };
    }, { x: values(10, 5, -4, 4) });
  });

  it("the gradients are TF's ops", () => {
    inGraph(() => {
      const x = ph([3], "x");
      const types = [tf.nn.leakyRelu(x, 0.3), tf.nn.softplus(x), tf.nn.softsign(x)].map((y) => tf.gradients(y, [x])[0]!.op);
      expect(types.map((op) => op.type)).toEqual(["LeakyReluGrad", "SoftplusGrad", "SoftsignGrad"]);
      expect(types[0].attrs.alpha).toBe(0.3);
    });
  });

  it("second order: LeakyReluGrad and SoftplusGrad", () => {
    checkGradients(() => {
      const g = ph([2, 3], "g");
      const x = ph([2, 3], "x");
      return { y: leakyReluGrad(g, x, 0.1), xs: [g] };
    }, { g: values(6, 6), x: values(6, 7) });
    checkGradients(() => {
      const g = ph([2, 3], "g");
      const x = ph([2, 3], "x");
      return { y: binary("SoftplusGrad", g, x), xs: [g, x] };
    }, { g: values(6, 8), x: values(6, 9) });
    // Through tf.gradients twice: d/dx of softplus'(x)·w.
    checkGradients(() => {
      const x = ph([4], "x");
      const [dx] = tf.gradients(tf.reduceSum(tf.mul(tf.nn.softplus(x), tf.constant([1, -2, 0.5, 3], [4]))), [x]);
      return { y: dx!, xs: [x] };
    }, { x: values(4, 10) });
  });
});

describe("Div", () => {
  it("float Div, with broadcasting", () => {
    checkGradients(() => {
      const x = ph([2, 3], "x");
      const y = ph([3], "y");
      return { y: tf.getDefaultGraph().addOp({ type: "Div", inputs: [x, y] }).outputs[0], xs: [x, y] };
    }, { x: values(6, 11), y: values(3, 12, 0.5, 2) });
  });

  it("tf.div on floats (RealDiv)", () => {
    checkGradients(() => {
      const x = ph([4], "x");
      const y = ph([4], "y");
      return { y: tf.div(x, y), xs: [x, y] };
    }, { x: values(4, 13), y: values(4, 14, -3, -0.5) });
  });
});

describe("padding", () => {
  it("PadV2 (the constant gets no gradient)", () => {
    checkGradients(() => {
      const x = ph([2, 3], "x");
      return { y: tf.pad(x, [[1, 0], [2, 1]], "CONSTANT", undefined, 3), xs: [x] };
    }, { x: values(6, 15) });
    inGraph(() => {
      const x = ph([2], "x");
      const c = tf.constant(1, [], "float32");
      expect(tf.gradients(tf.pad(x, [[1, 1]], "CONSTANT", undefined, c), [c])[0]).toBeNull();
    });
  });

  for (const mode of ["REFLECT", "SYMMETRIC"])
    it(`MirrorPad ${mode}, and MirrorPadGrad's own gradient`, () => {
      checkGradients(() => {
        const x = ph([3, 4], "x");
        return { y: tf.pad(x, [[2, 1], [1, 3]], mode), xs: [x] };
      }, { x: values(12, 16) });
      checkGradients(() => {
        const dy = ph([6, 8], "dy");
        return { y: mirrorPadGrad(dy, [[2, 1], [1, 3]], mode), xs: [dy] };
      }, { dy: values(48, 17) });
    });

  it("MirrorPad's gradient sums every copy of an element", () => {
    const g = new tf.Graph();
    const dx = g.asDefault(() => {
      const x = ph([3], "x");
      return tf.gradients(tf.reduceSum(tf.pad(x, [[2, 2]], "REFLECT")), [x])[0]!;
    });
    // [x0 x1 x2] reflected by 2 is [x2 x1 | x0 x1 x2 | x1 x0]: x0 twice, x1 three times, x2 twice.
    expect(new tf.Session({ graph: g }).runSync(dx, { x: [1, 2, 3] }).values()).toEqual([2, 3, 2]);
  });
});

describe("Cumsum", () => {
  const cases: [number, boolean, boolean][] = [
    [0, false, false],
    [1, false, false],
    [1, true, false],
    [-1, false, true],
    [0, true, true],
  ];
  for (const [axis, exclusive, reverse] of cases)
    it(`axis ${axis}${exclusive ? " exclusive" : ""}${reverse ? " reverse" : ""}`, () => {
      checkGradients(() => {
        const x = ph([3, 4], "x");
        return { y: tf.cumsum(x, axis, exclusive, reverse), xs: [x] };
      }, { x: values(12, 18 + axis) });
    });

  it("the gradient is a Cumsum the other way", () => {
    inGraph(() => {
      const x = ph([3], "x");
      const dx = tf.gradients(tf.cumsum(x, 0, true, false), [x])[0]!;
      expect([dx.op.type, dx.op.attrs.exclusive, dx.op.attrs.reverse]).toEqual(["Cumsum", true, true]);
    });
  });
});

describe("Print and the shape ops", () => {
  it("Print passes the gradient to its input only", () => {
    const spy = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      checkGradients(() => {
        const x = ph([3], "x");
        const d = ph([2], "d");
        return { y: tf.mul(tf.Print(x, [d], "x: "), 2), xs: [x] };
      }, { x: values(3, 19), d: values(2, 20) });
      inGraph(() => {
        const x = ph([3], "x");
        const d = ph([2], "d");
        expect(tf.gradients(tf.Print(x, [d]), [d])[0]).toBeNull();
      });
    } finally {
      spy.mockRestore();
    }
  });

  it("Rank, Size, ShapeN and Range stop gradients without an error", () => {
    inGraph(() => {
      const x = ph([null, 3], "x");
      const n = tf.cast(tf.size(x), "float32");
      const r = tf.cast(tf.range(tf.size(x)), "float32");
      const s = tf.cast(tf.shapeN([x])[0], "float32");
      const y = tf.add(tf.add(tf.add(n, tf.reduceSum(r)), tf.reduceSum(s)), tf.reduceSum(x));
      const [dx] = tf.gradients(y, [x]);
      expect(dx).not.toBeNull();
    });
  });
});
