/**
 * The dispatch plan of a run plan on WebGPU: which buffers exist (feeds, constants, variables,
 * planned intermediates, scratch), which shaders, and the steps in order (compute dispatches
 * with their bind group entries, buffer copies).
 *
 *   order [x, w, MatMul, b, BiasAdd, Relu, Sum]  with x fed [100, 784]
 *   → buffers  feed x, variable w, variable b, intermediates MatMul:0, Relu:0, Sum:0 (shared when lifetimes allow)
 *   → steps    dispatch MatMul (tiled); dispatch "BiasAdd+Relu" (one fused shader); dispatch Sum
 *
 * It follows codegen/js's analysis: the same concrete specs (shapes and folded constants,
 * ../js/specs), the same view ops (aliased, copied when their source is a variable written in
 * the run), the same elementwise fusion rule (consecutive fusable ops over one domain), and the
 * same memory planner (../js/memory). Control flow (Switch / Merge) and ops without a WGSL
 * kernel are refused with a `wgsl-unsupported` error; the backend runs those plans elsewhere.
 */
import type { DType } from "../../ir/dtype";
import type { Operation, Tensor } from "../../ir/graph";
import type { NDArray } from "../../ir/ndarray";
import { getOpDef } from "../../ir/registry";
import { VIEW_OPS, type PlanInput } from "../js/analysis";
import { fusable } from "../js/fusable";
import { planMemory, type Lifetime } from "../js/memory";
import { concreteSpecs, type ConcreteSpec } from "../js/specs";
import { sizeOf, unsupported, type KernelBinding, type WgslKernel } from "./common";
import { emitOpKernels, hasWgslEmitter } from "./emit";
import { emitFused, MAX_STORAGE_BUFFERS, type FusedGroup, type FusedRef } from "./elementwise";
import { templateFor } from "./expressions";

export type { PlanInput } from "../js/analysis";

/** Elementwise ops beyond the expression tables that fuse (as identities with a broadcast, or a sum). */
const FUSED_TYPES = new Set(["Cast", "AddN", "Fill", "BroadcastTo"]);

export interface PlanBuffer {
  id: number;
  /** Bytes (at least 4; every element is 4 bytes on the device, bool as u32). */
  size: number;
  usage: "feed" | "const" | "variable" | "intermediate" | "scratch";
  /** The tensors it holds (several for a shared intermediate buffer), or the variable op's name. */
  tensors: string[];
  /** Const buffers: the data to upload once. */
  init?: NDArray;
}

export interface PlanShader {
  label: string;
  code: string;
  entryPoint: string;
  /** Bind group 0's layout. */
  layout: { binding: number; type: "storage" | "read-only-storage" }[];
}

export type PlanStep =
  | { kind: "dispatch"; op: string; shader: number; bindings: { binding: number; buffer: number }[]; workgroupCount: [number, number, number] }
  | { kind: "copy"; op: string; src: number; dst: number; size: number };

export interface TensorPlace {
  buffer: number;
  dtype: DType;
  shape: number[];
}

export interface DispatchPlan {
  shaders: PlanShader[];
  buffers: PlanBuffer[];
  steps: PlanStep[];
  /** The ops that run on the device, in order (fused groups list each member). */
  order: string[];
  /** Where each tensor the run touches lives, by tensor name (views share their source's buffer). */
  tensors: Map<string, TensorPlace>;
  feeds: ({ name: string } & TensorPlace)[];
  fetches: ({ name: string } & TensorPlace)[];
  variables: ({ name: string } & TensorPlace)[];
}

/** A step before buffers are assigned: kernels over symbolic tensors. */
interface Pending {
  ops: Operation[];
  kernels: WgslKernel[];
  /** binding kind/index → tensor name (or scratch key) for this step's kernels. */
  resolve: (b: KernelBinding) => string;
  scratch: { key: string; size: number }[];
  copy?: { src: string; dst: string };
}

export function planDispatches(input: PlanInput): DispatchPlan {
  const { order } = input;
  const fedShapes = new Map([...input.fed].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape }]));
  const specs = concreteSpecs({ order, fed: fedShapes, variableShape: input.variableShape });
  const spec = (t: { name: string }): ConcreteSpec => specs.get(t.name)!;
  const refs = (op: Operation) => getOpDef(op.type, op.name).refInputs ?? [];
  const fetched = new Set(input.fetches.map((t) => t.name));
  const consumers = new Map<string, Operation[]>();
  const written = new Set<string>();
  /** Storage of the tensors that are not planned intermediates. */
  const kinds = new Map<string, "feed" | "const" | "variable">();
  for (const name of input.fed.keys()) kinds.set(name, "feed");
  for (const op of order)
    op.inputs.forEach((t, i) => {
      if (refs(op).includes(i)) {
        written.add(t.op.name);
        // An assign does not read its variable, so the VariableV2 op need not be in the plan.
        kinds.set(t.name, "variable");
      } else consumers.set(t.name, [...(consumers.get(t.name) ?? []), op]);
    });

  const roots = new Map<string, string>();
  const rootOf = (name: string) => roots.get(name) ?? name;
  const pending: Pending[] = [];
  let group: Operation[] = [];
  /** The group's iteration shape: every member's output broadcasts to it. */
  let domain: readonly number[] = [];

  const stepFor = (ops: Operation[], kernels: WgslKernel[], resolve: Pending["resolve"], scratch: number[] = []): void => {
    const keys = scratch.map((size, k) => ({ key: `${ops[0].name}/scratch:${k}`, size }));
    pending.push({ ops, kernels, resolve: (b) => (b.kind === "scratch" ? keys[b.index].key : resolve(b)), scratch: keys });
  };
  const emitSingle = (op: Operation) => {
    const r = emitOpKernels(op, op.inputs.map((t) => spec(t).shape), op.outputs.map((t) => spec(t).shape), { constants: op.inputs.map((t) => spec(t).value) });
    const aliased = new Map(r.aliases.map((a) => [a.output, a.input]));
    for (const [output, inputIndex] of aliased) roots.set(op.outputs[output].name, rootOf(op.inputs[inputIndex].name));
    stepFor([op], r.kernels, (b) => rootOf(b.kind === "input" ? op.inputs[b.index].name : op.outputs[b.index].name), r.scratch);
  };
  const emitGroup = (ops: Operation[], domain: readonly number[]) => {
    const built = fusedGroup(ops, domain, spec, rootOf, consumers, fetched);
    if (!built) return void ops.forEach(emitSingle);
    stepFor(ops, [emitFused(built.group)], (b) => (b.kind === "input" ? built.inputs[b.index] : built.outputs[b.index]));
  };
  const closeGroup = () => {
    if (group.length === 0) return;
    const ops = group;
    group = [];
    // Ops of a smaller (broadcast) shape are recomputed per element; their outputs cannot be
    // written by the group, so a group that must write one is split into runs of one shape.
    const inside = new Set(ops);
    const needed = (t: Tensor) => fetched.has(t.name) || (consumers.get(t.name) ?? []).some((c) => !inside.has(c));
    const shapeOf = (op: Operation) => spec(op.outputs[0]).shape.join();
    if (ops.every((op) => !needed(op.outputs[0]) || shapeOf(op) === domain.join())) return emitGroup(ops, domain);
    let run: Operation[] = [];
    for (const op of ops) {
      if (run.length && shapeOf(run[0]) !== shapeOf(op)) {
        emitGroup(run, spec(run[0].outputs[0]).shape);
        run = [];
      }
      run.push(op);
    }
    emitGroup(run, spec(run[0].outputs[0]).shape);
  };

  for (const op of order) {
    const outs = op.outputs;
    const def = getOpDef(op.type, op.name);
    if (op.type === "Switch" || op.type === "Merge") throw unsupported(op, "control flow (tf.cond) is not compiled to WGSL yet", "resolve the cond while building (a Python-style boolean) or use the js backend");
    if (op.type === "VariableV2") {
      kinds.set(outs[0].name, "variable");
      continue;
    }
    if (outs.length > 0 && !def.stateful && outs.every((t) => spec(t).value !== undefined)) {
      for (const t of outs) kinds.set(t.name, "const");
      continue;
    }
    if (op.type === "NoOp") continue;
    if (VIEW_OPS.has(op.type)) {
      const src = op.inputs[0];
      const root = rootOf(src.name);
      const fromVariable = kinds.get(root) === "variable" && written.has(root.replace(/:\d+$/, ""));
      const producedInGroup = group.some((g) => g.outputs.some((t) => t.name === root));
      if (fromVariable) {
        closeGroup();
        pending.push({ ops: [op], kernels: [], resolve: () => "", scratch: [], copy: { src: root, dst: outs[0].name } });
      } else if (producedInGroup) {
        // Keep it simple: a view of a tensor being fused ends the group first.
        closeGroup();
        roots.set(outs[0].name, root);
      } else roots.set(outs[0].name, root);
      continue;
    }
    const elementwise = FUSED_TYPES.has(op.type) || templateFor(op.type) !== undefined ? fusable(op, spec) : null;
    if (elementwise && sizeOf(spec(outs[0]).shape) > 0) {
      const shape = spec(outs[0]).shape;
      if (group.length > 0 && broadcastsTo(shape, domain)) group.push(op);
      else if (group.length > 0 && broadcastsTo(domain, shape)) {
        group.push(op);
        domain = shape;
      } else {
        closeGroup();
        group = [op];
        domain = shape;
      }
      continue;
    }
    closeGroup();
    if (!hasWgslEmitter(op.type)) throw unsupported(op, "no WGSL kernel is written for this op type");
    emitSingle(op);
  }
  closeGroup();
  return assemble(input, pending, specs, kinds, rootOf, fetched);
}

/** Whether `shape` broadcasts to `to` (right-aligned, numpy rules). */
function broadcastsTo(shape: readonly number[], to: readonly number[]): boolean {
  const offset = to.length - shape.length;
  return offset >= 0 && shape.every((d, i) => d === 1 || d === to[i + offset]);
}

/** A fused group of `ops` over `domain` (or null when it would bind more than 8 buffers). */
function fusedGroup(
  ops: Operation[], domain: readonly number[], spec: (t: { name: string }) => ConcreteSpec, rootOf: (n: string) => string,
  consumers: Map<string, Operation[]>, fetched: Set<string>,
): { group: FusedGroup; inputs: string[]; outputs: string[] } | null {
  const inside = new Set(ops);
  const nodeOf = new Map<string, number>();
  const inputs: string[] = [];
  const views: number[][] = [];
  const nodes: FusedGroup["nodes"][number][] = [];
  for (const op of ops) {
    const f = fusable(op, spec)!;
    const args: FusedRef[] = f.operands.map((o) => {
      const t = op.inputs[o.input];
      const node = nodeOf.get(t.name);
      if (node !== undefined) return { node };
      // Single-element constants (learning rates, epsilons, counts) are baked into the shader.
      const value = spec(t).value;
      if (value && value.size === 1 && Number.isFinite(value.data[0])) return { constant: value.data[0], dtype: value.dtype };
      // One binding per tensor and view (BiasAdd reads its bias as [C, 1, 1] under NCHW).
      const root = rootOf(t.name);
      let k = inputs.findIndex((name, j) => name === root && views[j].join() === o.view.join());
      if (k < 0) {
        k = inputs.length;
        inputs.push(root);
        views.push(o.view);
      }
      return { input: k };
    });
    nodeOf.set(op.outputs[0].name, nodes.length);
    // Fill and BroadcastTo read their operand with a broadcast: an identity node.
    const type = op.type === "Fill" || op.type === "BroadcastTo" ? "Identity" : op.type;
    nodes.push({ type, attrs: op.attrs, args, dtype: op.outputs[0].dtype });
  }
  let outputs = ops.map((op) => op.outputs[0]).filter((t) => fetched.has(t.name) || (consumers.get(t.name) ?? []).some((c) => !inside.has(c)));
  if (outputs.length === 0) outputs = [ops[ops.length - 1].outputs[0]];
  if (inputs.length + outputs.length > MAX_STORAGE_BUFFERS) return null;
  const group: FusedGroup = {
    label: ops.map((o) => o.type).join("+") + ` ${ops[ops.length - 1].name}`,
    shape: domain,
    inputs: inputs.map((name, k) => ({ shape: views[k], dtype: spec({ name }).dtype })),
    nodes,
    outputs: outputs.map((t) => nodeOf.get(t.name)!),
  };
  return { group, inputs, outputs: outputs.map((t) => t.name) };
}

/** Buffers (memory-planned intermediates), shaders and steps from the pending steps. */
function assemble(
  input: PlanInput, pending: Pending[], specs: Map<string, ConcreteSpec>, kinds: Map<string, string>,
  rootOf: (n: string) => string, fetched: Set<string>,
): DispatchPlan {
  const buffers: PlanBuffer[] = [];
  const bufferOf = new Map<string, number>();
  const spec = (name: string) => specs.get(name)!;
  const bytes = (name: string) => Math.max(4, sizeOf(spec(name).shape) * 4);
  const fixed = (name: string, usage: PlanBuffer["usage"]) => {
    let id = bufferOf.get(name);
    if (id === undefined) {
      id = buffers.length;
      const variable = usage === "variable" ? name.replace(/:\d+$/, "") : undefined;
      buffers.push({ id, size: bytes(name), usage, tensors: [variable ?? name], init: usage === "const" ? spec(name).value : undefined });
      bufferOf.set(name, id);
    }
    return id;
  };
  // Lifetimes of intermediates: written at their step, read until their last reading step (fetches: the end).
  const lifetimes = new Map<string, Lifetime>();
  const touch = (name: string, step: number, scratchSize?: number) => {
    if (kinds.has(name)) return;
    const t = lifetimes.get(name);
    if (t) t.last = Math.max(t.last, step);
    else lifetimes.set(name, { key: name, kind: "f32", size: scratchSize ?? Math.max(1, sizeOf(spec(name).shape)), first: step, last: step });
  };
  pending.forEach((p, s) => {
    for (const sc of p.scratch) touch(sc.key, s, Math.max(1, sc.size / 4));
    if (p.copy) {
      touch(p.copy.dst, s);
      return;
    }
    for (const k of p.kernels) for (const b of k.bindings) touch(p.resolve(b), s);
  });
  const end = pending.length;
  for (const name of fetched) if (lifetimes.has(rootOf(name))) lifetimes.get(rootOf(name))!.last = end;
  const memory = planMemory([...lifetimes.values()]);
  const planned = memory.buffers.map((b) => {
    const id = buffers.length;
    buffers.push({ id, size: Math.max(4, b.size * 4), usage: "intermediate", tensors: [] });
    return id;
  });
  for (const [name, index] of memory.assignment) {
    const id = planned[index];
    bufferOf.set(name, id);
    buffers[id].tensors.push(name);
    if (name.includes("/scratch:")) buffers[id].usage = buffers[id].tensors.every((t) => t.includes("/scratch:")) ? "scratch" : "intermediate";
  }
  const place = (name: string): number => {
    const existing = bufferOf.get(name);
    if (existing !== undefined) return existing;
    const kind = kinds.get(name);
    if (kind === "feed" || kind === "const" || kind === "variable") return fixed(name, kind);
    throw new Error(`no buffer for ${name}`);
  };
  const shaders: PlanShader[] = [];
  const shaderIndex = new Map<string, number>();
  const steps: PlanStep[] = [];
  const order: string[] = [];
  for (const p of pending) {
    for (const op of p.ops) order.push(op.name);
    if (p.copy) {
      steps.push({ kind: "copy", op: p.ops[0].name, src: place(p.copy.src), dst: place(p.copy.dst), size: bytes(p.copy.dst) });
      continue;
    }
    for (const k of p.kernels) {
      let shader = shaderIndex.get(k.code);
      if (shader === undefined) {
        shader = shaders.length;
        shaderIndex.set(k.code, shader);
        shaders.push({ label: k.label, code: k.code, entryPoint: k.entryPoint, layout: k.bindings.map((b) => ({ binding: b.binding, type: b.access === "read" ? "read-only-storage" : "storage" })) });
      }
      steps.push({ kind: "dispatch", op: p.ops[p.ops.length - 1].name, shader, workgroupCount: k.workgroupCount, bindings: k.bindings.map((b) => ({ binding: b.binding, buffer: place(p.resolve(b)) })) });
    }
  }
  const tensors = new Map<string, TensorPlace>();
  const placeOf = (t: Tensor | string): { name: string } & TensorPlace => {
    const name = typeof t === "string" ? t : t.name;
    const s = spec(name);
    return { name, buffer: place(rootOf(name)), dtype: s.dtype, shape: s.shape };
  };
  const variables = [...kinds].filter(([, k]) => k === "variable").map(([name]) => ({ ...placeOf(name), name: name.replace(/:\d+$/, "") }));
  const feeds = [...input.fed.keys()].map((name) => placeOf(name));
  const fetches = input.fetches.map((t) => placeOf(t));
  // Host constants that no dispatch binds (axes, shapes, folded scalars) get no buffer.
  for (const name of specs.keys()) {
    const root = rootOf(name);
    if (bufferOf.has(root)) {
      const { buffer, dtype, shape } = placeOf(name);
      tensors.set(name, { buffer, dtype, shape });
    }
  }
  return { shaders, buffers, steps, order, tensors, feeds, fetches, variables };
}
