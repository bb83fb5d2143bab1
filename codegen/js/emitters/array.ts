/**
 * Data movement: Transpose, Slice, ConcatV2, Pack, Split, SplitV, Unpack, Tile, Pad, GatherV2,
 * OneHot. Most are boxes copied between strided layouts: one nested loop per box, dims merged
 * where both sides stay contiguous (a concat along the last axis copies whole rows). Axes,
 * permutations, sizes and paddings must be compile-time constants (they are Consts or folded
 * shape arithmetic); otherwise the op falls back to its reference kernel.
 */
import { invalidArgument } from "../../../ir/diagnostics";
import type { Operation } from "../../../ir/graph";
import { normalizeAxis, sizeOf, stridesOf } from "../../../ir/shape";
import { literal, registerEmitter, type EmitContext } from "../emitter";
import { coalesce, nestedLoops, type Names } from "../loops";
import type { ConcreteSpec } from "../specs";

type SpecOf = (t: { name: string }) => ConcreteSpec;

/** dst[dstBase + Σ i_d·dstStride_d] = src[srcBase + Σ i_d·srcStride_d] over the box `sizes`. */
export function copyBox(names: Names, src: string, srcBase: number, srcStrides: number[], dst: string, dstBase: number, dstStrides: number[], sizes: number[]): string {
  if (sizeOf(sizes) === 0) return "";
  const { sizes: s, strides } = coalesce(sizes, [srcStrides, dstStrides]);
  const at = (base: number, off: string) => (base === 0 ? off : off === "0" ? String(base) : `${base} + ${off}`);
  return nestedLoops(names, s, strides, ([i, o]) => `${dst}[${at(dstBase, o)}] = ${src}[${at(srcBase, i)}];`);
}

const constants = (...inputs: number[]) => (op: Operation, spec: SpecOf) => inputs.every((i) => spec(op.inputs[i]).value !== undefined);
const ints = (s: ConcreteSpec) => Array.from(s.value!.data);

registerEmitter("Transpose", {
  supports: constants(1),
  emit: (ctx) => {
    const x = ctx.inSpec(0).shape;
    const perm = ints(ctx.inSpec(1));
    const y = ctx.outSpec(0).shape;
    const xs = stridesOf(x);
    return copyBox(ctx.names, ctx.input(0), 0, perm.map((p) => xs[p]), ctx.output(0), 0, stridesOf(y), y);
  },
});

registerEmitter("Slice", {
  supports: constants(1, 2),
  emit: (ctx) => {
    const x = ctx.inSpec(0).shape;
    const begin = ints(ctx.inSpec(1));
    const y = ctx.outSpec(0).shape;
    const xs = stridesOf(x);
    const base = begin.reduce((acc, b, d) => acc + b * xs[d], 0);
    return copyBox(ctx.names, ctx.input(0), base, xs, ctx.output(0), 0, stridesOf(y), y);
  },
});

/** Copies each input into output 0 at increasing offsets along `axis` of the output. */
function joinAlong(ctx: EmitContext, inputs: number[], axis: number, shapeOf: (i: number) => number[]): string {
  const y = ctx.outSpec(0).shape;
  const ys = stridesOf(y);
  let at = 0;
  const parts: string[] = [];
  for (const i of inputs) {
    const s = shapeOf(i);
    parts.push(copyBox(ctx.names, ctx.input(i), 0, stridesOf(s), ctx.output(0), at * ys[axis], ys, s));
    at += s[axis];
  }
  return parts.filter(Boolean).join("\n");
}

registerEmitter("ConcatV2", {
  supports: (op, spec) => spec(op.inputs[op.inputs.length - 1]).value !== undefined,
  emit: (ctx) => {
    const n = ctx.op.inputs.length - 1;
    const y = ctx.outSpec(0).shape;
    const axis = normalizeAxis(ctx.inSpec(n).value!.data[0], y.length, ctx.op.name);
    return joinAlong(ctx, [...Array(n).keys()], axis, (i) => ctx.inSpec(i).shape);
  },
});

registerEmitter("Pack", {
  emit: (ctx) => {
    const y = ctx.outSpec(0).shape;
    const axis = normalizeAxis(ctx.op.attrs.axis as number, y.length, ctx.op.name);
    const expanded = (i: number) => {
      const s = [...ctx.inSpec(i).shape];
      s.splice(axis, 0, 1);
      return s;
    };
    return joinAlong(ctx, ctx.op.inputs.map((_, i) => i), axis, expanded);
  },
});

/** Copies consecutive slabs of `value` along `axis` into outputs 0.. (Split, SplitV, Unpack). */
function splitAlong(ctx: EmitContext, value: number, axis: number): string {
  const x = ctx.inSpec(value).shape;
  const xs = stridesOf(x);
  let at = 0;
  const parts: string[] = [];
  ctx.op.outputs.forEach((_, j) => {
    const piece = [...x];
    const out = ctx.outSpec(j).shape;
    piece[axis] = out.length === x.length ? out[axis] : 1;
    if (ctx.needed(j)) parts.push(copyBox(ctx.names, ctx.input(value), at * xs[axis], xs, ctx.output(j), 0, stridesOf(piece), piece));
    at += piece[axis];
  });
  return parts.filter(Boolean).join("\n");
}

registerEmitter("Split", {
  supports: constants(0),
  emit: (ctx) => splitAlong(ctx, 1, normalizeAxis(ctx.inSpec(0).value!.data[0], ctx.inSpec(1).shape.length, ctx.op.name)),
});
registerEmitter("SplitV", {
  supports: constants(2),
  emit: (ctx) => splitAlong(ctx, 0, normalizeAxis(ctx.inSpec(2).value!.data[0], ctx.inSpec(0).shape.length, ctx.op.name)),
});
registerEmitter("Unpack", {
  emit: (ctx) => splitAlong(ctx, 0, normalizeAxis(ctx.op.attrs.axis as number, ctx.inSpec(0).shape.length, ctx.op.name)),
});

registerEmitter("Tile", {
  emit: (ctx) => {
    const x = ctx.inSpec(0).shape;
    const y = ctx.outSpec(0).shape;
    const xs = stridesOf(x);
    const ys = stridesOf(y);
    // Two loops per dim: the repeat (input stride 0) and the position inside the input.
    const sizes = x.flatMap((d, i) => [y[i] / Math.max(d, 1), d]);
    const src = x.flatMap((d, i) => [0, xs[i]]);
    const dst = x.flatMap((d, i) => [d * ys[i], ys[i]]);
    return copyBox(ctx.names, ctx.input(0), 0, src, ctx.output(0), 0, dst, sizes);
  },
});

registerEmitter("Pad", {
  supports: constants(1),
  emit: (ctx) => {
    const x = ctx.inSpec(0).shape;
    const paddings = ints(ctx.inSpec(1));
    const y = ctx.outSpec(0).shape;
    const ys = stridesOf(y);
    const offset = x.reduce((acc, _, i) => acc + paddings[2 * i] * ys[i], 0);
    return `${ctx.output(0)}.fill(0);\n${copyBox(ctx.names, ctx.input(0), 0, stridesOf(x), ctx.output(0), offset, ys, x)}`;
  },
});

registerEmitter("GatherV2", {
  supports: (op, spec) => spec(op.inputs[2]).value !== undefined && op.attrs.batch_dims === 0,
  emit: (ctx) => {
    const params = ctx.inSpec(0).shape;
    const a = normalizeAxis(ctx.inSpec(2).value!.data[0], params.length, ctx.op.name);
    const outer = sizeOf(params.slice(0, a));
    const dim = params[a];
    const inner = sizeOf(params.slice(a + 1));
    const n = sizeOf(ctx.inSpec(1).shape);
    const [P, I, Y] = [ctx.input(0), ctx.input(1), ctx.output(0)];
    const check = ctx.fail(
      (received) => {
        const [k, idx] = received.split(":");
        return invalidArgument({
          code: "index-out-of-range",
          node: ctx.op.name,
          message: `indices[${k}] = ${idx} is not in [0, ${dim})`,
          expected: `indices in [0, ${dim})`,
          received: idx,
          fix: `keep the indices below the size of dimension ${a} of the params`,
        });
      },
      `k + ":" + idx`,
    );
    return [
      `for (let k = 0; k < ${n}; k++) {`,
      `const idx = ${I}[k];`,
      `if (idx < 0 || idx >= ${dim}) ${check}`,
      `for (let o = 0; o < ${outer}; o++) {`,
      `const from = (o * ${dim} + idx) * ${inner}, to = (o * ${n} + k) * ${inner};`,
      `for (let j = 0; j < ${inner}; j++) ${Y}[to + j] = ${P}[from + j];`,
      "}}",
    ].join("\n");
  },
});

registerEmitter("OneHot", {
  supports: (op, spec) => spec(op.inputs[1]).value !== undefined,
  emit: (ctx) => {
    const d = ctx.inSpec(1).value!.data[0];
    const indices = ctx.inSpec(0).shape;
    const axis = ctx.op.attrs.axis as number;
    const at = axis === -1 ? indices.length : axis;
    const prefix = sizeOf(indices.slice(0, at));
    const suffix = sizeOf(indices.slice(at));
    const [I, on, off, Y] = [ctx.input(0), ctx.input(2), ctx.input(3), ctx.output(0)];
    if (prefix * d * suffix === 0) return "";
    return [
      `const onValue = ${on}[0], offValue = ${off}[0];`,
      `for (let p = 0; p < ${prefix}; p++) for (let k = 0; k < ${literal(d)}; k++) for (let s = 0; s < ${suffix}; s++)`,
      `${Y}[(p * ${d} + k) * ${suffix} + s] = ${I}[p * ${suffix} + s] === k ? onValue : offValue;`,
    ].join("\n");
  },
});
