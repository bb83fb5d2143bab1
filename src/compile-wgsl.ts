/**
 * `tf.compile(graph, { outputs, target: "wgsl", inputs?, variables? })`: the graph planned to
 * WebGPU compute dispatches (codegen/wgsl). The program has
 *   - `source`: a standalone ES module — the loader, the plan as JSON and the shaders (see
 *     codegen/wgsl/program.ts) — that runs on any navigator.gpu (browsers, Deno) or a GPUDevice;
 *   - `shaders`: { name: WGSL code }, one per distinct kernel (`foldflow compile --target wgsl`
 *     writes each as `<name>.wgsl`);
 *   - `run(feeds)`: the same program in this process on the webgpu backend's device (Node: the
 *     `webgpu` package); without an adapter it rejects with the backend's FailedPreconditionError.
 *
 * Training graphs compile too: name the train op among the outputs (an op without outputs is run,
 * not fetched) and pass the variables' values (`variables: sess`, or a map by variable name).
 * Their values are embedded as the program's initial values; each run updates the variable buffers
 * in place, and `readVariables()` reads them back. A variable that the program reads and that has
 * no value is refused (freeze the graph, or pass its value). Shapes are fixed at compile time as
 * for the js target (`inputs: { x: [8, 784] }`; unknown dimensions are taken as 1 otherwise).
 */
import { invalidArgument } from "../ir/diagnostics";
import type { Graph } from "../ir/graph";
import type { GraphDef } from "../ir/graphdef/model";
import { NDArray } from "../ir/ndarray";
import { isFullyDefined } from "../ir/shape";
import type { ModuleIO } from "../codegen/js/module";
import { planDispatches } from "../codegen/wgsl/plan";
import { programSource, shaderFiles, toProgramPlan, type ProgramPlan } from "../codegen/wgsl/program";
import { instantiateLoader, type GpuProgram, type HostValue } from "../codegen/wgsl/loader";
import { compileEndpoints, inputShapes, keyFeeds, variableValuesFor, type EndpointOptions, type VariableSource } from "./compile-endpoints";
import { normalizeFeeds, type FeedDict } from "./runtime/feeds";
import { variableUse } from "./runtime/webgpu-backend";
import { acquireDevice, toOpError } from "./runtime/webgpu-device";

export interface WgslCompileOptions extends EndpointOptions {
  target: "wgsl";
  /** Values of the graph's variables: a Session (its variableValues) or a map by variable name. */
  variables?: VariableSource;
}

export interface CompiledWgslModel {
  readonly target: "wgsl";
  /** The standalone ES module (see the file comment). */
  readonly source: string;
  /** The WGSL shaders by file name (without `.wgsl`). */
  readonly shaders: Readonly<Record<string, string>>;
  /** The plan the source embeds (buffers, shaders with their layouts, steps; data as base64). */
  readonly plan: ProgramPlan;
  readonly inputs: readonly ModuleIO[];
  readonly outputs: readonly ModuleIO[];
  /** The variables the program holds on the device. */
  readonly variables: readonly ModuleIO[];
  /** Runs on this process's WebGPU device: a record of output name → NDArray. */
  run(feeds: FeedDict): Promise<Record<string, NDArray>>;
  /** The variables' current values on the device (after the runs so far). */
  readVariables(): Promise<Record<string, NDArray>>;
  /** Releases the device buffers of `run`. */
  dispose(): void;
}

const toNDArray = (v: HostValue): NDArray => new NDArray(v.dtype, v.shape, v.data);

export function compileWgsl(source: Graph | GraphDef | string, options: WgslCompileOptions): CompiledWgslModel {
  const { graph, outputNames, outputs, inputs, givenShapes, fedNames, order, fetches } = compileEndpoints(source, options);

  // Variables: the values given, copied now; every variable the program reads needs one.
  const { reads, written } = variableUse(order);
  const variableValues = variableValuesFor(options.variables, reads, written);

  const shapes = inputShapes({ inputs, givenShapes });
  const plan = planDispatches({
    order,
    fed: new Map(inputs.map((input, i) => [input.tensor.name, { tensor: input.tensor, dtype: input.tensor.dtype, shape: shapes[i] }])),
    fetches,
    variableShape: (op) => {
      const v = variableValues.get(op.name);
      if (v) return [...v.shape];
      const declared = op.attrs.shape as (number | null)[] | null;
      return isFullyDefined(declared) ? [...declared] : undefined;
    },
  });
  const feedNames = new Map(inputs.map((i) => [i.tensor.name, i.name]));
  const fetchNames = new Map<string, string>();
  for (const o of outputs) if (!fetchNames.has(o.tensor.name)) fetchNames.set(o.tensor.name, o.name);
  const planFor = (encoding: "base64" | "views"): ProgramPlan =>
    toProgramPlan(plan, { feedNames, fetchNames, written, variableValues, encoding });
  const embedded = planFor("base64");
  const header = `foldflow WGSL program — outputs: ${outputNames.join(", ")}`;

  const io = (name: string, t: { dtype: ModuleIO["dtype"] }, shape: number[]): ModuleIO => ({ name, dtype: t.dtype, shape: [...shape] });
  const moduleInputs = inputs.map((input, i) => io(input.name, input.tensor, shapes[i]));
  const moduleOutputs = outputs.map((o) => io(o.name, o.tensor, plan.tensors.get(o.tensor.name)?.shape ?? shapes[inputs.findIndex((i) => i.tensor === o.tensor)] ?? []));

  let program: Promise<GpuProgram> | null = null;
  const load = (): Promise<GpuProgram> => {
    program ??= acquireDevice().then((device) => instantiateLoader().createProgram(device, planFor("views")));
    program.catch(() => (program = null));
    return program;
  };
  const device = async <T>(f: (p: GpuProgram) => Promise<T>): Promise<T> => {
    try {
      return await f(await load());
    } catch (e) {
      throw toOpError(e);
    }
  };
  return {
    target: "wgsl",
    source: programSource(embedded, header),
    shaders: shaderFiles(embedded),
    plan: embedded,
    inputs: moduleInputs,
    outputs: moduleOutputs,
    variables: embedded.variables.map((v) => ({ name: v.name, dtype: v.dtype, shape: [...v.shape] })),
    run: async (feeds) => {
      const fed = normalizeFeeds(graph, keyFeeds(feeds, inputs));
      const byInput = new Map<string, NDArray>();
      for (const { name, tensor } of inputs) {
        const value = [...fed].find(([t]) => t === tensor)?.[1];
        if (!value) throw invalidArgument({ code: "missing-feed", node: tensor.name, message: `no value fed for input \`${name}\``, fix: `pass { ${name}: value }` });
        byInput.set(name, value);
      }
      const got = await device((p) => p.run(new Map([...byInput].map(([k, v]) => [k, v.data]))));
      const result: Record<string, NDArray> = {};
      for (const o of outputs) {
        const input = inputs.find((i) => i.tensor === o.tensor);
        result[o.name] = input ? byInput.get(input.name)! : toNDArray(got[fetchNames.get(o.tensor.name)!]);
      }
      return result;
    },
    readVariables: async () => {
      const got = await device((p) => p.readVariables());
      return Object.fromEntries(Object.entries(got).map(([k, v]) => [k, toNDArray(v)]));
    },
    dispose: () => {
      program?.then((p) => p.destroy(), () => {});
      program = null;
    },
  };
}
