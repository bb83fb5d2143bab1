/**
 * The js backend's op emitters against the interpreter: products, reductions, softmax and
 * cross entropy, data movement and variable updates, on random inputs with odd and empty sizes.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { randomData } from "../helpers/run";
import { compare } from "./js-helpers";

const nd = (shape: number[], seed: number, lo = -1, hi = 1) => tf.ndarray(randomData(shape.reduce((a, b) => a * b, 1), seed, lo, hi), shape);

describe("MatMul and BatchMatMulV2", () => {
  for (const [m, k, n] of [[5, 7, 3], [1, 1, 1], [9, 16, 13], [4, 0, 3], [0, 3, 2], [2, 5, 0]])
    for (const ta of [false, true])
      for (const tb of [false, true])
        it(`[${m}x${k}]·[${k}x${n}] transposeA=${ta} transposeB=${tb}`, () => {
          const a = ta ? [k, m] : [m, k];
          const b = tb ? [n, k] : [k, n];
          compare(() => tf.matmul(tf.placeholder("float32", a, "a"), tf.placeholder("float32", b, "b"), { transposeA: ta, transposeB: tb }), {
            feeds: { a: nd(a, 1), b: nd(b, 2) },
            emits: m * n > 0 ? ["MatMul"] : [],
          });
        });
  it("int32 products wrap like the reference", () => {
    const a = tf.ndarray(Int32Array.from([70000, -3, 2, 65536, 1, 9]), [2, 3], "int32");
    const b = tf.ndarray(Int32Array.from([70000, 1, -4, 65536, 5, 2]), [3, 2], "int32");
    compare(() => tf.matmul(tf.placeholder("int32", [2, 3], "a"), tf.placeholder("int32", [3, 2], "b")), { feeds: { a, b }, emits: ["MatMul"] });
  });
  it("batched, with broadcast batch dimensions and adjoints", () => {
    compare(
      () => {
        const a = tf.placeholder("float32", [2, 1, 3, 4], "a");
        return [tf.matmul(a, tf.placeholder("float32", [3, 4, 5], "b")), tf.matmul(a, tf.placeholder("float32", [3, 6, 3], "c"), { adjointA: true, adjointB: true })];
      },
      { feeds: { a: nd([2, 1, 3, 4], 1), b: nd([3, 4, 5], 2), c: nd([3, 6, 3], 3) }, emits: ["BatchMatMulV2"] },
    );
  });
});

describe("reductions", () => {
  const x = nd([3, 4, 5], 7, -2, 2);
  for (const type of ["reduceSum", "reduceMean", "reduceMax", "reduceMin", "reduceProd"] as const)
    for (const axis of [undefined, 0, 1, -1, [0, 2], [1, 2]] as (number | number[] | undefined)[])
      for (const keepDims of [false, true])
        it(`${type} axis=${JSON.stringify(axis)} keepDims=${keepDims}`, () => {
          compare(() => tf[type](tf.placeholder("float32", [3, 4, 5], "x"), axis, keepDims), { feeds: { x } });
        });
  it("int32 and bool reductions, and empty inputs", () => {
    const xi = tf.ndarray(Int32Array.from([5, -3, 7, 2, 0, -9]), [2, 3], "int32");
    const xb = tf.ndarray([[true, false, true], [true, true, true]]);
    compare(
      () => {
        const i = tf.placeholder("int32", [2, 3], "i");
        const b = tf.placeholder("bool", [2, 3], "b");
        const e = tf.placeholder("float32", [0, 3], "e");
        return [tf.reduceSum(i, 1), tf.reduceMean(i, 0), tf.reduceMax(i), tf.reduceMin(i, 1), tf.reduceProd(i, 0), tf.reduceAll(b, 1), tf.reduceAny(b, 0), tf.reduceSum(e, 0), tf.reduceMax(e, 0), tf.reduceMean(e, 1)];
      },
      { feeds: { i: xi, b: xb, e: tf.ndarray(new Float32Array(0), [0, 3]) }, emits: ["Sum", "Mean", "Max", "Min", "Prod", "All", "Any"] },
    );
  });
  it("ArgMax and ArgMin", () => {
    compare(
      () => {
        const p = tf.placeholder("float32", [3, 4, 5], "x");
        return [tf.argmax(p, 1), tf.argmin(p, -1)];
      },
      { feeds: { x }, emits: ["ArgMax", "ArgMin"] },
    );
  });
  it("gradients of broadcasts (SumToShape) and of BiasAdd (BiasAddGrad), NHWC and NCHW", () => {
    compare(
      () => {
        const a = tf.placeholder("float32", [4, 1, 5], "a");
        const b = tf.placeholder("float32", [3, 1], "b");
        const y = tf.mul(tf.add(a, b), tf.placeholder("float32", [4, 3, 5], "c"));
        const v = tf.placeholder("float32", [2, 3, 4, 5], "v");
        const bias = tf.constant(randomData(3, 1));
        const z = tf.square(tf.nn.biasAdd(v, bias, "NCHW"));
        return [...tf.gradients(tf.reduceSum(y), [a, b]), ...tf.gradients(tf.reduceSum(z), [bias])];
      },
      { feeds: { a: nd([4, 1, 5], 1), b: nd([3, 1], 2), c: nd([4, 3, 5], 3), v: nd([2, 3, 4, 5], 4) }, emits: ["SumToShape", "BiasAddGrad"] },
    );
  });
});

describe("softmax and cross entropy", () => {
  it("Softmax and LogSoftmax over the last axis", () => {
    compare(() => [tf.nn.softmax(tf.placeholder("float32", [3, 2, 7], "x")), tf.nn.logSoftmax(tf.identity(tf.getDefaultGraph().getTensorByName("x:0")))], {
      feeds: { x: nd([3, 2, 7], 3, -20, 20) },
      emits: ["Softmax", "LogSoftmax"],
    });
  });
  it("both cross-entropy ops, losses and gradients", () => {
    const labels = tf.ndarray(Int32Array.from([0, 4, 2, 2, 1]), [5], "int32");
    compare(
      () => {
        const logits = tf.placeholder("float32", [5, 6], "logits");
        const dense = tf.nn.softmaxCrossEntropyWithLogitsV2({ labels: tf.nn.softmax(tf.placeholder("float32", [5, 6], "p")), logits });
        const sparse = tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder("int32", [5], "y"), logits });
        return [dense, sparse, ...tf.gradients(tf.add(tf.reduceSum(dense), tf.reduceSum(sparse)), [logits])];
      },
      { feeds: { logits: nd([5, 6], 1, -3, 3), p: nd([5, 6], 2), y: labels }, emits: ["SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits"] },
    );
  });
  it("a label out of range is an InvalidArgumentError naming the op", () => {
    const g = new tf.Graph();
    const loss = g.asDefault(() => tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: tf.placeholder("int32", [2], "y"), logits: tf.placeholder("float32", [2, 3], "x") }));
    const sess = new tf.Session({ graph: g, backend: "js" });
    const run = () => sess.runSync(loss, { x: nd([2, 3], 1), y: tf.ndarray(Int32Array.from([1, 3]), [2], "int32") });
    expect(run).toThrow(tf.errors.InvalidArgumentError);
    expect(run).toThrow(/SparseSoftmaxCrossEntropyWithLogits: received a label value of 3 which is outside the valid range of \[0, 3\)/);
    expect(sess.js!.lastFallback).toBeNull();
  });
});

describe("data movement", () => {
  it("Transpose, Slice, ConcatV2, Pack, Tile, Pad", () => {
    compare(
      () => {
        const x = tf.placeholder("float32", [2, 3, 4], "x");
        return [
          tf.transpose(x, [2, 0, 1]),
          tf.transpose(x),
          tf.slice(x, [1, 0, 1], [1, -1, 2]),
          tf.concat([x, tf.mul(x, 2)], -1),
          tf.concat([x, x, tf.neg(x)], 1),
          tf.stack([x, x], 1),
          tf.tile(x, [2, 1, 3]),
          tf.pad(x, [[1, 0], [0, 2], [1, 1]]),
        ];
      },
      { feeds: { x: nd([2, 3, 4], 5) }, emits: ["Transpose", "Slice", "ConcatV2", "Pack", "Tile", "Pad"] },
    );
  });
  it("Split, SplitV, Unpack, GatherV2, OneHot", () => {
    compare(
      () => {
        const x = tf.placeholder("float32", [4, 6], "x");
        const idx = tf.placeholder("int32", [3], "i");
        return [...tf.split(x, 3, 1), ...tf.split(x, [1, 3], 0), ...tf.unstack(x, { axis: 1 }), tf.gather(x, idx, 1), tf.gather(x, idx), tf.oneHot(idx, 5)];
      },
      { feeds: { x: nd([4, 6], 2), i: tf.ndarray(Int32Array.from([3, 0, 2]), [3], "int32") }, emits: ["Split", "SplitV", "Unpack", "GatherV2", "OneHot"] },
    );
  });
  it("a gather index out of range is an InvalidArgumentError naming the op", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => tf.gather(tf.placeholder("float32", [4], "x"), tf.placeholder("int32", [2], "i"), 0, "g"));
    const sess = new tf.Session({ graph: g, backend: "js" });
    expect(() => sess.runSync(y, { x: [1, 2, 3, 4], i: Int32Array.from([1, 7]) })).toThrow(/g: indices\[1\] = 7 is not in \[0, 4\)/);
  });
});

describe("variable updates", () => {
  it("Assign, AssignAdd, AssignSub write the variable; reads after them see the update", () => {
    compare(() => {
      const v = tf.getVariable("v", [3], { initializer: tf.initializers.constant([1, 2, 3]) });
      const w = tf.getVariable("w", [2, 2], { initializer: tf.initializers.constant([1, 2, 3, 4]) });
      const a = tf.assignAdd(v, tf.constant([10, 20, 30]));
      const after = tf.controlDependencies([a.op], () => tf.mul(v, 2));
      const s = tf.assignSub(w, tf.constant([1, 1, 1, 1], [2, 2]));
      const b = tf.assign(w, tf.add(s, 5));
      return [a, after, b, tf.identity(b)];
    });
  });
  it("two updates of one variable in one run: each output keeps its own value", () => {
    compare(() => {
      const v = tf.getVariable("v", [2], { initializer: tf.initializers.constant([1, 2]) });
      const first = tf.assignAdd(v, tf.constant([1, 1]));
      const second = tf.controlDependencies([first.op], () => tf.assignAdd(v, tf.constant([10, 10])));
      return [tf.mul(first, 1), second];
    });
  });
});
