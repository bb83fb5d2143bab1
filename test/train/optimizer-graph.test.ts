import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as train from "../../src/train";
import { Variable } from "../../src/variables";

function session(g: tf.Graph): tf.Session {
  const sess = new tf.Session({ graph: g });
  sess.runSync(g.asDefault(() => tf.variablesInitializer(g.getCollection(tf.GraphKeys.GLOBAL_VARIABLES))));
  return sess;
}

describe("optimizer graphs, names and collections", () => {
  it("builds TF1's names: <opt>/update_<var>/Apply*, <opt>/update, and the train op <opt>", () => {
    const g = new tf.Graph();
    const { op, step } = g.asDefault(() => {
      const w = tf.getVariable("w", [2], { initializer: tf.initializers.ones() });
      const step = train.getOrCreateGlobalStep();
      const op = new train.MomentumOptimizer(0.1, 0.9).minimize(tf.reduceSum(tf.square(w)), { globalStep: step });
      return { op, step };
    });
    expect(op.name).toBe("Momentum");
    expect(op.type).toBe("AssignAdd");
    expect(op.inputs[0]).toBe(step);
    expect(op.controlInputs.map((c) => c.name)).toEqual(["Momentum/update"]);
    const update = g.getOperationByName("Momentum/update");
    expect(update.controlInputs.map((c) => c.name)).toEqual(["Momentum/update_w/ApplyMomentum"]);
    const apply = g.getOperationByName("Momentum/update_w/ApplyMomentum");
    expect(apply.inputs.map((t) => t.name)).toEqual(["w:0", "w/Momentum:0", "Momentum/learning_rate:0", expect.stringMatching(/^gradients\//), "Momentum/momentum:0"]);
    expect(g.getCollection(tf.GraphKeys.TRAIN_OP)).toEqual([op]);
    // Slots: non-trainable, global.
    const names = (key: string) => g.getCollection<tf.Tensor>(key).map((v) => v.op.name);
    expect(names(tf.GraphKeys.GLOBAL_VARIABLES)).toEqual(["w", "global_step", "w/Momentum"]);
    expect(names(tf.GraphKeys.TRAINABLE_VARIABLES)).toEqual(["w"]);
    expect(names(tf.GraphKeys.GLOBAL_STEP)).toEqual(["global_step"]);
  });

  it("without a global step the train op is the NoOp group named after the optimizer (or `name`)", () => {
    const g = new tf.Graph();
    const [a, b] = g.asDefault(() => {
      const w = tf.getVariable("w", [], { initializer: tf.initializers.ones() });
      const a = new train.GradientDescentOptimizer(0.1).minimize(tf.square(w));
      const b = new train.GradientDescentOptimizer(0.1).minimize(tf.square(w), { name: "train" });
      return [a, b];
    });
    expect([a.name, a.type]).toEqual(["GradientDescent", "NoOp"]);
    expect([b.name, b.type]).toEqual(["train", "NoOp"]);
    expect(g.getOperationByName("train")).toBe(b);
    expect(b.controlInputs.map((c) => c.name)).toEqual(["train/update_w/ApplyGradientDescent"]);
  });

  it("two optimizers on one variable get uniquified scopes and slots", () => {
    const g = new tf.Graph();
    const [o1, o2, w] = g.asDefault(() => {
      const w = tf.getVariable("w", [2], { initializer: tf.initializers.ones() });
      const loss = tf.reduceSum(tf.square(w));
      const o1 = new train.AdamOptimizer(0.1);
      const o2 = new train.AdamOptimizer(0.1);
      o1.minimize(loss);
      o2.minimize(loss);
      return [o1, o2, w] as const;
    });
    expect(o1.getSlot(w, "m")!.op.name).toBe("w/Adam");
    expect(o2.getSlot(w, "m")!.op.name).toBe("w/Adam_2");
    // As TF: the default name "w/Adam_1" is taken, so it becomes "w/Adam_1_1".
    expect(o2.getSlot(w, "v")!.op.name).toBe("w/Adam_1_1");
    expect(o2.variables().map((v) => v.op.name)).toEqual(["beta1_power_1", "beta2_power_1", "w/Adam_2", "w/Adam_1_1"]);
    expect(g.hasOperation("Adam_1")).toBe(true);
    expect(o1.getSlotNames()).toEqual(["m", "v"]);
  });

  it("computeGradients keeps null gradients; applyGradients skips them", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const w = tf.getVariable("w", [], { initializer: tf.initializers.constant(3) });
      const unused = tf.getVariable("unused", [], { initializer: tf.initializers.constant(5) });
      const opt = new train.GradientDescentOptimizer(0.5);
      const pairs = opt.computeGradients(tf.square(w));
      const op = opt.applyGradients(pairs);
      return { w, unused, pairs, op };
    });
    expect(r.pairs.map(([gr, v]) => [gr === null, v.op.name])).toEqual([[false, "w"], [true, "unused"]]);
    const sess = session(g);
    sess.runSync(r.op);
    expect(sess.runSync(r.w).scalar()).toBeCloseTo(3 - 0.5 * 6, 6);
    expect(sess.runSync(r.unused).scalar()).toBe(5);
  });

  it("varList restricts the update; the global step increments once per run", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const a = tf.getVariable("a", [], { initializer: tf.initializers.constant(1) });
      const b = tf.getVariable("b", [], { initializer: tf.initializers.constant(1) });
      const step = train.getOrCreateGlobalStep();
      const op = new train.GradientDescentOptimizer(0.1).minimize(tf.add(tf.square(a), tf.square(b)), { varList: [b], globalStep: step });
      return { a, b, op, step };
    });
    const sess = session(g);
    for (let i = 0; i < 3; i++) sess.runSync(r.op);
    const [a, b, step] = sess.runSync([r.a, r.b, r.step]);
    expect(a.scalar()).toBe(1);
    expect(b.scalar()).toBeCloseTo(0.8 ** 3, 6);
    expect(step.dtype).toBe("int32");
    expect(step.scalar()).toBe(3);
  });

  it("applies a variable's constraint after its update", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const clip = (t: tf.Tensor) => tf.minimum(tf.maximum(t, -1), 1);
      const w = tf.getVariable("w", [3], { initializer: tf.initializers.constant([0.5, 0, -0.5]), constraint: clip });
      const target = tf.constant([4, 0.25, -4], [3]);
      const op = new train.GradientDescentOptimizer(0.5).minimize(tf.reduceSum(tf.square(tf.sub(w, target))));
      return { w, op };
    });
    const apply = g.getOperationByName("GradientDescent/update_w/ApplyGradientDescent");
    const constrained = g.getOperationByName("GradientDescent").controlInputs[0];
    expect(constrained.type).toBe("Assign");
    expect(constrained.controlInputs).toContain(apply);
    const sess = session(g);
    sess.runSync(r.op);
    // Unconstrained: w - 0.5 * 2 (w - t) = t  ->  [4, 0.25, -4], clipped to [-1, 1].
    expect(sess.runSync(r.w).values()).toEqual([1, 0.25, -1]);
  });

  it("a non-trainable variable is not updated by minimize", () => {
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const w = tf.getVariable("w", [], { initializer: tf.initializers.constant(2) });
      const frozen = tf.getVariable("frozen", [], { initializer: tf.initializers.constant(2), trainable: false });
      const op = new train.AdamOptimizer(0.1).minimize(tf.mul(tf.square(w), tf.square(frozen)));
      return { w, frozen, op };
    });
    const sess = session(g);
    sess.runSync(r.op);
    expect(sess.runSync(r.frozen).scalar()).toBe(2);
    expect(sess.runSync(r.w).scalar()).toBeLessThan(2);
  });
});

describe("global step", () => {
  it("createGlobalStep makes an int32 scalar; a second one fails; getGlobalStep finds it", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      expect(train.getGlobalStep()).toBeNull();
      const step = train.createGlobalStep();
      expect(step).toBeInstanceOf(Variable);
      expect([step.op.name, step.dtype, step.shape, step.trainable]).toEqual(["global_step", "int32", [], false]);
      expect(train.getGlobalStep()).toBe(step);
      expect(train.getOrCreateGlobalStep()).toBe(step);
      expect(() => train.createGlobalStep()).toThrow(tf.errors.AlreadyExistsError);
    });
    expect(session(g).runSync("global_step:0").scalar()).toBe(0);
  });

  it("is created at the root name scope", () => {
    const g = new tf.Graph();
    const step = g.asDefault(() => tf.nameScope("block", () => train.getOrCreateGlobalStep(g)));
    expect(step.op.name).toBe("global_step");
  });
});

describe("optimizer errors", () => {
  it("minimize with no trainable variables", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [], "x");
      const opt = new train.GradientDescentOptimizer(0.1);
      expect(() => opt.minimize(tf.square(x))).toThrow(tf.errors.InvalidArgumentError);
      expect(() => opt.minimize(tf.square(x))).toThrow(/no variables to optimize/);
    });
  });

  it("a loss of int dtype names the loss", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      tf.getVariable("w", [], { initializer: tf.initializers.ones() });
      const loss = tf.constant(3, [], "int32", "int_loss");
      const err = (() => {
        try {
          new train.GradientDescentOptimizer(0.1).minimize(loss);
        } catch (e) {
          return e;
        }
      })() as tf.errors.InvalidArgumentError;
      expect(err).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect(err.message).toContain("int_loss");
      expect(err.message).toContain("int32");
    });
  });

  it("a variable of another graph names it", () => {
    const other = new tf.Graph();
    const foreign = other.asDefault(() => tf.getVariable("foreign_w", [], { initializer: tf.initializers.ones() }));
    const g = new tf.Graph();
    g.asDefault(() => {
      const w = tf.getVariable("w", [], { initializer: tf.initializers.ones() });
      const opt = new train.GradientDescentOptimizer(0.1);
      expect(() => opt.minimize(tf.square(w), { varList: [w, foreign] })).toThrow(/foreign_w/);
      expect(() => opt.minimize(tf.square(w), { varList: [w, foreign] })).toThrow(tf.errors.InvalidArgumentError);
    });
  });

  it("a tensor that is not a variable, a loss without a path, only null gradients", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const w = tf.getVariable("w", [], { initializer: tf.initializers.ones() });
      const v = tf.getVariable("v", [], { initializer: tf.initializers.ones() });
      const x = tf.placeholder("float32", [], "x_in");
      const opt = new train.GradientDescentOptimizer(0.1);
      expect(() => opt.minimize(tf.square(x), { varList: [x as unknown as Variable] })).toThrow(/x_in/);
      expect(() => opt.minimize(tf.square(x))).toThrow(/no gradients provided/);
      expect(() => opt.applyGradients([[null, w], [null, v]])).toThrow(/no gradients provided for any variable: `w`, `v`/);
      expect(() => opt.applyGradients([])).toThrow(tf.errors.InvalidArgumentError);
      expect(() => opt.applyGradients([[tf.constant(1, [], "int32"), w]])).toThrow(/gradient for `w`/);
    });
  });

  it("bad hyper-parameters and global steps", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const w = tf.getVariable("w", [], { initializer: tf.initializers.ones() });
      expect(() => new train.GradientDescentOptimizer(Number.NaN).minimize(tf.square(w))).toThrow(/learning_rate/);
      const lr = tf.placeholder("float32", [2], "lr_vec");
      expect(() => new train.GradientDescentOptimizer(lr).minimize(tf.square(w))).toThrow(/lr_vec/);
      const notStep = tf.getVariable("not_step", [2], { initializer: tf.initializers.zeros(), trainable: false });
      expect(() => new train.GradientDescentOptimizer(0.1).minimize(tf.square(w), { globalStep: notStep })).toThrow(/globalStep/);
    });
  });
});
