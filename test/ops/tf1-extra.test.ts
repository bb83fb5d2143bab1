/**
 * The TF1 ops that real graphs hold beside the core families: Rank, Size, ShapeN, Range, Div,
 * LeakyRelu, Softplus, Softsign, PadV2, MirrorPad, Cumsum. Reference kernels against
 * tfjs-core's CPU backend where it has the op (numbers worked out here where it does not),
 * static shapes, and each bad input as an InvalidArgumentError naming the node.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { expectClose } from "../helpers/run";
import { tfjs, tfjsReady } from "../helpers/tfjs";
import { cst, data, expectInvalid, expectMatches, inGraph, pair, run, runAll } from "./array-helpers";

beforeAll(() => tfjsReady());

describe("Rank, Size, ShapeN", () => {
  it("run as ops when the static shape does not answer", () => {
    const feeds = { x: tf.ndarray(data([2, 3, 4]), [2, 3, 4]), y: tf.ndarray(data([5, 0]), [5, 0]) };
    const [r, s, s0, a, b] = runAll(() => {
      const x = tf.placeholder("float32", null, "x");
      const y = tf.placeholder("float32", [null, null], "y");
      const [sa, sb] = tf.shapeN([x, y]);
      expect(tf.rank(x).op.type).toBe("Rank");
      expect(tf.size(x).op.type).toBe("Size");
      return [tf.rank(x), tf.size(x), tf.size(y), sa, sb];
    }, feeds);
    expect([r.dtype, r.shape, r.scalar()]).toEqual(["int32", [], 3]);
    expect([s.dtype, s.shape, s.scalar()]).toEqual(["int32", [], 24]);
    expect(s0.scalar()).toBe(0);
    expect([a.dtype, a.values()]).toEqual(["int32", [2, 3, 4]]);
    expect(b.values()).toEqual([5, 0]);
  });

  it("give Consts when the static shape answers, as TF1's optimize does", () => {
    inGraph(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      expect(tf.rank(x).op.type).toBe("Const");
      expect(tf.size(x).op.type).toBe("Size");
      expect(tf.size(tf.placeholder("float32", [null, 0])).op.type).toBe("Const");
      expect(tf.size(cst([2, 5])).op.type).toBe("Const");
      const [s] = tf.shapeN([x]);
      expect([s.op.type, s.shape]).toEqual(["ShapeN", [2]]);
    });
    expect(run(() => tf.size(cst([2, 5]))).scalar()).toBe(10);
    expect(run(() => tf.rank(cst([2, 5]))).scalar()).toBe(2);
  });

  it("match tfjs's rank and size", () => {
    let t!: tfjs.Tensor;
    const [r, s] = runAll(() => {
      const [x, tt] = pair([3, 1, 2], 4);
      t = tt;
      return [tf.rank(tf.identity(x)), tf.size(tf.identity(x))];
    });
    expect(r.scalar()).toBe(t.rank);
    expect(s.scalar()).toBe(t.size);
  });

  it("reject bad input by node", () => {
    expectInvalid(() => inGraph(() => tf.shapeN([cst([2]), tf.constant([1], [1], "int32")], "int32", "sn")), "sn", "one dtype");
    expectInvalid(() => inGraph(() => tf.size(tf.placeholder("float32", null), "sz", "bool")), "sz", "out_type must be int32");
    expectInvalid(() => inGraph(() => tf.shapeN([], "int32", "empty")), "empty", "N");
  });
});

describe("Range", () => {
  const cases: [string, number, number, number, "float32" | "int32"][] = [
    ["ints", 0, 10, 3, "int32"],
    ["negative delta", 10, -3, -4, "int32"],
    ["floats", 0, 1, 0.1, "float32"],
    ["float start", 0.5, 3, 0.7, "float32"],
    ["empty", 4, 4, 1, "int32"],
    ["negative float delta", 1, -1, -0.3, "float32"],
  ];
  for (const [label, start, limit, delta, dtype] of cases)
    it(`${label}: range(${start}, ${limit}, ${delta})`, () => {
      const out = run(() => {
        const r = tf.range(start, limit, delta);
        expect(r.shape).toEqual([tfjs.range(start, limit, delta, dtype).size]);
        return r;
      });
      expectMatches(out, tfjs.range(start, limit, delta, dtype));
    });

  it("one argument is the limit; dtypes widen as in TF1; an explicit dtype converts", () => {
    expect(run(() => tf.range(4)).values()).toEqual([0, 1, 2, 3]);
    inGraph(() => {
      expect(tf.range(5).dtype).toBe("int32");
      expect(tf.range(0, 5, 0.5).dtype).toBe("float32");
      expect(tf.range(tf.constant(1, [], "float32"), 5).dtype).toBe("float32");
      const r = tf.range(0, 4, 1, "float32", "floats");
      expect([r.dtype, r.shape, r.op.name, r.op.inputs[0].op.name]).toEqual(["float32", [4], "floats", "floats/start"]);
      const fed = tf.range(tf.placeholder("int32", [], "n"));
      expect([fed.shape, fed.op.attrs.Tidx]).toEqual([[null], "int32"]);
    });
    const out = run(() => tf.range(tf.placeholder("int32", [], "n"), undefined, 2), { n: 7 });
    expect(out.values()).toEqual([0, 2, 4, 6]);
  });

  it("rejects bad ranges by node, statically and at run time", () => {
    expectInvalid(() => inGraph(() => tf.range(0, 5, 0, undefined, "r")), "r", "delta != 0");
    expectInvalid(() => inGraph(() => tf.range(5, 0, 1, undefined, "r")), "r", "start <= limit");
    expectInvalid(() => inGraph(() => tf.range(0, 5, -1, undefined, "r")), "r", "start >= limit");
    expectInvalid(() => inGraph(() => tf.range(tf.constant([1, 2], [2], "int32"), 5, 1, undefined, "r")), "r", "must be a scalar");
    expectInvalid(() => inGraph(() => tf.range(tf.constant(1, [], "int32", "s"), 5, 1, "float32", "r")), "s:0", "dtype");
    expectInvalid(() => inGraph(() => tf.range(tf.constant(true, [], "bool"), 5, 1, undefined, "r")), "r", "float32 or int32");
    expectInvalid(() => run(() => tf.range(0, 5, tf.placeholder("int32", [], "d"), undefined, "r"), { d: 0 }), "r", "delta != 0");
    expectInvalid(() => inGraph(() => tf.range(0, 1, 1e-12, undefined, "r")), "r", "elements");
  });
});

describe("Div and tf.div", () => {
  it("tf.div is Python 2 division: RealDiv for floats, FloorDiv for ints", () => {
    const ta = tfjs.tensor(Int32Array.from(data([2, 3], 1), Math.floor), [2, 3], "int32");
    const tb = tfjs.tensor([3, -2, 5], [3], "int32");
    const tx = tfjs.tensor(data([2, 3], 2), [2, 3]);
    const [i, f] = runAll(() => {
      const a = tf.constant(tf.ndarray(Int32Array.from(data([2, 3], 1), Math.floor), [2, 3], "int32"));
      const b = tf.constant([3, -2, 5], [3], "int32");
      const x = tf.constant(tf.ndarray(data([2, 3], 2), [2, 3]));
      const q = tf.div(a, b);
      expect([q.op.type, q.op.name]).toEqual(["FloorDiv", "div"]);
      expect(tf.div(x, 2).op.type).toBe("RealDiv");
      return [q, tf.div(x, 2)];
    });
    expectMatches(i, tfjs.floorDiv(ta, tb));
    expectMatches(f, tfjs.div(tx, 2));
  });

  it("truediv / divide cast ints to float32; realdiv is RealDiv", () => {
    const out = run(() => tf.truediv(tf.constant([7, -7], [2], "int32"), tf.constant([2, 2], [2], "int32")));
    expect([out.dtype, out.values()]).toEqual(["float32", [3.5, -3.5]]);
    expect(run(() => tf.divide(tf.constant([1], [1]), 4)).values()).toEqual([0.25]);
    inGraph(() => expect(tf.realdiv(cst([2]), cst([2])).op.type).toBe("RealDiv"));
  });

  it("the Div op truncates ints toward zero (C++), divides floats, and broadcasts", () => {
    let [tx, ty]: tfjs.Tensor[] = [];
    const [ints, floats] = runAll(() => {
      const g = tf.getDefaultGraph();
      const [x, a1] = pair([2, 3], 3);
      const [y, a2] = pair([3], 4);
      [tx, ty] = [a1, a2];
      const a = tf.constant([7, -7, 7, -7, 0, 9], [2, 3], "int32");
      const b = tf.constant([2, 2, -2, -2, 3, 4], [2, 3], "int32");
      return [g.addOp({ type: "Div", inputs: [a, b] }).outputs[0], g.addOp({ type: "Div", inputs: [x, y] }).outputs[0]];
    });
    expect(ints.values()).toEqual([3, -3, -3, 3, 0, 2]);
    expectMatches(floats, tfjs.div(tx, ty));
  });

  it("an int Div by zero fails the run, naming the node; mixed dtypes fail to build", () => {
    const divOp = (a: tf.Tensor, b: tf.Tensor, name: string) => tf.getDefaultGraph().addOp({ type: "Div", inputs: [a, b], name }).outputs[0];
    expectInvalid(() => run(() => divOp(tf.constant([4, 2], [2], "int32"), tf.placeholder("int32", [2], "d"), "int_div"), { d: tf.ndarray([1, 0], [2], "int32") }), "int_div", "division by zero");
    expectInvalid(() => inGraph(() => divOp(cst([2]), tf.constant([1, 2], [2], "int32"), "mixed")), "mixed", "one dtype");
  });
});

describe("LeakyRelu, Softplus, Softsign", () => {
  for (const alpha of [0.2, 0.05, 1.5])
    it(`leakyRelu alpha ${alpha}`, () => {
      let t!: tfjs.Tensor;
      const out = run(() => {
        const [x, tt] = pair([3, 4], 5);
        t = tt;
        return tf.nn.leakyRelu(x, alpha);
      });
      expectMatches(out, tfjs.leakyRelu(t, alpha));
    });

  it("leakyRelu defaults alpha to 0.2 and casts int features to float32", () => {
    inGraph(() => {
      const y = tf.nn.leakyRelu(cst([2]));
      expect([y.op.type, y.op.attrs.alpha, y.op.name]).toEqual(["LeakyRelu", 0.2, "LeakyRelu"]);
    });
    const out = run(() => tf.nn.leakyRelu(tf.constant([-5, 3], [2], "int32")));
    expect([out.dtype, out.values()]).toEqual(["float32", [-1, 3]]);
  });

  it("softplus, with large and small features", () => {
    const values = [...data([10], 6), -30, -14, -13.9, 13.9, 14, 30, 0, 90];
    const out = run(() => tf.nn.softplus(tf.constant(values, [values.length])));
    expectMatches(out, tfjs.softplus(tfjs.tensor(values)));
  });

  it("softsign is x / (1 + |x|)", () => {
    const values = Float32Array.from([...data([7], 8), 0, -1e6]);
    const out = run(() => tf.nn.softsign(tf.constant(tf.ndarray(values))));
    expectClose(out.values(), Array.from(values, (v) => Math.fround(v / (1 + Math.abs(v)))));
  });

  it("reject ints and mismatched gradient shapes by node", () => {
    const g = () => tf.getDefaultGraph();
    const n = () => tf.constant([1, 2], [2], "int32");
    expectInvalid(() => inGraph(() => tf.nn.softplus(n(), "sp")), "sp", "Softplus does not accept int32");
    expectInvalid(() => inGraph(() => tf.nn.softsign(n(), "ss")), "ss", "Softsign does not accept int32");
    expectInvalid(() => inGraph(() => g().addOp({ type: "LeakyRelu", inputs: [n()], name: "lr" })), "lr", "LeakyRelu does not accept int32");
    expectInvalid(() => inGraph(() => g().addOp({ type: "LeakyReluGrad", inputs: [cst([2, 3]), cst([3, 2])], name: "lrg" })), "lrg", "differ in dimension 0");
  });
});

describe("PadV2 and MirrorPad", () => {
  const pads: [number[], [number, number][]][] = [
    [[2, 3], [[1, 0], [2, 1]]],
    [[3], [[0, 2]]],
    [[2, 1, 2], [[0, 0], [1, 1], [0, 1]]],
    [[0, 2], [[1, 1], [0, 0]]],
  ];
  for (const [shape, paddings] of pads)
    it(`PadV2 ${JSON.stringify(shape)} ${JSON.stringify(paddings)}`, () => {
      let t!: tfjs.Tensor;
      const out = run(() => {
        const [x, tt] = pair(shape, 9);
        t = tt;
        const y = tf.pad(x, paddings, "CONSTANT", undefined, -2.5);
        expect([y.op.type, y.op.name]).toEqual(["PadV2", "PadV2"]);
        return y;
      });
      expectMatches(out, tfjs.pad(t, paddings, -2.5));
    });

  it("constant 0 builds Pad; a tensor value builds PadV2; int inputs take an int value", () => {
    inGraph(() => {
      expect(tf.pad(cst([2]), [[1, 1]]).op.type).toBe("Pad");
      expect(tf.pad(cst([2]), [[1, 1]], "constant", undefined, tf.constant(0, [], "float32")).op.type).toBe("PadV2");
    });
    let t!: tfjs.Tensor;
    const out = run(() => {
      const [x, tt] = pair([2, 2], 3, "int32");
      t = tt;
      return tf.pad(x, [[0, 1], [1, 0]], "CONSTANT", undefined, 7);
    });
    expectMatches(out, tfjs.pad(t, [[0, 1], [1, 0]], 7));
  });

  const mirrors: [number[], [number, number][]][] = [
    [[3], [[2, 2]]],
    [[2, 3], [[1, 1], [2, 1]]],
    [[3, 2, 4], [[0, 2], [1, 0], [3, 2]]],
  ];
  for (const mode of ["reflect", "symmetric"] as const)
    for (const [shape, paddings] of mirrors) {
      const fits = mode === "symmetric" || paddings.every(([a, b], i) => a < shape[i] && b < shape[i]);
      if (!fits) continue;
      it(`MirrorPad ${mode} ${JSON.stringify(shape)} ${JSON.stringify(paddings)}`, () => {
        let t!: tfjs.Tensor;
        const out = run(() => {
          const [x, tt] = pair(shape, 11);
          t = tt;
          return tf.pad(x, paddings, mode.toUpperCase());
        });
        expectMatches(out, tfjs.mirrorPad(t, paddings, mode));
      });
    }

  it("MirrorPad on [1 2 3] by [2, 2]", () => {
    const x = () => tf.constant([1, 2, 3], [3], "int32");
    expect(run(() => tf.pad(x(), [[2, 2]], "REFLECT")).values()).toEqual([3, 2, 1, 2, 3, 2, 1]);
    expect(run(() => tf.pad(x(), [[2, 2]], "SYMMETRIC")).values()).toEqual([2, 1, 1, 2, 3, 3, 2]);
  });

  it("rejects bad values, modes and paddings by node", () => {
    expectInvalid(() => inGraph(() => tf.pad(cst([2, 3]), [[1, 1], [0, 0]], "CONSTANT", "p", tf.constant(1, [], "int32"))), "p", "input's dtype");
    expectInvalid(() => inGraph(() => tf.pad(cst([2, 3]), [[1, 1], [0, 0]], "CONSTANT", "p", [1, 2])), "p", "must be a scalar");
    expectInvalid(() => inGraph(() => tf.pad(cst([2, 3]), [[1, 1], [0, 3]], "REFLECT", "m")), "m", "less than the dimension");
    expectInvalid(() => inGraph(() => tf.pad(cst([2, 3]), [[1, 1], [0, 4]], "SYMMETRIC", "m")), "m", "no greater than the dimension");
    expectInvalid(() => inGraph(() => tf.pad(cst([2, 3]), [[1, 1], [0, -1]], "SYMMETRIC", "m")), "m", "non-negative");
    expectInvalid(() => inGraph(() => tf.pad(cst([2, 3]), [[1, 1], [0, 1]], "WRAP", "w")), "w", "unknown padding mode");
    const feeds = { p: tf.ndarray([3, 0, 0, 0], [2, 2], "int32") };
    expectInvalid(() => run(() => tf.pad(cst([2, 3]), tf.placeholder("int32", [2, 2], "p"), "REFLECT", "m"), feeds), "m", "less than the dimension");
  });
});

describe("Cumsum", () => {
  const cases: [number[], number, boolean, boolean][] = [
    [[5], 0, false, false],
    [[2, 3, 4], 1, false, false],
    [[2, 3, 4], -1, true, false],
    [[2, 3, 4], 0, false, true],
    [[3, 4], 1, true, true],
    [[4, 1], 0, true, true],
    [[0, 3], 1, false, false],
  ];
  for (const [shape, axis, exclusive, reverse] of cases)
    for (const dtype of ["float32", "int32"] as const)
      it(`${dtype} ${JSON.stringify(shape)} axis ${axis}${exclusive ? " exclusive" : ""}${reverse ? " reverse" : ""}`, () => {
        let t!: tfjs.Tensor;
        const out = run(() => {
          const [x, tt] = pair(shape, 13, dtype);
          t = tt;
          return tf.cumsum(x, axis, exclusive, reverse);
        });
        expectMatches(out, tfjs.cumsum(t, axis < 0 ? axis + shape.length : axis, exclusive, reverse));
      });

  it("defaults to axis 0, takes a fed axis, and names its constants like TF", () => {
    inGraph(() => {
      const y = tf.cumsum(cst([2, 3]));
      expect([y.op.name, y.op.inputs[1].op.name, y.op.attrs.exclusive, y.op.attrs.reverse, y.shape]).toEqual(["Cumsum", "Cumsum/axis", false, false, [2, 3]]);
    });
    const out = run(() => tf.cumsum(tf.constant([[1, 2], [3, 4]], [2, 2]), tf.placeholder("int32", [], "a")), { a: 1 });
    expect(out.values()).toEqual([1, 3, 3, 7]);
  });

  it("rejects bad axes and dtypes by node", () => {
    expectInvalid(() => inGraph(() => tf.cumsum(cst([2, 3]), 2, false, false, "c")), "c", "out of range");
    expectInvalid(() => inGraph(() => tf.cumsum(cst([2, 3]), [0, 1], false, false, "c")), "c", "must be a scalar");
    expectInvalid(() => inGraph(() => tf.cumsum(tf.constant([true], [1], "bool"), 0, false, false, "c")), "c", "does not accept bool");
    expectInvalid(() => inGraph(() => tf.cumsum(tf.constant(1, [], "float32"), 0, false, false, "c")), "c", "out of range");
    expectInvalid(() => run(() => tf.cumsum(cst([2, 3]), tf.placeholder("int32", [], "a"), false, false, "c"), { a: -3 }), "c", "out of range");
  });
});
