/**
 * From the JS target's analysis of a run plan (codegen/js/analysis.ts: concrete shapes, views,
 * storage, Switch/Merge liveness, steps with elementwise groups) to the wasm program's steps:
 *
 *   MatMul / Conv2D / DepthwiseConv2dNative + the elementwise chain after it → one kernel with a
 *       fused epilogue (per-channel vectors, scalars, residual tensors; the chain stops at the
 *       first value read elsewhere, which the kernel stores)
 *   a group of float32 elementwise ops → one elementwise kernel; comparisons, Cast, SelectV2,
 *       logical and int32 ops → typed (scalar) kernels between its parts, or a small group that
 *       mixes them as one typed kernel (./native-typed.ts); ops with neither form run on the host
 *   Sum / Mean / Max / Min over adjacent axes, BiasAddGrad, SumToShape → reduce;
 *   Softmax / LogSoftmax → softmax; MaxPool / AvgPool (NHWC) → pool;
 *   FusedBatchNorm / V2 / V3 (NHWC) + the elementwise chain after y → one batch-norm kernel;
 *       ./hoist.ts first moves a producer's group up to it past steps it does not depend on (the
 *       moving-average updates between tf.layers.batchNormalization and its activation)
 *   SoftmaxCrossEntropyWithLogits and its sparse form → one cross-entropy kernel (./native-loss.ts);
 *   ArgMax / ArgMin → arg-reduce (./native-typed.ts);
 *   Conv2DBackpropInput / Filter, DepthwiseConv2dNativeBackpropInput / Filter, MaxPoolGrad /
 *       AvgPoolGrad, FusedBatchNormGrad* (NHWC) → their kernels (./native-training.ts)
 *   Assign, AssignAdd, AssignSub, ApplyGradientDescent, ApplyMomentum, ApplyAdam → elementwise
 *       kernels that write the variable's region in place (./native.ts; int32 / bool Assign and
 *       int32 AssignAdd / AssignSub, a global step, as typed kernels)
 *   everything else → a host step: the op as a one-op JS program of the js target (./js-kernel.ts)
 *       where it has a JS emitter, else its reference kernel, on views of the memory
 *   with intraOpParallelism > 1, large GEMM / Conv2D kernels → parts run on worker threads (./split.ts),
 *       and large conv backprops (./native-training.ts)
 *
 * Tensors that the JS analysis fused away but that a split makes cross two steps get a region.
 */
import type { Operation, Tensor } from "../../../ir/graph";
import type { Analysis, Step } from "../../../codegen/js/analysis";
import { fusable, type Fusable } from "../../../codegen/js/fusable";
import type { ConcreteSpec } from "../../../codegen/js/specs";
import type { EpilogueStep } from "../../../codegen/wasm/epilogue";
import type { Kernel } from "../../../codegen/wasm/kernels";
import { getOpDef } from "../../../ir/registry";
import { sizeOf } from "../../../ir/shape";
import type { WasmCodegen } from "./loader";
import { ElementwiseBuilder, type Ref } from "./elementwise";
import { hoistEpilogues } from "./hoist";
import { typedKernel, typedPlan } from "./native-typed";
import { nativeKernel, producerKernel, type EpilogueSpec, type NativeKernel } from "./native";
import { trainingPartOf, trainingParts } from "./native-training";
import { partOf, partsFor } from "./split";
import { KIND_OF, type Operand, type Region, type WasmStep } from "./steps";

/** Groups up to this many elements that mix int32 / bool ops with float32 ones run as one typed (scalar) kernel. */
const SMALL_GROUP = 1024;

/** Elementwise ops that only forward (a broadcast of) one operand. */
const FORWARD = new Set(["BroadcastTo", "Fill", "Cast", "Identity"]);

export interface Lowered {
  analysis: Analysis;
  regions: Map<string, Region>;
  steps: WasmStep[];
}

export class Lowering {
  readonly regions = new Map<string, Region>();
  readonly steps: WasmStep[] = [];

  private groups = 0;

  /** `threads` > 1 splits large GEMM / Conv2D kernels into parts that run in parallel. */
  constructor(readonly W: WasmCodegen, readonly a: Analysis, readonly threads = 1) {}

  /** A kernel step, or the parts of a split one (./split.ts). */
  private kernel(op: string, k: NativeKernel, live: number[]): void {
    const base = { kind: "kernel" as const, op, requires: k.requires, assigns: k.assigns, live, reads: k.reads, writes: k.writes, onTrap: k.onTrap };
    const probe = k.make(() => 0);
    const parts = trainingParts(probe, this.threads) ?? partsFor(probe, this.threads);
    if (parts === 1) return void this.steps.push({ ...base, make: k.make });
    const group = this.groups++;
    const part = (whole: Kernel, j: number) => trainingPartOf(whole, parts, j) ?? partOf(whole, parts, j);
    for (let j = 0; j < parts; j++) this.steps.push({ ...base, group, make: (at) => part(k.make(at), j) });
  }

  spec(t: { name: string }): ConcreteSpec {
    return this.a.specs.get(t.name)!;
  }
  rootOf(name: string): string {
    return this.a.roots.get(name) ?? name;
  }
  variableIndex(op: Operation): number {
    return this.a.variables.indexOf(op);
  }
  /** Whether anything outside `inside` reads `t` (a consumer in the plan, or a fetch). */
  neededOutside(t: Tensor, inside: ReadonlySet<Operation>): boolean {
    if (this.a.fetched.has(t.name)) return true;
    return (this.a.consumers.get(t.name) ?? []).some((c) => !inside.has(c));
  }

  /** A constant region of derived data (packed weights), keyed by `key`. */
  packed(key: string, data: () => Float32Array): Region {
    return this.region(key, () => {
      const d = data();
      return { key, kind: "f32", dtype: "float32", size: d.length, pinned: true, data: d };
    });
  }

  private region(key: string, make: () => Region): Region {
    let r = this.regions.get(key);
    if (!r) {
      r = make();
      this.regions.set(key, r);
    }
    return r;
  }

  /** The constant behind `t` (through views), or undefined. */
  constantOf(t: Tensor): number | undefined {
    const s = this.a.storage.get(this.rootOf(t.name));
    return s?.kind === "const" ? s.index : undefined;
  }

  /** The region holding `t` (a constant gets one too, written at instantiation). */
  regionOf(t: Tensor): Region {
    const root = this.rootOf(t.name);
    const s = this.a.storage.get(root) ?? { kind: "buffer" as const };
    if (s.kind === "variable") {
      const v = this.a.variables[s.index];
      return this.variableRegion(v);
    }
    if (s.kind === "const") {
      const c = this.a.consts[s.index];
      return this.region(`c:${s.index}`, () => ({ key: `c:${s.index}`, kind: KIND_OF[c.dtype], dtype: c.dtype, size: c.size, pinned: true, data: c.data }));
    }
    const sp = this.spec({ name: root });
    const feed = s.kind === "feed" ? s.index : undefined;
    return this.region(`t:${root}`, () => ({ key: `t:${root}`, kind: KIND_OF[sp.dtype], dtype: sp.dtype, size: sizeOf(sp.shape), feed }));
  }

  variableRegion(v: Operation): Region {
    const sp = this.spec(v.outputs[0]);
    return this.region(`v:${v.name}`, () => ({ key: `v:${v.name}`, kind: KIND_OF[sp.dtype], dtype: sp.dtype, size: sizeOf(sp.shape), pinned: true }));
  }

  /** A host step's view of `t`: the constant itself, or its region. */
  operand(t: Tensor): Operand {
    const c = this.constantOf(t);
    return c !== undefined ? { constant: c } : { region: this.regionOf(t) };
  }
  private readKey(o: Operand): string[] {
    return "region" in o ? [o.region.key] : [];
  }

  /** A float32 input of a kernel: a scalar constant inline, else its region (broadcast from `view`). */
  kernelInput(b: ElementwiseBuilder, t: Tensor, view: readonly number[]): Ref {
    const c = this.constantOf(t);
    if (c !== undefined && this.a.consts[c].size === 1) return b.value(this.a.consts[c].data[0]);
    return b.tensor(this.regionOf(t).key, view);
  }

  lower(): Lowered {
    for (const step of hoistEpilogues(this.a)) this.lowerStep(step);
    return { analysis: this.a, regions: this.regions, steps: this.steps };
  }

  private lowerStep(step: Step): void {
    switch (step.kind) {
      case "check":
        this.steps.push({ kind: "check", op: step.op, variable: step.variable, live: step.live, reads: [], writes: [] });
        return;
      case "fetch": {
        const from = this.operand(step.tensor);
        const sp = this.spec(step.tensor);
        this.steps.push({ kind: "fetch", slot: step.slot, from, dtype: sp.dtype, shape: sp.shape, live: step.live, reads: this.readKey(from), writes: [] });
        return;
      }
      case "switch": {
        const pred = this.operand(step.op.inputs[1]);
        this.steps.push({ kind: "switch", op: step.op, base: this.a.opLive.get(step.op)!, atoms: step.atoms, pred, live: [], reads: this.readKey(pred), writes: [] });
        return;
      }
      case "copy": {
        const from = this.operand(step.op.inputs[0]);
        const to = this.regionOf(step.op.outputs[0]);
        this.steps.push({ kind: "copy", op: step.op, from, to, live: step.live, reads: this.readKey(from), writes: [to.key] });
        return;
      }
      case "merge": {
        const atom = this.a.atoms[step.live[0]];
        if (atom.kind !== "merge") throw new Error("merge step without a merge atom");
        const inputs = step.op.inputs.map((t, i) => ({ live: atom.inputs[i], from: this.operand(t) }));
        const [o, i] = step.op.outputs;
        const out = this.regionOf(o);
        const index = this.neededOutside(i, new Set()) ? this.regionOf(i) : null;
        this.steps.push({
          kind: "merge", op: step.op, atom: atom.id, controls: atom.controls, inputs, out, index, live: [],
          reads: inputs.flatMap((x) => this.readKey(x.from)), writes: [out.key, ...(index ? [index.key] : [])],
        });
        return;
      }
      case "fallback":
        this.fallback(step.op, step.live);
        return;
      case "ops":
        if (!step.elementwise) {
          this.single(step.ops[0], step.live);
          return;
        }
        this.group(step.ops, step.producer, step.live);
        return;
    }
  }

  /** The op's reference kernel on views of the memory. */
  fallback(op: Operation, live: number[]): void {
    const refs = getOpDef(op.type, op.name).refInputs ?? [];
    const inputs = op.inputs.map((t, i) => (refs.includes(i) ? null : this.operand(t)));
    const outputs = op.outputs.map((t) => {
      const s = this.a.storage.get(t.name);
      // An update's output stored as its variable is synced with the variable after the kernel.
      if (s?.kind === "variable" || s?.kind === "const" || this.a.roots.has(t.name)) return null;
      return this.neededOutside(t, new Set([op])) ? this.regionOf(t) : null;
    });
    const refVars = refs.map((i) => this.variableIndex(op.inputs[i].op));
    const writes = [...outputs.flatMap((r) => (r ? [r.key] : [])), ...refs.map((i) => this.variableRegion(op.inputs[i].op).key)];
    const reads = inputs.flatMap((o) => (o ? this.readKey(o) : []));
    this.steps.push({ kind: "fallback", op, inputs, outputs, refs: refVars, live, reads, writes });
  }

  private single(op: Operation, live: number[]): void {
    const k = nativeKernel(this, op);
    if (!k) return this.fallback(op, live);
    this.kernel(op.name, k, live);
  }

  /** Whether `op` has an elementwise wasm form (float32 operands and result). */
  elementwise(op: Operation): Fusable | null {
    const f = fusable(op, (t) => this.spec(t));
    if (!f || this.spec(op.outputs[0]).dtype !== "float32") return null;
    if (!f.operands.every((o) => this.spec(op.inputs[o.input]).dtype === "float32")) return null;
    if (FORWARD.has(op.type) || op.type === "ZerosLike" || op.type === "OnesLike" || op.type === "AddN") return f;
    return this.W.vectorOp(op.type, f.operands.length) ? f : null;
  }

  private group(ops: Operation[], producer: Operation | undefined, live: number[]): void {
    let rest = ops;
    if (producer) {
      const chain = this.epilogueChain(producer, ops);
      const k = producerKernel(this, producer, chain.steps, chain.out);
      if (k) {
        this.kernel(producer.name, k, live);
        rest = ops.slice(chain.steps.length);
      } else this.single(producer, live);
    }
    if (rest.length === 0) return;
    // A small group with int32 / bool ops (a loss's safe division, an accuracy): one typed kernel.
    const small = sizeOf(this.spec(rest[0].outputs[0]).shape) <= SMALL_GROUP;
    if (small && rest.some((op) => !this.elementwise(op)) && rest.every((op) => typedPlan(this, op))) return this.typed(rest, live);
    // Batches of one kind (SIMD, typed, host) in dependency order: the group's ops are pure, so
    // an op joins the earliest batch of its kind that follows everything it reads from the group.
    const kindOf = new Map(rest.map((op) => [op, this.elementwise(op) ? "vector" : typedPlan(this, op) ? "typed" : "host"] as const));
    const madeBy = new Map(rest.flatMap((op) => op.outputs.map((t) => [t.name, op] as const)));
    const done = new Set<Operation>();
    let remaining = rest;
    while (remaining.length > 0) {
      const kind = kindOf.get(remaining[0])!;
      const batch = new Set<Operation>();
      for (const op of remaining) {
        if (kindOf.get(op) !== kind || (kind === "host" && batch.size > 0)) continue;
        const ready = (t: Tensor) => {
          const p = madeBy.get(t.name);
          return !p || done.has(p) || batch.has(p);
        };
        if (op.inputs.every(ready)) batch.add(op);
      }
      const ops = [...batch];
      if (kind === "vector") this.run(ops, live);
      else if (kind === "typed") this.typed(ops, live);
      else this.fallback(ops[0], live);
      for (const op of ops) done.add(op);
      remaining = remaining.filter((op) => !batch.has(op));
    }
  }

  /** One typed (scalar, int32 / bool) kernel for ops of a group (./native-typed.ts). */
  private typed(ops: Operation[], live: number[]): void {
    const k = typedKernel(this, ops);
    if (k) this.kernel(ops[ops.length - 1].name, k, live);
  }

  /** The elementwise ops after `producer` that its kernel can apply before storing. */
  private epilogueChain(producer: Operation, ops: Operation[]): { steps: EpilogueSpec[]; out: Tensor } {
    const steps: EpilogueSpec[] = [];
    let cur = producer.outputs[0];
    const outShape = this.spec(cur).shape;
    for (const op of ops) {
      const f = this.elementwise(op);
      if (!f || FORWARD.has(op.type) || op.type === "ZerosLike" || op.type === "OnesLike") break;
      if (this.neededOutside(cur, new Set([op])) || !(this.a.consumers.get(cur.name) ?? []).includes(op)) break;
      const mine = f.operands.filter((o) => op.inputs[o.input] === cur);
      const others = f.operands.filter((o) => op.inputs[o.input] !== cur);
      if (mine.length !== 1 || others.length > 1) break;
      const type = op.type === "AddN" ? "AddV2" : op.type;
      if (!this.W.vectorOp(type, others.length + 1)) break;
      const step: EpilogueSpec = { type };
      if (others.length === 1) {
        const o = others[0];
        const operand = this.epilogueOperand(op.inputs[o.input], o.view, outShape);
        if (!operand) break;
        step.operand = operand;
        step.operandFirst = f.operands.indexOf(o) < f.operands.indexOf(mine[0]);
      }
      steps.push(step);
      cur = op.outputs[0];
    }
    return { steps, out: cur };
  }

  private epilogueOperand(t: Tensor, view: readonly number[], out: readonly number[]): EpilogueSpec["operand"] | null {
    const c = this.constantOf(t);
    if (c !== undefined && this.a.consts[c].size === 1) return { kind: "scalar", value: this.a.consts[c].data[0] };
    const n = out[out.length - 1];
    const trimmed = [...view];
    while (trimmed.length > 1 && trimmed[0] === 1) trimmed.shift();
    if (out.length > 0 && trimmed.length === 1 && trimmed[0] === n && view.length <= out.length) return { kind: "channel", key: this.regionOf(t).key };
    if (view.join() === out.join()) return { kind: "tensor", key: this.regionOf(t).key };
    return null;
  }

  /** One elementwise kernel for consecutive supported ops of a group. */
  private run(ops: Operation[], live: number[]): void {
    if (ops.length === 0) return;
    const inside = new Set(ops);
    const b = new ElementwiseBuilder(this.spec(ops[0].outputs[0]).shape, ops[ops.length - 1].name);
    const values = new Map<string, Ref>();
    for (const op of ops) {
      const f = this.elementwise(op)!;
      const args = f.operands.map((o) => {
        const t = op.inputs[o.input];
        return values.get(t.name) ?? this.kernelInput(b, t, o.view);
      });
      let result: Ref;
      if (op.type === "ZerosLike" || op.type === "OnesLike") result = b.value(op.type === "ZerosLike" ? 0 : 1);
      else if (FORWARD.has(op.type)) result = args[0];
      else if (op.type === "AddN") result = args.slice(1).reduce((sum, x) => b.op("AddV2", [sum, x]), args[0]);
      else result = b.op(op.type, args);
      values.set(op.outputs[0].name, result);
      if (this.neededOutside(op.outputs[0], inside)) b.store(result, this.regionOf(op.outputs[0]).key);
    }
    if (b.stored === 0) return;
    this.steps.push({ kind: "kernel", op: b.name, make: b.make(), requires: [], assigns: [], live, reads: b.reads(), writes: b.writes() });
  }
}

export function lower(W: WasmCodegen, a: Analysis, threads = 1): Lowered {
  return new Lowering(W, a, threads).lower();
}

export type { EpilogueStep };
