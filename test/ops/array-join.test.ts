/**
 * Array ops, part 2: ConcatV2, Pack / Unpack, Split / SplitV, Tile, GatherV2,
 * UnsortedSegmentSum, OneHot, SelectV2 — values against tfjs-core (CPU), static shapes with
 * unknown dims, and bad-input errors naming the node.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { tfjs, tfjsReady } from "../helpers/tfjs";
import { cst, data, expectInvalid, expectMatches, inGraph, ints, pair, run, runAll } from "./array-helpers";

beforeAll(() => tfjsReady());

describe("ConcatV2", () => {
  const cases: [number[][], number][] = [
    [[[2, 3], [1, 3]], 0],
    [[[2, 3], [2, 1], [2, 4]], 1],
    [[[2, 3], [2, 2]], -1],
    [[[2, 3, 2], [2, 1, 2], [2, 2, 2]], 1],
    [[[2, 3, 2], [2, 3, 1]], 2],
    [[[0, 3], [2, 3]], 0],
    [[[4], [0], [2]], 0],
  ];
  for (const [shapes, axis] of cases)
    for (const dtype of ["float32", "int32"] as const)
      it(`${dtype} ${JSON.stringify(shapes)} axis=${axis}`, () => {
        let theirs!: tfjs.Tensor;
        const out = run(() => {
          const pairs = shapes.map((s, i) => pair(s, i + 1, dtype));
          theirs = tfjs.concat(pairs.map((p) => p[1]), axis);
          return tf.concat(pairs.map((p) => p[0]), axis);
        });
        expectMatches(out, theirs);
      });

  it("concatenates bool tensors and literals, and one value is an Identity", () => {
    const out = run(() => tf.concat([tf.constant([true, false]), [true]], 0));
    expect(out.toArray()).toEqual([true, false, true]);
    inGraph(() => {
      const x = cst([2, 3]);
      const y = tf.concat([x], 0);
      expect([y.op.type, y.op.name, y.shape]).toEqual(["Identity", "concat", [2, 3]]);
      const z = tf.concat([x, x], 1);
      expect([z.op.type, z.op.attrs.N, z.op.inputs[2].op.name]).toEqual(["ConcatV2", 2, "concat_1/axis"]);
    });
  });

  it("infers static shapes with unknown dims", () => {
    inGraph(() => {
      const p = tf.placeholder("float32", [null, 3]);
      const c = cst([2, 3]);
      expect(tf.concat([p, c], 0).shape).toEqual([null, 3]);
      expect(tf.concat([p, c], 1).shape).toEqual([2, 6]);
      expect(tf.concat([c, c, c], -2).shape).toEqual([6, 3]);
      expect(tf.concat([tf.placeholder("float32", null), c], 0).shape).toEqual([null, 3]);
      expect(tf.concat([p, c], tf.placeholder("int32", [])).shape).toEqual([null, null]);
    });
    const out = run(() => tf.concat([tf.placeholder("float32", [null, 3], "x"), cst([2, 3])], 0), { x: tf.ndarray(data([4, 3]), [4, 3]) });
    expect(out.shape).toEqual([6, 3]);
  });

  it("rejects mismatched ranks, dims, dtypes and axes", () => {
    expectInvalid(() => inGraph(() => tf.concat([cst([2, 3]), cst([2])], 0)), "concat", "rank");
    const e = expectInvalid(() => inGraph(() => tf.concat([cst([2, 3]), cst([3, 3])], 1)), "concat", "dimension 0");
    expect([e.diagnostic.expected, e.diagnostic.received]).toEqual(["2", "3"]);
    expectInvalid(() => inGraph(() => tf.concat([cst([2]), tf.constant([1, 2], [2], "int32")], 0)), "concat", "dtype");
    expectInvalid(() => inGraph(() => tf.concat([cst([2]), cst([2])], 1)), "concat", "out of range");
    expectInvalid(() => inGraph(() => tf.concat([], 0, "c")), "c", "at least one");
    const feeds = { x: tf.ndarray(data([4, 3]), [4, 3]) };
    expectInvalid(() => run(() => tf.concat([tf.placeholder("float32", [null, 3], "x"), cst([2, 3])], 1, "cat"), feeds), "cat", "dimension 0");
  });
});

describe("Pack, Unpack, Split", () => {
  for (const axis of [0, 1, 2, -1, -3])
    it(`stack three [2,3] along ${axis}`, () => {
      let theirs!: tfjs.Tensor;
      const out = run(() => {
        const pairs = [1, 2, 3].map((s) => pair([2, 3], s));
        theirs = tfjs.stack(pairs.map((p) => p[1]), axis);
        return tf.stack(pairs.map((p) => p[0]), axis);
      });
      expectMatches(out, theirs);
    });

  for (const axis of [0, 1, -1])
    it(`unstack [2,3,4] along ${axis}`, () => {
      let theirs!: tfjs.Tensor[];
      const outs = runAll(() => {
        const [x, t] = pair([2, 3, 4], 5, "int32");
        theirs = tfjs.unstack(t, axis);
        return tf.unstack(x, { axis });
      });
      expect(outs.length).toBe(theirs.length);
      outs.forEach((o, i) => expectMatches(o, theirs[i]));
    });

  const splits: [number[], number | number[], number][] = [
    [[2, 6], 3, 1],
    [[6, 2], [1, -1, 2], 0],
    [[2, 3, 4], [2, 2], -1],
    [[4], 1, 0],
    [[2, 5], [0, 5], 1],
  ];
  for (const [shape, how, axis] of splits)
    it(`split ${JSON.stringify(shape)} by ${JSON.stringify(how)} along ${axis}`, () => {
      let theirs!: tfjs.Tensor[];
      const outs = runAll(() => {
        const [x, t] = pair(shape, 8);
        theirs = tfjs.split(t, how, axis);
        return tf.split(x, how, axis);
      });
      expect(outs.length).toBe(theirs.length);
      outs.forEach((o, i) => expectMatches(o, theirs[i]));
    });

  it("infers static shapes and types of the ops", () => {
    inGraph(() => {
      const p = tf.placeholder("float32", [null, 3]);
      const s = tf.stack([p, cst([2, 3])], 1);
      expect([s.op.type, s.op.name, s.op.attrs.N, s.shape]).toEqual(["Pack", "stack", 2, [2, 2, 3]]);
      const parts = tf.unstack(p, { axis: 1 });
      expect(parts.map((t) => t.shape)).toEqual([[null], [null], [null]]);
      expect(parts[0].op.type).toBe("Unpack");
      const [a, b] = tf.split(p, 2, 0);
      expect([a.op.type, a.shape, b.shape]).toEqual(["Split", [null, 3], [null, 3]]);
      const [c, d] = tf.split(p, [1, -1], 1);
      expect([c.op.type, c.shape, d.shape]).toEqual(["SplitV", [null, 1], [null, 2]]);
    });
  });

  it("rejects mismatched values and bad counts", () => {
    expectInvalid(() => inGraph(() => tf.stack([cst([2, 3]), cst([3, 2])])), "stack", "dimension 0");
    expectInvalid(() => inGraph(() => tf.stack([cst([2]), cst([2])], 2)), "stack", "out of range");
    expectInvalid(() => inGraph(() => tf.unstack(cst([2, 3]), { num: 3 })), "unstack", "num");
    expectInvalid(() => inGraph(() => tf.unstack(tf.placeholder("float32", [null, 3]))), "unstack", "cannot infer num");
    const e = expectInvalid(() => inGraph(() => tf.split(cst([2, 5]), 2, 1)), "split", "5 into 2");
    expect(e.diagnostic.received).toBe("5");
    expectInvalid(() => inGraph(() => tf.split(cst([2, 5]), [2, 2], 1)), "split", "[2,2]");
    expectInvalid(() => inGraph(() => tf.split(cst([2, 5]), [-1, -1], 1)), "split", "[-1,-1]");
    const feeds = { x: tf.ndarray(data([3, 2]), [3, 2]) };
    expectInvalid(() => runAll(() => tf.split(tf.placeholder("float32", [null, 2], "x"), 2, 0, "sp"), feeds), "sp", "3 into 2");
  });
});

describe("Tile", () => {
  const cases: [number[], number[]][] = [
    [[2, 3], [2, 2]],
    [[3], [0]],
    [[1, 2, 1], [2, 1, 3]],
    [[2, 2], [1, 1]],
    [[], []],
  ];
  for (const [shape, multiples] of cases)
    it(`${JSON.stringify(shape)} x ${JSON.stringify(multiples)}`, () => {
      let theirs!: tfjs.Tensor;
      const out = run(() => {
        const [x, t] = pair(shape, 4, "int32");
        theirs = tfjs.tile(t, multiples);
        return tf.tile(x, multiples);
      });
      expectMatches(out, theirs);
    });

  it("infers static shapes and rejects bad multiples", () => {
    inGraph(() => {
      const p = tf.placeholder("float32", [null, 3]);
      expect(tf.tile(p, [2, 2]).shape).toEqual([null, 6]);
      expect(tf.tile(p, [0, 2]).shape).toEqual([0, 6]);
      expect(tf.tile(p, tf.placeholder("int32", [2])).shape).toEqual([null, null]);
    });
    expectInvalid(() => inGraph(() => tf.tile(cst([2, 3]), [2])), "Tile", "multiples");
    expectInvalid(() => inGraph(() => tf.tile(cst([2, 3]), [2, -1])), "Tile", "[2,-1]");
  });
});

describe("GatherV2 and UnsortedSegmentSum", () => {
  const cases: [number[], number[], number[], number][] = [
    [[5, 3], [4, 0, 2, 2], [4], 0],
    [[2, 5, 3], [1, 2, 0, 4], [2, 2], 1],
    [[2, 5, 3], [2, 0], [2], -1],
    [[4], [3], [], 0],
    [[3, 2], [], [0], 0],
  ];
  for (const [shape, indices, indicesShape, axis] of cases)
    for (const dtype of ["float32", "int32"] as const)
      it(`${dtype} params ${JSON.stringify(shape)} indices ${JSON.stringify(indices)} axis=${axis}`, () => {
        let theirs!: tfjs.Tensor;
        const out = run(() => {
          const [x, t] = pair(shape, 2, dtype);
          theirs = tfjs.gather(t, tfjs.tensor(indices, indicesShape, "int32"), axis);
          return tf.gather(x, tf.constant(indices, indicesShape, "int32"), axis);
        });
        expectMatches(out, theirs);
      });

  it("infers static shapes and fails on out-of-range indices, naming the node", () => {
    inGraph(() => {
      const p = tf.placeholder("float32", [null, 3]);
      expect(tf.gather(p, [4, 1]).shape).toEqual([2, 3]);
      expect(tf.gather(p, tf.placeholder("int32", [null, 2]), 1).shape).toEqual([null, null, 2]);
      expect(tf.gather(p, [0], tf.placeholder("int32", [])).shape).toEqual([null, null]);
    });
    const e = expectInvalid(() => run(() => tf.gather(cst([5, 3]), [1, 5], 0, "g")), "g", "indices[1] = 5 is not in [0, 5)");
    expect(e.diagnostic.received).toBe("5");
    expectInvalid(() => run(() => tf.gather(cst([5, 3]), [-1])), "GatherV2", "not in [0, 5)");
    expectInvalid(() => inGraph(() => tf.gather(cst([5, 3]), [0], 2)), "GatherV2", "out of range");
    expectInvalid(() => inGraph(() => tf.gather(cst([5, 3]), tf.constant([0.5]))), "GatherV2", "int32");
  });

  it("UnsortedSegmentSum matches tfjs and drops negative ids", () => {
    const values = data([5, 3]);
    const ids = [0, 2, 0, 1, 2];
    const theirs = tfjs.unsortedSegmentSum(tfjs.tensor(values, [5, 3]), tfjs.tensor(ids, [5], "int32"), 4);
    expectMatches(run(() => tf.unsortedSegmentSum(tf.constant(tf.ndarray(values, [5, 3])), tf.constant(ids, [5], "int32"), 4)), theirs);
    const dropped = run(() => tf.unsortedSegmentSum(tf.constant([1, 2, 4], [3], "int32"), tf.constant([1, -1, 1], [3], "int32"), 2));
    expect(dropped.values()).toEqual([0, 5]);
    inGraph(() => expect(tf.unsortedSegmentSum(tf.placeholder("float32", [null, 3]), tf.placeholder("int32", [null]), 7).shape).toEqual([7, 3]));
    expectInvalid(() => run(() => tf.unsortedSegmentSum(cst([2]), tf.constant([0, 2], [2], "int32"), 2)), "UnsortedSegmentSum", "out of range [0, 2)");
    expectInvalid(() => inGraph(() => tf.unsortedSegmentSum(cst([2, 3]), tf.constant([0, 1, 1], [3], "int32"), 2)), "UnsortedSegmentSum", "dimension 0");
  });
});

describe("OneHot", () => {
  it("matches tfjs; out-of-range and negative indices give all-off rows", () => {
    const indices = [0, 2, -1, 3, 1, 7];
    const theirs = tfjs.oneHot(tfjs.tensor(indices, [6], "int32"), 4, 5, -1, "float32");
    const out = run(() => tf.oneHot(tf.constant(indices, [6], "int32"), 4, { onValue: 5, offValue: -1 }));
    expectMatches(out, theirs);
    const rows = out.toArray() as number[][];
    expect(rows[2]).toEqual([-1, -1, -1, -1]);
    expect(rows[5]).toEqual([-1, -1, -1, -1]);
  });

  it("supports int32 and bool dtypes and the axis attribute", () => {
    const idx = ints([2, 3], 3).map((v) => Math.abs(v) % 4);
    const theirs = tfjs.oneHot(tfjs.tensor(idx, [2, 3], "int32"), 4);
    const [a, b, c] = runAll(() => {
      const i = tf.constant(tf.ndarray(idx, [2, 3], "int32"));
      return [tf.oneHot(i, 4, { dtype: "int32" }), tf.oneHot(i, 4, { axis: 0 }), tf.oneHot(i, 4, { axis: 1, onValue: true, offValue: false })];
    });
    expectMatches(a, theirs);
    expectMatches(b, tfjs.cast(tfjs.transpose(theirs, [2, 0, 1]), "float32"));
    expectMatches(c, tfjs.cast(tfjs.transpose(theirs, [0, 2, 1]), "bool"));
  });

  it("infers static shapes and rejects bad inputs", () => {
    inGraph(() => {
      const i = tf.placeholder("int32", [null]);
      const y = tf.oneHot(i, 4);
      expect([y.shape, y.dtype, y.op.name, y.op.inputs[2].op.name]).toEqual([[null, 4], "float32", "one_hot", "one_hot/on_value"]);
      expect(tf.oneHot(i, tf.placeholder("int32", [])).shape).toEqual([null, null]);
      expect(tf.oneHot(i, 3, { axis: 0 }).shape).toEqual([3, null]);
    });
    expectInvalid(() => inGraph(() => tf.oneHot(tf.constant([1], [1], "int32"), 3, { axis: 2 })), "one_hot", "axis 2");
    expectInvalid(() => inGraph(() => tf.oneHot(tf.constant([1], [1], "int32"), -1)), "one_hot", "non-negative");
    expectInvalid(() => inGraph(() => tf.oneHot(tf.constant([1], [1], "int32"), 3, { onValue: tf.constant(1, [], "int32"), offValue: tf.constant(0, [], "float32") })), "one_hot", "dtype");
  });
});

describe("SelectV2 (tf.where)", () => {
  const cases: [number[], number[], number[]][] = [
    [[2, 3], [2, 3], [2, 3]],
    [[2, 1], [1, 3], []],
    [[3], [2, 3], [2, 1]],
    [[], [2, 2], [2, 2]],
  ];
  for (const [cs, xs, ys] of cases)
    it(`cond ${JSON.stringify(cs)} x ${JSON.stringify(xs)} y ${JSON.stringify(ys)}`, () => {
      const c = data(cs, 11).map((v) => (v > 0 ? 1 : 0));
      let theirs!: tfjs.Tensor;
      const out = run(() => {
        const [x, tx] = pair(xs, 1);
        const [y, ty] = pair(ys, 2);
        theirs = tfjs.where(tfjs.tensor(c, cs, "bool"), tx, ty);
        return tf.where(tf.constant(tf.ndarray(c, cs, "bool")), x, y);
      });
      expectMatches(out, theirs);
    });

  it("selects int32 and bool, converts literals, and infers static shapes", () => {
    const [a, b] = runAll(() => {
      const c = tf.constant([true, false, true]);
      return [tf.where(c, tf.constant([1, 2, 3], [3], "int32"), 0), tf.where(c, false, tf.constant([true, true, false]))];
    });
    expect([a.dtype, a.values()]).toEqual(["int32", [1, 0, 3]]);
    expect(b.toArray()).toEqual([false, true, false]);
    inGraph(() => {
      const c = tf.placeholder("bool", [null, 1]);
      expect(tf.where(c, tf.placeholder("float32", [1, 4]), 0).shape).toEqual([null, 4]);
      expect(tf.where(c, tf.placeholder("float32", null), 0).shape).toBeNull();
    });
  });

  it("rejects a non-bool condition, mismatched dtypes and shapes", () => {
    expectInvalid(() => inGraph(() => tf.where(tf.constant([1, 0], [2], "int32"), cst([2]), cst([2]))), "SelectV2", "bool");
    expectInvalid(() => inGraph(() => tf.where(tf.constant([true]), cst([1]), tf.constant([1], [1], "int32"))), "SelectV2", "dtype");
    expectInvalid(() => inGraph(() => tf.where(tf.constant([true, false]), cst([3]), 0)), "SelectV2", "broadcast");
    const feeds = { c: tf.ndarray([true, false, true], [3], "bool") };
    expectInvalid(() => run(() => tf.where(tf.placeholder("bool", [null], "c"), cst([2]), 0, "w"), feeds), "w", "broadcast");
  });
});
