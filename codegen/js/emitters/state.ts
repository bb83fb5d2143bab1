/**
 * Variable updates, written into the variable's own array in place: Assign, AssignAdd,
 * AssignSub and the training ops ApplyGradientDescent, ApplyMomentum, ApplyAdam (TF's formulas,
 * computed in float64 exactly as ir/ops/training.ts does before storing). The op's output is the
 * variable itself; when another update of the same variable follows in the run, the output is
 * copied out so that its readers see this update's value.
 * Shapes that do not match the variable fall back to the reference kernel, which raises TF's error.
 */
import type { Operation } from "../../../ir/graph";
import { registerEmitter, type EmitContext, type Emitter } from "../emitter";
import type { ConcreteSpec } from "../specs";

type SpecOf = (t: { name: string }) => ConcreteSpec;

const sameShape = (a: ConcreteSpec, b: ConcreteSpec) => a.shape.join() === b.shape.join();

/** Input `gradient` and the variables at ref inputs `refs` all have the variable's shape. */
function shapesMatch(refs: number[], gradient: number) {
  return (op: Operation, spec: SpecOf) => refs.every((i) => sameShape(spec(op.inputs[i]), spec(op.inputs[gradient])));
}

/** Copies the updated variable to output 0 when its readers need a copy. */
function copyOut(ctx: EmitContext, variable: string): string {
  return ctx.needed(0) ? `\n${ctx.output(0)}.set(${variable});` : "";
}

function loop(size: number, body: string): string {
  return size === 0 ? "" : `for (let i = 0; i < ${size}; i++) {\n${body}\n}`;
}

const size = (s: ConcreteSpec) => s.shape.reduce((a, b) => a * b, 1);

registerEmitter("Assign", {
  supports: (op, spec) => {
    // Validated assigns to a variable of another shape raise the reference kernel's error.
    if (op.attrs.validate_shape === false) return sameShape(spec(op.outputs[0]), spec(op.inputs[1]));
    return sameShape(spec(op.inputs[0]), spec(op.inputs[1])) && sameShape(spec(op.outputs[0]), spec(op.inputs[1]));
  },
  emit: (ctx) => {
    const w = ctx.variable(0, "assign");
    return `${w}.set(${ctx.input(1)});${copyOut(ctx, w)}`;
  },
});

function accumulate(sign: "+" | "-"): Emitter {
  return {
    supports: shapesMatch([0], 1),
    emit: (ctx) => {
      const w = ctx.variable(0, "update");
      const v = ctx.input(1);
      return loop(size(ctx.inSpec(1)), `${w}[i] = ${w}[i] ${sign} ${v}[i];`) + copyOut(ctx, w);
    },
  };
}
registerEmitter("AssignAdd", accumulate("+"));
registerEmitter("AssignSub", accumulate("-"));

registerEmitter("ApplyGradientDescent", {
  supports: shapesMatch([0], 2),
  emit: (ctx) => {
    const w = ctx.variable(0, "update");
    const alpha = ctx.input(1);
    const delta = ctx.input(2);
    return `const a = ${alpha}[0];\n${loop(size(ctx.inSpec(2)), `${w}[i] = ${w}[i] - a * ${delta}[i];`)}${copyOut(ctx, w)}`;
  },
});

registerEmitter("ApplyMomentum", {
  supports: shapesMatch([0, 1], 3),
  emit: (ctx) => {
    const w = ctx.variable(0, "update");
    const accum = ctx.variable(1, "update");
    const [lr, grad, momentum] = [ctx.input(2), ctx.input(3), ctx.input(4)];
    const next = ctx.op.attrs.use_nesterov ? `${w}[i] - (g * lr + acc * m * lr)` : `${w}[i] - acc * lr`;
    return [
      `const lr = ${lr}[0], m = ${momentum}[0];`,
      loop(size(ctx.inSpec(3)), [`const g = ${grad}[i];`, `const acc = ${accum}[i] * m + g;`, `${w}[i] = ${next};`, `${accum}[i] = acc;`].join("\n")),
    ].join("\n") + copyOut(ctx, w);
  },
});

registerEmitter("ApplyAdam", {
  supports: shapesMatch([0, 1, 2], 9),
  emit: (ctx) => {
    const w = ctx.variable(0, "update");
    const m = ctx.variable(1, "update");
    const v = ctx.variable(2, "update");
    const scalars = [3, 4, 5, 6, 7, 8].map((i) => `${ctx.input(i)}[0]`);
    const grad = ctx.input(9);
    const direction = ctx.op.attrs.use_nesterov ? "(g * (1 - b1) + b1 * mn)" : "mn";
    return [
      `const b1p = ${scalars[0]}, b2p = ${scalars[1]}, lr = ${scalars[2]}, b1 = ${scalars[3]}, b2 = ${scalars[4]}, eps = ${scalars[5]};`,
      `const alpha = (lr * Math.sqrt(1 - b2p)) / (1 - b1p);`,
      loop(
        size(ctx.inSpec(9)),
        [
          `const g = ${grad}[i];`,
          `const mn = ${m}[i] + (g - ${m}[i]) * (1 - b1);`,
          `const vn = ${v}[i] + (g * g - ${v}[i]) * (1 - b2);`,
          `${w}[i] = ${w}[i] - (${direction} * alpha) / (Math.sqrt(vn) + eps);`,
          `${m}[i] = mn;`,
          `${v}[i] = vn;`,
        ].join("\n"),
      ),
    ].join("\n") + copyOut(ctx, w);
  },
});
