/**
 * Elementwise kernels: one thread per output element, values in registers. A fused group is a
 * small DAG of elementwise nodes over external inputs that broadcast (numpy rules) to the
 * group's shape; every node is evaluated at the output index, so a broadcast intermediate is
 * recomputed per element rather than stored. Single ops are groups of one node.
 *
 *   group { shape [N, C], inputs x:[N, C], m:[C], v:[C], nodes: d = Sub(x, m); r = Rsqrt(v); y = Mul(d, r) }
 *   →  let i = ...; let x0 = in0[i]; let x1 = in1[i % C]; let x2 = in2[i % C];
 *      let v0 = x0 - x1; let v1 = 1.0f / sqrt(x2); let v2 = v0 * v1; out0[i] = v2;
 *
 * Also here: the ops that are an elementwise copy with a broadcast or a view (BiasAdd,
 * BroadcastTo, Fill, Reshape / Squeeze / ExpandDims copies, Cast), and AddN.
 */
import type { DType } from "../../ir/dtype";
import type { Attrs } from "../../ir/registry";
import {
  coordinates, elementKernel, literal, withHelpers, flatIndex, single, sizeOf, storage, stridesOf, unsupported, wgslType,
  type EmitContext, type KernelBinding, type OpKernels, type WgslKernel,
} from "./common";
import { castExpression, helpersIn, templateFor } from "./expressions";

export interface FusedInput {
  /** The shape the input is read with: it must broadcast to the group's shape. */
  shape: readonly number[];
  dtype: DType;
}

/** An operand: an external input, an earlier node, or a constant baked into the shader. */
export type FusedRef = { input: number } | { node: number } | { constant: number; dtype: DType };

export interface FusedNode {
  /** An op type of the expression tables, "Cast" (attrs DstT) or "AddN". */
  type: string;
  attrs?: Attrs;
  args: readonly FusedRef[];
  /** The result dtype. */
  dtype: DType;
}

export interface FusedGroup {
  label: string;
  /** The iteration shape: every output has it. */
  shape: readonly number[];
  inputs: readonly FusedInput[];
  nodes: readonly FusedNode[];
  /** Node indices written to outputs 0, 1, ... */
  outputs: readonly number[];
}

export const MAX_STORAGE_BUFFERS = 8;

/** The index expression reading an input of `shape` at the output index `i` of `out`. */
function broadcastRead(shape: readonly number[], out: readonly number[]): { index: string; dims: number[] } {
  if (sizeOf(shape) === 1) return { index: "0u", dims: [] };
  const offset = out.length - shape.length;
  const same = offset === 0 && shape.every((d, k) => d === out[k]);
  if (same) return { index: "i", dims: [] };
  const strides = stridesOf(shape);
  const terms: { coord: string; stride: number }[] = [];
  const dims: number[] = [];
  shape.forEach((d, k) => {
    if (d === 1) return;
    dims.push(k + offset);
    terms.push({ coord: `c${k + offset}`, stride: strides[k] });
  });
  return { index: flatIndex(terms), dims };
}

/** The WGSL expression of one node over its operands. */
function nodeExpression(node: FusedNode, args: string[], argTypes: DType[], label: string): string {
  if (node.type === "AddN") return args.join(" + ");
  if (node.type === "Cast") return castExpression(args[0], argTypes[0], node.dtype);
  // ZerosLike / OnesLike need no operand (fused groups pass none).
  if (node.type === "ZerosLike" || node.type === "OnesLike") return literal(node.type === "OnesLike" ? 1 : 0, node.dtype);
  const entry = templateFor(node.type);
  if (!entry || entry.arity !== args.length) throw new Error(`no ${args.length}-operand WGSL template for ${node.type} (${label})`);
  // Select's operand type is its branches'.
  const input = node.type === "SelectV2" ? argTypes[1] : argTypes[0];
  return entry.template(args, { input, output: node.dtype });
}

/** One shader for a fused group of elementwise nodes. */
export function emitFused(group: FusedGroup): WgslKernel {
  const total = sizeOf(group.shape);
  if (group.inputs.length + group.outputs.length > MAX_STORAGE_BUFFERS)
    throw new Error(`fused group ${group.label} binds ${group.inputs.length + group.outputs.length} buffers, over WebGPU's default limit of ${MAX_STORAGE_BUFFERS}`);
  const decls: string[] = [];
  const bindings: KernelBinding[] = [];
  group.inputs.forEach((input, k) => {
    decls.push(storage(k, `in${k}`, input.dtype, "read"));
    bindings.push({ binding: k, kind: "input", index: k, access: "read" });
  });
  group.outputs.forEach((node, k) => {
    const b = group.inputs.length + k;
    decls.push(storage(b, `out${k}`, group.nodes[node].dtype, "read_write"));
    bindings.push({ binding: b, kind: "output", index: k, access: "read_write" });
  });
  const used = new Set<number>();
  for (const n of group.nodes) for (const a of n.args) if ("input" in a) used.add(a.input);
  const coordDims = new Set<number>();
  const loads: string[] = [];
  for (const k of [...used].sort((a, b) => a - b)) {
    const read = broadcastRead(group.inputs[k].shape, group.shape);
    read.dims.forEach((d) => coordDims.add(d));
    loads.push(`let x${k} = in${k}[${read.index}];`);
  }
  const lines: string[] = [];
  if (coordDims.size) lines.push(coordinates("i", group.shape, "c", [...coordDims].sort((a, b) => a - b)));
  lines.push(...loads);
  const typeOf = (r: FusedRef) => ("input" in r ? group.inputs[r.input].dtype : "node" in r ? group.nodes[r.node].dtype : r.dtype);
  group.nodes.forEach((node, k) => {
    const args = node.args.map((r) => ("input" in r ? `x${r.input}` : "node" in r ? `v${r.node}` : literal(r.constant, r.dtype)));
    lines.push(`let v${k}: ${wgslType(node.dtype)} = ${nodeExpression(node, args, node.args.map(typeOf), group.label)};`);
  });
  group.outputs.forEach((node, k) => lines.push(`out${k}[i] = v${node};`));
  const body = lines.join("\n");
  const kernel = elementKernel(group.label, [...decls, ...helpersIn(body)], total, body, bindings);
  kernel.code = withHelpers(kernel.code);
  return kernel;
}

/** A group of one node over all of the op's inputs, read with `shapes` (defaults: their own). */
function oneNode(ctx: EmitContext, inputs: number[], shapes?: (readonly number[])[], type = ctx.op.type): OpKernels {
  const group: FusedGroup = {
    label: `${ctx.op.type} ${ctx.op.name}`,
    shape: ctx.outputShapes[0],
    inputs: inputs.map((index, k) => ({ shape: shapes ? shapes[k] : ctx.inputShapes[index], dtype: ctx.op.inputs[index].dtype })),
    nodes: [{ type, attrs: ctx.op.attrs, args: inputs.map((_, k) => ({ input: k })), dtype: ctx.op.outputs[0].dtype }],
    outputs: [0],
  };
  const kernel = emitFused(group);
  // Group inputs are numbered 0..k-1; map them back to the op's input indices.
  kernel.bindings = kernel.bindings.map((b) => (b.kind === "input" ? { ...b, index: inputs[b.index] } : b));
  return single(kernel);
}

/** Unary, binary, ternary ops of the expression tables, and Cast. */
export function emitElementwise(ctx: EmitContext): OpKernels {
  if (sizeOf(ctx.outputShapes[0]) === 0) return { kernels: [], scratch: [], aliases: [] };
  if (ctx.op.type === "ZerosLike" || ctx.op.type === "OnesLike") return oneNode(ctx, [0], [ctx.inputShapes[0]]);
  return oneNode(ctx, ctx.op.inputs.map((_, k) => k));
}

/** BiasAdd: the bias read along the channel axis (last for NHWC, 1 for NCHW). */
export function emitBiasAdd(ctx: EmitContext): OpKernels {
  const shape = ctx.outputShapes[0];
  const axis = ctx.op.attrs.data_format === "NCHW" ? 1 : shape.length - 1;
  const biasView = shape.map((d, k) => (k === axis ? d : 1)).slice(axis);
  return oneNode(ctx, [0, 1], [ctx.inputShapes[0], biasView]);
}

/** Copies with a broadcast or a new view of the same elements: BroadcastTo, Fill, Reshape ... */
export function emitCopy(ctx: EmitContext): OpKernels {
  const out = ctx.outputShapes[0];
  if (sizeOf(out) === 0) return { kernels: [], scratch: [], aliases: [] };
  switch (ctx.op.type) {
    case "BroadcastTo":
      return oneNode(ctx, [0], [ctx.inputShapes[0]], "Identity");
    case "Fill":
      return oneNode(ctx, [1], [[]], "Identity");
    default:
      // Reshape, Squeeze, ExpandDims, Identity ...: the same elements in the same order.
      return oneNode(ctx, [0], [out], "Identity");
  }
}

/** AddN (inputs of one shape): chunks of up to 7 inputs, later chunks adding onto the output. */
export function emitAddN(ctx: EmitContext): OpKernels {
  const n = ctx.op.inputs.length;
  const total = sizeOf(ctx.outputShapes[0]);
  const dtype = ctx.op.outputs[0].dtype;
  requireSameShape(ctx);
  if (total === 0) return { kernels: [], scratch: [], aliases: [] };
  const kernels: WgslKernel[] = [];
  for (let start = 0; start < n; ) {
    const first = start === 0;
    const count = Math.min(n - start, MAX_STORAGE_BUFFERS - 1);
    const decls: string[] = [];
    const bindings: KernelBinding[] = [];
    const terms: string[] = first ? [] : ["out[i]"];
    for (let k = 0; k < count; k++) {
      decls.push(storage(k, `in${k}`, ctx.op.inputs[start + k].dtype, "read"));
      bindings.push({ binding: k, kind: "input", index: start + k, access: "read" });
      terms.push(`in${k}[i]`);
    }
    decls.push(storage(count, "out", dtype, "read_write"));
    bindings.push({ binding: count, kind: "output", index: 0, access: "read_write" });
    kernels.push(elementKernel(`AddN ${ctx.op.name} [${start}, ${start + count})`, decls, total, `out[i] = ${terms.join(" + ")};`, bindings));
    start += count;
  }
  return { kernels, scratch: [], aliases: [] };
}

/** Which elementwise-table ops an op type maps to (for the emitter registry). */
export function isElementwiseType(type: string): boolean {
  return templateFor(type) !== undefined || type === "Cast";
}

export function requireSameShape(ctx: EmitContext): void {
  const out = ctx.outputShapes[0];
  for (const s of ctx.inputShapes)
    if (sizeOf(s) !== sizeOf(out)) throw unsupported(ctx.op, "its inputs must have the output's shape");
}
