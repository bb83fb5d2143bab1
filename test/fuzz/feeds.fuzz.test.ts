/**
 * Fuzzing Session.run's feeds: a placeholder of random dtype and declared shape (known,
 * partly unknown, unknown rank), fed values of every form (feed-values.ts) under every kind
 * of key ("x", "x:0", the tensor, the operation, a Map). The property: the run returns the
 * value the oracle computes (same shape, same numbers), or, where the oracle says the feed is
 * wrong, throws a tf.errors.InvalidArgumentError that names the placeholder — never another
 * exception, never a silently converted wrong value. Keys that name nothing throw a NotFoundError
 * naming the key. And random one-op graphs of every op type (importer-ops.ts, small values),
 * fed values that fit, run to a value or a tf.errors.* on the interpreter and on the default
 * backend, with the same numbers on both.
 */
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { collectCrashes, fuzzSeed, fuzzTimeout, Outcomes, runsFor } from "./fuzz-helpers";
import { feedForm, feedValue, placeholderSpec, verdict, type PlaceholderSpec } from "./feed-values";
import { oneOpGraphOf } from "./importer-ops";
import { toText } from "../../ir/graphdef/write";

const seed = fuzzSeed();
const outcomes = new Outcomes("feeds", 3000);

const KEYS = ["name", "name:0", "tensor", "operation", "map-tensor", "map-name"] as const;

/** A one-line description of any value (BigInt, symbols, typed arrays and deep nests included). */
function show(v: unknown, depth = 0): string {
  if (depth > 6) return "…";
  if (Array.isArray(v)) return `[${Array.from({ length: Math.min(v.length, 8) }, (_, i) => (i in v ? show(v[i], depth + 1) : "<hole>")).join(", ")}${v.length > 8 ? ", …" : ""}]`;
  if (v instanceof tf.NDArray) return `NDArray(${v.dtype}, [${v.shape}])`;
  if (ArrayBuffer.isView(v)) return `${v.constructor.name}(${(v as unknown as ArrayLike<unknown>).length ?? v.byteLength})`;
  if (typeof v === "bigint") return `${v}n`;
  if (typeof v === "symbol" || typeof v === "function") return String(v);
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

function same(a: number, e: number): boolean {
  return Object.is(a, e) || (Number.isNaN(a) && Number.isNaN(e)) || (a === 0 && e === 0);
}

describe("fuzz: feeds", () => {
  afterAll(() => {
    console.log(outcomes.summary("fed", seed));
    if (collectCrashes) console.log(outcomes.report());
  });

  it("a feed of any form gives the placeholder's value, or an InvalidArgumentError naming the feed", () => {
    const cases = placeholderSpec.chain((spec) => fc.record({ spec: fc.constant(spec), form: feedForm(spec), key: fc.constantFrom(...KEYS), scope: fc.boolean() }));
    fc.assert(
      fc.property(cases, ({ spec, form, key, scope }) => {
        const value = feedValue(form, spec.dtype);
        const expected = verdict(value, spec);
        outcomes.run(
          () => {
            const graph = new tf.Graph();
            const { x, out } = graph.asDefault(() => {
              const x = scope ? tf.nameScope("inputs", () => tf.placeholder(spec.dtype, spec.declared, "x")) : tf.placeholder(spec.dtype, spec.declared, "x");
              return { x, out: tf.identity(x, "out") };
            });
            const feeds = feedDict(key, x, value);
            let result: tf.NDArray;
            try {
              result = new tf.Session({ graph }).runSync(out, feeds);
            } catch (e) {
              if (!(e instanceof tf.errors.OpError)) throw e;
              if (expected.verdict === "valid") throw new Error(`a valid feed was refused: ${e.message}`, { cause: e });
              if (!(e instanceof tf.errors.InvalidArgumentError)) throw new Error(`a wrong feed gave a ${e.name}, not an InvalidArgumentError: ${e.message}`, { cause: e });
              if (!e.message.includes(x.op.name)) throw new Error(`the error does not name the feed \`${x.name}\`: ${e.message}`, { cause: e });
              throw e;
            }
            if (expected.verdict === "invalid") throw new Error(`a wrong feed (${expected.why}) was accepted as ${result.dtype} [${result.shape}] ${show(Array.from(result.data))}`);
            if (result.dtype !== spec.dtype || result.shape.join() !== expected.shape.join()) throw new Error(`fed as ${result.dtype} [${result.shape}], expected ${spec.dtype} [${expected.shape}]`);
            const bad = expected.data.findIndex((e, i) => !same(result.data[i], e));
            if (bad >= 0) throw new Error(`element ${bad} is ${result.data[bad]}, expected ${expected.data[bad]}`);
          },
          () => `placeholder ${spec.dtype} ${JSON.stringify(spec.declared)}, key ${key}, form ${JSON.stringify(form)}, value ${show(value)} (oracle: ${expected.verdict}${expected.verdict === "invalid" ? `, ${expected.why}` : ""})`,
        );
      }),
      { numRuns: runsFor(5000, 0.2), seed },
    );
    expect(outcomes.crashes).toBe(0);
  }, fuzzTimeout);

  it("random one-op graphs of every op type run to a value or a tf.errors.*, the same on the interpreter and the default backend", () => {
    fc.assert(
      fc.property(oneOpGraphOf(false), ({ op, graphDef }) => {
        const text = toText(graphDef);
        outcomes.run(
          () => {
            const graph = tf.importGraphDef(text);
            const feeds = fittingFeeds(graph);
            const fetches = graph.operations.filter((o) => o.name === "op").flatMap((o) => (o.outputs.length ? o.outputs.map((t) => t.name) : [o.name]));
            const expected = new tf.Session({ graph, backend: "interpreter" }).runSync(fetches, feeds) as (tf.NDArray | null)[];
            let actual: (tf.NDArray | null)[];
            try {
              actual = new tf.Session({ graph }).runSync(fetches, feeds) as (tf.NDArray | null)[];
            } catch (e) {
              // The interpreter ran it: the default backend must too.
              throw new Error(`the default backend failed where the interpreter ran: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
            }
            const d = differs(expected, actual);
            if (d) throw new Error(`the default backend differs from the interpreter: ${d}`);
          },
          () => `one ${op}\n--- text ---\n${text}`,
        );
      }),
      { numRuns: runsFor(1500, 0.1), seed },
    );
    expect(outcomes.crashes).toBe(0);
  }, fuzzTimeout);

  it("feed keys that name nothing, or another graph's tensor, are refused by name", () => {
    const keys = fc.oneof(
      fc.constantFrom("y", "x:1", "x:01", "out:1", "", ":0", "^x", "x ", "X", "inputs/x"),
      fc.string({ maxLength: 12 }),
      fc.string({ minLength: 300, maxLength: 3000 }),
    );
    fc.assert(
      fc.property(keys, fc.boolean(), (name, foreign) => {
        outcomes.run(
          () => {
            const graph = new tf.Graph();
            const out = graph.asDefault(() => tf.identity(tf.placeholder("float32", [2], "x"), "out"));
            const other = new tf.Graph().asDefault(() => tf.placeholder("float32", [2], "x"));
            const feeds: tf.FeedDict = foreign ? new Map([[other, [1, 2]]]) : { [name]: [1, 2] };
            try {
              new tf.Session({ graph }).runSync(out, feeds);
            } catch (e) {
              if (e instanceof tf.errors.OpError && !foreign && !/^(x|out)(:0+)?$/.test(name) && !e.message.includes(name.slice(0, 200))) throw new Error(`the error does not name the key: ${e.message}`, { cause: e });
              throw e;
            }
            // "x:00" is x:0, as in TF (the index is a number).
            if (foreign || !/^(x|out)(:0+)?$/.test(name)) throw new Error(`the feed key ${JSON.stringify(name)} was accepted`);
          },
          () => `key ${JSON.stringify(name.slice(0, 100))}${foreign ? " (another graph's tensor)" : ""}`,
        );
      }),
      { numRuns: runsFor(500, 0.05), seed },
    );
    expect(outcomes.crashes).toBe(0);
  }, fuzzTimeout);
});

/** Values that fit every placeholder of `graph` (unknown dims 2, unknown rank [2]). */
function fittingFeeds(graph: tf.Graph): Record<string, tf.NDArray> {
  const feeds: Record<string, tf.NDArray> = {};
  for (const p of graph.operations.filter((o) => o.type === "Placeholder")) {
    const t = p.outputs[0];
    const shape = (t.shape ?? [2]).map((d) => d ?? 2);
    const n = shape.reduce((a, b) => a * b, 1);
    feeds[p.name] = tf.ndarray(Array.from({ length: n }, (_, i) => (t.dtype === "bool" ? i % 2 : (i % 5) - 1)), shape, t.dtype);
  }
  return feeds;
}

/** The first difference between two fetch results (1e-5 relative), or undefined. */
function differs(a: (tf.NDArray | null)[], b: (tf.NDArray | null)[]): string | undefined {
  for (let k = 0; k < a.length; k++) {
    const x = a[k];
    const y = b[k];
    if (x === null || y === null) continue;
    if (x.dtype !== y.dtype || x.shape.join() !== y.shape.join()) return `output ${k}: ${y.dtype} [${y.shape}] instead of ${x.dtype} [${x.shape}]`;
    for (let i = 0; i < x.size; i++)
      if (!same(y.data[i], x.data[i]) && !(Math.abs(y.data[i] - x.data[i]) <= 1e-5 * (1 + Math.abs(x.data[i])))) return `output ${k}[${i}]: ${y.data[i]} instead of ${x.data[i]}`;
  }
  return undefined;
}

/** The feeds for `value` under the kind of key `key`. */
function feedDict(key: (typeof KEYS)[number], x: tf.Tensor, value: unknown): tf.FeedDict {
  const v = value as tf.FeedValue;
  switch (key) {
    case "name":
      return { [x.op.name]: v };
    case "name:0":
      return { [x.name]: v };
    case "tensor":
      return new Map([[x, v]]);
    case "operation":
      return new Map([[x.op as unknown as tf.Tensor, v]]);
    case "map-tensor":
      return new Map<tf.Tensor | string, tf.FeedValue>([[x, v]]);
    case "map-name":
      return new Map([[x.name, v]]);
  }
}

export type { PlaceholderSpec };
