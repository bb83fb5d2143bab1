/**
 * Conv2D and DepthwiseConv2dNative with their backprop ops, NHWC and NCHW (element strides are
 * compile-time constants, so both layouts are one code path with the index math hoisted per
 * output position and per tap). The forward ops accumulate each output position's channels in
 * a float32 scratch, in the reference kernel's order, and store them through `ctx.store` (so
 * BiasAdd / Relu / elementwise batch-norm math after the conv runs as its epilogue). The
 * backprop ops accumulate into their zeroed output exactly as the reference kernels do.
 */
import type { Geometry } from "../../../ir/ops/pool";
import { sizeOf } from "../../../ir/shape";
import { registerEmitter, type EmitContext, type Emitter } from "../emitter";
import type { ConcreteSpec } from "../specs";
import { channelsOf, geometry, positions } from "./window";

type Role = "forward" | "input" | "filter";

interface Shapes {
  x: number[];
  w: number[];
  y: number[];
}

function shapesOf(role: Role, spec: (i: number, out?: boolean) => ConcreteSpec): Shapes {
  if (role === "forward") return { x: spec(0).shape, w: spec(1).shape, y: spec(0, true).shape };
  if (role === "input") return { x: spec(0, true).shape, w: spec(1).shape, y: spec(2).shape };
  return { x: spec(0).shape, w: spec(0, true).shape, y: spec(2).shape };
}

function geometryOf(ctx: { op: EmitContext["op"] }, role: Role, s: Shapes): Geometry | null {
  const type = ctx.op.type;
  if (s.x.length !== 4 || s.w.length !== 4) return null;
  return geometry(ctx.op.attrs, type, ctx.op.name, s.x, s.y, s.w[0], s.w[1], true);
}

function convEmitter(role: Role, depthwise: boolean): Emitter {
  return {
    epilogue: role === "forward",
    supports: (op, spec) => {
      const s = shapesOf(role, (i, out) => spec(out ? op.outputs[i] : op.inputs[i]));
      const g = geometryOf({ op }, role, s);
      const cout = depthwise ? s.w[2] * s.w[3] : s.w[3];
      return g !== null && channelsOf(s.x, op.attrs) === s.w[2] && channelsOf(s.y, op.attrs) === cout;
    },
    emit: (ctx) => {
      const s = shapesOf(role, (i, out) => (out ? ctx.outSpec(i) : ctx.inSpec(i)));
      const g = geometryOf(ctx, role, s)!;
      const [cin, cm] = [s.w[2], s.w[3]];
      const tapSize = cin * cm;
      const xc = g.x.c;
      const yc = g.y.c;
      const outSize = sizeOf(role === "forward" ? s.y : role === "input" ? s.x : s.w);
      if (outSize === 0) return "";
      const zero = role === "forward" ? "" : `${ctx.output(0)}.fill(0);\n`;
      const names = ctx.names;
      const [ci, co, wr] = [names.next("ci"), names.next("co"), names.next("wr")];
      if (role === "forward") {
        const X = ctx.input(0);
        const W = ctx.input(1);
        const outC = depthwise ? cin * cm : cm;
        const acc = ctx.scratch("f32", outC);
        const inner = (xb: string, t: string) =>
          depthwise
            ? `const wb = ${t} * ${tapSize};\nfor (let ${ci} = 0; ${ci} < ${cin}; ${ci}++) { const xv = ${X}[${xb} + ${ci} * ${xc}]; const ${wr} = wb + ${ci} * ${cm};\nfor (let ${co} = 0; ${co} < ${cm}; ${co}++) ${acc}[${ci} * ${cm} + ${co}] += xv * ${W}[${wr} + ${co}]; }`
            : `const wb = ${t} * ${tapSize};\nfor (let ${ci} = 0; ${ci} < ${cin}; ${ci}++) { const xv = ${X}[${xb} + ${ci} * ${xc}]; const ${wr} = wb + ${ci} * ${cm};\nfor (let ${co} = 0; ${co} < ${cm}; ${co}++) ${acc}[${co}] += xv * ${W}[${wr} + ${co}]; }`;
        return positions(
          names,
          g,
          () => `for (let ${co} = 0; ${co} < ${outC}; ${co}++) ${acc}[${co}] = 0;`,
          inner,
          (yb) => `for (let ${co} = 0; ${co} < ${outC}; ${co}++) ${ctx.store(0, `${yb} + ${co} * ${yc}`, `${acc}[${co}]`)}`,
        );
      }
      const W = role === "input" ? ctx.input(1) : ctx.output(0);
      const X = role === "input" ? ctx.output(0) : ctx.input(0);
      const Y = ctx.input(2);
      let inner: (xb: string, t: string, yb: string) => string;
      if (role === "input")
        inner = (xb, t, yb) =>
          depthwise
            ? `const wb = ${t} * ${tapSize};\nfor (let ${ci} = 0; ${ci} < ${cin}; ${ci}++) { let s = 0; for (let ${co} = 0; ${co} < ${cm}; ${co}++) s += ${Y}[${yb} + (${ci} * ${cm} + ${co}) * ${yc}] * ${W}[wb + ${ci} * ${cm} + ${co}]; ${X}[${xb} + ${ci} * ${xc}] += s; }`
            : `const wb = ${t} * ${tapSize};\nfor (let ${ci} = 0; ${ci} < ${cin}; ${ci}++) { const ${wr} = wb + ${ci} * ${cm}; let s = 0; for (let ${co} = 0; ${co} < ${cm}; ${co}++) s += ${Y}[${yb} + ${co} * ${yc}] * ${W}[${wr} + ${co}]; ${X}[${xb} + ${ci} * ${xc}] += s; }`;
      else
        inner = (xb, t, yb) =>
          depthwise
            ? `const wb = ${t} * ${tapSize};\nfor (let ${ci} = 0; ${ci} < ${cin}; ${ci}++) { const xv = ${X}[${xb} + ${ci} * ${xc}]; for (let ${co} = 0; ${co} < ${cm}; ${co}++) ${W}[wb + ${ci} * ${cm} + ${co}] += xv * ${Y}[${yb} + (${ci} * ${cm} + ${co}) * ${yc}]; }`
            : `const wb = ${t} * ${tapSize};\nfor (let ${ci} = 0; ${ci} < ${cin}; ${ci}++) { const xv = ${X}[${xb} + ${ci} * ${xc}]; const ${wr} = wb + ${ci} * ${cm}; for (let ${co} = 0; ${co} < ${cm}; ${co}++) ${W}[${wr} + ${co}] += xv * ${Y}[${yb} + ${co} * ${yc}]; }`;
      return zero + positions(names, g, () => "", inner, () => "");
    },
  };
}

for (const [base, depthwise] of [["Conv2D", false], ["DepthwiseConv2dNative", true]] as const) {
  registerEmitter(base, convEmitter("forward", depthwise));
  registerEmitter(`${base}BackpropInput`, convEmitter("input", depthwise));
  registerEmitter(`${base}BackpropFilter`, convEmitter("filter", depthwise));
}
