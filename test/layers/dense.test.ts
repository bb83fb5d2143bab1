import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as layers from "../../src/layers";
import * as regularizers from "../../src/regularizers";
import { getRegularizationLoss } from "../../src/losses";
import { expectClose, randomData } from "../helpers/run";

function session(g: tf.Graph): tf.Session {
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  return sess;
}

const names = (g: tf.Graph, key: string) => g.getCollection<tf.Tensor>(key).map((v) => v.op.name);

/** rows [n, k] times kernel [k, m] plus bias, in JS. */
function affine(x: ArrayLike<number>, k: ArrayLike<number>, b: ArrayLike<number> | null, n: number, kin: number, m: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++)
    for (let j = 0; j < m; j++) {
      let s = b ? b[j] : 0;
      for (let p = 0; p < kin; p++) s += x[i * kin + p] * k[p * m + j];
      out.push(s);
    }
  return out;
}

describe("tf.layers.dense", () => {
  it("names layers dense, dense_1 and creates kernel/bias in GLOBAL and TRAINABLE variables", () => {
    const g = new tf.Graph();
    const [y1, y2] = g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const y1 = layers.dense(x, 4);
      const y2 = layers.dense(y1, 2, { activation: tf.nn.relu });
      return [y1, y2];
    });
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]);
    expect(names(g, tf.GraphKeys.TRAINABLE_VARIABLES)).toEqual(["dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias"]);
    expect(y1.op.name).toBe("dense/BiasAdd");
    expect(y1.op.inputs[0].op.name).toBe("dense/MatMul");
    expect(y2.op.name).toBe("dense_1/Relu");
    expect(y1.shape).toEqual([null, 4]);
    expect(g.getTensorByName("dense/kernel:0").shape).toEqual([3, 4]);
    expect(g.getTensorByName("dense/bias:0").shape).toEqual([4]);
    // Initializers: glorot-uniform kernel (|k| <= sqrt(6 / (3 + 4))), zero bias.
    const sess = session(g);
    const k = sess.runSync("dense/kernel:0").values();
    expect(k.every((v) => Math.abs(v) <= Math.sqrt(6 / 7))).toBe(true);
    expect(new Set(k).size).toBe(12);
    expect(sess.runSync("dense/bias:0").values()).toEqual([0, 0, 0, 0]);
  });

  it("computes activation(x · kernel + bias)", () => {
    const g = new tf.Graph();
    const xs = randomData(6, 11);
    const y = g.asDefault(() =>
      layers.dense(tf.placeholder("float32", [null, 3], "x"), 2, {
        activation: tf.nn.relu,
        biasInitializer: tf.initializers.constant([0.5, -0.25]),
        kernelInitializer: tf.initializers.randomUniform({ minval: -1, maxval: 1, seed: 3 }),
      }),
    );
    const sess = session(g);
    const [out, k, b] = sess.runSync([y, "dense/kernel:0", "dense/bias:0"], { x: xs });
    expect(b.values()).toEqual([0.5, -0.25]);
    expectClose(out.values(), affine(xs, k.data, b.data, 2, 3, 2).map((v) => Math.max(v, 0)));
  });

  it("a named layer applied twice without reuse gets a new scope; with reuse it shares the variables", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const a = layers.dense(x, 2, { name: "fc" });
      const b = layers.dense(x, 2, { name: "fc" });
      const c = layers.dense(x, 2, { name: "fc", reuse: true });
      const d = layers.dense(x, 2, { name: "fc", reuse: tf.AUTO_REUSE });
      const e = layers.dense(x, 2, { name: "fresh", reuse: tf.AUTO_REUSE });
      return { a, b, c, d, e };
    });
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(["fc/kernel", "fc/bias", "fc_1/kernel", "fc_1/bias", "fresh/kernel", "fresh/bias"]);
    expect(r.a.op.name).toBe("fc/BiasAdd");
    expect(r.b.op.name).toBe("fc_1/BiasAdd");
    // The reusing layer's ops go under a new name scope; its MatMul reads fc/kernel.
    expect(r.c.op.name).toBe("fc_2/BiasAdd");
    expect(r.c.op.inputs[0].op.inputs[1].name).toBe("fc/kernel:0");
    expect(r.d.op.inputs[0].op.inputs[1].name).toBe("fc/kernel:0");
    const sess = session(g);
    const xs = randomData(3, 2);
    const [a, b, c] = sess.runSync([r.a, r.b, r.c], { x: xs });
    expect(c.values()).toEqual(a.values());
    expect(b.values()).not.toEqual(a.values());
  });

  it("reuse: true for a layer that does not exist fails with NotFound", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      expect(() => layers.dense(x, 2, { name: "missing", reuse: true })).toThrow(tf.errors.NotFoundError);
    });
  });

  it("variable scopes: prefix, inherited reuse, and names counted per scope entry (TF1's encoder pattern)", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const encode = (t: tf.Tensor) => layers.dense(layers.dense(t, 4), 3);
      const first = tf.variableScope("enc", () => encode(x));
      const second = tf.variableScope("enc", { reuse: true }, () => encode(x));
      return { first, second };
    });
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(["enc/dense/kernel", "enc/dense/bias", "enc/dense_1/kernel", "enc/dense_1/bias"]);
    expect(r.first.op.name).toBe("enc/dense_1/BiasAdd");
    expect(r.second.op.name).toBe("enc_1/dense_1/BiasAdd");
    const sess = session(g);
    const xs = randomData(6, 5);
    const [a, b] = sess.runSync([r.first, r.second], { x: xs });
    expect(b.values()).toEqual(a.values());
  });

  it("a Layer object called twice keeps its variables and name scope", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const layer = new layers.Dense(2, { activation: tf.nn.relu });
      const x = tf.placeholder("float32", [null, 3], "x");
      const y1 = layer.apply(x);
      const y2 = layer.apply(tf.mul(x, 2));
      return { layer, y1, y2 };
    });
    expect(r.layer.built).toBe(true);
    expect(r.layer.name).toBe("dense");
    expect(r.layer.variables.map((v) => v.op.name)).toEqual(["dense/kernel", "dense/bias"]);
    expect(r.layer.trainableVariables).toEqual(r.layer.variables);
    expect(r.layer.kernel!.op.name).toBe("dense/kernel");
    expect(r.y1.op.name).toBe("dense/Relu");
    expect(r.y2.op.name).toBe("dense/Relu_1");
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toHaveLength(2);
  });

  it("trainable: false keeps the variables out of TRAINABLE_VARIABLES", () => {
    const g = new tf.Graph();
    const layer = g.asDefault(() => {
      const layer = new layers.Dense(2, { trainable: false, useBias: false });
      layer.apply(tf.placeholder("float32", [null, 3], "x"));
      return layer;
    });
    expect(names(g, tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(["dense/kernel"]);
    expect(names(g, tf.GraphKeys.TRAINABLE_VARIABLES)).toEqual([]);
    expect(layer.trainableVariables).toEqual([]);
    expect(layer.nonTrainableVariables.map((v) => v.op.name)).toEqual(["dense/kernel"]);
    expect(layer.bias).toBeNull();
  });

  it("applies to the last axis of rank > 2 inputs (tensordot), static and dynamic shapes", () => {
    const g = new tf.Graph();
    const xs = randomData(2 * 3 * 4, 8);
    const r = g.asDefault(() => {
      const full = tf.placeholder("float32", [2, 3, 4], "full");
      const batch = tf.placeholder("float32", [null, 3, 4], "batch");
      const two = tf.placeholder("float32", [null, null, 4], "two");
      const layer = new layers.Dense(5, { biasInitializer: tf.initializers.constant(0.5) });
      return { layer, a: layer.apply(full), b: layer.apply(batch), c: layer.apply(two) };
    });
    expect(r.a.shape).toEqual([2, 3, 5]);
    expect(r.b.shape).toEqual([null, 3, 5]);
    expect(r.c.shape).toEqual([null, null, 5]);
    expect(r.a.op.name).toBe("dense/BiasAdd");
    expect(g.hasOperation("dense/Tensordot")).toBe(true);
    expect(g.getOperationByName("dense/Tensordot/MatMul").type).toBe("MatMul");
    const sess = session(g);
    const k = sess.runSync(r.layer.kernel!);
    const expected = affine(xs, k.data, [0.5, 0.5, 0.5, 0.5, 0.5], 6, 4, 5);
    const [a, b, c] = sess.runSync([r.a, r.b, r.c], { full: xs, batch: xs, two: tf.ndarray(xs, [2, 3, 4]) });
    expect(c.shape).toEqual([2, 3, 5]);
    for (const out of [a, b, c]) expectClose(out.values(), expected);
  });

  it("casts int inputs to float32", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => layers.dense(tf.constant([[1, 2]], [1, 2], "int32"), 1, { kernelInitializer: tf.initializers.ones() }));
    expect(session(g).runSync(y).values()).toEqual([3]);
  });

  it("bad inputs name the layer", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(() => layers.dense(tf.placeholder("float32", [3], "v"), 2)).toThrow(/dense.*rank 2/);
      expect(() => layers.dense(tf.placeholder("float32", [null, null], "u"), 2, { name: "head" })).toThrow(/head.*last dimension/);
      expect(() => layers.dense(tf.placeholder("float32", [null, 3], "w"), 0)).toThrow(tf.errors.InvalidArgumentError);
      expect(() => layers.dense(tf.placeholder("float32", [null, 3], "w2"), 2.5)).toThrow(/units/);
    });
  });
});

describe("regularizers and regularization losses", () => {
  it("kernel and bias regularizers add scale-correct losses to REGULARIZATION_LOSSES and layer.losses", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const layer = new layers.Dense(3, {
        kernelRegularizer: regularizers.l2(0.1),
        biasRegularizer: regularizers.l1(0.5),
        biasInitializer: tf.initializers.constant([1, -2, 3]),
      });
      layer.apply(tf.placeholder("float32", [null, 4], "x"));
      // Reusing the variables adds no second loss.
      layers.dense(tf.placeholder("float32", [null, 4], "x2"), 3, { name: "dense", reuse: true, kernelRegularizer: regularizers.l2(0.1) });
      return { layer, total: getRegularizationLoss() };
    });
    const losses = g.getCollection<tf.Tensor>(tf.GraphKeys.REGULARIZATION_LOSSES);
    expect(losses).toHaveLength(2);
    expect(losses.map((l) => l.op.name.startsWith("dense/kernel/Regularizer/") || l.op.name.startsWith("dense/bias/Regularizer/"))).toEqual([true, true]);
    expect(r.layer.losses).toEqual(losses);
    expect(r.total.op.name).toBe("total_regularization_loss");
    const sess = session(g);
    const k = sess.runSync(r.layer.kernel!).values();
    const [kLoss, bLoss, total] = sess.runSync([losses[0], losses[1], r.total]);
    const expectedK = 0.1 * k.reduce((s, v) => s + v * v, 0);
    expect(kLoss.scalar()).toBeCloseTo(expectedK, 5);
    expect(bLoss.scalar()).toBeCloseTo(0.5 * 6, 5);
    expect(total.scalar()).toBeCloseTo(expectedK + 3, 5);
  });

  it("contrib l2Regularizer is scale * sum(w^2) / 2; a zero scale adds nothing; l1L2 sums", () => {
    const g = new tf.Graph();
    const w = [1, -2, 3];
    const r = g.asDefault(() => {
      const a = tf.getVariable("a", [3], { initializer: tf.initializers.constant(w), regularizer: regularizers.l2Regularizer(0.2) });
      tf.getVariable("b", [3], { initializer: tf.initializers.constant(w), regularizer: regularizers.l2Regularizer(0) });
      const both = regularizers.l1L2Regularizer(0.5, 0.2)(a)!;
      const keras = regularizers.l1L2({ l1: 0.5, l2: 0.2 })(a)!;
      return { both, keras, total: getRegularizationLoss() };
    });
    const losses = g.getCollection<tf.Tensor>(tf.GraphKeys.REGULARIZATION_LOSSES);
    expect(losses).toHaveLength(1);
    expect(losses[0].op.name).toBe("a/Regularizer/l2_regularizer/mul");
    const sess = session(g);
    expect(sess.runSync(losses[0]).scalar()).toBeCloseTo(0.2 * 14 / 2, 5);
    expect(sess.runSync(r.total).scalar()).toBeCloseTo(1.4, 5);
    expect(sess.runSync(r.both).scalar()).toBeCloseTo(0.5 * 6 + 0.2 * 7, 5);
    expect(sess.runSync(r.keras).scalar()).toBeCloseTo(0.5 * 6 + 0.2 * 14, 5);
    expect(() => regularizers.l2Regularizer(-1)).toThrow(tf.errors.InvalidArgumentError);
  });

  it("getRegularizationLoss is a constant 0 without regularizers", () => {
    const g = new tf.Graph();
    const total = g.asDefault(() => getRegularizationLoss());
    expect(session(g).runSync(total).scalar()).toBe(0);
  });

  it("an activity regularizer adds reg(output) / batch size", () => {
    const g = new tf.Graph();
    const xs = randomData(3 * 2, 4);
    const r = g.asDefault(() => {
      const layer = new layers.Dense(2, { activityRegularizer: regularizers.l2(0.5), kernelInitializer: tf.initializers.constant([1, 0, 0, 1]) });
      const y = layer.apply(tf.placeholder("float32", [null, 2], "x"));
      return { layer, y };
    });
    expect(r.layer.losses).toHaveLength(1);
    expect(r.layer.losses[0].op.name).toMatch(/^dense\/ActivityRegularizer\//);
    const loss = session(g).runSync(r.layer.losses[0], { x: xs });
    expect(loss.scalar()).toBeCloseTo((0.5 * Array.from(xs).reduce((s, v) => s + v * v, 0)) / 3, 5);
  });
});
