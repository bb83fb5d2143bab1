/**
 * `foldflow compile model.pbtxt --outputs logits --target js|wasm|wgsl -o out/`: folds the
 * model's batch norms and writes the generated code into the output directory — `<model>.js`,
 * the JS module (wasm: a standalone ES module with the WebAssembly bytes embedded); for WGSL,
 * one `.wgsl` file per shader beside the module that dispatches them.
 */
import type { Command } from "commander";
import { basename, extname, join } from "node:path";
import { writeOutputDirectory } from "../atomic-write";
import { checkTarget, COMPILE_STEPS, type CompileModelOptions } from "../compile-target";
import { collect, collectNames } from "../options";
import { withProgress, type Output } from "../progress";

export interface CompileCommandOptions extends CompileModelOptions {
  output: string;
  quiet?: boolean;
}

/** The model file's name without directory and extension: the base name of generated files. */
export function modelBase(path: string): string {
  return basename(path, extname(path)) || "model";
}

export async function runCompile(path: string, opts: CompileCommandOptions, output: Output): Promise<void> {
  checkTarget(opts.target);
  const { compileModel } = await import("../compile-model");
  const { files } = await withProgress(COMPILE_STEPS, output, opts.quiet === true, async (p) => {
    const compiled = await compileModel(path, modelBase(path), opts, p);
    writeOutputDirectory(opts.output, compiled.files);
    return compiled;
  });
  for (const f of files) output.out(`wrote ${join(opts.output, f.name)}`);
}

export function registerCompile(program: Command, output: Output): void {
  program
    .command("compile")
    .description("fold batch norms and generate JS, WebAssembly or WGSL code for the outputs")
    .argument("<model>", "GraphDef in text format (.pbtxt), frozen")
    .requiredOption("--outputs <names>", "outputs to compute (comma-separated or repeated)", collectNames)
    .option("--target <target>", "js (default), wasm or wgsl", "js")
    .requiredOption("-o, --output <dir>", "directory to write the generated files to")
    .option("--no-fold", "compile without folding batch norms first")
    .option("--training <bool>", "value of the training flags that tf.cond switches on")
    .option("--input-shape <name=dims>", "a concrete input shape for the generated code, e.g. x=8,28,28,1 (repeatable; unknown dims are 1 otherwise)", collect)
    .option("-q, --quiet", "no progress output")
    .action((path: string, opts: CompileCommandOptions) => runCompile(path, opts, output));
}
