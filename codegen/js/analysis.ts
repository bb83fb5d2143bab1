/**
 * From a run plan to the compiled program's structure: where every tensor lives (a feed, a
 * constant, a variable's own array, a planned buffer, nowhere when fused away), which ops are
 * mere views of another tensor, the liveness flags of Switch/Merge (an op runs when all the
 * flags of its inputs hold, so an untaken branch skips its steps), and the steps in order, with
 * consecutive elementwise ops fused into one loop and fused after a producer (MatMul, Conv2D)
 * as its epilogue.
 */
import type { DType } from "../../ir/dtype";
import type { Operation, Tensor } from "../../ir/graph";
import type { NDArray } from "../../ir/ndarray";
import { getOpDef } from "../../ir/registry";
import { getEmitter } from "./emitter";
import { fusable } from "./fusable";
import { concreteSpecs, Unresolved, type ConcreteSpec } from "./specs";

/** Ops whose output is their first input, unchanged (a reshape keeps the data order). */
export const VIEW_OPS = new Set(["Identity", "StopGradient", "Reshape", "Squeeze", "ExpandDims", "PlaceholderWithDefault", "Snapshot"]);

export type Storage =
  | { kind: "feed"; index: number }
  | { kind: "const"; index: number }
  | { kind: "variable"; index: number }
  | { kind: "buffer" }
  | { kind: "none" };

export type Step =
  /** One op with an emitter, or a group of fused elementwise ops (after `producer` when fused as its epilogue). */
  | { kind: "ops"; ops: Operation[]; elementwise: boolean; producer?: Operation; live: number[] }
  | { kind: "fallback"; op: Operation; live: number[] }
  /** A view whose source may change later in the run (a variable that is written): copied. */
  | { kind: "copy"; op: Operation; live: number[] }
  | { kind: "merge"; op: Operation; live: number[] }
  | { kind: "switch"; op: Operation; atoms: (number | undefined)[] }
  /** A variable read where the op sits in the plan: an uninitialized one fails there, as on the interpreter. */
  | { kind: "check"; op: Operation; variable: number; live: number[] }
  | { kind: "fetch"; tensor: Tensor; slot: number; live: number[] };

export type Atom =
  | { id: number; kind: "switch"; op: Operation; branch: 0 | 1; base: number[] }
  | { id: number; kind: "merge"; op: Operation; controls: number[]; inputs: number[][] };

export interface PlanInput {
  order: readonly Operation[];
  /** Fed tensors in feed-index order, with the fed dtype and shape. */
  fed: ReadonlyMap<string, { tensor: Tensor; dtype: DType; shape: number[] }>;
  /** Tensors to copy out, in fetch-slot order (none of them fed). */
  fetches: readonly Tensor[];
  variableShape(op: Operation): number[] | undefined;
}

export interface Analysis {
  input: PlanInput;
  specs: Map<string, ConcreteSpec>;
  /** Alias → the tensor whose storage it shares. */
  roots: Map<string, string>;
  storage: Map<string, Storage>;
  consts: NDArray[];
  feeds: string[];
  variables: Operation[];
  atoms: Atom[];
  opLive: Map<Operation, number[]>;
  tensorLive: Map<string, number[]>;
  steps: Step[];
  /** Tensor name → its consumers in the plan (data inputs, not ref inputs). */
  consumers: Map<string, Operation[]>;
  fetched: Set<string>;
}

const union = (lists: number[][]): number[] => [...new Set(lists.flat())].sort((a, b) => a - b);
export const liveKey = (live: readonly number[]): string => live.join(",");

export function analyze(input: PlanInput): Analysis {
  const { order } = input;
  const fedShapes = new Map([...input.fed].map(([k, v]) => [k, { dtype: v.dtype, shape: v.shape }]));
  const specs = concreteSpecs({ order, fed: fedShapes, variableShape: input.variableShape });
  const spec = (t: { name: string }) => specs.get(t.name)!;
  const refs = (op: Operation) => getOpDef(op.type, op.name).refInputs ?? [];
  const a: Analysis = {
    input, specs, roots: new Map(), storage: new Map(), consts: [], feeds: [...input.fed.keys()], variables: [],
    atoms: [], opLive: new Map(), tensorLive: new Map(), steps: [], consumers: new Map(), fetched: new Set(input.fetches.map((t) => t.name)),
  };
  a.feeds.forEach((name, index) => a.storage.set(name, { kind: "feed", index }));
  const varIndex = new Map<string, number>();
  const variableOf = (op: Operation): number => {
    let i = varIndex.get(op.name);
    if (i === undefined) {
      i = a.variables.length;
      a.variables.push(op);
      varIndex.set(op.name, i);
    }
    return i;
  };
  // Writers per variable, and consumers per tensor.
  const writers = new Map<string, Operation[]>();
  for (const op of order) {
    op.inputs.forEach((t, i) => {
      if (refs(op).includes(i)) {
        if (t.op.type !== "VariableV2") throw new Unresolved(op.name, `ref input ${i} is not a variable`);
        writers.set(t.op.name, [...(writers.get(t.op.name) ?? []), op]);
        variableOf(t.op);
      } else a.consumers.set(t.name, [...(a.consumers.get(t.name) ?? []), op]);
    });
    for (const t of op.outputs) if (input.fed.has(t.name)) throw new Unresolved(op.name, `output \`${t.name}\` is fed but the op runs`);
  }
  const rootOf = (name: string) => a.roots.get(name) ?? name;
  const storageOf = (name: string) => a.storage.get(rootOf(name))!;
  const writtenVariable = (s: Storage) => s.kind === "variable" && (writers.get(a.variables[s.index].name)?.length ?? 0) > 0;

  // Liveness: atoms of each tensor and op.
  const liveOf = (t: Tensor) => a.tensorLive.get(t.name) ?? [];
  const baseLive = (op: Operation) =>
    union([...op.inputs.filter((_, i) => !refs(op).includes(i)).map(liveOf), ...op.controlInputs.map((c) => a.opLive.get(c) ?? [])]);

  // Classification, storage and steps.
  const steps = a.steps;
  let group: (Step & { kind: "ops" }) | null = null;
  let pending: Step[] = [];
  const close = () => {
    if (group) steps.push(group, ...pending);
    group = null;
    pending = [];
  };
  const push = (step: Step) => {
    close();
    steps.push(step);
  };
  const fetchStep = (t: Tensor) => {
    const slot = input.fetches.indexOf(t);
    if (slot < 0) return;
    const step: Step = { kind: "fetch", tensor: t, slot, live: liveOf(t) };
    if (group) pending.push(step);
    else steps.push(step);
  };

  for (const op of order) {
    const live = baseLive(op);
    a.opLive.set(op, live);
    const outs = op.outputs;
    const setAll = (s: Storage) => outs.forEach((t) => a.storage.set(t.name, s));
    const markLive = (l: number[]) => outs.forEach((t) => a.tensorLive.set(t.name, l));
    const def = getOpDef(op.type, op.name);
    if (op.type === "Switch") {
      const atoms: (number | undefined)[] = [0, 1].map((branch) => {
        const id = a.atoms.length;
        a.atoms.push({ id, kind: "switch", op, branch: branch as 0 | 1, base: live });
        a.tensorLive.set(outs[branch].name, [id]);
        return id;
      });
      const src = op.inputs[0];
      if (writtenVariable(storageOf(src.name))) {
        // Both outputs share one copy of the data, taken when the Switch runs.
        a.storage.set(outs[0].name, { kind: "buffer" });
        a.roots.set(outs[1].name, outs[0].name);
        push({ kind: "copy", op, live });
      } else for (const t of outs) a.roots.set(t.name, rootOf(src.name));
      push({ kind: "switch", op, atoms });
      outs.forEach(fetchStep);
      continue;
    }
    if (op.type === "Merge") {
      const id = a.atoms.length;
      a.atoms.push({ id, kind: "merge", op, controls: union(op.controlInputs.map((c) => a.opLive.get(c) ?? [])), inputs: op.inputs.map(liveOf) });
      a.opLive.set(op, [id]);
      markLive([id]);
      setAll({ kind: "buffer" });
      push({ kind: "merge", op, live: [id] });
      outs.forEach(fetchStep);
      continue;
    }
    markLive(live);
    const outSpecs = outs.map(spec);
    if (op.type === "VariableV2") {
      setAll({ kind: "variable", index: variableOf(op) });
      const step: Step = { kind: "check", op, variable: variableOf(op), live };
      if (group) pending.push(step);
      else steps.push(step);
    }
    else if (outs.length > 0 && !def.stateful && outSpecs.every((s) => s.value !== undefined)) {
      for (const [i, t] of outs.entries()) {
        a.storage.set(t.name, { kind: "const", index: a.consts.length });
        a.consts.push(outSpecs[i].value!);
      }
    } else if (op.type === "NoOp") {
      // Nothing to run; liveness only.
    } else if (VIEW_OPS.has(op.type)) {
      const src = op.inputs[0];
      if (writtenVariable(storageOf(src.name))) {
        setAll({ kind: "buffer" });
        push({ kind: "copy", op, live });
      } else a.roots.set(outs[0].name, rootOf(src.name));
    } else {
      const emitter = getEmitter(op.type);
      const elementwise = fusable(op, spec);
      const refInputs = refs(op);
      if (elementwise) {
        setAll({ kind: "buffer" });
        const g = group as (Step & { kind: "ops" }) | null;
        const domain = spec(outs[0]).shape.join();
        // An input that reaches a group output through a view would be read before it is written.
        const producedInside = (t: Tensor) => !!g && t.name !== rootOf(t.name) && g.ops.some((o) => o.outputs.some((x) => x.name === rootOf(t.name)));
        const joins = g && liveKey(g.live) === liveKey(live) && spec(g.ops[0].outputs[0]).shape.join() === domain && !op.inputs.some(producedInside);
        if (g && joins) g.ops.push(op);
        else {
          close();
          group = { kind: "ops", ops: [op], elementwise: true, live };
        }
      } else if (emitter && (emitter.supports?.(op, spec) ?? true)) {
        if (refInputs.length > 0) {
          // An update's output is its variable, unless another update of that variable follows.
          const target = op.inputs[refInputs[0]].op;
          const only = (writers.get(target.name)?.length ?? 0) === 1;
          setAll(only && outs.length === 1 ? { kind: "variable", index: variableOf(target) } : { kind: "buffer" });
        } else setAll({ kind: "buffer" });
        push({ kind: "ops", ops: [op], elementwise: false, live });
      } else {
        setAll({ kind: "buffer" });
        push({ kind: "fallback", op, live });
      }
    }
    outs.forEach(fetchStep);
  }
  close();
  fuseEpilogues(a);
  markFusedAway(a);
  return a;
}

/** A producer step followed by an elementwise group that alone consumes its output becomes one step. */
function fuseEpilogues(a: Analysis): void {
  // One pass that keeps the steps not fused away (splicing each out was quadratic in the steps).
  const kept: typeof a.steps = [];
  const steps = a.steps;
  for (let i = 0; i < steps.length; i++) {
    const p = steps[i];
    const g = steps[i + 1];
    const producer = g ? fusedProducer(a, p, g) : null;
    if (producer && g.kind === "ops") g.producer = producer;
    else kept.push(p);
  }
  a.steps.length = 0;
  a.steps.push(...kept);
}

/** The op of producer step `p` when it becomes the prologue of the elementwise group `g` right after it, else null. */
function fusedProducer(a: Analysis, p: Analysis["steps"][number], g: Analysis["steps"][number]): Operation | null {
  if (p.kind !== "ops" || p.elementwise || g.kind !== "ops" || !g.elementwise || g.producer) return null;
  const producer = p.ops[0];
  if (!getEmitter(producer.type)?.epilogue || liveKey(p.live) !== liveKey(g.live)) return null;
  const out = producer.outputs[0];
  const consumers = a.consumers.get(out.name) ?? [];
  if (a.fetched.has(out.name) || consumers.length === 0 || !consumers.every((c) => g.ops.includes(c))) return null;
  return a.specs.get(out.name)!.shape.join() === a.specs.get(g.ops[0].outputs[0].name)!.shape.join() ? producer : null;
}

/** Outputs of fused ops that nothing outside their group reads live in no array. */
function markFusedAway(a: Analysis): void {
  for (const step of a.steps) {
    if (step.kind !== "ops" || !step.elementwise) continue;
    const inside = new Set<Operation>(step.ops);
    if (step.producer) inside.add(step.producer);
    for (const op of inside)
      for (const t of op.outputs) {
        const outside = (a.consumers.get(t.name) ?? []).some((c) => !inside.has(c));
        if (!outside && !a.fetched.has(t.name)) a.storage.set(t.name, { kind: "none" });
      }
  }
}
