/**
 * A WGSL program: a dispatch plan (./plan) in the serializable form the loader (./loader) runs,
 * and the standalone ES module that `tf.compile(..., { target: "wgsl" })` writes:
 *
 *   // header
 *   <the loader>
 *   const SHADERS = [`// MatMul layer1/dense/MatMul ...`, ...];   one template literal per shader
 *   const PLAN = { buffers, steps, feeds, fetches, variables, shaders: [{ name, label, entryPoint, layout }] };
 *   export const inputs, outputs, variables, shaders ({ name: code });
 *   export async function load(device?)      the program on `device` (default: navigator.gpu's)
 *   export async function run(feeds, device?) one run of the program loaded once (variables persist)
 *   export async function readVariables()     the current variable values
 *   export { requestDevice, createProgram }
 *
 * Constants and initial variable values are embedded as base64 of their device bytes (f32, i32,
 * bool as u32). Shader names are file names: `03-MatMul-layer1_dense_MatMul` (order, then label).
 */
import type { DType } from "../../ir/dtype";
import type { NDArray } from "../../ir/ndarray";
import { LOADER_SOURCE } from "./loader";
import type { DispatchPlan, PlanBuffer, PlanShader, PlanStep } from "./plan";

export interface ProgramTensor {
  name: string;
  buffer: number;
  dtype: DType;
  shape: number[];
}

export interface ProgramPlan {
  shaders: (PlanShader & { name: string })[];
  buffers: { size: number; usage: PlanBuffer["usage"]; tensors: string[]; init?: string | ArrayBufferView }[];
  steps: PlanStep[];
  feeds: ProgramTensor[];
  fetches: ProgramTensor[];
  variables: (ProgramTensor & { written: boolean; init?: string | ArrayBufferView })[];
}

export interface ProgramPlanOptions {
  /** Tensor name → the name the program uses (feeds: input names; default: the tensor name). */
  feedNames?: ReadonlyMap<string, string>;
  fetchNames?: ReadonlyMap<string, string>;
  /** Variables (op names) that the plan's ops write. */
  written: ReadonlySet<string>;
  /** Initial variable values, by op name (uploaded when the program is created). */
  variableValues?: ReadonlyMap<string, NDArray>;
  /** "base64": embeddable text (compiled modules); "views": typed arrays (this process). */
  encoding: "base64" | "views";
}

/** Device bytes of an NDArray: Float32Array, Int32Array, or Uint32Array for bool. */
export function deviceView(a: NDArray): Float32Array | Int32Array | Uint32Array {
  if (a.dtype === "float32") return a.data instanceof Float32Array ? a.data : Float32Array.from(a.data);
  if (a.dtype === "int32") return a.data instanceof Int32Array ? a.data : Int32Array.from(a.data);
  return Uint32Array.from(a.data);
}

function encode(a: NDArray, encoding: ProgramPlanOptions["encoding"]): string | ArrayBufferView {
  const view = deviceView(a);
  if (encoding === "views") return view;
  return Buffer.from(view.buffer, view.byteOffset, view.byteLength).toString("base64");
}

/** A file-safe name for shader `index`. */
export function shaderName(index: number, label: string): string {
  const safe = label.replace(/[^A-Za-z0-9_.+-]+/g, "_").replace(/\+/g, "-").replace(/^_+|_+$/g, "").slice(0, 80);
  return `${String(index).padStart(2, "0")}-${safe || "shader"}`;
}

export function toProgramPlan(plan: DispatchPlan, options: ProgramPlanOptions): ProgramPlan {
  const rename = (names: ReadonlyMap<string, string> | undefined) => (t: { name: string; buffer: number; dtype: DType; shape: number[] }): ProgramTensor => ({
    name: names?.get(t.name) ?? t.name,
    buffer: t.buffer,
    dtype: t.dtype,
    shape: [...t.shape],
  });
  return {
    shaders: plan.shaders.map((s, i) => ({ ...s, name: shaderName(i, s.label) })),
    buffers: plan.buffers.map((b) => ({ size: b.size, usage: b.usage, tensors: [...b.tensors], init: b.init ? encode(b.init, options.encoding) : undefined })),
    steps: plan.steps,
    feeds: plan.feeds.map(rename(options.feedNames)),
    fetches: plan.fetches.map(rename(options.fetchNames)),
    variables: plan.variables.map((v) => {
      const value = options.variableValues?.get(v.name);
      return { ...rename(undefined)(v), written: options.written.has(v.name), init: value ? encode(value, options.encoding) : undefined };
    }),
  };
}

/** The shaders by file name (without the .wgsl extension). */
export function shaderFiles(plan: ProgramPlan): Record<string, string> {
  return Object.fromEntries(plan.shaders.map((s) => [s.name, s.code]));
}

const templateLiteral = (text: string) => "`" + text.replace(/\\/g, "\\\\").replace(/`/g, "\\`").replace(/\$\{/g, "\\${") + "`";

/** The standalone ES module (see the file comment); `plan` must be base64-encoded. */
export function programSource(plan: ProgramPlan, header: string): string {
  const { shaders, ...rest } = plan;
  const described = { ...rest, shaders: shaders.map(({ code: _code, ...s }) => s) };
  const io = (list: ProgramTensor[]) => JSON.stringify(list.map(({ name, dtype, shape }) => ({ name, dtype, shape })));
  return `// ${header.replace(/\n/g, " ")}
// Generated by foldflow (codegen/wgsl): WGSL compute shaders and the loader that runs them on any
// navigator.gpu (browsers, Deno) or a GPUDevice you pass. No imports. Shapes are fixed at compile time.
${LOADER_SOURCE}
const SHADERS = [
${shaders.map((s) => templateLiteral(s.code)).join(",\n")}
];
const PLAN = ${JSON.stringify(described)};
PLAN.shaders.forEach((s, i) => { s.code = SHADERS[i]; });

export const inputs = ${io(plan.feeds)};
export const outputs = ${io(plan.fetches)};
export const variables = ${io(plan.variables)};
export const shaders = Object.fromEntries(PLAN.shaders.map((s) => [s.name, s.code]));
export { requestDevice, createProgram };

let loaded = null;

/** The program on \`device\` (default: a device of navigator.gpu's adapter); its variables start at their compiled values. */
export async function load(device) {
  const gpu = typeof navigator === "undefined" ? undefined : navigator.gpu;
  return createProgram(device || (await requestDevice(gpu)), PLAN);
}

/** Runs the program (loaded on first use, on \`device\` or navigator.gpu): { [output]: { dtype, shape, data } }. */
export async function run(feeds, device) {
  loaded = loaded || load(device).catch((e) => { loaded = null; throw e; });
  return (await loaded).run(feeds);
}

/** The variables' current values (after the runs so far). */
export async function readVariables() {
  loaded = loaded || load().catch((e) => { loaded = null; throw e; });
  return (await loaded).readVariables();
}
`;
}
