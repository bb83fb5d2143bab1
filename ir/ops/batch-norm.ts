/**
 * Fused batch normalization as TF defines it: FusedBatchNorm, FusedBatchNormV2, FusedBatchNormV3
 * and their gradient ops FusedBatchNormGrad / V2 / V3 (TF's CPU kernels, fused_batch_norm_op.cc).
 *
 * Inputs (x, scale, offset, mean, variance); attrs epsilon (op default 1e-4), data_format
 * (NHWC | NCHW), is_training, exponential_avg_factor. Outputs:
 *   y                  x normalized per channel, times scale, plus offset
 *   batch_mean         training: the batch mean (blended with `mean` when the factor is not 1);
 *                      inference: `mean` itself
 *   batch_variance     training: the *Bessel-corrected* batch variance n/(n-1)·σ² (what the moving
 *                      variance is updated with), blended like batch_mean; inference: `variance`
 *   reserve_space_1/2  what the gradient needs, as TF's CPU kernels keep it: the batch mean and
 *                      the *biased* batch variance σ² (cuDNN keeps 1/sqrt(σ²+ε) instead);
 *                      inference: `mean` and `variance`
 *   reserve_space_3    V3 only: a scalar 0, as on TF's CPU
 * y always uses the biased variance. In training with exponential_avg_factor 1, `mean` and
 * `variance` are not read (the TF1 Python wrapper passes empty tensors).
 * BatchNormWithGlobalNormalization (the older inference-only op) lives in ./batch-norm-global,
 * which shares the channel helpers below.
 */
import { invalidArgument } from "../diagnostics";
import { Tensor, type Operation } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp, type Attrs, type GradientRule, type KernelContext, type TensorSpec } from "../registry";
import { formatShape, sizeOf, type MaybeShape } from "../shape";
import { apply, convertToTensor, graphOf, type TensorLike } from "./build";
import type { DataFormat } from "./pool";

/** Where the channels of a concrete 4-D array sit: channel of flat index i = floor(i / inner) % channels. */
export interface ChannelLayout {
  channels: number;
  inner: number;
  /** Elements per channel (N·H·W). */
  count: number;
}

export function channelAxis(format: DataFormat): number {
  return format === "NCHW" ? 1 : 3;
}

export function channelLayout(shape: readonly number[], format: DataFormat): ChannelLayout {
  const channels = shape[channelAxis(format)];
  const inner = format === "NCHW" ? shape[2] * shape[3] : 1;
  return { channels, inner, count: channels === 0 ? 0 : sizeOf(shape) / channels };
}

const FORMATS = ["NHWC", "NCHW"] as const;

function fail(node: string, code: string, message: string, expected: string, received: string, fix: string): never {
  throw invalidArgument({ code, node, message, expected, received, fix });
}

/** Checks dtype float32 and, when known, the rank; returns the static shape. */
export function checkInput(spec: TensorSpec, what: string, rank: number, type: string, node: string): MaybeShape {
  if (spec.dtype !== "float32")
    fail(node, "bad-dtype", `${type} needs a float32 \`${what}\``, "float32", spec.dtype, `cast it: tf.cast(${what}, "float32")`);
  if (spec.shape !== null && spec.shape.length !== rank)
    fail(
      node,
      "bad-rank",
      `${type} needs \`${what}\` of rank ${rank}`,
      `rank ${rank}`,
      `shape ${formatShape(spec.shape)}`,
      rank === 4 ? "reshape it to 4 dimensions (for a 2-D [batch, channels] input use tf.nn.batchNormalization)" : `pass a vector with one entry per channel`,
    );
  return spec.shape;
}

/** Merges a per-channel vector's length into the channel count known so far. */
export function mergeChannels(channels: number | null, spec: TensorSpec, what: string, type: string, node: string, format: string): number | null {
  const d = spec.shape === null ? null : spec.shape[0];
  if (channels !== null && d !== null && d !== channels)
    fail(
      node,
      "channel-mismatch",
      `${type}: \`${what}\` has ${d} entries but the input has ${channels} channels (${format})`,
      `${channels} entries`,
      `shape ${formatShape(spec.shape)}`,
      `give \`${what}\` one entry per channel; check data_format (${format} puts channels in dimension ${format === "NCHW" ? 1 : 3})`,
    );
  return channels ?? d;
}

/** Run-time check of a per-channel vector (shapes unknown while building). */
export function checkVector(a: NDArray, what: string, channels: number, type: string, node: string): void {
  if (a.rank !== 1 || a.shape[0] !== channels)
    fail(node, "channel-mismatch", `${type}: \`${what}\` must have one entry per channel`, `shape [${channels}]`, `shape ${formatShape(a.shape)}`, `give \`${what}\` ${channels} entries`);
}

const forwardAttrs = {
  epsilon: { kind: "float" as const, default: 0.0001 },
  exponential_avg_factor: { kind: "float" as const, default: 1 },
  data_format: { kind: "string" as const, default: "NHWC", oneOf: FORMATS },
  is_training: { kind: "bool" as const, default: true },
};

/** Whether the op reads its mean and variance inputs. */
const readsStatistics = (attrs: Attrs) => !attrs.is_training || attrs.exponential_avg_factor !== 1;

function inferForward(type: string, reserve3: boolean) {
  return (inputs: TensorSpec[], attrs: Attrs, node: string): TensorSpec[] => {
    const format = attrs.data_format as DataFormat;
    const xs = checkInput(inputs[0], "x", 4, type, node);
    const axis = channelAxis(format);
    let c: number | null = xs === null ? null : xs[axis];
    const names = ["scale", "offset", "mean", "variance"];
    const vectors = readsStatistics(attrs) ? 4 : 2;
    for (let i = 1; i <= 4; i++) {
      // Unread statistics (training with factor 1) may be anything float32, e.g. empty.
      checkInput(i <= vectors ? inputs[i] : { dtype: inputs[i].dtype, shape: null }, names[i - 1], 1, type, node);
      if (i <= vectors) c = mergeChannels(c, inputs[i], names[i - 1], type, node, format);
    }
    const y = xs === null ? null : xs.map((d, i) => (i === axis ? c : d));
    const vec: TensorSpec = { dtype: "float32", shape: [c] };
    const out: TensorSpec[] = [{ dtype: "float32", shape: y }, vec, vec, vec, vec];
    if (reserve3) out.push({ dtype: "float32", shape: [] });
    return out;
  };
}

function forwardKernel(reserve3: boolean) {
  return ([x, scale, offset, mean, variance]: NDArray[], attrs: Attrs, ctx: KernelContext): NDArray[] => {
    const format = attrs.data_format as DataFormat;
    const type = "FusedBatchNorm";
    if (x.rank !== 4) checkInput({ dtype: "float32", shape: x.shape }, "x", 4, type, ctx.node);
    const { channels: C, inner, count: n } = channelLayout(x.shape, format);
    const training = attrs.is_training as boolean;
    const factor = attrs.exponential_avg_factor as number;
    const eps = attrs.epsilon as number;
    checkVector(scale, "scale", C, type, ctx.node);
    checkVector(offset, "offset", C, type, ctx.node);
    if (readsStatistics(attrs)) {
      checkVector(mean, "mean", C, type, ctx.node);
      checkVector(variance, "variance", C, type, ctx.node);
    }
    const src = x.data;
    const mu = new Float64Array(C);
    const sigma2 = new Float64Array(C);
    if (training) {
      for (let i = 0; i < src.length; i++) mu[Math.floor(i / inner) % C] += src[i];
      for (let c = 0; c < C; c++) mu[c] /= n;
      for (let i = 0; i < src.length; i++) {
        const d = src[i] - mu[Math.floor(i / inner) % C];
        sigma2[Math.floor(i / inner) % C] += d * d;
      }
      for (let c = 0; c < C; c++) sigma2[c] /= n;
    } else {
      mu.set(mean.data);
      sigma2.set(variance.data);
    }
    const mult = new Float64Array(C);
    for (let c = 0; c < C; c++) mult[c] = scale.data[c] / Math.sqrt(sigma2[c] + eps);
    const y = ctx.alloc("float32", x.size);
    for (let i = 0; i < src.length; i++) {
      const c = Math.floor(i / inner) % C;
      y[i] = (src[i] - mu[c]) * mult[c] + offset.data[c];
    }
    const vector = (f: (c: number) => number) => {
      const out = ctx.alloc("float32", C);
      for (let c = 0; c < C; c++) out[c] = n === 0 ? NaN : f(c);
      return new NDArray("float32", [C], out);
    };
    // TF's Bessel correction: n / max(n - 1, 1).
    const adjust = n / Math.max(n - 1, 1);
    const outputs = [new NDArray("float32", [...x.shape], y)];
    if (training) {
      const blend = (old: NDArray, v: number, c: number) => (factor === 1 ? v : (1 - factor) * old.data[c] + factor * v);
      outputs.push(vector((c) => blend(mean, mu[c], c)), vector((c) => blend(variance, sigma2[c] * adjust, c)));
    } else outputs.push(vector((c) => mu[c]), vector((c) => sigma2[c]));
    outputs.push(vector((c) => mu[c]), vector((c) => sigma2[c]));
    if (reserve3) outputs.push(new NDArray("float32", [], ctx.alloc("float32", 1)));
    return outputs;
  };
}

// ---------------------------------------------------------------------------------------------
// Gradient ops: (y_backprop, x, scale, reserve_space_1, reserve_space_2[, reserve_space_3]) →
// (x_backprop, scale_backprop, offset_backprop, reserve_space_3, reserve_space_4), the last two
// empty placeholders as in TF. Training (reserve spaces = batch mean, biased batch variance):
//   dx = scale·r·(dy - mean(dy) - (x - μ)·r²·mean(dy·(x - μ))),  r = rsqrt(σ² + ε)
// Inference (reserve spaces = the population mean and variance): dx = dy·scale·r.
// Both: scale_backprop = Σ dy·(x - μ)·r, offset_backprop = Σ dy.

const gradAttrs = {
  epsilon: { kind: "float" as const, default: 0.0001 },
  data_format: { kind: "string" as const, default: "NHWC", oneOf: FORMATS },
  is_training: { kind: "bool" as const, default: true },
};

function inferGrad(type: string) {
  return (inputs: TensorSpec[], attrs: Attrs, node: string): TensorSpec[] => {
    const format = attrs.data_format as DataFormat;
    const dys = checkInput(inputs[0], "y_backprop", 4, type, node);
    const xs = checkInput(inputs[1], "x", 4, type, node);
    if (dys !== null && xs !== null && dys.some((d, i) => d !== null && xs[i] !== null && d !== xs[i]))
      fail(node, "shape-mismatch", `${type}: \`y_backprop\` and \`x\` must have one shape`, formatShape(xs), formatShape(dys), "pass the gradient of y, which has x's shape");
    const shape = xs === null ? dys : xs.map((d, i) => d ?? (dys ? dys[i] : null));
    let c: number | null = shape === null ? null : shape[channelAxis(format)];
    const names = ["scale", "reserve_space_1", "reserve_space_2"];
    for (let i = 2; i <= 4; i++) {
      checkInput(inputs[i], names[i - 2], 1, type, node);
      c = mergeChannels(c, inputs[i], names[i - 2], type, node, format);
    }
    const vec: TensorSpec = { dtype: "float32", shape: [c] };
    const empty: TensorSpec = { dtype: "float32", shape: [0] };
    return [{ dtype: "float32", shape: shape?.map((d, i) => (i === channelAxis(format) ? c : d)) ?? null }, vec, vec, empty, empty];
  };
}

function gradKernel(type: string) {
  return ([dy, x, scale, mu, sigma2]: NDArray[], attrs: Attrs, ctx: KernelContext): NDArray[] => {
    const format = attrs.data_format as DataFormat;
    if (x.rank !== 4) checkInput({ dtype: "float32", shape: x.shape }, "x", 4, type, ctx.node);
    if (dy.shape.join() !== x.shape.join())
      fail(ctx.node, "shape-mismatch", `${type}: \`y_backprop\` and \`x\` must have one shape`, formatShape(x.shape), formatShape(dy.shape), "pass the gradient of y");
    const { channels: C, inner, count: n } = channelLayout(x.shape, format);
    for (const [a, what] of [[scale, "scale"], [mu, "reserve_space_1"], [sigma2, "reserve_space_2"]] as const) checkVector(a, what, C, type, ctx.node);
    const eps = attrs.epsilon as number;
    const r = new Float64Array(C);
    for (let c = 0; c < C; c++) r[c] = 1 / Math.sqrt(sigma2.data[c] + eps);
    const sumDy = new Float64Array(C);
    const sumDyXc = new Float64Array(C);
    for (let i = 0; i < x.size; i++) {
      const c = Math.floor(i / inner) % C;
      sumDy[c] += dy.data[i];
      sumDyXc[c] += dy.data[i] * (x.data[i] - mu.data[c]);
    }
    const dx = ctx.alloc("float32", x.size);
    if (attrs.is_training)
      for (let i = 0; i < x.size; i++) {
        const c = Math.floor(i / inner) % C;
        const xc = x.data[i] - mu.data[c];
        dx[i] = scale.data[c] * r[c] * (dy.data[i] - sumDy[c] / n - xc * r[c] * r[c] * (sumDyXc[c] / n));
      }
    else
      for (let i = 0; i < x.size; i++) {
        const c = Math.floor(i / inner) % C;
        dx[i] = dy.data[i] * scale.data[c] * r[c];
      }
    const dScale = ctx.alloc("float32", C);
    const dOffset = ctx.alloc("float32", C);
    for (let c = 0; c < C; c++) {
      dScale[c] = sumDyXc[c] * r[c];
      dOffset[c] = sumDy[c];
    }
    const empty = () => new NDArray("float32", [0], ctx.alloc("float32", 0));
    return [new NDArray("float32", [...x.shape], dx), new NDArray("float32", [C], dScale), new NDArray("float32", [C], dOffset), empty(), empty()];
  };
}

/**
 * TF's _BaseFusedBatchNormGrad: only y's gradient flows (the gradients of batch_mean and
 * batch_variance are ignored, as in TF), and mean / variance get none, in inference too.
 * Unlike TF, inference NCHW is not transposed to NHWC around the grad op: the kernel takes NCHW.
 */
function fusedGradient(gradType: string, reserve3: boolean): GradientRule {
  return (op: Operation, [dy]: (Tensor | null)[]) => {
    if (!dy) return op.inputs.map(() => null);
    const [x, scale, , mean, variance] = op.inputs;
    const training = op.attrs.is_training as boolean;
    const inputs = [dy, x, scale, training ? op.outputs[3] : mean, training ? op.outputs[4] : variance];
    if (reserve3) inputs.push(op.outputs[5]);
    const { epsilon, data_format, is_training } = op.attrs;
    const g = apply(gradType, inputs, { epsilon, data_format, is_training }, gradType);
    return [g.outputs[0], g.outputs[1], g.outputs[2], null, null];
  };
}

const VERSIONS = [
  { type: "FusedBatchNorm", grad: "FusedBatchNormGrad", reserve3: false },
  { type: "FusedBatchNormV2", grad: "FusedBatchNormGradV2", reserve3: false },
  { type: "FusedBatchNormV3", grad: "FusedBatchNormGradV3", reserve3: true },
];

for (const v of VERSIONS) {
  registerOp({
    type: v.type,
    inputs: 5,
    attrs: forwardAttrs,
    infer: inferForward(v.type, v.reserve3),
    kernel: forwardKernel(v.reserve3),
    gradient: fusedGradient(v.grad, v.reserve3),
  });
  registerOp({
    type: v.grad,
    inputs: v.reserve3 ? 6 : 5,
    attrs: gradAttrs,
    infer: inferGrad(v.grad),
    kernel: gradKernel(v.grad),
  });
}

// ---------------------------------------------------------------------------------------------
// Builders (the raw ops; tf.nn.fusedBatchNorm in src/nn/batch-norm.ts is TF1's Python wrapper).

export interface FusedBatchNormOpOptions {
  /** Defaults to 1e-4, the op's default (the tf.nn wrapper uses 1e-3 and clamps to 1.001e-5). */
  epsilon?: number;
  dataFormat?: DataFormat;
  isTraining?: boolean;
  exponentialAvgFactor?: number;
  /** 1: FusedBatchNorm, 2: FusedBatchNormV2, 3 (default): FusedBatchNormV3. */
  version?: 1 | 2 | 3;
  name?: string;
}

/** Builds FusedBatchNorm / V2 / V3 and returns the operation (outputs as listed at the top). */
export function fusedBatchNormOp(
  x: TensorLike,
  scale: TensorLike,
  offset: TensorLike,
  mean: TensorLike,
  variance: TensorLike,
  options: FusedBatchNormOpOptions = {},
): Operation {
  const type = VERSIONS[(options.version ?? 3) - 1].type;
  const g = graphOf([x, scale, offset, mean, variance]);
  const inputs = [x, scale, offset, mean, variance].map((v) => (v instanceof Tensor ? v : convertToTensor(v, "float32", "Const", g)));
  const attrs: Attrs = {
    epsilon: options.epsilon ?? 0.0001,
    exponential_avg_factor: options.exponentialAvgFactor ?? 1,
    data_format: options.dataFormat ?? "NHWC",
    is_training: options.isTraining ?? true,
  };
  return g.addOp({ type, inputs, attrs, name: options.name ?? type });
}
