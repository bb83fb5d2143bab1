/**
 * The `webgpu` backend: plans each run (per fed-shape and variable-shape signature) with
 * codegen/wgsl's planDispatches, loads it once with the WebGPU loader on the shared device
 * (./webgpu-device: navigator.gpu, else the `webgpu` package), and runs it.
 *
 * Variables: the session's RuntimeState stays the source of truth, so Saver, freezing and the
 * interpreter see the same values. Before a run, each variable of the plan whose NDArray in the
 * state is not the one last uploaded to (or read back from) this program's buffer is uploaded;
 * after the run, the variables the run wrote (assigns, optimizer steps, in place on the device)
 * are read back in the same submission as the fetches and stored as new NDArrays.
 *
 * Fallback: plans that codegen/wgsl cannot compile — tf.cond's Switch/Merge on a fed predicate,
 * random ops, ops without a WGSL kernel, value-dependent shapes — run on the interpreter, per
 * run, against the same state (`lastFallback` says why). A missing adapter is not a fallback:
 * it fails the run with the FailedPreconditionError from ./webgpu-device.
 */
import { OpError } from "../../ir/diagnostics";
import type { Operation, Tensor } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import { uninitialized } from "../../ir/ops/state";
import { interpreterFallback, planInput } from "./plan-input";
import { planDispatches, type DispatchPlan } from "../../codegen/wgsl/plan";
import { toProgramPlan } from "../../codegen/wgsl/program";
import { instantiateLoader, type GpuProgram, type HostValue } from "../../codegen/wgsl/loader";
import { execute, type RuntimeState, type Value } from "./interpreter";
import { isRefInput } from "./plan";
import { acquireDevice, toOpError } from "./webgpu-device";

interface Compiled {
  plan: DispatchPlan;
  order: readonly Operation[];
  fetches: Tensor[];
  /** Created on the first run (needs the device). */
  program: Promise<GpuProgram> | null;
  /** Variable name → the NDArray whose value the program's buffer holds. */
  synced: Map<string, NDArray>;
  /** Variables the run reads before any assign, and those it writes. */
  reads: Set<string>;
  written: string[];
  consts: Map<string, NDArray>;
}

type Entry = Compiled | { interpreter: true; reason: string };

export class WebGpuBackend {
  private readonly cache = new WeakMap<readonly Operation[], Map<string, Entry>>();
  private readonly programs: Promise<GpuProgram>[] = [];
  /** Why the last run went to the interpreter, or null when it ran on the device. */
  lastFallback: string | null = null;

  constructor(private readonly state: RuntimeState) {}

  async run(order: readonly Operation[], fed: Map<Tensor, NDArray>, fetches: Tensor[], options: { executed?: string[] } = {}): Promise<Map<string, Value>> {
    const entry = this.entryFor(order, fed, fetches);
    if ("interpreter" in entry) {
      this.lastFallback = entry.reason;
      const values = new Map<string, Value>();
      for (const [t, v] of fed) values.set(t.name, v);
      const onOp = options.executed ? (op: Operation) => void options.executed!.push(op.name) : undefined;
      return execute([...order], values, this.state, { onOp });
    }
    this.lastFallback = null;
    this.checkInitialized(entry);
    if (!entry.program) {
      const loader = instantiateLoader();
      const programPlan = toProgramPlan(entry.plan, { written: new Set(entry.written), encoding: "views" });
      entry.program = acquireDevice().then((device) => loader.createProgram(device, programPlan));
      entry.program.catch(() => (entry.program = null));
      this.programs.push(entry.program);
    }
    let result: { outputs: Record<string, HostValue>; variables: Record<string, HostValue> };
    try {
      const program = await entry.program;
      for (const v of entry.plan.variables) {
        const current = this.state.variables.get(v.name);
        if (current && entry.synced.get(v.name) !== current) {
          program.writeVariable(v.name, current.data);
          entry.synced.set(v.name, current);
        }
      }
      const feeds = new Map([...fed].map(([t, v]) => [t.name, v.data]));
      result = await program.runAndRead(feeds, entry.written);
    } catch (e) {
      throw toOpError(e);
    }
    for (const name of entry.written) {
      const v = result.variables[name];
      const value = new NDArray(v.dtype, v.shape, v.data);
      this.state.variables.set(name, value);
      entry.synced.set(name, value);
    }
    if (options.executed) for (const op of order) options.executed.push(op.name);
    const values = new DeviceValues(entry);
    for (const [t, v] of fed) values.set(t.name, v);
    for (const t of entry.fetches) {
      const v = result.outputs[t.name];
      values.set(t.name, new NDArray(v.dtype, v.shape, v.data));
    }
    return values;
  }

  /** Releases the device buffers of every program this backend loaded. */
  destroy(): void {
    for (const p of this.programs) p.then((program) => program.destroy(), () => {});
    this.programs.length = 0;
  }

  private entryFor(order: readonly Operation[], fed: Map<Tensor, NDArray>, fetches: Tensor[]): Entry {
    let byKey = this.cache.get(order);
    if (!byKey) {
      byKey = new Map();
      this.cache.set(order, byKey);
    }
    const variables = [...variablesOf(order)].map((name) => `${name}=${this.state.variables.get(name)?.shape.join("x") ?? "?"}`);
    const key = `${fetches.map((t) => t.name).join(",")}|${[...fed].map(([t, v]) => `${t.name}:${v.shape.join("x")}`).join(",")}|${variables.join(",")}`;
    let entry = byKey.get(key);
    if (!entry) {
      entry = this.compile(order, fed, fetches);
      byKey.set(key, entry);
    }
    return entry;
  }

  private compile(order: readonly Operation[], fed: Map<Tensor, NDArray>, fetches: Tensor[]): Entry {
    let plan: DispatchPlan;
    try {
      plan = planDispatches(planInput(this.state, order, fed, fetches));
    } catch (e) {
      const reason = interpreterFallback(e);
      if (reason !== null) {
        if (process.env.FOLDFLOW_DEBUG) console.error(`[webgpu-backend] interpreter: ${reason}`);
        return { interpreter: true, reason };
      }
      throw e;
    }
    const { reads, written } = variableUse(order);
    const consts = new Map<string, NDArray>();
    for (const op of order) if (op.type === "Const") consts.set(op.outputs[0].name, op.attrs.value as NDArray);
    return { plan, order, fetches, program: null, synced: new Map(), reads, written: [...written], consts };
  }

  /** The interpreter's error for variables the run reads before any assign and that have no value. */
  private checkInitialized(entry: Compiled): void {
    const missing = [...entry.reads].filter((name) => !this.state.variables.has(name));
    if (missing.length === 0) return;
    const reader = entry.order.find((op) => (op.type === "VariableV2" && op.name === missing[0]) || op.inputs.some((t) => t.op.name === missing[0]));
    const e = uninitialized(missing[0], reader?.name ?? missing[0]) as OpError;
    if (missing.length === 1) throw e;
    throw new (e.constructor as new (d: OpError["diagnostic"]) => OpError)({
      ...e.diagnostic,
      message: `attempting to use ${missing.length} uninitialized variables: ${missing.map((m) => `\`${m}\``).join(", ")}`,
    });
  }
}

/** The variables (op names) an order touches. */
function variablesOf(order: readonly Operation[]): Set<string> {
  const names = new Set<string>();
  for (const op of order) {
    if (op.type === "VariableV2") names.add(op.name);
    op.inputs.forEach((t, i) => {
      if (isRefInput(op, i)) names.add(t.op.name);
    });
  }
  return names;
}

/** Variables read (before a plain Assign of them in the run) and written by the order. */
export function variableUse(order: readonly Operation[]): { reads: Set<string>; written: Set<string> } {
  const reads = new Set<string>();
  const assigned = new Set<string>();
  const written = new Set<string>();
  for (const op of order) {
    if (op.type === "VariableV2" && !assigned.has(op.name)) reads.add(op.name);
    op.inputs.forEach((t, i) => {
      if (!isRefInput(op, i)) return;
      written.add(t.op.name);
      if (op.type === "Assign") assigned.add(t.op.name);
      else if (!assigned.has(t.op.name)) reads.add(t.op.name);
    });
  }
  return { reads, written };
}

/**
 * The values of a device run: fed and fetched arrays, constants, and for other tensors on the
 * device a shape-only stand-in (empty data), for readers of shapes after a run (run warnings).
 */
class DeviceValues extends Map<string, Value> {
  constructor(private readonly entry: Compiled) {
    super();
  }
  override get(name: string): Value | undefined {
    const own = super.get(name) ?? this.entry.consts.get(name);
    if (own !== undefined) return own;
    const place = this.entry.plan.tensors.get(name);
    if (!place) return undefined;
    const standIn = Object.create(NDArray.prototype) as { dtype: string; shape: number[]; data: unknown };
    standIn.dtype = place.dtype;
    standIn.shape = [...place.shape];
    standIn.data = new Float32Array(0);
    return standIn as unknown as NDArray;
  }
  override has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}


