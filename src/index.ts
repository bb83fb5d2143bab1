/**
 * foldflow's public API: `import * as tf from "foldflow"`. Names follow TensorFlow 1.x in
 * camelCase; keyword arguments become one options object.
 */
import "../ir/ops/index";

export { Graph, Operation, Tensor, getDefaultGraph, resetDefaultGraph } from "../ir/graph";
export { importGraphDef } from "../ir/graphdef/read";
export type { GraphDef, NodeDef } from "../ir/graphdef/model";
export { NDArray, ndarray } from "../ir/ndarray";
export type { NestedArray } from "../ir/ndarray";
export type { DType } from "../ir/dtype";
export type { Shape } from "../ir/shape";
export type { Diagnostic } from "../ir/diagnostics";
export * as errors from "./errors";

export { nameScope, controlDependencies } from "./graph-api";
export { GraphKeys, getCollection, getCollectionRef, addToCollection, addToCollections } from "./collections";
export {
  Variable,
  AUTO_REUSE,
  getVariable,
  variableScope,
  globalVariables,
  trainableVariables,
  movingAverageVariables,
  globalVariablesInitializer,
  variablesInitializer,
} from "./variables";
export type { Regularizer, Constraint, GetVariableOptions, VariableOptions } from "./variables";
export * as initializers from "./initializers";
export type { Initializer } from "./initializers";

export { constant, placeholder, placeholderWithDefault } from "../ir/ops/constant";
export { assign, assignAdd, assignSub } from "../ir/ops/state";
export { isVariableInitialized } from "../ir/ops/is-initialized";
export { identity, stopGradient, noOp, group, tuple } from "../ir/ops/control";
export { cond, smartCond } from "./control-flow";
export {
  add, sub, mul, floorDiv, maximum, minimum, pow, squaredDifference,
  equal, notEqual, greater, greaterEqual, less, lessEqual, logicalAnd, logicalOr,
  neg, square, sqrt, rsqrt, exp, log, abs, sigmoid, tanh, reciprocal, sign, floor,
  pythonDiv as div, realdiv, truediv, divide,
} from "../ir/ops/elementwise";
export { range, cumsum } from "../ir/ops/sequence";
export { Assert, Print } from "../ir/ops/logging";
export type { LoggedData, PrintOptions } from "../ir/ops/logging";
export {
  assertEqual, assertLess, assertLessEqual, assertGreater, assertGreaterEqual,
  assertPositive, assertNegative, assertNonNegative, assertNonPositive,
} from "./check-ops";
export type { AssertOptions } from "./check-ops";
export * from "../ir/ops/array";
export * from "../ir/ops/reduce";
export * from "../ir/ops/matmul";
export type { TensorLike } from "../ir/ops/build";

export * as nn from "./nn";
export * as layers from "./layers";
export * as train from "./train";
export * as losses from "./losses";
export * as regularizers from "./regularizers";
export * as contrib from "./contrib";
export * as distribute from "./distribute";
export * as keras from "./keras";
export * as debugging from "./debugging";
export { lint, checkMovingStatistics } from "./lint";
export type { LintOptions } from "./lint";
export { addCheckNumericsOps } from "./debugging";
export { DEFAULT_LIMITS } from "./limits";
export type { Limits } from "./limits";
export * as graphUtil from "./freeze";
export * as tools from "./tools";
export { optimizeForInference } from "../passes/pipeline";
export type { OptimizeForInferenceOptions } from "../passes/pipeline";
export { gradients } from "../passes/gradients";
export type { GradientsOptions } from "../passes/gradients";
export { Session } from "./session";
export { compile } from "./compile";
export type { CompileOptions, CompiledModel } from "./compile";
export type { CompiledWgslModel, WgslCompileOptions } from "./compile-wgsl";
export { wasmReady } from "./runtime/wasm/loader";
export type { CompiledWasmModel, WasmCompileOptions } from "./compile-wasm";
export type { SessionOptions, Fetch, FetchResult, BackendName, RunOptions, RunMetadata } from "./session";
export type { FeedDict, FeedValue } from "./runtime/feeds";
