/**
 * Runs a built wasm program (./program.ts) against a session's state: the module's kernels are
 * called in step order, and the host steps between them are JS closures — Switch / Merge
 * liveness flags, copies, variable checks, fetches, and ops without a kernel (a one-op JS
 * program, ./js-kernel.ts, else the op's reference kernel on NDArrays viewing the memory).
 *
 * Variables stay resident (see src/runtime/wasm-backend.ts): a run first copies in each variable
 * whose state array is not this program's view of it and points the state at the view; a kernel
 * that updates a variable points the state at its view; a reference kernel that replaced a
 * variable's array has it copied back into the region.
 */
import { InternalError, OpError } from "../../../ir/diagnostics";
import { allocate, type TypedArray } from "../../../ir/dtype";
import type { Operation, Tensor } from "../../../ir/graph";
import { NDArray } from "../../../ir/ndarray";
import { getOpDef, type KernelContext } from "../../../ir/registry";
import type { ConcreteSpec } from "../../../codegen/js/specs";
import { DEAD, slotFor, type RuntimeState } from "../interpreter";
import { isRefInput } from "../plan";
import type { JsKernel } from "./js-kernel";
import { wasmCodegen } from "./loader";
import { instantiate, isParallel, type BuiltProgram, type Instance } from "./program";
import type { ThreadPool } from "./threads";
import type { Operand, Region, WasmStep } from "./steps";

const EMPTY = new NDArray("float32", [0], new Float32Array(0));

/** What the executor needs from its backend. */
export interface Host {
  state: RuntimeState;
  /** Views of program memories put into the state (the backend copies them out before the interpreter runs). */
  mine: WeakSet<NDArray>;
  order: readonly Operation[];
  /** The interpreter's uninitialized-variable error for variable `name` read by `reader`. */
  uninitializedError(name: string, reader: string, first?: OpError): OpError;
  /** Worker threads for the parts of split kernels (null: the parts run one after another here). */
  pool: ThreadPool | null;
}

export interface Executor {
  run(feeds: readonly TypedArray[]): (NDArray | typeof DEAD)[];
  /** The liveness flags of the last run (an op ran when all of its flags are set). */
  flags: Uint8Array;
}

/** The run function of a built program: host steps as closures around the module's kernels. */
export function createExecutor(built: BuiltProgram, js: ReadonlyMap<WasmStep, JsKernel>, host: Host): Executor {
  const W = wasmCodegen()!;
  const inst = instantiate(W, built);
  const a = built.lowered.analysis;
  const { state, mine, order } = host;
  const names = a.variables.map((v) => v.name);
  const views = a.variables.map((v) => {
    const r = built.lowered.regions.get(`v:${v.name}`);
    if (!r) return null;
    const sp = a.specs.get(v.outputs[0].name)!;
    const view = new NDArray(sp.dtype, [...sp.shape], inst.view(r));
    mine.add(view);
    return view;
  });
  const initialized = new Uint8Array(names.length);
  const flags = new Uint8Array(Math.max(a.atoms.length, 1));
  const results: (NDArray | typeof DEAD)[] = [];
  const arrayOf = (o: Operand): TypedArray => ("constant" in o ? a.consts[o.constant].data : inst.view(o.region));
  const missing = (k: number, node: string) => host.uninitializedError(names[k], node);
  /** After an update of variable k: the state holds this program's view of it. */
  const wrote = (k: number) => {
    initialized[k] = 1;
    const v = views[k];
    if (v && state.variables.get(names[k]) !== v) state.variables.set(names[k], v);
  };
  /** After a reference kernel replaced variable k's array: copy it into the region. */
  const sync = (k: number) => {
    const current = state.variables.get(names[k]);
    const v = views[k];
    if (!current || !v || current === v) return void (current && (initialized[k] = 1));
    initialized[k] = 1;
    if (current.shape.length !== v.shape.length || current.shape.some((d, i) => d !== v.shape[i])) return;
    v.data.set(current.data);
    state.variables.set(names[k], v);
  };
  const steps = built.lowered.steps;
  const pool = host.pool && isParallel(built.lowered) ? host.pool : null;
  const runners: (() => void)[] = [];
  const poolId = pool ? pool.instantiate(inst.module, inst.memory, built.module.functions, runners) : -1;
  const bodies = steps.flatMap((step, i): (() => void)[] => {
    const helpers: StepHelpers = { arrayOf, missing, wrote, sync, initialized, flags, results, order, specOf: (t) => a.specs.get(t.name)!, region: (key) => built.lowered.regions.get(key)! };
    const k = js.get(step);
    let body: () => void;
    if (step.kind === "kernel" && step.group !== undefined) {
      // The parts of a split op: the first step runs them all, on the pool's threads when there is one.
      const group = step.group;
      const parts = steps.flatMap((s, j) => (s.kind === "kernel" && s.group === group ? [j] : []));
      if (parts[0] !== i) return [];
      const calls = parts.map((j) => inst.exports[built.functionOf[j]!]);
      const indices = parts.map((j) => built.module.functions.indexOf(built.functionOf[j]!));
      body = pool ? () => pool.run(poolId, indices, calls[0]) : () => calls.forEach((call) => call());
    } else body = k && step.kind === "fallback" ? jsRunner(step, k, inst, helpers) : stepRunner(step, built.functionOf[i], inst, helpers, host);
    const live = step.live;
    return [live.length === 0 ? body : () => {
      for (const l of live) if (flags[l] !== 1) return;
      body();
    }];
  });
  runners.push(...bodies);
  const feedRegions = a.feeds.map((name) => built.lowered.regions.get(`t:${name}`));
  const run = (feeds: readonly TypedArray[]) => {
    names.forEach((name, k) => {
      const current = state.variables.get(name);
      initialized[k] = current ? 1 : 0;
      const v = views[k];
      if (current && v && current !== v) {
        v.data.set(current.data);
        state.variables.set(name, v);
      }
    });
    feedRegions.forEach((r, i) => r && inst.view(r).set(feeds[i]));
    flags.fill(0);
    results.length = 0;
    for (let i = 0; i < a.input.fetches.length; i++) results.push(DEAD);
    for (const r of runners) r();
    return results.slice();
  };
  return { run, flags };
}

function stepRunner(step: WasmStep, fn: string | undefined, inst: Instance, h: StepHelpers, host: Host): () => void {
  const { arrayOf, flags, results } = h;
  switch (step.kind) {
    case "kernel": {
      const call = inst.exports[fn!];
      const { requires, assigns, onTrap } = step;
      const run = !onTrap
        ? call
        : () => {
            try {
              call();
            } catch (e) {
              // A failed run-time check of the kernel (`unreachable`): the error it stands for.
              if (e instanceof Error && e.name === "RuntimeError") throw onTrap((key) => inst.view(h.region(key)));
              throw e;
            }
          };
      return () => {
        for (const k of requires) if (!h.initialized[k]) throw h.missing(k, step.op);
        run();
        for (const k of assigns) h.wrote(k);
      };
    }
    case "fallback":
      return fallbackRunner(step, inst, h, host);
    case "copy":
      return () => inst.view(step.to).set(arrayOf(step.from));
    case "check":
      return () => {
        if (!h.initialized[step.variable]) throw h.missing(step.variable, step.op.name);
      };
    case "switch":
      return () => {
        const base = step.base.every((l) => flags[l] === 1);
        const p = arrayOf(step.pred)[0];
        step.atoms.forEach((id, branch) => {
          if (id !== undefined) flags[id] = base && (branch ? p !== 0 : p === 0) ? 1 : 0;
        });
      };
    case "merge":
      return () => {
        const liveAll = (l: number[]) => l.every((f) => flags[f] === 1);
        const taken = step.inputs.findIndex((x) => liveAll(x.live));
        flags[step.atom] = liveAll(step.controls) && taken >= 0 ? 1 : 0;
        if (!flags[step.atom]) return;
        if (step.out) inst.view(step.out).set(arrayOf(step.inputs[taken].from));
        if (step.index) inst.view(step.index)[0] = taken;
      };
    case "fetch":
      return () => {
        results[step.slot] = new NDArray(step.dtype, [...step.shape], arrayOf(step.from).slice());
      };
  }
}

function fallbackRunner(step: WasmStep & { kind: "fallback" }, inst: Instance, h: StepHelpers, host: Host): () => void {
  const { op } = step;
  const def = getOpDef(op.type, op.name);
  const specs = step.op.inputs.map((t) => h.specOf(t));
  const outSpecs = step.op.outputs.map((t) => h.specOf(t));
  const ctx: KernelContext = {
    node: op.name,
    highPrecision: false,
    alloc: (dtype, size) => allocate(dtype, size),
    ref: (index) => {
      const producer = op.inputs[index]?.op;
      if (!producer || producer.type !== "VariableV2") throw new InternalError({ code: "not-a-variable", node: op.name, message: `input ${index} of ${op.type} must be a variable` });
      return slotFor(host.state, producer.name);
    },
    variable: (name) => slotFor(host.state, name),
    state: host.state.opState,
  };
  return () => {
    const inputs = step.inputs.map((o, i) => (o === null || isRefInput(op, i) ? EMPTY : new NDArray(specs[i].dtype, [...specs[i].shape], h.arrayOf(o))));
    let outputs: NDArray[];
    try {
      outputs = def.kernel(inputs, op.attrs, ctx);
    } catch (e) {
      if (e instanceof OpError && e.errorCode === "uninitialized-variable") throw host.uninitializedError("", op.name, e);
      if (e instanceof OpError) throw e;
      throw new InternalError({ code: "kernel-failed", node: op.name, message: `the ${op.type} kernel failed: ${e instanceof Error ? e.message : String(e)}` });
    }
    outputs.forEach((o, i) => {
      const r = step.outputs[i];
      if (!r) return;
      const s = outSpecs[i];
      if (o.shape.length !== s.shape.length || o.shape.some((d, k) => d !== s.shape[k]))
        throw new InternalError({ code: "fallback-shape", node: op.name, message: `the ${op.type} kernel returned shape [${o.shape}] where [${s.shape}] was planned` });
      inst.view(r).set(o.data);
    });
    for (const k of step.refs) h.sync(k);
  };
}

/** A host step running a one-op JS program on the memory's views. */
function jsRunner(step: WasmStep & { kind: "fallback" }, k: JsKernel, inst: Instance, h: StepHelpers): () => void {
  return () => {
    let outputs: TypedArray[];
    try {
      outputs = k.run(step.inputs.map((o) => (o && !("constant" in o) ? h.arrayOf(o) : null)));
    } catch (e) {
      if (e instanceof OpError) throw e;
      throw new InternalError({ code: "compiled-code-failed", node: step.op.name, message: `the JS kernel of ${step.op.type} failed: ${e instanceof Error ? e.message : String(e)}` });
    }
    step.outputs.forEach((r, i) => r && inst.view(r).set(outputs[i]));
  };
}

interface StepHelpers {
  arrayOf(o: Operand): TypedArray;
  missing(k: number, node: string): OpError;
  wrote(k: number): void;
  sync(k: number): void;
  specOf(t: Tensor): ConcreteSpec;
  region(key: string): Region;
  initialized: Uint8Array;
  flags: Uint8Array;
  results: (NDArray | typeof DEAD)[];
  order: readonly Operation[];
}
