/**
 * Validates WGSL without a GPU: the `webgpu` npm package (Dawn for Node) with its null backend
 * compiles shaders with Tint and reports errors through getCompilationInfo(). A compute pipeline
 * can also be created against an explicit bind group layout, which checks the entry point, the
 * workgroup size and the workgroup memory against WebGPU's default limits.
 */
import { create, globals } from "webgpu";

Object.assign(globalThis, globals);

export interface WgslMessage {
  type: "error" | "warning" | "info";
  line: number;
  column: number;
  message: string;
}

export interface PipelineCheck {
  entryPoint: string;
  layout: { binding: number; type: "storage" | "read-only-storage" | "uniform" }[];
}

let devicePromise: Promise<GPUDevice> | null = null;
let gpu: GPU | null = null;

/** One Dawn device on the null backend, created on first use. */
export function nullDevice(): Promise<GPUDevice> {
  devicePromise ??= (async () => {
    gpu = create(["backend=null"]);
    const adapter = await gpu.requestAdapter();
    if (!adapter) throw new Error("Dawn's null backend gave no adapter");
    return adapter.requestDevice();
  })();
  return devicePromise;
}

/** Compiles `code` and returns Tint's messages (errors first), with 1-based line numbers. */
export async function wgslMessages(code: string): Promise<WgslMessage[]> {
  const device = await nullDevice();
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code });
  const info = await module.getCompilationInfo();
  await device.popErrorScope();
  const rank = { error: 0, warning: 1, info: 2 };
  return info.messages
    .map((m) => ({ type: m.type, line: m.lineNum, column: m.linePos, message: m.message }))
    .sort((a, b) => rank[a.type] - rank[b.type] || a.line - b.line);
}

/**
 * The errors of `code` as "line:column: message" strings (empty when it compiles); with
 * `pipeline`, also the errors of creating a compute pipeline for that entry point and layout.
 */
export async function validateWgsl(code: string, pipeline?: PipelineCheck): Promise<string[]> {
  const errors = (await wgslMessages(code)).filter((m) => m.type === "error").map((m) => `${m.line}:${m.column}: ${m.message}`);
  if (errors.length || !pipeline) return errors;
  const device = await nullDevice();
  device.pushErrorScope("validation");
  const module = device.createShaderModule({ code });
  const layout = device.createBindGroupLayout({
    entries: pipeline.layout.map((b) => ({ binding: b.binding, visibility: GPUShaderStage.COMPUTE, buffer: { type: b.type } })),
  });
  device.createComputePipeline({
    layout: device.createPipelineLayout({ bindGroupLayouts: [layout] }),
    compute: { module, entryPoint: pipeline.entryPoint },
  });
  const error = await device.popErrorScope();
  return error ? [`pipeline: ${error.message}`] : [];
}

/** Releases the Dawn device (lets the process exit). */
export async function closeValidator(): Promise<void> {
  if (!devicePromise) return;
  const device = await devicePromise;
  device.destroy();
  devicePromise = null;
  gpu = null;
}
