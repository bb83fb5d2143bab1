/**
 * The compile pipeline that `foldflow compile` and `foldflow export --format js|wasm|wgsl` share:
 * read the model, fold its batch norms (training flags fixed, pruned to the outputs), and hand
 * the folded GraphDef to tf.compile for the target. Each stage is a progress step.
 * The wasm target loads its code generator (binaryen) first: `await wasmReady()`.
 */
import { invalidArgument } from "../ir/diagnostics";
import { compile } from "../src/compile";
import type { GraphDef } from "../ir/graphdef/model";
import { foldBatchNorms, type FoldReportRow } from "../src/tools";
import { checkTarget, parseInputShapes, type CompileModelOptions, type Target } from "./compile-target";
import { wasmReady } from "../src/runtime/wasm/loader";
import { loadModel } from "./model";
import { trainingOption } from "./options";
import type { Progress } from "./progress";

export interface CompiledFiles {
  /** Files to write: name -> contents. */
  files: { name: string; data: string }[];
  report: FoldReportRow[];
}

/** `tf.compile`'s result as the CLI writes it (a WGSL program also lists its shaders). */
interface CompiledProgram {
  readonly source: string;
  readonly shaders?: readonly { name: string; code: string }[] | Readonly<Record<string, string>>;
}

/** tf.compile for the target (js, wasm: a module generated lazily, so its errors surface here too). */
async function compileFor(graph: GraphDef, options: { outputs: string[]; target: Target; inputs?: Record<string, number[]> }): Promise<CompiledProgram> {
  let program: CompiledProgram;
  if (options.target === "wgsl") program = compile(graph, { ...options, target: "wgsl" });
  else if (options.target === "wasm") {
    await wasmReady();
    program = compile(graph, { ...options, target: "wasm" });
  } else program = compile(graph, { ...options, target: "js" });
  void program.source;
  return program;
}

const LANGUAGE: Record<Target, string> = { js: "JavaScript", wasm: "WebAssembly", wgsl: "WGSL" };

/**
 * Files of a compiled program: the JS module (wasm: a standalone ES module with the WebAssembly
 * bytes embedded), or one .wgsl file per shader plus the dispatch module.
 */
function filesOf(program: CompiledProgram, base: string, target: Target): { name: string; data: string }[] {
  if (target !== "wgsl") return [{ name: `${base}.js`, data: program.source }];
  const shaders = program.shaders;
  const list = !shaders ? [] : Array.isArray(shaders) ? (shaders as { name: string; code: string }[]) : Object.entries(shaders).map(([name, code]) => ({ name, code: code as string }));
  const files = list.map((s) => ({ name: s.name.endsWith(".wgsl") ? s.name : `${s.name}.wgsl`, data: s.code }));
  files.push({ name: list.length ? `${base}.js` : `${base}.wgsl`, data: program.source });
  return files;
}

export async function compileModel(path: string, base: string, opts: CompileModelOptions, progress: Progress): Promise<CompiledFiles> {
  const target = checkTarget(opts.target);
  const outputs = opts.outputs ?? [];
  if (outputs.length === 0)
    throw invalidArgument({ code: "no-outputs", message: "compile needs the outputs to compute", fix: "pass --outputs logits (comma-separated or repeated)" });
  const training = trainingOption(opts.training);
  const inputs = parseInputShapes(opts.inputShape ?? []);
  progress.step(`reading ${path}`);
  const model = await loadModel(path);
  progress.step(opts.fold === false ? "pruning to the outputs" : "folding batch norms");
  const folded = foldBatchNorms(model.graphDef, { outputs, training });
  const graphDef = opts.fold === false ? model.graphDef : folded.graphDef;
  progress.step(`generating ${LANGUAGE[target]}`);
  const program = await compileFor(graphDef, inputs ? { outputs, target, inputs } : { outputs, target });
  progress.step("writing");
  return { files: filesOf(program, base, target), report: opts.fold === false ? [] : folded.report };
}
