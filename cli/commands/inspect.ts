/**
 * `foldflow inspect model.pbtxt`: what a GraphDef holds — op counts by type, its inputs
 * (placeholders) and sinks (ops whose outputs nothing reads), every batch-norm node with its
 * form and state, the moving-statistic updates (UPDATE_OPS), and the fold candidates: what
 * `foldflow fold` would fold, and why not where it would not.
 */
import type { Command } from "commander";
import { trainingOption } from "../options";
import type { Output } from "../progress";
import { formatTable } from "../table";
import type { InspectReport } from "./inspect-report";

export function formatInspect(r: InspectReport): string {
  const parts: string[] = [];
  parts.push(`${r.model}: ${r.nodes} nodes, ${r.opCounts.length} op types`);
  parts.push("", "Ops:", formatTable(["type", "count"], r.opCounts.map((c) => [c.type, String(c.count)]), "  "));
  parts.push("", "Inputs (placeholders):");
  parts.push(r.inputs.length ? formatTable(["name", "dtype", "shape", "default"], r.inputs.map((i) => [i.name, i.dtype, i.shape, i.default ?? "-"]), "  ") : "  none");
  parts.push("", "Outputs (sinks: ops whose outputs nothing reads):");
  parts.push(r.sinks.length ? formatTable(["name", "type"], r.sinks.map((s) => [s.name, s.type]), "  ") : "  none");
  parts.push("", "Batch-norm nodes:");
  parts.push(r.batchNorms.length ? formatTable(["node", "form", "state"], r.batchNorms.map((b) => [b.node, b.form, b.state]), "  ") : "  none");
  parts.push("", "UPDATE_OPS: a GraphDef does not record collections; assigns to moving statistics in the graph:");
  parts.push(r.updateOps.assigns.length ? formatTable(["op", "type", "variable"], r.updateOps.assigns.map((a) => [a.name, a.type, a.variable]), "  ") : "  none");
  parts.push("", "Fold candidates (what `foldflow fold` does):");
  const switched = r.batchNorms.some((b) => b.state.startsWith("switched by a tf.cond"));
  if (r.foldError) parts.push(`  cannot fold: ${r.foldError}`);
  else if (r.foldCandidates.length === 0) parts.push("  none");
  else
    parts.push(
      formatTable(
        ["batch norm", "form", "into", "result"],
        r.foldCandidates.map((c) => [c.node, c.form, c.producer ?? "-", c.folded ? "folds" : `not folded: ${c.reason}`]),
        "  ",
      ),
    );
  if (switched && r.training === undefined && !r.foldCandidates.some((c) => c.folded))
    parts.push("  (the batch norms are switched by a training flag: pass --training false to see what folds in inference mode)");
  return parts.join("\n");
}

export function registerInspect(program: Command, output: Output): void {
  program
    .command("inspect")
    .description("show a model's ops, inputs, outputs, batch-norm nodes, UPDATE_OPS and fold candidates")
    .argument("<model>", "GraphDef in text format (.pbtxt)")
    .option("--json", "print the report as JSON")
    .option("--training <bool>", "value of the training flags that tf.cond switches on, for the fold candidates")
    .action(async (path: string, opts: { json?: boolean; training?: string }) => {
      const training = trainingOption(opts.training);
      const { inspectModel } = await import("./inspect-report");
      const report = await inspectModel(path, training);
      output.out(opts.json ? JSON.stringify(report, null, 2) : formatInspect(report));
    });
}
