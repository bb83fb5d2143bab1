/**
 * `tf.compile(graph, { outputs, target: "wasm", inputs?, variables? })`: the graph compiled to
 * one WebAssembly SIMD module over one planned linear memory (src/runtime/wasm/). The program has
 *   - `source`: a standalone ES module — the module bytes and the memory's initial bytes as
 *     base64, the host steps in plain JS — exporting `run(feeds)`, `runSync(feeds)` and, for
 *     training programs, `readVariables()` (see src/runtime/wasm/module-source.ts);
 *   - `run(feeds)`: the same program in this process on the wasm backend (its numbers are the
 *     session's), specialized on each fed shape.
 * The code generator loads asynchronously: `run` awaits it; `source`, `binary` and `runSync`
 * need `await tf.wasmReady()` (or one awaited `run`) first.
 *
 * Training graphs compile too: name the train op among the outputs (an op without outputs is run,
 * not fetched) and pass the variables' values (`variables: sess`, or a map by variable name);
 * they become the memory's initial values and each run updates them in place. A variable that
 * the program reads and that has no value is refused. Shapes are fixed at compile time as for
 * the js target (`inputs: { x: [8, 784] }`; unknown dimensions are taken as 1 otherwise).
 */
import { invalidArgument } from "../ir/diagnostics";
import { Graph, type Operation, type Tensor } from "../ir/graph";
import type { GraphDef } from "../ir/graphdef/model";
import { NDArray } from "../ir/ndarray";
import { getOpDef } from "../ir/registry";
import { isFullyDefined } from "../ir/shape";
import { analyze } from "../codegen/js/analysis";
import { compileEndpoints, inputShapes, keyFeeds, variableValuesFor, type EndpointOptions, type VariableSource } from "./compile-endpoints";
import { DEAD, type RuntimeState } from "./runtime/interpreter";
import { normalizeFeeds, type FeedDict } from "./runtime/feeds";
import { WasmBackend } from "./runtime/wasm-backend";
import { wasmCodegen, wasmNotLoaded, wasmReady } from "./runtime/wasm/loader";
import { lower } from "./runtime/wasm/lower";
import { wasmModuleSource, type ModuleIO } from "./runtime/wasm/module-source";
import { buildProgram } from "./runtime/wasm/program";
import { jsKernelsOf } from "./runtime/wasm/js-kernel";

export interface WasmCompileOptions extends EndpointOptions {
  target: "wasm";
  /** Values of the graph's variables: a Session (its variableValues) or a map by variable name. */
  variables?: VariableSource;
}

export interface CompiledWasmModel {
  readonly target: "wasm";
  /** The standalone ES module (needs the code generator loaded: `await tf.wasmReady()`). */
  readonly source: string;
  /** The WebAssembly module itself (the bytes `source` embeds). */
  readonly binary: Uint8Array;
  readonly inputs: readonly ModuleIO[];
  readonly outputs: readonly ModuleIO[];
  /** The variables the program holds. */
  readonly variables: readonly ModuleIO[];
  /** Runs the program in this process: a record of output name → NDArray. */
  run(feeds?: FeedDict): Promise<Record<string, NDArray>>;
  runSync(feeds?: FeedDict): Record<string, NDArray>;
  /** The variables' current values (after the runs so far). */
  readVariables(): Record<string, NDArray>;
}

/** Variables the plan reads (data inputs, updates that read) and those it writes. */
function variableUse(order: readonly Operation[]): { reads: Set<string>; written: Set<string> } {
  const reads = new Set<string>();
  const written = new Set<string>();
  for (const op of order) {
    const refs = getOpDef(op.type, op.name).refInputs ?? [];
    op.inputs.forEach((t, i) => {
      if (t.op.type !== "VariableV2") return;
      if (!refs.includes(i)) reads.add(t.op.name);
      else {
        written.add(t.op.name);
        if (op.type !== "Assign") reads.add(t.op.name);
      }
    });
  }
  return { reads, written };
}

export function compileWasm(source: Graph | GraphDef | string, options: WasmCompileOptions): CompiledWasmModel {
  const { graph, outputNames, outputs, inputs, givenShapes, fedNames, order, fetches } = compileEndpoints(source, options);

  // Variables: the values given, copied now; every variable the program reads needs one.
  const { reads, written } = variableUse(order);
  const state: RuntimeState = { variables: variableValuesFor(options.variables, reads, written), opState: new Map() };
  const initial = new Map(state.variables);

  const shapes = inputShapes({ inputs, givenShapes });
  const io = (name: string, t: Tensor, shape: number[]): ModuleIO => ({ name, dtype: t.dtype, shape: [...shape] });
  const moduleInputs = inputs.map((input, i) => io(input.name, input.tensor, shapes[i]));

  let built: { source: string; binary: Uint8Array; outputs: ModuleIO[]; variables: ModuleIO[] } | null = null;
  const build = () => {
    if (built) return built;
    const W = wasmCodegen();
    if (!W) throw wasmNotLoaded('the source of a tf.compile(..., { target: "wasm" }) program');
    const analysis = analyze({
      order,
      fed: new Map(inputs.map((input, i) => [input.tensor.name, { tensor: input.tensor, dtype: input.tensor.dtype, shape: shapes[i] }])),
      fetches,
      variableShape: (op) => {
        const v = initial.get(op.name);
        if (v) return [...v.shape];
        const declared = op.attrs.shape as (number | null)[] | null;
        return isFullyDefined(declared) ? [...declared] : undefined;
      },
    });
    const lowered = lower(W, analysis);
    const variables = analysis.variables.flatMap((v) => {
      const region = lowered.regions.get(`v:${v.name}`);
      if (!region) return [];
      const value = initial.get(v.name);
      if (value) region.data = value.data;
      const spec = analysis.specs.get(v.outputs[0].name)!;
      return [{ name: v.name, dtype: spec.dtype, shape: [...spec.shape], key: region.key }];
    });
    const program = buildProgram(W, lowered);
    const byTensor = new Map(inputs.map((input, i) => [input.tensor.name, moduleInputs[i]]));
    const slotOutputs = fetches.map((t) => {
      const o = outputs.find((x) => x.tensor === t)!;
      return io(o.name, t, analysis.specs.get(t.name)!.shape);
    });
    const js = new Map([...jsKernelsOf(lowered)].map(([step, k]) => [step, k.program]));
    const source = wasmModuleSource(program, {
      inputs: analysis.feeds.map((name) => byTensor.get(name)!),
      outputs: slotOutputs,
      variables,
      header: `foldflow wasm program — outputs: ${outputNames.join(", ")}`,
    }, js);
    const outs = outputs.map((o) => {
      const input = inputs.findIndex((i) => i.tensor === o.tensor);
      return io(o.name, o.tensor, input >= 0 ? shapes[input] : analysis.specs.get(o.tensor.name)!.shape);
    });
    built = { source, binary: program.module.binary, outputs: outs, variables: variables.map(({ name, dtype, shape }) => ({ name, dtype, shape })) };
    return built;
  };

  // program.run: the wasm backend over the program's own variables, specialized per fed shape.
  const backend = new WasmBackend(state);
  const runSync = (feeds: FeedDict = {}): Record<string, NDArray> => {
    const fed = normalizeFeeds(graph, keyFeeds(feeds, inputs));
    for (const { name, tensor } of inputs)
      if (![...fed.keys()].includes(tensor))
        throw invalidArgument({ code: "missing-feed", node: tensor.name, message: `no value fed for input \`${name}\``, fix: `pass { ${name}: value }` });
    const values = backend.run(order, fed, fetches, {});
    const result: Record<string, NDArray> = {};
    for (const o of outputs) {
      const v = values.get(o.tensor.name);
      if (v === undefined || v === DEAD)
        throw invalidArgument({ code: "dead-fetch", node: o.tensor.name, message: `output \`${o.tensor.name}\` was not computed: it lies in an untaken branch`, fix: "fetch the conditional's output" });
      result[o.name] = v;
    }
    return result;
  };
  return {
    target: "wasm",
    get source() {
      return build().source;
    },
    get binary() {
      return build().binary;
    },
    inputs: moduleInputs,
    get outputs() {
      return build().outputs;
    },
    get variables() {
      return build().variables;
    },
    run: async (feeds) => {
      await wasmReady();
      return runSync(feeds);
    },
    runSync,
    readVariables: () => Object.fromEntries(backend.snapshot()),
  };
}
