/**
 * Control ops: NoOp, Identity, StopGradient, and TF1's Switch/Merge, which `tf.cond` is built
 * from. A Switch forwards its data to output 1 when the predicate is true and to output 0
 * otherwise; the other output is *dead*, and so is every op downstream of a dead tensor or a
 * dead control input, so an untaken branch runs nothing. Merge forwards its one live input.
 */
import { invalidArgument } from "../diagnostics";
import { getDefaultGraph, Operation, type Tensor } from "../graph";
import { ndarray } from "../ndarray";
import { registerOp } from "../registry";
import { apply, apply1, graphOf, type TensorLike } from "./build";

registerOp({
  type: "NoOp",
  inputs: 0,
  infer: () => [],
  kernel: () => [],
});

registerOp({
  type: "Identity",
  inputs: 1,
  infer: (inputs) => [inputs[0]],
  kernel: (inputs) => [inputs[0]],
  gradient: (_, [dy]) => [dy],
});

registerOp({
  type: "StopGradient",
  inputs: 1,
  infer: (inputs) => [inputs[0]],
  kernel: (inputs) => [inputs[0]],
  gradient: () => [null],
});

registerOp({
  type: "Switch",
  inputs: 2,
  infer: (inputs, _, node) => {
    const pred = inputs[1];
    if (pred.dtype !== "bool" || (pred.shape !== null && pred.shape.length !== 0))
      throw invalidArgument({
        code: "bad-predicate",
        node,
        message: "the predicate of a conditional must be a scalar bool",
        expected: "bool []",
        received: `${pred.dtype} ${JSON.stringify(pred.shape)}`,
        fix: "reduce the predicate to one bool value (tf.reshape(p, []) or tf.equal(...))",
      });
    return [inputs[0], inputs[0]];
  },
  // The executor handles Switch's deadness; this kernel only forwards the value.
  kernel: (inputs) => [inputs[0], inputs[0]],
});

registerOp({
  type: "Merge",
  inputs: "variadic",
  infer: (inputs, _, node) => {
    if (inputs.length === 0)
      throw invalidArgument({ code: "input-count", node, message: "Merge needs at least one input", expected: ">= 1 inputs", received: "0", fix: "pass the tensors to merge (one per branch)" });
    const mixed = inputs.find((i) => i.dtype !== inputs[0].dtype);
    if (mixed)
      throw invalidArgument({ code: "dtype-mismatch", node, message: "Merge needs inputs of one dtype", expected: inputs[0].dtype, received: mixed.dtype, fix: "cast the branches' results to one dtype" });
    const shapes = inputs.map((i) => i.shape);
    const first = shapes[0];
    const same = shapes.every((s) => s !== null && first !== null && s.length === first.length);
    const shape = same && first ? first.map((d, k) => (shapes.every((s) => s![k] === d) ? d : null)) : null;
    return [{ dtype: inputs[0].dtype, shape }, { dtype: "int32", shape: [] }];
  },
  // The executor picks the live input; the kernel sees only that one.
  kernel: (inputs) => [inputs[0], ndarray(new Int32Array([0]), [], "int32")],
});

export function identity(input: TensorLike, name = "Identity"): Tensor {
  return apply1("Identity", [input], {}, name);
}

export function stopGradient(input: TensorLike, name = "StopGradient"): Tensor {
  return apply1("StopGradient", [input], {}, name);
}

export function noOp(name = "NoOp"): Operation {
  return getDefaultGraph().addOp({ type: "NoOp", name });
}

/** An op that runs all `inputs` (tensors or ops) and produces nothing. */
export function group(inputs: (Tensor | Operation)[], name = "group_deps"): Operation {
  const graph = graphOf(inputs.map((i) => (i instanceof Operation ? i.outputs[0] ?? null : i)));
  const ops = inputs.map((i) => (i instanceof Operation ? i : i.op));
  const g = ops.length ? ops[0].graph : graph;
  return g.addOp({ type: "NoOp", name, controlInputs: ops });
}

/** `tf.tuple`: each output waits for all of `tensors` to be computed. */
export function tuple(tensors: Tensor[], options: { controlInputs?: Operation[]; name?: string } = {}): Tensor[] {
  const g = graphOf(tensors);
  return g.nameScope(options.name ?? "tuple", () => {
    const gate = group([...tensors, ...(options.controlInputs ?? [])], "gate");
    return tensors.map((t) => g.addOp({ type: "Identity", name: "control_dependency", inputs: [t], controlInputs: [gate] }).outputs[0]);
  });
}

export function switchOp(data: Tensor, pred: Tensor, name = "Switch"): [Tensor, Tensor] {
  const op = apply("Switch", [data, pred], {}, name);
  return [op.outputs[0], op.outputs[1]];
}
