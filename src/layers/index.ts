/** `tf.layers.*`: TF1's layers, as functions and as classes. */
export { Layer, toSnakeCase } from "./layer";
export type { LayerOptions, ApplyOptions, AddWeightOptions, Activation } from "./layer";
export { Dense, dense, Flatten, flatten, Dropout, dropout } from "./core";
export type { DenseOptions, FlattenOptions, DropoutLayerOptions } from "./core";
export { Conv2D, conv2d } from "./convolutional";
export type { Conv2DOptions, LayerPadding, LayerDataFormat } from "./convolutional";
export { MaxPooling2D, maxPooling2d, AveragePooling2D, averagePooling2d } from "./pooling";
export type { Pooling2DOptions } from "./pooling";
export * from "./batch-norm-exports";
