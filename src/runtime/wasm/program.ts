/**
 * Lays out and builds a lowered run (./lower.ts): every region gets its place in one linear
 * memory from the planner (codegen/wasm/memory.ts) with lifetimes over all the steps, kernel
 * and host alike (a feed lives from before the first step; variables and constants for the
 * whole program; a kernel's scratch for its own step); the kernels become one validated module
 * (a function per kernel step); instantiating it writes the constants once.
 */
import type { TypedArray } from "../../../ir/dtype";
import type { BuiltModule } from "../../../codegen/wasm/module";
import type { Kernel } from "../../../codegen/wasm/kernels";
import type { LinearLifetime, LinearPlan } from "../../../codegen/wasm/memory";
import type { WasmCodegen } from "./loader";
import type { Lowered } from "./lower";
import type { Region } from "./steps";

export interface BuiltProgram {
  lowered: Lowered;
  plan: LinearPlan;
  module: BuiltModule;
  kernels: Kernel[];
  /** The module function of each step (undefined for host steps). */
  functionOf: (string | undefined)[];
  offset(key: string): number;
}

export interface ProgramOptions {
  optimizeLevel?: number;
  shared?: boolean;
}

/** The time of each step for the planner: the parts of a split op (running together) share their first step's. */
function times(lowered: Lowered): number[] {
  const first = new Map<number, number>();
  return lowered.steps.map((s, i) => {
    if (s.kind !== "kernel" || s.group === undefined) return i;
    if (!first.has(s.group)) first.set(s.group, i);
    return first.get(s.group)!;
  });
}

function lifetimes(lowered: Lowered, scratch: number[]): LinearLifetime[] {
  const first = new Map<string, number>();
  const last = new Map<string, number>();
  const touch = (key: string, i: number) => last.set(key, Math.max(last.get(key) ?? i, i));
  const time = times(lowered);
  lowered.steps.forEach((s, step) => {
    const i = time[step];
    for (const k of s.writes) {
      if (!first.has(k)) first.set(k, i);
      touch(k, i);
    }
    for (const k of s.reads) touch(k, i);
  });
  const out: LinearLifetime[] = [];
  for (const r of lowered.regions.values()) {
    const readFirst = Math.min(...lowered.steps.flatMap((s, i) => (s.reads.includes(r.key) ? [time[i]] : [])), Infinity);
    const f = r.feed !== undefined ? -1 : (first.get(r.key) ?? (Number.isFinite(readFirst) ? readFirst : 0));
    out.push({ key: r.key, kind: r.kind, size: r.size, first: f, last: Math.max(last.get(r.key) ?? f, f), pinned: r.pinned });
  }
  scratch.forEach((bytes, i) => {
    if (bytes > 0) out.push({ key: `#scratch${i}`, kind: "u8", size: bytes, first: time[i], last: time[i] });
  });
  return out;
}

/** Whether the lowered run has split kernels (it then needs a shared memory). */
export function isParallel(lowered: Lowered): boolean {
  return lowered.steps.some((s) => s.kind === "kernel" && s.group !== undefined);
}

export function buildProgram(W: WasmCodegen, lowered: Lowered, options: ProgramOptions = {}): BuiltProgram {
  const probe = () => 0;
  const scratch = lowered.steps.map((s) => (s.kind === "kernel" ? W.kernelScratchBytes(s.make(probe)) : 0));
  const plan = W.planLinearMemory(lifetimes(lowered, scratch));
  const offset = (key: string) => {
    const o = plan.offsets.get(key);
    if (o === undefined) throw new Error(`wasm program: region \`${key}\` has no place in memory`);
    return o;
  };
  const kernels: Kernel[] = [];
  const stepOfKernel: number[] = [];
  lowered.steps.forEach((s, i) => {
    if (s.kind !== "kernel") return;
    const k = s.make(offset);
    kernels.push(scratch[i] > 0 ? { ...k, scratch: offset(`#scratch${i}`) } : k);
    stepOfKernel.push(i);
  });
  const module = W.buildModule(kernels, { memoryBytes: plan.bytes, optimizeLevel: options.optimizeLevel, shared: options.shared });
  const functionOf: (string | undefined)[] = lowered.steps.map(() => undefined);
  stepOfKernel.forEach((step, k) => (functionOf[step] = module.functions[k]));
  return { lowered, plan, module, kernels, functionOf, offset };
}

const ARRAY = { f32: Float32Array, i32: Int32Array, u8: Uint8Array } as const;

export interface Instance {
  /** The compiled module and the memory (worker threads instantiate the same pair). */
  module: object;
  memory: object;
  buffer: ArrayBuffer;
  exports: Record<string, () => void>;
  /** A live typed view of a region (the memory never grows). */
  view(region: Region): TypedArray;
}

/** Instantiates the module over a fresh memory and writes the constant regions. */
export function instantiate(W: WasmCodegen, built: BuiltProgram): Instance {
  const { module } = built;
  const memory = new W.wasm.Memory({ initial: module.pages, maximum: module.pages, shared: module.shared });
  const compiled = new W.wasm.Module(module.binary);
  const instance = new W.wasm.Instance(compiled, { env: { memory }, math: W.mathImports() });
  const views = new Map<string, TypedArray>();
  const view = (r: Region): TypedArray => {
    let v = views.get(r.key);
    if (!v) {
      v = new ARRAY[r.kind](memory.buffer, built.offset(r.key), r.size);
      views.set(r.key, v);
    }
    return v;
  };
  for (const r of built.lowered.regions.values()) if (r.data) view(r).set(r.data);
  return { module: compiled, memory, buffer: memory.buffer, exports: instance.exports as Record<string, () => void>, view };
}
