/** `tf.GraphKeys` and the collection helpers over the default graph. */
import { getDefaultGraph } from "../ir/graph";

export const GraphKeys = {
  GLOBAL_VARIABLES: "variables",
  TRAINABLE_VARIABLES: "trainable_variables",
  LOCAL_VARIABLES: "local_variables",
  MOVING_AVERAGE_VARIABLES: "moving_average_variables",
  MODEL_VARIABLES: "model_variables",
  UPDATE_OPS: "update_ops",
  REGULARIZATION_LOSSES: "regularization_losses",
  LOSSES: "losses",
  GLOBAL_STEP: "global_step",
  TRAIN_OP: "train_op",
  SUMMARIES: "summaries",
} as const;

export function getCollection<T = unknown>(key: string, scope?: string): T[] {
  return getDefaultGraph().getCollection<T>(key, scope);
}

export function getCollectionRef<T = unknown>(key: string): T[] {
  return getDefaultGraph().getCollectionRef<T>(key);
}

export function addToCollection(key: string, value: unknown): void {
  getDefaultGraph().addToCollection(key, value);
}

export function addToCollections(keys: string[], value: unknown): void {
  for (const k of keys) addToCollection(k, value);
}
