/**
 * Batch-norm folding for inference: a batch norm with constant parameters right after a
 * conv2d / depthwiseConv2d / matmul (and its bias) becomes scaled weights and a new bias.
 *
 *   before:  x ──Conv2D "conv"──BiasAdd──FusedBatchNormV3 "bn" (is_training false)──► Relu
 *                 w ─┘            b ─┘     γ, β, mean, var ─┘
 *   after:   x ──Conv2D "conv"──BiasAdd "bn"──► Relu
 *                 w·s ─┘         b·s + β - mean·s ─┘         s = γ / sqrt(var + ε)
 *
 * Every form reduces to a constant per-channel affine map (fold-batch-norm-match.ts), which
 * folds into the producer (fold-batch-norm-producer.ts). The folded output is a BiasAdd named
 * like the batch norm, so consumers and requested outputs keep their names; the weights and
 * parameter constants that nothing else reads are removed. Refusals (another consumer, an op
 * in between, parameters not constant, training mode) are report rows and warnings. The pass
 * runs to a fixpoint, so stacked batch norms fold one after the other.
 */
import type { Diagnostic } from "../ir/diagnostics";
import type { Graph, Operation, Tensor } from "../ir/graph";
import { rewriteGraph, type RewriteContext } from "../ir/rewrite";
import { matchBatchNorm, type BatchNormForm, type BatchNormMatch } from "./fold-batch-norm-match";
import { directProducer, planFold, reportedProducer, type FoldPlan } from "./fold-batch-norm-producer";
import { ConstantValues, float32Array } from "./fold-batch-norm-values";
import { isFeedPoint, isStateful, outputNames, protectedNames, type OutputSpec } from "./outputs";
import type { PassResult } from "./pass";

export type { BatchNormForm } from "./fold-batch-norm-match";

export interface FoldBatchNormsOptions {
  /** Outputs whose values and names must stay (a producer that is one is not folded). */
  outputs?: readonly OutputSpec[];
  /** The most rewrites before giving up on a fixpoint (default 20). */
  maxIterations?: number;
}

/** One row per batch-norm node: its form, the conv / matmul before it, and whether it folded. */
export interface FoldReportRow {
  node: string;
  form: BatchNormForm;
  producer: string | null;
  folded: boolean;
  reason?: string;
}

export interface FoldBatchNormsResult extends PassResult {
  report: FoldReportRow[];
}

interface Fold {
  match: BatchNormMatch;
  plan: FoldPlan;
}

/** Folds every batch norm it can, to a fixpoint; `report` has each batch norm's final state. */
export function foldBatchNorms(graph: Graph, options: FoldBatchNormsOptions = {}): FoldBatchNormsResult {
  const rows = new Map<string, FoldReportRow>();
  let current = graph;
  let changed = false;
  const limit = options.maxIterations ?? 20;
  for (let i = 0; i < limit; i++) {
    const r = foldBatchNormsOnce(current, options);
    for (const row of r.report) {
      const previous = rows.get(row.node);
      // A node folded in an earlier round is a BiasAdd now and is not matched again.
      if (!previous || !previous.folded) rows.set(row.node, row);
    }
    if (!r.changed) break;
    changed = true;
    current = r.graph;
  }
  const report = [...rows.values()];
  return { graph: current, changed, diagnostics: report.filter((r) => !r.folded).map(refusal), report };
}

function refusal(row: FoldReportRow): Diagnostic {
  return {
    code: "batch-norm-not-folded",
    severity: "warning",
    node: row.node,
    message: `batch norm \`${row.node}\` (${row.form}) was not folded${row.producer ? ` into \`${row.producer}\`` : ""}: ${row.reason}`,
  };
}

/** One round: folds the batch norms matched in `graph` as it is. */
export function foldBatchNormsOnce(graph: Graph, options: FoldBatchNormsOptions = {}): FoldBatchNormsResult {
  const values = new ConstantValues();
  const keep = protectedNames(options.outputs);
  const requested = new Set(outputNames(options.outputs ?? []));
  const report: FoldReportRow[] = [];
  const folds: Fold[] = [];
  const claimed = new Set<Operation>();
  for (const op of graph.operations) {
    const match = matchBatchNorm(op, values);
    if (!match) continue;
    const row = (folded: boolean, producer: Operation | null, reason?: string): FoldReportRow =>
      reason === undefined ? { node: op.name, form: match.form, producer: producer?.name ?? null, folded } : { node: op.name, form: match.form, producer: producer?.name ?? null, folded, reason };
    const reason = match.reason ?? innerUse(match, keep, requested);
    if (reason) {
      if (match.form !== "mul-add" || directProducer(match.x)) report.push(row(false, reportedProducer(match.x), reason));
      continue;
    }
    const result = planFold(match.x, match.inner[0] ?? match.node, match.scale!, match.shift!, values, keep);
    if ("reason" in result) {
      if (match.form !== "mul-add" || directProducer(match.x)) report.push(row(false, result.producer, result.reason));
      continue;
    }
    const { plan } = result;
    const parts = [plan.producer, plan.biasOp, ...match.inner, match.node].filter((o): o is Operation => o !== null);
    if (parts.some((o) => claimed.has(o))) {
      report.push(row(false, plan.producer, "it overlaps another fold in this round; it is retried in the next"));
      continue;
    }
    parts.forEach((o) => claimed.add(o));
    folds.push({ match, plan });
    report.push(row(true, plan.producer));
  }
  const diagnostics = report.filter((r) => !r.folded).map(refusal);
  if (folds.length === 0) return { graph, changed: false, diagnostics, report };
  return { graph: rewrite(graph, folds, keep), changed: true, diagnostics, report };
}

/** Why the batch norm's own ops cannot go: an inner op read elsewhere, or a requested extra output. */
function innerUse(match: BatchNormMatch, keep: Set<string>, requested: Set<string>): string | undefined {
  for (const op of match.inner) {
    if (keep.has(op.name)) return `\`${op.name}\` is a requested output, and folding would remove it`;
    const others = op.outputs.flatMap((t) => t.consumers()).filter((c) => c !== match.node);
    if (others.length) return `\`${op.name}\` (${op.type}) has another consumer, \`${others[0].name}\` (${others[0].type})`;
  }
  const extra = match.node.outputs.slice(1).find((t) => requested.has(t.name));
  if (extra) return `output \`${extra.name}\` is requested, and the folded node has one output`;
  return undefined;
}

/** The ops that folding leaves without consumers (old weights, bias and parameter constants ...). */
function orphans(graph: Graph, folds: Fold[], keep: Set<string>): Set<Operation> {
  const uses = new Map<Operation, number>();
  const use = (op: Operation, delta: number) => uses.set(op, (uses.get(op) ?? 0) + delta);
  for (const op of graph.operations) {
    op.inputs.forEach((t) => use(t.op, 1));
    op.controlInputs.forEach((c) => use(c, 1));
  }
  const used = new Set([...uses.keys()]);
  const release = (op: Operation) => {
    op.inputs.forEach((t) => use(t.op, -1));
    op.controlInputs.forEach((c) => use(c, -1));
  };
  const dropped = new Set<Operation>();
  const replaced = new Set<Operation>();
  for (const { match, plan } of folds) {
    use(plan.producer.inputs[1].op, -1);
    for (const op of [plan.biasOp, ...match.inner]) {
      if (!op) continue;
      dropped.add(op);
      release(op);
    }
    release(match.node);
    replaced.add(plan.producer).add(match.node);
  }
  const ops = graph.operations;
  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i];
    if (dropped.has(op) || replaced.has(op) || !used.has(op) || (uses.get(op) ?? 0) > 0) continue;
    if (isStateful(op) || isFeedPoint(op) || keep.has(op.name)) continue;
    dropped.add(op);
    release(op);
  }
  return dropped;
}

function uniqueControls(lists: Operation[][]): Operation[] {
  return [...new Set(lists.flat())];
}

function rewrite(graph: Graph, folds: Fold[], keep: Set<string>): Graph {
  const dropped = orphans(graph, folds, keep);
  const byProducer = new Map(folds.map((f) => [f.plan.producer, f]));
  const byNode = new Map(folds.map((f) => [f.match.node, f]));
  return rewriteGraph(graph, (op, ctx) => {
    if (dropped.has(op)) return "drop";
    const asProducer = byProducer.get(op);
    if (asProducer) return [replaceProducer(asProducer.plan, ctx)];
    const asNode = byNode.get(op);
    if (asNode) return replaceNode(asNode, ctx);
    return undefined;
  });
}

/** The conv / matmul again, under its name, reading the scaled weights. */
function replaceProducer(plan: FoldPlan, ctx: RewriteContext): Tensor {
  const p = plan.producer;
  // The old weights Const (behind TF's `w/read` Identity) was dropped when nothing else reads it: its name is free again.
  let oldWeights = p.inputs[1].op;
  while (oldWeights.type === "Identity") oldWeights = oldWeights.inputs[0].op;
  const free = oldWeights.type === "Const" && !ctx.graph.hasOperation(oldWeights.name) && !ctx.op(oldWeights);
  const name = free ? oldWeights.name : ctx.graph.uniqueName(`${p.name}/folded_weights`);
  const weights = ctx.graph.addOp({ type: "Const", name, absoluteName: true, attrs: { value: plan.weights, dtype: "float32" }, noCapture: true }).outputs[0];
  const op = ctx.graph.addOp({
    type: p.type,
    name: p.name,
    absoluteName: true,
    inputs: [ctx.tensor(p.inputs[0]), weights],
    attrs: { ...p.attrs },
    controlInputs: ctx.controlInputs(p),
    noCapture: true,
  });
  return op.outputs[0];
}

const EXTRA_OUTPUTS = ["batch_mean", "batch_variance", "reserve_space_1", "reserve_space_2", "reserve_space_3"];

/** BiasAdd(folded producer, new bias) under the batch norm's name; constants for its consumed extra outputs. */
function replaceNode({ match, plan }: Fold, ctx: RewriteContext): (Tensor | undefined)[] {
  const g = ctx.graph;
  const bias = float32Array(plan.bias, [plan.bias.length]);
  const biasName = g.uniqueName(`${plan.producer.name}_bn_offset`);
  const biasConst = g.addOp({ type: "Const", name: biasName, absoluteName: true, attrs: { value: bias, dtype: "float32" }, noCapture: true }).outputs[0];
  const controls = uniqueControls([match.node, plan.biasOp, ...match.inner].filter((o): o is Operation => o !== null).map((o) => ctx.controlInputs(o)));
  const biasAdd = g.addOp({
    type: "BiasAdd",
    name: match.node.name,
    absoluteName: true,
    inputs: [ctx.tensor(plan.producer.outputs[0]), biasConst],
    // A TF-imported producer carries TF's `T`: the new BiasAdd carries it too, so TF can read the result.
    attrs: plan.producer.attrs.T !== undefined ? { data_format: plan.dataFormat, T: plan.producer.attrs.T } : { data_format: plan.dataFormat },
    controlInputs: controls,
    noCapture: true,
  });
  const extras = (match.extraOutputs ?? []).map((value, i) => {
    if (!value) return undefined;
    const array = float32Array(value.data, value.shape);
    const name = g.uniqueName(`${match.node.name}/${EXTRA_OUTPUTS[i]}`);
    return g.addOp({ type: "Const", name, absoluteName: true, attrs: { value: array, dtype: "float32" }, noCapture: true }).outputs[0];
  });
  return [biasAdd.outputs[0], ...extras];
}
