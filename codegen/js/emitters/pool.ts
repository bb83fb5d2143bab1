/**
 * MaxPool, AvgPool and their gradients, NHWC and NCHW. Windows are clipped to the input (padded
 * cells are neither read nor counted), the first maximum in scan order wins, as in the
 * reference kernels; the window bounds are computed once per output position.
 */
import { sizeOf } from "../../../ir/shape";
import { registerEmitter, type EmitContext, type Emitter } from "../emitter";
import type { ConcreteSpec } from "../specs";
import { spatialAttr } from "../../../ir/ops/pool";
import { channelsOf, geometry } from "./window";

type Role = "max" | "avg" | "maxGrad" | "avgGrad";

/** [input shape, pooled (output or gradient) shape]. */
function shapesOf(role: Role, spec: (i: number, out?: boolean) => ConcreteSpec): [number[], number[]] {
  if (role === "max" || role === "avg") return [spec(0).shape, spec(0, true).shape];
  if (role === "maxGrad") return [spec(0).shape, spec(2).shape];
  return [spec(0, true).shape, spec(1).shape];
}

function poolEmitter(role: Role): Emitter {
  const geometryFor = (op: EmitContext["op"], x: number[], y: number[]) => {
    if (x.length !== 4 || y.length !== 4) return null;
    const [kH, kW] = spatialAttr(op.attrs, "ksize", op.type, op.name);
    const g = geometry(op.attrs, op.type, op.name, x, y, kH, kW, false);
    return g && channelsOf(x, op.attrs) === channelsOf(y, op.attrs) ? g : null;
  };
  return {
    supports: (op, spec) => {
      const [x, y] = shapesOf(role, (i, out) => spec(out ? op.outputs[i] : op.inputs[i]));
      return geometryFor(op, x, y) !== null;
    },
    emit: (ctx) => {
      const [x, y] = shapesOf(role, (i, out) => (out ? ctx.outSpec(i) : ctx.inSpec(i)));
      const g = geometryFor(ctx.op, x, y)!;
      const channels = channelsOf(x, ctx.op.attrs);
      const grad = role === "maxGrad" || role === "avgGrad";
      const zero = grad ? `${ctx.output(0)}.fill(0);\n` : "";
      if (sizeOf(y) === 0 || sizeOf(x) === 0) return zero;
      const X = role === "avgGrad" ? "" : ctx.input(0);
      const Y = grad ? ctx.input(role === "maxGrad" ? 2 : 1) : ctx.output(0);
      const DX = grad ? ctx.output(0) : "";
      const xs = g.x;
      const scan = (body: string) =>
        `for (let ih = h0; ih < h1; ih++) for (let iw = w0, i = xb + ih * ${xs.h} + w0 * ${xs.w}; iw < w1; iw++, i += ${xs.w}) ${body}`;
      let inner: string;
      if (role === "max" || role === "maxGrad")
        inner = [
          "let best = -Infinity; let at = -1;",
          scan(`if (at < 0 || ${X}[i] > best) { best = ${X}[i]; at = i; }`),
          role === "max" ? `${Y}[yi] = best;` : `if (at >= 0) ${DX}[at] += ${Y}[yi];`,
        ].join("\n");
      else if (role === "avg") inner = ["let sum = 0;", scan(`sum += ${X}[i];`), `${Y}[yi] = count > 0 ? sum / count : 0;`].join("\n");
      else inner = [`const share = count > 0 ? ${Y}[yi] / count : 0;`, scan(`${DX}[i] += share;`)].join("\n");
      return (
        zero +
        [
          `for (let n = 0; n < ${g.batch}; n++)`,
          `for (let oh = 0; oh < ${g.outH}; oh++) {`,
          `const top = oh * ${g.sH} - ${g.padTop};`,
          `const h0 = Math.max(top, 0), h1 = Math.min(top + ${g.kH}, ${g.inH});`,
          `for (let ow = 0; ow < ${g.outW}; ow++) {`,
          `const left = ow * ${g.sW} - ${g.padLeft};`,
          `const w0 = Math.max(left, 0), w1 = Math.min(left + ${g.kW}, ${g.inW});`,
          `const count = Math.max(h1 - h0, 0) * Math.max(w1 - w0, 0);`,
          `const yb = n * ${g.y.n} + oh * ${g.y.h} + ow * ${g.y.w};`,
          `for (let c = 0; c < ${channels}; c++) {`,
          `const xb = n * ${xs.n} + c * ${xs.c};`,
          `const yi = yb + c * ${g.y.c};`,
          inner,
          "}}}",
        ].join("\n")
      );
    },
  };
}

registerEmitter("MaxPool", poolEmitter("max"));
registerEmitter("AvgPool", poolEmitter("avg"));
registerEmitter("MaxPoolGrad", poolEmitter("maxGrad"));
registerEmitter("AvgPoolGrad", poolEmitter("avgGrad"));
