/**
 * Prune to fetches: keep the operations that the requested outputs need, through data inputs
 * (a variable feeding an assign's ref input included) and control inputs; drop the rest.
 * Collection entries survive only when what they hold is kept.
 *
 *   before:  x ──MatMul──► logits          outputs: ["logits"]
 *            w ──┘   └──► Sum ──► loss
 *            w/Assign ◄── w/Initializer    UPDATE_OPS: [Sum]
 *   after:   x ──MatMul──► logits
 *            w ──┘                         UPDATE_OPS: []
 */
import type { Diagnostic } from "../ir/diagnostics";
import type { Graph } from "../ir/graph";
import { rewriteGraph } from "../ir/rewrite";
import type { Pass } from "./pass";
import { neededOps, resolveOutputs, type OutputSpec } from "./outputs";

export interface PruneOptions {
  /** The outputs to keep: names (`"logits"`, `"logits:0"`), tensors or operations. */
  outputs: readonly OutputSpec[];
}

export const prune: Pass<PruneOptions> = (graph: Graph, options: PruneOptions) => {
  const diagnostics: Diagnostic[] = [];
  if (options.outputs.length === 0)
    diagnostics.push({
      code: "no-outputs",
      severity: "warning",
      message: "prune was given no outputs, so it removed every operation",
      fix: "pass the names of the tensors or operations to keep in `outputs`",
    });
  const needed = neededOps(resolveOutputs(graph, options.outputs));
  if (needed.size === graph.operations.length) return { graph, changed: false, diagnostics };
  const pruned = rewriteGraph(graph, (op) => (needed.has(op) ? undefined : "drop"));
  return { graph: pruned, changed: true, diagnostics };
};
