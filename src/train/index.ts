/** `tf.train.*`: optimizers and the global step. */
export { Optimizer, namedGroup } from "./optimizer";
export type { GradAndVar, Hyperparameter, ComputeGradientsOptions, ApplyGradientsOptions, MinimizeOptions } from "./optimizer";
export { GradientDescentOptimizer } from "./gradient-descent";
export type { GradientDescentOptions } from "./gradient-descent";
export { MomentumOptimizer } from "./momentum";
export type { MomentumOptions } from "./momentum";
export { AdamOptimizer } from "./adam";
export type { AdamOptions } from "./adam";
export { getGlobalStep, createGlobalStep, getOrCreateGlobalStep } from "./global-step";
