/**
 * Reading the model a command names: a GraphDef in protobuf text format (.pbtxt), as
 * `g.asGraphDef().toText()` or TF1's tf.io.write_graph write it. A missing file, a binary
 * GraphDef, a syntax error (with line and column) or an unknown op type is one diagnostic.
 */
import * as fs from "node:fs";
import { invalidArgument, notFound } from "../ir/diagnostics";
import type { Graph } from "../ir/graph";
import type { GraphDef } from "../ir/graphdef/model";
import { fileDiagnostic } from "./errors";

export interface LoadedModel {
  path: string;
  text: string;
  graphDef: GraphDef;
}

/** The text of the model file. */
export function readModelText(path: string): string {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(path);
  } catch (e) {
    const d = fileDiagnostic(e, path, "read");
    throw (e as NodeJS.ErrnoException).code === "ENOENT" ? notFound(d) : invalidArgument(d);
  }
  if (bytes.includes(0))
    throw invalidArgument({
      code: "binary-graphdef",
      message: `\`${path}\` is a binary file; foldflow reads GraphDefs in protobuf text format (.pbtxt)`,
      fix: "write the graph as text (tf.io.write_graph(graph_def, dir, 'model.pbtxt', as_text=True))",
    });
  return bytes.toString("utf8");
}

/**
 * Reads and parses the model file (syntax errors name the file, line and column). The graph
 * code is loaded here, not at startup, so that `--help` and usage errors answer at once.
 */
export async function loadModel(path: string): Promise<LoadedModel> {
  const text = readModelText(path);
  if (text.trim() === "")
    throw invalidArgument({ code: "empty-model", message: `\`${path}\` is empty`, expected: "a GraphDef in text format", fix: "check that the file was written completely" });
  const { fromText } = await import("../ir/graphdef/read");
  return { path, text, graphDef: fromText(text, path) };
}

/** Reads, parses and imports the model into a new graph (every op registered). */
export async function loadGraph(path: string): Promise<{ model: LoadedModel; graph: Graph }> {
  const model = await loadModel(path);
  await import("../ir/ops/index");
  const { importGraphDef } = await import("../ir/graphdef/read");
  return { model, graph: importGraphDef(model.graphDef) };
}
