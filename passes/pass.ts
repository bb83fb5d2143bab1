/**
 * The shape of every pass: a pure function from a graph to a new graph. Passes never mutate
 * their input; they return `changed` and diagnostics (refusals, notes) as values.
 */
import type { Diagnostic } from "../ir/diagnostics";
import type { Graph } from "../ir/graph";

export interface PassResult {
  graph: Graph;
  changed: boolean;
  diagnostics: Diagnostic[];
}

export type Pass<O = Record<string, never>> = (graph: Graph, options: O) => PassResult;

/** Runs `pass` until it stops changing the graph (at most `limit` times). */
export function toFixpoint<O>(pass: Pass<O>, graph: Graph, options: O, limit = 50): PassResult {
  let current = graph;
  const diagnostics: Diagnostic[] = [];
  let changed = false;
  for (let i = 0; i < limit; i++) {
    const r = pass(current, options);
    diagnostics.push(...r.diagnostics);
    if (!r.changed) break;
    changed = true;
    current = r.graph;
  }
  return { graph: current, changed, diagnostics };
}
