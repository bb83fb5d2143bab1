/**
 * Conv2D and DepthwiseConv2dNative (NHWC and NCHW, strides, dilations, SAME / VALID) and their
 * backprop ops, as direct kernels with the geometry baked in:
 *   forward         one thread per output element: Σ over the taps inside the input, × channels
 *   BackpropInput   one thread per input element: Σ over the taps whose output position exists
 *                   (oh·sH = ih + padTop - kh·dH), × output channels (depthwise: × multiplier)
 *   BackpropFilter  one workgroup per filter element: the threads stride over (n, oh, ow),
 *                   then a tree reduction in workgroup memory
 * Filters are [kh, kw, in, out] (depthwise [kh, kw, C, M], output channel c·M + m).
 */
import { BUILTINS, GROUP_INDEX, elementKernel, gridOf, i32, powerOfTwo, single, sizeOf, storage, u32, type EmitContext, type OpKernels } from "./common";
import { at, layoutCoordinates, windowGeometry, type WindowGeometry } from "./window";

type Role = "forward" | "input" | "filter";

function roleOf(type: string): Role {
  return type.endsWith("BackpropInput") ? "input" : type.endsWith("BackpropFilter") ? "filter" : "forward";
}

/** [x shape, filter shape, y shape] of the op, whichever role it has. */
function shapesOf(ctx: EmitContext, role: Role): [readonly number[], readonly number[], readonly number[]] {
  const [a, b, c] = ctx.inputShapes;
  const out = ctx.outputShapes[0];
  if (role === "forward") return [a, b, out];
  if (role === "input") return [out, b, c];
  return [a, out, c];
}

/** Loops over the taps of output (n, oh, ow) that fall inside the input; `body` sees ih, iw (u32), kh, kw. */
function forwardTaps(g: WindowGeometry, body: string): string {
  return `for (var kh = 0u; kh < ${u32(g.kH)}; kh = kh + 1u) {
  let ihs = i32(oh * ${u32(g.sH)} + kh * ${u32(g.dH)}) - ${i32(g.padTop)};
  if (ihs < 0i || ihs >= ${i32(g.inH)}) { continue; }
  let ih = u32(ihs);
  for (var kw = 0u; kw < ${u32(g.kW)}; kw = kw + 1u) {
    let iws = i32(ow * ${u32(g.sW)} + kw * ${u32(g.dW)}) - ${i32(g.padLeft)};
    if (iws < 0i || iws >= ${i32(g.inW)}) { continue; }
    let iw = u32(iws);
${body}
  }
}`;
}

/** Loops over the taps that read input (n, ih, iw); `body` sees oh, ow (u32), kh, kw. */
function inputTaps(g: WindowGeometry, body: string): string {
  return `for (var kh = 0u; kh < ${u32(g.kH)}; kh = kh + 1u) {
  let ohs = i32(ih) + ${i32(g.padTop)} - i32(kh * ${u32(g.dH)});
  if (ohs < 0i || ohs % ${i32(g.sH)} != 0i) { continue; }
  let oh = u32(ohs / ${i32(g.sH)});
  if (oh >= ${u32(g.outH)}) { continue; }
  for (var kw = 0u; kw < ${u32(g.kW)}; kw = kw + 1u) {
    let ows = i32(iw) + ${i32(g.padLeft)} - i32(kw * ${u32(g.dW)});
    if (ows < 0i || ows % ${i32(g.sW)} != 0i) { continue; }
    let ow = u32(ows / ${i32(g.sW)});
    if (ow >= ${u32(g.outW)}) { continue; }
${body}
  }
}`;
}

export function emitConv(ctx: EmitContext): OpKernels {
  const role = roleOf(ctx.op.type);
  const depthwise = ctx.op.type.startsWith("Depthwise");
  const [xShape, wShape, yShape] = shapesOf(ctx, role);
  const [kH, kW, cin, cout] = wShape;
  const g = windowGeometry(ctx, xShape, yShape, kH, kW, true);
  const label = `${ctx.op.type} ${ctx.op.name}`;
  const outShape = ctx.outputShapes[0];
  const total = sizeOf(outShape);
  if (total === 0) return { kernels: [], scratch: [], aliases: [] };
  // Bindings: the two float operands (inputs 0/1 forward, 1/2 BackpropInput, 0/2 BackpropFilter) and the output.
  const operands = role === "forward" ? [0, 1] : role === "input" ? [1, 2] : [0, 2];
  const names = role === "forward" ? ["x", "w"] : role === "input" ? ["w", "dy"] : ["x", "dy"];
  const decls = [storage(0, names[0], "float32", "read"), storage(1, names[1], "float32", "read"), storage(2, "out", "float32", "read_write")];
  const bindings = [
    { binding: 0, kind: "input" as const, index: operands[0], access: "read" as const },
    { binding: 1, kind: "input" as const, index: operands[1], access: "read" as const },
    { binding: 2, kind: "output" as const, index: 0, access: "read_write" as const },
  ];
  const tap = (kh: string, kw: string) => `(${kh} * ${u32(kW)} + ${kw}) * ${u32(cin * cout)}`;
  if (role === "forward") {
    const inner = depthwise
      ? `acc = acc + x[${at(g.x, "n", "ih", "iw", `(co / ${u32(cout)})`)}] * w[${tap("kh", "kw")} + co];`
      : `let xb = ${at(g.x, "n", "ih", "iw", "0u")};
let wb = ${tap("kh", "kw")} + co;
for (var ci = 0u; ci < ${u32(cin)}; ci = ci + 1u) {
  acc = acc + x[xb + ci * ${u32(g.x.c)}] * w[wb + ci * ${u32(cout)}];
}`;
    const body = `${layoutCoordinates("i", yShape, g.format, ["n", "oh", "ow", "co"])}
var acc = 0.0f;
${forwardTaps(g, inner)}
out[i] = acc;`;
    return single(elementKernel(label, decls, total, body, bindings));
  }
  if (role === "input") {
    const inner = depthwise
      ? `let yb = ${at(g.y, "n", "oh", "ow", "0u")};
let wb = ${tap("kh", "kw")} + ci * ${u32(cout)};
for (var m = 0u; m < ${u32(cout)}; m = m + 1u) {
  acc = acc + dy[yb + (ci * ${u32(cout)} + m) * ${u32(g.y.c)}] * w[wb + m];
}`
      : `let yb = ${at(g.y, "n", "oh", "ow", "0u")};
let wb = ${tap("kh", "kw")} + ci * ${u32(cout)};
for (var co = 0u; co < ${u32(cout)}; co = co + 1u) {
  acc = acc + dy[yb + co * ${u32(g.y.c)}] * w[wb + co];
}`;
    const body = `${layoutCoordinates("i", xShape, g.format, ["n", "ih", "iw", "ci"])}
var acc = 0.0f;
${inputTaps(g, inner)}
out[i] = acc;`;
    return single(elementKernel(label, decls, total, body, bindings));
  }
  return single(filterKernel(g, label, decls, bindings, depthwise, [kH, kW, cin, cout], total));
}

/** BackpropFilter: one workgroup per filter element, reducing over (n, oh, ow). */
function filterKernel(
  g: WindowGeometry, label: string, decls: string[], bindings: OpKernels["kernels"][number]["bindings"],
  depthwise: boolean, [kH, kW, cin, cout]: readonly number[], total: number,
): OpKernels["kernels"][number] {
  const count = g.batch * g.outH * g.outW;
  if (count === 0) return elementKernel(label, decls, total, "out[i] = 0.0f;", bindings);
  const wg = powerOfTwo(count, 32, 256);
  const channels = depthwise ? `let c = (f % ${u32(cin * cout)}) / ${u32(cout)};
  let co = f % ${u32(cin * cout)};` : `let c = (f / ${u32(cout)}) % ${u32(cin)};
  let co = f % ${u32(cout)};`;
  const code = `// ${label}
${decls.join("\n")}
var<workgroup> partial: array<f32, ${wg}>;

@compute @workgroup_size(${wg})
fn main(${BUILTINS}) {
  let f = ${GROUP_INDEX};
  if (f >= ${u32(total)}) { return; }
  let kh = f / ${u32(kW * cin * cout)};
  let kw = (f / ${u32(cin * cout)}) % ${u32(kW)};
  ${channels}
  var acc = 0.0f;
  for (var j = lid; j < ${u32(count)}; j = j + ${u32(wg)}) {
    let ow = j % ${u32(g.outW)};
    let oh = (j / ${u32(g.outW)}) % ${u32(g.outH)};
    let n = j / ${u32(g.outW * g.outH)};
    let ihs = i32(oh * ${u32(g.sH)} + kh * ${u32(g.dH)}) - ${i32(g.padTop)};
    let iws = i32(ow * ${u32(g.sW)} + kw * ${u32(g.dW)}) - ${i32(g.padLeft)};
    if (ihs >= 0i && ihs < ${i32(g.inH)} && iws >= 0i && iws < ${i32(g.inW)}) {
      acc = acc + x[${at(g.x, "n", "u32(ihs)", "u32(iws)", "c")}] * dy[${at(g.y, "n", "oh", "ow", "co")}];
    }
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = ${u32(wg / 2)}; s > 0u; s = s >> 1u) {
    if (lid < s) { partial[lid] = partial[lid] + partial[lid + s]; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[f] = partial[0]; }
}
`;
  return { label, code, entryPoint: "main", workgroupCount: gridOf(total), bindings };
}
