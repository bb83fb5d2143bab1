/** The global step: an int32 scalar variable "global_step" in GLOBAL_VARIABLES and GLOBAL_STEP. */
import { AlreadyExistsError, invalidArgument } from "../../ir/diagnostics";
import { getDefaultGraph, type Graph } from "../../ir/graph";
import { GraphKeys } from "../collections";
import { zeros } from "../initializers";
import { getVariable, Variable } from "../variables";

/** `tf.train.getGlobalStep(graph?)`: the GLOBAL_STEP variable, else a variable named "global_step", else null. */
export function getGlobalStep(graph: Graph = getDefaultGraph()): Variable | null {
  const steps = graph.getCollection<Variable>(GraphKeys.GLOBAL_STEP);
  if (steps.length > 1)
    throw invalidArgument({
      code: "global-step",
      node: steps[1].op.name,
      message: "there is more than one variable in the GLOBAL_STEP collection",
      expected: "one global step",
      received: steps.map((s) => `\`${s.op.name}\``).join(", "),
      fix: "create the global step once, with tf.train.getOrCreateGlobalStep()",
    });
  let step: unknown = steps[0];
  if (!step && graph.hasOperation("global_step")) step = graph.getOperationByName("global_step").outputs[0];
  if (!step) return null;
  if (!(step instanceof Variable) || step.dtype !== "int32")
    throw invalidArgument({
      code: "global-step",
      node: "global_step",
      message: "the existing `global_step` is not an int32 variable",
      expected: "an int32 scalar variable",
      received: step instanceof Variable ? step.dtype : "a tensor that is not a variable",
      fix: "rename the other op, or create the global step with tf.train.createGlobalStep()",
    });
  return step;
}

/** `tf.train.createGlobalStep(graph?)`: fails when the graph already has one. */
export function createGlobalStep(graph: Graph = getDefaultGraph()): Variable {
  if (getGlobalStep(graph) !== null)
    throw new AlreadyExistsError({
      code: "global-step-exists",
      node: "global_step",
      message: "`global_step` already exists",
      fix: "use tf.train.getOrCreateGlobalStep()",
    });
  return graph.asDefault(() =>
    graph.nameScope(null, () =>
      getVariable(GraphKeys.GLOBAL_STEP, [], {
        dtype: "int32",
        initializer: zeros(),
        trainable: false,
        collections: [GraphKeys.GLOBAL_VARIABLES, GraphKeys.GLOBAL_STEP],
      }),
    ),
  );
}

/** `tf.train.getOrCreateGlobalStep(graph?)`. */
export function getOrCreateGlobalStep(graph: Graph = getDefaultGraph()): Variable {
  return getGlobalStep(graph) ?? createGlobalStep(graph);
}
