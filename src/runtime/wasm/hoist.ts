/**
 * Epilogue hoisting, before lowering: the JS analysis fuses an elementwise group into the
 * producer (FusedBatchNorm, MatMul, Conv2D, DepthwiseConv2dNative) right before it only. With
 * tf.layers.batchNormalization the moving-average updates sit in between:
 *
 *   FusedBatchNormV3 → [Sub, Mul] → AssignSub(moving_mean) → [Sub, Mul] → AssignSub(moving_variance) → [Relu]
 *
 * becomes
 *
 *   FusedBatchNormV3 + [Relu] (one kernel, relu in its last pass) → [Sub, Mul] → AssignSub → [Sub, Mul] → AssignSub
 *
 * The group moves up to its producer when it alone reads the producer's output 0 (and that is not
 * fetched), runs under the same liveness flags over the same shape, and nothing it reads is
 * written by a step it moves past: no op output in between (through views), no variable that a
 * step in between updates or checks. It never moves past Switch / Merge. The steps in between
 * keep their order.
 */
import type { Operation } from "../../../ir/graph";
import { liveKey, type Analysis, type Step } from "../../../codegen/js/analysis";
import { getOpDef } from "../../../ir/registry";

const PRODUCERS = new Set(["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "MatMul", "Conv2D", "DepthwiseConv2dNative"]);
/** How far ahead to look for the group (steps). */
const WINDOW = 32;

type Ops = Step & { kind: "ops" };

/** Tensors (by root) and variables a step writes; null when the group may not move past it. */
function written(a: Analysis, s: Step, rootOf: (name: string) => string): { tensors: string[]; variables: string[] } | null {
  switch (s.kind) {
    case "switch":
    case "merge":
      return null;
    case "fetch":
      return { tensors: [], variables: [] };
    case "check":
      return { tensors: [], variables: [s.op.name] };
    case "copy":
    case "fallback":
    case "ops": {
      const ops = s.kind === "ops" ? [...s.ops, ...(s.producer ? [s.producer] : [])] : [s.op];
      return {
        tensors: ops.flatMap((op) => op.outputs.map((t) => rootOf(t.name))),
        variables: ops.flatMap((op) => (getOpDef(op.type, op.name).refInputs ?? []).map((i) => op.inputs[i].op.name)),
      };
    }
  }
}

/** What the group reads: tensor roots, and the variables among them. */
function reads(a: Analysis, g: Ops, rootOf: (name: string) => string): { tensors: Set<string>; variables: Set<string> } {
  const tensors = new Set<string>();
  const variables = new Set<string>();
  for (const op of g.ops)
    for (const t of op.inputs) {
      const root = rootOf(t.name);
      tensors.add(root);
      const s = a.storage.get(root);
      if (s?.kind === "variable") variables.add(a.variables[s.index].name);
    }
  return { tensors, variables };
}

/** The group of `steps` after index `i` that may become `producer`'s epilogue, and its index; null when none. */
function epilogueGroup(a: Analysis, steps: readonly Step[], i: number, producer: Operation): number | null {
  const out = producer.outputs[0];
  const consumers = a.consumers.get(out.name) ?? [];
  if (a.fetched.has(out.name) || consumers.length === 0) return null;
  const rootOf = (name: string) => a.roots.get(name) ?? name;
  const p = steps[i] as Ops;
  for (let j = i + 1; j < Math.min(steps.length, i + 1 + WINDOW); j++) {
    const s = steps[j];
    const inside = s.kind === "ops" ? s.ops : s.kind === "fallback" || s.kind === "copy" ? [s.op] : [];
    if (!consumers.some((c) => inside.includes(c))) continue;
    if (s.kind !== "ops" || !s.elementwise || s.producer || !consumers.every((c) => s.ops.includes(c))) return null;
    if (liveKey(s.live) !== liveKey(p.live)) return null;
    if (a.specs.get(out.name)!.shape.join() !== a.specs.get(s.ops[0].outputs[0].name)!.shape.join()) return null;
    const needs = reads(a, s, rootOf);
    for (let k = i + 1; k < j; k++) {
      const w = written(a, steps[k], rootOf);
      if (!w || w.tensors.some((t) => needs.tensors.has(t)) || w.variables.some((v) => needs.variables.has(v))) return null;
    }
    return j;
  }
  return null;
}

/** The analysis' steps with every movable group hoisted onto its producer (a new list; the analysis is not changed). */
export function hoistEpilogues(a: Analysis): Step[] {
  const steps = [...a.steps];
  for (let i = 0; i < steps.length; i++) {
    const p = steps[i];
    if (p.kind !== "ops" || p.elementwise || p.ops.length !== 1 || !PRODUCERS.has(p.ops[0].type)) continue;
    const next = steps[i + 1];
    if (next?.kind === "ops" && next.producer === p.ops[0]) continue;
    const j = epilogueGroup(a, steps, i, p.ops[0]);
    if (j === null || j === i + 1) continue;
    const g = steps[j] as Ops;
    steps.splice(j, 1);
    steps[i] = { ...g, producer: p.ops[0] };
  }
  return steps;
}
