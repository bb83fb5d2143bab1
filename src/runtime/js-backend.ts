/**
 * The `js` backend: compiles each run plan (per fed-shape signature) with codegen/js into JS
 * over preallocated typed arrays, loads it with `new Function`, and runs it against the
 * session's state. Variables stay NDArrays in RuntimeState.variables; compiled updates write
 * into the variable's array in place (the backend first takes a private copy of an array it did
 * not allocate, so fed or restored arrays are never modified). Plans whose shapes depend on
 * values, or that raise an error while being specialized, run on the interpreter instead,
 * which raises the same errors the same way.
 */
import { allocate } from "../../ir/dtype";
import { InternalError, invalidArgument, OpError } from "../../ir/diagnostics";
import type { Operation, Tensor } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import { getOpDef, type KernelContext } from "../../ir/registry";
import { compileProgram, PARAMS, type CompiledProgram } from "../../codegen/js/program";
import { interpreterFallback, planInput, uninitializedError } from "./plan-input";
import { DEAD, execute, slotFor, type ExecuteOptions, type RuntimeState, type Value } from "./interpreter";
import { isRefInput } from "./plan";

type RunFn = ((feeds: ArrayLike<unknown>) => (NDArray | typeof DEAD)[]) & { flags?: Uint8Array };

interface Loaded {
  program: CompiledProgram;
  run: RunFn;
  feedOrder: string[];
  fetches: Tensor[];
}

type Entry = Loaded | { interpreter: true; reason: string };

const EMPTY = new NDArray("float32", [0], new Float32Array(0));

export class JsBackend {
  private readonly cache = new WeakMap<readonly Operation[], Map<string, Entry>>();
  /** Arrays this backend allocated for variables: the only ones it writes in place. */
  private readonly owned = new WeakSet<NDArray>();
  /** The last program compiled or run (tests read its source); null after an interpreter run. */
  last: Loaded | null = null;
  /** Why the last run went to the interpreter, if it did. */
  lastFallback: string | null = null;
  private copies: Map<string, NDArray> | null = null;

  constructor(private readonly state: RuntimeState) {}

  run(order: readonly Operation[], fed: Map<Tensor, NDArray>, fetches: Tensor[], options: ExecuteOptions & { executed?: string[] }): Map<string, Value> {
    this.copies = null;
    const entry = this.entryFor(order, fed, fetches);
    if ("interpreter" in entry) {
      this.last = null;
      this.lastFallback = entry.reason;
      const values = new Map<string, Value>();
      for (const [t, v] of fed) values.set(t.name, v);
      const onOp = options.executed ? (op: Operation) => void options.executed!.push(op.name) : undefined;
      return execute([...order], values, this.state, { onOp });
    }
    this.last = entry;
    this.lastFallback = null;
    const byName = new Map<string, NDArray>();
    for (const [t, v] of fed) byName.set(t.name, v);
    const feeds = entry.feedOrder.map((name) => byName.get(name)!.data);
    let results: (NDArray | typeof DEAD)[];
    try {
      results = entry.run(feeds);
    } catch (e) {
      if (e instanceof OpError) throw e;
      throw new InternalError({
        code: "compiled-code-failed",
        message: `the compiled program failed: ${e instanceof Error ? e.message : String(e)}`,
        fix: 'this is a foldflow bug; please report it with the graph (the interpreter still runs it: { backend: "interpreter" })',
      });
    }
    const values = new CompiledValues(entry);
    for (const [t, v] of fed) values.set(t.name, v);
    entry.fetches.forEach((t, i) => values.set(t.name, results[i]));
    if (options.executed) {
      const flags = entry.run.flags!;
      for (const op of order) {
        if (op.type === "Switch" || op.type === "Merge") continue;
        if ((entry.program.opLive.get(op) ?? []).every((f) => flags[f] === 1)) options.executed.push(op.name);
      }
    }
    return values;
  }

  private entryFor(order: readonly Operation[], fed: Map<Tensor, NDArray>, fetches: Tensor[]): Entry {
    let byShape = this.cache.get(order);
    if (!byShape) {
      byShape = new Map();
      this.cache.set(order, byShape);
    }
    let key = `${fetches.map((t) => t.name).join(",")}|${[...fed].map(([t, v]) => `${t.name}:${v.shape.join("x")}`).join(",")}`;
    let entry = byShape.get(key);
    if (entry && !("interpreter" in entry) && !this.variablesMatch(entry.program)) {
      key += `|${this.variableSignature(entry.program)}`;
      entry = byShape.get(key);
    }
    if (!entry) {
      entry = this.compile(order, fed, fetches);
      byShape.set(key, entry);
    }
    return entry;
  }

  private variablesMatch(program: CompiledProgram): boolean {
    const vars = program.analysis.variables;
    for (let k = 0; k < vars.length; k++) {
      const current = this.state.variables.get(vars[k].name);
      if (!current) continue;
      const planned = program.analysis.specs.get(vars[k].outputs[0].name)?.shape;
      if (!planned || planned.length !== current.shape.length || planned.some((d, i) => d !== current.shape[i])) return false;
    }
    return true;
  }

  private variableSignature(program: CompiledProgram): string {
    return program.analysis.variables.map((v) => this.state.variables.get(v.name)?.shape.join("x") ?? "?").join(",");
  }

  private compile(order: readonly Operation[], fed: Map<Tensor, NDArray>, fetches: Tensor[]): Entry {
    let program: CompiledProgram;
    try {
      program = compileProgram(planInput(this.state, order, fed, fetches));
    } catch (e) {
      const reason = interpreterFallback(e);
      if (reason !== null) return { interpreter: true, reason };
      throw e;
    }
    let run: RunFn;
    try {
      run = new Function(...PARAMS, program.body)(...this.runtime(program, order)) as RunFn;
    } catch (e) {
      if (e instanceof OpError) throw e;
      // Setting up the planned buffers failed (a static size no typed array can hold): the interpreter,
      // op by op, reports it as an error of the node that needs it (it threw a raw RangeError from here).
      return { interpreter: true, reason: `the compiled program could not be set up: ${e instanceof Error ? e.message : String(e)}` };
    }
    return { program, run, feedOrder: program.analysis.feeds, fetches };
  }

  /** The arguments the compiled body closes over (see codegen/js/program.ts). */
  private runtime(program: CompiledProgram, order: readonly Operation[]): unknown[] {
    const { state, owned } = this;
    const a = program.analysis;
    const names = a.variables.map((v) => v.name);
    const dtypes = a.variables.map((v) => v.outputs[0].dtype);
    const missing = (k: number, node: number) => uninitializedError(order, this.state.variables, names[k], program.nodes[node]);
    const V = (k: number, node: number) => {
      const current = state.variables.get(names[k]);
      if (!current) throw missing(k, node);
      return current.data;
    };
    const W = (k: number, node: number) => {
      let current = state.variables.get(names[k]);
      if (!current) throw missing(k, node);
      if (!owned.has(current)) {
        current = new NDArray(current.dtype, [...current.shape], copyOf(current));
        state.variables.set(names[k], current);
        owned.add(current);
      }
      return current.data;
    };
    const A = (k: number, _node: number, j: number) => {
      const shape = program.assignShapes[j];
      const current = state.variables.get(names[k]);
      if (current && owned.has(current) && current.shape.length === shape.length && current.shape.every((d, i) => d === shape[i])) return current.data;
      const fresh = new NDArray(dtypes[k], [...shape], allocate(dtypes[k], shape.reduce((x, y) => x * y, 1)));
      state.variables.set(names[k], fresh);
      owned.add(fresh);
      return fresh.data;
    };
    const E = (j: number, _node: number, received: unknown) => program.errors[j](String(received));
    const mk = (k: number, data: NDArray["data"]) => {
      const s = program.fetchSpecs[k];
      return new NDArray(s.dtype, [...s.shape], data.slice());
    };
    const K = program.fallbacks.map((op) => this.fallbackKernel(op, program, order));
    return [a.consts.map((c) => c.data), K, V, W, A, E, mk, DEAD];
  }

  /** Runs `op`'s reference kernel on the compiled program's arrays; returns its outputs' data. */
  private fallbackKernel(op: Operation, program: CompiledProgram, order: readonly Operation[]) {
    const def = getOpDef(op.type, op.name);
    const specs = program.analysis.specs;
    const inSpecs = op.inputs.map((t) => specs.get(t.name)!);
    const outSpecs = op.outputs.map((t) => specs.get(t.name)!);
    const ctx: KernelContext = {
      node: op.name,
      highPrecision: false,
      alloc: (dtype, size) => allocate(dtype, size),
      ref: (index) => {
        const producer = op.inputs[index]?.op;
        if (!producer || producer.type !== "VariableV2")
          throw invalidArgument({ code: "not-a-variable", node: op.name, message: `input ${index} of ${op.type} must be a variable` });
        return slotFor(this.state, producer.name);
      },
      variable: (name) => slotFor(this.state, name),
      state: this.state.opState,
    };
    return (arrays: (NDArray["data"] | null)[]) => {
      const inputs = arrays.map((data, i) => (isRefInput(op, i) || data === null ? EMPTY : new NDArray(inSpecs[i].dtype, [...inSpecs[i].shape], data)));
      let outputs: NDArray[];
      try {
        outputs = def.kernel(inputs, op.attrs, ctx);
      } catch (e) {
        if (e instanceof OpError && e.errorCode === "uninitialized-variable") throw uninitializedError(order, this.state.variables, "", op.name, e);
        if (e instanceof OpError) throw e;
        throw new InternalError({ code: "kernel-failed", node: op.name, message: `the ${op.type} kernel failed: ${e instanceof Error ? e.message : String(e)}` });
      }
      return outputs.map((o, i) => {
        const s = outSpecs[i];
        if (o.shape.length !== s.shape.length || o.shape.some((d, k) => d !== s.shape[k]))
          throw new InternalError({ code: "fallback-shape", node: op.name, message: `the ${op.type} kernel returned shape [${o.shape}] where [${s.shape}] was planned` });
        return o.data;
      });
    };
  }

  /**
   * Copies of the variables, so that readers (savers, freezing) never see later in-place
   * updates; one set of copies until the next run or `invalidate()`.
   */
  snapshot(): ReadonlyMap<string, NDArray> {
    this.copies ??= new Map([...this.state.variables].map(([k, v]) => [k, new NDArray(v.dtype, [...v.shape], copyOf(v))]));
    return this.copies;
  }

  /** Drops the snapshot after the variables changed outside a run. */
  invalidate(): void {
    this.copies = null;
  }
}

function copyOf(a: NDArray): NDArray["data"] {
  return a.data.slice();
}

/**
 * The values of a compiled run: the fetched and fed arrays, and for every other tensor of the
 * plan a shape-only stand-in (no data; constants keep theirs) or DEAD when its branch did not run,
 * for readers that inspect shapes and liveness after a run (run warnings).
 */
class CompiledValues extends Map<string, Value> {
  constructor(private readonly entry: Loaded) {
    super();
  }
  override get(name: string): Value | undefined {
    const own = super.get(name);
    if (own !== undefined) return own;
    const a = this.entry.program.analysis;
    const spec = a.specs.get(name);
    if (!spec) return undefined;
    const flags = this.entry.run.flags!;
    if (!(a.tensorLive.get(name) ?? []).every((f) => flags[f] === 1)) return DEAD;
    const standIn = Object.create(NDArray.prototype) as { dtype: string; shape: number[]; data: unknown };
    standIn.dtype = spec.dtype;
    standIn.shape = [...spec.shape];
    standIn.data = spec.value?.data ?? new Float32Array(0);
    return standIn as unknown as NDArray;
  }
  override has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}
