/**
 * The AllReduce op (ir/ops/collective.ts): reference kernel against tfjs-core (addN, maximum),
 * shape/dtype inference and its errors, the gradient rule against finite differences, and a
 * GraphDef round trip.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { allReduce } from "../../ir/ops/collective";
import { checkGradients } from "../helpers/gradcheck";
import { expectClose, randomData } from "../helpers/run";
import { tfjs, tfjsReady, tfjsValues } from "../helpers/tfjs";

beforeAll(() => tfjsReady());

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function runOutputs(build: () => tf.Tensor[], feeds?: Record<string, tf.FeedValue>): tf.NDArray[] {
  const g = new tf.Graph();
  const out = g.asDefault(build);
  return new tf.Session({ graph: g }).runSync(out, feeds) as tf.NDArray[];
}

/** tfjs's value of the reduction over `values`. */
function oracle(reduction: "sum" | "mean" | "max", values: Float32Array[], shape: number[]): number[] {
  const ts = values.map((v) => tfjs.tensor(v, shape));
  let r: tfjs.Tensor;
  if (reduction === "max") r = ts.reduce((a, b) => tfjs.maximum(a, b));
  else r = tfjs.addN(ts);
  if (reduction === "mean") r = tfjs.div(r, tfjs.scalar(values.length));
  return tfjsValues(r);
}

describe("AllReduce reference kernel matches tfjs", () => {
  const shapes = [[], [1], [5], [2, 3], [2, 1, 4], [0, 3]];
  for (const reduction of ["sum", "mean", "max"] as const)
    for (const n of [1, 2, 4])
      for (const shape of shapes)
        it(`${reduction}, ${n} replica(s), shape [${shape}]`, () => {
          const values = Array.from({ length: n }, (_, i) => randomData(sizeOf(shape), 10 * n + i + 1, -3, 3));
          const outs = runOutputs(() => allReduce(values.map((v) => tf.constant(v, shape)), { reduction }));
          expect(outs.length).toBe(n);
          const expected = oracle(reduction, values, shape);
          for (const o of outs) {
            expect(o.shape).toEqual(shape);
            expect(o.dtype).toBe("float32");
            expectClose(o.data, expected, 1e-6, 1e-6);
          }
        });

  it("sums int32 values", () => {
    const a = Int32Array.of(1, -2, 3);
    const b = Int32Array.of(10, 20, -30);
    const outs = runOutputs(() => allReduce([tf.constant(a, [3], "int32"), tf.constant(b, [3], "int32")]));
    expect(outs[0].dtype).toBe("int32");
    expect(Array.from(outs[1].data)).toEqual(Array.from(tfjs.add(tfjs.tensor(a, [3], "int32"), tfjs.tensor(b, [3], "int32")).dataSync()));
  });

  it("gives each replica its own output tensor of one op", () => {
    const g = new tf.Graph();
    const outs = g.asDefault(() => allReduce([tf.constant([1, 2]), tf.constant([3, 4]), tf.constant([5, 6])]));
    expect(new Set(outs.map((o) => o.op)).size).toBe(1);
    expect(outs.map((o) => o.index)).toEqual([0, 1, 2]);
    expect(outs[0].op.type).toBe("AllReduce");
    expect(outs[0].op.attrs.N).toBe(3);
    expect(outs[0].op.attrs.reduction).toBe("sum");
  });
});

describe("AllReduce shape and dtype inference", () => {
  it("merges partially known shapes", () => {
    const g = new tf.Graph();
    const outs = g.asDefault(() => allReduce([tf.placeholder("float32", [null, 3]), tf.placeholder("float32", [2, null]), tf.placeholder("float32", null)]));
    for (const o of outs) expect(o.shape).toEqual([2, 3]);
  });

  const errorCases: [string, () => tf.Tensor[], RegExp][] = [
    ["dtypes differ", () => allReduce([tf.constant([1, 2]), tf.constant(Int32Array.of(1, 2), [2], "int32")], { name: "mixed" }), /mixed: .*dtype/],
    ["shapes differ", () => allReduce([tf.constant([1, 2]), tf.constant([1, 2, 3])], { name: "shapes" }), /shapes: .*input 1 differs/],
    ["ranks differ", () => allReduce([tf.placeholder("float32", [2]), tf.placeholder("float32", [2, 1])], { name: "ranks" }), /ranks: .*\[2\]/],
    ["bool inputs", () => allReduce([tf.constant([true, false])], { name: "bools" }), /bools: .*bool/],
    ["no inputs", () => allReduce([], { name: "empty" }), /empty: .*one input per replica/],
    ["unknown reduction", () => allReduce([tf.constant([1])], { reduction: "prod" as "sum", name: "prod" }), /prod: .*reduction/],
  ];
  for (const [what, build, message] of errorCases)
    it(`rejects ${what}, naming the node`, () => {
      const g = new tf.Graph();
      let error: unknown;
      try {
        g.asDefault(build);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect(String((error as Error).message)).toMatch(message);
    });

  it("checks the shapes fed at run time", () => {
    const g = new tf.Graph();
    const outs = g.asDefault(() => allReduce([tf.placeholder("float32", null, "a"), tf.placeholder("float32", null, "b")], { name: "fed" }));
    const sess = new tf.Session({ graph: g });
    expect(() => sess.runSync(outs[0], { a: tf.ndarray([1, 2], [2]), b: tf.ndarray([1, 2, 3], [3]) })).toThrow(/fed: .*different shapes/);
  });
});

describe("AllReduce gradients", () => {
  const shape = [2, 3];
  const feeds = (n: number, seed: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x${i}`, Array.from(randomData(6, seed + i, -2, 2))]));
  for (const reduction of ["sum", "mean", "max"] as const)
    it(`${reduction}: matches finite differences`, () => {
      checkGradients(() => {
        const xs = [0, 1, 2].map((i) => tf.placeholder("float32", shape, `x${i}`));
        const outs = allReduce(xs, { reduction });
        // Weight each replica's output differently so every output gradient matters.
        const y = tf.concat(outs.map((o, i) => tf.mul(o, i + 1)), 0);
        return { y, xs };
      }, feeds(3, 40));
    });

  it("sum: each input receives the all-reduce of the output gradients, through an AllReduce op", () => {
    const g = new tf.Graph();
    const { grads } = g.asDefault(() => {
      const xs = [tf.constant([1, 2]), tf.constant([3, 4])];
      const outs = allReduce(xs);
      const loss = tf.add(tf.reduceSum(tf.mul(outs[0], 2)), tf.reduceSum(tf.mul(outs[1], [5, 7])));
      return { grads: tf.gradients(loss, xs) };
    });
    const values = new tf.Session({ graph: g }).runSync(grads as tf.Tensor[]) as tf.NDArray[];
    expect(Array.from(values[0].data)).toEqual([7, 9]);
    expect(Array.from(values[1].data)).toEqual([7, 9]);
    expect(g.operations.filter((op) => op.type === "AllReduce").length).toBe(2);
  });

  it("max: ties split the gradient equally", () => {
    const g = new tf.Graph();
    const grads = g.asDefault(() => {
      const xs = [tf.constant([5, 1]), tf.constant([5, 3]), tf.constant([2, 3])];
      return tf.gradients(tf.reduceSum(allReduce(xs, { reduction: "max" })[0]), xs);
    });
    const values = (new tf.Session({ graph: g }).runSync(grads as tf.Tensor[]) as tf.NDArray[]).map((v) => Array.from(v.data));
    expect(values).toEqual([
      [0.5, 0],
      [0.5, 0.5],
      [0, 0.5],
    ]);
  });

  it("an unconnected output contributes zeros; no output gradient gives none", () => {
    const g = new tf.Graph();
    const [partial, none] = g.asDefault(() => {
      const xs = [tf.constant([1, 2]), tf.constant([3, 4])];
      const outs = allReduce(xs);
      return [tf.gradients(tf.reduceSum(outs[1]), xs), tf.gradients(tf.reduceSum(xs[0]), [xs[1]])];
    });
    const values = new tf.Session({ graph: g }).runSync(partial as tf.Tensor[]) as tf.NDArray[];
    expect(values.map((v) => Array.from(v.data))).toEqual([
      [1, 1],
      [1, 1],
    ]);
    expect(none).toEqual([null]);
  });
});

describe("AllReduce in a GraphDef", () => {
  it("round-trips through the text format and runs the same", () => {
    const g = new tf.Graph();
    g.asDefault(() => allReduce([tf.constant([1, 2], [2], "float32", "a"), tf.constant([3, 5], [2], "float32", "b")], { reduction: "mean", name: "mean_all" }));
    const text = g.asGraphDef().toText();
    expect(text).toMatch(/op: "AllReduce"/);
    const imported = tf.importGraphDef(text);
    const sess = new tf.Session({ graph: imported });
    const [o0, o1] = sess.runSync(["mean_all:0", "mean_all:1"]) as tf.NDArray[];
    expect(Array.from(o0.data)).toEqual([2, 3.5]);
    expect(Array.from(o1.data)).toEqual([2, 3.5]);
    expect(imported.getOperationByName("mean_all").attrs.reduction).toBe("mean");
  });
});
