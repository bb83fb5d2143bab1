/**
 * Fused batch normalization (FusedBatchNorm / V2 / V3, NHWC and NCHW) and its gradient ops, and
 * BatchNormWithGlobalNormalization. Outputs as the reference kernels (ir/ops/batch-norm.ts):
 *   training    kernel 1, one workgroup per channel: mean μ and biased variance σ² (two passes,
 *               tree reductions) → batch_mean, batch_variance (Bessel n/(n-1), blended with the
 *               inputs when exponential_avg_factor ≠ 1), reserve_space_1 = μ, reserve_space_2 = σ²,
 *               reserve_space_3 = 0 (V3); kernel 2, one thread per element:
 *               y = (x - μ)·scale/sqrt(σ² + ε) + offset, reading reserve spaces 1 and 2
 *   inference   kernel 1: y from mean and variance; kernel 2 copies them to outputs 1..4
 *   gradient    one workgroup per channel: Σdy and Σdy·(x - μ) by tree reduction, then dx
 *               (training or inference formula), scale_backprop and offset_backprop
 * Two kernels for the forward op keep every dispatch within 8 storage buffers.
 */
import type { DataFormat } from "../../ir/ops/pool";
import {
  BUILTINS, GROUP_INDEX, elementKernel, f32, gridOf, powerOfTwo, sizeOf, storage, u32,
  type EmitContext, type KernelBinding, type OpKernels, type WgslKernel,
} from "./common";

interface Channels {
  channels: number;
  /** Elements per channel. */
  count: number;
  /** NCHW: H·W (a channel's contiguous run); NHWC: 1. */
  inner: number;
}

function channelsOf(shape: readonly number[], format: DataFormat): Channels {
  const channels = shape[format === "NCHW" ? 1 : 3];
  const inner = format === "NCHW" ? shape[2] * shape[3] : 1;
  return { channels, inner, count: channels === 0 ? 0 : sizeOf(shape) / channels };
}

/** The flat index of element `j` of channel `c`. */
function elementOf(j: string, c: string, ch: Channels): string {
  if (ch.inner === 1) return `${j} * ${u32(ch.channels)} + ${c}`;
  return `(${j} / ${u32(ch.inner)}) * ${u32(ch.channels * ch.inner)} + ${c} * ${u32(ch.inner)} + ${j} % ${u32(ch.inner)}`;
}

/** The channel of flat element `i`. */
function channelOf(i: string, ch: Channels): string {
  return ch.inner === 1 ? `${i} % ${u32(ch.channels)}` : `(${i} / ${u32(ch.inner)}) % ${u32(ch.channels)}`;
}

/** A workgroup-per-channel kernel; `body` sees c and may use `reduce(local, result)`. */
function channelKernel(label: string, decls: string[], channels: number, wg: number, body: string, bindings: KernelBinding[], arrays = 1): WgslKernel {
  const code = `// ${label}
${decls.join("\n")}
${Array.from({ length: arrays }, (_, k) => `var<workgroup> partial${k}: array<f32, ${wg}>;`).join("\n")}

@compute @workgroup_size(${wg})
fn main(${BUILTINS}) {
  let c = ${GROUP_INDEX};
  if (c >= ${u32(channels)}) { return; }
${body
  .split("\n")
  .map((l) => (l ? `  ${l}` : l))
  .join("\n")}
}
`;
  return { label, code, entryPoint: "main", workgroupCount: gridOf(channels), bindings };
}

/** Tree-reduces f32 sums `locals[k]` through partial{k} into `let results[k]`. */
function sumReduce(locals: string[], results: string[], wg: number): string {
  const store = locals.map((l, k) => `partial${k}[lid] = ${l};`).join("\n");
  const step = locals.map((_, k) => `partial${k}[lid] = partial${k}[lid] + partial${k}[lid + s];`).join(" ");
  const read = results.map((r, k) => `let ${r} = partial${k}[0];`).join("\n");
  return `${store}
workgroupBarrier();
for (var s = ${u32(wg / 2)}; s > 0u; s = s >> 1u) {
  if (lid < s) { ${step} }
  workgroupBarrier();
}
${read}
workgroupBarrier();`;
}

const input = (binding: number, index: number): KernelBinding => ({ binding, kind: "input", index, access: "read" });
const output = (binding: number, index: number, access: "read" | "read_write" = "read_write"): KernelBinding => ({ binding, kind: "output", index, access });

export function emitFusedBatchNorm(ctx: EmitContext): OpKernels {
  const attrs = ctx.op.attrs;
  const format = (attrs.data_format as DataFormat | undefined) ?? "NHWC";
  const ch = channelsOf(ctx.inputShapes[0], format);
  const v3 = ctx.op.outputs.length === 6;
  const eps = attrs.epsilon as number;
  const label = `${ctx.op.type} ${ctx.op.name}`;
  const total = ch.count * ch.channels;
  const kernels: WgslKernel[] = [];
  if (attrs.is_training === false) {
    if (total > 0) {
      const decls = ["x", "scale", "offset", "mean", "variance"].map((n, k) => storage(k, n, "float32", "read"));
      decls.push(storage(5, "y", "float32", "read_write"));
      const body = `let c = ${channelOf("i", ch)};
y[i] = (x[i] - mean[c]) * (scale[c] / sqrt(variance[c] + ${f32(eps)})) + offset[c];`;
      kernels.push(elementKernel(`${label} (normalize)`, decls, total, body, [0, 1, 2, 3, 4].map((k) => input(k, k)).concat(output(5, 0))));
    }
    const decls = [storage(0, "mean", "float32", "read"), storage(1, "variance", "float32", "read")];
    const outs = ["batchMean", "batchVariance", "reserve1", "reserve2"];
    outs.forEach((n, k) => decls.push(storage(2 + k, n, "float32", "read_write")));
    let body = `let nan = ${f32(ch.count === 0 ? NaN : 0)};
batchMean[i] = mean[i] + nan;
batchVariance[i] = variance[i] + nan;
reserve1[i] = mean[i] + nan;
reserve2[i] = variance[i] + nan;`;
    const bindings = [input(0, 3), input(1, 4), ...outs.map((_, k) => output(2 + k, 1 + k))];
    if (v3) {
      decls.push(storage(6, "reserve3", "float32", "read_write"));
      bindings.push(output(6, 5));
      body += "\nif (i == 0u) { reserve3[0] = 0.0f; }";
    }
    if (ch.channels > 0) kernels.push(elementKernel(`${label} (statistics)`, decls, ch.channels, body, bindings));
    return { kernels, scratch: [], aliases: [] };
  }
  const factor = attrs.exponential_avg_factor as number;
  const blend = factor !== 1;
  const wg = powerOfTwo(ch.count, 32, 256);
  const decls = [storage(0, "x", "float32", "read")];
  const bindings: KernelBinding[] = [input(0, 0)];
  if (blend) {
    decls.push(storage(1, "mean", "float32", "read"), storage(2, "variance", "float32", "read"));
    bindings.push(input(1, 3), input(2, 4));
  }
  const first = bindings.length;
  ["batchMean", "batchVariance", "reserve1", "reserve2", ...(v3 ? ["reserve3"] : [])].forEach((n, k) => {
    decls.push(storage(first + k, n, "float32", "read_write"));
    bindings.push(output(first + k, 1 + k));
  });
  const n = ch.count;
  const adjust = n / Math.max(n - 1, 1);
  const mixed = (old: string, v: string) => (blend ? `${f32(1 - factor)} * ${old}[c] + ${f32(factor)} * ${v}` : v);
  const body = `var localSum = 0.0f;
for (var j = lid; j < ${u32(n)}; j = j + ${u32(wg)}) { localSum = localSum + x[${elementOf("j", "c", ch)}]; }
${sumReduce(["localSum"], ["sum"], wg)}
let mu = sum / ${f32(n)};
var localSquares = 0.0f;
for (var j = lid; j < ${u32(n)}; j = j + ${u32(wg)}) {
  let d = x[${elementOf("j", "c", ch)}] - mu;
  localSquares = localSquares + d * d;
}
${sumReduce(["localSquares"], ["squares"], wg)}
let sigma2 = squares / ${f32(n)};
if (lid == 0u) {
  batchMean[c] = ${mixed("mean", "mu")};
  batchVariance[c] = ${mixed("variance", `sigma2 * ${f32(adjust)}`)};
  reserve1[c] = mu;
  reserve2[c] = sigma2;${v3 ? "\n  if (c == 0u) { reserve3[0] = 0.0f; }" : ""}
}`;
  if (ch.channels > 0) kernels.push(channelKernel(`${label} (statistics)`, decls, ch.channels, wg, body, bindings));
  if (total > 0) {
    const d2 = ["x", "scale", "offset"].map((name, k) => storage(k, name, "float32", "read"));
    d2.push(storage(3, "mu", "float32", "read"), storage(4, "sigma2", "float32", "read"), storage(5, "y", "float32", "read_write"));
    const b2 = [input(0, 0), input(1, 1), input(2, 2), output(3, 3, "read"), output(4, 4, "read"), output(5, 0)];
    const normalize = `let c = ${channelOf("i", ch)};
y[i] = (x[i] - mu[c]) * (scale[c] / sqrt(sigma2[c] + ${f32(eps)})) + offset[c];`;
    kernels.push(elementKernel(`${label} (normalize)`, d2, total, normalize, b2));
  }
  return { kernels, scratch: [], aliases: [] };
}

export function emitFusedBatchNormGrad(ctx: EmitContext): OpKernels {
  const attrs = ctx.op.attrs;
  const format = (attrs.data_format as DataFormat | undefined) ?? "NHWC";
  const ch = channelsOf(ctx.inputShapes[1], format);
  const eps = attrs.epsilon as number;
  const n = ch.count;
  if (ch.channels === 0) return { kernels: [], scratch: [], aliases: [] };
  const wg = powerOfTwo(n, 32, 256);
  const names = ["dy", "x", "scale", "mu", "sigma2"];
  const decls = names.map((name, k) => storage(k, name, "float32", "read"));
  ["dx", "dScale", "dOffset"].forEach((name, k) => decls.push(storage(5 + k, name, "float32", "read_write")));
  const bindings = [...names.map((_, k) => input(k, k)), output(5, 0), output(6, 1), output(7, 2)];
  const dx = attrs.is_training === false
    ? "dy[e] * scale[c] * r"
    : `scale[c] * r * (dy[e] - sumDy / ${f32(n)} - (x[e] - mu[c]) * r * r * (sumDyXc / ${f32(n)}))`;
  const body = `let r = 1.0f / sqrt(sigma2[c] + ${f32(eps)});
var localDy = 0.0f;
var localDyXc = 0.0f;
for (var j = lid; j < ${u32(n)}; j = j + ${u32(wg)}) {
  let e = ${elementOf("j", "c", ch)};
  localDy = localDy + dy[e];
  localDyXc = localDyXc + dy[e] * (x[e] - mu[c]);
}
${sumReduce(["localDy", "localDyXc"], ["sumDy", "sumDyXc"], wg)}
for (var j = lid; j < ${u32(n)}; j = j + ${u32(wg)}) {
  let e = ${elementOf("j", "c", ch)};
  dx[e] = ${dx};
}
if (lid == 0u) {
  dScale[c] = sumDyXc * r;
  dOffset[c] = sumDy;
}`;
  return { kernels: [channelKernel(`${ctx.op.type} ${ctx.op.name}`, decls, ch.channels, wg, body, bindings, 2)], scratch: [], aliases: [] };
}

/** BatchNormWithGlobalNormalization: (t - m)·rsqrt(v + ε)·(gamma?) + beta, channels last. */
export function emitGlobalBatchNorm(ctx: EmitContext): OpKernels {
  const shape = ctx.inputShapes[0];
  const total = sizeOf(shape);
  if (total === 0) return { kernels: [], scratch: [], aliases: [] };
  const C = shape[3];
  const eps = ctx.op.attrs.variance_epsilon as number;
  const gamma = ctx.op.attrs.scale_after_normalization ? "gamma[c]" : "1.0f";
  const decls = ["t", "m", "v", "beta", "gamma"].map((name, k) => storage(k, name, "float32", "read"));
  decls.push(storage(5, "y", "float32", "read_write"));
  const body = `let c = i % ${u32(C)};
y[i] = (t[i] - m[c]) * (${gamma} / sqrt(v[c] + ${f32(eps)})) + beta[c];`;
  const bindings = [0, 1, 2, 3, 4].map((k) => input(k, k)).concat(output(5, 0));
  if (!ctx.op.attrs.scale_after_normalization) {
    // gamma is not read: leave it out of the module and the bindings (unused bindings are dropped by auto layouts).
    decls.splice(4, 1);
    bindings.splice(4, 1);
    decls[4] = storage(4, "y", "float32", "read_write");
    bindings[4] = output(4, 0);
  }
  return { kernels: [elementKernel(`BatchNormWithGlobalNormalization ${ctx.op.name}`, decls, total, body, bindings)], scratch: [], aliases: [] };
}
