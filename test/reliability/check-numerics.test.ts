import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as debugging from "../../src/debugging";
import { addCheckNumericsOps } from "../../src/debugging";
import { expectClose, randomData } from "../helpers/run";

function fresh<T>(fn: () => T): { g: tf.Graph; r: T } {
  const g = new tf.Graph();
  return { g, r: g.asDefault(fn) };
}

/** The thrown error of `fn`, or a failure when it does not throw. */
function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

/** "[i, j]" of the first non-finite element of a row-major [rows, cols] array, computed here. */
function firstBadIndex(data: ArrayLike<number>, cols: number): string {
  const flat = Array.from(data).findIndex((v) => !Number.isFinite(v));
  return `[${Math.floor(flat / cols)}, ${flat % cols}]`;
}

describe("tf.debugging.checkNumerics", () => {
  it("passes finite values through unchanged", () => {
    const data = randomData(12, 3);
    const { g, r } = fresh(() => {
      const x = tf.placeholder("float32", [3, 4], "x");
      return debugging.checkNumerics(tf.mul(x, 2), "after doubling");
    });
    expect(r.op.type).toBe("CheckNumerics");
    expect(r.op.attrs.message).toBe("after doubling");
    expect(r.shape).toEqual([3, 4]);
    const out = new tf.Session({ graph: g }).runSync(r, { x: data });
    expectClose(out.data, Array.from(data, (v) => v * 2));
  });

  const cases: [string, number[]][] = [
    ["NaN", [NaN]],
    ["Inf", [Infinity]],
    ["Inf and NaN", [-Infinity, NaN]],
  ];
  for (const [kind, bad] of cases) {
    it(`fails on ${kind}, naming the node, the message and the first index`, () => {
      const data = randomData(12, 5);
      data[6] = bad[0];
      if (bad.length > 1) data[9] = bad[1];
      const { g, r } = fresh(() => debugging.checkNumerics(tf.placeholder("float32", [3, 4], "x"), "input check", "check_x"));
      const e = thrown(() => new tf.Session({ graph: g }).runSync(r, { x: data }));
      expect(e).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect((e as tf.errors.OpError).nodeName).toBe("check_x");
      expect(e.message).toContain("check_x");
      expect(e.message).toContain("input check : Tensor had");
      expect(e.message).toContain(`${kind} values`);
      expect(e.message).toContain(`index ${firstBadIndex(data, 4)}`);
    });
  }

  it("fails the same way on the js backend", () => {
    const { g, r } = fresh(() => debugging.checkNumerics(tf.mul(tf.placeholder("float32", [2], "x"), 2), "js check", "check_js"));
    const sess = new tf.Session({ graph: g, backend: "js" });
    expect(sess.runSync(r, { x: [1, 2] }).values()).toEqual([2, 4]);
    const e = thrown(() => sess.runSync(r, { x: [1, NaN] }));
    expect(e).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect(e.message).toContain("check_js: js check : Tensor had NaN values (first at index [1]");
  });

  it("round-trips through GraphDef text with TF's attrs", () => {
    const { g } = fresh(() => debugging.checkNumerics(tf.placeholder("float32", [2], "x"), "say \"hi\"", "check"));
    const text = g.asGraphDef().toText();
    expect(text).toContain('op: "CheckNumerics"');
    const g2 = tf.importGraphDef(text);
    expect(g2.getOperationByName("check").attrs.message).toBe('say "hi"');
    expect(() => new tf.Session({ graph: g2 }).runSync("check", { x: [Infinity, 1] })).toThrow(/check: say "hi" : Tensor had Inf/);
  });

  it("refuses a non-float tensor when building, naming the node", () => {
    const e = thrown(() => fresh(() => debugging.checkNumerics(tf.constant([1, 2], [2], "int32"), "m", "int_check")));
    expect(e).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect(e.message).toContain("int_check");
  });

  it("differentiates as identity, with the gradient itself checked", () => {
    const data = randomData(6, 7, 0.5, 2);
    const { g, r } = fresh(() => {
      const x = tf.placeholder("float32", [6], "x");
      const y = debugging.checkNumerics(tf.square(x), "squared");
      const [dx] = tf.gradients(tf.reduceSum(y), [x]);
      return { dx: dx! };
    });
    const sess = new tf.Session({ graph: g });
    expectClose(sess.runSync(r.dx, { x: data }).data, Array.from(data, (v) => 2 * v));
    const gradChecks = g.operations.filter((op) => op.type === "CheckNumerics" && String(op.attrs.message).startsWith("Not a number (NaN) or infinity (Inf) values detected in gradient. squared"));
    expect(gradChecks.length).toBe(1);
  });

  it("fails in the gradient when only the gradient is infinite", () => {
    const { g, r } = fresh(() => {
      const x = tf.placeholder("float32", [2], "x");
      const y = debugging.checkNumerics(x, "sqrt input");
      const loss = tf.reduceSum(tf.sqrt(y));
      return { loss, dx: tf.gradients(loss, [x])[0]! };
    });
    const sess = new tf.Session({ graph: g });
    // sqrt(0) is finite; its derivative 1 / (2 sqrt(0)) is not.
    expect(sess.runSync(r.loss, { x: [0, 4] }).scalar()).toBe(2);
    const e = thrown(() => sess.runSync(r.dx, { x: [0, 4] }));
    expect(e).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect(e.message).toContain("detected in gradient. sqrt input");
  });

  it("assertAllFinite checks under a VerifyFinite scope", () => {
    const { g, r } = fresh(() => debugging.assertAllFinite(tf.placeholder("float32", [2], "x"), "x must be finite"));
    expect(r.op.name).toBe("VerifyFinite/CheckNumerics");
    const sess = new tf.Session({ graph: g });
    expect(sess.runSync(r, { x: [1, 2] }).values()).toEqual([1, 2]);
    expect(() => sess.runSync(r, { x: [1, -Infinity] })).toThrow(/x must be finite/);
  });
});

describe("tf.addCheckNumericsOps", () => {
  function model() {
    const x = tf.placeholder("float32", [2, 2], "x");
    const w = tf.getVariable("w", [2, 2], { initializer: tf.initializers.constant([1, 0, 0, 1]) });
    const h = tf.log(tf.matmul(x, w), "log_h");
    const n = tf.argmax(h, 1);
    return { x, h, n, loss: tf.reduceSum(h) };
  }

  it("checks every float output once (variables and int outputs aside) and groups them", () => {
    const { g } = fresh(model);
    const expected = g.operations.flatMap((op) => (op.type === "VariableV2" ? [] : op.outputs.filter((t) => t.dtype === "float32").map((t) => t.name)));
    const group = addCheckNumericsOps(g);
    const checks = g.operations.filter((op) => op.type === "CheckNumerics");
    expect(checks.map((c) => c.attrs.message).sort()).toEqual([...expected].sort());
    expect(checks.map((c) => c.inputs[0].name).sort()).toEqual([...expected].sort());
    expect(group.type).toBe("NoOp");
    expect(new Set(group.controlInputs)).toEqual(new Set(checks));
    // A second call does not check the checks.
    const again = g.asDefault(() => addCheckNumericsOps());
    expect(again.controlInputs.length).toBe(checks.length);
  });

  it("runs clean on finite values and names the tensor that went bad", () => {
    const { g, r } = fresh(model);
    const check = addCheckNumericsOps(g);
    const sess = new tf.Session({ graph: g });
    sess.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    const [loss, none] = sess.runSync([r.loss, check], { x: [[1, 2], [3, 4]] });
    expect(none).toBeNull();
    expect(loss.scalar()).toBeCloseTo(Math.log(1) + Math.log(2) + Math.log(3) + Math.log(4), 5);
    // log(0) = -Inf at [1, 0]
    const e = thrown(() => sess.runSync([r.loss, check], { x: [[1, 2], [0, 4]] }));
    expect(e).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expect(e.message).toContain("log_h:0 : Tensor had Inf values");
    expect(e.message).toContain("index [1, 0]");
  });

  it("checks inside a tf.cond only on the branch that runs", () => {
    const { g, r } = fresh(() => {
      const x = tf.placeholder("float32", [2], "x");
      const p = tf.placeholder("bool", [], "p");
      const y = tf.cond(p, () => tf.log(x, "log_branch"), () => tf.mul(x, 2, "mul_branch"));
      return { y, p };
    });
    const check = addCheckNumericsOps(g);
    const sess = new tf.Session({ graph: g });
    // x = 0 makes only the true branch infinite.
    expect(sess.runSync([r.y, check], { x: [0, 1], p: false })[0].values()).toEqual([0, 2]);
    expect(() => sess.runSync([r.y, check], { x: [0, 1], p: true })).toThrow(/log_branch:0 : Tensor had Inf/);
  });
});

describe("Session({ checkNumerics: true })", () => {
  function chain() {
    const x = tf.placeholder("float32", [2, 3], "x");
    const a = tf.mul(x, 2, "double");
    const b = tf.log(a, "log");
    const c = tf.mul(b, 3, "triple");
    return { loss: tf.reduceSum(c, undefined, false, "loss"), c };
  }

  for (const backend of ["interpreter", "js"] as const) {
    it(`names the first op producing NaN, with its inputs (${backend})`, () => {
      const { g, r } = fresh(chain);
      const data = randomData(6, 11, 0.1, 1);
      data[4] = -data[4];
      // Without the option the NaN flows to the loss silently.
      expect(Number.isNaN(new tf.Session({ graph: g, backend }).runSync(r.loss, { x: data }).scalar())).toBe(true);
      const sess = new tf.Session({ graph: g, backend, checkNumerics: true });
      const e = thrown(() => sess.runSync(r.loss, { x: data }));
      expect(e).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect((e as tf.errors.OpError).nodeName).toBe("log");
      expect(e.message).toContain("`log` (Log) is the first op of this run to produce NaN");
      expect(e.message).toContain("output 0 (`log:0`)");
      // log of the one negative input is the first NaN.
      expect(e.message).toContain(`index ${firstBadIndex(Array.from(data, (v) => Math.log(2 * v)), 3)}`);
      expect(e.message).toContain("input 0 `double:0` is finite");
      expect(e.message).toMatch(/Fix: .*epsilon/);
      // Finite data runs, with the same numbers as without the check.
      const ok = randomData(6, 12, 0.1, 1);
      expectClose(sess.runSync(r.c, { x: ok }).data, Array.from(ok, (v) => 3 * Math.log(2 * v)), 1e-5);
    });
  }

  it("says when a fed value was already non-finite", () => {
    const { g, r } = fresh(chain);
    const sess = new tf.Session({ graph: g, checkNumerics: true });
    const e = thrown(() => sess.runSync(r.loss, { x: [[1, 2, 3], [4, Infinity, 6]] }));
    expect((e as tf.errors.OpError).nodeName).toBe("double");
    expect(e.message).toContain("input 0 `x:0` (fed) has Inf (first at index [1, 1])");
    expect(e.message).toMatch(/Fix: the value fed for `x:0`/);
  });

  it("names a variable that already holds NaN", () => {
    const { g, r } = fresh(() => {
      const v = tf.getVariable("v", [2], { initializer: tf.initializers.zeros() });
      return { v, y: tf.mul(v, 2, "use_v") };
    });
    const sess = new tf.Session({ graph: g, checkNumerics: true });
    sess.setVariableValue("v", tf.ndarray([1, NaN], [2], "float32"));
    const e = thrown(() => sess.runSync(r.y));
    expect((e as tf.errors.OpError).nodeName).toBe("v");
    expect(e.message).toMatch(/re-initialize it or restore/);
  });

  it("does not change a training run", async () => {
    const build = () => {
      const x = tf.placeholder("float32", [4, 3], "x");
      const y = tf.placeholder("float32", [4, 1], "y");
      const out = tf.layers.dense(x, 1, { kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) });
      const loss = tf.reduceMean(tf.square(tf.sub(out, y)));
      const train = new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
      return { loss, train };
    };
    const losses = async (checkNumerics: boolean, backend?: "interpreter") => {
      const { g, r } = fresh(build);
      const sess = new tf.Session({ graph: g, checkNumerics, backend });
      await sess.run(g.asDefault(() => tf.globalVariablesInitializer()));
      const out: number[] = [];
      for (let step = 0; step < 5; step++) {
        const [loss] = await sess.run([r.loss, r.train], { x: randomData(12, step + 1), y: randomData(4, step + 9) });
        out.push(loss.scalar());
      }
      return out;
    };
    // checkNumerics runs on the interpreter: the same numbers to the bit; the default (wasm)
    // backend's kernels sum in another order.
    const checked = await losses(true);
    expect(checked).toEqual(await losses(false, "interpreter"));
    const compiled = await losses(false);
    checked.forEach((v, i) => expect(Math.abs(v - compiled[i])).toBeLessThanOrEqual(1e-6 * Math.abs(v)));
  });
});
