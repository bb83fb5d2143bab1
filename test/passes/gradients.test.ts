import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { checkGradients } from "../helpers/gradcheck";

function run(g: tf.Graph, fetch: tf.Tensor | tf.Tensor[], feeds?: Record<string, tf.FeedValue>) {
  return new tf.Session({ graph: g }).runSync(fetch as tf.Fetch, feeds);
}

describe("tf.gradients: the driver's bookkeeping", () => {
  it("sums gradients over fan-out", () => {
    const g = new tf.Graph();
    const [x, dx] = g.asDefault(() => {
      const x = tf.placeholder("float32", [3], "x");
      // y = x*x + 3x + x  => dy/dx = 2x + 4
      const y = tf.add(tf.add(tf.mul(x, x), tf.mul(x, 3)), x);
      return [x, tf.gradients(y, [x])[0]!];
    });
    expect((run(g, dx, { x: [1, 2, 3] }) as tf.NDArray).values()).toEqual([6, 8, 10]);
    expect(x.name).toBe("x:0");
  });

  it("reduces broadcast gradients to the input's shape, with unknown batch dims too", () => {
    checkGradients(() => {
      const a = tf.placeholder("float32", [null, 3], "a");
      const b = tf.placeholder("float32", [3], "b");
      const c = tf.placeholder("float32", [2, 1], "c");
      return { y: tf.reshape(tf.mul(tf.add(a, b), c), [2, 3]), xs: [a, b, c] };
    }, { a: [1, 2, 3, 4, 5, 6], b: [0.5, -1, 2], c: [3, -2] });
  });

  it("honours stopGradient and stopGradients, returns null or zeros when unconnected", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      const z = tf.placeholder("float32", [2], "z");
      const y = tf.add(tf.mul(x, tf.stopGradient(x)), tf.square(x));
      const [dx, dz] = tf.gradients(y, [x, z]);
      const [dz0] = tf.gradients(y, [z], undefined, { unconnectedGradients: "zero" });
      const sq = tf.square(x);
      const [dStop] = tf.gradients(tf.add(sq, x), [x], undefined, { stopGradients: [sq] });
      return { dx, dz, dz0, dStop };
    });
    // d/dx [x * sg(x) + x^2] = sg(x) + 2x = 3x
    expect((run(g, r.dx!, { x: [1, 2] }) as tf.NDArray).values()).toEqual([3, 6]);
    expect(r.dz).toBeNull();
    expect((run(g, r.dz0!, { x: [1, 2], z: [0, 0] }) as tf.NDArray).values()).toEqual([0, 0]);
    expect((run(g, r.dStop!, { x: [5, 7] }) as tf.NDArray).values()).toEqual([1, 1]);
  });

  it("uses gradYs, and differentiates each node once", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      const h = tf.exp(x, "h");
      const y = tf.add(h, h);
      const before = g.operations.length;
      const [dx] = tf.gradients(y, [x], tf.constant([1, 10], [2]));
      // Both uses of h are summed first (one AddN); Exp's rule then runs once (one Mul).
      const added = g.operations.slice(before);
      return {
        dx,
        addN: added.filter((o) => o.type === "AddN").length,
        expGradOps: added.filter((o) => o.name.startsWith("gradients/h_grad/")).length,
      };
    });
    const dx = (run(g, r.dx!, { x: [0, 1] }) as tf.NDArray).values();
    expect(dx[0]).toBeCloseTo(2, 5);
    expect(dx[1]).toBeCloseTo(20 * Math.E, 4);
    expect(r.addN).toBe(1);
    expect(r.expGradOps).toBe(1);
  });

  it("flows through tf.cond into the taken branch only", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const p = tf.placeholder("bool", [], "p");
      const x = tf.placeholder("float32", [2], "x");
      const y = tf.cond(p, () => tf.mul(x, x), () => tf.mul(x, 3));
      return { dx: tf.gradients(y, [x])[0]! };
    });
    expect((run(g, r.dx, { p: true, x: [1, 2] }) as tf.NDArray).values()).toEqual([2, 4]);
    expect((run(g, r.dx, { p: false, x: [1, 2] }) as tf.NDArray).values()).toEqual([3, 3]);
  });

  it("differentiates with respect to variables", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const w = tf.getVariable("w", [2], { initializer: tf.initializers.constant([2, 3]) });
      const loss = tf.reduceSum(tf.square(w));
      return { dw: tf.gradients(loss, [w])[0]!, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g });
    sess.runSync(r.init);
    expect(sess.runSync(r.dw).values()).toEqual([4, 6]);
  });
});

describe("tf.gradients: bad input", () => {
  it("refuses a non-float tensor, naming it", () => {
    new tf.Graph().asDefault(() => {
      const n = tf.placeholder("int32", [2], "n");
      const y = tf.cast(n, "float32");
      expect(() => tf.gradients(y, [n])).toThrow(tf.errors.InvalidArgumentError);
      expect(() => tf.gradients(y, [n])).toThrow(/`n:0`.*not a float tensor/);
      expect(() => tf.gradients(n, [tf.placeholder("float32", [2], "f")])).toThrow(/y `n:0`/);
    });
  });

  it("refuses gradYs of the wrong shape or count", () => {
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      const y = tf.square(x, "y");
      expect(() => tf.gradients(y, [x], tf.constant([1, 2], [2]))).toThrow(/gradYs\[0\] does not match y `y:0`.*expected float32 \[2,3\], received float32 \[2\]/);
      expect(() => tf.gradients([y], [x], [null, null])).toThrow(/one entry per y/);
    });
  });

  it("refuses a variable from another graph", () => {
    const other = new tf.Graph().asDefault(() => tf.getVariable("w", [2]));
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      expect(() => tf.gradients(tf.square(x), [other])).toThrow(/`w:0` is not in the graph/);
    });
  });

  it("refuses to differentiate through an assign", () => {
    new tf.Graph().asDefault(() => {
      const v = tf.getVariable("v", [2]);
      const x = tf.placeholder("float32", [2], "x");
      const a = tf.assign(v, x, { name: "set_v" });
      expect(() => tf.gradients(tf.square(a), [x])).toThrow(/cannot differentiate through `set_v` \(Assign\)/);
    });
  });

  it("names an op with no gradient rule", () => {
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      const y = tf.reduceProd(x, undefined, false, "prod");
      expect(() => tf.gradients(y, [x])).toThrow(/no gradient is defined for op type Prod \(`prod`\)/);
    });
  });
});
