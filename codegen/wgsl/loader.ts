/**
 * The WebGPU loader: a small, dependency-free piece of JavaScript that runs a program plan
 * (./program: buffers, WGSL shaders, ordered steps) on any `GPUDevice`. The same text is
 *   - emitted into every compiled WGSL program (`tf.compile(..., { target: "wgsl" }).source`),
 *     where it runs on a browser's or Deno's `navigator.gpu`;
 *   - instantiated in this process by `instantiateLoader()` for the webgpu Session backend and
 *     `program.run` (Node, through the `webgpu` package).
 *
 *   requestDevice(gpu, how)       an adapter's device with the adapter's buffer limits; no adapter
 *                                 → Error { code: "no-adapter" } whose message says how to get one
 *   createProgram(device, plan)   checks the buffers against device.limits (code
 *                                 "buffer-too-large", naming the op and the sizes), compiles every
 *                                 shader (code "shader-compile": Tint's or naga's message with the
 *                                 generated line), creates the buffers, uploads constants and the
 *                                 variables' initial values, and builds the bind groups once.
 *   program.run(feeds)            uploads the feeds (bool → u32), dispatches the steps in one
 *                                 submission, maps the fetches back: { [name]: { dtype, shape, data } }
 *   program.runAndRead(feeds, names)   the same, also reading back these variables
 *   program.writeVariable(name, value) / readVariables(names?) / destroy()
 * Variable buffers live as long as the program: updates (assigns, optimizer steps) write them in
 * place, and the next run sees the new values. Errors are plain `Error`s with a `code` (and the
 * op, shader, line or sizes as properties); the Node side turns them into foldflow diagnostics.
 *
 * The text avoids backquotes and dollar-brace so that it can sit in a template literal.
 */
import type { DType } from "../../ir/dtype";
import type { ProgramPlan } from "./program";

export const LOADER_SOURCE = String.raw`// foldflow WebGPU loader (codegen/wgsl/loader.ts): runs a program plan on a GPUDevice. No imports.
const FF_STORAGE = 0x80, FF_COPY_SRC = 0x04, FF_COPY_DST = 0x08, FF_MAP_READ = 0x01, FF_COMPUTE = 0x4;
const FF_HOW = "in a browser, use one with WebGPU enabled; on Node, install the webgpu package and a GPU driver that Dawn supports (Vulkan, Metal or D3D12); or run under Deno, whose navigator.gpu finds Mesa's Vulkan CPU driver (apt-get install -y mesa-vulkan-drivers)";

function ffError(code, message, extra) {
  const e = new Error(message);
  e.name = "WebGpuProgramError";
  e.code = code;
  if (extra) Object.assign(e, extra);
  return e;
}

/** A device of gpu's adapter, with the adapter's largest buffer sizes. */
async function requestDevice(gpu, how) {
  if (!gpu || typeof gpu.requestAdapter !== "function")
    throw ffError("no-adapter", "WebGPU is not available here (no navigator.gpu): " + (how || FF_HOW), { backend: "webgpu" });
  const adapter = await gpu.requestAdapter();
  if (!adapter) throw ffError("no-adapter", "WebGPU found no adapter: " + (how || FF_HOW), { backend: "webgpu" });
  const requiredLimits = {};
  for (const key of ["maxStorageBufferBindingSize", "maxBufferSize"])
    if (adapter.limits && typeof adapter.limits[key] === "number") requiredLimits[key] = adapter.limits[key];
  return adapter.requestDevice({ requiredLimits });
}

const ffCount = (shape) => shape.reduce((a, b) => a * b, 1);
const ffSize = (bytes) => Math.max(4, Math.ceil(bytes / 4) * 4);
const ffOpOf = (tensor) => tensor.replace(/:\d+$/, "");

/** Device bytes of base64 text, or a typed array as is. */
function ffBytes(data) {
  if (typeof data !== "string") return data;
  const text = atob(data);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
  return bytes;
}

function ffFlatten(value, out) {
  for (const v of value) Array.isArray(v) ? ffFlatten(v, out) : out.push(v);
  return out;
}

/** A value as the device holds it: Float32Array, Int32Array, or Uint32Array for bool. */
function ffToDevice(dtype, value, count, what) {
  let v = value;
  if (v !== null && typeof v === "object" && !ArrayBuffer.isView(v) && !Array.isArray(v) && "data" in v) v = v.data;
  if (typeof v === "number" || typeof v === "boolean") v = [v];
  if (Array.isArray(v)) v = ffFlatten(v, []);
  if (!v || typeof v.length !== "number")
    throw ffError("bad-feed", what + ": expected a typed array, an array or a number, received " + typeof value, { input: what });
  if (v.length !== count)
    throw ffError("bad-feed", what + " has " + v.length + " elements where " + count + " were compiled for", { input: what, expected: count, received: v.length });
  const Type = dtype === "float32" ? Float32Array : dtype === "int32" ? Int32Array : Uint32Array;
  if (v instanceof Type) return v;
  const out = new Type(count);
  for (let i = 0; i < count; i++) out[i] = dtype === "bool" ? (v[i] ? 1 : 0) : Number(v[i]);
  return out;
}

/** { dtype, shape, data } from mapped bytes (bool: u32 → Uint8Array of 0 and 1). */
function ffFromDevice(dtype, shape, bytes) {
  const n = ffCount(shape);
  if (dtype === "float32") return { dtype, shape: shape.slice(), data: new Float32Array(bytes, 0, n) };
  if (dtype === "int32") return { dtype, shape: shape.slice(), data: new Int32Array(bytes, 0, n) };
  const words = new Uint32Array(bytes, 0, n);
  const data = new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = words[i] ? 1 : 0;
  return { dtype, shape: shape.slice(), data };
}

/** Every buffer within device.limits, before anything is created. */
function ffCheckLimits(device, plan) {
  const limits = device.limits || {};
  const binder = new Map();
  for (const step of plan.steps)
    if (step.kind === "dispatch") for (const b of step.bindings) if (!binder.has(b.buffer)) binder.set(b.buffer, step.op);
  plan.buffers.forEach((b, id) => {
    const size = ffSize(b.size);
    const tensor = b.tensors[0] || "buffer " + id;
    const op = binder.get(id) || ffOpOf(tensor);
    const check = (name, bound) => {
      const limit = limits[name];
      if (bound && typeof limit === "number" && size > limit)
        throw ffError("buffer-too-large",
          "op " + JSON.stringify(op) + " needs a " + size + "-byte buffer for " + JSON.stringify(tensor) + " (" + b.usage + "), over this device's " + name + " of " + limit + " bytes",
          { op, tensor, size, limit, limitName: name });
    };
    check("maxBufferSize", true);
    check("maxStorageBufferBindingSize", binder.has(id));
  });
}

/** The first line of a compiler message (Deno's naga adds a source excerpt after it). */
function ffFirstLine(message) {
  return String(message).split("\n").map((l) => l.trim()).filter((l) => l.length > 0)[0] || String(message);
}

function ffShaderError(plan, index, problems) {
  const shader = plan.shaders[index];
  const step = plan.steps.find((s) => s.kind === "dispatch" && s.shader === index);
  const op = step ? step.op : shader.label;
  const lines = shader.code.split("\n");
  const details = problems.map((p) => {
    let line = p.line || 0;
    let column = p.column || 0;
    const at = /wgsl:(\d+):(\d+)/.exec(p.message);
    if (!line && at) { line = Number(at[1]); column = Number(at[2]); }
    const text = line > 0 && line <= lines.length ? lines[line - 1] : "";
    return "  line " + line + ":" + column + ": " + ffFirstLine(p.message) + (text ? "\n    " + line + " | " + text : "");
  });
  const first = problems[0] || {};
  const firstLine = first.line || Number((/wgsl:(\d+):/.exec(first.message || "") || [])[1] || 0);
  return ffError("shader-compile",
    "the WGSL shader " + JSON.stringify(shader.label) + " (op " + JSON.stringify(op) + ") failed to compile:\n" + details.join("\n"),
    { op, shader: shader.label, line: firstLine, lineText: firstLine > 0 ? lines[firstLine - 1] : "" });
}

/** Shader modules and pipelines; compilation errors name the shader, the op and the line. */
async function ffCompile(device, plan) {
  const scoped = plan.shaders.map((s) => {
    device.pushErrorScope("validation");
    const module = device.createShaderModule({ code: s.code, label: s.label });
    return { module, error: device.popErrorScope() };
  });
  const modules = scoped.map((m) => m.module);
  for (let i = 0; i < modules.length; i++) {
    const error = await scoped[i].error;
    const info = typeof modules[i].getCompilationInfo === "function" ? await modules[i].getCompilationInfo() : { messages: [] };
    const errors = info.messages.filter((m) => m.type === "error");
    if (errors.length) throw ffShaderError(plan, i, errors.map((m) => ({ line: m.lineNum, column: m.linePos, message: m.message })));
    if (error) throw ffShaderError(plan, i, [{ message: error.message }]);
  }
  const layouts = [];
  const pipelines = [];
  const pending = [];
  plan.shaders.forEach((s, i) => {
    device.pushErrorScope("validation");
    const layout = device.createBindGroupLayout({
      entries: s.layout.map((b) => ({ binding: b.binding, visibility: FF_COMPUTE, buffer: { type: b.type } })),
    });
    layouts.push(layout);
    pipelines.push(device.createComputePipeline({
      label: s.label,
      layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
      compute: { module: modules[i], entryPoint: s.entryPoint },
    }));
    pending.push(device.popErrorScope());
  });
  const errors = await Promise.all(pending);
  const failed = errors.findIndex((e) => e);
  if (failed >= 0) throw ffShaderError(plan, failed, [{ message: errors[failed].message }]);
  return { layouts, pipelines };
}

/** Runs fn between validation and out-of-memory error scopes; throws what they caught. */
async function ffScoped(device, what, fn) {
  device.pushErrorScope("out-of-memory");
  device.pushErrorScope("validation");
  let result, thrown = null;
  try { result = fn(); } catch (e) { thrown = e; }
  const [validation, memory] = await Promise.all([device.popErrorScope(), device.popErrorScope()]);
  if (thrown) throw thrown;
  const error = validation || memory;
  if (error) throw ffError(memory && !validation ? "out-of-memory" : "device-error", "WebGPU rejected " + what + ": " + ffFirstLine(error.message));
  return result;
}

async function createProgram(device, plan) {
  ffCheckLimits(device, plan);
  const { layouts, pipelines } = await ffCompile(device, plan);
  const write = (buffer, view) => { if (view.byteLength > 0) device.queue.writeBuffer(buffer, 0, view); };
  const { buffers, groups } = await ffScoped(device, "the program's buffers", () => {
    const buffers = plan.buffers.map((b, id) =>
      device.createBuffer({ size: ffSize(b.size), usage: FF_STORAGE | FF_COPY_SRC | FF_COPY_DST, label: (b.tensors[0] || "buffer " + id) + " (" + b.usage + ")" }));
    plan.buffers.forEach((b, id) => { if (b.init != null) write(buffers[id], ffBytes(b.init)); });
    for (const v of plan.variables) if (v.init != null) write(buffers[v.buffer], ffBytes(v.init));
    const groups = plan.steps.map((step) => {
      if (step.kind !== "dispatch" || step.workgroupCount[0] * step.workgroupCount[1] * step.workgroupCount[2] === 0) return null;
      return device.createBindGroup({ layout: layouts[step.shader], entries: step.bindings.map((b) => ({ binding: b.binding, resource: { buffer: buffers[b.buffer] } })) });
    });
    return { buffers, groups };
  });
  const variables = new Map(plan.variables.map((v) => [v.name, v]));
  const variable = (name) => {
    const v = variables.get(name);
    if (!v) throw ffError("unknown-variable", "the program has no variable " + JSON.stringify(name) + " (it has " + plan.variables.map((x) => x.name).join(", ") + ")");
    return v;
  };

  /** Encodes the steps (when dispatch) and copies of reads into staging buffers; maps them back. */
  async function submit(feeds, dispatch, reads) {
    if (dispatch) for (const f of plan.feeds) {
      const value = feeds instanceof Map ? feeds.get(f.name) : feeds ? feeds[f.name] : undefined;
      if (value === undefined) throw ffError("missing-feed", "no value fed for input " + JSON.stringify(f.name), { input: f.name });
      write(buffers[f.buffer], ffToDevice(f.dtype, value, ffCount(f.shape), "input " + JSON.stringify(f.name)));
    }
    const staging = await ffScoped(device, "a run", () => {
      const encoder = device.createCommandEncoder();
      let pass = null;
      if (dispatch) plan.steps.forEach((step, k) => {
        if (step.kind === "copy") {
          if (pass) { pass.end(); pass = null; }
          encoder.copyBufferToBuffer(buffers[step.src], 0, buffers[step.dst], 0, ffSize(step.size));
          return;
        }
        if (!groups[k]) return;
        pass = pass || encoder.beginComputePass();
        pass.setPipeline(pipelines[step.shader]);
        pass.setBindGroup(0, groups[k]);
        pass.dispatchWorkgroups(step.workgroupCount[0], step.workgroupCount[1], step.workgroupCount[2]);
      });
      if (pass) pass.end();
      const staging = reads.map((r) => {
        const size = ffSize(ffCount(r.shape) * 4);
        const buffer = device.createBuffer({ size, usage: FF_MAP_READ | FF_COPY_DST });
        encoder.copyBufferToBuffer(buffers[r.buffer], 0, buffer, 0, size);
        return buffer;
      });
      device.queue.submit([encoder.finish()]);
      return staging;
    });
    try {
      await Promise.all(staging.map((s) => s.mapAsync(FF_MAP_READ)));
      return reads.map((r, k) => ffFromDevice(r.dtype, r.shape, staging[k].getMappedRange().slice(0, ffCount(r.shape) * 4)));
    } finally {
      for (const s of staging) s.destroy();
    }
  }

  const record = (entries, values) => {
    const out = {};
    entries.forEach((e, k) => { out[e.name] = values[k]; });
    return out;
  };
  return {
    inputs: plan.feeds.map((f) => ({ name: f.name, dtype: f.dtype, shape: f.shape.slice() })),
    outputs: plan.fetches.map((f) => ({ name: f.name, dtype: f.dtype, shape: f.shape.slice() })),
    variables: plan.variables.map((v) => ({ name: v.name, dtype: v.dtype, shape: v.shape.slice() })),
    /** Runs the program once: { [output]: { dtype, shape, data } }. */
    async run(feeds) {
      return record(plan.fetches, await submit(feeds, true, plan.fetches));
    },
    /** Runs once and also reads back the variables named (default: those the program writes). */
    async runAndRead(feeds, names) {
      const vars = (names || plan.variables.filter((v) => v.written).map((v) => v.name)).map(variable);
      const values = await submit(feeds, true, plan.fetches.concat(vars));
      return { outputs: record(plan.fetches, values.slice(0, plan.fetches.length)), variables: record(vars, values.slice(plan.fetches.length)) };
    },
    writeVariable(name, value) {
      const v = variable(name);
      write(buffers[v.buffer], ffToDevice(v.dtype, value, ffCount(v.shape), "variable " + JSON.stringify(name)));
    },
    async readVariables(names) {
      const vars = (names || plan.variables.map((v) => v.name)).map(variable);
      return record(vars, await submit(null, false, vars));
    },
    destroy() {
      for (const b of buffers) b.destroy();
    },
  };
}
`;

/** A value as the loader returns it. */
export interface HostValue {
  dtype: DType;
  shape: number[];
  data: Float32Array | Int32Array | Uint8Array;
}

/** What a feed may be: a typed array, nested numbers or booleans, a scalar, or `{ data }`. */
export type LoaderFeed = ArrayLike<number> | readonly unknown[] | number | boolean | { data: ArrayLike<number> };

/** The loaded program (see the file comment). */
export interface GpuProgram {
  readonly inputs: { name: string; dtype: DType; shape: number[] }[];
  readonly outputs: { name: string; dtype: DType; shape: number[] }[];
  readonly variables: { name: string; dtype: DType; shape: number[] }[];
  run(feeds: Record<string, LoaderFeed> | Map<string, LoaderFeed>): Promise<Record<string, HostValue>>;
  runAndRead(
    feeds: Record<string, LoaderFeed> | Map<string, LoaderFeed>,
    names?: readonly string[],
  ): Promise<{ outputs: Record<string, HostValue>; variables: Record<string, HostValue> }>;
  writeVariable(name: string, value: LoaderFeed): void;
  readVariables(names?: readonly string[]): Promise<Record<string, HostValue>>;
  destroy(): void;
}

/** The parts of `GPU` (navigator.gpu) the loader uses; the real objects fit. */
export interface GpuLike {
  requestAdapter(options?: object): Promise<unknown>;
}

/** A `GPUDevice`; the loader reads `limits` first, so a stand-in with `limits` alone reaches the limit checks. */
export interface DeviceLike {
  readonly limits: Readonly<Record<string, unknown>>;
}

/** The properties of the loader's errors. */
export interface LoaderErrorFields {
  code: "no-adapter" | "buffer-too-large" | "shader-compile" | "bad-feed" | "missing-feed" | "unknown-variable" | "device-error" | "out-of-memory";
  op?: string;
  shader?: string;
  line?: number;
  lineText?: string;
  tensor?: string;
  size?: number;
  limit?: number;
  limitName?: string;
  input?: string;
}

export function isLoaderError(e: unknown): e is Error & LoaderErrorFields {
  return e instanceof Error && e.name === "WebGpuProgramError" && typeof (e as { code?: unknown }).code === "string";
}

export interface Loader {
  requestDevice(gpu: GpuLike | undefined, how?: string): Promise<DeviceLike>;
  createProgram(device: DeviceLike, plan: ProgramPlan): Promise<GpuProgram>;
}

let instance: Loader | null = null;

/** The loader's functions in this process (the same text the compiled programs embed). */
export function instantiateLoader(): Loader {
  instance ??= new Function(`${LOADER_SOURCE}\nreturn { requestDevice, createProgram };`)() as Loader;
  return instance;
}
