/**
 * The inference pipeline: specialize → constant-fold → cse → dce, repeated until a round
 * changes nothing. Each pass opens the way for the next (a folded predicate resolves a cond,
 * merged Switches leave Identities to bypass ...).
 *
 *   before:  training graph: phase-switched BN, UPDATE_OPS assigns, loss, optimizer, initializers
 *   after:   what `outputs` need in inference mode: x ──MatMul──Add──(moving stats)──► logits
 */
import type { Diagnostic } from "../ir/diagnostics";
import type { Graph } from "../ir/graph";
import { constantFold } from "./constant-fold";
import { cse } from "./cse";
import { dce } from "./dce";
import type { PassResult } from "./pass";
import { opNameOf, outputNames, resolveOutputs, type OutputSpec } from "./outputs";
import { specialize, type SpecializeOptions } from "./specialize";

export interface OptimizeForInferenceOptions extends Omit<SpecializeOptions, "outputs"> {
  /** The outputs to keep: names (`"logits"`, `"logits:0"`), tensors or operations. */
  outputs: readonly OutputSpec[];
  /** The largest constant (in elements) that folding creates; default 1e6. */
  maxElements?: number;
  /** The most rounds of the four passes (default 20). */
  maxRounds?: number;
}

export function optimizeForInference(graph: Graph, options: OptimizeForInferenceOptions): PassResult {
  // Resolve once on the input graph (unknown names fail here), then pass names on.
  resolveOutputs(graph, options.outputs);
  const outputs = outputNames(options.outputs);
  const { maxElements, maxRounds = 20, feeds, training, useDefaults } = options;
  const dropUpdates = options.dropUpdates ?? training !== true;
  const diagnostics: Diagnostic[] = [];
  let current = graph;
  let changed = false;
  for (let round = 0; round < maxRounds; round++) {
    let roundChanged = false;
    // A requested output inside a branch that specialize deleted is gone (it warned); keep the rest.
    const live = () => outputs.filter((n) => current.hasOperation(opNameOf(n)));
    const steps = [
      // Placeholders are fixed in the first round; later rounds resolve the conds folding made constant.
      () => specialize(current, round === 0 ? { feeds, training, useDefaults, dropUpdates, outputs } : { dropUpdates, outputs }),
      () => constantFold(current, { maxElements, outputs: live() }),
      () => cse(current, { outputs: live() }),
      () => dce(current, { outputs: live() }),
    ];
    for (const step of steps) {
      const r = step();
      for (const d of r.diagnostics) if (!diagnostics.some((e) => sameDiagnostic(e, d))) diagnostics.push(d);
      if (r.changed) {
        current = r.graph;
        roundChanged = true;
      }
    }
    if (!roundChanged) break;
    changed = true;
  }
  return { graph: current, changed, diagnostics };
}

function sameDiagnostic(a: Diagnostic, b: Diagnostic): boolean {
  return a.code === b.code && a.node === b.node && a.message === b.message;
}
