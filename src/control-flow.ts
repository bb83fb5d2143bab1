/**
 * `tf.cond` in TF1's form: each branch is built inside a cond context that routes every
 * tensor it captures from outside through a Switch on the predicate, and gives ops with no
 * such input a control edge from the branch's pivot. The untaken Switch output is dead, so
 * nothing in the untaken branch runs, side effects included. Merge joins the branches.
 */
import { invalidArgument } from "../ir/diagnostics";
import { Operation, Tensor, type Graph, type OpCreationHook } from "../ir/graph";
import { convertToTensor, graphOf, type TensorLike } from "../ir/ops/build";

export type CondResult = Tensor | Operation | null | undefined | readonly CondResult[] | { readonly [key: string]: CondResult };

class CondContext implements OpCreationHook {
  readonly inside = new Set<Operation>();
  readonly pivot: Tensor;
  private readonly pred: Tensor;
  private readonly switches = new Map<string, Tensor>();
  constructor(
    private readonly graph: Graph,
    pred: Tensor,
    private readonly branch: 0 | 1,
    private readonly outer: CondContext | null,
  ) {
    this.pred = outer ? outer.captureTensor(pred) : pred;
    const sw = graph.addOp({ type: "Switch", name: branch ? "switch_t" : "switch_f", inputs: [this.pred, this.pred], noCapture: true });
    this.pivot = graph.addOp({ type: "Identity", name: branch ? "pivot_t" : "pivot_f", inputs: [sw.outputs[branch]], noCapture: true }).outputs[0];
  }

  /** The tensor to use inside this branch for `t`, switching it on the predicate when it comes from outside. */
  captureTensor(t: Tensor): Tensor {
    if (this.inside.has(t.op) || t === this.pivot) return t;
    const cached = this.switches.get(t.name);
    if (cached) return cached;
    const outerValue = this.outer ? this.outer.captureTensor(t) : t;
    const sw = this.graph.addOp({ type: "Switch", name: "Switch", inputs: [outerValue, this.pred], noCapture: true });
    const inside = sw.outputs[this.branch];
    this.switches.set(t.name, inside);
    return inside;
  }

  capture(_: Graph, inputs: Tensor[], refInputs: readonly number[]): { inputs: Tensor[]; controlInputs: Operation[] } {
    const captured = inputs.map((t, i) => (refInputs.includes(i) ? t : this.captureTensor(t)));
    const hasLiveInput = captured.some((_, i) => !refInputs.includes(i));
    return { inputs: captured, controlInputs: hasLiveInput ? [] : [this.pivot.op] };
  }

  created(op: Operation): void {
    this.inside.add(op);
  }
}

function activeCond(graph: Graph): CondContext | null {
  const hooks = graph.creationHooks;
  for (let i = hooks.length - 1; i >= 0; i--) if (hooks[i] instanceof CondContext) return hooks[i] as CondContext;
  return null;
}

/** Builds one branch; identities standing for returned operations are added to `fromOps`. */
function buildBranch(graph: Graph, pred: Tensor, branch: 0 | 1, fn: () => CondResult, fromOps: Set<Tensor>): CondResult {
  const ctx = new CondContext(graph, pred, branch, activeCond(graph));
  graph.creationHooks.push(ctx);
  try {
    const raw = fn();
    // Results are passed through an Identity built inside the branch so that tensors from
    // outside are switched and every result is dead when its branch is not taken.
    const result = mapResult(raw, (leaf) => {
      if (leaf instanceof Operation) {
        const stand = graph.addOp({ type: "Identity", name: "Identity", inputs: [ctx.pivot], controlInputs: [leaf] }).outputs[0];
        fromOps.add(stand);
        return stand;
      }
      return graph.addOp({ type: "Identity", name: "Identity", inputs: [leaf] }).outputs[0];
    });
    return result;
  } finally {
    graph.creationHooks.pop();
  }
}

function mapResult(r: CondResult, leaf: (t: Tensor | Operation) => Tensor): CondResult {
  if (r instanceof Tensor || r instanceof Operation) return leaf(r);
  if (r === null || r === undefined) return r;
  if (Array.isArray(r)) return r.map((x) => mapResult(x, leaf));
  return Object.fromEntries(Object.entries(r as Record<string, CondResult>).map(([k, v]) => [k, mapResult(v, leaf)]));
}

function mergeResults(graph: Graph, pred: Tensor, a: CondResult, b: CondResult, wasOp: (t: CondResult) => boolean, path: string): CondResult {
  const mismatch = () =>
    invalidArgument({
      code: "cond-structure",
      node: graph.nameScopeValue,
      message: `the two branches of tf.cond return different structures at ${path || "the top level"}`,
      expected: describe(a),
      received: describe(b),
      fix: "return the same structure (same nesting, same dtypes) from trueFn and falseFn",
    });
  if (a instanceof Tensor) {
    if (!(b instanceof Tensor) || a.dtype !== b.dtype) throw mismatch();
    // Inputs are [false result, true result], as TF builds them; the gradient pass reads the predicate.
    const merge = graph.addOp({ type: "Merge", name: "Merge", inputs: [b, a] });
    recordPredicate(graph, merge, pred);
    return wasOp(a) ? merge : merge.outputs[0];
  }
  if (a === null || a === undefined) {
    if (b !== null && b !== undefined) throw mismatch();
    return a;
  }
  if (Array.isArray(a)) {
    if (!Array.isArray(b) || a.length !== b.length) throw mismatch();
    return a.map((x, i) => mergeResults(graph, pred, x, (b as CondResult[])[i], wasOp, `${path}[${i}]`));
  }
  const ao = a as Record<string, CondResult>;
  const bo = b as Record<string, CondResult>;
  if (typeof b !== "object" || b === null || Array.isArray(b) || b instanceof Tensor || b instanceof Operation) throw mismatch();
  const keys = Object.keys(ao);
  if (keys.length !== Object.keys(bo).length || keys.some((k) => !(k in bo))) throw mismatch();
  return Object.fromEntries(keys.map((k) => [k, mergeResults(graph, pred, ao[k], bo[k], wasOp, `${path}.${k}`)]));
}

function recordPredicate(graph: Graph, merge: Operation, pred: Tensor): void {
  let map = graph.extras.get("condPredicates") as Map<string, Tensor> | undefined;
  if (!map) {
    map = new Map();
    graph.extras.set("condPredicates", map);
  }
  map.set(merge.name, pred);
}

function describe(r: CondResult): string {
  if (r instanceof Tensor) return `a ${r.dtype} tensor`;
  if (r instanceof Operation) return "an operation";
  if (r === null || r === undefined) return "nothing";
  if (Array.isArray(r)) return `an array of ${r.length}`;
  return `an object with keys ${Object.keys(r).join(", ")}`;
}

/**
 * `tf.cond(pred, trueFn, falseFn, name?)`. With a boolean `pred` the branch is chosen while
 * building (TF's smart_cond); with a bool tensor both branches are built and only the taken
 * one runs. Operations returned by a branch come back as a Merge operation.
 */
export function cond<T extends CondResult>(pred: TensorLike | boolean, trueFn: () => T, falseFn: () => T, name = "cond"): T {
  if (typeof pred === "boolean") return pred ? trueFn() : falseFn();
  const graph = graphOf([pred]);
  const p = convertToTensor(pred, undefined, "pred", graph);
  if (p.dtype !== "bool")
    throw invalidArgument({
      code: "bad-predicate",
      node: p.name,
      message: "the predicate of tf.cond must be a bool tensor",
      expected: "bool",
      received: p.dtype,
      fix: "compare to get a bool, e.g. tf.greater(x, 0)",
    });
  return graph.nameScope(name, () => {
    const fromOps = new Set<Tensor>();
    const t = buildBranch(graph, p, 1, trueFn as () => CondResult, fromOps);
    const f = buildBranch(graph, p, 0, falseFn as () => CondResult, fromOps);
    return mergeResults(graph, p, t, f, (x) => x instanceof Tensor && fromOps.has(x), "") as T;
  });
}

/** TF's smart_cond: resolves a boolean or a constant predicate while building, else tf.cond. */
export function smartCond<T extends CondResult>(pred: TensorLike | boolean, trueFn: () => T, falseFn: () => T, name = "cond"): T {
  if (typeof pred === "boolean") return pred ? trueFn() : falseFn();
  if (pred instanceof Tensor && pred.op.type === "Const") {
    const v = pred.op.attrs.value as { data: ArrayLike<number> };
    return v.data[0] ? trueFn() : falseFn();
  }
  return cond(pred, trueFn, falseFn, name);
}
