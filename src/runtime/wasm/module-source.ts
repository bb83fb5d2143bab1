/**
 * The standalone ES module of a wasm-compiled program: the module bytes (base64), the initial
 * bytes of the linear memory (constants, packed weights, variables' values), the host steps as
 * plain JS between the kernel calls (Switch / Merge flags, copies, fetches), and
 * `export async function run(feeds)` / `runSync(feeds)` returning `{ [output]: { dtype, shape,
 * data } }`; training programs update their variables in place and export `readVariables()`.
 * It imports nothing and instantiates the module with a top-level await: Node, Deno, browsers.
 * Ops without a wasm kernel are in it as their one-op JS programs (./js-kernel.ts); ops that
 * run their reference kernel in the session cannot be (an UnimplementedError names them).
 */
import { formatDiagnostic, UnimplementedError } from "../../../ir/diagnostics";
import { PARAMS, type CompiledProgram } from "../../../codegen/js/program";
import { FEED_CONVERSION, type ModuleIO } from "../../../codegen/js/module";
import type { TypedArray } from "../../../ir/dtype";
import type { BuiltProgram } from "./program";
import type { Operand, Region, WasmStep } from "./steps";

export type { ModuleIO };

export interface ModuleSpec {
  /** The program's feeds in feed-index order, and its fetches in slot order, by user name. */
  inputs: ModuleIO[];
  outputs: ModuleIO[];
  /** Variables the program keeps (by variable name, with their region key). */
  variables: (ModuleIO & { key: string })[];
  header: string;
}

const bytes = (data: ArrayLike<number>, kind: Region["kind"]): Uint8Array => {
  const typed: TypedArray = kind === "f32" ? Float32Array.from(data) : kind === "i32" ? Int32Array.from(data) : Uint8Array.from(data);
  return new Uint8Array(typed.buffer, typed.byteOffset, typed.byteLength);
};
const base64 = (b: Uint8Array) => Buffer.from(b).toString("base64");
const ARRAY = { f32: "Float32Array", i32: "Int32Array", u8: "Uint8Array" } as const;

const PLACEHOLDER = "\u0000received\u0000";

/** A one-op JS program as a constant of the module: its body applied to its constants and error messages. */
function jsProgram(name: string, program: CompiledProgram): string {
  const consts = program.analysis.consts.map((c) => {
    const kind = c.dtype === "float32" ? "f32" : c.dtype === "int32" ? "i32" : "u8";
    return `new ${ARRAY[kind]}(decode(${JSON.stringify(base64(bytes(c.data, kind)))}).buffer)`;
  });
  const errors = program.errors.map((make) => {
    const e = make(PLACEHOLDER);
    return { name: e.constructor.name, message: formatDiagnostic(e.diagnostic) };
  });
  return `const ${name} = (function (${PARAMS.join(", ")}) {
${program.body}
})([${consts.join(", ")}], [], noVariables, noVariables, noVariables, failure(${JSON.stringify(errors)}), (k, data) => data, DEAD);`;
}

export function wasmModuleSource(built: BuiltProgram, spec: ModuleSpec, js: ReadonlyMap<WasmStep, CompiledProgram> = new Map()): string {
  const { lowered, module } = built;
  const a = lowered.analysis;
  const fallbacks = lowered.steps.flatMap((s) => (s.kind === "fallback" && !js.has(s) ? [s.op] : []));
  if (fallbacks.length > 0)
    throw new UnimplementedError({
      code: "no-wasm-kernel",
      node: fallbacks[0].name,
      message: `a standalone wasm module cannot run op type(s) ${[...new Set(fallbacks.map((o) => o.type))].join(", ")}: they have no wasm kernel yet`,
      fix: 'use program.run (which runs them with the reference kernels), target: "js", or replace these ops in the graph',
    });
  const views = new Map<string, string>();
  const view = (r: Region) => {
    let v = views.get(r.key);
    if (!v) {
      v = `V${views.size}`;
      views.set(r.key, v);
    }
    return v;
  };
  const constants = new Map<number, string>();
  const arrayOf = (o: Operand): string => {
    if ("region" in o) return view(o.region);
    let c = constants.get(o.constant);
    if (!c) {
      c = `C${constants.size}`;
      constants.set(o.constant, c);
    }
    return c;
  };
  const liveExpr = (live: readonly number[]) => live.map((l) => `L[${l}]`).join(" && ");
  const code: string[] = [];
  const programs: string[] = [];
  lowered.steps.forEach((step, i) => {
    let line: string;
    switch (step.kind) {
      case "kernel":
        line = `X.${built.functionOf[i]}();`;
        break;
      case "copy":
        line = `${view(step.to)}.set(${arrayOf(step.from)});`;
        break;
      case "check":
        line = "";
        break;
      case "switch": {
        const base = liveExpr(step.base);
        const pred = `${arrayOf(step.pred)}[0]`;
        line = step.atoms
          .map((id, branch) => (id === undefined ? "" : `L[${id}] = ${base ? `${base} && ` : ""}${pred} ${branch ? "!==" : "==="} 0 ? 1 : 0;`))
          .join("\n");
        break;
      }
      case "merge": {
        const any = step.inputs.map((x) => `(${liveExpr(x.live) || "true"})`).join(" || ");
        const lines = [`L[${step.atom}] = ${step.controls.length ? `${liveExpr(step.controls)} && ` : ""}(${any}) ? 1 : 0;`];
        step.inputs.forEach((x, k) => {
          const copy = [step.out ? `${view(step.out)}.set(${arrayOf(x.from)});` : "", step.index ? `${view(step.index)}[0] = ${k};` : ""].join(" ");
          lines.push(`${k ? "else " : ""}if (L[${step.atom}] && ${liveExpr(x.live) || "true"}) { ${copy} }`);
        });
        line = lines.join("\n");
        break;
      }
      case "fetch":
        line = `R[${step.slot}] = mk(${step.slot}, ${arrayOf(step.from)});`;
        break;
      case "fallback": {
        const program = js.get(step)!;
        const name = `J${programs.length}`;
        programs.push(jsProgram(name, program));
        const feeds = program.analysis.feeds.map((f) => {
          const o = step.inputs[Number(/^input_(\d+):0$/.exec(f)![1])];
          return o ? arrayOf(o) : "null";
        });
        const stores = step.outputs.map((r, k) => (r ? `${view(r)}.set(o[${k}]);` : "")).join(" ");
        line = `{ const o = ${name}([${feeds.join(", ")}]); ${stores} }`;
        break;
      }
    }
    const guard = step.kind === "switch" || step.kind === "merge" ? "" : liveExpr(step.live);
    if (line) code.push(guard ? `if (${guard}) {\n${line}\n}` : line);
  });
  const feedViews = a.feeds.map((name) => {
    const r = lowered.regions.get(`t:${name}`);
    return r ? view(r) : null;
  });
  const varViews = spec.variables.map((v) => view(lowered.regions.get(v.key)!));
  const init = [...lowered.regions.values()].filter((r) => r.data).map((r) => [built.offset(r.key), base64(bytes(r.data!, r.kind))]);
  const viewLines = [...views].map(([key, name]) => {
    const r = lowered.regions.get(key)!;
    return `const ${name} = new ${ARRAY[r.kind]}(buffer, ${built.offset(key)}, ${r.size});`;
  });
  const constLines = [...constants].map(([index, name]) => {
    const c = a.consts[index];
    const kind = c.dtype === "float32" ? "f32" : c.dtype === "int32" ? "i32" : "u8";
    return `const ${name} = new ${ARRAY[kind]}(decode(${JSON.stringify(base64(bytes(c.data, kind)))}).buffer);`;
  });
  return `// ${spec.header}
// Generated by foldflow (wasm target: WebAssembly SIMD128). Standalone: no imports. Shapes are fixed at compile time.
const INPUTS = ${JSON.stringify(spec.inputs)};
const OUTPUTS = ${JSON.stringify(spec.outputs)};
const VARIABLES = ${JSON.stringify(spec.variables.map(({ name, dtype, shape }) => ({ name, dtype, shape })))};
const ARRAYS = { float32: Float32Array, int32: Int32Array, bool: Uint8Array };

function decode(text) {
  const binary = atob(text);
  const out = new Uint8Array(binary.length);
  for (let i = 0; i < out.length; i++) out[i] = binary.charCodeAt(i);
  return out;
}
const memory = new WebAssembly.Memory({ initial: ${module.pages}, maximum: ${module.pages} });
const math = { log: Math.log, tanh: Math.tanh, expm1: Math.expm1, pow: Math.pow };
const { instance } = await WebAssembly.instantiate(decode(${JSON.stringify(base64(module.binary))}), { env: { memory }, math });
const X = instance.exports;
const buffer = memory.buffer;
for (const [offset, text] of ${JSON.stringify(init)}) new Uint8Array(buffer, offset).set(decode(text));
${viewLines.join("\n")}
${constLines.join("\n")}
const FEEDS = [${feedViews.map((v) => v ?? "null").join(", ")}];
const VARIABLE_VIEWS = [${varViews.join(", ")}];
const L = new Uint8Array(${Math.max(a.atoms.length, 1)});
const DEAD = Symbol("dead");
function noVariables() {
  throw new Error("this program's JS kernels have no variables");
}
function failure(errors) {
  return (j, node, received) => {
    const error = new Error(errors[j].message.split(${JSON.stringify(PLACEHOLDER)}).join(String(received)));
    error.name = errors[j].name;
    return error;
  };
}
${programs.join("\n")}
let R = [];
function mk(k, data) {
  return { dtype: OUTPUTS[k].dtype, shape: OUTPUTS[k].shape.slice(), data: data.slice() };
}

function program(arrays) {
  arrays.forEach((a, i) => FEEDS[i] && FEEDS[i].set(a));
  L.fill(0);
  R = OUTPUTS.map(() => DEAD);
${code.join("\n")}
  return R;
}

${FEED_CONVERSION}

/** Runs the program synchronously: feeds by input name, results by output name. */
export function runSync(feeds = {}) {
  const arrays = INPUTS.map((input) => {
    if (!(input.name in feeds)) throw new Error(\`missing feed for input "\${input.name}"\`);
    return toArray(input, feeds[input.name]);
  });
  const results = program(arrays);
  const out = {};
  OUTPUTS.forEach((o, k) => {
    if (results[k] === DEAD) throw new Error(\`output "\${o.name}" was not computed: it lies in an untaken branch\`);
    out[o.name] = results[k];
  });
  return out;
}

/** Runs the program: a Promise of { [output]: { dtype, shape, data } }. */
export async function run(feeds = {}) {
  return runSync(feeds);
}

/** The variables' current values (a training program updates them on every run). */
export function readVariables() {
  const out = {};
  VARIABLES.forEach((v, k) => (out[v.name] = { dtype: v.dtype, shape: v.shape.slice(), data: VARIABLE_VIEWS[k].slice() }));
  return out;
}

export const inputs = INPUTS;
export const outputs = OUTPUTS;
export const variables = VARIABLES;
`;
}
