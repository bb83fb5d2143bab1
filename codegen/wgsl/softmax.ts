/**
 * Row-wise kernels over the last axis, one workgroup per row with tree reductions in workgroup
 * memory: Softmax and LogSoftmax (max-shifted, like the reference), and the cross-entropy ops
 * SoftmaxCrossEntropyWithLogits (labels a distribution) and SparseSoftmaxCrossEntropyWithLogits
 * (int32 class indices), which write the loss per row and the backprop softmax - labels.
 * A label outside [0, classes) is not checked on the device (it contributes no target).
 */
import {
  BUILTINS, GROUP_INDEX, elementKernel, f32, gridOf, powerOfTwo, single, sizeOf, storage, u32,
  type EmitContext, type KernelBinding, type OpKernels,
} from "./common";

/** Tree-reduces `local` (f32) across the workgroup into `let ${result}`; partial is reusable after. */
function workgroupReduce(local: string, result: string, combine: (a: string, b: string) => string, wg: number): string {
  return `partial[lid] = ${local};
workgroupBarrier();
for (var s = ${u32(wg / 2)}; s > 0u; s = s >> 1u) {
  if (lid < s) { partial[lid] = ${combine("partial[lid]", "partial[lid + s]")}; }
  workgroupBarrier();
}
let ${result} = partial[0];
workgroupBarrier();`;
}

const maxOf = (a: string, b: string) => `select(${a}, ${b}, ${b} > ${a})`;
const sumOf = (a: string, b: string) => `${a} + ${b}`;

/** A row kernel: `rows` workgroups, `body` sees row, base (u32) and the reductions above. */
function rowKernel(label: string, decls: string[], rows: number, wg: number, body: string, bindings: KernelBinding[]) {
  const code = `// ${label}
${decls.join("\n")}
var<workgroup> partial: array<f32, ${wg}>;

@compute @workgroup_size(${wg})
fn main(${BUILTINS}) {
  let row = ${GROUP_INDEX};
  if (row >= ${u32(rows)}) { return; }
${body
  .split("\n")
  .map((l) => (l ? `  ${l}` : l))
  .join("\n")}
}
`;
  return { label, code, entryPoint: "main", workgroupCount: gridOf(rows), bindings };
}

/** max and log-sum-exp of row `base` of `x` (n elements): lets mx, sum. */
function rowStatistics(n: number, wg: number): string {
  return `let base = row * ${u32(n)};
var localMax = ${f32(-Infinity)};
for (var j = lid; j < ${u32(n)}; j = j + ${u32(wg)}) { localMax = ${maxOf("localMax", "x[base + j]")}; }
${workgroupReduce("localMax", "mx", maxOf, wg)}
var localSum = 0.0f;
for (var j = lid; j < ${u32(n)}; j = j + ${u32(wg)}) { localSum = localSum + exp(x[base + j] - mx); }
${workgroupReduce("localSum", "sum", sumOf, wg)}`;
}

export function emitSoftmax(ctx: EmitContext): OpKernels {
  const shape = ctx.inputShapes[0];
  const n = shape[shape.length - 1];
  const total = sizeOf(shape);
  if (total === 0) return { kernels: [], scratch: [], aliases: [] };
  const rows = total / n;
  const wg = powerOfTwo(n, 32, 256);
  const log = ctx.op.type === "LogSoftmax";
  const write = log ? "x[base + j] - mx - logSum" : "exp(x[base + j] - mx) / sum";
  const body = `${rowStatistics(n, wg)}
let logSum = log(sum);
for (var j = lid; j < ${u32(n)}; j = j + ${u32(wg)}) { out[base + j] = ${write}; }`;
  const decls = [storage(0, "x", "float32", "read"), storage(1, "out", "float32", "read_write")];
  return single(rowKernel(`${ctx.op.type} ${ctx.op.name}`, decls, rows, wg, body, [
    { binding: 0, kind: "input", index: 0, access: "read" },
    { binding: 1, kind: "output", index: 0, access: "read_write" },
  ]));
}

export function emitCrossEntropy(ctx: EmitContext): OpKernels {
  const sparse = ctx.op.type === "SparseSoftmaxCrossEntropyWithLogits";
  const [batch, classes] = ctx.inputShapes[0];
  const label = `${ctx.op.type} ${ctx.op.name}`;
  if (batch === 0) return { kernels: [], scratch: [], aliases: [] };
  const bindings: KernelBinding[] = [
    { binding: 0, kind: "input", index: 0, access: "read" },
    { binding: 1, kind: "input", index: 1, access: "read" },
    { binding: 2, kind: "output", index: 0, access: "read_write" },
    { binding: 3, kind: "output", index: 1, access: "read_write" },
  ];
  if (classes === 0)
    return single(elementKernel(label, [storage(0, "loss", "float32", "read_write")], batch, "loss[i] = 0.0f;", [{ binding: 0, kind: "output", index: 0, access: "read_write" }]));
  const wg = powerOfTwo(classes, 32, 256);
  const target = sparse ? "select(0.0f, 1.0f, labels[row] == i32(j))" : "labels[base + j]";
  const body = `${rowStatistics(classes, wg)}
let logSum = log(sum);
var localTotal = 0.0f;
for (var j = lid; j < ${u32(classes)}; j = j + ${u32(wg)}) {
  let shifted = x[base + j] - mx;
  let p = ${target};
  if (p != 0.0f) { localTotal = localTotal + p * (logSum - shifted); }
  backprop[base + j] = exp(shifted) / sum - p;
}
${workgroupReduce("localTotal", "total", sumOf, wg)}
if (lid == 0u) { loss[row] = total; }`;
  const decls = [
    storage(0, "x", "float32", "read"),
    storage(1, "labels", sparse ? "int32" : "float32", "read"),
    storage(2, "loss", "float32", "read_write"),
    storage(3, "backprop", "float32", "read_write"),
  ];
  return single(rowKernel(label, decls, batch, wg, body, bindings));
}
