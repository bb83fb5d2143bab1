/**
 * Reductions: Sum, Mean, Max, Min, Prod, All, Any over constant axes, and the two gradient
 * helpers that are sums too: SumToShape (a broadcast gradient back to its input's shape) and
 * BiasAddGrad (every axis but the channel). Input dims are coalesced into alternating kept and
 * reduced runs; when the innermost run is reduced it is a tight loop on a local accumulator.
 * Elements are visited in the reference kernels' order, accumulated in float64 where they
 * accumulate in float64, and rounded after each addition where they accumulate in the output.
 * Also ArgMax / ArgMin.
 */
import type { DType } from "../../../ir/dtype";
import { normalizeAxis, sizeOf, stridesOf } from "../../../ir/shape";
import { literal, registerEmitter, type EmitContext } from "../emitter";
import { coalesce, nestedLoops } from "../loops";

interface Reducer {
  init: number;
  step: (acc: string, v: string) => string;
  finish?: (acc: string, count: number) => string;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

function reducer(type: string, dtype: DType): Reducer {
  const isInt = dtype === "int32";
  switch (type) {
    case "Sum":
      return { init: 0, step: (a, v) => `${a} + ${v}` };
    case "Mean":
      return {
        init: 0,
        step: (a, v) => `${a} + ${v}`,
        finish: (a, count) => (isInt ? (count === 0 ? "0" : `Math.trunc((${a} | 0) / ${count})`) : `${a} / ${count}`),
      };
    case "Max":
      return { init: -Infinity, step: (a, v) => `(${v} > ${a} ? ${v} : ${a})`, finish: isInt ? (a) => `(Number.isFinite(${a}) ? ${a} : ${INT32_MIN})` : undefined };
    case "Min":
      return { init: Infinity, step: (a, v) => `(${v} < ${a} ? ${v} : ${a})`, finish: isInt ? (a) => `(Number.isFinite(${a}) ? ${a} : ${INT32_MAX})` : undefined };
    case "Prod":
      return { init: 1, step: (a, v) => (isInt ? `Math.imul(${a}, ${v})` : `${a} * ${v}`) };
    case "All":
      return { init: 1, step: (a, v) => `(${a} && ${v} ? 1 : 0)` };
    case "Any":
      return { init: 0, step: (a, v) => `(${a} || ${v} ? 1 : 0)` };
    default:
      throw new Error(`no reducer for ${type}`);
  }
}

/**
 * Reduces input 0 (shape `shape`) to `kept` (same rank, reduced dims 1). `acc` is the array
 * accumulated into (a float64 scratch, or the output itself with `round` after each step).
 */
function reduction(ctx: EmitContext, shape: number[], kept: number[], r: Reducer, mode: { acc: string; round?: (e: string) => string }): string {
  const X = ctx.input(0);
  const outSize = sizeOf(kept);
  const inStrides = stridesOf(shape);
  const keptStrides = stridesOf(kept);
  const outStrides = shape.map((d, i) => (kept[i] === 1 && d !== 1 ? 0 : keptStrides[i]));
  const { sizes, strides } = coalesce(shape, [inStrides, outStrides]);
  const round = mode.round ?? ((e: string) => e);
  const lines = [`for (let o = 0; o < ${outSize}; o++) ${mode.acc}[o] = ${literal(r.init)};`];
  if (sizeOf(shape) === 0) return lines.join("\n");
  const last = sizes.length - 1;
  if (last >= 0 && strides[1][last] === 0) {
    // Innermost run reduced: a local accumulator.
    const n = sizes[last];
    const step = strides[0][last];
    const v = ctx.names.next("v");
    lines.push(
      nestedLoops(ctx.names, sizes.slice(0, last), strides.map((s) => s.slice(0, last)), ([xi, oi]) => {
        const s = ctx.names.next("s");
        const r2 = ctx.names.next("r");
        const at = step === 1 ? `${xi} + ${r2}` : `${xi} + ${r2} * ${step}`;
        return [
          `let ${s} = ${mode.acc}[${oi}];`,
          `for (let ${r2} = 0; ${r2} < ${n}; ${r2}++) { const ${v} = ${X}[${at}]; ${s} = ${round(r.step(s, v))}; }`,
          `${mode.acc}[${oi}] = ${s};`,
        ].join("\n");
      }),
    );
  } else {
    const v = ctx.names.next("v");
    lines.push(
      nestedLoops(ctx.names, sizes, strides, ([xi, oi]) => `{ const ${v} = ${X}[${xi}]; ${mode.acc}[${oi}] = ${round(r.step(`${mode.acc}[${oi}]`, v))}; }`),
    );
  }
  return lines.join("\n");
}

/** Float64 accumulation, then the finished values into output 0 (the reference's Float64Array acc). */
function reduceToOutput(ctx: EmitContext, shape: number[], kept: number[], r: Reducer): string {
  const outSize = sizeOf(kept);
  const acc = ctx.scratch("f64", outSize);
  const count = outSize === 0 ? 0 : sizeOf(shape) / outSize;
  const finish = r.finish ? r.finish(`${acc}[o]`, count) : `${acc}[o]`;
  return `${reduction(ctx, shape, kept, r, { acc })}\nfor (let o = 0; o < ${outSize}; o++) ${ctx.output(0)}[o] = ${finish};`;
}

function axesOf(ctx: EmitContext, rank: number): Set<number> {
  const axes = ctx.inSpec(1).value!;
  return new Set(Array.from(axes.data, (a) => normalizeAxis(a, rank, ctx.op.name)));
}

registerEmitter(["Sum", "Mean", "Max", "Min", "Prod", "All", "Any"], {
  supports: (op, spec) => spec(op.inputs[1]).value !== undefined,
  emit: (ctx) => {
    const shape = ctx.inSpec(0).shape;
    const axes = axesOf(ctx, shape.length);
    const kept = shape.map((d, i) => (axes.has(i) ? 1 : d));
    return reduceToOutput(ctx, shape, kept, reducer(ctx.op.type, ctx.inSpec(0).dtype));
  },
});

registerEmitter("BiasAddGrad", {
  emit: (ctx) => {
    const shape = ctx.inSpec(0).shape;
    const axis = ctx.op.attrs.data_format === "NCHW" ? 1 : shape.length - 1;
    const kept = shape.map((d, i) => (i === axis ? d : 1));
    return reduceToOutput(ctx, shape, kept, reducer("Sum", ctx.inSpec(0).dtype));
  },
});

registerEmitter("SumToShape", {
  // The reference accumulates into its output array: round after each addition the same way.
  emit: (ctx) => {
    const shape = ctx.inSpec(0).shape;
    const target = ctx.outSpec(0).shape;
    const offset = shape.length - target.length;
    const kept = shape.map((d, i) => (i < offset ? 1 : target[i - offset] === 1 ? 1 : d));
    const dtype = ctx.outSpec(0).dtype;
    const round = dtype === "float32" ? (e: string) => `Math.fround(${e})` : (e: string) => `((${e}) | 0)`;
    return reduction(ctx, shape, kept, reducer("Sum", dtype), { acc: ctx.output(0), round });
  },
  supports: (op, spec) => {
    const shape = spec(op.inputs[0]).shape;
    const target = spec(op.outputs[0]).shape;
    const offset = shape.length - target.length;
    return offset >= 0 && target.every((d, i) => d === 1 || d === shape[i + offset]);
  },
});

for (const [type, better] of [["ArgMax", ">"], ["ArgMin", "<"]] as const)
  registerEmitter(type, {
    supports: (op, spec) => {
      const x = spec(op.inputs[0]).shape;
      const dim = spec(op.inputs[1]).value;
      if (!dim) return false;
      const axis = dim.data[0] < 0 ? dim.data[0] + x.length : dim.data[0];
      return axis >= 0 && axis < x.length && (x[axis] > 0 || sizeOf(x) === 0);
    },
    emit: (ctx) => {
      const x = ctx.inSpec(0).shape;
      const axis = normalizeAxis(ctx.inSpec(1).value!.data[0], x.length, ctx.op.name);
      const n = x[axis];
      const inner = sizeOf(x.slice(axis + 1));
      const outer = sizeOf(x.slice(0, axis));
      const X = ctx.input(0);
      const Y = ctx.output(0);
      if (outer * inner === 0) return "";
      return [
        `for (let o = 0; o < ${outer}; o++) for (let i = 0; i < ${inner}; i++) {`,
        `const base = o * ${n * inner} + i; let best = ${X}[base]; let at = 0;`,
        `for (let q = 1; q < ${n}; q++) { const v = ${X}[base + q * ${inner}]; if (v ${better} best) { best = v; at = q; } }`,
        `${Y}[o * ${inner} + i] = at;`,
        "}",
      ].join("\n");
    },
  });
