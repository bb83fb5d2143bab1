/**
 * Copying a graph with substitutions: the mechanism behind every pure pass. Ops are copied in
 * creation order (a topological order), inputs remapped through the copies; `rewrite` may
 * replace an op by other tensors (built in the new graph) or drop it.
 *
 * Every name of the source graph is reserved in the new graph before copying starts, so
 * replacement ops built with `ctx.graph.uniqueName(...)` (or default, uniquified names)
 * never take the name of a source op copied later.
 */
import { Graph, Operation, Tensor } from "./graph";

export interface RewriteContext {
  /** The new graph (build replacement ops here). */
  readonly graph: Graph;
  /** The copy of an old tensor in the new graph. */
  tensor(old: Tensor): Tensor;
  /** Whether an old tensor has a copy (false when its producer was dropped or replaced without it). */
  has(old: Tensor): boolean;
  /** The copy of an old op (or the producer of its replacement); dropped ops have none. */
  op(old: Operation): Operation | undefined;
  /**
   * The control inputs of an old op, mapped into the new graph: a dropped control input is
   * replaced by its own control inputs (transitively), duplicates removed.
   */
  controlInputs(old: Operation): Operation[];
}

/**
 * What to do with one op: `undefined` copies it; an array of tensors (one per output) replaces it
 * (an `undefined` entry leaves that output without a copy: its consumers must be gone too);
 * `"drop"` removes it (its consumers must be gone or replaced too).
 */
export type RewriteAction = (Tensor | undefined)[] | "drop" | undefined;

export function rewriteGraph(source: Graph, rewrite: (op: Operation, ctx: RewriteContext) => RewriteAction = () => undefined): Graph {
  const graph = new Graph();
  for (const op of source.operations) graph.uniqueName(op.name);
  const tensors = new Map<Tensor, Tensor>();
  const ops = new Map<Operation, Operation>();
  const ctx: RewriteContext = {
    graph,
    tensor: (old) => {
      const t = tensors.get(old);
      if (!t) throw new Error(`rewrite: \`${old.name}\` has no copy (its producer was dropped)`);
      return t;
    },
    has: (old) => tensors.has(old),
    op: (old) => ops.get(old),
    controlInputs: (old) => mapControls(old, ops),
  };
  for (const op of source.operations) {
    const action = rewrite(op, ctx);
    if (action === "drop") continue;
    if (Array.isArray(action)) {
      op.outputs.forEach((t, i) => {
        const replacement = action[i];
        if (replacement) tensors.set(t, replacement);
      });
      // Control edges on the replaced op now point at the ops producing its replacements.
      const producers = action.filter((t): t is Tensor => t !== undefined).map((t) => t.op);
      if (producers.length) ops.set(op, producers[0]);
      continue;
    }
    const copy = copyOp(graph, op, ctx, ops);
    ops.set(op, copy);
    op.outputs.forEach((t, i) => tensors.set(t, copy.outputs[i]));
  }
  for (const key of source.collectionKeys) {
    for (const item of source.getCollection(key)) {
      if (item instanceof Tensor && tensors.has(item)) graph.addToCollection(key, tensors.get(item));
      else if (item instanceof Operation && ops.has(item)) graph.addToCollection(key, ops.get(item));
    }
  }
  copyCondPredicates(source, graph, tensors);
  return graph;
}

function mapControls(op: Operation, ops: Map<Operation, Operation>): Operation[] {
  const controls: Operation[] = [];
  const seen = new Set<Operation>();
  const visited = new Set<Operation>();
  const addControl = (c: Operation) => {
    if (visited.has(c)) return;
    visited.add(c);
    const mapped = ops.get(c);
    if (mapped) {
      if (!seen.has(mapped)) controls.push(mapped);
      seen.add(mapped);
    } else {
      // The control input was dropped or replaced: keep its own control inputs (transitively).
      for (const cc of c.controlInputs) addControl(cc);
    }
  };
  op.controlInputs.forEach(addControl);
  return controls;
}

/** The predicates `tf.cond` recorded for its Merges (the gradient pass reads them), where both survive. */
function copyCondPredicates(source: Graph, graph: Graph, tensors: Map<Tensor, Tensor>): void {
  const recorded = source.extras.get("condPredicates") as Map<string, Tensor> | undefined;
  if (!recorded) return;
  const copied = new Map<string, Tensor>();
  for (const [merge, pred] of recorded) {
    const op = graph.hasOperation(merge) ? graph.getOperationByName(merge) : undefined;
    const p = tensors.get(pred);
    if (op && op.type === "Merge" && p) copied.set(merge, p);
  }
  if (copied.size) graph.extras.set("condPredicates", copied);
}

/** Copies `op` into `graph` under the same name, with remapped inputs and control inputs. */
export function copyOp(graph: Graph, op: Operation, ctx: RewriteContext, ops: Map<Operation, Operation>): Operation {
  return graph.addOp({
    type: op.type,
    name: op.name,
    absoluteName: true,
    inputs: op.inputs.map((t) => ctx.tensor(t)),
    attrs: { ...op.attrs },
    controlInputs: mapControls(op, ops),
    noCapture: true,
  });
}
