/**
 * Data movement, one thread per output element reading the input element it comes from:
 * Transpose, Slice, Pad (zeros), Tile, GatherV2 (an index outside the axis gives 0: the device
 * does not check, the reference kernel throws), OneHot; and ConcatV2 / Pack, one copy dispatch
 * per value into its region of the output. Perms, begins, sizes, paddings, multiples, axes and
 * depths are host constants baked into the shader.
 */
import {
  constantInput, coordinates, elementKernel, flatIndex, sizeOf, storage, stridesOf, u32, wgslType,
  type EmitContext, type KernelBinding, type OpKernels, type WgslKernel,
} from "./common";

const io = (inputs: number[]): KernelBinding[] => [
  ...inputs.map((index, k): KernelBinding => ({ binding: k, kind: "input", index, access: "read" })),
  { binding: inputs.length, kind: "output", index: 0, access: "read_write" },
];

/** A kernel over the output's coordinates o0..: `read` gives the statement that sets out[i]. */
function gatherKernel(ctx: EmitContext, read: string, inputs: number[] = [0]): OpKernels {
  const out = ctx.outputShapes[0];
  const total = sizeOf(out);
  if (total === 0) return { kernels: [], scratch: [], aliases: [] };
  const decls = inputs.map((index, k) => storage(k, `in${k}`, ctx.op.inputs[index].dtype, "read"));
  decls.push(storage(inputs.length, "out", ctx.op.outputs[0].dtype, "read_write"));
  const body = `${coordinates("i", out, "o")}\n${read}`;
  return { kernels: [elementKernel(`${ctx.op.type} ${ctx.op.name}`, decls, total, body, io(inputs))], scratch: [], aliases: [] };
}

export function emitTranspose(ctx: EmitContext): OpKernels {
  const perm = constantInput(ctx, 1, "perm");
  const inStrides = stridesOf(ctx.inputShapes[0]);
  const index = flatIndex(perm.map((p, d) => ({ coord: `o${d}`, stride: ctx.outputShapes[0][d] === 1 ? 0 : inStrides[p] })));
  return gatherKernel(ctx, `out[i] = in0[${index}];`);
}

export function emitSlice(ctx: EmitContext): OpKernels {
  const begin = constantInput(ctx, 1, "begin");
  const inStrides = stridesOf(ctx.inputShapes[0]);
  const offset = begin.reduce((acc, b, d) => acc + b * inStrides[d], 0);
  const index = flatIndex(ctx.outputShapes[0].map((_, d) => ({ coord: `o${d}`, stride: inStrides[d] })));
  return gatherKernel(ctx, `out[i] = in0[${u32(offset)} + ${index}];`);
}

export function emitPad(ctx: EmitContext): OpKernels {
  const paddings = constantInput(ctx, 1, "paddings");
  const shape = ctx.inputShapes[0];
  const inStrides = stridesOf(shape);
  const zero = ctx.op.outputs[0].dtype === "float32" ? "0.0f" : ctx.op.outputs[0].dtype === "int32" ? "0i" : "0u";
  if (sizeOf(shape) === 0) return gatherKernel(ctx, `out[i] = ${zero};`);
  const inside = shape.map((d, k) => `o${k} >= ${u32(paddings[2 * k])} && o${k} < ${u32(paddings[2 * k] + d)}`).join(" && ") || "true";
  const index = flatIndex(shape.map((_, k) => ({ coord: `(o${k} - ${u32(paddings[2 * k])})`, stride: inStrides[k] })));
  return gatherKernel(ctx, `if (${inside}) { out[i] = in0[${index}]; } else { out[i] = ${zero}; }`);
}

export function emitTile(ctx: EmitContext): OpKernels {
  const shape = ctx.inputShapes[0];
  const inStrides = stridesOf(shape);
  const index = flatIndex(shape.map((d, k) => ({ coord: `(o${k} % ${u32(d)})`, stride: d === 1 ? 0 : inStrides[k] })));
  return gatherKernel(ctx, `out[i] = in0[${index}];`);
}

export function emitGather(ctx: EmitContext): OpKernels {
  const params = ctx.inputShapes[0];
  let axis = constantInput(ctx, 2, "axis")[0];
  if (axis < 0) axis += params.length;
  const dim = params[axis];
  const inner = sizeOf(params.slice(axis + 1));
  const n = sizeOf(ctx.inputShapes[1]);
  const body = `let j = i % ${u32(inner)};
let k = (i / ${u32(inner)}) % ${u32(n)};
let o = i / ${u32(inner * n)};
let idx = in1[k];
if (idx < 0i || idx >= ${dim}i) { out[i] = ${wgslType(ctx.op.outputs[0].dtype)}(0); return; }
out[i] = in0[(o * ${u32(dim)} + u32(idx)) * ${u32(inner)} + j];`;
  const total = sizeOf(ctx.outputShapes[0]);
  if (total === 0 || n === 0) return { kernels: [], scratch: [], aliases: [] };
  const decls = [storage(0, "in0", ctx.op.inputs[0].dtype, "read"), storage(1, "in1", "int32", "read"), storage(2, "out", ctx.op.outputs[0].dtype, "read_write")];
  return { kernels: [elementKernel(`GatherV2 ${ctx.op.name}`, decls, total, body, io([0, 1]))], scratch: [], aliases: [] };
}

export function emitOneHot(ctx: EmitContext): OpKernels {
  const indices = ctx.inputShapes[0];
  const depth = constantInput(ctx, 1, "depth")[0];
  const axisAttr = ctx.op.attrs.axis as number;
  const at = axisAttr === -1 ? indices.length : axisAttr;
  const suffix = sizeOf(indices.slice(at));
  const total = sizeOf(ctx.outputShapes[0]);
  if (total === 0) return { kernels: [], scratch: [], aliases: [] };
  const body = `let s = i % ${u32(suffix)};
let k = (i / ${u32(suffix)}) % ${u32(depth)};
let p = i / ${u32(suffix * depth)};
out[i] = select(in2[0], in1[0], in0[p * ${u32(suffix)} + s] == i32(k));`;
  const dtype = ctx.op.outputs[0].dtype;
  const decls = [storage(0, "in0", "int32", "read"), storage(1, "in1", dtype, "read"), storage(2, "in2", dtype, "read"), storage(3, "out", dtype, "read_write")];
  const bindings: KernelBinding[] = [
    { binding: 0, kind: "input", index: 0, access: "read" },
    { binding: 1, kind: "input", index: 2, access: "read" },
    { binding: 2, kind: "input", index: 3, access: "read" },
    { binding: 3, kind: "output", index: 0, access: "read_write" },
  ];
  return { kernels: [elementKernel(`OneHot ${ctx.op.name}`, decls, total, body, bindings)], scratch: [], aliases: [] };
}

/** ConcatV2 (values then a constant axis) and Pack (attr axis, a new dimension): one copy per value. */
export function emitConcat(ctx: EmitContext): OpKernels {
  const pack = ctx.op.type === "Pack";
  const values = pack ? ctx.op.inputs.length : ctx.op.inputs.length - 1;
  const out = ctx.outputShapes[0];
  let axis = pack ? (ctx.op.attrs.axis as number) : constantInput(ctx, values, "axis")[0];
  if (axis < 0) axis += out.length;
  const outRow = sizeOf(out.slice(axis));
  const kernels: WgslKernel[] = [];
  let offset = 0;
  for (let k = 0; k < values; k++) {
    const shape = ctx.inputShapes[k];
    const row = sizeOf(shape.slice(axis));
    const total = sizeOf(shape);
    if (total > 0) {
      const decls = [storage(0, "value", ctx.op.inputs[k].dtype, "read"), storage(1, "out", ctx.op.outputs[0].dtype, "read_write")];
      const body = `out[(i / ${u32(row)}) * ${u32(outRow)} + ${u32(offset)} + i % ${u32(row)}] = value[i];`;
      kernels.push(elementKernel(`${ctx.op.type} ${ctx.op.name} value ${k}`, decls, total, body, [
        { binding: 0, kind: "input", index: k, access: "read" },
        { binding: 1, kind: "output", index: 0, access: "read_write" },
      ]));
    }
    offset += row;
  }
  return { kernels, scratch: [], aliases: [] };
}
