/** Default-graph shortcuts of the TF1 API: nameScope, controlDependencies, graph access. */
import { getDefaultGraph, Operation, Tensor } from "../ir/graph";

/** `tf.nameScope(name, fn)`: op names built inside are `name/...` (uniquified). */
export function nameScope<T>(name: string | null, fn: () => T): T {
  return getDefaultGraph().nameScope(name, fn);
}

/** `tf.controlDependencies(deps, fn)`: ops built inside run after `deps`; `null` clears. */
export function controlDependencies<T>(deps: readonly (Tensor | Operation)[] | null, fn: () => T): T {
  if (deps === null) return getDefaultGraph().controlDependencies(null, fn);
  const ops = deps.map((d) => (d instanceof Tensor ? d.op : d));
  const graph = ops.length ? ops[0].graph : getDefaultGraph();
  return graph.controlDependencies(ops, fn);
}
