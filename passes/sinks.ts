/**
 * The sinks of a graph: ops with outputs that nothing reads (by data or control input), outside
 * the branches of a tf.cond, and not constants, placeholders, variables or assigns — what a
 * graph computes when no outputs are named (the CLI's `run` and `export` default to them).
 */
import type { Graph, Operation } from "../ir/graph";

const NOT_OUTPUTS = new Set(["Const", "Placeholder", "PlaceholderWithDefault", "NoOp", "VariableV2", "Assign", "AssignAdd", "AssignSub"]);

/** Whether `op` lies inside a branch of a tf.cond: a Switch above it that no Merge closes. */
export function inCondBranch(op: Operation): boolean {
  const seen = new Set<Operation>();
  const stack = [op];
  while (stack.length) {
    const o = stack.pop()!;
    if (seen.has(o)) continue;
    seen.add(o);
    if (o.type === "Switch") return true;
    if (o.type !== "Merge") for (const t of o.inputs) stack.push(t.op);
  }
  return false;
}

/** Ops with outputs that nothing reads (by data or control input), outside cond branches: what a graph computes. */
export function sinkOps(graph: Graph): Operation[] {
  const read = new Set<Operation>();
  for (const op of graph.operations) {
    op.inputs.forEach((t) => read.add(t.op));
    op.controlInputs.forEach((c) => read.add(c));
  }
  return graph.operations.filter((op) => !read.has(op) && op.outputs.length > 0 && !NOT_OUTPUTS.has(op.type) && !inCondBranch(op));
}
