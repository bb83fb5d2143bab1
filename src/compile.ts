/**
 * `tf.compile(graphOrGraphDefOrText, { outputs, target: "js", inputs? })`: a frozen graph
 * compiled ahead of time. `program.source` is a standalone ES module (weights embedded, no
 * imports) exporting `run(feeds)`; `program.run(feeds)` runs the same code in this process.
 *
 * Inputs are the placeholders the outputs need, or the names given in `inputs`; give
 * `inputs: { x: [8, 784] }` to fix their shapes. The module is specialized on the input shapes:
 * dimensions that are neither declared nor given are taken as 1 there, while `program.run`
 * specializes on each fed shape it sees.
 */
import { failedPrecondition, invalidArgument } from "../ir/diagnostics";
import { Graph, Operation, type Tensor } from "../ir/graph";
import type { GraphDef } from "../ir/graphdef/model";
import { importGraphDef } from "../ir/graphdef/read";
import type { NDArray } from "../ir/ndarray";
import { compileProgram } from "../codegen/js/program";
import { moduleSource, type ModuleIO } from "../codegen/js/module";
import { DEAD } from "./runtime/interpreter";
import { JsBackend } from "./runtime/js-backend";
import { normalizeFeeds, resolveTensorName, type FeedDict } from "./runtime/feeds";
import { planRun } from "./runtime/plan";
import { compileInputs, inputShapes, keyFeeds } from "./compile-endpoints";
import { compileWgsl, type CompiledWgslModel, type WgslCompileOptions } from "./compile-wgsl";
import { compileWasm, type CompiledWasmModel, type WasmCompileOptions } from "./compile-wasm";

export interface CompileOptions {
  /** Output names: "logits" (output 0) or "logits:0". */
  outputs: string | readonly string[];
  target?: "js";
  /** Input names (default: the placeholders the outputs need), or names with their concrete shapes. */
  inputs?: readonly string[] | Readonly<Record<string, readonly number[]>>;
}

export interface CompiledModel {
  readonly target: "js";
  /** The standalone ES module (see the file comment). */
  readonly source: string;
  readonly inputs: readonly ModuleIO[];
  readonly outputs: readonly ModuleIO[];
  /** Runs the program on `feeds` (keyed by input name): a record of output name → NDArray. */
  run(feeds: FeedDict): Promise<Record<string, NDArray>>;
  runSync(feeds: FeedDict): Record<string, NDArray>;
}

export function compile(source: Graph | GraphDef | string, options: WgslCompileOptions): CompiledWgslModel;
export function compile(source: Graph | GraphDef | string, options: WasmCompileOptions): CompiledWasmModel;
export function compile(source: Graph | GraphDef | string, options: CompileOptions): CompiledModel;
export function compile(
  source: Graph | GraphDef | string,
  options: CompileOptions | WgslCompileOptions | WasmCompileOptions,
): CompiledModel | CompiledWgslModel | CompiledWasmModel {
  // target "wgsl": WebGPU shaders and their loader (./compile-wgsl).
  if (options.target === "wgsl") return compileWgsl(source, options);
  // target "wasm": one WebAssembly SIMD module (./compile-wasm).
  if (options.target === "wasm") return compileWasm(source, options);
  const target = options.target ?? "js";
  if (target !== "js")
    throw invalidArgument({
      code: "unknown-target",
      message: `tf.compile has no target "${String(target)}"`,
      expected: '"js", "wasm" or "wgsl"',
      received: JSON.stringify(target),
      fix: 'use target: "js", "wasm" or "wgsl"',
    });
  const graph = source instanceof Graph ? source : importGraphDef(source);
  const outputNames = typeof options.outputs === "string" ? [options.outputs] : [...options.outputs];
  if (outputNames.length === 0)
    throw invalidArgument({ code: "no-outputs", message: "tf.compile needs at least one output", fix: 'pass outputs: ["logits"]' });
  const outputs = outputNames.map((name) => resolveTensorName(graph, name, "output"));

  // Inputs: given names, or the placeholders the outputs need.
  const { inputs, givenShapes, fedNames } = compileInputs(graph, options.inputs, [...new Set(outputs.map((t) => t.op))]);
  const order = planRun([...new Set(outputs.map((t) => t.op))].filter((op) => !outputs.some((t) => t.op === op && fedNames.has(t.name))), fedNames);
  const variable = order.find((op) => op.type === "VariableV2") ?? order.flatMap((op) => op.inputs.map((t) => t.op)).find((op) => op.type === "VariableV2");
  if (variable) throw unfrozen(variable);

  const shapes = inputShapes({ inputs, givenShapes });
  const io = (name: string, t: Tensor, shape: number[]): ModuleIO => ({ name, dtype: t.dtype, shape });
  const moduleInputs = inputs.map((input, i) => io(input.name, input.tensor, shapes[i]));
  let cachedSource: string | null = null;
  let moduleOutputs: ModuleIO[] | null = null;
  const build = () => {
    const program = compileProgram({
      order,
      fed: new Map(inputs.map((input, i) => [input.tensor.name, { tensor: input.tensor, dtype: input.tensor.dtype, shape: shapes[i] }])),
      fetches: [...new Set(outputs.filter((t) => !fedNames.has(t.name)))],
      variableShape: () => undefined,
    });
    // The module feeds in the program's feed order.
    const byTensor = new Map(moduleInputs.map((m, i) => [inputs[i].tensor.name, m]));
    const ordered = program.analysis.feeds.map((name) => byTensor.get(name)!);
    moduleOutputs = outputs.map((t, i) => io(outputNames[i], t, program.analysis.specs.get(t.name)?.shape ?? []));
    const fetchSlots = [...new Set(outputs.filter((t) => !fedNames.has(t.name)))];
    const slotOutputs = fetchSlots.map((t) => moduleOutputs![outputs.indexOf(t)]);
    return moduleSource(program, ordered, slotOutputs, `outputs: ${outputNames.join(", ")}`);
  };

  // program.run: the js backend, without variables, specialized per fed shape.
  const backend = new JsBackend({ variables: new Map(), opState: new Map() });
  const runSync = (feeds: FeedDict): Record<string, NDArray> => {
    const keyed = keyFeeds(feeds, inputs);
    const fed = normalizeFeeds(graph, keyed);
    for (const { name, tensor } of inputs)
      if (![...fed.keys()].includes(tensor))
        throw invalidArgument({ code: "missing-feed", node: tensor.name, message: `no value fed for input \`${name}\``, fix: `pass { ${name}: value }` });
    const fetches = [...new Set(outputs.filter((t) => !fedNames.has(t.name)))];
    const values = backend.run(order, fed, fetches, {});
    const result: Record<string, NDArray> = {};
    outputs.forEach((t, i) => {
      const v = values.get(t.name);
      if (v === undefined || v === DEAD)
        throw invalidArgument({ code: "dead-fetch", node: t.name, message: `output \`${t.name}\` was not computed: it lies in an untaken branch`, fix: "fetch the conditional's output" });
      result[outputNames[i]] = v;
    });
    return result;
  };
  return {
    target: "js",
    get source() {
      cachedSource ??= build();
      return cachedSource;
    },
    inputs: moduleInputs,
    get outputs() {
      if (!moduleOutputs) cachedSource ??= build();
      return moduleOutputs!;
    },
    run: async (feeds) => runSync(feeds),
    runSync,
  };
}

function unfrozen(variable: Operation): Error {
  return failedPrecondition({
    code: "unfrozen-variable",
    node: variable.name,
    message: `tf.compile needs a frozen graph, but the outputs read variable \`${variable.name}\``,
    expected: "a graph whose variables are constants",
    received: `variable \`${variable.name}\``,
    fix: 'freeze it first: tf.graphUtil.convertVariablesToConstants(sess, graph.asGraphDef(), ["<output>"])',
  });
}
