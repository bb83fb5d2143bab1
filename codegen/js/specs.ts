/**
 * Concrete shapes for one run plan: every tensor the plan touches gets a fully known dtype and
 * shape, derived op by op from the fed shapes with each op's own `infer`. Small values that
 * depend only on constants and shapes (Shape, the shape arithmetic of gradient graphs, axes)
 * are computed here with the reference kernels, so that shape-taking inputs are constants of
 * the compiled program. A shape that stays unknown (data-dependent) raises `Unresolved`.
 */
import { allocate, type DType } from "../../ir/dtype";
import { InternalError } from "../../ir/diagnostics";
import type { Operation, Tensor } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import { getOpDef, type KernelContext, type TensorSpec } from "../../ir/registry";
import { formatShape, isFullyDefined, sizeOf } from "../../ir/shape";

export interface ConcreteSpec {
  dtype: DType;
  shape: number[];
  /** Known at compile time (Const, or folded from constants and shapes). */
  value?: NDArray;
}

/** A shape the compiler cannot make concrete; the backend then runs the plan on the interpreter. */
export class Unresolved extends Error {
  constructor(readonly node: string, reason: string) {
    super(`${node}: ${reason}`);
  }
}

/** Largest folded output, in elements: shape arithmetic, axes, small constants. */
const FOLD_LIMIT = 4096;

/** Ops never evaluated at compile time (their values are run-time state or control). */
const NEVER_FOLD = new Set(["Placeholder", "PlaceholderWithDefault", "VariableV2", "Switch", "Merge", "NoOp"]);

export interface SpecInputs {
  order: readonly Operation[];
  /** Fed tensors by name, with the fed value's dtype and shape. */
  fed: ReadonlyMap<string, { dtype: DType; shape: number[] }>;
  /** The current (or declared) shape of each variable, by VariableV2 op name. */
  variableShape(op: Operation): number[] | undefined;
}

export function concreteSpecs(input: SpecInputs): Map<string, ConcreteSpec> {
  const specs = new Map<string, ConcreteSpec>();
  for (const [name, s] of input.fed) specs.set(name, { dtype: s.dtype, shape: s.shape });
  const variableSpec = (op: Operation): ConcreteSpec => {
    const shape = input.variableShape(op);
    if (!shape) throw new Unresolved(op.name, "the variable's shape is not fully defined");
    return { dtype: op.outputs[0].dtype, shape };
  };
  const specOf = (t: Tensor, consumer: Operation, ref: boolean): ConcreteSpec => {
    const s = specs.get(t.name);
    if (s) return s;
    if (t.op.type === "VariableV2") {
      // A ref input's variable need not be in the plan (an assign does not read it).
      const v = variableSpec(t.op);
      specs.set(t.name, v);
      return v;
    }
    if (ref) throw new Unresolved(consumer.name, `ref input \`${t.name}\` is not a variable`);
    throw new InternalError({ code: "unplanned-input", node: consumer.name, message: `input \`${t.name}\` is not produced by the plan` });
  };
  for (const op of input.order) {
    const def = getOpDef(op.type, op.name);
    const refs = def.refInputs ?? [];
    const inputs = op.inputs.map((t, i) => specOf(t, op, refs.includes(i)));
    let outputs: ConcreteSpec[];
    if (op.type === "VariableV2") outputs = [variableSpec(op)];
    else if (op.type === "Const") {
      const v = op.attrs.value as NDArray;
      outputs = [{ dtype: v.dtype, shape: [...v.shape], value: v }];
    } else if (op.type === "Shape") {
      const s = inputs[0].shape;
      outputs = [valueSpec(new NDArray("int32", [s.length], Int32Array.from(s)))];
    } else if (canFold(op, inputs)) outputs = fold(op, inputs);
    else outputs = inferConcrete(op, inputs);
    op.outputs.forEach((t, i) => specs.set(t.name, outputs[i]));
  }
  return specs;
}

function valueSpec(value: NDArray): ConcreteSpec {
  return { dtype: value.dtype, shape: [...value.shape], value };
}

function canFold(op: Operation, inputs: ConcreteSpec[]): boolean {
  const def = getOpDef(op.type, op.name);
  if (def.stateful || def.refInputs?.length || NEVER_FOLD.has(op.type)) return false;
  if (!inputs.every((s) => s.value !== undefined)) return false;
  // Fold only when the outputs are small: their static shapes bound them.
  const statics = def.infer(
    inputs.map((s) => ({ dtype: s.dtype, shape: s.shape, value: s.value })),
    op.attrs,
    op.name,
  );
  return statics.every((s) => isFullyDefined(s.shape) && sizeOf(s.shape) <= FOLD_LIMIT);
}

function fold(op: Operation, inputs: ConcreteSpec[]): ConcreteSpec[] {
  const def = getOpDef(op.type, op.name);
  const ctx: KernelContext = {
    node: op.name,
    highPrecision: false,
    alloc: (dtype, size) => allocate(dtype, size),
    ref: () => {
      throw new Unresolved(op.name, "a folded op has no variables");
    },
    variable: () => {
      throw new Unresolved(op.name, "a folded op has no variables");
    },
    state: new Map(),
  };
  return def.kernel(inputs.map((s) => s.value!), op.attrs, ctx).map(valueSpec);
}

const ASSIGNS = new Set(["Assign", "AssignAdd", "AssignSub"]);

function inferConcrete(op: Operation, inputs: ConcreteSpec[]): ConcreteSpec[] {
  const def = getOpDef(op.type, op.name);
  const specs: TensorSpec[] = def.infer(
    inputs.map((s) => ({ dtype: s.dtype, shape: s.shape, value: s.value })),
    op.attrs,
    op.name,
  );
  return specs.map((s, i) => {
    let shape = s.shape;
    // An assign without shape validation takes the value's shape.
    if (!isFullyDefined(shape) && ASSIGNS.has(op.type) && i === 0) shape = inputs[1].shape;
    if (!isFullyDefined(shape)) throw new Unresolved(op.name, `output ${i} has shape ${formatShape(shape)} for the fed shapes`);
    return { dtype: s.dtype, shape: [...shape] };
  });
}
