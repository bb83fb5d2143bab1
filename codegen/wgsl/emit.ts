/**
 * The WGSL emitter registry, keyed by TF op type like the op registry, and the entry points:
 *   emitOpKernels(op, inputShapes, outputShapes)  every dispatch one op needs
 *   emitKernel(op, inputShapes, outputShapes)     the kernel of a single-dispatch op
 * Ops that only re-label a buffer (Identity, Reshape ...) have emitters too (a copy), but the
 * dispatch planner aliases them instead; host-side ops (Const, Placeholder, VariableV2, Shape,
 * NoOp) have none.
 */
import { NDArray } from "../../ir/ndarray";
import { unsupported, withHelpers, type EmitContext, type EmitOptions, type Emitter, type KernelOp, type OpKernels, type WgslKernel } from "./common";
import { emitAddN, emitBiasAdd, emitCopy, emitElementwise } from "./elementwise";
import { binaryTemplates, ternaryTemplates, unaryTemplates } from "./expressions";
import { emitArg, emitBiasAddGrad, emitReduce, emitSumToShape } from "./reduce";
import { emitMatMul } from "./matmul";
import { emitConv } from "./conv";
import { emitPool, emitPoolGrad } from "./pool";
import { emitCrossEntropy, emitSoftmax } from "./softmax";
import { emitFusedBatchNorm, emitFusedBatchNormGrad, emitGlobalBatchNorm } from "./batch-norm";
import { emitApplyAdam, emitApplyGradientDescent, emitApplyMomentum, emitAssign } from "./training";
import { emitConcat, emitGather, emitOneHot, emitPad, emitSlice, emitTile, emitTranspose } from "./array";

const emitters = new Map<string, Emitter>();

function register(types: readonly string[], emitter: Emitter): void {
  for (const t of types) emitters.set(t, emitter);
}

register([...Object.keys(unaryTemplates), ...Object.keys(binaryTemplates), ...Object.keys(ternaryTemplates), "Cast"], emitElementwise);
register(["BiasAdd"], emitBiasAdd);
register(["BroadcastTo", "Fill", "Reshape", "Squeeze", "ExpandDims"], emitCopy);
register(["AddN"], emitAddN);
register(["Sum", "Mean", "Max", "Min", "Prod", "All", "Any"], emitReduce);
register(["SumToShape"], emitSumToShape);
register(["BiasAddGrad"], emitBiasAddGrad);
register(["ArgMax", "ArgMin"], emitArg);
register(["MatMul", "BatchMatMulV2"], emitMatMul);
register(
  ["Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "DepthwiseConv2dNative", "DepthwiseConv2dNativeBackpropInput", "DepthwiseConv2dNativeBackpropFilter"],
  emitConv,
);
register(["MaxPool", "AvgPool"], emitPool);
register(["MaxPoolGrad", "AvgPoolGrad"], emitPoolGrad);
register(["Softmax", "LogSoftmax"], emitSoftmax);
register(["SoftmaxCrossEntropyWithLogits", "SparseSoftmaxCrossEntropyWithLogits"], emitCrossEntropy);
register(["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"], emitFusedBatchNorm);
register(["FusedBatchNormGrad", "FusedBatchNormGradV2", "FusedBatchNormGradV3"], emitFusedBatchNormGrad);
register(["BatchNormWithGlobalNormalization"], emitGlobalBatchNorm);
register(["Assign", "AssignAdd", "AssignSub"], emitAssign);
register(["ApplyGradientDescent"], emitApplyGradientDescent);
register(["ApplyMomentum"], emitApplyMomentum);
register(["ApplyAdam"], emitApplyAdam);
register(["Transpose"], emitTranspose);
register(["Slice"], emitSlice);
register(["Pad"], emitPad);
register(["Tile"], emitTile);
register(["GatherV2"], emitGather);
register(["OneHot"], emitOneHot);
register(["ConcatV2", "Pack"], emitConcat);

/** Op types with a WGSL emitter. */
export function wgslOpTypes(): string[] {
  return [...emitters.keys()].sort();
}

export function hasWgslEmitter(type: string): boolean {
  return emitters.has(type);
}

/** The value of an input produced by a Const, when `op` is an Operation. */
function constantOf(input: KernelOp["inputs"][number]): NDArray | undefined {
  if (!("op" in input)) return undefined;
  const producer = (input as { op: { type: string; attrs: Record<string, unknown> } }).op;
  const value = producer.type === "Const" ? producer.attrs.value : undefined;
  return value instanceof NDArray ? value : undefined;
}

/** Every dispatch of `op` for concrete input and output shapes, in order. */
export function emitOpKernels(op: KernelOp, inputShapes: readonly (readonly number[])[], outputShapes: readonly (readonly number[])[], options: EmitOptions = {}): OpKernels {
  const emitter = emitters.get(op.type);
  if (!emitter) throw unsupported(op, "no WGSL kernel is written for this op type");
  const constants = op.inputs.map((t, i) => options.constants?.[i] ?? constantOf(t));
  const ctx: EmitContext = { op, inputShapes, outputShapes, constants };
  const result = emitter(ctx);
  for (const k of result.kernels) k.code = withHelpers(k.code);
  return result;
}

/** The kernel of an op that needs exactly one dispatch (most ops); see emitOpKernels for the rest. */
export function emitKernel(op: KernelOp, inputShapes: readonly (readonly number[])[], outputShapes: readonly (readonly number[])[], options: EmitOptions = {}): WgslKernel {
  const { kernels, scratch } = emitOpKernels(op, inputShapes, outputShapes, options);
  if (kernels.length !== 1 || scratch.length)
    throw unsupported(op, `it needs ${kernels.length} dispatches${scratch.length ? " and scratch buffers" : ""} for these shapes`, "use emitOpKernels");
  return kernels[0];
}
