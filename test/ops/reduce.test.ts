/**
 * Reductions (Sum, Mean, Max, Min, Prod, All, Any, ArgMax, ArgMin) against tfjs-core on the CPU
 * backend; static shapes, bad-input errors, and gradients against finite differences.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { expectClose, randomData, runFresh } from "../helpers/run";
import { tfjs, tfjsReady, tfjsValues } from "../helpers/tfjs";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { checkGradients } from "../helpers/gradcheck";

beforeAll(() => tfjsReady());

type Axis = number | number[] | null | undefined;
type OurReduce = (x: tf.TensorLike, axis?: Axis, keepDims?: boolean) => tf.Tensor;
type TheirReduce = (x: tfjs.Tensor, axis?: number | number[], keepDims?: boolean) => tfjs.Tensor;

const numeric: [string, OurReduce, TheirReduce][] = [
  ["Sum", tf.reduceSum, tfjs.sum],
  ["Mean", tf.reduceMean, tfjs.mean],
  ["Max", tf.reduceMax, tfjs.max],
  ["Min", tf.reduceMin, tfjs.min],
  ["Prod", tf.reduceProd, tfjs.prod],
];

const cases: { shape: number[]; axis: Axis }[] = [
  { shape: [5], axis: undefined },
  { shape: [5], axis: 0 },
  { shape: [5], axis: -1 },
  { shape: [3, 4], axis: 0 },
  { shape: [3, 4], axis: 1 },
  { shape: [3, 4], axis: -1 },
  { shape: [3, 4], axis: [0, 1] },
  { shape: [3, 4], axis: [-1, 0] },
  { shape: [3, 4], axis: null },
  { shape: [2, 3, 4], axis: [0, 2] },
  { shape: [2, 3, 4], axis: 1 },
  { shape: [2, 3, 4], axis: [-2] },
  { shape: [2, 3, 4], axis: [2, -3, 0] },
  { shape: [2, 3, 4], axis: undefined },
  { shape: [2, 1, 3], axis: 1 },
  { shape: [1, 1], axis: [0] },
  { shape: [], axis: undefined },
];

function intData(n: number, seed: number, lo = -5, hi = 6): Int32Array {
  return Int32Array.from(randomData(n, seed, lo, hi), Math.floor);
}
const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** tfjs mishandles repeated axes, which TF accepts as one: give it each axis once. */
function theirAxis(axis: Axis, rank = 0): number | number[] | undefined {
  if (axis === null || axis === undefined) return undefined;
  if (!Array.isArray(axis)) return axis;
  return [...new Set(axis.map((a) => (a < 0 ? a + rank : a)))];
}

describe("numeric reductions match tfjs", () => {
  for (const [type, ours, theirs] of numeric)
    for (const { shape, axis } of cases)
      for (const keepDims of [false, true])
        it(`${type} float32 ${JSON.stringify(shape)} axis=${JSON.stringify(axis)} keepDims=${keepDims}`, () => {
          const lo = type === "Prod" ? 0.5 : -1;
          const data = randomData(sizeOf(shape), shape.length * 7 + 3, lo, lo + 1.5);
          const out = runFresh(() => ours(tf.constant(tf.ndarray(data, shape)), axis, keepDims));
          const expected = theirs(tfjs.tensor(data, shape, "float32"), theirAxis(axis, shape.length), keepDims);
          expect(out.dtype).toBe("float32");
          expect(out.shape).toEqual(expected.shape);
          expectClose(out.data, tfjsValues(expected), 1e-5, 1e-6);
        });

  for (const [type, ours, theirs] of numeric)
    for (const { shape, axis } of cases.filter((_, i) => i % 2 === 1))
      it(`${type} int32 ${JSON.stringify(shape)} axis=${JSON.stringify(axis)}`, () => {
        const data = type === "Prod" ? intData(sizeOf(shape), 11, -3, 4) : intData(sizeOf(shape), 5);
        const out = runFresh(() => ours(tf.constant(tf.ndarray(data, shape, "int32")), axis));
        const x = tfjs.tensor(data, shape, "int32");
        expect(out.dtype).toBe("int32");
        if (type === "Mean") {
          // TF's integer mean truncates the (integer) sum divided by the count.
          const sum = tfjs.sum(x, theirAxis(axis, shape.length));
          const count = sizeOf(shape) / Math.max(sizeOf(sum.shape), 1);
          expect(out.shape).toEqual(sum.shape);
          expect(Array.from(out.data)).toEqual(tfjsValues(sum).map((s) => Math.trunc(s / count) + 0));
        } else {
          const expected = theirs(x, theirAxis(axis, shape.length));
          expect(out.shape).toEqual(expected.shape);
          expect(Array.from(out.data)).toEqual(tfjsValues(expected));
        }
      });

  it("an empty axis list reduces nothing", () => {
    const data = randomData(6, 3);
    for (const [, ours] of numeric) {
      const out = runFresh(() => ours(tf.constant(tf.ndarray(data, [2, 3])), []));
      expect(out.shape).toEqual([2, 3]);
      expectClose(out.data, data);
    }
  });

  it("Mean of int32 truncates toward zero", () => {
    const out = runFresh(() => tf.reduceMean(tf.constant([[-7, 2], [7, 2]], [2, 2], "int32"), 1));
    expect(Array.from(out.data)).toEqual([Math.trunc(-5 / 2), Math.trunc(9 / 2)]);
  });

  it("int32 Sum and Prod wrap around like int32 arithmetic", () => {
    const big = [2147483647, 1, 2];
    const sum = runFresh(() => tf.reduceSum(tf.constant(big, [3], "int32")));
    expect(sum.scalar()).toBe((2147483647 + 1 + 2) | 0);
    const prod = runFresh(() => tf.reduceProd(tf.constant([65536, 65536, 3], [3], "int32")));
    expect(prod.scalar()).toBe(Math.imul(Math.imul(65536, 65536), 3));
  });

  it("reductions over an empty axis give the identity elements", () => {
    const x = () => tf.constant(tf.ndarray(new Float32Array(0), [0, 3]));
    expect(runFresh(() => tf.reduceSum(x(), 0)).values()).toEqual([0, 0, 0]);
    expect(runFresh(() => tf.reduceProd(x(), 0)).values()).toEqual([1, 1, 1]);
    expect(runFresh(() => tf.reduceMax(x(), 0)).values()).toEqual([-Infinity, -Infinity, -Infinity]);
    expect(runFresh(() => tf.reduceMin(x(), 0)).values()).toEqual([Infinity, Infinity, Infinity]);
    expect(runFresh(() => tf.reduceMean(x(), 0)).values().every(Number.isNaN)).toBe(true);
    expect(runFresh(() => tf.reduceSum(x(), 1)).shape).toEqual([0]);
    const xi = tf.ndarray(new Int32Array(0), [0], "int32");
    expect(runFresh(() => tf.reduceMax(tf.constant(xi))).scalar()).toBe(-2147483648);
    expect(runFresh(() => tf.reduceMin(tf.constant(xi))).scalar()).toBe(2147483647);
  });

  it("accumulates accurately over many float32 values", () => {
    const data = randomData(1 << 20, 9, 0, 1);
    let exact = 0;
    for (const v of data) exact += v;
    const out = runFresh(() => tf.reduceSum(tf.constant(tf.ndarray(data, [data.length]))));
    expect(Math.abs(out.scalar() - exact) / exact).toBeLessThan(1e-7);
  });

  it("axes may be a run-time int32 tensor", () => {
    const data = randomData(24, 4);
    const out = runFresh(
      () => tf.reduceSum(tf.constant(tf.ndarray(data, [2, 3, 4])), tf.placeholder("int32", [null], "axes")),
      { axes: tf.ndarray([-1, 0], [2], "int32") },
    );
    const expected = tfjs.sum(tfjs.tensor(data, [2, 3, 4]), [-1, 0]);
    expect(out.shape).toEqual(expected.shape);
    expectClose(out.data, tfjsValues(expected));
  });
});

describe("All and Any match tfjs", () => {
  const data = Uint8Array.from(randomData(24, 21), (v) => (v > -0.3 ? 1 : 0));
  for (const axis of [undefined, 0, -1, [0, 2], 1] as Axis[])
    for (const keepDims of [false, true])
      it(`axis=${JSON.stringify(axis)} keepDims=${keepDims}`, () => {
        const x = tfjs.tensor(data, [2, 3, 4], "bool");
        const [all, any] = runFresh(() => {
          const c = tf.constant(tf.ndarray(data, [2, 3, 4], "bool"));
          return [tf.reduceAll(c, axis, keepDims), tf.reduceAny(c, axis, keepDims)];
        });
        const eAll = tfjs.all(x, theirAxis(axis), keepDims);
        const eAny = tfjs.any(x, theirAxis(axis), keepDims);
        expect(all.dtype).toBe("bool");
        expect(all.shape).toEqual(eAll.shape);
        expect(Array.from(all.data)).toEqual(tfjsValues(eAll));
        expect(any.shape).toEqual(eAny.shape);
        expect(Array.from(any.data)).toEqual(tfjsValues(eAny));
      });
});

describe("ArgMax and ArgMin match tfjs", () => {
  for (const [shape, axis] of [[[7], 0], [[3, 4], 0], [[3, 4], 1], [[3, 4], -1], [[2, 3, 4], 1], [[2, 3, 4], -3], [[4, 1], 1]] as [number[], number][])
    for (const dtype of ["float32", "int32"] as const)
      it(`${dtype} ${JSON.stringify(shape)} axis=${axis}`, () => {
        // int32 data in a small range has ties: both pick the first index.
        const data = dtype === "int32" ? intData(sizeOf(shape), 13, 0, 3) : randomData(sizeOf(shape), 13);
        const [mx, mn] = runFresh(() => {
          const c = tf.constant(tf.ndarray(data, shape, dtype));
          return [tf.argmax(c, axis), tf.argmin(c, axis)];
        });
        const x = tfjs.tensor(data, shape, dtype);
        expect(mx.dtype).toBe("int32");
        expect(mx.shape).toEqual(tfjs.argMax(x, axis).shape);
        expect(Array.from(mx.data)).toEqual(tfjsValues(tfjs.argMax(x, axis)));
        expect(Array.from(mn.data)).toEqual(tfjsValues(tfjs.argMin(x, axis)));
      });

  it("defaults to axis 0 like TF1 and names the ops ArgMax / ArgMin", () => {
    const data = randomData(12, 2);
    const g = new tf.Graph();
    const [a, b] = g.asDefault(() => {
      const c = tf.constant(tf.ndarray(data, [3, 4]));
      return [tf.argmax(c), tf.argmin(c)];
    });
    expect(a.op.name).toBe("ArgMax");
    expect(b.op.name).toBe("ArgMin");
    expect(a.shape).toEqual([4]);
    const out = new tf.Session({ graph: g }).runSync(a);
    expect(Array.from(out.data)).toEqual(tfjsValues(tfjs.argMax(tfjs.tensor(data, [3, 4]), 0)));
  });
});

describe("static shapes and names", () => {
  it("infers shapes from constant axes, with unknown dims kept", () => {
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [null, 3, 4], "x");
      expect(tf.reduceSum(x, 1).shape).toEqual([null, 4]);
      expect(tf.reduceMean(x, [-1, 0], true).shape).toEqual([1, 3, 1]);
      expect(tf.reduceMax(x).shape).toEqual([]);
      expect(tf.reduceMin(x, undefined, true).shape).toEqual([1, 1, 1]);
      expect(tf.argmax(x, 2).shape).toEqual([null, 3]);
      const axes = tf.placeholder("int32", [1], "axes");
      expect(tf.reduceSum(x, axes, true).shape).toEqual([null, null, null]);
      expect(tf.reduceSum(x, axes).shape).toBeNull();
      expect(tf.reduceSum(tf.placeholder("float32", null, "u"), 0).shape).toBeNull();
    });
  });

  it("names ops like TF and keeps the axes in an int32 Const input", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      const s = tf.reduceSum(x, 1);
      const s2 = tf.reduceSum(x, 0);
      expect(s.op.name).toBe("Sum");
      expect(s.op.type).toBe("Sum");
      expect(s.op.inputs[1].op.name).toBe("Sum/reduction_indices");
      expect(s.op.inputs[1].dtype).toBe("int32");
      expect(s2.op.name).toBe("Sum_1");
      expect(s2.op.inputs[1].op.name).toBe("Sum_1/reduction_indices");
      expect(tf.reduceMean(x, 0).op.name).toBe("Mean");
      expect(tf.reduceMean(x, 0, true).op.attrs.keep_dims).toBe(true);
    });
  });

  it("reduces every axis of a tensor of unknown rank", () => {
    const data = randomData(6, 8);
    const out = runFresh(() => tf.reduceSum(tf.placeholder("float32", null, "u")), { u: tf.ndarray(data, [2, 3]) });
    expect(out.shape).toEqual([]);
    expectClose(out.data, tfjsValues(tfjs.sum(tfjs.tensor(data, [2, 3]))));
    const kept = runFresh(() => tf.reduceMax(tf.placeholder("float32", null, "u"), null, true), { u: tf.ndarray(data, [2, 3]) });
    expect(kept.shape).toEqual([1, 1]);
    expectClose(kept.data, tfjsValues(tfjs.max(tfjs.tensor(data, [2, 3]))));
  });
});

describe("BroadcastTo", () => {
  for (const [from, to] of [[[3], [2, 3]], [[2, 1], [2, 4]], [[1, 3, 1], [2, 3, 5]], [[], [2, 2]], [[2, 3], [2, 3]]])
    it(`${JSON.stringify(from)} -> ${JSON.stringify(to)} matches tfjs`, () => {
      const data = randomData(sizeOf(from), 17);
      const out = runFresh(() => tf.broadcastTo(tf.constant(tf.ndarray(data, from)), to));
      const expected = tfjs.broadcastTo(tfjs.tensor(data, from), to);
      expect(out.shape).toEqual(expected.shape);
      expectClose(out.data, tfjsValues(expected));
    });

  it("takes a run-time shape, and rejects shapes it cannot broadcast to", () => {
    const out = runFresh(() => tf.broadcastTo(tf.constant([[1], [2]], [2, 1], "int32"), tf.placeholder("int32", [2], "s")), {
      s: tf.ndarray([2, 3], [2], "int32"),
    });
    expect(out.shape).toEqual([2, 3]);
    expect(out.values()).toEqual([1, 1, 1, 2, 2, 2]);
    expect(runFresh(() => tf.broadcastTo(tf.constant([5]), [0, 3])).shape).toEqual([0, 3]);
    const bad = () => new tf.Graph().asDefault(() => tf.broadcastTo(tf.constant([1, 2, 3]), [3, 2], "bt"));
    expect(bad).toThrow(tf.errors.InvalidArgumentError);
    expect(bad).toThrow(/^bt: BroadcastTo cannot broadcast shape \[3\] to \[3,2\]/);
    const badRun = () => runFresh(() => tf.broadcastTo(tf.constant([1, 2, 3]), tf.placeholder("int32", [1], "s"), "bt"), { s: tf.ndarray([2], [1], "int32") });
    expect(badRun).toThrow(/^bt: BroadcastTo cannot broadcast/);
  });

  it("its gradient sums over the broadcast dimensions", () => {
    checkGradients(() => {
      const x = tf.placeholder("float32", [3, 1], "x");
      return { y: tf.broadcastTo(x, [2, 3, 4]), xs: [x] };
    }, { x: Array.from(randomData(3, 2)) });
  });
});

describe("bad input", () => {
  const inGraph = (fn: () => unknown) => () => new tf.Graph().asDefault(fn);

  it("rejects a constant axis out of range, naming the node", () => {
    const build = inGraph(() => tf.reduceSum(tf.placeholder("float32", [2, 3], "x"), 2, false, "total"));
    expect(build).toThrow(tf.errors.InvalidArgumentError);
    expect(build).toThrow(/total.*axis 2 is out of range.*expected an axis in \[-2, 2\).*received 2/);
    expect(inGraph(() => tf.reduceMax(tf.placeholder("float32", [2, 3], "x"), [-3]))).toThrow(/Max.*out of range/);
    expect(inGraph(() => tf.argmax(tf.placeholder("float32", [2, 3], "x"), 5))).toThrow(/ArgMax.*out of range/);
  });

  it("rejects a run-time axis out of range, naming the node", () => {
    const run = () =>
      runFresh(() => tf.reduceMean(tf.constant([[1, 2]]), tf.placeholder("int32", [1], "axes"), false, "avg"), {
        axes: tf.ndarray([3], [1], "int32"),
      });
    expect(run).toThrow(tf.errors.InvalidArgumentError);
    expect(run).toThrow(/avg.*axis 3 is out of range/);
  });

  it("rejects wrong dtypes", () => {
    expect(inGraph(() => tf.reduceSum(tf.constant([true, false]), 0))).toThrow(/Sum does not accept bool/);
    expect(inGraph(() => tf.reduceAll(tf.constant([1, 2]), 0))).toThrow(/All does not accept float32/);
    expect(inGraph(() => tf.reduceSum(tf.constant([1, 2]), tf.constant([0])))).toThrow(/reduction_indices of Sum must be an int32/);
    expect(inGraph(() => tf.argmax(tf.constant([true]), 0))).toThrow(tf.errors.InvalidArgumentError);
  });

  it("rejects axes of rank 2 and an ArgMax over an empty axis", () => {
    const axes = () => tf.constant(tf.ndarray([0], [1, 1], "int32"));
    expect(inGraph(() => tf.reduceSum(tf.constant([1, 2]), axes()))).toThrow(/scalar or a vector/);
    const run = () => runFresh(() => tf.argmax(tf.constant(tf.ndarray(new Float32Array(0), [0, 2])), 0));
    expect(run).toThrow(/ArgMax.*empty/);
  });
});

describe("gradients", () => {
  const feed = (n: number, seed: number) => Array.from(randomData(n, seed));

  for (const [axis, keepDims] of [[undefined, false], [0, false], [-1, true], [[0, 2], false], [[1], true]] as [Axis, boolean][]) {
    it(`Sum and Mean, axis=${JSON.stringify(axis)} keepDims=${keepDims}`, () => {
      checkGradients(() => {
        const x = tf.placeholder("float32", [2, 3, 4], "x");
        return { y: tf.reduceSum(x, axis, keepDims), xs: [x] };
      }, { x: feed(24, 1) });
      checkGradients(() => {
        const x = tf.placeholder("float32", [2, 3, 4], "x");
        return { y: tf.reduceMean(x, axis, keepDims), xs: [x] };
      }, { x: feed(24, 2) });
    });
  }

  it("Sum and Mean with an unknown batch dimension (shapes read at run time)", () => {
    checkGradients(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      return { y: tf.reduceMean(x, 0), xs: [x] };
    }, { x: feed(15, 3) });
    checkGradients(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      return { y: tf.reduceSum(tf.mul(tf.reduceSum(x, [1], true), tf.reduceMean(x)), 0), xs: [x] };
    }, { x: feed(12, 4) });
  });

  for (const [name, fn] of [["Max", tf.reduceMax], ["Min", tf.reduceMin]] as [string, OurReduce][])
    for (const [axis, keepDims] of [[1, false], [[0, 2], true], [undefined, false]] as [Axis, boolean][])
      it(`${name}, axis=${JSON.stringify(axis)} keepDims=${keepDims}`, () => {
        checkGradients(() => {
          const x = tf.placeholder("float32", [2, 3, 4], "x");
          return { y: fn(x, axis, keepDims), xs: [x] };
        }, { x: feed(24, 5) });
      });

  it("Max splits the gradient evenly among ties, like TF", () => {
    const rows = [[1, 3, 3], [2, 2, 2], [0, -1, 5]];
    const dy = [0.5, 3, -2];
    const [grad] = runFresh(() => {
      const x = tf.constant(rows);
      return tf.gradients(tf.reduceMax(x, 1), [x], tf.constant(dy)) as tf.Tensor[];
    });
    const expected = rows.flatMap((r, i) => {
      const m = Math.max(...r);
      const ties = r.filter((v) => v === m).length;
      return r.map((v) => (v === m ? dy[i] / ties : 0));
    });
    expectClose(grad.data, expected);
  });

  it("Prod has no gradient rule yet: differentiating it is a clear error", () => {
    const build = () =>
      new tf.Graph().asDefault(() => {
        const x = tf.placeholder("float32", [3], "x");
        return tf.gradients(tf.reduceProd(x), [x]);
      });
    expect(build).toThrow(/no gradient is defined for op type Prod \(`Prod`\)/);
  });

  it("matches tfjs for Sum, Mean with keepDims", () => {
    const data = randomData(12, 6);
    const dyData = randomData(3, 7);
    const [gs, gm] = runFresh(() => {
      const x = tf.constant(tf.ndarray(data, [3, 4]));
      const dy = tf.constant(tf.ndarray(dyData, [3, 1]));
      return [...tf.gradients(tf.reduceSum(x, -1, true), [x], dy), ...tf.gradients(tf.reduceMean(x, -1, true), [x], dy)] as tf.Tensor[];
    });
    const x = tfjs.tensor(data, [3, 4]);
    const dy = tfjs.tensor(dyData, [3, 1]);
    expectClose(gs.data, tfjsValues(tfjs.grad((t: tfjs.Tensor) => tfjs.sum(t, -1, true))(x, dy)));
    expectClose(gm.data, tfjsValues(tfjs.grad((t: tfjs.Tensor) => tfjs.mean(t, -1, true))(x, dy)));
  });
});
