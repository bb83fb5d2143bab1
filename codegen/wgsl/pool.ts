/**
 * Pooling: MaxPool, AvgPool (one thread per output element) and their gradients MaxPoolGrad,
 * AvgPoolGrad (one thread per input element, gathering from every window that contains it, so no
 * atomics are needed). Windows are clipped to the input like the reference kernels: padded cells
 * are never read nor counted, and the first maximum in scan order wins (recomputed from the
 * original input for the gradient, like TF's CPU kernel).
 */
import { spatialAttr } from "../../ir/ops/pool";
import { elementKernel, f32, i32, single, sizeOf, storage, u32, wgslType, type EmitContext, type KernelBinding, type OpKernels } from "./common";
import { at, layoutCoordinates, windowGeometry, type WindowGeometry } from "./window";

/** `let h0, h1, w0, w1` (i32): the window of output (oh, ow) clipped to the input. */
function clippedWindow(g: WindowGeometry, oh: string, ow: string, suffix = ""): string {
  return `let top${suffix} = i32(${oh} * ${u32(g.sH)}) - ${i32(g.padTop)};
let left${suffix} = i32(${ow} * ${u32(g.sW)}) - ${i32(g.padLeft)};
let h0${suffix} = max(top${suffix}, 0i);
let h1${suffix} = min(top${suffix} + ${i32(g.kH)}, ${i32(g.inH)});
let w0${suffix} = max(left${suffix}, 0i);
let w1${suffix} = min(left${suffix} + ${i32(g.kW)}, ${i32(g.inW)});`;
}

/** Loops over the clipped window; `body` sees the input offset `xi` (u32). */
function windowLoop(g: WindowGeometry, suffix: string, body: string): string {
  return `for (var ih = h0${suffix}; ih < h1${suffix}; ih = ih + 1i) {
  for (var iw = w0${suffix}; iw < w1${suffix}; iw = iw + 1i) {
    let xi = ${at(g.x, "n", "u32(ih)", "u32(iw)", "c")};
    ${body}
  }
}`;
}

/** Loops over the outputs whose window contains input (ih, iw); `body` sees oh, ow (u32). */
function containingWindows(g: WindowGeometry, body: string): string {
  return `let ohA = i32(ih) + ${i32(g.padTop - g.kH + 1)};
let owA = i32(iw) + ${i32(g.padLeft - g.kW + 1)};
let ohLo = select(0i, (ohA + ${i32(g.sH - 1)}) / ${i32(g.sH)}, ohA > 0i);
let owLo = select(0i, (owA + ${i32(g.sW - 1)}) / ${i32(g.sW)}, owA > 0i);
let ohHi = min((i32(ih) + ${i32(g.padTop)}) / ${i32(g.sH)}, ${i32(g.outH - 1)});
let owHi = min((i32(iw) + ${i32(g.padLeft)}) / ${i32(g.sW)}, ${i32(g.outW - 1)});
for (var ohs = ohLo; ohs <= ohHi; ohs = ohs + 1i) {
  for (var ows = owLo; ows <= owHi; ows = ows + 1i) {
    let oh = u32(ohs);
    let ow = u32(ows);
${body}
  }
}`;
}

function geometry(ctx: EmitContext, xShape: readonly number[], yShape: readonly number[]): WindowGeometry {
  const [kH, kW] = spatialAttr(ctx.op.attrs, "ksize", ctx.op.type, ctx.op.name);
  return windowGeometry(ctx, xShape, yShape, kH, kW, false);
}

export function emitPool(ctx: EmitContext): OpKernels {
  const xShape = ctx.inputShapes[0];
  const yShape = ctx.outputShapes[0];
  const total = sizeOf(yShape);
  if (total === 0) return { kernels: [], scratch: [], aliases: [] };
  const g = geometry(ctx, xShape, yShape);
  const dtype = ctx.op.inputs[0].dtype;
  const max = ctx.op.type === "MaxPool";
  const t = wgslType(dtype);
  const reduce = max
    ? `var best: ${t} = x[0];
var found = false;
${windowLoop(g, "", `let v = x[xi];
    if (!found || v > best) { best = v; found = true; }`)}
out[i] = ${dtype === "float32" ? `select(${f32(-Infinity)}, best, found)` : "select(0i, best, found)"};`
    : `var sum = 0.0f;
${windowLoop(g, "", "sum = sum + x[xi];")}
let count = max(h1 - h0, 0i) * max(w1 - w0, 0i);
out[i] = select(0.0f, sum / f32(count), count > 0i);`;
  const body = `${layoutCoordinates("i", yShape, g.format, ["n", "oh", "ow", "c"])}
${clippedWindow(g, "oh", "ow")}
${reduce}`;
  const decls = [storage(0, "x", dtype, "read"), storage(1, "out", dtype, "read_write")];
  const bindings: KernelBinding[] = [
    { binding: 0, kind: "input", index: 0, access: "read" },
    { binding: 1, kind: "output", index: 0, access: "read_write" },
  ];
  return single(elementKernel(`${ctx.op.type} ${ctx.op.name}`, decls, total, body, bindings));
}

export function emitPoolGrad(ctx: EmitContext): OpKernels {
  const maxGrad = ctx.op.type === "MaxPoolGrad";
  const xShape = ctx.outputShapes[0];
  const dyShape = ctx.inputShapes[maxGrad ? 2 : 1];
  const total = sizeOf(xShape);
  if (total === 0) return { kernels: [], scratch: [], aliases: [] };
  const g = geometry(ctx, xShape, dyShape);
  const yi = at(g.y, "n", "oh", "ow", "c");
  const inner = maxGrad
    ? `${clippedWindow(g, "oh", "ow", "_")}
var best = 0.0f;
var arg = -1i;
${windowLoop(g, "_", `let v = x[xi];
    if (arg < 0i || v > best) { best = v; arg = i32(xi); }`)}
if (arg == i32(i)) { acc = acc + dy[${yi}]; }`
    : `${clippedWindow(g, "oh", "ow", "_")}
let count = max(h1_ - h0_, 0i) * max(w1_ - w0_, 0i);
if (count > 0i) { acc = acc + dy[${yi}] / f32(count); }`;
  const body = `${layoutCoordinates("i", xShape, g.format, ["n", "ih", "iw", "c"])}
var acc = 0.0f;
${containingWindows(g, inner)}
out[i] = acc;`;
  const decls = maxGrad
    ? [storage(0, "x", "float32", "read"), storage(1, "dy", "float32", "read"), storage(2, "out", "float32", "read_write")]
    : [storage(0, "dy", "float32", "read"), storage(1, "out", "float32", "read_write")];
  const bindings: KernelBinding[] = maxGrad
    ? [
        { binding: 0, kind: "input", index: 0, access: "read" },
        { binding: 1, kind: "input", index: 2, access: "read" },
        { binding: 2, kind: "output", index: 0, access: "read_write" },
      ]
    : [
        { binding: 0, kind: "input", index: 1, access: "read" },
        { binding: 1, kind: "output", index: 0, access: "read_write" },
      ];
  return single(elementKernel(`${ctx.op.type} ${ctx.op.name}`, decls, total, body, bindings));
}
