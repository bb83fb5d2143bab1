/** `tf.contrib`: TF1's contrib namespace, `tf.contrib.layers.batchNorm` ... */
export * as layers from "./layers";
