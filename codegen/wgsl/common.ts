/**
 * Shared pieces of the WGSL emitters: the kernel description every emitter returns, WGSL types
 * and literals, and the one-thread-per-element dispatch helpers.
 *
 * Device representation: every tensor lives in its own storage buffer of 4-byte elements:
 * float32 → f32, int32 → i32, bool → u32 (0 or 1). Shaders are specialized to concrete shapes:
 * sizes, strides and attributes are baked in as constants, so no uniforms are needed.
 * Kernels stay within WebGPU's default limits (8 storage buffers per stage, 256 invocations
 * per workgroup, 16 KiB of workgroup memory, 65535 workgroups per dimension).
 */
import type { DType } from "../../ir/dtype";
import { invalidArgument } from "../../ir/diagnostics";
import type { NDArray } from "../../ir/ndarray";
import type { Attrs } from "../../ir/registry";

/** What an emitter needs of an operation; `Operation` fits (tests pass plain objects). */
export interface KernelOp {
  readonly type: string;
  readonly name: string;
  readonly attrs: Attrs;
  readonly inputs: readonly { readonly dtype: DType }[];
  readonly outputs: readonly { readonly dtype: DType }[];
}

/** One storage binding of a kernel and the tensor (or scratch buffer) it is bound to. */
export interface KernelBinding {
  binding: number;
  /** input `index` of the op, output `index`, or the op's scratch buffer `index`. */
  kind: "input" | "output" | "scratch";
  index: number;
  /** "read_write" on an input: the op updates it in place (assigns, optimizer steps). */
  access: "read" | "read_write";
}

/** One compute dispatch: a complete WGSL module, its entry point and its bindings (group 0). */
export interface WgslKernel {
  label: string;
  code: string;
  entryPoint: string;
  workgroupCount: [number, number, number];
  bindings: KernelBinding[];
}

/** All that one op needs: its dispatches in order, scratch buffers, and in-place outputs. */
export interface OpKernels {
  kernels: WgslKernel[];
  /** Byte sizes of the op's scratch buffers (bound with kind "scratch"). */
  scratch: number[];
  /** Outputs that are an input's buffer updated in place (Assign's output is its variable). */
  aliases: { output: number; input: number }[];
}

export interface EmitOptions {
  /**
   * Values of inputs that are host constants (reduction axes, sizes tensors, Reshape's shape).
   * For an `Operation` they are read from Const producers when not given.
   */
  constants?: readonly (NDArray | undefined)[];
}

/** The emitter's view of one op with concrete shapes. */
export interface EmitContext {
  op: KernelOp;
  inputShapes: readonly (readonly number[])[];
  outputShapes: readonly (readonly number[])[];
  constants: readonly (NDArray | undefined)[];
}

export type Emitter = (ctx: EmitContext) => OpKernels;

export const WORKGROUP = 256;
export const MAX_WORKGROUPS = 65535;

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function stridesOf(shape: readonly number[]): number[] {
  const out = new Array<number>(shape.length);
  let s = 1;
  for (let d = shape.length - 1; d >= 0; d--) {
    out[d] = s;
    s *= shape[d];
  }
  return out;
}

/** The WGSL scalar type that holds `dtype` in a storage buffer. */
export function wgslType(dtype: DType): "f32" | "i32" | "u32" {
  return dtype === "float32" ? "f32" : dtype === "int32" ? "i32" : "u32";
}

/**
 * A WGSL f32 expression for `v`. Infinities and NaN cannot be constant expressions (Tint rejects
 * them), so they come from a bit pattern through a function call, which is not constant.
 */
export function f32(v: number): string {
  if (Number.isNaN(v)) return "ff_bits(0x7fc00000u)";
  const r = Math.fround(v);
  if (r === Infinity) return "ff_bits(0x7f800000u)";
  if (r === -Infinity) return "ff_bits(0xff800000u)";
  if (Object.is(r, -0)) return "-0.0f";
  return `${String(r)}f`.replace(/^(-?\d+)f$/, "$1.0f");
}

export function i32(v: number): string {
  const r = v | 0;
  return r === -2147483648 ? "(-2147483647i - 1i)" : `${r}i`;
}

export function u32(v: number): string {
  return `${v >>> 0}u`;
}

/** A literal of `dtype`'s WGSL type. */
export function literal(v: number, dtype: DType): string {
  return dtype === "float32" ? f32(v) : dtype === "int32" ? i32(v) : u32(v ? 1 : 0);
}

const BITS_HELPER = "fn ff_bits(b: u32) -> f32 { return bitcast<f32>(b); }";

/** `code` with the module-level helpers it calls appended (ff_bits). */
export function withHelpers(code: string): string {
  return code.includes("ff_bits(") && !code.includes("fn ff_bits(") ? `${code}\n${BITS_HELPER}\n` : code;
}

/** `var<storage, ...> name: array<T>;` for binding `b`. */
export function storage(binding: number, name: string, dtype: DType, access: "read" | "read_write"): string {
  return `@group(0) @binding(${binding}) var<storage, ${access}> ${name}: array<${wgslType(dtype)}>;`;
}

/** Workgroup counts for `groups` workgroups, folded into y when over the per-dimension limit. */
export function gridOf(groups: number): [number, number, number] {
  if (groups <= MAX_WORKGROUPS) return [Math.max(groups, 0), 1, 1];
  const y = Math.ceil(groups / MAX_WORKGROUPS);
  if (y > MAX_WORKGROUPS)
    throw invalidArgument({ code: "too-large", message: `a dispatch of ${groups} workgroups exceeds WebGPU's limits`, fix: "split the tensor" });
  return [Math.ceil(groups / y), y, 1];
}

/** The linear workgroup index, for kernels over a grid from `gridOf`. */
export const GROUP_INDEX = "(wid.y * nwg.x + wid.x)";

/** The entry point's builtins: global and local invocation ids, workgroup id and count. */
export const BUILTINS =
  "@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wid: vec3u, @builtin(num_workgroups) nwg: vec3u";

/**
 * A one-thread-per-element kernel over `total` elements: `body` sees `i` (u32) and runs for
 * i < total. `decls` are the binding declarations and helper functions.
 */
export function elementKernel(label: string, decls: string[], total: number, body: string, bindings: KernelBinding[]): WgslKernel {
  const code = `// ${label}
${decls.join("\n")}

@compute @workgroup_size(${WORKGROUP})
fn main(${BUILTINS}) {
  let i = ${GROUP_INDEX} * ${WORKGROUP}u + lid;
  if (i >= ${u32(total)}) { return; }
${indent(body, 2)}
}
`;
  return { label, code, entryPoint: "main", workgroupCount: gridOf(Math.ceil(total / WORKGROUP)), bindings };
}

/** Re-indents a block of WGSL statements. */
export function indent(text: string, spaces: number): string {
  const pad = " ".repeat(spaces);
  return text
    .split("\n")
    .map((l) => (l.trim() ? pad + l.trimStart() : l))
    .join("\n");
}

/**
 * WGSL statements that split the flat index `index` of `shape` into coordinates `${prefix}d`
 * (u32), only for the dims listed (all by default).
 */
export function coordinates(index: string, shape: readonly number[], prefix: string, dims?: readonly number[]): string {
  const strides = stridesOf(shape);
  const wanted = dims ?? shape.map((_, d) => d);
  return wanted
    .map((d) => {
      const div = strides[d] === 1 ? index : `(${index} / ${u32(strides[d])})`;
      const expr = d === 0 ? div : `${div} % ${u32(shape[d])}`;
      return `let ${prefix}${d} = ${expr};`;
    })
    .join("\n");
}

/** A flat-index expression from coordinate names and strides (terms with stride 0 dropped). */
export function flatIndex(terms: readonly { coord: string; stride: number }[]): string {
  const parts = terms.filter((t) => t.stride !== 0).map((t) => (t.stride === 1 ? t.coord : `${t.coord} * ${u32(t.stride)}`));
  return parts.length ? parts.join(" + ") : "0u";
}

/** An emitter-level error for an op the WGSL backend cannot compile. */
export function unsupported(op: KernelOp, why: string, fix = "run this graph on the interpreter or the js backend"): Error {
  return invalidArgument({ code: "wgsl-unsupported", node: op.name, message: `the WGSL backend cannot compile ${op.type}: ${why}`, fix });
}

/** The constant value of input `index`, or an error naming the op. */
export function constantInput(ctx: EmitContext, index: number, what: string): number[] {
  const v = ctx.constants[index];
  if (!v) throw unsupported(ctx.op, `its ${what} (input ${index}) must be a constant`, "make it a Const (constant folding does this for static shapes)");
  return Array.from(v.data);
}

/** The smallest power of two at least `n`, clamped to [lo, hi]. */
export function powerOfTwo(n: number, lo: number, hi: number): number {
  let p = lo;
  while (p < n && p < hi) p *= 2;
  return p;
}

export function single(kernel: WgslKernel): OpKernels {
  return { kernels: [kernel], scratch: [], aliases: [] };
}

/** The bindings 0..n-1 for inputs `inputs` (read) then outputs `outputs`. */
export function ioBindings(inputs: readonly number[], outputs: readonly number[]): KernelBinding[] {
  const b: KernelBinding[] = inputs.map((index, k) => ({ binding: k, kind: "input", index, access: "read" }));
  outputs.forEach((index, k) => b.push({ binding: inputs.length + k, kind: "output", index, access: "read_write" }));
  return b;
}
