/**
 * WGSL op tests in bulk: each case builds one op in a fresh graph (Placeholders for tensor
 * inputs, Consts for host constants, VariableV2 for ref inputs), runs it on the interpreter (the
 * reference kernels), emits its kernels, validates every shader with Dawn's null backend, and
 * executes all cases of a test file in one Deno process, comparing the outputs (and the variables
 * updated in place) with the interpreter's.
 */
import { expect } from "vitest";
import "../../ir/ops/index";
import type { DType } from "../../ir/dtype";
import { Graph, type Operation, type Tensor } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import type { Attrs } from "../../ir/registry";
import { getOpDef } from "../../ir/registry";
import { Session } from "../../src/session";
import { emitOpKernels } from "../../codegen/wgsl/emit";
import type { OpKernels } from "../../codegen/wgsl/common";
import { runGpuJobs, type GpuJob, type GpuShader } from "./deno-gpu";
import { validateWgsl } from "./wgsl-validate";

export interface OpCase {
  label: string;
  type: string;
  attrs?: Attrs;
  inputs: NDArray[];
  /** Inputs built as Consts (host constants: axes, sizes, perms). */
  constants?: number[];
  rtol?: number;
  /** Absolute tolerance relative to the largest |expected| of each output (default 1e-5). */
  atol?: number;
}

export interface PreparedCase {
  spec: OpCase;
  op: Operation;
  kernels: OpKernels;
  /** Reference outputs (and updated variables, for ref inputs), in comparison order. */
  expected: { name: string; value: NDArray }[];
}

/** Device bytes of an NDArray (bool as u32). */
export function deviceBytes(a: NDArray): ArrayBufferView {
  if (a.dtype === "float32") return Float32Array.from(a.data);
  if (a.dtype === "int32") return Int32Array.from(a.data);
  return Uint32Array.from(a.data);
}

export function fromDevice(bytes: Uint8Array, dtype: DType, shape: number[]): NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const buffer = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + n * 4);
  if (dtype === "float32") return new NDArray(dtype, shape, new Float32Array(buffer));
  if (dtype === "int32") return new NDArray(dtype, shape, new Int32Array(buffer));
  return new NDArray(dtype, shape, Uint8Array.from(new Uint32Array(buffer)));
}

/** Builds the op, runs the interpreter, emits the kernels. */
export function prepare(spec: OpCase): PreparedCase {
  const g = new Graph();
  const refs = getOpDef(spec.type).refInputs ?? [];
  const feeds = new Map<Tensor, NDArray>();
  const variables: { name: string; value: NDArray }[] = [];
  const inputs = spec.inputs.map((a, i) => {
    if (spec.constants?.includes(i)) return g.addOp({ type: "Const", name: `c${i}`, attrs: { value: a, dtype: a.dtype } }).outputs[0];
    if (refs.includes(i)) {
      const v = g.addOp({ type: "VariableV2", name: `var${i}`, attrs: { shape: a.shape, dtype: a.dtype } });
      variables.push({ name: v.name, value: a });
      return v.outputs[0];
    }
    const t = g.addOp({ type: "Placeholder", name: `in${i}`, attrs: { dtype: a.dtype, shape: a.shape } }).outputs[0];
    feeds.set(t, a);
    return t;
  });
  const op = g.addOp({ type: spec.type, name: spec.type, inputs, attrs: spec.attrs ?? {} });
  const sess = new Session({ graph: g });
  for (const v of variables) sess.setVariableValue(v.name, v.value);
  const outputs = sess.runSync(op.outputs, feeds) as NDArray[];
  const expected = outputs.map((value, k) => ({ name: `output ${k}`, value }));
  for (const v of variables) expected.push({ name: `variable ${v.name}`, value: sess.variableValues.get(v.name)! });
  const kernels = emitOpKernels(op, spec.inputs.map((a) => a.shape), outputs.map((o) => o.shape));
  return { spec, op, kernels, expected };
}

/** The shader list (deduplicated) and one job per case. */
export function buildJobs(cases: PreparedCase[]): { shaders: GpuShader[]; jobs: GpuJob[] } {
  const shaders: GpuShader[] = [];
  const byCode = new Map<string, number>();
  const jobs = cases.map((c): GpuJob => {
    const refs = getOpDef(c.spec.type).refInputs ?? [];
    const inputBuffers = c.spec.inputs.map((a) => ({ size: a.size * 4, data: deviceBytes(a) }));
    const outputBase = inputBuffers.length;
    const outputBuffers = c.expected.slice(0, c.op.outputs.length).map((e) => ({ size: e.value.size * 4 }));
    const scratchBase = outputBase + outputBuffers.length;
    const aliased = new Map(c.kernels.aliases.map((a) => [a.output, a.input]));
    const bufferOf = (kind: string, index: number) =>
      kind === "input" ? index : kind === "output" ? (aliased.has(index) ? aliased.get(index)! : outputBase + index) : scratchBase + index;
    const steps = c.kernels.kernels.map((k) => {
      let shader = byCode.get(k.code);
      if (shader === undefined) {
        shader = shaders.length;
        byCode.set(k.code, shader);
        shaders.push({ code: k.code, entryPoint: k.entryPoint, layout: k.bindings.map((b) => ({ binding: b.binding, type: b.access === "read" ? "read-only-storage" : "storage" })) });
      }
      return { shader, workgroupCount: k.workgroupCount, bindings: k.bindings.map((b) => ({ binding: b.binding, buffer: bufferOf(b.kind, b.index) })) };
    });
    const reads = c.op.outputs.map((_, k) => bufferOf("output", k));
    for (const i of refs) reads.push(i);
    return {
      label: c.spec.label,
      buffers: [...inputBuffers, ...outputBuffers, ...c.kernels.scratch.map((size) => ({ size }))],
      steps,
      reads,
    };
  });
  return { shaders, jobs };
}

/** Validates every kernel of every case with Dawn; returns "label: error" lines. */
export async function validateCases(cases: PreparedCase[]): Promise<string[]> {
  const problems: string[] = [];
  for (const c of cases)
    for (const k of c.kernels.kernels) {
      const layout = k.bindings.map((b) => ({ binding: b.binding, type: b.access === "read" ? ("read-only-storage" as const) : ("storage" as const) }));
      const errors = await validateWgsl(k.code, { entryPoint: k.entryPoint, layout });
      for (const e of errors) problems.push(`${c.spec.label} / ${k.label}: ${e}\n${numbered(k.code)}`);
    }
  return problems;
}

function numbered(code: string): string {
  return code
    .split("\n")
    .map((l, i) => `${String(i + 1).padStart(3)} ${l}`)
    .join("\n");
}

export interface CaseResult {
  error?: string;
  actual: NDArray[];
}

/** Runs all cases in one Deno process; results in case order. */
export function executeCases(cases: PreparedCase[]): { results: CaseResult[]; wallMs: number; adapter: string; slowest: string[] } {
  const { shaders, jobs } = buildJobs(cases);
  const batch = runGpuJobs(shaders, jobs);
  const results = batch.jobs.map((j, n): CaseResult => ({
    error: j.error,
    actual: j.outputs.map((bytes, k) => {
      const e = cases[n].expected[k].value;
      return fromDevice(bytes, e.dtype, e.shape);
    }),
  }));
  const slowest = [...batch.jobs].sort((a, b) => b.ms - a.ms).slice(0, 3).map((j) => `${j.label} ${Math.round(j.ms)} ms`);
  return { results, wallMs: batch.wallMs, adapter: batch.adapter, slowest };
}

/** Compares one case's device outputs with the interpreter's. */
export function expectCaseClose(c: PreparedCase, result: CaseResult): void {
  expect(result.error, `${c.spec.label}: device error`).toBeUndefined();
  const rtol = c.spec.rtol ?? 1e-4;
  c.expected.forEach((e, k) => {
    const actual = result.actual[k];
    const what = `${c.spec.label}, ${e.name}`;
    expect(actual.shape, what).toEqual(e.value.shape);
    if (e.value.dtype !== "float32") {
      expect(Array.from(actual.data), what).toEqual(Array.from(e.value.data));
      return;
    }
    let scale = 1;
    for (const v of e.value.data) if (Number.isFinite(v)) scale = Math.max(scale, Math.abs(v));
    const atol = (c.spec.atol ?? 1e-5) * scale;
    for (let i = 0; i < e.value.size; i++) {
      const want = e.value.data[i];
      const got = actual.data[i];
      if (Number.isNaN(want)) expect(Number.isNaN(got), `${what}[${i}]: expected NaN, got ${got}`).toBe(true);
      else if (!Number.isFinite(want)) expect(got, `${what}[${i}]`).toBe(want);
      else if (!(Math.abs(got - want) <= atol + rtol * Math.abs(want))) expect(got, `${what}[${i}] (expected ${want}, rtol ${rtol}, atol ${atol})`).toBe(want);
    }
  });
}

/** An NDArray of `shape` from a generator. */
export function array(dtype: DType, shape: number[], values: ArrayLike<number>): NDArray {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = dtype === "float32" ? new Float32Array(n) : dtype === "int32" ? new Int32Array(n) : new Uint8Array(n);
  for (let i = 0; i < n; i++) data[i] = values[i % Math.max(values.length, 1)];
  return new NDArray(dtype, shape, data);
}

/** Deterministic random float32 values in [lo, hi). */
export function random(shape: number[], seed: number, lo = -1, hi = 1): NDArray {
  let s = (seed * 2654435761) >>> 0 || 1;
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    data[i] = lo + ((s >>> 0) / 4294967296) * (hi - lo);
  }
  return new NDArray("float32", shape, data);
}

/** Random integers in [lo, hi]. */
export function randomInts(shape: number[], seed: number, lo: number, hi: number, dtype: DType = "int32"): NDArray {
  const r = random(shape, seed, 0, 1);
  return array(dtype, shape, Array.from(r.data, (v) => lo + Math.floor(v * (hi - lo + 1))));
}

export const scalar = (v: number, dtype: DType = "float32") => array(dtype, [], [v]);
export const ints = (values: number[]) => new NDArray("int32", [values.length], Int32Array.from(values));
