/** Runs one graph on the interpreter and on the js backend and compares every fetched value. */
import { expect } from "vitest";
import * as tf from "foldflow";
import { expectClose } from "../helpers/run";

export interface Compared {
  graph: tf.Graph;
  interpreter: tf.Session;
  js: tf.Session;
  /** The js session's compiled program of the last run. */
  program: NonNullable<NonNullable<tf.Session["js"]>["last"]>["program"];
}

export interface CompareOptions {
  feeds?: tf.FeedDict;
  /** Op types that may run their reference kernel inside the compiled program. */
  allowFallback?: string[];
  /** Op types that must appear in the compiled steps (emitted, not folded away). */
  emits?: string[];
  rtol?: number;
}

/** Flattens a fetch result into its arrays, in order. */
function leaves(v: unknown): tf.NDArray[] {
  if (v instanceof tf.NDArray) return [v];
  if (v === null) return [];
  if (Array.isArray(v)) return v.flatMap(leaves);
  return Object.values(v as Record<string, unknown>).flatMap(leaves);
}

/**
 * Builds `build` in a fresh graph; initializes variables on the interpreter session and copies
 * them to the js session; runs the fetches on both and checks they agree (1e-5 relative).
 */
export function compare(build: () => tf.Fetch | (tf.Tensor | null)[], options: CompareOptions = {}): Compared {
  const graph = new tf.Graph();
  const fetches = graph.asDefault(build) as tf.Fetch;
  const interpreter = new tf.Session({ graph, backend: "interpreter" });
  const js = new tf.Session({ graph, backend: "js" });
  const variables = graph.getCollection<tf.Variable>(tf.GraphKeys.GLOBAL_VARIABLES);
  if (variables.length) {
    interpreter.runSync(graph.asDefault(() => tf.variablesInitializer(variables)));
    for (const [name, value] of interpreter.variableValues) js.setVariableValue(name, tf.ndarray(value.data.slice(), [...value.shape], value.dtype));
  }
  const expected = leaves(interpreter.runSync(fetches, options.feeds));
  const actual = leaves(js.runSync(fetches, options.feeds));
  expect(js.js!.lastFallback, "the js backend compiled the plan").toBeNull();
  const program = js.js!.last!.program;
  const fallbacks = program.fallbacks.map((op) => op.type).filter((t) => !(options.allowFallback ?? []).includes(t));
  expect(fallbacks, "ops run by their reference kernel").toEqual([]);
  for (const type of options.emits ?? []) expect(emittedTypes(program), `${type} is emitted`).toContain(type);
  expect(actual.length).toBe(expected.length);
  actual.forEach((a, i) => {
    expect(a.dtype, `fetch ${i} dtype`).toBe(expected[i].dtype);
    expect(a.shape, `fetch ${i} shape`).toEqual(expected[i].shape);
    expectClose(a.data, expected[i].data, options.rtol ?? 1e-5, 1e-6);
  });
  // Variables end up equal too.
  for (const [name, value] of interpreter.variableValues) expectClose(js.variableValues.get(name)!.data, value.data, options.rtol ?? 1e-5, 1e-6);
  return { graph, interpreter, js, program };
}

/** Op types that the program runs through an emitter (fused groups and producers included). */
export function emittedTypes(program: Compared["program"]): string[] {
  return program.analysis.steps.flatMap((s) => (s.kind === "ops" ? [...(s.producer ? [s.producer.type] : []), ...s.ops.map((o) => o.type)] : []));
}
