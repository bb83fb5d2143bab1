/** `tf.train.*`: optimizers, the global step, and the Saver with its checkpoint helpers. */
export { Optimizer, namedGroup } from "./optimizer";
export type { GradAndVar, Hyperparameter, ComputeGradientsOptions, ApplyGradientsOptions, MinimizeOptions } from "./optimizer";
export { GradientDescentOptimizer } from "./gradient-descent";
export type { GradientDescentOptions } from "./gradient-descent";
export { MomentumOptimizer } from "./momentum";
export type { MomentumOptions } from "./momentum";
export { AdamOptimizer } from "./adam";
export type { AdamOptions } from "./adam";
export { getGlobalStep, createGlobalStep, getOrCreateGlobalStep } from "./global-step";
export { Saver, latestCheckpoint, getCheckpointState, checkpointExists, listVariables, loadVariable } from "../saver";
export type { SaverOptions, SaveOptions, SaveableVariable } from "../saver";
