/**
 * `foldflow run model.pbtxt --feed x=input.npy --feed y=data.json --outputs logits`: runs the
 * graph in a session and prints the outputs. A feed is `name=file.npy` (float32 / int32 / bool,
 * C order), `name=file.json` (nested arrays, a number, a boolean, or { dtype, shape, data }),
 * or `name=<JSON literal>` (`phase=false`, `x=[[1,2]]`).
 */
import type { Command } from "commander";
import * as fs from "node:fs";
import { extname } from "node:path";
import { invalidArgument, notFound } from "../../ir/diagnostics";
import type { DType } from "../../ir/dtype";
import type { Graph } from "../../ir/graph";
import { ndarray, type NDArray, type NestedArray } from "../../ir/ndarray";
import { formatShape } from "../../ir/shape";
import type { FeedValue } from "../../src/runtime/feeds";
import type { BackendName } from "../../src/session";
import { writeOutputFile } from "../atomic-write";
import { fileDiagnostic } from "../errors";
import { loadGraph } from "../model";
import { collect, collectNames } from "../options";
import { readNpy, writeNpy } from "../npy";
import type { Output } from "../progress";

export interface RunOptions {
  feed?: string[];
  outputs?: string[];
  backend?: string;
  init?: string;
  json?: boolean;
  output?: string;
}

function readFile(path: string): Buffer {
  try {
    return fs.readFileSync(path);
  } catch (e) {
    const d = fileDiagnostic(e, path, "read");
    throw (e as NodeJS.ErrnoException).code === "ENOENT" ? notFound(d) : invalidArgument(d);
  }
}

function parseJson(text: string, source: string): unknown {
  try {
    return JSON.parse(text);
  } catch (e) {
    throw invalidArgument({ code: "bad-json", message: `${source}: not valid JSON: ${(e as Error).message}`, fix: "write nested arrays, a number, a boolean or { dtype, shape, data }" });
  }
}

/** A JSON feed: nested arrays / number / boolean, or { dtype, shape, data }. */
function jsonFeed(value: unknown, source: string): FeedValue {
  if (value !== null && typeof value === "object" && !Array.isArray(value)) {
    const o = value as { dtype?: unknown; shape?: unknown; data?: unknown };
    if (!Array.isArray(o.data) || (o.shape !== undefined && !Array.isArray(o.shape)))
      throw invalidArgument({ code: "bad-feed", message: `${source}: a feed object needs a \`data\` array (and optionally \`shape\` and \`dtype\`)`, fix: 'write { "dtype": "float32", "shape": [2, 2], "data": [1, 2, 3, 4] }' });
    return ndarray(o.data as NestedArray, o.shape as number[] | undefined, o.dtype as DType | undefined);
  }
  if (typeof value === "number" || typeof value === "boolean" || Array.isArray(value)) return value as NestedArray;
  throw invalidArgument({ code: "bad-feed", message: `${source}: a feed must be an array, a number or a boolean`, received: typeof value, fix: "write nested arrays of numbers" });
}

/** Parses `name=value` feeds. */
export function parseFeeds(specs: readonly string[]): Record<string, FeedValue> {
  const feeds: Record<string, FeedValue> = {};
  for (const spec of specs) {
    const eq = spec.indexOf("=");
    if (eq <= 0)
      throw invalidArgument({ code: "bad-feed", message: `--feed \`${spec}\` is not name=value`, fix: "pass --feed x=input.npy (or x=data.json, or x=<JSON>)" });
    const name = spec.slice(0, eq);
    const value = spec.slice(eq + 1);
    const ext = extname(value).toLowerCase();
    if (ext === ".npy") feeds[name] = readNpy(readFile(value), value);
    else if (ext === ".json") feeds[name] = jsonFeed(parseJson(readFile(value).toString("utf8"), value), value);
    else feeds[name] = jsonFeed(parseJson(value, `--feed ${name}`), `--feed ${name}`);
  }
  return feeds;
}

async function defaultOutputs(graph: Graph): Promise<string[]> {
  const { sinkOps } = await import("../../passes/sinks");
  const sinks = sinkOps(graph);
  if (sinks.length === 0)
    throw invalidArgument({ code: "no-outputs", message: "the graph has no op whose output nothing reads", fix: "name the outputs to print with --outputs" });
  return sinks.map((op) => op.name);
}

function outputJson(values: Record<string, NDArray>): Record<string, { dtype: DType; shape: number[]; data: NestedArray }> {
  return Object.fromEntries(Object.entries(values).map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape, data: v.toArray() }]));
}

export async function runGraph(path: string, opts: RunOptions, output: Output): Promise<void> {
  const backend = (opts.backend ?? "interpreter") as BackendName;
  if (backend !== "interpreter" && backend !== "js" && backend !== "wasm")
    throw invalidArgument({ code: "bad-option", message: `unknown backend \`${backend}\``, expected: "interpreter, js or wasm", received: backend, fix: "pass --backend interpreter, --backend js or --backend wasm" });
  const feeds = parseFeeds(opts.feed ?? []);
  const { graph } = await loadGraph(path);
  const outputs = opts.outputs && opts.outputs.length ? opts.outputs : await defaultOutputs(graph);
  const [{ resolveOutputs }, { Session }] = await Promise.all([import("../../passes/outputs"), import("../../src/session")]);
  resolveOutputs(graph, outputs);
  // Warnings are printed once the run succeeded, so that a failure stays one line.
  const warnings: string[] = [];
  const sess = new Session({ graph, backend, onWarning: (d) => warnings.push(`foldflow: warning: ${d.message}`) });
  const hasVariables = graph.operations.some((op) => op.type === "VariableV2");
  const init = opts.init ?? (hasVariables && graph.hasOperation("init") ? "init" : undefined);
  if (init) sess.runSync(graph.getOperationByName(init));
  const results = sess.runSync(outputs, feeds) as NDArray[];
  sess.close();
  warnings.forEach((w) => output.err(w));
  const values: Record<string, NDArray> = Object.fromEntries(outputs.map((name, i) => [name, results[i]]));
  if (opts.output) {
    const ext = extname(opts.output).toLowerCase();
    if (ext === ".npy") {
      if (outputs.length !== 1)
        throw invalidArgument({ code: "bad-output", message: `a .npy file holds one array, and ${outputs.length} outputs were fetched`, fix: "fetch one output, or write .json" });
      writeOutputFile(opts.output, writeNpy(results[0]));
    } else if (ext === ".json") writeOutputFile(opts.output, `${JSON.stringify(outputJson(values))}\n`);
    else throw invalidArgument({ code: "bad-output", message: `cannot tell the format of \`${opts.output}\``, expected: ".npy or .json", received: ext || "no extension" });
  }
  if (opts.json) {
    output.out(JSON.stringify(outputJson(values)));
    return;
  }
  for (const [name, v] of Object.entries(values)) {
    output.out(`${name}: ${v.dtype} ${formatShape(v.shape)}`);
    output.out(JSON.stringify(v.toArray()));
  }
}

export function registerRun(program: Command, output: Output): void {
  program
    .command("run")
    .description("run the graph on fed values and print the outputs")
    .argument("<model>", "GraphDef in text format (.pbtxt)")
    .option("--feed <name=value>", "a feed: name=file.npy, name=file.json or name=<JSON> (repeatable)", collect)
    .option("--outputs <names>", "tensors to fetch (comma-separated or repeated; default: the graph's sinks)", collectNames)
    .option("--backend <name>", "interpreter (default), js or wasm")
    .option("--init <op>", "an op to run first (default: `init`, when the graph has variables)")
    .option("--json", "print the outputs as one JSON object")
    .option("-o, --output <file>", "also write the outputs to a .npy (one output) or .json file")
    .action((path: string, opts: RunOptions) => runGraph(path, opts, output));
}
