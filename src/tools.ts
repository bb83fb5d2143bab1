/**
 * `tf.tools`: whole-GraphDef transformations, as TF1's graph_transforms tool offers them.
 *
 *   const frozen = tf.graphUtil.convertVariablesToConstants(sess, g.asGraphDef(), ["logits"]);
 *   const { graphDef, report } = tf.tools.foldBatchNorms(frozen);   // report: one row per BN node
 *
 * foldBatchNorms imports the GraphDef (or its text), fixes the training flags that tf.cond
 * switches on (a PlaceholderWithDefault takes its default; `training` fixes the others), folds
 * every batch norm it can into the conv / matmul before it, and prunes to `outputs` when given.
 */
import "../ir/ops/index";
import type { Diagnostic } from "../ir/diagnostics";
import type { Graph, Operation, Tensor } from "../ir/graph";
import type { GraphDef, GraphDefDocument } from "../ir/graphdef/model";
import { importGraphDef } from "../ir/graphdef/read";
import { graphDefDocument, toGraphDef } from "../ir/graphdef/write";
import { foldBatchNorms as foldPass, type FoldReportRow } from "../passes/fold-batch-norm";
import { resolveOutputs } from "../passes/outputs";
import { prune } from "../passes/prune";
import { specialize } from "../passes/specialize";

export type { FoldReportRow, BatchNormForm } from "../passes/fold-batch-norm";

export interface FoldBatchNormsToolOptions {
  /** Outputs to keep: the result is pruned to what they need, and their names and values stay. */
  outputs?: readonly string[];
  /** The value of the bool placeholders that tf.cond switches on, where they have no default (or to override it). */
  training?: boolean;
}

export interface FoldBatchNormsToolResult {
  graphDef: GraphDefDocument;
  report: FoldReportRow[];
  /** Refusals and the notes of the passes run (placeholders fixed ...). */
  diagnostics: Diagnostic[];
}

/** The bool placeholder a cond predicate comes from (through Identity and nested Switches). */
function predicatePlaceholder(pred: Tensor): Operation | undefined {
  let t = pred;
  while (t.op.type === "Identity" || t.op.type === "Switch") t = t.op.inputs[0];
  return t.dtype === "bool" && (t.op.type === "Placeholder" || t.op.type === "PlaceholderWithDefault") ? t.op : undefined;
}

/** Fixes the training flags of the graph's conds: defaults, or `training`. */
function fixTrainingFlags(graph: Graph, training: boolean | undefined, outputs: readonly string[] | undefined): { graph: Graph; diagnostics: Diagnostic[] } {
  const feeds: Record<string, "default"> = {};
  let unresolved = false;
  for (const op of graph.operations) {
    if (op.type !== "Switch") continue;
    const flag = predicatePlaceholder(op.inputs[1]);
    if (!flag) continue;
    if (flag.type === "PlaceholderWithDefault" && flag.inputs[0].op.type === "Const" && training === undefined) feeds[flag.name] = "default";
    else unresolved = true;
  }
  if (Object.keys(feeds).length === 0 && !(unresolved && training !== undefined)) return { graph, diagnostics: [] };
  const r = specialize(graph, { feeds, training, outputs });
  return { graph: r.graph, diagnostics: r.diagnostics };
}

/**
 * `tf.tools.foldBatchNorms(graphDef | text, { outputs })`: the GraphDef with every foldable batch
 * norm folded into the conv2d / depthwiseConv2d / matmul before it, and a report with one row
 * per batch-norm node ({ node, form, producer, folded, reason }).
 */
export function foldBatchNorms(source: GraphDef | string, options: FoldBatchNormsToolOptions = {}): FoldBatchNormsToolResult {
  let graph = importGraphDef(source);
  if (options.outputs) resolveOutputs(graph, options.outputs);
  const fixed = fixTrainingFlags(graph, options.training, options.outputs);
  graph = fixed.graph;
  const folded = foldPass(graph, { outputs: options.outputs });
  graph = folded.graph;
  const diagnostics = [...fixed.diagnostics, ...folded.diagnostics];
  if (options.outputs) {
    const pruned = prune(graph, { outputs: options.outputs });
    graph = pruned.graph;
    diagnostics.push(...pruned.diagnostics);
  }
  const out = toGraphDef(graph);
  if (typeof source !== "string" && source.library !== undefined) out.library = source.library;
  if (typeof source !== "string" && source.versions) out.versions = { ...source.versions };
  return { graphDef: graphDefDocument(out), report: folded.report, diagnostics };
}

/** The report as lines for the console: `folded  bn (FusedBatchNormV3) into conv`, or the reason. */
export function formatFoldReport(report: readonly FoldReportRow[]): string {
  if (report.length === 0) return "no batch-norm nodes found";
  return report
    .map((r) =>
      r.folded
        ? `folded      ${r.node} (${r.form}) into ${r.producer}`
        : `not folded  ${r.node} (${r.form})${r.producer ? ` after ${r.producer}` : ""}: ${r.reason}`,
    )
    .join("\n");
}
export { exportOnnx } from "../codegen/onnx/export";
export type { OnnxExportOptions, OnnxExport, OnnxValue } from "../codegen/onnx/export";
