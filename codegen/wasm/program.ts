/**
 * A wasm program from named tensors and steps: the builder derives every tensor's lifetime
 * from the steps that write and read it, gives each kernel's scratch a lifetime of its own
 * step, lays the memory out with the planner, emits and validates one module, and
 * instantiates it over one WebAssembly.Memory with the constants written once. A run is a
 * call of `run()`: nothing is allocated per step.
 *
 *   const p = new WasmProgramBuilder();
 *   p.tensor("x", 100 * 784, "input"); p.tensor("w", packed, "constant"); p.tensor("y", 100 * 100, "output");
 *   p.step(["x", "w"], ["y"], (at) => ({ kind: "gemm", op: "dense/MatMul", ..., a: at("x"), b: at("w"), c: at("y") }));
 *   const program = p.build(); program.view("x").set(data); program.run();
 */
import { InternalError } from "../../ir/diagnostics";
import { wasm, type WasmMemory } from "./host";
import { kernelScratchBytes, type Kernel } from "./kernels";
import { planLinearMemory, type LinearLifetime, type LinearPlan, type StorageKind } from "./memory";
import { buildModule, type BuiltModule, type ModuleOptions } from "./module";
import { mathImports } from "./simd-ops";

export type TensorRole = "input" | "output" | "constant" | "variable" | "temp";

interface TensorDecl {
  name: string;
  size: number;
  kind: StorageKind;
  role: TensorRole;
  data?: ArrayLike<number>;
}

interface StepDecl {
  reads: readonly string[];
  writes: readonly string[];
  make: (at: (name: string) => number) => Kernel;
}

export interface WasmProgram {
  memory: WasmMemory;
  plan: LinearPlan;
  module: BuiltModule;
  kernels: Kernel[];
  /** Runs every step in order. */
  run(): void;
  /** Runs step `i` alone. */
  step(i: number): void;
  /** A live f32 view of a tensor's bytes (valid for the program's life: the memory never grows). */
  view(name: string): Float32Array;
  offset(name: string): number;
}

export type ProgramOptions = Omit<ModuleOptions, "memoryBytes">;

export class WasmProgramBuilder {
  private tensors = new Map<string, TensorDecl>();
  private steps: StepDecl[] = [];

  tensor(name: string, size: number, role: TensorRole, data?: ArrayLike<number>, kind: StorageKind = "f32"): this {
    if (this.tensors.has(name)) throw new InternalError({ code: "wasm-duplicate-tensor", node: name, message: `tensor \`${name}\` is declared twice` });
    this.tensors.set(name, { name, size, kind, role, data });
    return this;
  }

  step(reads: readonly string[], writes: readonly string[], make: (at: (name: string) => number) => Kernel): this {
    for (const t of [...reads, ...writes])
      if (!this.tensors.has(t)) throw new InternalError({ code: "wasm-unknown-tensor", node: t, message: `a step uses the undeclared tensor \`${t}\`` });
    this.steps.push({ reads, writes, make });
    return this;
  }

  /** Tensor and scratch lifetimes over the steps (step -1: the host writes inputs before the run). */
  private lifetimes(scratch: number[]): LinearLifetime[] {
    const first = new Map<string, number>();
    const last = new Map<string, number>();
    this.steps.forEach((s, i) => {
      for (const t of s.writes) if (!first.has(t)) first.set(t, i);
      for (const t of [...s.reads, ...s.writes]) last.set(t, i);
    });
    const out: LinearLifetime[] = [];
    for (const t of this.tensors.values()) {
      const pinned = t.role === "output" || t.role === "constant" || t.role === "variable";
      const f = t.role === "input" ? -1 : (first.get(t.name) ?? 0);
      out.push({ key: t.name, kind: t.kind, size: t.size, first: f, last: Math.max(last.get(t.name) ?? f, f), pinned });
    }
    scratch.forEach((bytes, i) => {
      if (bytes > 0) out.push({ key: `#scratch${i}`, kind: "u8", size: bytes, first: i, last: i });
    });
    return out;
  }

  build(options: ProgramOptions = {}): WasmProgram {
    const probe = (_: string) => 0;
    const scratch = this.steps.map((s) => kernelScratchBytes(s.make(probe)));
    const plan = planLinearMemory(this.lifetimes(scratch));
    const at = (name: string) => {
      const o = plan.offsets.get(name);
      if (o === undefined) throw new InternalError({ code: "wasm-unplanned", node: name, message: `tensor \`${name}\` has no place in memory` });
      return o;
    };
    const kernels = this.steps.map((s, i) => {
      const k = s.make(at);
      return scratch[i] > 0 ? { ...k, scratch: at(`#scratch${i}`) } : k;
    });
    const module = buildModule(kernels, { ...options, memoryBytes: plan.bytes });
    return instantiate(module, kernels, plan, [...this.tensors.values()]);
  }
}

function instantiate(module: BuiltModule, kernels: Kernel[], plan: LinearPlan, tensors: TensorDecl[]): WasmProgram {
  const memory = new wasm.Memory({ initial: module.pages, maximum: module.pages, shared: module.shared });
  const compiled = new wasm.Module(module.binary);
  const instance = new wasm.Instance(compiled, { env: { memory }, math: mathImports() });
  const exports = instance.exports as Record<string, () => void>;
  const byName = new Map(tensors.map((t) => [t.name, t]));
  const view = (name: string) => {
    const t = byName.get(name);
    if (!t) throw new InternalError({ code: "wasm-unknown-tensor", node: name, message: `no tensor \`${name}\`` });
    return new Float32Array(memory.buffer, plan.offsets.get(name)!, t.size);
  };
  for (const t of tensors) if (t.data) view(t.name).set(t.data);
  const run = exports.run;
  return {
    memory,
    plan,
    module,
    kernels,
    run: () => run(),
    step: (i) => exports[module.functions[i]](),
    view,
    offset: (name) => plan.offsets.get(name)!,
  };
}
