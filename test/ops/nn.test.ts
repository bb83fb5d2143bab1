/**
 * ir/ops/nn.ts: Softmax, LogSoftmax, BiasAdd(+Grad) and dropout — values against tfjs-core on the
 * CPU backend, bad-input errors, TF's graph names, and gradients against tfjs and finite
 * differences. The cross-entropy ops are in cross-entropy.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as nn from "../../ir/ops/nn";
import { expectClose } from "../helpers/run";
import { tfjs, tfjsReady, tfjsValues } from "../helpers/tfjs";
import "@tensorflow/tfjs-core/dist/register_all_gradients";
import { checkGradients } from "../helpers/gradcheck";
import { constant, data, expectNodeError, run } from "./nn-helpers";

beforeAll(() => tfjsReady());

// ---------------------------------------------------------------------------------------------

describe("Softmax and LogSoftmax", () => {
  const ours = { Softmax: nn.softmax, LogSoftmax: nn.logSoftmax };
  const theirs = { Softmax: tfjs.softmax, LogSoftmax: tfjs.logSoftmax };
  for (const type of ["Softmax", "LogSoftmax"] as const) {
    for (const shape of [[5], [3, 4], [2, 3, 4], [4, 1], [0, 3]])
      it(`${type} ${JSON.stringify(shape)} matches tfjs`, () => {
        const x = data(shape, shape.length + 3);
        const out = run(() => ours[type](constant(x, shape)));
        expect(out.shape).toEqual(shape);
        expectClose(out.data, tfjsValues(theirs[type](tfjs.tensor(x, shape))), 1e-5, 1e-6);
      });

    it(`${type} is stable for large logits`, () => {
      const x = [1000, 1001, 1002, -1000, -999, -1001];
      const out = run(() => ours[type](constant(x, [2, 3])));
      expect(out.values().every(Number.isFinite)).toBe(true);
      expectClose(out.data, tfjsValues(theirs[type](tfjs.tensor(x, [2, 3]))), 1e-5, 1e-6);
    });

    for (const axis of [0, 1, -2, -3])
      it(`${type} along axis ${axis} of [2,3,4] (transposes around the op, like TF)`, () => {
        const x = data([2, 3, 4], 11);
        const a = axis < 0 ? axis + 3 : axis;
        const perm = [0, 1, 2];
        [perm[a], perm[2]] = [2, a];
        const g = new tf.Graph();
        const y = g.asDefault(() => ours[type](constant(x, [2, 3, 4]), axis, "sm"));
        expect(y.op.name).toBe("sm");
        expect(y.shape).toEqual([2, 3, 4]);
        const out = new tf.Session({ graph: g }).runSync(y);
        const expected = tfjs.transpose(theirs[type](tfjs.transpose(tfjs.tensor(x, [2, 3, 4]), perm)), perm);
        expectClose(out.data, tfjsValues(expected), 1e-5, 1e-6);
      });

    it(`${type} axis -1 and the last axis build one op named like TF`, () => {
      new tf.Graph().asDefault(() => {
        const x = tf.placeholder("float32", [null, 3]);
        expect(ours[type](x).op.type).toBe(type);
        expect(ours[type](x, 1).op.name).toBe(`${type}_1`);
        expect(ours[type](x).shape).toEqual([null, 3]);
      });
    });

    it(`${type} rejects scalars, ints and unknown ranks along other axes`, () => {
      new tf.Graph().asDefault(() => {
        expectNodeError(() => ours[type](tf.constant(1), -1, "scalar_sm"), "scalar_sm", /rank 1 or more/);
        expectNodeError(() => ours[type](tf.constant([1, 2], [2], "int32"), -1, "int_sm"), "int_sm", /float32/);
        expectNodeError(() => ours[type](tf.placeholder("float32", null), 0, "unknown_sm"), "unknown_sm", /known rank/);
        expectNodeError(() => ours[type](tf.placeholder("float32", [2, 3]), 2, "far_sm"), "far_sm", /axis 2 is out of range/);
      });
    });
  }

  it("gradients match tfjs", () => {
    const x = data([3, 4], 5);
    const dy = data([3, 4], 6);
    for (const type of ["Softmax", "LogSoftmax"] as const) {
      const got = run(() => {
        const p = constant(x, [3, 4]);
        return tf.gradients(ours[type](p), p, constant(dy, [3, 4]))[0]!;
      });
      const want = tfjs.grad((t: tfjs.Tensor) => theirs[type](t))(tfjs.tensor(x, [3, 4]), tfjs.tensor(dy, [3, 4]));
      expectClose(got.data, tfjsValues(want), 1e-5, 1e-6);
    }
  });

  for (const [type, axis] of [["Softmax", -1], ["LogSoftmax", -1], ["Softmax", 0], ["LogSoftmax", 0]] as const)
    it(`${type} axis ${axis} gradient against finite differences`, () => {
      checkGradients(() => {
        const x = tf.placeholder("float32", [3, 4], "x");
        return { y: ours[type](x, axis), xs: [x] };
      }, { x: data([3, 4], 9) });
    });
});

// ---------------------------------------------------------------------------------------------

describe("BiasAdd and BiasAddGrad", () => {
  const cases: { shape: number[]; format: "NHWC" | "NCHW" }[] = [
    { shape: [2, 3], format: "NHWC" },
    { shape: [2, 3, 4], format: "NHWC" },
    { shape: [2, 2, 3, 4], format: "NHWC" },
    { shape: [2, 3], format: "NCHW" },
    { shape: [2, 3, 4], format: "NCHW" },
    { shape: [2, 3, 4, 5], format: "NCHW" },
  ];
  /** The bias reshaped to broadcast along the channel axis, for tfjs. */
  const biasShape = (shape: number[], format: string) => (format === "NHWC" ? [shape[shape.length - 1]] : [shape[1], ...shape.slice(2).map(() => 1)]);

  for (const { shape, format } of cases)
    it(`BiasAdd ${format} ${JSON.stringify(shape)} matches tfjs add, and BiasAddGrad its sum`, () => {
      const channels = format === "NHWC" ? shape[shape.length - 1] : shape[1];
      const x = data(shape, 3);
      const b = data([channels], 4);
      const [y, grad] = run(() => {
        const y = nn.biasAdd(constant(x, shape), constant(b, [channels]), format);
        return [y, tf.getDefaultGraph().addOp({ type: "BiasAddGrad", inputs: [constant(x, shape)], attrs: { data_format: format } }).outputs[0]];
      });
      expect(y.shape).toEqual(shape);
      expectClose(y.data, tfjsValues(tfjs.add(tfjs.tensor(x, shape), tfjs.tensor(b, biasShape(shape, format)))), 1e-6, 1e-7);
      const axes = shape.map((_, i) => i).filter((i) => i !== (format === "NHWC" ? shape.length - 1 : 1));
      expect(grad.shape).toEqual([channels]);
      expectClose(grad.data, tfjsValues(tfjs.sum(tfjs.tensor(x, shape), axes)), 1e-5, 1e-6);
    });

  it("int32 values and literal biases", () => {
    const out = run(() => nn.biasAdd(tf.constant([[1, 2], [3, 4]], [2, 2], "int32"), [10, -20]));
    expect(out.dtype).toBe("int32");
    expect(out.toArray()).toEqual([[11, -18], [13, -16]]);
  });

  it("infers the channel dim from the bias and names the op BiasAdd", () => {
    new tf.Graph().asDefault(() => {
      const y = nn.biasAdd(tf.placeholder("float32", [null, null]), tf.placeholder("float32", [5]));
      expect(y.shape).toEqual([null, 5]);
      expect(y.op.name).toBe("BiasAdd");
      expect(y.op.attrs.data_format).toBe("NHWC");
      const z = nn.biasAdd(tf.placeholder("float32", [null, null, 7]), tf.placeholder("float32", [null]), "NCHW");
      expect(z.shape).toEqual([null, null, 7]);
      expect(z.op.name).toBe("BiasAdd_1");
    });
  });

  it("bad inputs name the node", () => {
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [2, 3]);
      expectNodeError(() => nn.biasAdd(x, tf.placeholder("float32", [3, 1]), "NHWC", "b2"), "b2", /bias of BiasAdd must be a vector/);
      expectNodeError(() => nn.biasAdd(tf.placeholder("float32", [3]), tf.placeholder("float32", [3]), "NHWC", "v1"), "v1", /rank 2 or more/);
      expectNodeError(() => nn.biasAdd(x, tf.placeholder("float32", [4]), "NHWC", "c4"), "c4", /as many biases as the channel dimension/);
      expectNodeError(() => nn.biasAdd(tf.placeholder("float32", [2, 3, 4]), tf.placeholder("float32", [4]), "NCHW", "nchw"), "nchw", /axis 1, NCHW/);
      expectNodeError(() => nn.biasAdd(x, tf.placeholder("int32", [3]), "NHWC", "mixed"), "mixed", /bias of BiasAdd must be float32/);
      expectNodeError(() => nn.biasAdd(tf.placeholder("bool", [2, 3]), tf.placeholder("bool", [3]), "NHWC", "bools"), "bools");
      expectNodeError(() => nn.biasAdd(x, tf.placeholder("float32", [3]), "NWHC" as "NHWC", "fmt"), "fmt", /data_format/);
    });
  });

  it("a fed value whose channels do not match fails at run time, naming the node", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => nn.biasAdd(tf.placeholder("float32", [null, null], "v"), tf.placeholder("float32", [null], "b"), "NHWC", "late"));
    expect(() => new tf.Session({ graph: g }).runSync(y, { v: [[1, 2, 3]], b: [1, 2] })).toThrow(/^late: BiasAdd needs 3 biases/);
  });

  for (const format of ["NHWC", "NCHW"] as const)
    it(`${format} gradients (BiasAddGrad) against finite differences`, () => {
      checkGradients(() => {
        const x = tf.placeholder("float32", [2, 3, 2], "x");
        const b = tf.placeholder("float32", [format === "NHWC" ? 2 : 3], "b");
        return { y: nn.biasAdd(x, b, format), xs: [x, b] };
      }, { x: data([2, 3, 2], 1), b: data([format === "NHWC" ? 2 : 3], 2) });
    });

  it("the BiasAdd gradient builds BiasAddGrad with the op's data_format", () => {
    new tf.Graph().asDefault(() => {
      const x = tf.placeholder("float32", [2, 3, 4]);
      const b = tf.placeholder("float32", [3]);
      const [, db] = tf.gradients(nn.biasAdd(x, b, "NCHW"), [x, b]);
      expect(db!.op.type).toBe("BiasAddGrad");
      expect(db!.op.attrs.data_format).toBe("NCHW");
      expect(db!.shape).toEqual([3]);
    });
  });

  it("BiasAddGrad's own gradient (second order) against finite differences", () => {
    checkGradients(() => {
      const x = tf.placeholder("float32", [2, 3], "x");
      const b = tf.placeholder("float32", [3], "b");
      const v = tf.placeholder("float32", [2, 3], "v");
      const [db] = tf.gradients(nn.biasAdd(x, b), [b], v);
      return { y: db!, xs: [v] };
    }, { x: data([2, 3], 1), b: data([3], 2), v: data([2, 3], 3) });
  });
});

// ---------------------------------------------------------------------------------------------

// ---------------------------------------------------------------------------------------------

describe("dropout", () => {
  const x = Array.from({ length: 2000 }, (_, i) => (i % 7) - 3 + 0.5);

  it("computes x / keep_prob * floor(keep_prob + uniform), with TF1's op names", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => nn.dropout(constant(x, [40, 50]), { keepProb: 0.7, seed: 3 }));
    expect(y.op.name).toBe("dropout/mul");
    expect(y.shape).toEqual([40, 50]);
    for (const name of ["dropout/keep_prob", "dropout/random_uniform/RandomUniform", "dropout/add", "dropout/Floor", "dropout/div"]) expect(g.hasOperation(name), name).toBe(true);
    const u = g.getTensorByName("dropout/random_uniform/RandomUniform:0");
    const [out, uniform] = new tf.Session({ graph: g }).runSync([y, u]);
    const f = Math.fround;
    const keep = f(0.7);
    const expected = x.map((v, i) => f(f(f(v) / keep) * Math.floor(f(keep + uniform.data[i]))));
    expect(out.values()).toEqual(expected);
    const kept = out.values().filter((v) => v !== 0).length / x.length;
    expect(kept).toBeGreaterThan(0.66);
    expect(kept).toBeLessThan(0.74);
  });

  it("a seed gives the same mask in every new session and a new one on every run", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => nn.dropout(constant(x, [2000]), { rate: 0.5, seed: 7 }));
    const s1 = new tf.Session({ graph: g });
    const s2 = new tf.Session({ graph: g });
    const first = s1.runSync(y).values();
    expect(s2.runSync(y).values()).toEqual(first);
    expect(s1.runSync(y).values()).not.toEqual(first);
  });

  it("rate r is keepProb 1 - r; keepProb 1 and rate 0 return x itself", () => {
    const a = run(() => nn.dropout(constant(x, [2000]), { rate: 0.25, seed: 5 }));
    const b = run(() => nn.dropout(constant(x, [2000]), { keepProb: 0.75, seed: 5 }));
    expect(a.values()).toEqual(b.values());
    new tf.Graph().asDefault(() => {
      const t = tf.placeholder("float32", [3]);
      expect(nn.dropout(t, { keepProb: 1 })).toBe(t);
      expect(nn.dropout(t, { rate: 0 })).toBe(t);
    });
  });

  it("noiseShape [n, 1] drops whole rows; null dims take x's", () => {
    for (const noiseShape of [[40, 1], [null, 1]]) {
      const out = run(() => nn.dropout(constant(x, [40, 50]), { keepProb: 0.5, noiseShape, seed: 9 }));
      let dropped = 0;
      for (let r = 0; r < 40; r++) {
        const row = out.values().slice(r * 50, r * 50 + 50);
        const zero = row.every((v) => v === 0);
        if (zero) dropped++;
        else expect(row).toEqual(x.slice(r * 50, r * 50 + 50).map((v) => v / 0.5));
      }
      expect(dropped).toBeGreaterThan(5);
      expect(dropped).toBeLessThan(35);
    }
  });

  it("keepProb as a tensor, and x of unknown shape (a Shape op feeds RandomUniform)", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => nn.dropout(tf.placeholder("float32", [null, 4], "x"), { keepProb: tf.placeholder("float32", [], "keep"), seed: 1 }));
    expect(y.shape).toEqual([null, 4]);
    expect(g.getOperationByName("dropout/Shape").type).toBe("Shape");
    const sess = new tf.Session({ graph: g });
    const feedX = tf.ndarray(x.slice(0, 400), [100, 4]);
    expect(sess.runSync(y, { x: feedX, keep: 1 }).values()).toEqual(x.slice(0, 400));
    const half = sess.runSync(y, { x: feedX, keep: 0.5 }).values();
    expect(half.every((v, i) => v === 0 || v === x[i] * 2)).toBe(true);
    const rateGraph = new tf.Graph();
    const z = rateGraph.asDefault(() => nn.dropout(tf.placeholder("float32", [8], "x"), { rate: tf.placeholder("float32", [], "rate") }));
    expect(new tf.Session({ graph: rateGraph }).runSync(z, { x: x.slice(0, 8), rate: 0 }).values()).toEqual(x.slice(0, 8));
  });

  it("the gradient is the mask / keepProb", () => {
    const g = new tf.Graph();
    const [y, dx] = g.asDefault(() => {
      const t = constant(x.slice(0, 300), [300]);
      const y = nn.dropout(t, { keepProb: 0.6, seed: 2 });
      return [y, tf.gradients(y, t)[0]!];
    });
    const [out, grad] = new tf.Session({ graph: g }).runSync([y, dx]);
    grad.values().forEach((gv, i) => expect(gv).toBeCloseTo(out.data[i] / Math.fround(x[i]), 5));
  });

  it("bad arguments name the scope", () => {
    new tf.Graph().asDefault(() => {
      const t = tf.placeholder("float32", [3]);
      expectNodeError(() => nn.dropout(t, { keepProb: 0.5, rate: 0.5 }), "dropout", /both/);
      expectNodeError(() => nn.dropout(t), "dropout_1", /provide a rate/);
      expectNodeError(() => nn.dropout(t, { keepProb: 0 }), /^dropout_\d$/, /\(0, 1\]/);
      expectNodeError(() => nn.dropout(t, { rate: 1, name: "d" }), "d", /\(0, 1\]/);
      expectNodeError(() => nn.dropout(tf.placeholder("int32", [3]), { rate: 0.5, name: "ints" }), "ints", /floating point/);
      expectNodeError(() => nn.dropout(t, { rate: 0.5, noiseShape: [null, 2], name: "ns" }), "ns", /noise shape/);
      expectNodeError(() => nn.dropout(t, { keepProb: tf.placeholder("float32", [2]), name: "vec" }), "vec", /scalar/);
    });
  });
});
