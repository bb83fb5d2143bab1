/**
 * Reductions: Sum, Mean, Max, Min, Prod, All, Any over constant axes, SumToShape (the autodiff
 * driver's broadcast-gradient reduction), BiasAddGrad (sum over all but the channel axis), and
 * ArgMax / ArgMin. The input's dims are classified kept / reduced and adjacent dims of one class
 * are merged; then
 *   - one workgroup per output element when each output reduces more than 16 elements: the
 *     threads stride over the reduced elements, then a tree reduction in workgroup memory;
 *   - one thread per output element with a loop otherwise.
 *
 *   Sum(x [N, C], axes [0]) → kept [C] (stride 1), reduced [N] (stride C):
 *   workgroup o: acc = Σ_{j = lid; j < N; j += 64} x[o + j * C]; tree-reduce acc; out[o] = acc
 */
import type { DType } from "../../ir/dtype";
import {
  BUILTINS, GROUP_INDEX, constantInput, elementKernel, gridOf, literal, powerOfTwo, single, sizeOf, storage, stridesOf,
  u32, wgslType, type EmitContext, type OpKernels, type WgslKernel,
} from "./common";

interface Reducer {
  init: (dtype: DType) => number;
  /** acc ⊕ v as WGSL. */
  step: (acc: string, v: string, dtype: DType) => string;
  /** The output from the accumulator and the element count. */
  finish?: (acc: string, count: number, dtype: DType) => string;
}

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;

const reducers: Record<string, Reducer> = {
  Sum: { init: () => 0, step: (a, v) => `${a} + ${v}` },
  Mean: {
    init: () => 0,
    step: (a, v) => `${a} + ${v}`,
    // i32 division truncates like the reference's Math.trunc.
    finish: (a, n, d) => `${a} / ${literal(n, d)}`,
  },
  Max: { init: (d) => (d === "int32" ? INT32_MIN : -Infinity), step: (a, v) => `select(${a}, ${v}, ${v} > ${a})` },
  Min: { init: (d) => (d === "int32" ? INT32_MAX : Infinity), step: (a, v) => `select(${a}, ${v}, ${v} < ${a})` },
  Prod: { init: () => 1, step: (a, v) => `${a} * ${v}` },
  All: { init: () => 1, step: (a, v) => `select(0u, 1u, ${a} != 0u && ${v} != 0u)` },
  Any: { init: () => 0, step: (a, v) => `select(0u, 1u, ${a} != 0u || ${v} != 0u)` },
};

/** The value of an empty reduction, as the reference kernels give it. */
function emptyValue(type: string, dtype: DType): number {
  if (type === "Mean") return dtype === "int32" ? 0 : NaN;
  return reducers[type].init(dtype);
}

/** Merged runs of dims: size and input stride, kept or reduced. */
interface Run {
  size: number;
  stride: number;
  reduced: boolean;
}

function runsOf(shape: readonly number[], reduced: ReadonlySet<number>): Run[] {
  const strides = stridesOf(shape);
  const runs: Run[] = [];
  shape.forEach((size, d) => {
    if (size === 1) return;
    const r = reduced.has(d);
    const last = runs[runs.length - 1];
    // Row-major: the previous run's stride is this dim's stride times its size when adjacent.
    if (last && last.reduced === r && last.stride === strides[d] * size) {
      last.size *= size;
      last.stride = strides[d];
    } else runs.push({ size, stride: strides[d], reduced: r });
  });
  return runs;
}

/** WGSL for Σ coord_k · stride_k of index `index` over the runs (row-major over the runs). */
function offsetExpression(index: string, runs: Run[]): string {
  if (runs.length === 0) return "0u";
  const terms: string[] = [];
  let inner = 1;
  for (let k = runs.length - 1; k >= 0; k--) {
    const r = runs[k];
    let coord = inner === 1 ? index : `(${index} / ${u32(inner)})`;
    if (k > 0) coord = `(${coord} % ${u32(r.size)})`;
    terms.push(r.stride === 1 ? coord : `${coord} * ${u32(r.stride)}`);
    inner *= r.size;
  }
  return terms.reverse().join(" + ");
}

export interface ReductionSpec {
  label: string;
  type: keyof typeof reducers | string;
  dtype: DType;
  shape: readonly number[];
  reduced: ReadonlySet<number>;
  /** The input index of the op bound as the reduced tensor. */
  input: number;
}

/** A reduction of one tensor into output 0. */
export function emitReduction(spec: ReductionSpec): WgslKernel[] {
  const reducer = reducers[spec.type];
  const runs = runsOf(spec.shape, spec.reduced);
  const kept = runs.filter((r) => !r.reduced);
  const red = runs.filter((r) => r.reduced);
  const outputs = sizeOf(kept.map((r) => r.size));
  const count = sizeOf(red.map((r) => r.size));
  const t = wgslType(spec.dtype);
  const decls = [storage(0, "x", spec.dtype, "read"), storage(1, "out", spec.dtype, "read_write")];
  const bindings = [
    { binding: 0, kind: "input" as const, index: spec.input, access: "read" as const },
    { binding: 1, kind: "output" as const, index: 0, access: "read_write" as const },
  ];
  if (outputs === 0) return [];
  if (count === 0 || sizeOf(spec.shape) === 0)
    return [elementKernel(spec.label, decls.slice(1).map((d) => d.replace("binding(1)", "binding(0)")), outputs, `out[i] = ${literal(emptyValue(spec.type, spec.dtype), spec.dtype)};`, [{ ...bindings[1], binding: 0 }])];
  const finish = (acc: string) => (reducer.finish ? reducer.finish(acc, count, spec.dtype) : acc);
  const base = offsetExpression("o", kept);
  const offset = offsetExpression("j", red);
  const init = literal(reducer.init(spec.dtype), spec.dtype);
  if (count <= 16) {
    const body = `let o = i;
let base = ${base};
var acc: ${t} = ${init};
for (var j = 0u; j < ${u32(count)}; j = j + 1u) {
  acc = ${reducer.step("acc", `x[base + ${offset}]`, spec.dtype)};
}
out[o] = ${finish("acc")};`;
    return [elementKernel(spec.label, decls, outputs, body, bindings)];
  }
  const wg = powerOfTwo(count, 32, 256);
  const code = `// ${spec.label}
${decls.join("\n")}
var<workgroup> partial: array<${t}, ${wg}>;

@compute @workgroup_size(${wg})
fn main(${BUILTINS}) {
  let o = ${GROUP_INDEX};
  if (o >= ${u32(outputs)}) { return; }
  let base = ${base};
  var acc: ${t} = ${init};
  for (var j = lid; j < ${u32(count)}; j = j + ${u32(wg)}) {
    acc = ${reducer.step("acc", `x[base + ${offset}]`, spec.dtype)};
  }
  partial[lid] = acc;
  workgroupBarrier();
  for (var s = ${u32(wg / 2)}; s > 0u; s = s >> 1u) {
    if (lid < s) { partial[lid] = ${reducer.step("partial[lid]", "partial[lid + s]", spec.dtype)}; }
    workgroupBarrier();
  }
  if (lid == 0u) { out[o] = ${finish("partial[0]")}; }
}
`;
  return [{ label: spec.label, code, entryPoint: "main", workgroupCount: gridOf(outputs), bindings }];
}

/** Sum, Mean, Max, Min, Prod, All, Any with constant axes (input 1). */
export function emitReduce(ctx: EmitContext): OpKernels {
  const shape = ctx.inputShapes[0];
  const axes = constantInput(ctx, 1, "reduction axes").map((a) => (a < 0 ? a + shape.length : a));
  const kernels = emitReduction({ label: `${ctx.op.type} ${ctx.op.name}`, type: ctx.op.type, dtype: ctx.op.inputs[0].dtype, shape, reduced: new Set(axes), input: 0 });
  return { kernels, scratch: [], aliases: [] };
}

/** SumToShape: sums the dims where the target shape (input 1) is 1 or missing. */
export function emitSumToShape(ctx: EmitContext): OpKernels {
  const shape = ctx.inputShapes[0];
  const target = ctx.outputShapes[0];
  const offset = shape.length - target.length;
  const reduced = new Set(shape.map((_, d) => d).filter((d) => d < offset || target[d - offset] === 1));
  const kernels = emitReduction({ label: `SumToShape ${ctx.op.name}`, type: "Sum", dtype: ctx.op.inputs[0].dtype, shape, reduced, input: 0 });
  return { kernels, scratch: [], aliases: [] };
}

/** BiasAddGrad: the sum over every axis but the channel one. */
export function emitBiasAddGrad(ctx: EmitContext): OpKernels {
  const shape = ctx.inputShapes[0];
  const axis = ctx.op.attrs.data_format === "NCHW" ? 1 : shape.length - 1;
  const reduced = new Set(shape.map((_, d) => d).filter((d) => d !== axis));
  const kernels = emitReduction({ label: `BiasAddGrad ${ctx.op.name}`, type: "Sum", dtype: ctx.op.inputs[0].dtype, shape, reduced, input: 0 });
  return { kernels, scratch: [], aliases: [] };
}

/** ArgMax / ArgMin along a constant axis: one thread per output, the first extremum wins. */
export function emitArg(ctx: EmitContext): OpKernels {
  const shape = ctx.inputShapes[0];
  let axis = constantInput(ctx, 1, "dimension")[0];
  if (axis < 0) axis += shape.length;
  const n = shape[axis];
  const inner = sizeOf(shape.slice(axis + 1));
  const outputs = sizeOf(ctx.outputShapes[0]);
  if (outputs === 0) return { kernels: [], scratch: [], aliases: [] };
  const better = ctx.op.type === "ArgMax" ? ">" : "<";
  const dtype = ctx.op.inputs[0].dtype;
  const body = `let base = ${inner === 1 ? `i * ${u32(n)}` : `(i / ${u32(inner)}) * ${u32(n * inner)} + i % ${u32(inner)}`};
var best = x[base];
var at = 0i;
for (var k = 1u; k < ${u32(n)}; k = k + 1u) {
  let v = x[base + k * ${u32(inner)}];
  if (v ${better} best) { best = v; at = i32(k); }
}
out[i] = at;`;
  const decls = [storage(0, "x", dtype, "read"), storage(1, "out", "int32", "read_write")];
  return single(elementKernel(`${ctx.op.type} ${ctx.op.name}`, decls, outputs, body, [
    { binding: 0, kind: "input", index: 0, access: "read" },
    { binding: 1, kind: "output", index: 0, access: "read_write" },
  ]));
}
