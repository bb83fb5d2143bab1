/**
 * The analysis behind `foldflow inspect` (loaded when the command runs): op counts, inputs
 * (placeholders), sinks, batch-norm nodes with their form and state (a tf.cond on a training
 * flag named), the assigns to moving statistics, and the fold candidates of tf.tools.foldBatchNorms.
 */
import "../../ir/ops/index";
import type { Graph, Operation } from "../../ir/graph";
import { importGraphDef } from "../../ir/graphdef/read";
import type { NDArray } from "../../ir/ndarray";
import { formatShape } from "../../ir/shape";
import { matchBatchNorm } from "../../passes/fold-batch-norm-match";
import { directProducer } from "../../passes/fold-batch-norm-producer";
import { ConstantValues } from "../../passes/fold-batch-norm-values";
import { isInitializer } from "../../passes/outputs";
import { foldBatchNorms, type FoldReportRow } from "../../src/tools";
import { errorLine } from "../errors";
import { loadModel } from "../model";

export interface InspectReport {
  model: string;
  nodes: number;
  opCounts: { type: string; count: number }[];
  inputs: { name: string; type: string; dtype: string; shape: string; default?: string }[];
  sinks: { name: string; type: string }[];
  batchNorms: { node: string; form: string; state: string }[];
  updateOps: { recorded: false; assigns: { name: string; type: string; variable: string }[] };
  foldCandidates: FoldReportRow[];
  /** The --training value the fold candidates were computed with. */
  training?: boolean;
  /** Why the fold candidates could not be computed, when they could not. */
  foldError?: string;
}

const UPDATE_TYPES = new Set(["Assign", "AssignSub", "AssignAdd"]);
const MOVING = /moving_(mean|variance)|renorm_(mean|stddev)|AssignMovingAvg/;

function opCounts(graph: Graph): { type: string; count: number }[] {
  const counts = new Map<string, number>();
  for (const op of graph.operations) counts.set(op.type, (counts.get(op.type) ?? 0) + 1);
  return [...counts].map(([type, count]) => ({ type, count })).sort((a, b) => b.count - a.count || a.type.localeCompare(b.type));
}

function inputs(graph: Graph): InspectReport["inputs"] {
  return graph.operations
    .filter((op) => op.type === "Placeholder" || op.type === "PlaceholderWithDefault")
    .map((op) => {
      const t = op.outputs[0];
      const row: InspectReport["inputs"][number] = { name: op.name, type: op.type, dtype: t.dtype, shape: formatShape(t.shape) };
      if (op.type === "PlaceholderWithDefault" && op.inputs[0].op.type === "Const") {
        const v = op.inputs[0].op.attrs.value as NDArray;
        row.default = v.size <= 8 ? JSON.stringify(v.toArray()) : `${v.dtype} ${formatShape(v.shape)}`;
      }
      return row;
    });
}

function sinks(graph: Graph): InspectReport["sinks"] {
  const read = new Set<Operation>();
  for (const op of graph.operations) {
    op.inputs.forEach((t) => read.add(t.op));
    op.controlInputs.forEach((c) => read.add(c));
  }
  return graph.operations.filter((op) => !read.has(op)).map((op) => ({ name: op.name, type: op.type }));
}

function ancestors(roots: Operation[]): Set<Operation> {
  const seen = new Set<Operation>();
  const stack = [...roots];
  while (stack.length) {
    const op = stack.pop()!;
    if (seen.has(op)) continue;
    seen.add(op);
    for (const t of op.inputs) stack.push(t.op);
  }
  return seen;
}

/** The flag of the tf.cond that picks a batch norm's statistics (`phase`), if one does. */
function condFlag(node: Operation, x: Operation): string | undefined {
  const own = ancestors([node]);
  for (const op of ancestors([x])) own.delete(op);
  for (const op of own) {
    if (op.type !== "Switch") continue;
    let pred = op.inputs[1].op;
    while ((pred.type === "Identity" || pred.type === "Switch") && pred.inputs.length) pred = pred.inputs[0].op;
    return pred.name;
  }
  return undefined;
}

function batchNorms(graph: Graph): InspectReport["batchNorms"] {
  const values = new ConstantValues();
  const rows: InspectReport["batchNorms"] = [];
  for (const op of graph.operations) {
    const m = matchBatchNorm(op, values);
    // A bare Mul + Add of constants is a batch norm only where it could fold (after a conv / matmul).
    if (!m || (m.form === "mul-add" && !directProducer(m.x))) continue;
    const flag = m.reason ? condFlag(op, m.x.op) : undefined;
    const state = flag ? `switched by a tf.cond on \`${flag}\`: batch statistics when true, moving statistics when false` : (m.reason ?? "inference mode, constant parameters");
    rows.push({ node: op.name, form: m.form, state });
  }
  return rows;
}

/** The assigns to moving statistics: what UPDATE_OPS held (a GraphDef does not record collections). */
function updateOps(graph: Graph): InspectReport["updateOps"] {
  const assigns = graph.operations
    .filter((op) => UPDATE_TYPES.has(op.type) && op.inputs.length > 0 && !isInitializer(op))
    .map((op) => {
      let v = op.inputs[0].op;
      while (v.type === "Identity" && v.inputs.length) v = v.inputs[0].op;
      return { name: op.name, type: op.type, variable: v.name };
    })
    .filter((a) => MOVING.test(a.variable) || MOVING.test(a.name));
  return { recorded: false, assigns };
}

export async function inspectModel(path: string, training?: boolean): Promise<InspectReport> {
  const model = await loadModel(path);
  const graph = importGraphDef(model.graphDef);
  const report: InspectReport = {
    model: path,
    nodes: graph.operations.length,
    opCounts: opCounts(graph),
    inputs: inputs(graph),
    sinks: sinks(graph),
    batchNorms: batchNorms(graph),
    updateOps: updateOps(graph),
    foldCandidates: [],
  };
  if (training !== undefined) report.training = training;
  try {
    report.foldCandidates = foldBatchNorms(model.graphDef, { training }).report;
  } catch (e) {
    report.foldError = errorLine(e);
  }
  return report;
}
