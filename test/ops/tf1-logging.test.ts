/**
 * Assert and Print (TF's logging_ops) and the check_ops built on Assert: failing and passing
 * runs under controlDependencies, TF1's message format (Tensor::SummarizeValue), Print's
 * stderr output and first_n, build-time failures of constant checks, and the same behavior
 * on the default (wasm) backend as on the interpreter.
 */
import { afterEach, beforeEach, describe, expect, it, vi, type MockInstance } from "vitest";
import * as tf from "foldflow";
import { summarizeValue } from "../../ir/ops/logging";
import { expectInvalid, inGraph } from "./array-helpers";

const BACKENDS = ["interpreter", undefined] as const;
const label = (b: (typeof BACKENDS)[number]) => b ?? "default backend";

let stderr: MockInstance<typeof process.stderr.write>;
beforeEach(() => {
  stderr = vi.spyOn(process.stderr, "write").mockImplementation(() => true);
});
afterEach(() => stderr.mockRestore());
const written = () => stderr.mock.calls.map((c) => String(c[0]));

describe("summarizeValue (TF's Tensor::SummarizeValue)", () => {
  const nd = (values: number[], shape: number[], dtype: tf.DType = "float32") => tf.ndarray(values, shape, dtype);
  it("writes floats as %g with 6 digits, or 9 when 6 do not give the float back", () => {
    expect(summarizeValue(nd([0.1, 1 / 3, 1e-5, 1234567, 2.5e10, -0.5], [6]), -1)).toBe("0.1 0.333333343 1e-05 1234567 2.5e+10 -0.5");
    expect(summarizeValue(nd([NaN, Infinity, -Infinity, 0], [4]), -1)).toBe("nan inf -inf 0");
    expect(summarizeValue(nd([100000, 1000000, 0.0001, 0.00001234], [4]), -1)).toBe("100000 1e+06 0.0001 1.234e-05");
  });
  it("writes ints and bools (1/0), and scalars bare", () => {
    expect(summarizeValue(nd([-3, 7], [2], "int32"), 3)).toBe("-3 7");
    expect(summarizeValue(nd([1, 0, 1], [3], "bool"), 3)).toBe("1 0 1");
    expect(summarizeValue(nd([4.5], []), 3)).toBe("4.5");
  });
  it("brackets rows and marks what it left out", () => {
    const cube = nd([1, 2, 3, 4, 5, 6, 7, 8], [2, 2, 2], "int32");
    expect(summarizeValue(cube, 3)).toBe("[[1 2][3...]]...");
    expect(summarizeValue(cube, -1)).toBe("[[1 2][3 4]][[5 6][7 8]]");
    expect(summarizeValue(nd([1, 2, 3, 4, 5, 6], [2, 3], "int32"), 3)).toBe("[1 2 3]...");
    expect(summarizeValue(nd([1, 2, 3, 4], [4], "int32"), 2)).toBe("1 2...");
    expect(summarizeValue(nd([], [0]), 3)).toBe("");
  });
});

describe("Assert", () => {
  function build() {
    const g = new tf.Graph();
    const { y, check } = g.asDefault(() => {
      const x = tf.placeholder("float32", [null], "x");
      const check = tf.Assert(tf.reduceAll(tf.greater(x, 0)), ["x must be positive:", x, "count", tf.size(x)], 2);
      const y = tf.controlDependencies([check], () => tf.log(x, "y"));
      return { y, check };
    });
    return { g, y, check };
  }

  it("is a stateful op with no outputs, named like TF1's, keeping its strings as attributes", () => {
    const { check } = build();
    expect([check.name, check.type, check.outputs.length]).toEqual(["Assert/Assert", "Assert", 0]);
    expect(check.attrs).toMatchObject({ T: ["float32", "int32"], summarize: 2, _string_data: ["x must be positive:", "count"], _string_positions: [0, 2] });
    expect(tf.getDefaultGraph().asDefault(() => tf.Assert(true, []).name)).toMatch(/^Assert(_\d+)?\/Assert$/);
  });

  for (const backend of BACKENDS) {
    it(`passes and fails inside controlDependencies (${label(backend)})`, () => {
      const { g, y } = build();
      const sess = new tf.Session({ graph: g, backend });
      expect(sess.runSync(y, { x: [1, 1] }).values()).toEqual([0, 0]);
      const e = expectInvalid(() => sess.runSync(y, { x: [3, -1, 4] }), "Assert/Assert", "assertion failed: [x must be positive:] [3 -1...] [count] [3]");
      expect(e.errorCode).toBe("assertion-failed");
      // Only a run that needs the assert checks it.
      expect(sess.runSync(g.getTensorByName("x:0"), { x: [-1] }).values()).toEqual([-1]);
    });
  }

  it("rejects a condition that is not a bool scalar, statically and at run time", () => {
    expectInvalid(() => inGraph(() => tf.Assert(tf.constant([1], [1]), [])), "Assert/Assert", "bool scalar");
    expectInvalid(() => inGraph(() => tf.Assert(tf.constant([true, false], [2], "bool"), [])), "Assert/Assert", "bool scalar");
    const g = new tf.Graph();
    const op = g.asDefault(() => tf.Assert(tf.placeholder("bool", [null], "c"), [], 3, "check"));
    expectInvalid(() => new tf.Session({ graph: g }).runSync(op, { c: [true, true] }), "check/Assert", "In[0] should be a scalar");
  });
});

describe("Print", () => {
  for (const backend of BACKENDS)
    it(`writes the message and its data to stderr, and passes its input through (${label(backend)})`, () => {
      const g = new tf.Graph();
      const y = g.asDefault(() => {
        const x = tf.placeholder("float32", [2, 3], "x");
        const p = tf.Print(x, ["x is", x, tf.reduceSum(x)], "step: ", { summarize: 4 });
        expect([p.op.type, p.op.name, p.shape]).toEqual(["Print", "Print", [2, 3]]);
        return tf.mul(p, 2);
      });
      const out = new tf.Session({ graph: g, backend }).runSync(y, { x: [[1, 2, 3], [4, 5, 6.5]] });
      expect(out.values()).toEqual([2, 4, 6, 8, 10, 13]);
      expect(written()).toEqual(["step: [x is][[1 2 3][4...]...][21.5]\n"]);
    });

  for (const backend of BACKENDS)
    it(`prints only the first first_n runs of a session (${label(backend)})`, () => {
      const g = new tf.Graph();
      const y = g.asDefault(() => {
        const n = tf.placeholder("int32", [], "n");
        return tf.Print(n, [n], "n=", { firstN: 2 });
      });
      const sess = new tf.Session({ graph: g, backend });
      for (const n of [1, 2, 3]) expect(sess.runSync(y, { n }).scalar()).toBe(n);
      expect(written()).toEqual(["n=[1]\n", "n=[2]\n"]);
    });

  it("is not folded away when its input is constant", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => tf.identity(tf.Print(tf.constant([1, 2], [2]), [], "constant input")));
    new tf.Session({ graph: g }).runSync(y);
    new tf.Session({ graph: g }).runSync(y);
    expect(written()).toEqual(["constant input\n", "constant input\n"]);
  });
});

describe("check_ops (tf.assertEqual, tf.assertPositive ...)", () => {
  function check(build: (x: tf.Tensor, y: tf.Tensor) => tf.Operation, xs: number[], ys: number[], backend?: "interpreter") {
    const g = new tf.Graph();
    const op = g.asDefault(() => build(tf.placeholder("float32", [null], "x"), tf.placeholder("float32", [null], "y")));
    return () => new tf.Session({ graph: g, backend }).runSync(op, { x: xs, y: ys });
  }

  for (const backend of BACKENDS)
    it(`fail with TF1's data and pass otherwise (${label(backend)})`, () => {
      expect(check((x, y) => tf.assertEqual(x, y), [1, 2], [1, 2], backend)()).toBeNull();
      expectInvalid(check((x, y) => tf.assertEqual(x, y, { message: "mismatch" }), [1, 2, 3, 4], [1, 2, 3, 5], backend), "assert_equal/Assert/Assert",
        "assertion failed: [mismatch] [Condition x == y did not hold element-wise:] [x (x:0) = ] [1 2 3...] [y (y:0) = ] [1 2 3...]");
      expectInvalid(check((x, y) => tf.assertLess(x, y, { summarize: 1 }), [1, 5], [2, 3], backend), "assert_less/Assert/Assert", "[] [Condition x < y did not hold element-wise:] [x (x:0) = ] [1...]");
      expect(check((x, y) => tf.assertLessEqual(x, y), [1, 3], [1, 3], backend)()).toBeNull();
      expectInvalid(check((x, y) => tf.assertGreater(x, y), [1, 3], [1, 2], backend), "assert_greater/Assert/Assert", "Condition x > y");
      expectInvalid(check((x, y) => tf.assertGreaterEqual(x, y), [0], [1], backend), "assert_greater_equal/Assert/Assert", "Condition x >= y");
    });

  it("the sign checks compare with a zero of x's dtype, inside their own scope", () => {
    expectInvalid(check((x) => tf.assertPositive(x, { message: "pos" }), [1, 0], []), "assert_positive/assert_less/Assert/Assert", "[pos] [Condition x > 0 did not hold element-wise:] [x (x:0) = ] [1 0]");
    expect(check((x) => tf.assertNonNegative(x), [1, 0], [])()).toBeNull();
    expectInvalid(check((x) => tf.assertNegative(x), [-1, 0], []), "assert_negative/assert_less/Assert/Assert", "Condition x < 0");
    expectInvalid(check((x) => tf.assertNonPositive(x), [2], []), "assert_non_positive/assert_less_equal/Assert/Assert", "Condition x <= 0");
    const n = new tf.Graph().asDefault(() => tf.assertPositive(tf.placeholder("int32", [2], "n")));
    expect(n.inputs.slice(1).map((t) => t.dtype)).toEqual(["int32"]);
  });

  it("constant operands are checked while building, as TF1 does", () => {
    inGraph(() => {
      expect(tf.assertEqual(tf.constant([1, 2], [2]), tf.constant([1, 2], [2])).type).toBe("Assert");
      expectInvalid(() => tf.assertEqual(tf.constant([1, 2], [2]), [1, 3], { message: "static" }), "assert_equal_1", "static\nCondition x == y did not hold element-wise:", "[1 3]");
      expectInvalid(() => tf.assertPositive(tf.constant([-1], [1])), "assert_positive/assert_less", "Condition x > 0");
    });
  });

  it("are also tf.debugging's, with Assert and Print", () => {
    expect(tf.debugging.assertEqual).toBe(tf.assertEqual);
    expect(tf.debugging.Assert).toBe(tf.Assert);
    expect(tf.debugging.Print).toBe(tf.Print);
  });
});
