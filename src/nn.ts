/** `tf.nn.*`: activations, and (as they land) conv, pooling, losses and batch normalization. */
export { relu, relu6, sigmoid, tanh, elu } from "../ir/ops/elementwise";
