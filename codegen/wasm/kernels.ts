/**
 * The kernels a wasm module is made of, each with concrete shapes and byte offsets into the
 * program's one linear memory, and the dispatch from a kernel to its emitter. Every kernel
 * names the op it computes (`op`), so that a module that fails validation names it.
 *
 * Covered: MatMul (transposes, fused epilogue), Conv2D and DepthwiseConv2dNative (NHWC,
 * strides, dilations, SAME / VALID, fused epilogue), elementwise DAGs with broadcasting,
 * Sum / Mean / Max / Min over the middle of [outer, reduce, inner], moments, Softmax /
 * LogSoftmax over the last axis, MaxPool / AvgPool (NHWC); for training (NHWC): Conv2DBackpropInput,
 * Conv2DBackpropFilter, DepthwiseConv2dNativeBackpropInput / Filter, MaxPoolGrad / AvgPoolGrad, FusedBatchNorm (training and inference, fused
 * epilogue) and its gradient; SoftmaxCrossEntropyWithLogits and its sparse form (the reference
 * kernel's bits); scalar elementwise kernels over float32 / int32 / bool (comparisons, Cast,
 * SelectV2, logical and int32 ops) and ArgMax / ArgMin.
 */
import type { Expr } from "./binaryen";
import { batchNormGradScratchBytes, batchNormScratchBytes, emitBatchNorm, emitBatchNormGrad, type BatchNormGradKernel, type BatchNormKernel } from "./batch-norm";
import { convScratchBytes, emitConv, type ConvKernel } from "./conv";
import { convBackpropFilterScratchBytes, emitConvBackpropFilter, type ConvBackpropFilterKernel } from "./conv-backprop-filter";
import { convBackpropInputScratchBytes, emitConvBackpropInput, type ConvBackpropInputKernel } from "./conv-backprop-input";
import { emitArgReduce, type ArgReduceKernel } from "./arg-reduce";
import { crossEntropyScratchBytes, emitCrossEntropy, type CrossEntropyKernel } from "./cross-entropy";
import { depthwiseScratchBytes, emitDepthwise, type DepthwiseKernel } from "./depthwise";
import {
  depthwiseBackpropFilterScratchBytes, depthwiseBackpropInputScratchBytes, emitDepthwiseBackpropFilter, emitDepthwiseBackpropInput,
  type DepthwiseBackpropFilterKernel, type DepthwiseBackpropInputKernel,
} from "./depthwise-backprop";
import { emitElementwise, type ElementwiseKernel } from "./elementwise";
import type { FunctionBuilder } from "./function-builder";
import { emitGemm, gemmScratchBytes, type GemmKernel } from "./gemm";
import { emitPool, type PoolKernel } from "./pool";
import { emitPoolGrad, type PoolGradKernel } from "./pool-grad";
import { emitMoments, emitReduce, type MomentsKernel, type ReduceKernel } from "./reduce";
import { emitSoftmax, type SoftmaxKernel } from "./softmax";
import { emitTypedElementwise, type TypedElementwiseKernel } from "./typed-elementwise";

/** A kernel whose body the caller writes (tests, ops without a generator yet). */
export interface CustomKernel {
  kind: "custom";
  op: string;
  emit(fb: FunctionBuilder): Expr[];
  scratchBytes?: number;
  scratch?: number;
}

export type Kernel =
  | GemmKernel
  | ConvKernel
  | DepthwiseKernel
  | ElementwiseKernel
  | ReduceKernel
  | MomentsKernel
  | SoftmaxKernel
  | PoolKernel
  | ConvBackpropInputKernel
  | ConvBackpropFilterKernel
  | PoolGradKernel
  | BatchNormKernel
  | BatchNormGradKernel
  | CrossEntropyKernel
  | DepthwiseBackpropInputKernel
  | DepthwiseBackpropFilterKernel
  | TypedElementwiseKernel
  | ArgReduceKernel
  | CustomKernel;

/** Bytes of scratch memory the kernel needs during its step (placed by the planner). */
export function kernelScratchBytes(k: Kernel): number {
  switch (k.kind) {
    case "gemm":
      return gemmScratchBytes(k);
    case "conv2d":
      return convScratchBytes(k);
    case "depthwise":
      return depthwiseScratchBytes(k);
    case "conv2d-backprop-input":
      return convBackpropInputScratchBytes(k);
    case "conv2d-backprop-filter":
      return convBackpropFilterScratchBytes(k);
    case "batch-norm":
      return batchNormScratchBytes(k);
    case "batch-norm-grad":
      return batchNormGradScratchBytes(k);
    case "cross-entropy":
      return crossEntropyScratchBytes(k);
    case "depthwise-backprop-input":
      return depthwiseBackpropInputScratchBytes(k);
    case "depthwise-backprop-filter":
      return depthwiseBackpropFilterScratchBytes(k);
    case "custom":
      return k.scratchBytes ?? 0;
    default:
      return 0;
  }
}

export function emitKernel(fb: FunctionBuilder, k: Kernel): Expr[] {
  switch (k.kind) {
    case "gemm":
      return emitGemm(fb, k);
    case "conv2d":
      return emitConv(fb, k);
    case "depthwise":
      return emitDepthwise(fb, k);
    case "elementwise":
      return emitElementwise(fb, k);
    case "reduce":
      return emitReduce(fb, k);
    case "moments":
      return emitMoments(fb, k);
    case "softmax":
      return emitSoftmax(fb, k);
    case "pool":
      return emitPool(fb, k);
    case "conv2d-backprop-input":
      return emitConvBackpropInput(fb, k);
    case "conv2d-backprop-filter":
      return emitConvBackpropFilter(fb, k);
    case "pool-grad":
      return emitPoolGrad(fb, k);
    case "batch-norm":
      return emitBatchNorm(fb, k);
    case "batch-norm-grad":
      return emitBatchNormGrad(fb, k);
    case "cross-entropy":
      return emitCrossEntropy(fb, k);
    case "depthwise-backprop-input":
      return emitDepthwiseBackpropInput(fb, k);
    case "depthwise-backprop-filter":
      return emitDepthwiseBackpropFilter(fb, k);
    case "typed-elementwise":
      return emitTypedElementwise(fb, k);
    case "arg-reduce":
      return emitArgReduce(fb, k);
    case "custom":
      return k.emit(fb);
  }
}
