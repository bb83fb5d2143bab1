/**
 * Variable updates, in place on the variable's buffer (the ref input is bound read_write and the
 * op's output is that buffer): Assign, AssignAdd, AssignSub, ApplyGradientDescent, ApplyMomentum,
 * ApplyAdam. Hyper-parameters are scalar tensors read from their buffers, so a learning rate fed
 * or decayed at run time needs no recompilation. ApplyAdam first folds its six scalars into a
 * 4-float scratch buffer [lr_t, beta1, beta2, epsilon] (one thread), which keeps the update
 * kernel at 5 storage buffers.
 */
import { elementKernel, sizeOf, storage, unsupported, type EmitContext, type KernelBinding, type OpKernels } from "./common";

const inPlace = (binding: number, index: number): KernelBinding => ({ binding, kind: "input", index, access: "read_write" });
const input = (binding: number, index: number): KernelBinding => ({ binding, kind: "input", index, access: "read" });

function checkSizes(ctx: EmitContext, value: number): number {
  const total = sizeOf(ctx.inputShapes[0]);
  if (sizeOf(ctx.inputShapes[value]) !== total)
    throw unsupported(ctx.op, "the value's size differs from the variable's (a variable buffer cannot change size)", "assign values of the variable's shape");
  return total;
}

export function emitAssign(ctx: EmitContext): OpKernels {
  const total = checkSizes(ctx, 1);
  const dtype = ctx.op.inputs[1].dtype;
  const expr = { Assign: "value[i]", AssignAdd: "dest[i] + value[i]", AssignSub: "dest[i] - value[i]" }[ctx.op.type];
  if (!expr) throw unsupported(ctx.op, "not an assign op");
  const decls = [storage(0, "dest", dtype, "read_write"), storage(1, "value", dtype, "read")];
  const kernels = total === 0 ? [] : [elementKernel(`${ctx.op.type} ${ctx.op.name}`, decls, total, `dest[i] = ${expr};`, [inPlace(0, 0), input(1, 1)])];
  return { kernels, scratch: [], aliases: [{ output: 0, input: 0 }] };
}

export function emitApplyGradientDescent(ctx: EmitContext): OpKernels {
  const total = checkSizes(ctx, 2);
  const decls = [storage(0, "variable", "float32", "read_write"), storage(1, "alpha", "float32", "read"), storage(2, "delta", "float32", "read")];
  const kernels = total === 0 ? [] : [elementKernel(`ApplyGradientDescent ${ctx.op.name}`, decls, total, "variable[i] = variable[i] - alpha[0] * delta[i];", [inPlace(0, 0), input(1, 1), input(2, 2)])];
  return { kernels, scratch: [], aliases: [{ output: 0, input: 0 }] };
}

export function emitApplyMomentum(ctx: EmitContext): OpKernels {
  const total = checkSizes(ctx, 3);
  const decls = [
    storage(0, "variable", "float32", "read_write"),
    storage(1, "accum", "float32", "read_write"),
    storage(2, "lr", "float32", "read"),
    storage(3, "grad", "float32", "read"),
    storage(4, "momentum", "float32", "read"),
  ];
  const step = ctx.op.attrs.use_nesterov ? "g * lr[0] + a * momentum[0] * lr[0]" : "a * lr[0]";
  const body = `let g = grad[i];
let a = accum[i] * momentum[0] + g;
accum[i] = a;
variable[i] = variable[i] - (${step});`;
  const kernels = total === 0 ? [] : [elementKernel(`ApplyMomentum ${ctx.op.name}`, decls, total, body, [inPlace(0, 0), inPlace(1, 1), input(2, 2), input(3, 3), input(4, 4)])];
  return { kernels, scratch: [], aliases: [{ output: 0, input: 0 }] };
}

export function emitApplyAdam(ctx: EmitContext): OpKernels {
  const total = checkSizes(ctx, 9);
  const names = ["beta1Power", "beta2Power", "lr", "beta1", "beta2", "epsilon"];
  const packDecls = names.map((n, k) => storage(k, n, "float32", "read"));
  packDecls.push(storage(6, "packed", "float32", "read_write"));
  const pack = elementKernel(
    `ApplyAdam ${ctx.op.name} (scalars)`,
    packDecls,
    1,
    `packed[0] = lr[0] * sqrt(1.0f - beta2Power[0]) / (1.0f - beta1Power[0]);
packed[1] = beta1[0];
packed[2] = beta2[0];
packed[3] = epsilon[0];`,
    [...names.map((_, k) => input(k, 3 + k)), { binding: 6, kind: "scratch", index: 0, access: "read_write" }],
  );
  const decls = [
    storage(0, "variable", "float32", "read_write"),
    storage(1, "m", "float32", "read_write"),
    storage(2, "v", "float32", "read_write"),
    storage(3, "packed", "float32", "read"),
    storage(4, "grad", "float32", "read"),
  ];
  const direction = ctx.op.attrs.use_nesterov ? "g * (1.0f - beta1) + beta1 * mNext" : "mNext";
  const body = `let alpha = packed[0];
let beta1 = packed[1];
let beta2 = packed[2];
let g = grad[i];
let mNext = m[i] + (g - m[i]) * (1.0f - beta1);
let vNext = v[i] + (g * g - v[i]) * (1.0f - beta2);
m[i] = mNext;
v[i] = vNext;
variable[i] = variable[i] - (${direction}) * alpha / (sqrt(vNext) + packed[3]);`;
  const update = elementKernel(`ApplyAdam ${ctx.op.name}`, decls, total, body, [
    inPlace(0, 0),
    inPlace(1, 1),
    inPlace(2, 2),
    { binding: 3, kind: "scratch", index: 0, access: "read" },
    input(4, 9),
  ]);
  return { kernels: total === 0 ? [] : [pack, update], scratch: [16], aliases: [{ output: 0, input: 0 }] };
}
