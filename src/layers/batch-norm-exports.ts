/** The batch-normalization part of `tf.layers`, re-exported by ./index.ts. */
export { BatchNormalization, batchNormalization } from "./batch-normalization";
export type { BatchNormalizationOptions, BatchNormalizationFunctionOptions } from "./batch-normalization";
export type { RenormClipping, Adjustment, Training } from "./batch-normalization-base";
