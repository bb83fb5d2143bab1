/** Variables and their assigns: VariableV2, Assign, AssignAdd, AssignSub. */
import type { DType } from "../dtype";
import { failedPrecondition, invalidArgument } from "../diagnostics";
import type { Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp, type Attrs, type KernelContext, type TensorSpec } from "../registry";
import { formatShape, isCompatible, type MaybeShape } from "../shape";
import { apply1, type TensorLike } from "./build";

export function uninitialized(name: string, reader: string): Error {
  return failedPrecondition({
    code: "uninitialized-variable",
    node: reader,
    message: `attempting to use uninitialized value \`${name}\``,
    expected: "an initialized variable",
    received: "a variable that was never assigned in this session",
    fix: "run tf.globalVariablesInitializer() (or the variable's initializer) first",
  });
}

registerOp({
  type: "VariableV2",
  inputs: 0,
  stateful: true,
  attrs: {
    shape: { kind: "shape" },
    dtype: { kind: "type" },
    container: { kind: "string", default: "" },
    shared_name: { kind: "string", default: "" },
  },
  infer: (_, attrs) => [{ dtype: attrs.dtype as DType, shape: attrs.shape as MaybeShape }],
  kernel: (_, __, ctx) => {
    const value = ctx.variable(ctx.node).get();
    if (!value) throw uninitialized(ctx.node, ctx.node);
    return [value];
  },
});

function assignInfer(inputs: TensorSpec[], attrs: Attrs, node: string): TensorSpec[] {
  const [ref, value] = inputs;
  if (ref.dtype !== value.dtype)
    throw invalidArgument({
      code: "dtype-mismatch",
      node,
      message: "the assigned value's dtype differs from the variable's",
      expected: ref.dtype,
      received: value.dtype,
      fix: "cast the value to the variable's dtype",
    });
  const validate = attrs.validate_shape !== false;
  if (validate && ref.shape && value.shape && ref.shape.every((d) => d !== null) && value.shape.every((d) => d !== null) &&
      !isCompatible(value.shape as number[], ref.shape))
    throw invalidArgument({
      code: "shape-mismatch",
      node,
      message: "the assigned value's shape differs from the variable's",
      expected: formatShape(ref.shape),
      received: formatShape(value.shape),
      fix: "assign a value of the variable's shape (or pass validateShape: false)",
    });
  return [{ dtype: ref.dtype, shape: validate ? ref.shape : value.shape }];
}

function checkRuntimeShape(ctx: KernelContext, current: NDArray | undefined, value: NDArray, declared: MaybeShape | undefined): void {
  const expected = current?.shape ?? declared;
  if (expected && !isCompatible(value.shape, expected))
    throw invalidArgument({
      code: "shape-mismatch",
      node: ctx.node,
      message: `cannot assign a value of shape ${formatShape(value.shape)} to variable \`${ctx.ref(0).name}\``,
      expected: formatShape(expected),
      received: formatShape(value.shape),
      fix: "assign a value of the variable's shape",
    });
}

registerOp({
  type: "Assign",
  inputs: 2,
  refInputs: [0],
  stateful: true,
  attrs: { validate_shape: { kind: "bool", default: true }, use_locking: { kind: "bool", default: true } },
  infer: assignInfer,
  kernel: ([, value], attrs, ctx) => {
    const slot = ctx.ref(0);
    if (attrs.validate_shape !== false) checkRuntimeShape(ctx, slot.get(), value, undefined);
    const stored = new NDArray(value.dtype, [...value.shape], value.data.slice());
    slot.set(stored);
    return [stored];
  },
});

function accumulate(sign: 1 | -1) {
  return ([, value]: NDArray[], _: Attrs, ctx: KernelContext): NDArray[] => {
    const slot = ctx.ref(0);
    const current = slot.get();
    if (!current) throw uninitialized(slot.name, ctx.node);
    checkRuntimeShape(ctx, current, value, undefined);
    const out = ctx.alloc(current.dtype, current.size);
    for (let i = 0; i < out.length; i++) out[i] = current.data[i] + sign * value.data[i];
    const stored = new NDArray(current.dtype, [...current.shape], out);
    slot.set(stored);
    return [stored];
  };
}

registerOp({
  type: "AssignAdd",
  inputs: 2,
  refInputs: [0],
  stateful: true,
  attrs: { use_locking: { kind: "bool", default: false } },
  infer: (inputs, attrs, node) => assignInfer(inputs, { ...attrs, validate_shape: true }, node),
  kernel: accumulate(1),
});

registerOp({
  type: "AssignSub",
  inputs: 2,
  refInputs: [0],
  stateful: true,
  attrs: { use_locking: { kind: "bool", default: false } },
  infer: (inputs, attrs, node) => assignInfer(inputs, { ...attrs, validate_shape: true }, node),
  kernel: accumulate(-1),
});

/** `tf.assign(ref, value, { validateShape, name })`. */
export function assign(ref: Tensor, value: TensorLike, options: { validateShape?: boolean; useLocking?: boolean; name?: string } = {}): Tensor {
  requireVariable(ref, "Assign");
  return apply1("Assign", [ref, value], { validate_shape: options.validateShape ?? true, use_locking: options.useLocking ?? true }, options.name ?? "Assign");
}

export function assignAdd(ref: Tensor, value: TensorLike, options: { name?: string } = {}): Tensor {
  requireVariable(ref, "AssignAdd");
  return apply1("AssignAdd", [ref, value], {}, options.name ?? "AssignAdd");
}

export function assignSub(ref: Tensor, value: TensorLike, options: { name?: string } = {}): Tensor {
  requireVariable(ref, "AssignSub");
  return apply1("AssignSub", [ref, value], {}, options.name ?? "AssignSub");
}

function requireVariable(ref: Tensor, what: string): void {
  if (ref.op.type !== "VariableV2")
    throw invalidArgument({
      code: "not-a-variable",
      node: ref.op.name,
      message: `${what} needs a variable as its first argument`,
      expected: "a tf.Variable (VariableV2)",
      received: `${ref.op.type} \`${ref.op.name}\``,
      fix: "create the target with tf.getVariable or tf.Variable",
    });
}
