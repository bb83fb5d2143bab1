/**
 * `foldflow fold model.pbtxt -o folded.pbtxt`: folds every batch norm it can into the conv /
 * depthwise conv / matmul before it (tf.tools.foldBatchNorms), writes the folded GraphDef and
 * prints the report, one row per batch-norm node.
 */
import type { Command } from "commander";
import type { FoldBatchNormsToolResult } from "../../src/tools";
import { writeOutputFile } from "../atomic-write";
import { loadModel } from "../model";
import { collectNames, trainingOption } from "../options";
import type { Output } from "../progress";
import { formatTable } from "../table";

export interface FoldCommandOptions {
  output: string;
  outputs?: string[];
  training?: string;
  json?: boolean;
}

export function formatFoldTable(result: FoldBatchNormsToolResult): string {
  const { report } = result;
  if (report.length === 0) return "no batch-norm nodes found";
  const rows = report.map((r) => [r.node, r.form, r.producer ?? "-", r.folded ? "folded" : `not folded: ${r.reason ?? ""}`]);
  return formatTable(["batch norm", "form", "into", "result"], rows);
}

export async function runFold(path: string, opts: FoldCommandOptions, output: Output): Promise<void> {
  const training = trainingOption(opts.training);
  const model = await loadModel(path);
  const { foldBatchNorms } = await import("../../src/tools");
  const outputs = opts.outputs && opts.outputs.length ? opts.outputs : undefined;
  const result = foldBatchNorms(model.graphDef, { outputs, training });
  const text = result.graphDef.toText();
  writeOutputFile(opts.output, text);
  const folded = result.report.filter((r) => r.folded).length;
  if (opts.json) {
    output.out(JSON.stringify({ output: opts.output, nodes: { before: model.graphDef.node.length, after: result.graphDef.node.length }, report: result.report }, null, 2));
    return;
  }
  output.out(formatFoldTable(result));
  output.out(
    `${folded} of ${result.report.length} batch norm(s) folded; wrote ${opts.output} (${result.graphDef.node.length} nodes, ${model.graphDef.node.length} before)`,
  );
}

export function registerFold(program: Command, output: Output): void {
  program
    .command("fold")
    .description("fold batch norms into the conv / dense before them and write the folded GraphDef")
    .argument("<model>", "GraphDef in text format (.pbtxt), frozen (parameters as constants)")
    .requiredOption("-o, --output <file>", "where to write the folded GraphDef (.pbtxt)")
    .option("--outputs <names>", "outputs to keep (comma-separated or repeated); the result is pruned to what they need", collectNames)
    .option("--training <bool>", "value of the training flags that tf.cond switches on (default: each PlaceholderWithDefault's default)")
    .option("--json", "print the report as JSON")
    .action((path: string, opts: FoldCommandOptions) => runFold(path, opts, output));
}
