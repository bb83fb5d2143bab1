/**
 * Running a WGSL dispatch plan in tests: a plan input from a graph and its feeds (the same shape
 * the js backend compiles), and a Deno job that uploads feeds, constants and variable values,
 * runs the plan's steps `runs` times, and reads back the fetches and the variables.
 */
import type { DType } from "../../ir/dtype";
import type { Operation, Tensor } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import type { PlanInput } from "../../codegen/js/analysis";
import type { DispatchPlan } from "../../codegen/wgsl/plan";
import { planRun } from "../../src/runtime/plan";
import type { GpuJob, GpuShader, GpuStep } from "./deno-gpu";
import { deviceBytes, fromDevice } from "./wgsl-cases";

/** The plan input for fetching `fetches` with `feeds` (tensor → value); variables take their value's shape. */
export function planInput(fetches: (Tensor | Operation)[], feeds: Map<Tensor, NDArray>, variables: ReadonlyMap<string, NDArray>): PlanInput {
  const fedNames = new Set([...feeds.keys()].map((t) => t.name));
  const targets = fetches.map((f) => ("op" in f ? f.op : f));
  const order = planRun(targets, fedNames);
  const fed = new Map<string, { tensor: Tensor; dtype: DType; shape: number[] }>();
  for (const [t, v] of feeds) fed.set(t.name, { tensor: t, dtype: v.dtype, shape: v.shape });
  return {
    order,
    fed,
    fetches: fetches.filter((f): f is Tensor => "op" in f),
    variableShape: (op) => variables.get(op.name)?.shape ?? (op.outputs[0].shape?.every((d) => d !== null) ? (op.outputs[0].shape as number[]) : undefined),
  };
}

/** One Deno job for a plan, adding the shaders it uses to `shaders` (shared across jobs). */
export function planJob(
  label: string, plan: DispatchPlan, feeds: ReadonlyMap<string, NDArray>, variables: ReadonlyMap<string, NDArray>, shaders: GpuShader[], runs = 1,
): GpuJob {
  // Shaders are shared across jobs (one pipeline each in the Deno process).
  const index = plan.shaders.map((s) => {
    const found = shaders.findIndex((x) => x.code === s.code && x.entryPoint === s.entryPoint);
    if (found >= 0) return found;
    shaders.push({ code: s.code, entryPoint: s.entryPoint, layout: s.layout });
    return shaders.length - 1;
  });
  const data = new Map<number, ArrayBufferView>();
  for (const f of plan.feeds) data.set(f.buffer, deviceBytes(feeds.get(f.name)!));
  for (const v of plan.variables) {
    const value = variables.get(v.name);
    if (!value) throw new Error(`no value for variable ${v.name}`);
    data.set(v.buffer, deviceBytes(value));
  }
  for (const b of plan.buffers) if (b.init) data.set(b.id, deviceBytes(b.init));
  const once: GpuStep[] = plan.steps.map((s) =>
    s.kind === "copy"
      ? { copy: { src: s.src, srcOffset: 0, dst: s.dst, dstOffset: 0, size: s.size } }
      : { shader: index[s.shader], bindings: s.bindings, workgroupCount: s.workgroupCount },
  );
  const steps: GpuStep[] = [];
  for (let r = 0; r < runs; r++) steps.push(...once);
  return {
    label,
    buffers: plan.buffers.map((b) => ({ size: b.size, data: data.get(b.id) })),
    steps,
    reads: [...plan.fetches.map((f) => f.buffer), ...plan.variables.map((v) => v.buffer)],
  };
}

/** The fetched values and the variables after the run, from a job's read-back buffers. */
export function planResults(plan: DispatchPlan, outputs: Uint8Array[]): { fetches: NDArray[]; variables: Map<string, NDArray> } {
  const fetches = plan.fetches.map((f, k) => fromDevice(outputs[k], f.dtype, f.shape));
  const variables = new Map<string, NDArray>();
  plan.variables.forEach((v, k) => variables.set(v.name, fromDevice(outputs[plan.fetches.length + k], v.dtype, v.shape)));
  return { fetches, variables };
}

export function cloneArray(a: NDArray): NDArray {
  return new NDArray(a.dtype, [...a.shape], a.data.slice());
}
