/**
 * FusedBatchNorm / V2 / V3 and their gradient ops, NHWC and NCHW, following
 * ir/ops/batch-norm.ts step for step (per-channel statistics in float64, the Bessel-corrected
 * batch variance, exponential_avg_factor blending). The loops walk the input in flat order with
 * the channel as a loop variable instead of a division per element. The normalized output goes
 * through `ctx.store`, so a Relu after the batch norm is fused into the same loop.
 */
import { sizeOf } from "../../../ir/shape";
import { literal, registerEmitter, type EmitContext } from "../emitter";
import type { ConcreteSpec } from "../specs";

interface Layout {
  outer: number;
  channels: number;
  inner: number;
  count: number;
}

function layout(shape: number[], format: unknown): Layout {
  const nchw = format === "NCHW";
  const channels = shape[nchw ? 1 : 3];
  const inner = nchw ? shape[2] * shape[3] : 1;
  const size = sizeOf(shape);
  return { outer: channels * inner === 0 ? 0 : size / (channels * inner), channels, inner, count: channels === 0 ? 0 : size / channels };
}

/** Loops over every element in flat order with `i` the flat index and `c` its channel. */
function eachElement(l: Layout, body: string): string {
  if (l.outer === 0) return "";
  const inner =
    l.inner === 1
      ? `{ const i = b * ${l.channels} + c;\n${body}\n}`
      : `for (let q = 0, i = (b * ${l.channels} + c) * ${l.inner}; q < ${l.inner}; q++, i++) {\n${body}\n}`;
  return `for (let b = 0; b < ${l.outer}; b++) for (let c = 0; c < ${l.channels}; c++) ${inner}`;
}

const vectorOk = (s: ConcreteSpec, c: number) => s.shape.length === 1 && s.shape[0] === c;

function forward(ctx: EmitContext, reserve3: boolean): string {
  const x = ctx.inSpec(0).shape;
  const l = layout(x, ctx.op.attrs.data_format);
  const C = l.channels;
  const n = l.count;
  const training = ctx.op.attrs.is_training as boolean;
  const factor = ctx.op.attrs.exponential_avg_factor as number;
  const eps = literal(ctx.op.attrs.epsilon as number);
  const [X, scale, offset] = [ctx.input(0), ctx.input(1), ctx.input(2)];
  const mu = ctx.scratch("f64", C);
  const sigma2 = ctx.scratch("f64", C);
  const mult = ctx.scratch("f64", C);
  const lines = [`for (let c = 0; c < ${C}; c++) { ${mu}[c] = 0; ${sigma2}[c] = 0; }`];
  if (training) {
    lines.push(
      eachElement(l, `${mu}[c] += ${X}[i];`),
      `for (let c = 0; c < ${C}; c++) ${mu}[c] /= ${n};`,
      eachElement(l, `const d = ${X}[i] - ${mu}[c]; ${sigma2}[c] += d * d;`),
      `for (let c = 0; c < ${C}; c++) ${sigma2}[c] /= ${n};`,
    );
  } else {
    const [mean, variance] = [ctx.input(3), ctx.input(4)];
    lines.push(`for (let c = 0; c < ${C}; c++) { ${mu}[c] = ${mean}[c]; ${sigma2}[c] = ${variance}[c]; }`);
  }
  lines.push(`for (let c = 0; c < ${C}; c++) ${mult}[c] = ${scale}[c] / Math.sqrt(${sigma2}[c] + ${eps});`);
  lines.push(eachElement(l, ctx.store(0, "i", `(${X}[i] - ${mu}[c]) * ${mult}[c] + ${offset}[c]`)));
  const vector = (i: number, f: string) => {
    if (!ctx.needed(i)) return "";
    return `for (let c = 0; c < ${C}; c++) ${ctx.output(i)}[c] = ${n === 0 ? "NaN" : f};`;
  };
  const adjust = literal(n / Math.max(n - 1, 1));
  if (training) {
    const blend = (old: string, v: string) => (factor === 1 ? v : `(1 - ${literal(factor)}) * ${old}[c] + ${literal(factor)} * (${v})`);
    lines.push(vector(1, blend(ctx.input(3), `${mu}[c]`)), vector(2, blend(ctx.input(4), `${sigma2}[c] * ${adjust}`)));
  } else lines.push(vector(1, `${mu}[c]`), vector(2, `${sigma2}[c]`));
  lines.push(vector(3, `${mu}[c]`), vector(4, `${sigma2}[c]`));
  if (reserve3 && ctx.needed(5)) lines.push(`${ctx.output(5)}[0] = 0;`);
  return lines.filter(Boolean).join("\n");
}

function backward(ctx: EmitContext): string {
  const x = ctx.inSpec(1).shape;
  const l = layout(x, ctx.op.attrs.data_format);
  const C = l.channels;
  const n = l.count;
  const eps = literal(ctx.op.attrs.epsilon as number);
  const [DY, X, scale, mu, sigma2] = [0, 1, 2, 3, 4].map((i) => ctx.input(i));
  const r = ctx.scratch("f64", C);
  const sumDy = ctx.scratch("f64", C);
  const sumDyXc = ctx.scratch("f64", C);
  const DX = ctx.output(0);
  const dx = ctx.op.attrs.is_training
    ? `const xc = ${X}[i] - ${mu}[c]; ${DX}[i] = ${scale}[c] * ${r}[c] * (${DY}[i] - ${sumDy}[c] / ${n} - xc * ${r}[c] * ${r}[c] * (${sumDyXc}[c] / ${n}));`
    : `${DX}[i] = ${DY}[i] * ${scale}[c] * ${r}[c];`;
  return [
    `for (let c = 0; c < ${C}; c++) { ${r}[c] = 1 / Math.sqrt(${sigma2}[c] + ${eps}); ${sumDy}[c] = 0; ${sumDyXc}[c] = 0; }`,
    eachElement(l, `${sumDy}[c] += ${DY}[i]; ${sumDyXc}[c] += ${DY}[i] * (${X}[i] - ${mu}[c]);`),
    eachElement(l, dx),
    `for (let c = 0; c < ${C}; c++) { ${ctx.output(1)}[c] = ${sumDyXc}[c] * ${r}[c]; ${ctx.output(2)}[c] = ${sumDy}[c]; }`,
  ]
    .filter(Boolean)
    .join("\n");
}

for (const [type, grad, reserve3] of [
  ["FusedBatchNorm", "FusedBatchNormGrad", false],
  ["FusedBatchNormV2", "FusedBatchNormGradV2", false],
  ["FusedBatchNormV3", "FusedBatchNormGradV3", true],
] as const) {
  registerEmitter(type, {
    epilogue: true,
    supports: (op, spec) => {
      const x = spec(op.inputs[0]).shape;
      if (x.length !== 4) return false;
      const C = layout(x, op.attrs.data_format).channels;
      const reads = !op.attrs.is_training || op.attrs.exponential_avg_factor !== 1;
      return [1, 2, ...(reads ? [3, 4] : [])].every((i) => vectorOk(spec(op.inputs[i]), C));
    },
    emit: (ctx) => forward(ctx, reserve3),
  });
  registerEmitter(grad, {
    supports: (op, spec) => {
      const x = spec(op.inputs[1]).shape;
      if (x.length !== 4 || spec(op.inputs[0]).shape.join() !== x.join()) return false;
      const C = layout(x, op.attrs.data_format).channels;
      return [2, 3, 4].every((i) => vectorOk(spec(op.inputs[i]), C));
    },
    emit: backward,
  });
}
