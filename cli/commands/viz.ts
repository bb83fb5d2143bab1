/**
 * `foldflow viz model.pbtxt -o graph.svg` (or graph.dot): draws the GraphDef. DOT is written
 * as it is; SVG is laid out with dagre, without needing Graphviz.
 */
import type { Command } from "commander";
import { extname } from "node:path";
import { invalidArgument } from "../../ir/diagnostics";
import { writeOutputFile } from "../atomic-write";
import { loadModel } from "../model";
import { collectNames } from "../options";
import type { Output } from "../progress";
import { toDot } from "../viz/dot";
import { vizGraph } from "../viz/model";

export interface VizOptions {
  output: string;
  outputs?: string[];
  rankdir?: string;
  constants?: boolean;
}

export async function runViz(path: string, opts: VizOptions, output: Output): Promise<void> {
  const ext = extname(opts.output).toLowerCase();
  if (ext !== ".svg" && ext !== ".dot" && ext !== ".gv")
    throw invalidArgument({
      code: "bad-output",
      message: `cannot tell the format of \`${opts.output}\` from its extension`,
      expected: ".svg, .dot or .gv",
      received: ext || "no extension",
      fix: "name the output graph.svg or graph.dot",
    });
  const rankdir = (opts.rankdir ?? "TB").toUpperCase();
  if (rankdir !== "TB" && rankdir !== "LR")
    throw invalidArgument({ code: "bad-option", message: "--rankdir takes TB or LR", received: JSON.stringify(opts.rankdir), fix: "pass --rankdir TB or --rankdir LR" });
  const model = await loadModel(path);
  const { extractSubGraph } = await import("../../src/freeze");
  const graphDef = opts.outputs && opts.outputs.length ? extractSubGraph(model.graphDef, opts.outputs) : model.graphDef;
  const g = vizGraph(graphDef, { hideConstants: opts.constants === false });
  const text = ext === ".svg" ? (await import("../viz/svg")).toSvg(g, path, rankdir) : toDot(g, path, rankdir);
  writeOutputFile(opts.output, text);
  output.out(`wrote ${opts.output} (${g.nodes.length} nodes, ${g.edges.length} edges)`);
}

export function registerViz(program: Command, output: Output): void {
  program
    .command("viz")
    .description("draw the graph as SVG (laid out with dagre) or Graphviz DOT")
    .argument("<model>", "GraphDef in text format (.pbtxt)")
    .requiredOption("-o, --output <file>", "graph.svg or graph.dot")
    .option("--outputs <names>", "draw only what these outputs need (comma-separated or repeated)", collectNames)
    .option("--rankdir <dir>", "TB (top to bottom, default) or LR")
    .option("--no-constants", "leave Const nodes out")
    .action((path: string, opts: VizOptions) => runViz(path, opts, output));
}
