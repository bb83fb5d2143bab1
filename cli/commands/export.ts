/**
 * `foldflow export model.pbtxt --format onnx|js|wasm|wgsl -o file`: one file for other runtimes.
 * ONNX: the batch norms folded (the rest in inference form), written as an ONNX model (opset 13).
 * js: the generated JS module; wasm: the standalone ES module with the WebAssembly bytes
 * embedded; wgsl: the generated shaders in one file (each section a complete WGSL module;
 * `foldflow compile --target wgsl` also writes the JS module that dispatches them).
 */
import type { Command } from "commander";
import { invalidArgument } from "../../ir/diagnostics";
import { writeOutputFile } from "../atomic-write";
import { COMPILE_STEPS } from "../compile-target";
import { loadModel } from "../model";
import { collect, collectNames, trainingOption } from "../options";
import { withProgress, type Output } from "../progress";
import { modelBase } from "./compile";

export interface ExportOptions {
  format?: string;
  output: string;
  outputs?: string[];
  fold?: boolean;
  training?: string;
  inputShape?: string[];
  quiet?: boolean;
}

const FORMATS = ["onnx", "js", "wasm", "wgsl"];

async function onnxBytes(path: string, opts: ExportOptions): Promise<{ bytes: Uint8Array; summary: string }> {
  const training = trainingOption(opts.training);
  const model = await loadModel(path);
  const outputs = opts.outputs && opts.outputs.length ? opts.outputs : undefined;
  const [{ exportOnnx }, { foldBatchNorms }] = await Promise.all([import("../../codegen/onnx/export"), import("../../src/tools")]);
  const source = opts.fold === false ? model.graphDef : foldBatchNorms(model.graphDef, { outputs, training }).graphDef;
  const result = exportOnnx(source, { outputs });
  const io = (vs: typeof result.inputs) => vs.map((v) => v.name).join(", ") || "none";
  return { bytes: result.bytes, summary: `${result.model.graph.node.length} ONNX nodes; inputs: ${io(result.inputs)}; outputs: ${io(result.outputs)}` };
}

export async function runExport(path: string, opts: ExportOptions, output: Output): Promise<void> {
  const format = (opts.format ?? "onnx").toLowerCase();
  if (!FORMATS.includes(format))
    throw invalidArgument({ code: "bad-format", message: `unknown export format \`${opts.format}\``, expected: FORMATS.join(", "), received: String(opts.format), fix: "pass --format onnx, --format js, --format wasm or --format wgsl" });
  if (format === "onnx") {
    const { bytes, summary } = await onnxBytes(path, opts);
    writeOutputFile(opts.output, bytes);
    output.out(`wrote ${opts.output} (${summary})`);
    return;
  }
  const { compileModel } = await import("../compile-model");
  await withProgress(COMPILE_STEPS, output, opts.quiet === true, async (p) => {
    const compiled = await compileModel(path, modelBase(path), { ...opts, target: format }, p);
    // wgsl: the shaders only (the JS module that dispatches them is `foldflow compile`'s).
    const files = format === "wgsl" ? compiled.files.filter((f) => f.name.endsWith(".wgsl")) : compiled.files;
    const data = files.length === 1 ? files[0].data : files.map((f) => `// ---- ${f.name} ----\n${f.data}`).join("\n");
    writeOutputFile(opts.output, data);
  });
  output.out(`wrote ${opts.output}`);
}

export function registerExport(program: Command, output: Output): void {
  program
    .command("export")
    .description("export the inference graph as an ONNX model, a JS or WebAssembly module, or WGSL shaders")
    .argument("<model>", "GraphDef in text format (.pbtxt), frozen")
    .option("--format <format>", "onnx (default), js, wasm or wgsl", "onnx")
    .requiredOption("-o, --output <file>", "the file to write (model.onnx, model.js, model.mjs, model.wgsl)")
    .option("--outputs <names>", "outputs to export (comma-separated or repeated; default: the graph's sinks)", collectNames)
    .option("--no-fold", "export without folding batch norms first")
    .option("--training <bool>", "value of the training flags that tf.cond switches on")
    .option("--input-shape <name=dims>", "a concrete input shape for the generated code, e.g. x=8,28,28,1 (repeatable; unknown dims are 1 otherwise)", collect)
    .option("-q, --quiet", "no progress output")
    .action((path: string, opts: ExportOptions) => runExport(path, opts, output));
}
