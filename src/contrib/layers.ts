/** `tf.contrib.layers.*`: TF1's contrib layers (batch normalization so far). */
export { batchNorm, MODEL_VARIABLES } from "./batch-norm";
export type { BatchNormOptions, BatchNormParamInitializers, VariablesCollections } from "./batch-norm";
