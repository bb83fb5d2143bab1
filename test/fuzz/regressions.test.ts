/**
 * One regression test per bug the fuzzers (test/fuzz/*.fuzz.test.ts) found: each input here
 * used to throw a raw TypeError / RangeError / SyntaxError, hang, run out of memory, or be
 * silently accepted, and must now give the result or a named tf.errors.* error.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { closestNames } from "../../ir/diagnostics";
import { checkGraphDefLimits } from "../../ir/graphdef/limits";
import { formatFloat32 } from "../../ir/graphdef/text-scalars";
import { toText } from "../../ir/graphdef/write";
import type { GraphDef } from "../../ir/graphdef/model";
import { dce } from "../../passes/dce";

/** Runs `f` and returns what it threw (failing when it throws nothing). */
function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

/** Expects `f` to throw `kind` whose message names `node`. */
function expectNamedError(f: () => unknown, kind: new (...args: never[]) => Error, node: string): void {
  const e = thrown(f);
  expect(e, e.stack).toBeInstanceOf(kind);
  expect(e.message).toContain(node);
}

const placeholder = (name: string, dtype = "DT_FLOAT", dims = "dim { size: 2 }") =>
  `node { name: "${name}" op: "Placeholder" attr { key: "dtype" value { type: ${dtype} } } attr { key: "shape" value { shape { ${dims} } } } }\n`;

describe("fuzz regressions: GraphDef text", () => {
  it("writes a float attribute beyond float32's range as inf (it threw a SyntaxError from BigInt)", () => {
    expect(formatFloat32(1e300)).toBe("inf");
    expect(formatFloat32(-1e39)).toBe("-inf");
    expect(formatFloat32(3.4028235e38)).toBe("3.4028235e+38");
    const g: GraphDef = { node: [{ name: "a", op: "NoOp", input: [], attr: { x: { f: 1e300 } } }] };
    expect(toText(g)).toContain("f: inf");
  });

  it("treats op types and dtypes named like Object.prototype members as unknown (a TypeError before)", () => {
    for (const op of ["constructor", "toString", "__proto__", "hasOwnProperty"])
      expectNamedError(() => tf.importGraphDef(`node { name: "x" op: "${op}" }`), tf.errors.NotFoundError, "x");
    const tensor = (dtype: string) =>
      `node { name: "c" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "value" value { tensor { dtype: ${dtype} tensor_shape { dim { size: 2 } } float_val: 1 } } } }`;
    for (const dtype of ["constructor", "toString", "valueOf"]) {
      const e = thrown(() => tf.importGraphDef(tensor(dtype)));
      expect(e, e.stack).toBeInstanceOf(tf.errors.OpError);
      expect(e.message).toContain("c");
    }
    expectNamedError(() => tf.importGraphDef(placeholder("p", "toString")), tf.errors.OpError, "p");
  });

  it("counts the bytes of a tensor of an unknown dtype against maxTotalBytes (its NaN size turned the limit off)", () => {
    const tensor = (name: string, dtype: string) => ({ name, op: "Const", input: [], attr: { value: { tensor: { dtype, tensorShape: { dim: [{ size: 100 }] } } } } });
    const g: GraphDef = { node: [tensor("a", "constructor"), tensor("b", "DT_FLOAT")] };
    expectNamedError(() => checkGraphDefLimits(g, { maxTotalBytes: 500 }), tf.errors.ResourceExhaustedError, "b");
  });

  it("refuses Merge, AddN and ConcatOffset without inputs, and Merge of mixed dtypes (TypeErrors before)", () => {
    for (const op of ["Merge", "AddN"]) expectNamedError(() => tf.importGraphDef(`node { name: "m" op: "${op}" }`), tf.errors.InvalidArgumentError, "m");
    expectNamedError(() => tf.importGraphDef(`node { name: "m" op: "ConcatOffset" attr { key: "N" value { i: 2 } } }`), tf.errors.InvalidArgumentError, "m");
    const mixed = placeholder("a") + placeholder("b", "DT_INT32") + `node { name: "m" op: "Merge" input: "a" input: "b" }`;
    expectNamedError(() => tf.importGraphDef(mixed), tf.errors.InvalidArgumentError, "m");
  });

  it("refuses a TF1 Select without its three inputs (a TypeError in the lowering before)", () => {
    const text = placeholder("c", "DT_BOOL") + `node { name: "s" op: "Select" input: "c" }`;
    expectNamedError(() => tf.importGraphDef(text), tf.errors.InvalidArgumentError, "s");
  });

  it("refuses Split / Unpack output counts that are negative or huge (a RangeError, or an out-of-memory crash)", () => {
    const split = (n: number) =>
      `node { name: "d" op: "Const" attr { key: "dtype" value { type: DT_INT32 } } attr { key: "value" value { tensor { dtype: DT_INT32 int_val: 0 } } } }\n` +
      placeholder("x", "DT_FLOAT", "unknown_rank: true") +
      `node { name: "s" op: "Split" input: "d" input: "x" attr { key: "num_split" value { i: ${n} } } }`;
    for (const n of [-1, 0, 2147483647]) expectNamedError(() => tf.importGraphDef(split(n)), tf.errors.InvalidArgumentError, "s");
    const unpack = placeholder("x", "DT_FLOAT", "unknown_rank: true") + `node { name: "u" op: "Unpack" input: "x" attr { key: "num" value { i: -3 } } }`;
    expectNamedError(() => tf.importGraphDef(unpack), tf.errors.InvalidArgumentError, "u");
  });

  it("refuses a shape-like input whose static length is above 254 dims (shape inference allocated that many: out of memory)", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      const huge = tf.placeholder("int32", [2147483647], "huge");
      expectNamedError(() => tf.reshape(x, huge, "r"), tf.errors.InvalidArgumentError, "r");
      expectNamedError(() => tf.fill(huge, 1, "f"), tf.errors.InvalidArgumentError, "f");
      expectNamedError(() => tf.tile(tf.placeholder("float32", null, "u"), huge, "t"), tf.errors.InvalidArgumentError, "t");
      expectNamedError(() => tf.broadcastTo(x, huge, "b"), tf.errors.InvalidArgumentError, "b");
    });
    const text = placeholder("huge", "DT_INT32", "dim { size: 2147483647 }") + `node { name: "r" op: "RandomUniform" input: "huge" attr { key: "dtype" value { type: DT_FLOAT } } }`;
    expectNamedError(() => tf.importGraphDef(text), tf.errors.InvalidArgumentError, "r");
  });

  it("refuses node names that no input can refer to (they imported, and the graph's own text did not import again)", () => {
    for (const name of ["^x", "x:1", ""]) {
      const e = thrown(() => tf.importGraphDef(`node { name: "${name}" op: "NoOp" }`));
      expect(e).toBeInstanceOf(tf.errors.InvalidArgumentError);
      expect((e as InstanceType<typeof tf.errors.OpError>).errorCode).toBe("bad-node-name");
    }
  });

  it("gives no suggestions for very long names, quickly (the edit distance took minutes on a 100 kB name)", () => {
    const name = "n".repeat(100_000);
    const text = `node { name: "${name}" op: "NoOp" } node { name: "y" op: "NoOp" input: "^${name.slice(0, -1)}m" } node { name: "z" op: "${"Op".repeat(50_000)}" }`;
    const t0 = performance.now();
    expectNamedError(() => tf.importGraphDef(text), tf.errors.NotFoundError, "y");
    expect(performance.now() - t0).toBeLessThan(2000);
    expect(closestNames("a".repeat(300), ["a".repeat(300)])).toEqual([]);
    expect(closestNames("dense/BiasAd", ["dense/BiasAdd", "x".repeat(10_000)])).toEqual(["dense/BiasAdd"]);
  });
});

describe("fuzz regressions: running", () => {
  it("refuses a random op's shape that is not int32 or has negative sizes (a run then hung on 2^32 elements)", () => {
    const shape = (dtype: string, values: string) =>
      `node { name: "s" op: "Const" attr { key: "dtype" value { type: ${dtype} } } attr { key: "value" value { tensor { dtype: ${dtype} tensor_shape { dim { size: 2 } } ${values} } } } }\n`;
    const op = (type: string) => `node { name: "r" op: "${type}" input: "s" attr { key: "dtype" value { type: DT_FLOAT } } }`;
    for (const type of ["TruncatedNormal", "RandomUniform", "RandomStandardNormal"]) {
      expectNamedError(() => tf.importGraphDef(shape("DT_FLOAT", "float_val: -2 float_val: -2147483600") + op(type)), tf.errors.InvalidArgumentError, "r");
      expectNamedError(() => tf.importGraphDef(shape("DT_INT32", "int_val: 2 int_val: -1") + op(type)), tf.errors.InvalidArgumentError, "r");
    }
  });

  it("the js backend reports a buffer too large for a typed array as a tf.errors.* (a raw RangeError)", () => {
    const g = new tf.Graph();
    const out = g.asDefault(() => tf.fill(tf.constant(Int32Array.from([65536, 65537]), [2], "int32"), tf.constant(1, [], "float32"), "big"));
    for (const backend of ["interpreter", "js"] as const) expectNamedError(() => new tf.Session({ graph: g, backend }).runSync(out), tf.errors.OpError, "big");
  });
});

describe("fuzz regressions: passes", () => {
  it("DCE keeps an Identity of a placeholder that ops wait on (they would wait on the placeholder, which fails when fed)", () => {
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2], "x");
      const read = tf.identity(x, "read");
      tf.controlDependencies([read.op], () => tf.add(x, 1, "out"));
    });
    const after = dce(g, { outputs: ["out"] }).graph;
    const feeds = { x: tf.ndarray([1, 2], [2]) };
    const expected = new tf.Session({ graph: g, backend: "interpreter" }).runSync("out:0", feeds);
    const actual = new tf.Session({ graph: after, backend: "interpreter" }).runSync("out:0", feeds);
    expect(Array.from(actual.data)).toEqual(Array.from(expected.data));
    expect(after.getOperationByName("out").controlInputs.map((o) => o.name)).toEqual(["read"]);
  });
});

describe("fuzz regressions: feeds", () => {
  const feed = (dtype: tf.DType, shape: (number | null)[] | null, value: unknown): tf.NDArray => {
    const g = new tf.Graph();
    const out = g.asDefault(() => tf.identity(tf.placeholder(dtype, shape, "x"), "out"));
    return new tf.Session({ graph: g, backend: "interpreter" }).runSync(out, { x: value as tf.FeedValue });
  };
  const refused = (dtype: tf.DType, shape: (number | null)[] | null, value: unknown) => expectNamedError(() => feed(dtype, shape, value), tf.errors.InvalidArgumentError, "x:0");

  it("refuses ragged rows, holes and scalars beside arrays, naming the feed (some were accepted, some errors named nothing)", () => {
    refused("float32", null, [1, [2]]);
    refused("float32", null, [[], 1]);
    refused("float32", null, [[1, 2], [3]]);
    // eslint-disable-next-line no-sparse-arrays
    refused("float32", [3], [1, , 3]);
    refused("float32", null, [[], [[]]]);
    expect(feed("float32", null, [[], []]).shape).toEqual([2, 0]);
  });

  it("refuses elements that are not numbers or booleans (read as NaN or 0, or a TypeError for symbols and BigInts)", () => {
    for (const v of ["1", null, undefined, {}, new Date(0), () => 1, 1n, Symbol("s"), [new Float32Array(1)]]) refused("float32", null, v);
    refused("bool", [1], [null]);
    expect(thrown(() => tf.ndarray(["a"] as unknown as number[]))).toBeInstanceOf(tf.errors.InvalidArgumentError);
  });

  it("refuses arrays nested deeper than 254 levels (a RangeError: call stack, for 10000)", () => {
    const deep = (n: number) => {
      let v: unknown = 1;
      for (let i = 0; i < n; i++) v = [v];
      return v;
    };
    refused("float32", null, deep(100_000));
    refused("float32", null, deep(255));
    expect(feed("float32", null, deep(254)).shape).toHaveLength(254);
  });

  it("refuses int32 values outside int32's range (they wrapped around silently)", () => {
    refused("int32", [], 2 ** 31);
    refused("int32", [1], [-(2 ** 31) - 1]);
    refused("int32", [], 1e300);
    expect(Array.from(feed("int32", [2], [2 ** 31 - 1, -(2 ** 31)]).data)).toEqual([2 ** 31 - 1, -(2 ** 31)]);
  });

  it("reads a Uint8Array fed to a bool tensor as true / false (a 2 stayed 2)", () => {
    expect(Array.from(feed("bool", [3], Uint8Array.from([0, 2, 255])).data)).toEqual([0, 1, 1]);
  });

  it("refuses BigInt arrays and DataViews, naming the feed (a TypeError, or an error naming nothing)", () => {
    refused("float32", null, new BigInt64Array(2));
    refused("float32", null, new BigUint64Array(2));
    refused("float32", null, new DataView(new ArrayBuffer(8)));
  });
});
