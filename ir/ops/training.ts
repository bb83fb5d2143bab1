/**
 * Training ops, as TF's training_ops: ApplyGradientDescent, ApplyMomentum, ApplyAdam. Each
 * updates its variable (and slot variables) in place through ref inputs and outputs the new
 * value of the variable. The kernels follow TF's formulas (training_ops.cc):
 *
 *   ApplyGradientDescent  var -= alpha * delta
 *   ApplyMomentum         accum = accum * momentum + grad
 *                         var -= lr * accum                         (use_nesterov: false)
 *                         var -= lr * grad + lr * momentum * accum  (use_nesterov: true)
 *   ApplyAdam             lr_t = lr * sqrt(1 - beta2_power) / (1 - beta1_power)
 *                         m += (grad - m) * (1 - beta1);  v += (grad^2 - v) * (1 - beta2)
 *                         var -= lr_t * m / (sqrt(v) + epsilon)
 *                         (use_nesterov: var -= lr_t * (grad * (1 - beta1) + beta1 * m) / (sqrt(v) + epsilon))
 *
 * Inputs that are hyper-parameters (lr, momentum, beta1_power ...) are scalars by value.
 */
import { invalidArgument } from "../diagnostics";
import type { Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp, type KernelContext, type TensorSpec, type VariableSlot } from "../registry";
import { formatShape, type MaybeShape } from "../shape";
import { apply1, type TensorLike } from "./build";
import { uninitialized } from "./state";

const lockingAttrs = { use_locking: { kind: "bool" as const, default: false } };

interface InputRole {
  name: string;
  /** "var": the variable's shape (ref slots and the gradient); "scalar": a scalar hyper-parameter. */
  kind: "var" | "scalar";
}

function sameShape(a: MaybeShape, b: MaybeShape): boolean {
  if (a === null || b === null) return true;
  return a.length === b.length && a.every((d, i) => d === null || b[i] === null || d === b[i]);
}

/** Checks dtypes (all float32) and shapes (slots and grad like var, hyper-parameters scalar). */
function trainingInfer(type: string, roles: readonly InputRole[]) {
  return (inputs: TensorSpec[], _: unknown, node: string): TensorSpec[] => {
    const v = inputs[0];
    inputs.forEach((spec, i) => {
      const role = roles[i];
      if (spec.dtype !== "float32")
        throw invalidArgument({
          code: "bad-dtype",
          node,
          message: `input \`${role.name}\` of ${type} must be float32`,
          expected: "float32",
          received: spec.dtype,
          fix: "optimizers update float32 variables only; cast the gradient or create the variable as float32",
        });
      if (role.kind === "var" && !sameShape(spec.shape, v.shape))
        throw invalidArgument({
          code: "shape-mismatch",
          node,
          message: `input \`${role.name}\` of ${type} must have the variable's shape`,
          expected: formatShape(v.shape),
          received: formatShape(spec.shape),
          fix: "pass a gradient (and slots) of the variable's shape",
        });
      if (role.kind === "scalar" && spec.shape !== null && spec.shape.length !== 0)
        throw invalidArgument({
          code: "not-a-scalar",
          node,
          message: `input \`${role.name}\` of ${type} must be a scalar`,
          expected: "shape []",
          received: formatShape(spec.shape),
          fix: `pass a scalar ${role.name}`,
        });
    });
    return [{ dtype: v.dtype, shape: v.shape }];
  };
}

/** The current value of ref input `index`, checked against the gradient's run-time shape. */
function current(ctx: KernelContext, index: number, grad: NDArray): { slot: VariableSlot; value: NDArray } {
  const slot = ctx.ref(index);
  const value = slot.get();
  if (!value) throw uninitialized(slot.name, ctx.node);
  if (value.size !== grad.size || value.shape.length !== grad.shape.length || value.shape.some((d, i) => d !== grad.shape[i]))
    throw invalidArgument({
      code: "shape-mismatch",
      node: ctx.node,
      message: `the gradient's shape differs from variable \`${slot.name}\`'s`,
      expected: formatShape(value.shape),
      received: formatShape(grad.shape),
      fix: "pass a gradient of the variable's shape",
    });
  return { slot, value };
}

function store(ctx: KernelContext, slot: VariableSlot, like: NDArray, data: ArrayLike<number>): NDArray {
  const out = ctx.alloc(like.dtype, like.size);
  for (let i = 0; i < out.length; i++) out[i] = data[i];
  const stored = new NDArray(like.dtype, [...like.shape], out);
  slot.set(stored);
  return stored;
}

registerOp({
  type: "ApplyGradientDescent",
  inputs: 3,
  refInputs: [0],
  stateful: true,
  attrs: lockingAttrs,
  infer: trainingInfer("ApplyGradientDescent", [
    { name: "var", kind: "var" },
    { name: "alpha", kind: "scalar" },
    { name: "delta", kind: "var" },
  ]),
  kernel: ([, alpha, delta], _, ctx) => {
    const { slot, value } = current(ctx, 0, delta);
    const a = alpha.data[0];
    const next = new Float64Array(value.size);
    for (let i = 0; i < next.length; i++) next[i] = value.data[i] - a * delta.data[i];
    return [store(ctx, slot, value, next)];
  },
});

registerOp({
  type: "ApplyMomentum",
  inputs: 5,
  refInputs: [0, 1],
  stateful: true,
  attrs: { ...lockingAttrs, use_nesterov: { kind: "bool", default: false } },
  infer: trainingInfer("ApplyMomentum", [
    { name: "var", kind: "var" },
    { name: "accum", kind: "var" },
    { name: "lr", kind: "scalar" },
    { name: "grad", kind: "var" },
    { name: "momentum", kind: "scalar" },
  ]),
  kernel: ([, , lrArray, grad, momentumArray], attrs, ctx) => {
    const v = current(ctx, 0, grad);
    const a = current(ctx, 1, grad);
    const lr = lrArray.data[0];
    const momentum = momentumArray.data[0];
    const accum = new Float64Array(grad.size);
    const next = new Float64Array(grad.size);
    for (let i = 0; i < grad.size; i++) {
      const g = grad.data[i];
      accum[i] = a.value.data[i] * momentum + g;
      next[i] = attrs.use_nesterov ? v.value.data[i] - (g * lr + accum[i] * momentum * lr) : v.value.data[i] - accum[i] * lr;
    }
    store(ctx, a.slot, a.value, accum);
    return [store(ctx, v.slot, v.value, next)];
  },
});

registerOp({
  type: "ApplyAdam",
  inputs: 10,
  refInputs: [0, 1, 2],
  stateful: true,
  attrs: { ...lockingAttrs, use_nesterov: { kind: "bool", default: false } },
  infer: trainingInfer("ApplyAdam", [
    { name: "var", kind: "var" },
    { name: "m", kind: "var" },
    { name: "v", kind: "var" },
    { name: "beta1_power", kind: "scalar" },
    { name: "beta2_power", kind: "scalar" },
    { name: "lr", kind: "scalar" },
    { name: "beta1", kind: "scalar" },
    { name: "beta2", kind: "scalar" },
    { name: "epsilon", kind: "scalar" },
    { name: "grad", kind: "var" },
  ]),
  kernel: (inputs, attrs, ctx) => {
    const grad = inputs[9];
    const [beta1Power, beta2Power, lr, beta1, beta2, epsilon] = inputs.slice(3, 9).map((a) => a.data[0]);
    const variable = current(ctx, 0, grad);
    const m = current(ctx, 1, grad);
    const v = current(ctx, 2, grad);
    const alpha = (lr * Math.sqrt(1 - beta2Power)) / (1 - beta1Power);
    const mNext = new Float64Array(grad.size);
    const vNext = new Float64Array(grad.size);
    const next = new Float64Array(grad.size);
    for (let i = 0; i < grad.size; i++) {
      const g = grad.data[i];
      mNext[i] = m.value.data[i] + (g - m.value.data[i]) * (1 - beta1);
      vNext[i] = v.value.data[i] + (g * g - v.value.data[i]) * (1 - beta2);
      const direction = attrs.use_nesterov ? g * (1 - beta1) + beta1 * mNext[i] : mNext[i];
      next[i] = variable.value.data[i] - (direction * alpha) / (Math.sqrt(vNext[i]) + epsilon);
    }
    store(ctx, m.slot, m.value, mNext);
    store(ctx, v.slot, v.value, vNext);
    return [store(ctx, variable.slot, variable.value, next)];
  },
});

export interface TrainingOpOptions {
  useLocking?: boolean;
  name?: string;
}

/** `training_ops.apply_gradient_descent(var, alpha, delta)`: var -= alpha * delta. */
export function applyGradientDescent(variable: Tensor, alpha: TensorLike, delta: TensorLike, options: TrainingOpOptions = {}): Tensor {
  return apply1("ApplyGradientDescent", [variable, alpha, delta], { use_locking: options.useLocking ?? false }, options.name ?? "ApplyGradientDescent");
}

/** `training_ops.apply_momentum(var, accum, lr, grad, momentum, { useNesterov })`. */
export function applyMomentum(
  variable: Tensor,
  accum: Tensor,
  lr: TensorLike,
  grad: TensorLike,
  momentum: TensorLike,
  options: TrainingOpOptions & { useNesterov?: boolean } = {},
): Tensor {
  return apply1(
    "ApplyMomentum",
    [variable, accum, lr, grad, momentum],
    { use_locking: options.useLocking ?? false, use_nesterov: options.useNesterov ?? false },
    options.name ?? "ApplyMomentum",
  );
}

/** `training_ops.apply_adam(var, m, v, beta1_power, beta2_power, lr, beta1, beta2, epsilon, grad)`. */
export function applyAdam(
  variable: Tensor,
  m: Tensor,
  v: Tensor,
  beta1Power: TensorLike,
  beta2Power: TensorLike,
  lr: TensorLike,
  beta1: TensorLike,
  beta2: TensorLike,
  epsilon: TensorLike,
  grad: TensorLike,
  options: TrainingOpOptions & { useNesterov?: boolean } = {},
): Tensor {
  return apply1(
    "ApplyAdam",
    [variable, m, v, beta1Power, beta2Power, lr, beta1, beta2, epsilon, grad],
    { use_locking: options.useLocking ?? false, use_nesterov: options.useNesterov ?? false },
    options.name ?? "ApplyAdam",
  );
}
