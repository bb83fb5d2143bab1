import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as layers from "../../src/layers";
import { randomData } from "../helpers/run";

function session(g: tf.Graph): tf.Session {
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  return sess;
}

describe("tf.layers.flatten", () => {
  it("flattens all but the batch dimension, static and dynamic", () => {
    const g = new tf.Graph();
    const xs = randomData(2 * 3 * 4 * 5, 1);
    const r = g.asDefault(() => ({
      a: layers.flatten(tf.placeholder("float32", [2, 3, 4, 5], "a")),
      b: layers.flatten(tf.placeholder("float32", [null, 3, 4, 5], "b")),
      c: layers.flatten(tf.placeholder("float32", [2, null, 4, 5], "c")),
      d: layers.flatten(tf.placeholder("float32", [null, null, 4, 5], "d")),
      e: layers.flatten(tf.placeholder("float32", [null], "e")),
    }));
    expect(r.a.shape).toEqual([2, 60]);
    expect(r.b.shape).toEqual([null, 60]);
    expect(r.c.shape).toEqual([2, null]);
    expect(r.e.shape).toEqual([null, 1]);
    expect(r.a.op.name).toBe("flatten/Reshape");
    expect(r.b.op.name).toBe("flatten_1/Reshape");
    const x = tf.ndarray(xs, [2, 3, 4, 5]);
    const [a, b, c, d] = session(g).runSync([r.a, r.b, r.c, r.d], { a: x, b: x, c: x, d: x });
    for (const out of [a, b, c, d]) {
      expect(out.shape).toEqual([2, 60]);
      expect(out.values()).toEqual(Array.from(xs));
    }
  });

  it("channels_first moves the channels last before flattening, as TF does", () => {
    const g = new tf.Graph();
    // NCHW [1, 2, 1, 3]: channel-major; flattened channels-last order is h, w, c.
    const data = [1, 2, 3, 10, 20, 30];
    const y = g.asDefault(() => layers.flatten(tf.constant(data, [1, 2, 1, 3]), { dataFormat: "channels_first" }));
    expect(session(g).runSync(y).values()).toEqual([1, 10, 2, 20, 3, 30]);
  });

  it("refuses a scalar input, naming the layer", () => {
    const g = new tf.Graph();
    g.asDefault(() => expect(() => layers.flatten(tf.constant(1, []), { name: "flat" })).toThrow(/flat.*rank 1/));
  });
});

describe("tf.layers.dropout", () => {
  const xs = Float32Array.from({ length: 400 }, (_, i) => 1 + (i % 7));

  it("is the identity when not training (the default)", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => layers.dropout(tf.constant(xs, [400]), { rate: 0.5 }));
    expect(y.op.type).toBe("Identity");
    expect(y.op.name).toBe("dropout/Identity");
    expect(session(g).runSync(y).values()).toEqual(Array.from(xs));
  });

  it("drops with probability rate and scales the rest by 1 / (1 - rate) when training", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => layers.dropout(tf.constant(xs, [400]), { rate: 0.25, training: true, seed: 5 }));
    expect(y.op.name).toMatch(/^dropout\/dropout\//);
    const out = session(g).runSync(y).values();
    let dropped = 0;
    out.forEach((v, i) => {
      if (v === 0) dropped++;
      else expect(v).toBeCloseTo(xs[i] / 0.75, 5);
    });
    expect(dropped).toBeGreaterThan(60);
    expect(dropped).toBeLessThan(140);
  });

  it("a bool tensor selects at run time through a cond", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const training = tf.placeholderWithDefault(false, [], "training");
      return { y: layers.dropout(tf.constant(xs, [400]), { rate: 0.5, training }), training };
    });
    expect(r.y.op.type).toBe("Merge");
    const sess = session(g);
    expect(sess.runSync(r.y).values()).toEqual(Array.from(xs));
    const trained = sess.runSync(r.y, { training: true }).values();
    expect(trained.filter((v) => v === 0).length).toBeGreaterThan(100);
    expect(trained.filter((v, i) => v !== 0 && Math.abs(v - 2 * xs[i]) > 1e-5)).toEqual([]);
  });

  it("noiseShape drops whole rows", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => layers.dropout(tf.constant(xs, [100, 4]), { rate: 0.5, training: true, noiseShape: [100, 1], seed: 2 }));
    const out = session(g).runSync(y).values();
    for (let r = 0; r < 100; r++) {
      const row = out.slice(r * 4, r * 4 + 4);
      expect(row.every((v) => v === 0) || row.every((v) => v !== 0)).toBe(true);
    }
  });

  it("a rate outside [0, 1) is refused", () => {
    expect(() => new layers.Dropout({ rate: 1 })).toThrow(tf.errors.InvalidArgumentError);
    expect(() => new layers.Dropout({ rate: -0.1 })).toThrow(/rate/);
  });
});

describe("the base Layer", () => {
  class Counter extends layers.Layer {
    protected override build(): void {
      this.addWeight("count", [], { initializer: tf.initializers.zeros(), trainable: false });
    }
    protected override call(inputs: tf.Tensor): tf.Tensor {
      this.addUpdate(tf.assignAdd(this.variables[0], 1));
      return tf.identity(inputs);
    }
  }

  it("snake-case default names, updates into UPDATE_OPS after each call", () => {
    const g = new tf.Graph();
    const layer = g.asDefault(() => {
      const layer = new Counter();
      layer.apply(tf.constant(1, []));
      layer.apply(tf.constant(2, []));
      return layer;
    });
    expect(layer.name).toBe("counter");
    expect(layer.variables.map((v) => v.op.name)).toEqual(["counter/count"]);
    expect(layer.updates.map((u) => u.name)).toEqual(["counter/AssignAdd", "counter/AssignAdd_1"]);
    expect(g.getCollection(tf.GraphKeys.UPDATE_OPS)).toEqual(layer.updates);
    const sess = session(g);
    sess.runSync(layer.updates);
    expect(sess.runSync(layer.variables[0]).scalar()).toBe(2);
    expect(layers.toSnakeCase("BatchNormalization")).toBe("batch_normalization");
    expect(layers.toSnakeCase("MaxPooling2D")).toBe("max_pooling2d");
    expect(layers.toSnakeCase("Conv2D")).toBe("conv2d");
  });

  it("a layer built in one graph cannot be applied in another", () => {
    const layer = new layers.Dense(2);
    new tf.Graph().asDefault(() => layer.apply(tf.placeholder("float32", [null, 2], "x")));
    new tf.Graph().asDefault(() => expect(() => layer.apply(tf.placeholder("float32", [null, 2], "x"))).toThrow(/another graph/));
  });
});
