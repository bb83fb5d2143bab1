/**
 * MatMul and BatchMatMulV2 against tfjs-core on the CPU backend: transposes, int32, batch
 * broadcasting, size-1 and empty dims, static shapes, errors, and gradients.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { expectClose, randomData, runFresh } from "../helpers/run";
import { tfjs, tfjsReady, tfjsValues } from "../helpers/tfjs";
import { checkGradients } from "../helpers/gradcheck";

beforeAll(() => tfjsReady());

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);
/** The stored shape of an operand whose last two dims are [rows, cols] after an optional transpose. */
const stored = (shape: number[], t: boolean) => (t ? [...shape.slice(0, -2), shape[shape.length - 1], shape[shape.length - 2]] : shape);

/** A plain numpy-semantics reference: batch dims broadcast, then a triple loop per batch. */
function naiveMatmul(a: ArrayLike<number>, as: number[], b: ArrayLike<number>, bs: number[], ta: boolean, tb: boolean): { shape: number[]; data: number[] } {
  const ba = as.slice(0, -2);
  const bb = bs.slice(0, -2);
  const rank = Math.max(ba.length, bb.length);
  const pa = [...new Array(rank - ba.length).fill(1), ...ba];
  const pb = [...new Array(rank - bb.length).fill(1), ...bb];
  const batch = pa.map((d, i) => (d === 1 ? pb[i] : d));
  const [ra, ca] = as.slice(-2);
  const [rb, cb] = bs.slice(-2);
  const m = ta ? ca : ra;
  const k = ta ? ra : ca;
  const n = tb ? rb : cb;
  const data: number[] = [];
  const flat = (idx: number[], dims: number[]) => idx.reduce((acc, v, i) => acc * dims[i] + (dims[i] === 1 ? 0 : v), 0);
  for (let t = 0; t < sizeOf(batch); t++) {
    const idx: number[] = [];
    let r = t;
    for (let d = rank - 1; d >= 0; d--) {
      idx[d] = r % batch[d];
      r = Math.floor(r / batch[d]);
    }
    const offA = flat(idx, pa) * ra * ca;
    const offB = flat(idx, pb) * rb * cb;
    for (let i = 0; i < m; i++)
      for (let j = 0; j < n; j++) {
        let sum = 0;
        for (let p = 0; p < k; p++) sum += a[offA + (ta ? p * ca + i : i * ca + p)] * b[offB + (tb ? j * cb + p : p * cb + j)];
        data.push(sum);
      }
  }
  return { shape: [...batch, m, n], data };
}

function compare(aShape: number[], bShape: number[], ta: boolean, tb: boolean, dtype: "float32" | "int32" = "float32", seed = 1): tf.NDArray {
  const as = stored(aShape, ta);
  const bs = stored(bShape, tb);
  const gen = (n: number, s: number) => (dtype === "int32" ? Int32Array.from(randomData(n, s, -9, 10), Math.floor) : randomData(n, s));
  const a = gen(sizeOf(as), seed);
  const b = gen(sizeOf(bs), seed + 100);
  const out = runFresh(() => tf.matmul(tf.constant(tf.ndarray(a, as, dtype)), tf.constant(tf.ndarray(b, bs, dtype)), { transposeA: ta, transposeB: tb }));
  expect(out.dtype).toBe(dtype);
  // tfjs-core gets broadcasting across ranks and empty batches wrong: use the plain loop there.
  const tfjsAgrees = as.length === bs.length && as.slice(0, -2).every((d, i) => d === bs[i] && d > 0);
  const expected = tfjsAgrees
    ? (() => {
        const e = tfjs.matMul(tfjs.tensor(a, as, dtype), tfjs.tensor(b, bs, dtype), ta, tb);
        return { shape: e.shape, data: tfjsValues(e) };
      })()
    : naiveMatmul(a, as, b, bs, ta, tb);
  expect(out.shape).toEqual(expected.shape);
  if (dtype === "int32") expect(Array.from(out.data)).toEqual(expected.data);
  else expectClose(out.data, expected.data, 1e-5, 1e-5);
  return out;
}

describe("MatMul matches tfjs", () => {
  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]])
    for (const [a, b] of [[[3, 4], [4, 5]], [[1, 7], [7, 1]], [[6, 1], [1, 2]], [[16, 33], [33, 9]]])
      it(`${JSON.stringify(a)}·${JSON.stringify(b)} transposeA=${ta} transposeB=${tb}`, () => compare(a, b, ta, tb));

  it("int32 operands", () => {
    for (const [ta, tb] of [[false, false], [true, true]]) compare([4, 3], [3, 5], ta, tb, "int32");
  });

  it("empty dimensions", () => {
    expect(compare([0, 4], [4, 3], false, false).shape).toEqual([0, 3]);
    const zeros = compare([3, 0], [0, 2], false, false);
    expect(zeros.values()).toEqual([0, 0, 0, 0, 0, 0]);
  });

  it("builds MatMul named like TF, with TF's attrs", () => {
    new tf.Graph().asDefault(() => {
      const a = tf.placeholder("float32", [null, 4], "a");
      const w = tf.placeholder("float32", [4, 5], "w");
      const y = tf.matmul(a, w);
      expect(y.op.type).toBe("MatMul");
      expect(y.op.name).toBe("MatMul");
      expect(y.shape).toEqual([null, 5]);
      const z = tf.matmul(w, a, { transposeA: true, transposeB: true });
      expect(z.op.name).toBe("MatMul_1");
      expect(z.op.attrs).toMatchObject({ transpose_a: true, transpose_b: true });
      expect(z.shape).toEqual([5, null]);
      expect(tf.matmul(a, w, "logits").op.name).toBe("logits");
      expect(tf.matmul(a, tf.placeholder("float32", null, "u")).op.type).toBe("BatchMatMulV2");
    });
  });

  it("uses float64 accumulation: a long dot product is accurate", () => {
    const n = 1 << 16;
    const a = randomData(n, 3, 0, 1);
    const b = randomData(n, 4, 0, 1);
    let exact = 0;
    for (let i = 0; i < n; i++) exact += a[i] * b[i];
    const out = runFresh(() => tf.matmul(tf.constant(tf.ndarray(a, [1, n])), tf.constant(tf.ndarray(b, [n, 1]))));
    expect(Math.abs(out.scalar() - exact) / exact).toBeLessThan(1e-7);
  });
});

describe("BatchMatMulV2 matches tfjs", () => {
  const cases: [number[], number[]][] = [
    [[2, 3, 4], [2, 4, 5]],
    [[3, 4], [2, 4, 5]],
    [[2, 3, 4], [4, 5]],
    [[1, 3, 4], [6, 4, 2]],
    [[2, 1, 3, 4], [5, 4, 2]],
    [[2, 1, 3, 4], [1, 5, 4, 2]],
    [[1, 1, 2], [3, 2, 1]],
  ];
  for (const [ta, tb] of [[false, false], [true, false], [false, true], [true, true]])
    for (const [a, b] of cases)
      it(`${JSON.stringify(a)}·${JSON.stringify(b)} adj_x=${ta} adj_y=${tb}`, () => compare(a, b, ta, tb, "float32", a.length * 10 + b.length));

  it("int32 batches and empty batches", () => {
    compare([2, 3, 4], [1, 4, 2], false, true, "int32");
    expect(compare([0, 3, 4], [4, 2], false, false).shape).toEqual([0, 3, 2]);
  });

  it("infers broadcast batch shapes statically and names the op MatMul", () => {
    new tf.Graph().asDefault(() => {
      const a = tf.placeholder("float32", [null, 1, 3, 4], "a");
      const b = tf.placeholder("float32", [5, 4, 2], "b");
      const y = tf.matmul(a, b);
      expect(y.op.type).toBe("BatchMatMulV2");
      expect(y.op.name).toBe("MatMul");
      expect(y.shape).toEqual([null, 5, 3, 2]);
      const z = tf.matmul(a, tf.placeholder("float32", [2, 4], "c"), { adjointB: true });
      expect(z.op.attrs).toMatchObject({ adj_x: false, adj_y: true });
      expect(z.shape).toEqual([null, 1, 3, 2]);
    });
  });

  it("runs with fed batch dims", () => {
    const a = randomData(2 * 3 * 4, 5);
    const b = randomData(4 * 2, 6);
    const out = runFresh(() => tf.matmul(tf.placeholder("float32", [null, 3, 4], "a"), tf.constant(tf.ndarray(b, [4, 2]))), {
      a: tf.ndarray(a, [2, 3, 4]),
    });
    const expected = tfjs.matMul(tfjs.tensor(a, [2, 3, 4]), tfjs.tensor(b, [4, 2]));
    expect(out.shape).toEqual([2, 3, 2]);
    expectClose(out.data, tfjsValues(expected));
  });
});

describe("bad input", () => {
  const inGraph = (fn: () => unknown) => () => new tf.Graph().asDefault(fn);

  it("rejects an inner-dimension mismatch, naming the node with expected and received", () => {
    const build = inGraph(() => tf.matmul(tf.placeholder("float32", [2, 3], "a"), tf.placeholder("float32", [4, 5], "b"), "dense"));
    expect(build).toThrow(tf.errors.InvalidArgumentError);
    expect(build).toThrow(/^dense: MatMul: the inner dimensions of \[2,3\] and \[4,5\] differ \(expected .* 3, received 4\)/);
    const transposed = inGraph(() => tf.matmul(tf.placeholder("float32", [2, 3], "a"), tf.placeholder("float32", [2, 3], "b"), { transposeB: true, transposeA: true }));
    expect(transposed).toThrow(/MatMul: the inner dimensions .*expected .* 2, received 3/);
    const batched = inGraph(() => tf.matmul(tf.placeholder("float32", [7, 2, 3], "a"), tf.placeholder("float32", [7, 4, 5], "b")));
    expect(batched).toThrow(/^MatMul: BatchMatMulV2: the inner dimensions/);
  });

  it("rejects a mismatch that only shows at run time, naming the node", () => {
    const run = () =>
      runFresh(() => tf.matmul(tf.placeholder("float32", [null, null], "a"), tf.placeholder("float32", [null, 5], "b"), "proj"), {
        a: tf.ndarray(randomData(6, 1), [2, 3]),
        b: tf.ndarray(randomData(20, 2), [4, 5]),
      });
    expect(run).toThrow(tf.errors.InvalidArgumentError);
    expect(run).toThrow(/^proj: MatMul: the inner dimensions .*expected .*3, received 4/);
  });

  it("rejects incompatible batch dims, wrong ranks and mixed dtypes", () => {
    expect(inGraph(() => tf.matmul(tf.placeholder("float32", [2, 3, 4], "a"), tf.placeholder("float32", [3, 4, 5], "b")))).toThrow(
      /MatMul: shapes \[2\] and \[3\] cannot be broadcast/,
    );
    expect(inGraph(() => tf.matmul(tf.placeholder("float32", [3], "a"), tf.placeholder("float32", [3, 2], "b")))).toThrow(
      /MatMul: input 0 of MatMul must be a matrix.*expected rank 2, received rank 1/,
    );
    expect(inGraph(() => tf.matmul(tf.placeholder("float32", [2, 3], "a"), tf.placeholder("int32", [3, 2], "b")))).toThrow(
      /MatMul needs both operands of one dtype.*expected float32, received int32/,
    );
    expect(inGraph(() => tf.matmul(tf.placeholder("bool", [2, 2], "a"), tf.placeholder("bool", [2, 2], "b")))).toThrow(tf.errors.InvalidArgumentError);
  });
});

describe("gradients", () => {
  const feed = (n: number, seed: number) => Array.from(randomData(n, seed));

  for (const [ta, tb] of [[false, false], [false, true], [true, false], [true, true]])
    it(`MatMul transposeA=${ta} transposeB=${tb}`, () => {
      checkGradients(() => {
        const a = tf.placeholder("float32", stored([3, 4], ta), "a");
        const b = tf.placeholder("float32", stored([4, 2], tb), "b");
        return { y: tf.matmul(a, b, { transposeA: ta, transposeB: tb }), xs: [a, b] };
      }, { a: feed(12, 1), b: feed(8, 2) });
    });

  for (const [ta, tb] of [[false, false], [true, true], [true, false], [false, true]])
    it(`BatchMatMulV2 with broadcast batch dims adj_x=${ta} adj_y=${tb}`, () => {
      checkGradients(() => {
        const a = tf.placeholder("float32", stored([2, 1, 3, 4], ta), "a");
        const b = tf.placeholder("float32", stored([5, 4, 2], tb), "b");
        const y = tf.matmul(a, b, { adjointA: ta, adjointB: tb });
        return { y, xs: [a, b] };
      }, { a: feed(24, 3), b: feed(40, 4) });
    });

  it("BatchMatMulV2 gradients have the input shapes and match tfjs", () => {
    const a = randomData(12, 5);
    const b = randomData(2 * 4 * 2, 6);
    const dy = randomData(2 * 3 * 2, 7);
    const [da, db] = runFresh(() => {
      const ta = tf.constant(tf.ndarray(a, [3, 4]));
      const tb = tf.constant(tf.ndarray(b, [2, 4, 2]));
      return tf.gradients(tf.matmul(ta, tb), [ta, tb], tf.constant(tf.ndarray(dy, [2, 3, 2]))) as tf.Tensor[];
    });
    // dA sums dy·Bᵀ over the batch A was broadcast along; dB[t] = Aᵀ·dy[t].
    const tdy = tfjs.tensor(dy, [2, 3, 2]);
    const ea = tfjs.sum(tfjs.matMul(tdy, tfjs.tensor(b, [2, 4, 2]), false, true), 0);
    const eb = tfjs.matMul(tfjs.tile(tfjs.tensor(a, [1, 3, 4]), [2, 1, 1]), tdy, true, false);
    expect(da.shape).toEqual([3, 4]);
    expect(db.shape).toEqual([2, 4, 2]);
    expectClose(da.data, tfjsValues(ea));
    expectClose(db.data, tfjsValues(eb));
  });

  it("MatMul gradients with an unknown batch dimension", () => {
    checkGradients(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const w = tf.placeholder("float32", [3, 2], "w");
      return { y: tf.reduceSum(tf.matmul(x, w), 0), xs: [x, w] };
    }, { x: feed(12, 8), w: feed(6, 9) });
  });
});
