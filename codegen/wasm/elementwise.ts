/**
 * Elementwise kernels: a small DAG of elementwise ops (simd-ops.ts) over one domain, its
 * operands broadcast numpy-style, in one pass — one op is the plain case, Relu(x·s + b) a
 * fused group. Dimensions that stay contiguous for every operand are merged (as the JS
 * target's loops.ts does); the innermost runs four lanes at a time (a per-row operand is
 * splatted once per row), its remainder by lanes; outer dimensions are loops that advance one
 * pointer per operand.
 */
import { InternalError } from "../../ir/diagnostics";
import { stridesOf } from "../../ir/shape";
import { broadcastStrides, coalesce } from "../js/loops";
import type { Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";
import { splatConst, vectorOp } from "./simd-ops";

export type ElementwiseInput =
  /** f32 tensor at a byte offset, broadcast from `shape` to the domain. */
  | { offset: number; shape: readonly number[] }
  | { value: number };

export interface ElementwiseKernel {
  kind: "elementwise";
  op: string;
  /** The iteration domain (the outputs' shape). */
  shape: readonly number[];
  inputs: readonly ElementwiseInput[];
  /** In order; an argument index < inputs.length is an input, else op (index − inputs.length). */
  ops: readonly { type: string; args: readonly number[] }[];
  /** Values to store (indices as for args) and their byte offsets. */
  outputs: readonly { value: number; offset: number }[];
  scratch?: number;
}

/** The kernel of one elementwise op over `inputs`, its output at `out`. */
export function elementwiseOp(op: string, type: string, shape: readonly number[], inputs: readonly ElementwiseInput[], out: number): ElementwiseKernel {
  return { kind: "elementwise", op, shape, inputs, ops: [{ type, args: inputs.map((_, i) => i) }], outputs: [{ value: inputs.length, offset: out }] };
}

function check(e: ElementwiseKernel): void {
  e.ops.forEach((o, j) => {
    const fail = (message: string, received: string) => {
      throw new InternalError({ code: "wasm-elementwise", node: e.op, message, expected: "an op of codegen/wasm/simd-ops.ts over earlier values", received });
    };
    if (!vectorOp(o.type, o.args.length)) fail(`the wasm target has no ${o.args.length}-operand ${o.type}`, o.type);
    if (o.args.some((a) => a < 0 || a >= e.inputs.length + j)) fail(`op ${j} (${o.type}) reads a value not computed before it`, JSON.stringify(o.args));
  });
}

export function emitElementwise(fb: FunctionBuilder, e: ElementwiseKernel): Expr[] {
  check(e);
  const domain = [...e.shape];
  const size = domain.reduce((a, b) => a * b, 1);
  if (size === 0) return [];
  const tensors = e.inputs.flatMap((x, i) => ("offset" in x ? [{ i, offset: x.offset, strides: broadcastStrides(x.shape, domain) }] : []));
  const outStrides = stridesOf(domain);
  const { sizes, strides } = coalesce(domain, [outStrides, ...tensors.map((t) => t.strides)]);
  if (sizes.length === 0) sizes.push(1), strides.forEach((s) => s.push(0));
  const depth = sizes.length;
  const inner = sizes[depth - 1];
  // Pointers: outputs share the output strides (strides[0]); tensor inputs their own.
  const pointerStrides = [...e.outputs.map(() => strides[0]), ...tensors.map((_, k) => strides[k + 1])];
  const bases = [...e.outputs.map((o) => o.offset), ...tensors.map((t) => t.offset)];
  const levels = Array.from({ length: depth }, () => bases.map(() => fb.i32Local()));
  const values = Array.from({ length: e.inputs.length + e.ops.length }, () => fb.v128Local());
  const m = fb.m;

  /** Loads of the inputs that vary along the innermost dimension, ops, stores: `lanes` at the pointers of `level`. */
  const vectorBody = (ptrs: number[], lanes: number): Expr[] => {
    const code: Expr[] = [];
    tensors.forEach((t, k) => {
      if (strides[k + 1][depth - 1] !== 0) code.push(fb.set(values[t.i], fb.loadLanes({ local: ptrs[e.outputs.length + k], offset: 0 }, lanes)));
    });
    e.ops.forEach((o, j) => code.push(fb.set(values[e.inputs.length + j], vectorOp(o.type, o.args.length)!(fb, o.args.map((a) => values[a])))));
    e.outputs.forEach((o, k) => code.push(...fb.storeLanes({ local: ptrs[k], offset: 0 }, values[o.value], lanes)));
    return code;
  };
  /** Inputs constant along the innermost dimension, splatted once per inner loop. */
  const splats = (ptrs: number[]): Expr[] => [
    ...e.inputs.flatMap((x, i) => ("value" in x ? [fb.set(values[i], splatConst(fb, x.value))] : [])),
    ...tensors.flatMap((t, k) => (strides[k + 1][depth - 1] === 0 ? [fb.set(values[t.i], fb.m.v128.load32_splat(0, 4, fb.get(ptrs[e.outputs.length + k])))] : [])),
  ];

  const level = (d: number): Expr[] => {
    const ptrs = levels[d];
    const setup = ptrs.map((p, k) => fb.set(p, d === 0 ? fb.i32(bases[k]) : fb.get(levels[d - 1][k])));
    if (d === depth - 1) {
      const step = ptrs.flatMap((p, k) => fb.bump(p, pointerStrides[k][d] * 16));
      return [
        ...setup,
        ...splats(ptrs),
        fb.repeat(Math.floor(inner / 4), [...vectorBody(ptrs, 4), ...step]),
        ...(inner % 4 ? vectorBody(ptrs, inner % 4) : []),
      ];
    }
    const step = ptrs.flatMap((p, k) => fb.bump(p, pointerStrides[k][d] * 4));
    return [...setup, fb.repeat(sizes[d], [...level(d + 1), ...step])];
  };
  return level(0);
}
