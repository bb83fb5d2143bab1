/**
 * `foldflow`: the command-line compiler, a commander front end over the library.
 *
 *   foldflow inspect model.pbtxt                   ops, inputs, sinks, BN nodes, UPDATE_OPS, fold candidates
 *   foldflow fold model.pbtxt -o folded.pbtxt      fold BN into conv / dense; prints the report
 *   foldflow compile model.pbtxt --outputs logits --target js|wasm|wgsl -o out/
 *   foldflow export model.pbtxt --format onnx|js|wasm|wgsl -o model.onnx
 *   foldflow viz model.pbtxt -o graph.svg|graph.dot
 *   foldflow run model.pbtxt --feed x=input.npy --outputs logits
 *
 * Every command has --help, exits 0 on success and 1 with one line on stderr on bad input
 * (`foldflow: <diagnostic>`, never a stack trace), and writes its outputs atomically.
 */
import { Command, CommanderError } from "commander";
import { pathToFileURL } from "node:url";
import { registerCompile } from "./commands/compile";
import { registerExport } from "./commands/export";
import { registerFold } from "./commands/fold";
import { registerInspect } from "./commands/inspect";
import { registerRun } from "./commands/run";
import { registerViz } from "./commands/viz";
import { errorLine } from "./errors";
import type { Output } from "./progress";

const VERSION = "0.1.0";

const oneLine = (s: string) => s.replace(/\s*\r?\n\s*/g, " ").trim();

export function buildProgram(output: Output): Command {
  const program = new Command("foldflow");
  program
    .description("foldflow: a TF1-style graph compiler — inspect, fold batch norms, compile, export, draw and run GraphDefs")
    .version(VERSION, "-V, --version")
    .showSuggestionAfterError(true)
    .configureOutput({
      writeOut: (s) => output.out(s.replace(/\n$/, "")),
      writeErr: (s) => output.err(s.replace(/\n$/, "")),
      // commander's own errors (unknown option, missing argument): one line, like the others.
      outputError: (s, write) => write(`foldflow: ${oneLine(s.replace(/^error:\s*/, ""))}\n`),
    })
    .exitOverride();
  registerInspect(program, output);
  registerFold(program, output);
  registerCompile(program, output);
  registerExport(program, output);
  registerViz(program, output);
  registerRun(program, output);
  for (const command of program.commands) {
    command.exitOverride();
    command.configureOutput(program.configureOutput());
    command.showSuggestionAfterError(true);
  }
  return program;
}

/** Runs the CLI on `argv` (without node and the script); resolves to the exit code. */
export async function main(argv: readonly string[], output: Output = consoleOutput()): Promise<number> {
  const program = buildProgram(output);
  if (argv.length === 0) {
    output.err("foldflow: no command given; run `foldflow --help` for the commands");
    return 1;
  }
  try {
    await program.parseAsync([...argv], { from: "user" });
    return 0;
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode === 0 ? 0 : 1;
    output.err(`foldflow: ${errorLine(e)}`);
    if (process.env.FOLDFLOW_DEBUG && e instanceof Error && e.stack) output.err(e.stack);
    return 1;
  }
}

export function consoleOutput(): Output {
  // `foldflow inspect big.pbtxt | head`: a closed pipe ends the output quietly.
  process.stdout.on("error", (e: NodeJS.ErrnoException) => {
    if (e.code === "EPIPE") process.exit(process.exitCode ?? 0);
  });
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
  };
}

const invokedDirectly = process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href;
if (invokedDirectly) {
  main(process.argv.slice(2)).then(
    (code) => {
      process.exitCode = code;
    },
    (e: unknown) => {
      process.stderr.write(`foldflow: ${errorLine(e)}\n`);
      process.exitCode = 1;
    },
  );
}
