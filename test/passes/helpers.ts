/** Helpers for pass tests: run a graph before and after a pass from the same variable values and compare. */
import { expect } from "vitest";
import * as tf from "foldflow";

/** The initial values of every global variable of `graph` (runs their initializers in a scratch session). */
export function initialVariables(graph: tf.Graph): Map<string, tf.NDArray> {
  const sess = new tf.Session({ graph });
  const vars = graph.getCollection<tf.Variable>(tf.GraphKeys.GLOBAL_VARIABLES);
  if (vars.length) sess.runSync(vars.map((v) => v.initializer));
  return new Map(sess.variableValues);
}

/** Runs `fetches` on `graph` in a fresh session whose variables hold `variables` (those the graph has). */
export function runWith(graph: tf.Graph, fetches: string[], feeds: Record<string, tf.FeedValue> = {}, variables: ReadonlyMap<string, tf.NDArray> = new Map()): tf.NDArray[] {
  const sess = new tf.Session({ graph });
  for (const [name, value] of variables)
    if (graph.hasOperation(name) && graph.getOperationByName(name).type === "VariableV2") sess.setVariableValue(name, value);
  return sess.runSync(fetches, feeds) as tf.NDArray[];
}

export interface CompareOptions {
  feeds?: Record<string, tf.FeedValue>;
  /** Feeds for the graph after the pass, when they differ (a placeholder the pass fixed is gone). */
  feedsAfter?: Record<string, tf.FeedValue>;
  /** 0: bit-exact; else absolute + relative tolerance. */
  tolerance?: number;
}

/** Fetches `outputs` from both graphs, from the same initial variables, and compares the numbers. */
export function expectSameOutputs(before: tf.Graph, after: tf.Graph, outputs: string[], options: CompareOptions = {}): tf.NDArray[] {
  const variables = initialVariables(before);
  const expected = runWith(before, outputs, options.feeds, variables);
  const actual = runWith(after, outputs, options.feedsAfter ?? options.feeds, variables);
  const tolerance = options.tolerance ?? 0;
  outputs.forEach((name, k) => {
    const e = expected[k];
    const a = actual[k];
    expect(a.dtype, `${name} dtype`).toBe(e.dtype);
    expect(a.shape, `${name} shape`).toEqual(e.shape);
    if (tolerance === 0) expect(Array.from(a.data), name).toEqual(Array.from(e.data));
    else
      for (let i = 0; i < e.size; i++) {
        const ok = Math.abs(a.data[i] - e.data[i]) <= tolerance * (1 + Math.abs(e.data[i]));
        if (!ok) expect(a.data[i], `${name}[${i}]`).toBe(e.data[i]);
      }
  });
  return expected;
}

/** How many ops of each type the graph has. */
export function opCounts(graph: tf.Graph): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const op of graph.operations) counts[op.type] = (counts[op.type] ?? 0) + 1;
  return counts;
}

export function countOf(graph: tf.Graph, type: string): number {
  return graph.operations.filter((o) => o.type === type).length;
}

export function names(graph: tf.Graph): string[] {
  return graph.operations.map((o) => o.name);
}

/** Deterministic float data of `n` values in [-1, 1). */
export function data(n: number, seed = 1): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = ((s >>> 0) / 4294967296) * 2 - 1;
  }
  return out;
}
