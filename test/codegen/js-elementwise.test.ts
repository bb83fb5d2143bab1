/**
 * The js backend's elementwise code: the expression table against the reference rows, and
 * every fusable op (alone, broadcast, fused into groups and epilogues) against the interpreter.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { binaryRows, gradientRows, unaryRows, binary, unary } from "../../ir/ops/elementwise";
import { addN } from "../../ir/ops/gradient-support";
import { binaryTemplates, templateOf, unaryTemplates } from "../../codegen/js/elementwise-templates";
import { randomData } from "../helpers/run";
import { compare, emittedTypes } from "./js-helpers";

const SAMPLES = [0, -0, 1, -1, 0.5, -2.75, 3, 6, 7.5, 1e-3, 1e30, -1e30, Infinity, -Infinity, NaN];

describe("expression templates", () => {
  it("has a template for every unary, binary and gradient row", () => {
    for (const row of unaryRows) expect(unaryTemplates[row.type], row.type).toBeDefined();
    for (const row of [...binaryRows, ...gradientRows]) expect(binaryTemplates[row.type], row.type).toBeDefined();
  });

  it("computes exactly what each reference row computes, NaN, ±0 and infinities included", () => {
    for (const row of unaryRows) {
      const f = new Function("x", `return ${unaryTemplates[row.type]("x")};`) as (x: number) => number;
      for (const x of SAMPLES) expect(Object.is(f(x), row.fn(x)) || (Number.isNaN(f(x)) && Number.isNaN(row.fn(x))), `${row.type}(${x})`).toBe(true);
    }
    for (const row of [...binaryRows, ...gradientRows]) {
      const f = new Function("a", "b", `return ${binaryTemplates[row.type]("a", "b")};`) as (a: number, b: number) => number;
      for (const a of SAMPLES)
        for (const b of SAMPLES) {
          const [got, want] = [f(a, b), row.fn(a, b)];
          expect(Object.is(got, want) || (Number.isNaN(got) && Number.isNaN(want)), `${row.type}(${a}, ${b})`).toBe(true);
        }
    }
  });

  it("knows the ops it does not fuse", () => {
    expect(templateOf("MatMul")).toBeUndefined();
    expect(templateOf("Relu")).toBeDefined();
  });
});

const positive = (n: number, seed: number) => randomData(n, seed, 0.1, 2);

describe("unary ops match the interpreter", () => {
  for (const row of unaryRows) {
    const domain = ["Sqrt", "Rsqrt", "Log", "Reciprocal"].includes(row.type);
    for (const shape of [[2, 3], [0, 4], [], [7]]) {
      it(`${row.type} on ${JSON.stringify(shape)}`, () => {
        const size = shape.reduce((a, b) => a * b, 1);
        const data = domain ? positive(size, 3) : randomData(size, 3, -4, 8);
        compare(() => unary(row.type, tf.placeholder("float32", shape, "x")), { feeds: { x: tf.ndarray(data, shape) }, emits: size > 0 ? [row.type] : [] });
      });
    }
  }
  it("int32 rows (Neg, Square, Abs, Relu, Relu6, Sign)", () => {
    const xs = tf.ndarray(Int32Array.from([-7, -1, 0, 1, 5, 9, 2147483647]), [7], "int32");
    for (const type of ["Neg", "Square", "Abs", "Relu", "Relu6", "Sign"])
      compare(() => unary(type, tf.placeholder("int32", [7], "x")), { feeds: { x: xs }, emits: [type] });
  });
});

describe("binary ops match the interpreter, with broadcasting", () => {
  const shapes: [number[], number[]][] = [
    [[2, 3], [2, 3]],
    [[2, 3], [3]],
    [[4, 1], [1, 5]],
    [[], [2, 3]],
    [[3, 1, 4], [2, 1]],
    [[2, 3, 4, 5], [3, 1, 1]],
    [[0, 3], [3]],
    [[1], [1]],
  ];
  for (const row of [...binaryRows, ...gradientRows]) {
    if ((row.dtypes ?? ["float32"]).every((d) => d === "bool")) continue;
    for (const [sa, sb] of shapes) {
      it(`${row.type} ${JSON.stringify(sa)} with ${JSON.stringify(sb)}`, () => {
        const size = (s: number[]) => s.reduce((a, b) => a * b, 1);
        const divides = ["RealDiv", "FloorDiv", "SqrtGrad", "Pow"].includes(row.type);
        const a = divides ? positive(size(sa), 5) : randomData(size(sa), 5, -3, 3);
        const b = divides ? positive(size(sb), 6) : randomData(size(sb), 6, -3, 3);
        // Equal values exercise comparisons' ties.
        if (a.length && b.length) a[0] = b[0];
        compare(() => binary(row.type, tf.placeholder("float32", sa, "a"), tf.placeholder("float32", sb, "b")), {
          feeds: { a: tf.ndarray(a, sa), b: tf.ndarray(b, sb) },
        });
      });
    }
  }
  it("int32 arithmetic wraps and floors like the reference", () => {
    const a = tf.ndarray(Int32Array.from([7, -7, 2147483647, 5, 0, -3]), [2, 3], "int32");
    const b = tf.ndarray(Int32Array.from([2, -3, 2]), [3], "int32");
    for (const type of ["AddV2", "Sub", "Mul", "FloorDiv", "Maximum", "Minimum", "Equal", "Less", "Greater"])
      compare(() => binary(type, tf.placeholder("int32", [2, 3], "a"), tf.placeholder("int32", [3], "b")), { feeds: { a, b }, emits: [type] });
  });
  it("logical ops on bool", () => {
    const a = tf.ndarray([[true, false], [true, true]]);
    const b = tf.ndarray([false, true]);
    for (const type of ["LogicalAnd", "LogicalOr", "Equal", "NotEqual"])
      compare(() => binary(type, tf.placeholder("bool", [2, 2], "a"), tf.placeholder("bool", [2], "b")), { feeds: { a, b }, emits: [type] });
  });
});

describe("other fusable ops", () => {
  it("SelectV2 broadcasts all three operands", () => {
    compare(
      () => tf.where(tf.greater(tf.placeholder("float32", [3, 1], "c"), 0), tf.placeholder("float32", [3, 4], "x"), tf.placeholder("float32", [4], "y")),
      { feeds: { c: tf.ndarray([1, -1, 2], [3, 1]), x: tf.ndarray(randomData(12, 2), [3, 4]), y: tf.ndarray(randomData(4, 3), [4]) }, emits: ["SelectV2", "Greater"] },
    );
  });
  it("Cast between every dtype pair", () => {
    const x = tf.ndarray(Float32Array.from([-2.7, -0.5, 0, 0.4, 3.9, NaN]), [6]);
    compare(
      () => {
        const f = tf.placeholder("float32", [6], "x");
        const i = tf.cast(f, "int32");
        const b = tf.cast(f, "bool");
        return [i, b, tf.cast(i, "float32"), tf.cast(b, "int32"), tf.cast(i, "bool"), tf.cast(b, "float32")];
      },
      { feeds: { x }, emits: ["Cast"] },
    );
  });
  it("AddN, BroadcastTo, Fill, ZerosLike, OnesLike", () => {
    compare(
      () => {
        const x = tf.placeholder("float32", [2, 3], "x");
        const sum = addN([x, tf.mul(x, 2), tf.square(x)]);
        const wide = tf.broadcastTo(tf.placeholder("float32", [3], "v"), [4, 2, 3]);
        return [sum, wide, tf.fill([2, 2], 1.5), tf.zerosLike(x), tf.onesLike(x)];
      },
      { feeds: { x: tf.ndarray(randomData(6, 1), [2, 3]), v: tf.ndarray([1, 2, 3]) }, emits: ["AddN", "BroadcastTo", "ZerosLike", "OnesLike"] },
    );
  });
  for (const format of ["NHWC", "NCHW"] as const)
    it(`BiasAdd ${format} on rank 4 and rank 2`, () => {
      compare(
        () => [
          tf.nn.biasAdd(tf.placeholder("float32", [2, 3, 4, 5], "x"), tf.placeholder("float32", [format === "NHWC" ? 5 : 3], "b"), format),
          tf.nn.biasAdd(tf.placeholder("float32", [4, 6], "y"), tf.constant(randomData(6, 9)), format),
        ],
        {
          feeds: { x: tf.ndarray(randomData(120, 1), [2, 3, 4, 5]), b: tf.ndarray(randomData(format === "NHWC" ? 5 : 3, 2)), y: tf.ndarray(randomData(24, 3), [4, 6]) },
          emits: ["BiasAdd"],
        },
      );
    });
});

describe("fusion", () => {
  it("fuses a chain of same-shaped elementwise ops into one step, storing what is read later", () => {
    const { program } = compare(
      () => {
        const x = tf.placeholder("float32", [8, 16], "x");
        const mean = tf.reduceMean(x, 1, true);
        const a = tf.mul(x, tf.placeholder("float32", [16], "scale"));
        const b = tf.add(a, 1, "b");
        const c = tf.nn.relu(b);
        const d = tf.sub(c, mean);
        return [d, b];
      },
      { feeds: { x: tf.ndarray(randomData(128, 4), [8, 16]), scale: tf.ndarray(randomData(16, 5)) } },
    );
    const groups = program.analysis.steps.filter((s) => s.kind === "ops" && s.elementwise);
    expect(groups.some((s) => s.kind === "ops" && s.ops.length >= 3)).toBe(true);
    // `a` and `c` are read only inside the group: they live in no array.
    const fusedAway = [...program.analysis.storage.values()].filter((s) => s.kind === "none").length;
    expect(fusedAway).toBeGreaterThanOrEqual(2);
  });

  it("runs BiasAdd and Relu as MatMul's epilogue", () => {
    const { program } = compare(
      () => tf.nn.relu(tf.nn.biasAdd(tf.matmul(tf.placeholder("float32", [5, 7], "x"), tf.constant(randomData(21, 3), [7, 3])), tf.constant([0.1, -0.2, 0.3]))),
      { feeds: { x: tf.ndarray(randomData(35, 1), [5, 7]) } },
    );
    const step = program.analysis.steps.find((s) => s.kind === "ops" && s.producer);
    expect(step && step.kind === "ops" && step.producer!.type).toBe("MatMul");
    expect(step && step.kind === "ops" && step.ops.map((o) => o.type)).toEqual(["BiasAdd", "Relu"]);
  });

  it("does not fuse a product whose value is also read elsewhere", () => {
    const { program } = compare(
      () => {
        const y = tf.matmul(tf.placeholder("float32", [3, 4], "x"), tf.constant(randomData(8, 3), [4, 2]));
        return [tf.nn.relu(y), tf.reduceSum(y)];
      },
      { feeds: { x: tf.ndarray(randomData(12, 1), [3, 4]) } },
    );
    expect(program.analysis.steps.some((s) => s.kind === "ops" && s.producer)).toBe(false);
    expect(emittedTypes(program)).toContain("MatMul");
  });
});
