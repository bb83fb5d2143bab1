/**
 * `tf.contrib.layers.batchNorm(inputs, options)`: TF1's tf.contrib.layers.batch_norm, which
 * picks one of three implementations as TF does (contrib/layers/python/layers/layers.py):
 *
 *   fused    fused (default) and possible (no batchWeights / renorm / adjustment, rank 2 or 4)
 *            and (zeroDebiasMovingMean or rank 2 or updatesCollections other than UPDATE_OPS):
 *            contrib's own FusedBatchNormV3 path (rank 2 reshaped to [-1, 1, 1, C])
 *   layer    no batchWeights, updatesCollections UPDATE_OPS, no zero debias: the core layer's
 *            computation (fused when 4-D), updates in UPDATE_OPS
 *   legacy   otherwise: tf.nn.moments / weightedMoments + tf.nn.batchNormalization, updates in
 *            `updatesCollections` or, with null, forced into the output's dependencies
 * Variables "<scope>/beta", "<scope>/gamma", "<scope>/moving_mean", "<scope>/moving_variance"
 * (scope default "BatchNorm", uniquified), in GLOBAL_VARIABLES and model_variables (moving
 * statistics also MOVING_AVERAGE_VARIABLES), plus `variablesCollections`. Defaults differ from
 * the layer: decay 0.999, scale false, isTraining true.
 */
import type { Tensor } from "../../ir/graph";
import { convertToTensor, graphOf, type TensorLike } from "../../ir/ops/build";
import { GraphKeys } from "../collections";
import type { Initializer } from "../initializers";
import { ones, zeros } from "../initializers";
import type { Activation } from "../layers/layer";
import { badArgument, badInput, checkRenormClipping, fusedCanBeUsed, type Adjustment, type RenormClipping, type Training } from "../layers/batch-normalization-base";
import { batchNormForward } from "../layers/batch-normalization-forward";
import { sqrt } from "../../ir/ops/elementwise";
import { currentVariableScope, getVariable, variableScope, type Regularizer, type Reuse, type Variable } from "../variables";
import { fusedBatchNormPath, legacyBatchNormPath } from "./batch-norm-paths";

/** TF's GraphKeys.MODEL_VARIABLES, where contrib's model_variable puts its variables. */
export const MODEL_VARIABLES = "model_variables";

export interface BatchNormParamInitializers {
  beta?: Initializer;
  gamma?: Initializer;
  moving_mean?: Initializer;
  moving_variance?: Initializer;
  /** camelCase aliases of the TF keys. */
  movingMean?: Initializer;
  movingVariance?: Initializer;
}

export type VariablesCollections = string[] | { beta?: string[]; gamma?: string[]; moving_mean?: string[]; moving_variance?: string[] };

export interface BatchNormOptions {
  /** Moving-average decay; 0.999 by default. */
  decay?: number;
  center?: boolean;
  /** Multiply by gamma; false by default (contrib's default). */
  scale?: boolean;
  epsilon?: number;
  activationFn?: Activation | null;
  paramInitializers?: BatchNormParamInitializers;
  paramRegularizers?: { beta?: Regularizer; gamma?: Regularizer };
  /** UPDATE_OPS by default; null forces the updates into the output's control dependencies. */
  updatesCollections?: string | string[] | null;
  /** A boolean or a bool tensor; true by default. */
  isTraining?: Training;
  reuse?: Reuse;
  variablesCollections?: VariablesCollections;
  outputsCollections?: string[];
  trainable?: boolean;
  /** Per-example weights [batch]: weighted moments (legacy path). */
  batchWeights?: TensorLike;
  /** undefined or true: fused when possible; false: never. */
  fused?: boolean;
  dataFormat?: "NHWC" | "NCHW";
  /** Debias the moving mean by 1 - decay^t (shadow variables "biased" and "local_step"). */
  zeroDebiasMovingMean?: boolean;
  scope?: string;
  renorm?: boolean;
  renormClipping?: RenormClipping | null;
  renormDecay?: number;
  adjustment?: Adjustment;
}

/** The resolved settings the three paths share. */
export interface ContribSettings {
  decay: number;
  center: boolean;
  scale: boolean;
  epsilon: number;
  updatesCollections: string[] | null;
  isTraining: Training;
  trainable: boolean;
  dataFormat: "NHWC" | "NCHW";
  zeroDebiasMovingMean: boolean;
  createVariable: (name: "beta" | "gamma" | "moving_mean" | "moving_variance", shape: number[]) => Variable;
}

export function batchNorm(inputs: TensorLike, options: BatchNormOptions = {}): Tensor {
  const graph = graphOf([inputs]);
  return graph.asDefault(() => {
    const x = convertToTensor(inputs, undefined, "inputs", graph);
    const dataFormat = options.dataFormat ?? "NHWC";
    const node = options.scope ?? "BatchNorm";
    if (dataFormat !== "NHWC" && dataFormat !== "NCHW")
      throw badArgument(node, "dataFormat has to be either NCHW or NHWC", "NHWC or NCHW", String(dataFormat), 'pass dataFormat: "NHWC" or "NCHW"');
    if (x.rank === null) throw badInput(node, `inputs ${x.name} have undefined rank`, "a known rank", x.shape, "give the input a static rank");
    const rank = x.rank;
    const fused = options.fused ?? true;
    const renorm = options.renorm ?? false;
    const updatesCollections = options.updatesCollections === undefined ? GraphKeys.UPDATE_OPS : options.updatesCollections;
    const defaultUpdates = updatesCollections === GraphKeys.UPDATE_OPS;
    const zeroDebias = options.zeroDebiasMovingMean ?? false;
    const hasWeights = options.batchWeights !== undefined && options.batchWeights !== null;
    const possibleToFuse = !hasWeights && !renorm && (rank === 2 || rank === 4) && !options.adjustment;
    const path = fused && possibleToFuse && (zeroDebias || rank === 2 || !defaultUpdates) ? "fused" : !hasWeights && defaultUpdates && !zeroDebias ? "layer" : "legacy";
    if (path === "legacy" && renorm)
      throw badArgument(node, "renorm is not supported with batchWeights, updatesCollections or zeroDebiasMovingMean", "renorm: false", "renorm: true", "drop renorm, or use the default updatesCollections without batchWeights and zero debias");

    return inScope(options.scope, options.reuse, (scopeName) => {
      const init = options.paramInitializers ?? {};
      const initializers = {
        beta: init.beta ?? zeros(),
        gamma: init.gamma ?? ones(),
        moving_mean: init.moving_mean ?? init.movingMean ?? zeros(),
        moving_variance: init.moving_variance ?? init.movingVariance ?? ones(),
      };
      const trainable = options.trainable ?? true;
      const createVariable = (name: "beta" | "gamma" | "moving_mean" | "moving_variance", shape: number[]): Variable => {
        const moving = name === "moving_mean" || name === "moving_variance";
        const vc = options.variablesCollections;
        const extra = vc === undefined ? [] : Array.isArray(vc) ? vc : vc[name] ?? [];
        const collections = [...new Set([GraphKeys.GLOBAL_VARIABLES, MODEL_VARIABLES, ...(moving ? [GraphKeys.MOVING_AVERAGE_VARIABLES] : []), ...extra])];
        const regularizer = moving ? undefined : options.paramRegularizers?.[name as "beta" | "gamma"];
        return getVariable(name, shape, { initializer: initializers[name], regularizer, trainable: !moving && trainable, collections });
      };
      const settings: ContribSettings = {
        decay: options.decay ?? 0.999,
        center: options.center ?? true,
        scale: options.scale ?? false,
        epsilon: options.epsilon ?? 0.001,
        updatesCollections: updatesCollections === null ? null : Array.isArray(updatesCollections) ? updatesCollections : [updatesCollections],
        isTraining: options.isTraining ?? true,
        trainable,
        dataFormat,
        zeroDebiasMovingMean: zeroDebias,
        createVariable,
      };
      let output: Tensor;
      if (path === "fused") output = fusedBatchNormPath(x, settings, scopeName);
      else if (path === "legacy") output = legacyBatchNormPath(x, settings, options.batchWeights ?? null, scopeName);
      else output = layerPath(x, settings, options, scopeName, initializers.moving_variance);
      if (options.activationFn) output = options.activationFn(output);
      for (const key of options.outputsCollections ?? []) graph.addToCollection(key, output);
      return output;
    });
  });
}

/** The core layer's computation under the contrib scope (TF passes `_scope=sc` to the layer). */
function layerPath(x: Tensor, s: ContribSettings, options: BatchNormOptions, node: string, movingVarianceInitializer: Initializer): Tensor {
  const rank = x.rank!;
  const axis = s.dataFormat === "NCHW" ? 1 : rank - 1;
  const channels = x.shape![axis];
  if (channels === null) throw badInput(node, `inputs ${x.name} have an undefined channels dimension`, "a known channels dimension", x.shape, "give the input a static channels dimension");
  const renorm = options.renorm ?? false;
  const gamma = s.scale ? s.createVariable("gamma", [channels]) : null;
  const beta = s.center ? s.createVariable("beta", [channels]) : null;
  const movingMean = s.createVariable("moving_mean", [channels]);
  const movingVariance = s.createVariable("moving_variance", [channels]);
  let renormState = null;
  if (renorm) {
    const mean = getVariable("renorm_mean", [channels], { initializer: options.paramInitializers?.moving_mean ?? options.paramInitializers?.movingMean ?? zeros(), trainable: false });
    const stddev = getVariable("renorm_stddev", [channels], { initializer: (shape, dtype) => sqrt(movingVarianceInitializer(shape, dtype)), trainable: false });
    renormState = { mean, stddev, clipping: checkRenormClipping(options.renormClipping, node), momentum: options.renormDecay ?? 0.99 };
  }
  const adjustment = options.adjustment ?? null;
  const fused = (options.fused ?? true) && fusedCanBeUsed([axis], rank, renorm, null, adjustment);
  const { output, updates } = batchNormForward(
    x,
    { axis: [axis], momentum: s.decay, epsilon: s.epsilon, gamma, beta, movingMean, movingVariance, renorm: renormState, virtualBatchSize: null, adjustment, fused },
    s.isTraining,
    node,
  );
  const list = x.graph.getCollectionRef<unknown>(GraphKeys.UPDATE_OPS);
  for (const u of updates) list.push(u.op);
  return output;
}

/**
 * TF's variable_scope(scope, default_name="BatchNorm", reuse=reuse): an explicit scope is used
 * as given; the default is uniquified ("BatchNorm", "BatchNorm_1" ...) within the enclosing scope.
 */
function inScope<T>(scope: string | undefined, reuse: Reuse | undefined, fn: (scopeName: string) => T): T {
  const run = () => fn(currentVariableScope().name);
  if (scope !== undefined) return variableScope(scope, { reuse }, run);
  if (reuse === true)
    throw badArgument("BatchNorm", "reuse: true cannot be used without a scope", "a scope name", "no scope", "pass { scope: 'bn', reuse: true }");
  const graph = graphOf([]);
  const parent = currentVariableScope(graph).name;
  const prefix = parent ? `${parent}/` : "";
  let counts = graph.extras.get("contribScopeCounts") as Map<string, number> | undefined;
  if (!counts) {
    counts = new Map();
    graph.extras.set("contribScopeCounts", counts);
  }
  const taken = (name: string) =>
    (counts!.get(prefix + name) ?? 0) > 0 || graph.getCollection<Tensor>(GraphKeys.GLOBAL_VARIABLES).some((v) => v.op.name.startsWith(`${prefix}${name}/`));
  let name = "BatchNorm";
  for (let i = 1; taken(name); i++) name = `BatchNorm_${i}`;
  counts.set(prefix + name, 1);
  return variableScope(name, { reuse }, run);
}
