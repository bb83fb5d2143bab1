/**
 * Which operations a run needs, in what order: walk back from the fetches through data and
 * control inputs, stopping at fed tensors and at ref inputs (an assign does not read its
 * variable), then sort topologically with graphlib, naming the cycle when there is one.
 */
import { Graph as DirectedGraph, alg } from "@dagrejs/graphlib";
import { invalidArgument } from "../../ir/diagnostics";
import type { Operation } from "../../ir/graph";
import { getOpDef } from "../../ir/registry";

export function isRefInput(op: Operation, index: number): boolean {
  const refs = getOpDef(op.type, op.name).refInputs;
  return refs !== undefined && refs.includes(index);
}

/** The operations that must run to produce `targets`, given the fed tensor names, in topological order. */
export function planRun(targets: Operation[], fed: ReadonlySet<string>): Operation[] {
  const needed = new Set<Operation>();
  const stack = [...targets];
  while (stack.length) {
    const op = stack.pop()!;
    if (needed.has(op)) continue;
    needed.add(op);
    op.inputs.forEach((t, i) => {
      if (fed.has(t.name) || isRefInput(op, i)) return;
      stack.push(t.op);
    });
    for (const c of op.controlInputs) stack.push(c);
  }
  return topologicalOrder(needed, fed);
}

function topologicalOrder(needed: Set<Operation>, fed: ReadonlySet<string>): Operation[] {
  // Built graphs are created inputs-first, so creation order usually is an order already.
  const ordered = [...needed].sort((a, b) => a.id - b.id);
  if (isAlreadySorted(ordered, needed, fed)) return ordered;
  const dg = new DirectedGraph({ directed: true });
  const byName = new Map<string, Operation>();
  for (const op of ordered) {
    dg.setNode(op.name);
    byName.set(op.name, op);
  }
  for (const op of ordered) {
    op.inputs.forEach((t, i) => {
      if (!fed.has(t.name) && !isRefInput(op, i) && needed.has(t.op)) dg.setEdge(t.op.name, op.name);
    });
    for (const c of op.controlInputs) if (needed.has(c)) dg.setEdge(c.name, op.name);
  }
  try {
    return alg.topsort(dg).map((n) => byName.get(n)!);
  } catch {
    const cycle = alg.findCycles(dg)[0] ?? [];
    throw invalidArgument({
      code: "cycle",
      node: cycle[0],
      message: `the graph has a cycle: ${[...cycle].reverse().join(" -> ")} -> ${cycle[cycle.length - 1] ?? ""}`,
      expected: "an acyclic graph",
      received: `a cycle through ${cycle.length} operation(s)`,
      fix: "remove one of the edges of the cycle (a data input or a control dependency)",
    });
  }
}

/** Whether every needed producer comes before its consumers in `ordered`. */
function isAlreadySorted(ordered: Operation[], needed: Set<Operation>, fed: ReadonlySet<string>): boolean {
  const position = new Map<Operation, number>();
  ordered.forEach((op, i) => position.set(op, i));
  for (const op of ordered) {
    const p = position.get(op)!;
    for (let i = 0; i < op.inputs.length; i++) {
      const t = op.inputs[i];
      if (fed.has(t.name) || isRefInput(op, i) || !needed.has(t.op)) continue;
      if (position.get(t.op)! >= p) return false;
    }
    for (const c of op.controlInputs) if (needed.has(c) && position.get(c)! >= p) return false;
  }
  return true;
}
