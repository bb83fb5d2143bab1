/**
 * IsVariableInitialized: a bool scalar, true once the variable behind its ref input holds a
 * value in the session (TF1's `tf.is_variable_initialized`; imported resource variables'
 * VarIsInitializedOp comes in as this op). It reads no value, so it never fails.
 */
import type { Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp } from "../registry";
import { apply1 } from "./build";
import { invalidArgument } from "../diagnostics";

registerOp({
  type: "IsVariableInitialized",
  inputs: 1,
  refInputs: [0],
  stateful: true,
  nonDifferentiable: true,
  attrs: { dtype: { kind: "type", default: "float32" } },
  infer: () => [{ dtype: "bool", shape: [] }],
  kernel: (_, __, ctx) => {
    const out = ctx.alloc("bool", 1);
    out[0] = ctx.ref(0).get() === undefined ? 0 : 1;
    return [new NDArray("bool", [], out)];
  },
});

/** `tf.isVariableInitialized(variable)`. */
export function isVariableInitialized(variable: Tensor, name = "IsVariableInitialized"): Tensor {
  if (variable.op.type !== "VariableV2")
    throw invalidArgument({
      code: "not-a-variable",
      node: variable.op.name,
      message: "tf.isVariableInitialized needs a variable",
      expected: "a tf.Variable (VariableV2)",
      received: `${variable.op.type} \`${variable.op.name}\``,
      fix: "pass a variable created with tf.getVariable or tf.Variable",
    });
  return apply1("IsVariableInitialized", [variable], { dtype: variable.dtype }, name);
}
