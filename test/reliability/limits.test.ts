import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { fromText } from "../../ir/graphdef/read";
import type { GraphDef } from "../../ir/graphdef/model";
import { checkFeedLimits, DEFAULT_LIMITS, resolveLimits } from "../../src/limits";

const floatConst = (name: string, tensor: string) =>
  `node { name: "${name}" op: "Const" attr { key: "dtype" value { type: DT_FLOAT } } attr { key: "value" value { tensor { dtype: DT_FLOAT ${tensor} } } } }\n`;
const shape = (...dims: number[]) => `tensor_shape { ${dims.map((d) => `dim { size: ${d} }`).join(" ")} }`;

function thrown(fn: () => unknown): Error {
  try {
    fn();
  } catch (e) {
    return e as Error;
  }
  throw new Error("expected an error");
}

function expectExhausted(fn: () => unknown, ...parts: (string | RegExp)[]): tf.errors.OpError {
  const e = thrown(fn);
  expect(e, e.stack).toBeInstanceOf(tf.errors.ResourceExhaustedError);
  for (const p of parts) expect(e.message).toMatch(p);
  return e as tf.errors.OpError;
}

/** The text of a GraphDef with `n` float Consts of one value each. */
const consts = (n: number) => Array.from({ length: n }, (_, i) => floatConst(`c${i}`, `${shape()} float_val: ${i}`)).join("");

describe("limits: defaults and options", () => {
  it("has the documented defaults", () => {
    expect({ ...DEFAULT_LIMITS }).toEqual({ maxElements: 1e8, maxTotalBytes: 2 ** 31, maxNestingDepth: 100, maxNodes: 1e6 });
    expect(resolveLimits({ maxNodes: 5 })).toEqual({ ...DEFAULT_LIMITS, maxNodes: 5 });
    expect(resolveLimits({ maxElements: Infinity }).maxElements).toBe(Infinity);
  });

  it("refuses a limit that is not a positive number, or an unknown one", () => {
    expect(() => resolveLimits({ maxNodes: -1 })).toThrow(tf.errors.InvalidArgumentError);
    expect(() => resolveLimits({ maxNodes: Number.NaN })).toThrow(/maxNodes/);
    expect(() => resolveLimits({ maxNode: 3 } as never)).toThrow(/unknown limit `maxNode`/);
  });
});

describe("limits: constants are refused before they are decoded", () => {
  it("a Const declaring 1e10 elements with one float_val", () => {
    const text = floatConst("huge", `${shape(100000, 100000)} float_val: 1`);
    const started = Date.now();
    // Decoding would try to allocate 40 GB; the refusal comes from the declared shape alone.
    const e = expectExhausted(() => tf.importGraphDef(text), /`huge`/, /\[100000, 100000\]/, /10000000000 elements/, /limit of 100000000/, /maxElements: 10000000000/);
    expect(e.nodeName).toBe("huge");
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it("honours a configured maxElements for tensor_content and *_val alike", () => {
    const content = floatConst("c", `${shape(3)} tensor_content: "\\000\\000\\200?\\000\\000\\000@\\000\\000@@"`);
    expectExhausted(() => tf.importGraphDef(content, { limits: { maxElements: 2 } }), /`c`/, /3 elements/, /limit of 2/);
    const g = tf.importGraphDef(content, { limits: { maxElements: 3 } });
    expect((g.getOperationByName("c").attrs.value as tf.NDArray).values()).toEqual([1, 2, 3]);

    const filled = floatConst("f", `${shape(1000, 1000)} float_val: 0.5`);
    expectExhausted(() => tf.importGraphDef(filled, { limits: { maxElements: 1e5 } }), /`f`/);
    const big = tf.importGraphDef(filled, { limits: { maxElements: 1e6 } }).getOperationByName("f").attrs.value as tf.NDArray;
    expect(big.size).toBe(1e6);
    expect(big.data[999999]).toBe(0.5);
  });

  it("refuses constants over maxTotalBytes together, naming where the limit is passed", () => {
    const text = floatConst("a", `${shape(1000)} float_val: 1`) + floatConst("b", `${shape(1000)} float_val: 2`);
    const e = expectExhausted(() => tf.importGraphDef(text, { limits: { maxTotalBytes: 6000 } }), /8000 bytes/, /limit of 6000 bytes/, /maxTotalBytes: 8000/);
    expect(e.nodeName).toBe("b");
    expect(tf.importGraphDef(text, { limits: { maxTotalBytes: 8000 } }).operations.length).toBe(2);
  });

  it("checks GraphDef objects too, and tensors in attribute lists", () => {
    const graphDef: GraphDef = {
      node: [{ name: "k", op: "Const", input: [], attr: { dtype: { type: "DT_FLOAT" }, value: { tensor: { dtype: "DT_FLOAT", tensorShape: { dim: [{ size: 10 }, { size: 10 }] }, floatVal: [1] } } } }],
    };
    expectExhausted(() => tf.importGraphDef(graphDef, { limits: { maxElements: 99 } }), /`k`/);
    expect(tf.importGraphDef(graphDef, { limits: { maxElements: 100 } }).operations.length).toBe(1);
    const listed: GraphDef = {
      node: [{ name: "l", op: "NoOp", input: [], attr: { _t: { list: { tensor: [{ dtype: "DT_INT32", tensorShape: { dim: [{ size: 1e9 }] }, intVal: [0] }] } } } }],
    };
    expectExhausted(() => tf.importGraphDef(listed), /`l`/, /1000000000 elements/);
  });
});

describe("limits: node count", () => {
  it("refuses text with more nodes than maxNodes, at the line of the first one too many", () => {
    const text = consts(11);
    const e = expectExhausted(() => tf.importGraphDef(text, { limits: { maxNodes: 10 } }), /line 11, column 1/, /11 nodes/, /limit of 10/, /maxNodes: 11/);
    expect(e.errorCode).toBe("limit-nodes");
    expect(tf.importGraphDef(text, { limits: { maxNodes: 11 } }).operations.length).toBe(11);
  });

  it("counts nodes written as a list and refuses GraphDef objects with too many", () => {
    const listed = `node: [${Array.from({ length: 4 }, (_, i) => `{ name: "n${i}" op: "NoOp" }`).join(", ")}]`;
    expectExhausted(() => fromText(listed, "listed.pbtxt", { limits: { maxNodes: 3 } }), /listed\.pbtxt: line 1/, /4 nodes/);
    const graphDef = fromText(consts(5));
    const e = expectExhausted(() => tf.importGraphDef(graphDef, { limits: { maxNodes: 4 } }), /5 nodes/);
    expect(e.nodeName).toBe("c4");
  });
});

describe("limits: text nesting", () => {
  const deep = (depth: number) => `${"a { ".repeat(depth)}${"}".repeat(depth)}`;

  it("a 100,000-deep text gives a named error, not a stack overflow", () => {
    // The 101st "{" is where the limit is passed.
    const column = deep(101).lastIndexOf("{") + 1;
    const e = expectExhausted(() => tf.importGraphDef(deep(100000)), new RegExp(`line 1, column ${column}:`), /100000 levels deep/, /limit of 100/, /maxNestingDepth: 100000/);
    expect(e.errorCode).toBe("limit-nesting-depth");
    // Line 2 holds levels 2..201: the 100th "attr <" on it opens level 101.
    const line2 = `  ${"attr < ".repeat(200)}${"> ".repeat(200)}}`;
    const at = line2.split("<", 100).join("<").length + 1;
    expectExhausted(() => fromText(`node {\n${line2}`, "model.pbtxt"), new RegExp(`model\\.pbtxt: line 2, column ${at}:`), /201 levels deep/);
  });

  it("allows nesting up to the limit, and a raised limit", () => {
    // depth 100 reaches the parser (and fails there on the unknown field, not on the limit)
    expect(thrown(() => fromText(deep(100)))).toBeInstanceOf(tf.errors.InvalidArgumentError);
    expectExhausted(() => fromText(deep(101)), /101 levels/);
    expect(thrown(() => fromText(deep(150), "t", { limits: { maxNestingDepth: 200 } }))).toBeInstanceOf(tf.errors.InvalidArgumentError);
  });

  it("turns a parser stack overflow under a raised limit into a named error", () => {
    const e = expectExhausted(() => fromText(deep(20000), "t", { limits: { maxNestingDepth: Infinity } }), /deeper than the parser's JavaScript stack allows/);
    expect(e.errorCode).toBe("limit-stack");
  });

  it("ignores braces inside strings and comments", () => {
    const name = "{".repeat(300);
    const text = `# ${"{".repeat(300)}\nnode { name: "${name}" op: "NoOp" attr { key: "s" value { s: '<<<<\\'{{' } } }\n`;
    const g = tf.importGraphDef(text);
    expect(g.operations.map((o) => o.name)).toEqual([name]);
  });
});

describe("limits: session feeds", () => {
  function graph() {
    const g = new tf.Graph();
    const y = g.asDefault(() => tf.mul(tf.placeholder("float32", [null], "x"), 2));
    return { g, y };
  }

  it("refuses a feed over maxElements in every form, naming the feed", () => {
    const { g, y } = graph();
    const sess = new tf.Session({ graph: g, limits: { maxElements: 100 } });
    const values = Array.from({ length: 101 }, (_, i) => i);
    for (const feed of [new Float32Array(101), values, tf.ndarray(values, [101], "float32")]) {
      const e = expectExhausted(() => sess.runSync(y, { x: feed }), /`x`/, /101 elements/, /limit of 100/, /limits: \{ maxElements: 101 \}/);
      expect(e.nodeName).toBe("x");
    }
    expect(sess.runSync(y, { x: values.slice(0, 100) }).size).toBe(100);
    // With a Map the key is named by the tensor's name.
    const x = g.getTensorByName("x:0");
    expectExhausted(() => sess.runSync(y, new Map([[x, new Float32Array(500)]])), /`x:0`/);
  });

  it("refuses feeds over maxTotalBytes together and rejects the run's promise", async () => {
    const g = new tf.Graph();
    const sum = g.asDefault(() => tf.add(tf.placeholder("float32", [null], "a"), tf.placeholder("float32", [null], "b")));
    const sess = new tf.Session({ graph: g, limits: { maxTotalBytes: 4000 } });
    expect(sess.runSync(sum, { a: new Float32Array(500), b: new Float32Array(500) }).size).toBe(500);
    await expect(sess.run(sum, { a: new Float32Array(600), b: new Float32Array(600) })).rejects.toThrow(/4800 bytes/);
    expect(() => checkFeedLimits({ a: [[1, 2], [3, 4]] }, resolveLimits({ maxElements: 3 }))).toThrow(/4 elements/);
  });
});
