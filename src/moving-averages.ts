/**
 * TF1's `moving_averages.assign_moving_average`, which tf.layers / Keras BatchNormalization
 * (`_assign_moving_average`) and tf.contrib.layers.batch_norm build their updates with:
 *
 *   AssignMovingAvg/decay = 1 - decay            (a Const, or 1 - tensor)
 *   AssignMovingAvg       = AssignSub(variable, (variable - value) * AssignMovingAvg/decay)
 *
 * With `zeroDebias` (contrib's zero_debias_moving_mean) two shadow variables live in a variable
 * scope named after the variable, nested in the current one — "BatchNorm/BatchNorm/moving_mean/
 * biased" and ".../local_step", both zero-initialized and non-trainable — and
 *
 *   biased -= (biased - value) * (1 - decay);  local_step += 1
 *   variable = biased / (1 - decay^local_step)     (an Assign named AssignMovingAvg)
 */
import { getDefaultGraph, type Graph, type Tensor } from "../ir/graph";
import { convertToTensor, type TensorLike } from "../ir/ops/build";
import { div, mul, pow, sub } from "../ir/ops/elementwise";
import { assignAdd, assignSub } from "../ir/ops/state";
import { GraphKeys } from "./collections";
import { zeros } from "./initializers";
import { currentVariableScope, getVariable, variableScope, type Variable } from "./variables";

export interface AssignMovingAverageOptions {
  /** Debias the average by 1 - decay^t (TF's default is true; the layers pass false). */
  zeroDebias?: boolean;
  /** The name scope, and the name of the returned assign; default "AssignMovingAvg". */
  name?: string;
}

/**
 * `variable -= (variable - value) * (1 - decay)`; returns the assign's output (the new value).
 * `decay` is the moving-average decay (a layer's momentum), a number or a float32 scalar tensor.
 */
export function assignMovingAverage(variable: Variable, value: TensorLike, decay: number | Tensor, options: AssignMovingAverageOptions = {}): Tensor {
  const graph = variable.graph;
  return graph.asDefault(() =>
    graph.nameScope(options.name ?? "AssignMovingAvg", () => {
      const scope = graph.nameScopeValue;
      const oneMinusDecay = typeof decay === "number" ? convertToTensor(1 - decay, "float32", "decay", graph) : sub(1, decay, "decay");
      if (options.zeroDebias) return zeroDebiased(variable, value, oneMinusDecay, scope);
      const delta = mul(sub(variable, value), oneMinusDecay);
      return graph.addOp({ type: "AssignSub", name: scope, absoluteName: true, inputs: [variable, delta] }).outputs[0];
    }),
  );
}

/** TF's _zero_debias: shadow `biased` and `local_step` variables, then variable = biased / (1 - decay^t). */
function zeroDebiased(variable: Variable, value: TensorLike, oneMinusDecay: Tensor, scope: string): Tensor {
  const graph = variable.graph;
  const [biased, localStep] = outsideConds(graph, () =>
    variableScope(variable.op.name, () => {
      const shape = variable.shape as number[];
      const biasedVar = getVariable(uniqueShadowName("biased"), shape, { initializer: zeros(), trainable: false, dtype: variable.dtype });
      const stepVar = getVariable(uniqueShadowName("local_step"), [], { initializer: zeros(), trainable: false, dtype: variable.dtype });
      return [biasedVar, stepVar];
    }),
  );
  const updateBiased = assignSub(biased, mul(sub(biased, value), oneMinusDecay));
  const updateLocalStep = assignAdd(localStep, 1);
  const biasFactor = sub(1, pow(sub(1, oneMinusDecay), updateLocalStep));
  return graph.addOp({ type: "Assign", name: scope, absoluteName: true, inputs: [variable, div(updateBiased, biasFactor)], attrs: { validate_shape: true, use_locking: true } }).outputs[0];
}

/**
 * TF's init_scope for the shadow variables: built outside any cond branch and control-dependency
 * block, so that their initializers run without the branch's predicate (tf.Variable builds its
 * initializer Assign after leaving its own init scope, which inside a cond would switch it).
 */
function outsideConds<T>(graph: Graph, fn: () => T): T {
  const hooks = graph.creationHooks.splice(0, graph.creationHooks.length);
  try {
    return graph.controlDependencies(null, fn);
  } finally {
    graph.creationHooks.push(...hooks);
  }
}

/** TF's _maybe_get_unique: `name`, or `name_1`, `name_2` ... when the scope already has it (unless reusing). */
function uniqueShadowName(name: string): string {
  const graph = getDefaultGraph();
  const scope = currentVariableScope(graph);
  if (scope.reuse) return name;
  const taken = new Set(graph.getCollection<Tensor>(GraphKeys.GLOBAL_VARIABLES).map((v) => v.op.name));
  const full = `${scope.name}/${name}`;
  if (!taken.has(full)) return name;
  let i = 1;
  while (taken.has(`${full}_${i}`)) i++;
  return `${name}_${i}`;
}
