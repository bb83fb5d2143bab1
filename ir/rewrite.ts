/**
 * Copying a graph with substitutions: the mechanism behind every pure pass. Ops are copied in
 * creation order (a topological order), inputs remapped through the copies; `rewrite` may
 * replace an op by other tensors (built in the new graph) or drop it.
 */
import { Graph, Operation, Tensor } from "./graph";

export interface RewriteContext {
  /** The new graph (build replacement ops here). */
  readonly graph: Graph;
  /** The copy of an old tensor in the new graph. */
  tensor(old: Tensor): Tensor;
  /** The copy of an old op (or the producer of its replacement); dropped ops have none. */
  op(old: Operation): Operation | undefined;
}

/**
 * What to do with one op: `undefined` copies it; an array of tensors (one per output) replaces it;
 * `"drop"` removes it (its consumers must be gone or replaced too).
 */
export type RewriteAction = Tensor[] | "drop" | undefined;

export function rewriteGraph(source: Graph, rewrite: (op: Operation, ctx: RewriteContext) => RewriteAction = () => undefined): Graph {
  const graph = new Graph();
  const tensors = new Map<Tensor, Tensor>();
  const ops = new Map<Operation, Operation>();
  const ctx: RewriteContext = {
    graph,
    tensor: (old) => {
      const t = tensors.get(old);
      if (!t) throw new Error(`rewrite: \`${old.name}\` has no copy (its producer was dropped)`);
      return t;
    },
    op: (old) => ops.get(old),
  };
  for (const op of source.operations) {
    const action = rewrite(op, ctx);
    if (action === "drop") continue;
    if (Array.isArray(action)) {
      op.outputs.forEach((t, i) => action[i] && tensors.set(t, action[i]));
      // Control edges on the replaced op now point at the ops producing its replacements.
      const producers = action.filter(Boolean).map((t) => t.op);
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
  return graph;
}

/** Copies `op` into `graph` under the same name, with remapped inputs and control inputs. */
export function copyOp(graph: Graph, op: Operation, ctx: RewriteContext, ops: Map<Operation, Operation>): Operation {
  const controls: Operation[] = [];
  const seen = new Set<Operation>();
  const addControl = (c: Operation) => {
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
  return graph.addOp({
    type: op.type,
    name: op.name,
    absoluteName: true,
    inputs: op.inputs.map((t) => ctx.tensor(t)),
    attrs: { ...op.attrs },
    controlInputs: controls,
    noCapture: true,
  });
}
