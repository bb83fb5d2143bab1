/**
 * Array ops, part 1: Reshape, Transpose, Slice, Pad, Squeeze, ExpandDims, Cast, Fill, ZerosLike,
 * OnesLike, Shape — values against tfjs-core on the CPU backend, static shape inference (with
 * unknown dims), and every bad input's error. Part 2 is array-join.test.ts, gradients are in
 * array-gradients.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { expectClose } from "../helpers/run";
import { tfjs, tfjsReady } from "../helpers/tfjs";
import { cst, data, expectInvalid, expectMatches, inGraph, pair, run, runAll } from "./array-helpers";

beforeAll(() => tfjsReady());

describe("Reshape", () => {
  const cases: [number[], number[]][] = [
    [[2, 3, 4], [4, 6]],
    [[2, 3, 4], [-1, 4]],
    [[2, 3, 4], [24]],
    [[6], [2, 1, 3]],
    [[6], [3, -1, 1]],
    [[1], []],
    [[], [1, 1]],
    [[0, 3], [3, -1]],
  ];
  for (const [from, to] of cases)
    for (const dtype of ["float32", "int32"] as const)
      it(`${dtype} ${JSON.stringify(from)} -> ${JSON.stringify(to)}`, () => {
        let theirs!: tfjs.Tensor;
        const out = run(() => {
          const [x, t] = pair(from, 3, dtype);
          theirs = tfjs.reshape(t, to);
          return tf.reshape(x, to);
        });
        expectMatches(out, theirs);
      });

  it("reshapes bool tensors", () => {
    const out = run(() => tf.reshape(tf.constant([true, false, true, true]), [2, 2]));
    expect(out.toArray()).toEqual([[true, false], [true, true]]);
  });

  it("infers static shapes from a constant shape, with unknown dims", () => {
    inGraph(() => {
      const x = tf.placeholder("float32", [null, 4], "x");
      expect(tf.reshape(x, [-1, 2]).shape).toEqual([null, 2]);
      expect(tf.reshape(x, [2, -1]).shape).toEqual([2, null]);
      expect(tf.reshape(x, [8, 4]).shape).toEqual([8, 4]);
      expect(tf.reshape(cst([3, 4]), [-1, 6]).shape).toEqual([2, 6]);
      expect(tf.reshape(tf.placeholder("float32", null), [3, -1]).shape).toEqual([3, null]);
      expect(tf.reshape(x, tf.placeholder("int32", [3], "s")).shape).toEqual([null, null, null]);
      expect(tf.reshape(x, tf.placeholder("int32", null, "s2")).shape).toBeNull();
    });
  });

  it("names ops and their Consts like TF, under name scopes", () => {
    inGraph(() => {
      const x = cst([2, 3]);
      const a = tf.reshape(x, [3, 2]);
      const b = tf.nameScope("block", () => tf.reshape(x, [6]));
      const c = tf.reshape(x, [-1]);
      expect([a.op.name, a.op.inputs[1].op.name]).toEqual(["Reshape", "Reshape/shape"]);
      expect([b.op.name, b.op.inputs[1].op.name]).toEqual(["block/Reshape", "block/Reshape/shape"]);
      expect([c.op.name, c.op.inputs[1].op.name, c.op.inputs[1].dtype]).toEqual(["Reshape_1", "Reshape_1/shape", "int32"]);
      expect(tf.reshape(x, [6], "flat").op.name).toBe("flat");
    });
  });

  it("runs with an unknown dim fed", () => {
    const out = run(() => tf.reshape(tf.placeholder("float32", [null, 4], "x"), [-1, 2]), { x: tf.ndarray(data([3, 4]), [3, 4]) });
    expect(out.shape).toEqual([6, 2]);
    expectClose(out.values(), Array.from(data([3, 4])));
  });

  it("names the node, the expected and the received size on a bad shape", () => {
    const e = expectInvalid(() => inGraph(() => tf.reshape(cst([2, 3]), [4, 2])), "Reshape", "6 elements", "[4,2]");
    expect(e.diagnostic.expected).toContain("6 elements");
    expect(e.diagnostic.received).toContain("8 elements");
    expectInvalid(() => inGraph(() => tf.reshape(cst([2, 3]), [4, -1], "flat")), "flat", "not a multiple of 4");
    expectInvalid(() => inGraph(() => tf.reshape(cst([2, 3]), [-1, -1])), "Reshape", "at most one -1");
    expectInvalid(() => inGraph(() => tf.reshape(cst([2, 3]), [-2, 3])), "Reshape", "-2");
    expectInvalid(() => inGraph(() => tf.reshape(tf.placeholder("float32", [null, 4]), [3, 3])), "Reshape", "multiple of 4");
    expectInvalid(() => inGraph(() => tf.reshape(cst([2, 3]), tf.placeholder("float32", [2]))), "Reshape", "int32");
  });

  it("fails at run time when a fed shape does not fit, naming the node", () => {
    expectInvalid(() => run(() => tf.reshape(tf.placeholder("float32", [null, 4], "x"), [5, -1], "r"), { x: tf.ndarray(data([3, 4]), [3, 4]) }), "r", "12 elements");
  });
});

describe("Transpose", () => {
  const cases: [number[], number[] | undefined][] = [
    [[2, 3], undefined],
    [[2, 3, 4], undefined],
    [[2, 3, 4], [1, 0, 2]],
    [[2, 3, 4], [2, 0, 1]],
    [[1, 2, 1, 3], [3, 1, 0, 2]],
    [[0, 3], undefined],
    [[5], [0]],
  ];
  for (const [shape, perm] of cases)
    it(`${JSON.stringify(shape)} perm=${JSON.stringify(perm)}`, () => {
      let theirs!: tfjs.Tensor;
      const out = run(() => {
        const [x, t] = pair(shape, 5);
        theirs = tfjs.transpose(t, perm);
        return tf.transpose(x, perm);
      });
      expectMatches(out, theirs);
    });

  it("transposes int32 and infers static shapes", () => {
    let theirs!: tfjs.Tensor;
    const out = run(() => {
      const [x, t] = pair([3, 2], 2, "int32");
      theirs = tfjs.transpose(t);
      return tf.transpose(x);
    });
    expectMatches(out, theirs);
    inGraph(() => {
      const x = tf.placeholder("float32", [null, 3, 5]);
      expect(tf.transpose(x).op.name).toBe("transpose");
      expect(tf.transpose(x).op.inputs[1].op.name).toBe("transpose_1/perm");
      expect(tf.transpose(x, [2, 0, 1]).shape).toEqual([5, null, 3]);
      expect(tf.transpose(x).shape).toEqual([5, 3, null]);
      expect(tf.transpose(x, tf.placeholder("int32", [3])).shape).toEqual([null, null, null]);
    });
  });

  it("rejects a perm that is not a permutation", () => {
    expectInvalid(() => inGraph(() => tf.transpose(cst([2, 3]), [0, 0])), "transpose", "permutation");
    expectInvalid(() => inGraph(() => tf.transpose(cst([2, 3]), [1, 0, 2])), "transpose", "[1,0,2]");
    expectInvalid(() => inGraph(() => tf.transpose(cst([2, 3]), [-1, 0])), "transpose", "permutation");
    expectInvalid(() => inGraph(() => tf.transpose(tf.placeholder("float32", null), undefined, "t")), "t", "rank");
  });
});

describe("Slice and Pad", () => {
  const slices: [number[], number[], number[]][] = [
    [[4, 5], [1, 2], [2, -1]],
    [[2, 3, 4], [0, 1, 1], [-1, 1, 2]],
    [[3], [3], [0]],
    [[2, 3], [0, 0], [2, 3]],
    [[2, 3], [1, 2], [1, 1]],
  ];
  for (const [shape, begin, size] of slices)
    it(`Slice ${JSON.stringify(shape)} begin=${JSON.stringify(begin)} size=${JSON.stringify(size)}`, () => {
      let theirs!: tfjs.Tensor;
      const out = run(() => {
        const [x, t] = pair(shape, 7);
        theirs = tfjs.slice(t, begin, size);
        return tf.slice(x, begin, size);
      });
      expectMatches(out, theirs);
    });

  const pads: [number[], [number, number][]][] = [
    [[2, 3], [[1, 0], [2, 1]]],
    [[3], [[0, 2]]],
    [[2, 1, 2], [[0, 0], [1, 1], [0, 1]]],
    [[0, 2], [[1, 1], [0, 0]]],
  ];
  for (const [shape, paddings] of pads)
    it(`Pad ${JSON.stringify(shape)} ${JSON.stringify(paddings)}`, () => {
      let theirs!: tfjs.Tensor;
      const out = run(() => {
        const [x, t] = pair(shape, 9, "int32");
        theirs = tfjs.pad(t, paddings);
        return tf.pad(x, paddings);
      });
      expectMatches(out, theirs);
    });

  it("infers static shapes with unknown dims", () => {
    inGraph(() => {
      const x = tf.placeholder("float32", [null, 5]);
      expect(tf.slice(x, [0, 1], [-1, 2]).shape).toEqual([null, 2]);
      expect(tf.slice(x, [1, 1], [2, -1]).shape).toEqual([2, 4]);
      expect(tf.slice(x, tf.placeholder("int32", [2]), [2, -1]).shape).toEqual([2, null]);
      expect(tf.pad(x, [[1, 1], [0, 2]]).shape).toEqual([null, 7]);
      expect(tf.pad(x, tf.placeholder("int32", [2, 2])).shape).toEqual([null, null]);
    });
  });

  it("rejects out-of-bounds slices, statically and at run time", () => {
    expectInvalid(() => inGraph(() => tf.slice(cst([2, 3]), [1, 1], [2, 1])), "Slice", "out of bounds", "begin 1, size 2");
    expectInvalid(() => inGraph(() => tf.slice(cst([2, 3]), [-1, 0], [1, 1])), "Slice", "out of bounds");
    expectInvalid(() => inGraph(() => tf.slice(cst([2, 3]), [0, 4], [1, -1])), "Slice", "out of bounds");
    expectInvalid(() => inGraph(() => tf.slice(cst([2, 3]), [0], [1])), "Slice", "one entry per dimension");
    const feeds = { x: tf.ndarray(data([3, 5]), [3, 5]) };
    expectInvalid(() => run(() => tf.slice(tf.placeholder("float32", [null, 5], "x"), [2, 0], [2, -1], "s"), feeds), "s", "out of bounds");
  });

  it("rejects bad paddings", () => {
    expectInvalid(() => inGraph(() => tf.pad(cst([2, 3]), [[1, -1], [0, 0]])), "Pad", "non-negative");
    expectInvalid(() => inGraph(() => tf.pad(cst([2, 3]), [[1, 1]])), "Pad", "[rank, 2]");
    expectInvalid(() => inGraph(() => tf.pad(cst([2, 3]), [1, 1])), "Pad", "[rank, 2]");
  });
});

describe("Squeeze and ExpandDims", () => {
  const squeezes: [number[], number | number[] | undefined][] = [
    [[1, 3, 1, 2], undefined],
    [[1, 3, 1, 2], [0]],
    [[1, 3, 1, 2], -2],
    [[1, 1], [0, 1]],
    [[3], undefined],
  ];
  for (const [shape, axis] of squeezes)
    it(`Squeeze ${JSON.stringify(shape)} axis=${JSON.stringify(axis)}`, () => {
      let theirs!: tfjs.Tensor;
      const out = run(() => {
        const [x, t] = pair(shape, 4);
        theirs = tfjs.squeeze(t, typeof axis === "number" ? [axis] : axis);
        return tf.squeeze(x, axis);
      });
      expectMatches(out, theirs);
    });

  for (const axis of [0, 1, 2, -1, -3])
    it(`ExpandDims [2,3] axis=${axis}`, () => {
      let theirs!: tfjs.Tensor;
      const out = run(() => {
        const [x, t] = pair([2, 3], 6, "int32");
        theirs = tfjs.expandDims(t, axis);
        return tf.expandDims(x, axis);
      });
      expectMatches(out, theirs);
    });

  it("infers static shapes with unknown dims", () => {
    inGraph(() => {
      const x = tf.placeholder("float32", [null, 1, 3]);
      expect(tf.squeeze(x).shape).toBeNull(); // an unknown dim might be 1, as in TF
      expect(tf.squeeze(x, 1).shape).toEqual([null, 3]);
      expect(tf.squeeze(x, [0, 1]).shape).toEqual([3]);
      expect(tf.expandDims(x, 1).shape).toEqual([null, 1, 1, 3]);
      expect(tf.expandDims(x, -1).shape).toEqual([null, 1, 3, 1]);
      expect(tf.expandDims(x, tf.placeholder("int32", [])).shape).toEqual([null, null, null, null]);
    });
    const out = run(() => tf.squeeze(tf.placeholder("float32", [null, 1, 3], "x"), [0, 1]), { x: tf.ndarray(data([1, 1, 3]), [1, 1, 3]) });
    expect(out.shape).toEqual([3]);
  });

  it("rejects squeezing a dimension that is not 1, and axes out of range", () => {
    const e = expectInvalid(() => inGraph(() => tf.squeeze(cst([1, 3]), 1)), "Squeeze", "dimension 1", "size is 3");
    expect(e.diagnostic.received).toBe("3");
    expectInvalid(() => inGraph(() => tf.squeeze(cst([1, 3]), 2)), "Squeeze", "out of range");
    expectInvalid(() => inGraph(() => tf.expandDims(cst([2, 3]), 3)), "ExpandDims", "out of range");
    expectInvalid(() => inGraph(() => tf.expandDims(cst([2, 3]), -4)), "ExpandDims", "out of range");
    expectInvalid(() => inGraph(() => tf.expandDims(cst([2, 3]), [0, 1])), "ExpandDims", "scalar");
    const feeds = { x: tf.ndarray(data([2, 1, 3]), [2, 1, 3]) };
    expectInvalid(() => run(() => tf.squeeze(tf.placeholder("float32", [null, 1, 3], "x"), 0, "sq"), feeds), "sq", "size is 2");
  });
});

describe("Cast", () => {
  const values = [-2.5, -1.7, -0.5, 0, 0.5, 0.99, 2.9, 3];
  for (const [from, to] of [
    ["float32", "int32"],
    ["float32", "bool"],
    ["int32", "float32"],
    ["int32", "bool"],
    ["bool", "float32"],
    ["bool", "int32"],
  ] as const)
    it(`${from} -> ${to}`, () => {
      const src = from === "bool" ? values.map((v) => (v > 0 ? 1 : 0)) : values;
      let theirs!: tfjs.Tensor;
      const out = run(() => {
        theirs = tfjs.cast(tfjs.tensor(src, [2, 4], from), to);
        return tf.cast(tf.constant(tf.ndarray(src, [2, 4], from)), to);
      });
      expectMatches(out, theirs);
    });

  it("truncates toward zero like TF and keeps the static shape", () => {
    const out = run(() => tf.cast(tf.constant([-1.7, 1.7, -0.2]), "int32"));
    expect(out.values()).toEqual([-1, 1, 0]);
    inGraph(() => {
      const x = tf.placeholder("float32", [null, 3]);
      const y = tf.cast(x, "bool");
      expect([y.shape, y.dtype, y.op.type, y.op.attrs.SrcT, y.op.attrs.DstT]).toEqual([[null, 3], "bool", "Cast", "float32", "bool"]);
      expect(tf.cast(x, "float32")).toBe(x);
    });
  });

  it("rejects unknown dtypes and a SrcT that does not match", () => {
    expectInvalid(() => inGraph(() => tf.cast(tf.constant([1]), "float64" as tf.DType)), "Cast", "float64");
    expectInvalid(
      () => inGraph(() => tf.getDefaultGraph().addOp({ type: "Cast", name: "c", inputs: [tf.constant([1])], attrs: { SrcT: "int32", DstT: "bool" } })),
      "c",
      "SrcT",
    );
  });
});

describe("Fill, ZerosLike, OnesLike, Shape", () => {
  it("match tfjs", () => {
    const theirs = [tfjs.fill([2, 3], 5), tfjs.fill([4], 3, "int32"), tfjs.zerosLike(tfjs.tensor([[1, 2]], [1, 2], "int32")), tfjs.onesLike(tfjs.tensor([1.5, 2, 3]))];
    const ours = runAll(() => [
      tf.fill([2, 3], 5),
      tf.fill([4], tf.constant(3, [], "int32")),
      tf.zerosLike(tf.constant([[1, 2]], [1, 2], "int32")),
      tf.onesLike(tf.constant([1.5, 2, 3])),
    ]);
    ours.forEach((o, i) => expectMatches(o, theirs[i]));
  });

  it("fills bool and empty tensors, and ones/zeros of bool", () => {
    const [a, b, c, d] = runAll(() => [tf.fill([2], true), tf.fill([0, 3], 1), tf.onesLike(tf.constant([false, true])), tf.zerosLike(tf.constant([true]))]);
    expect([a.dtype, a.toArray()]).toEqual(["bool", [true, true]]);
    expect(b.shape).toEqual([0, 3]);
    expect(c.toArray()).toEqual([true, true]);
    expect(d.toArray()).toEqual([false]);
  });

  it("Shape is a Const for a static shape and an op for unknown dims", () => {
    inGraph(() => {
      const s = tf.shape(cst([2, 3]));
      expect([s.op.type, s.shape, s.dtype]).toEqual(["Const", [2], "int32"]);
      const u = tf.shape(tf.placeholder("float32", [null, 3]));
      expect([u.op.type, u.shape, u.dtype]).toEqual(["Shape", [2], "int32"]);
      expect(tf.shape(tf.placeholder("float32", null)).shape).toEqual([null]);
      expect(tf.unstack([[1, 2], [3, 4], [5, 6]]).length).toBe(3);
      expect(tf.fill(tf.placeholder("int32", [2]), 1).shape).toEqual([null, null]);
      expect(tf.fill(u, 1).shape).toEqual([null, null]);
      expect(tf.zerosLike(tf.placeholder("float32", [null, 3])).shape).toEqual([null, 3]);
    });
    const out = run(() => tf.shape(tf.placeholder("float32", [null, 3], "x")), { x: tf.ndarray(data([5, 3]), [5, 3]) });
    expect([out.dtype, out.values()]).toEqual(["int32", [5, 3]]);
    const ones = run(() => tf.onesLike(tf.placeholder("float32", [null, 3], "x")), { x: tf.ndarray(data([2, 3]), [2, 3]) });
    expect(ones.values()).toEqual([1, 1, 1, 1, 1, 1]);
  });

  it("rejects negative dims and non-scalar values", () => {
    expectInvalid(() => inGraph(() => tf.fill([2, -1], 0)), "Fill", "non-negative");
    expectInvalid(() => inGraph(() => tf.fill([2], [1, 2])), "Fill", "scalar");
    expectInvalid(() => inGraph(() => tf.fill([[2]], 1)), "Fill", "vector");
  });
});
