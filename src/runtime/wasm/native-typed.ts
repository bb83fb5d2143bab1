/**
 * The int32 / bool side of a wasm program (codegen/wasm/typed-elementwise.ts, arg-reduce.ts):
 *
 *   elementwise ops the SIMD kernels do not have — comparisons, LogicalAnd / Or, SelectV2, Cast,
 *       int32 arithmetic — as scalar kernels built by `TypedBuilder` (lower.ts gives a small group
 *       that mixes them with float32 ops one typed kernel: a loss's safe division, an accuracy);
 *   ArgMax / ArgMin over one axis → arg-reduce;
 *   Assign of int32 / bool variables, AssignAdd / AssignSub of int32 ones (a global step) → a
 *       typed kernel writing the variable's region.
 */
import type { DType } from "../../../ir/dtype";
import { InternalError } from "../../../ir/diagnostics";
import type { Operation } from "../../../ir/graph";
import { normalizeAxis, sizeOf } from "../../../ir/shape";
import { fusable, type Operand } from "../../../codegen/js/fusable";
import type { ScalarType, TypedElementwiseKernel, TypedInput } from "../../../codegen/wasm/typed-elementwise";
import { typedResult } from "../../../codegen/wasm/typed-elementwise";
import type { Lowering } from "./lower";
import type { NativeKernel } from "./native";
import { GroupBuilder } from "./elementwise";

export type TypedRef = { input: number } | { op: number };

export const SCALAR: Record<DType, ScalarType> = { float32: "f32", int32: "i32", bool: "u8" };

type Input = { key: string; shape: readonly number[]; type: ScalarType } | { value: number; type: ScalarType };

/** One typed elementwise kernel, built symbolically as ./elementwise.ts builds the SIMD ones. */
export class TypedBuilder extends GroupBuilder<Input, { type: string; args: TypedRef[]; to: ScalarType }> {
  tensor(key: string, view: readonly number[], type: ScalarType): TypedRef {
    return this.input(`${key}|${view.join(",")}`, { key, shape: [...view], type });
  }
  value(v: number, type: ScalarType): TypedRef {
    return this.input(`=${type}:${Object.is(v, -0) ? "-0" : String(v)}`, { value: v, type });
  }
  typeOf(r: TypedRef): ScalarType {
    return "input" in r ? this.inputs[r.input].type : this.ops[r.op].to;
  }
  /** The op over `args`, or null when the kernel has none. */
  op(type: string, args: TypedRef[], to?: ScalarType): TypedRef | null {
    const result = typedResult(type, args.map((a) => this.typeOf(a)), to);
    if (!result || (to && result !== to)) return null;
    return this.push({ type, args, to: result });
  }
  make(): (at: (key: string) => number) => TypedElementwiseKernel {
    const index = this.indexer();
    const { shape, name } = this;
    const inputs = [...this.inputs];
    const ops = this.ops.map((o) => ({ type: o.type, args: o.args.map(index), to: o.to }));
    const stores = [...this.stores];
    return (at) => ({
      kind: "typed-elementwise",
      op: name,
      shape,
      inputs: inputs.map((x): TypedInput => ("key" in x ? { offset: at(x.key), shape: x.shape, type: x.type } : { value: x.value, type: x.type })),
      ops,
      outputs: stores.map((s) => ({ value: index(s.ref), offset: at(s.key) })),
    });
  }
}

/** Ops that only forward (a broadcast of) their one operand. */
const FORWARD = new Set(["BroadcastTo", "Fill", "Identity", "Snapshot"]);

export interface TypedPlan {
  operands: Operand[];
  /** The op's value from its operands' refs; null when the kernel cannot compute it. */
  emit(b: TypedBuilder, args: TypedRef[]): TypedRef | null;
}

/** How a fusable op runs in a typed kernel, or null when it cannot (its dtypes have no typed form). */
export function typedPlan(L: Lowering, op: Operation): TypedPlan | null {
  const f = fusable(op, (t) => L.spec(t));
  if (!f) return null;
  const out = SCALAR[L.spec(op.outputs[0]).dtype];
  const types = f.operands.map((o) => SCALAR[L.spec(op.inputs[o.input]).dtype]);
  const type = op.type === "Add" || op.type === "BiasAdd" ? "AddV2" : op.type;
  let emit: TypedPlan["emit"];
  if (FORWARD.has(type)) {
    if (types[0] !== out) return null;
    emit = (_, [x]) => x;
  } else if (type === "ZerosLike" || type === "OnesLike") emit = (b) => b.value(type === "ZerosLike" ? 0 : 1, out);
  else if (type === "AddN") {
    if (!types.every((t) => t === out) || typedResult("AddV2", [out, out]) !== out) return null;
    emit = (b, args) => args.slice(1).reduce<TypedRef | null>((sum, x) => (sum ? b.op("AddV2", [sum, x], out) : null), args[0]);
  } else {
    if (typedResult(type, types, out) !== out) return null;
    emit = (b, args) => b.op(type, args, out);
  }
  return { operands: f.operands, emit };
}

/** A typed kernel input for tensor `t` seen through `view`: a scalar constant inline, else its region. */
function typedInput(L: Lowering, b: TypedBuilder, op: Operation, o: Operand): TypedRef {
  const t = op.inputs[o.input];
  const type = SCALAR[L.spec(t).dtype];
  const c = L.constantOf(t);
  if (c !== undefined && L.a.consts[c].size === 1) return b.value(L.a.consts[c].data[0], type);
  return b.tensor(L.regionOf(t).key, o.view, type);
}

/** One typed kernel for `ops` (every one with a typed plan), storing the values read outside them; null when nothing is read outside. */
export function typedKernel(L: Lowering, ops: readonly Operation[]): NativeKernel | null {
  if (ops.length === 0) return null;
  const inside = new Set(ops);
  const b = new TypedBuilder(L.spec(ops[0].outputs[0]).shape, ops[ops.length - 1].name);
  const values = new Map<string, TypedRef>();
  for (const op of ops) {
    const plan = typedPlan(L, op)!;
    const args = plan.operands.map((o) => values.get(op.inputs[o.input].name) ?? typedInput(L, b, op, o));
    const result = plan.emit(b, args);
    if (!result) throw new InternalError({ code: "wasm-typed-op", node: op.name, message: `the typed kernel cannot compute ${op.type} although it planned to` });
    values.set(op.outputs[0].name, result);
    if (L.neededOutside(op.outputs[0], inside)) b.store(result, L.regionOf(op.outputs[0]).key);
  }
  if (b.stored === 0) return null;
  return { make: b.make(), reads: b.reads(), writes: b.writes(), requires: [], assigns: [] };
}

/** ArgMax / ArgMin over a constant axis of a float32 or int32 tensor; null when not covered. */
export function argReduceKernel(L: Lowering, op: Operation): NativeKernel | null {
  const [x, dimension] = op.inputs;
  const xs = L.spec(x);
  const axisValue = L.spec(dimension).value;
  if ((xs.dtype !== "float32" && xs.dtype !== "int32") || !axisValue || xs.shape.length === 0 || L.spec(op.outputs[0]).dtype !== "int32") return null;
  const axis = normalizeAxis(axisValue.data[0], xs.shape.length, op.name);
  const outer = sizeOf(xs.shape.slice(0, axis));
  const reduce = xs.shape[axis];
  const inner = sizeOf(xs.shape.slice(axis + 1));
  // An empty axis with a non-empty result is the reference kernel's error.
  if (reduce === 0 && outer * inner > 0) return null;
  const [xKey, yKey] = [L.regionOf(x).key, L.regionOf(op.outputs[0]).key];
  return {
    reads: [xKey], writes: [yKey], requires: [], assigns: [],
    make: (at) => ({ kind: "arg-reduce", op: op.name, type: op.type as "ArgMax", input: SCALAR[xs.dtype] as "f32", outer, reduce, inner, x: at(xKey), y: at(yKey) }),
  };
}

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

/** Assign (int32, bool) and AssignAdd / AssignSub (int32) of a variable, as a typed kernel over its region; null otherwise. */
export function typedUpdate(L: Lowering, op: Operation): NativeKernel | null {
  if (op.type !== "Assign" && op.type !== "AssignAdd" && op.type !== "AssignSub") return null;
  const [ref, value] = op.inputs;
  const variable = ref.op;
  const dtype = L.spec(ref).dtype;
  if (variable.type !== "VariableV2" || dtype === "float32" || L.spec(value).dtype !== dtype) return null;
  if (op.type !== "Assign" && dtype !== "int32") return null;
  const shape = L.spec(ref).shape;
  if (!same(L.spec(value).shape, shape) || !same(L.spec(op.outputs[0]).shape, shape)) return null;
  const type = SCALAR[dtype];
  const b = new TypedBuilder(shape, op.name);
  const key = L.variableRegion(variable).key;
  const c = L.constantOf(value);
  const v = c !== undefined && L.a.consts[c].size === 1 ? b.value(L.a.consts[c].data[0], type) : b.tensor(L.regionOf(value).key, shape, type);
  const result = op.type === "Assign" ? v : b.op(op.type === "AssignAdd" ? "AddV2" : "Sub", [b.tensor(key, shape, type), v], type);
  if (!result) return null;
  b.store(result, key);
  const out = op.outputs[0];
  if (L.a.storage.get(out.name)?.kind === "buffer" && L.neededOutside(out, new Set([op]))) b.store(result, L.regionOf(out).key);
  const index = L.variableIndex(variable);
  return { make: b.make(), reads: b.reads(), writes: b.writes(), requires: op.type === "Assign" ? [] : [index], assigns: [index] };
}
