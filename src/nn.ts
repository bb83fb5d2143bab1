/** `tf.nn.*`: activations, and (as they land) conv, pooling, losses and batch normalization. */
export { relu, relu6, sigmoid, tanh, elu } from "../ir/ops/elementwise";
export { leakyRelu, softplus, softsign } from "../ir/ops/activation";
export { moments, weightedMoments, batchNormalization, fusedBatchNorm, batchNormWithGlobalNormalization } from "./nn/batch-norm";
export type { MomentsOptions, WeightedMomentsOptions, FusedBatchNormOptions } from "./nn/batch-norm";
export { conv2d, depthwiseConv2d, depthwiseConv2dNative, conv2dBackpropInput, conv2dBackpropFilter, depthwiseConv2dNativeBackpropInput, depthwiseConv2dNativeBackpropFilter } from "../ir/ops/conv";
export type { Conv2DOptions, DepthwiseConv2DOptions } from "../ir/ops/conv";
export { maxPool, avgPool } from "../ir/ops/pool";
export type { PoolOptions, Padding, DataFormat } from "../ir/ops/pool";
export { softmax, logSoftmax, biasAdd, dropout } from "../ir/ops/nn";
export type { DropoutOptions } from "../ir/ops/nn";
export { softmaxCrossEntropyWithLogitsV2, sparseSoftmaxCrossEntropyWithLogits } from "../ir/ops/cross-entropy";
export type { SoftmaxCrossEntropyOptions, SparseSoftmaxCrossEntropyOptions } from "../ir/ops/cross-entropy";
