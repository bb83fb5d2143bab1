/**
 * Dead-code elimination: drop every op the outputs do not need (stateful ops too: an assign
 * nothing reaches never runs), then bypass the Identity and NoOp ops that only forward.
 *
 *   before:  x ──Relu──► Identity ──MatMul──► logits     outputs: ["logits"]
 *            x ──Exp──► unused
 *            g = NoOp(ctrl: a) ──ctrl──► b
 *   after:   x ──Relu──MatMul──► logits
 *            a ──ctrl──► b
 *
 * An Identity is bypassed (its consumers read its input) only when that changes nothing:
 * it has no control inputs, it is not a requested output, it does not read a variable that
 * a kept op updates (that read is a snapshot taken before the update) and it is not the pivot of a `tf.cond` branch (an Identity of a Switch
 * output that other ops take as a control input: it makes them dead with the branch), nor an Identity of a placeholder that
 * other ops take as a control input (they would wait on the placeholder itself, which runs, and fails, when it is fed, as in TF).
 * A NoOp is bypassed (its control dependents wait on its control inputs) when it is not a
 * requested output and bypassing it does not add control edges.
 */
import type { Diagnostic } from "../ir/diagnostics";
import type { Graph, Operation } from "../ir/graph";
import { rewriteGraph } from "../ir/rewrite";
import type { Pass } from "./pass";
import { controlConsumers, isFeedPoint, isRefInput, neededOps, protectedNames, resolveOutputs, type OutputSpec } from "./outputs";

export interface DceOptions {
  /** The outputs to keep: names (`"logits"`, `"logits:0"`), tensors or operations. */
  outputs: readonly OutputSpec[];
  /** Bypass forwarding Identity and NoOp ops (default true). */
  removeIdentities?: boolean;
}

export const dce: Pass<DceOptions> = (graph: Graph, options: DceOptions) => {
  const diagnostics: Diagnostic[] = [];
  const needed = neededOps(resolveOutputs(graph, options.outputs));
  const keepNames = protectedNames(options.outputs);
  const bypass = options.removeIdentities === false ? new Set<Operation>() : bypassable(graph, needed, keepNames);
  if (needed.size === graph.operations.length && bypass.size === 0) return { graph, changed: false, diagnostics };
  const result = rewriteGraph(graph, (op, ctx) => {
    if (!needed.has(op)) return "drop";
    if (!bypass.has(op)) return undefined;
    return op.type === "Identity" ? [ctx.tensor(op.inputs[0])] : "drop";
  });
  return { graph: result, changed: true, diagnostics };
};

/** The needed Identity and NoOp ops that can be bypassed without changing what runs or what it computes. */
function bypassable(graph: Graph, needed: Set<Operation>, keepNames: Set<string>): Set<Operation> {
  const controls = controlConsumers(graph);
  const written = new Set<Operation>();
  for (const op of needed) op.inputs.forEach((t, i) => isRefInput(op, i) && written.add(t.op));
  const out = new Set<Operation>();
  for (const op of needed) {
    if (keepNames.has(op.name)) continue;
    const dependents = (controls.get(op) ?? []).filter((d) => needed.has(d));
    if (op.type === "Identity") {
      if (op.controlInputs.length > 0) continue;
      const producer = op.inputs[0].op;
      if (producer.type === "VariableV2" && written.has(producer)) continue;
      if (producer.type === "Switch" && dependents.length > 0) continue;
      if (isFeedPoint(producer) && dependents.length > 0) continue;
      out.add(op);
    } else if (op.type === "NoOp") {
      const n = op.controlInputs.length;
      const m = dependents.length;
      if (m > 0 && n * m <= n + m) out.add(op);
    }
  }
  return out;
}
