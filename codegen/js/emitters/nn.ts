/**
 * Row-wise ops over the last axis: Softmax and LogSoftmax (max-shifted), and the two softmax
 * cross-entropy ops (loss per row and backprop = softmax - labels), in the reference kernels'
 * order of operations so that the numbers agree to the last bit.
 */
import { invalidArgument } from "../../../ir/diagnostics";
import { sizeOf } from "../../../ir/shape";
import { registerEmitter, type EmitContext } from "../emitter";

for (const [type, logarithm] of [["Softmax", false], ["LogSoftmax", true]] as const)
  registerEmitter(type, {
    emit: (ctx) => {
      const shape = ctx.inSpec(0).shape;
      const n = shape[shape.length - 1];
      const size = sizeOf(shape);
      if (n === 0 || size === 0) return "";
      const X = ctx.input(0);
      const Y = ctx.output(0);
      return [
        `for (let start = 0; start < ${size}; start += ${n}) {`,
        `const end = start + ${n};`,
        `let max = -Infinity;`,
        `for (let j = start; j < end; j++) if (${X}[j] > max) max = ${X}[j];`,
        `let sum = 0;`,
        `for (let j = start; j < end; j++) sum += Math.exp(${X}[j] - max);`,
        logarithm
          ? `const logSum = Math.log(sum);\nfor (let j = start; j < end; j++) ${Y}[j] = ${X}[j] - max - logSum;`
          : `for (let j = start; j < end; j++) ${Y}[j] = Math.exp(${X}[j] - max) / sum;`,
        "}",
      ].join("\n");
    },
  });

/** Loss and backprop for each row; `target(r, c)` is the label probability expression. */
function crossEntropy(ctx: EmitContext, target: (row: string, column: string) => string): string {
  const [batch, classes] = ctx.inSpec(0).shape;
  if (batch === 0) return "";
  const X = ctx.input(0);
  const loss = ctx.output(0);
  const back = ctx.output(1);
  return [
    `for (let r = 0; r < ${batch}; r++) {`,
    `const start = r * ${classes};`,
    `let max = -Infinity;`,
    `for (let c = 0; c < ${classes}; c++) if (${X}[start + c] > max) max = ${X}[start + c];`,
    `let sum = 0;`,
    `for (let c = 0; c < ${classes}; c++) sum += Math.exp(${X}[start + c] - max);`,
    `const logSum = Math.log(sum);`,
    `let total = 0;`,
    `for (let c = 0; c < ${classes}; c++) {`,
    `const shifted = ${X}[start + c] - max;`,
    `const p = ${target("r", "c")};`,
    `if (p !== 0) total += p * (logSum - shifted);`,
    `${back}[start + c] = Math.exp(shifted) / sum - p;`,
    "}",
    `${loss}[r] = total;`,
    "}",
  ].join("\n");
}

registerEmitter("SoftmaxCrossEntropyWithLogits", {
  supports: (op, spec) => spec(op.inputs[0]).shape.join() === spec(op.inputs[1]).shape.join(),
  emit: (ctx) => {
    const classes = ctx.inSpec(0).shape[1];
    const labels = ctx.input(1);
    return crossEntropy(ctx, (r, c) => `${labels}[${r} * ${classes} + ${c}]`);
  },
});

registerEmitter("SparseSoftmaxCrossEntropyWithLogits", {
  supports: (op, spec) => sizeOf(spec(op.inputs[1]).shape) === spec(op.inputs[0]).shape[0],
  emit: (ctx) => {
    const classes = ctx.inSpec(0).shape[1];
    const labels = ctx.input(1);
    const check = ctx.fail(
      (label) =>
        invalidArgument({
          code: "label-out-of-range",
          node: ctx.op.name,
          message: `received a label value of ${label} which is outside the valid range of [0, ${classes})`,
          expected: `labels in [0, ${classes})`,
          received: label,
          fix: "check the labels fed against the number of classes",
        }),
      `${labels}[r]`,
    );
    // The reference kernel checks every label before computing anything.
    const batch = ctx.inSpec(0).shape[0];
    const prelude = `for (let r = 0; r < ${batch}; r++) { const label = ${labels}[r]; if (!(label >= 0 && label < ${classes})) ${check} }`;
    return `${prelude}\n${crossEntropy(ctx, (r, c) => `(${labels}[${r}] === ${c} ? 1 : 0)`)}`;
  },
});
