/**
 * `tf.keras`: the Keras names foldflow offers, `tf.keras.layers.BatchNormalization` (the v1
 * class, as tf.layers.BatchNormalization) and
 * `tf.keras.layers.experimental.SyncBatchNormalization` (statistics all-reduced across the
 * replicas of a tf.distribute strategy; plain batch normalization outside one).
 */
import { BatchNormalization as BatchNormalizationClass } from "./layers/batch-normalization";
import { SyncBatchNormalization as SyncBatchNormalizationClass } from "./distribute/sync-batch-normalization";

export type { BatchNormalizationOptions } from "./layers/batch-normalization";
export type { SyncBatchNormalizationOptions } from "./distribute/sync-batch-normalization";

export const layers = {
  BatchNormalization: BatchNormalizationClass,
  experimental: {
    SyncBatchNormalization: SyncBatchNormalizationClass,
  },
} as const;

// The class types, under the namespace-like paths the values have.
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace layers {
  type BatchNormalization = BatchNormalizationClass;
  namespace experimental {
    type SyncBatchNormalization = SyncBatchNormalizationClass;
  }
}
