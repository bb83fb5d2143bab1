/**
 * The `wasm` backend: compiles each run plan (per fed-shape signature, cached like the js
 * backend's) into one WebAssembly SIMD module over one planned linear memory (see
 * src/runtime/wasm/lower.ts for what runs as a kernel and what runs on the host, as a one-op JS
 * program or its reference kernel on views of the memory), and runs it step by step, the JS
 * side doing the host steps (Switch / Merge flags, copies, fallbacks, fetches). With
 * intraOpParallelism > 1, large GEMM / Conv2D kernels run in parts on worker threads over a
 * shared memory (src/runtime/wasm/split.ts, threads.ts).
 *
 * Variables stay resident: each program has a region per variable, and after a run that writes
 * a variable (or reads one that came from elsewhere) RuntimeState.variables holds an NDArray
 * *viewing that region*, so a training loop on one program copies nothing. A run copies a
 * variable in only when the state's array is not its own view (first run, a value restored by
 * a Saver, another program's update). The state stays authoritative between runs: savers and
 * freezing read `snapshot()` (copies); before a plan runs on the interpreter, views are
 * replaced by copies, so nothing outside ever holds an array the next run overwrites.
 * Fed arrays and restored values are copied, never written.
 */
import { availableParallelism } from "node:os";
import type { TypedArray } from "../../ir/dtype";
import type { Operation, Tensor } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import { analyze, type Analysis } from "../../codegen/js/analysis";
import { interpreterFallback, planInput, uninitializedError } from "./plan-input";
import { DEAD, execute, type ExecuteOptions, type RuntimeState, type Value } from "./interpreter";
import { JsBackend } from "./js-backend";
import { createExecutor } from "./wasm/executor";
import { jsKernelsOf } from "./wasm/js-kernel";
import { loadWasmCodegen, wasmCodegen, wasmNotLoaded } from "./wasm/loader";
import { lower } from "./wasm/lower";
import { buildProgram, isParallel, type BuiltProgram, type ProgramOptions } from "./wasm/program";
import { threadPool } from "./wasm/threads";

/** A compiled run plan (tests and benchmarks read it through `last`). */
export interface Loaded {
  built: BuiltProgram;
  analysis: Analysis;
  /** Ops that run their reference kernel (host steps), in step order. */
  fallbacks: Operation[];
  /** Ops without a wasm kernel that run as one-op JS programs (./wasm/js-kernel.ts), in step order. */
  jsOps: Operation[];
  run(feeds: readonly TypedArray[]): (NDArray | typeof DEAD)[];
  flags: Uint8Array;
  fetches: Tensor[];
}

type Entry = Loaded | { interpreter: true; reason: string };

export class WasmBackend {
  private cache = new WeakMap<readonly Operation[], Map<string, Entry>>();
  /** The views of program memories this backend put into the state. */
  private readonly mine = new WeakSet<NDArray>();
  /** The last program run (tests read it); null after an interpreter run. */
  last: Loaded | null = null;
  /** Why the last run went to the interpreter, if it did. */
  lastFallback: string | null = null;
  private copies: Map<string, NDArray> | null = null;
  /** The fetch part of the cache key, by fetch list (a session passes the same list for the same run). */
  private readonly fetchKeys = new WeakMap<readonly Tensor[], string>();
  /** Each program's variables and the shapes it was planned for. */
  private readonly plannedShapes = new WeakMap<Loaded, { names: string[]; shapes: (readonly number[] | undefined)[] }>();

  /** Runs before the code generator is loaded, with `untilLoaded: "js"`. */
  private js: JsBackend | null = null;
  /** Threads a split kernel runs on (intraOpParallelism; the pool's workers start with the first parallel program). */
  readonly threads: number;

  constructor(private readonly state: RuntimeState, private readonly options: WasmBackendOptions = {}) {
    this.threads = Math.max(1, Math.floor(options.intraOpParallelism || availableParallelism()));
  }

  /** Releases what the session holds (the worker threads are the process's: ./wasm/threads.ts). */
  close(): void {
    this.cache = new WeakMap();
    this.last = null;
  }

  run(order: readonly Operation[], fed: Map<Tensor, NDArray>, fetches: Tensor[], options: ExecuteOptions & { executed?: string[] }): Map<string, Value> {
    this.copies = null;
    if (!wasmCodegen()) {
      if (this.options.untilLoaded !== "js") throw wasmNotLoaded("a synchronous run of a wasm session");
      // A default-backend session: the js backend runs until the generator has loaded.
      void loadWasmCodegen().catch(() => {});
      this.last = null;
      this.lastFallback = "js: the WebAssembly code generator is not loaded yet";
      return (this.js ??= new JsBackend(this.state)).run(order, fed, fetches, options);
    }
    // The fed tensors' names, once (Tensor.name builds a string).
    const fedNames: string[] = [];
    const fedValues: NDArray[] = [];
    for (const [t, v] of fed) {
      fedNames.push(t.name);
      fedValues.push(v);
    }
    const entry = this.entryFor(order, fed, fetches, fedNames, fedValues);
    if ("interpreter" in entry) {
      this.last = null;
      this.lastFallback = entry.reason;
      this.detach();
      const values = new Map<string, Value>();
      for (const [t, v] of fed) values.set(t.name, v);
      const onOp = options.executed ? (op: Operation) => void options.executed!.push(op.name) : undefined;
      return execute([...order], values, this.state, { onOp });
    }
    this.last = entry;
    this.lastFallback = null;
    const wanted = entry.analysis.feeds;
    const args: TypedArray[] = new Array(wanted.length);
    for (let i = 0; i < wanted.length; i++) {
      const k = fedNames.indexOf(wanted[i]);
      args[i] = k >= 0 ? fedValues[k].data : (undefined as unknown as TypedArray);
    }
    const results = entry.run(args);
    const values = new WasmValues(entry);
    for (let i = 0; i < fedNames.length; i++) values.set(fedNames[i], fedValues[i]);
    for (let i = 0; i < entry.fetches.length; i++) values.set(entry.fetches[i].name, results[i]);
    if (options.executed)
      for (const op of order) {
        if (op.type === "Switch" || op.type === "Merge") continue;
        if ((entry.analysis.opLive.get(op) ?? []).every((f) => entry.flags[f] === 1)) options.executed.push(op.name);
      }
    return values;
  }

  /**
   * Copies of the variables, so that readers (savers, freezing) never see later in-place
   * updates; one set of copies until the next run or `invalidate()`.
   */
  snapshot(): ReadonlyMap<string, NDArray> {
    this.copies ??= new Map([...this.state.variables].map(([k, v]) => [k, new NDArray(v.dtype, [...v.shape], v.data.slice())]));
    return this.copies;
  }

  /**
   * The variables changed outside a run, or the interpreter is about to run on the state: drop
   * the snapshot, and give the state copies of the views it holds (the next run copies them in).
   */
  invalidate(): void {
    this.copies = null;
    this.detach();
  }

  /** Replaces the state's views of program memories by copies (before the interpreter runs). */
  private detach(): void {
    for (const [name, v] of this.state.variables) if (this.mine.has(v)) this.state.variables.set(name, new NDArray(v.dtype, [...v.shape], v.data.slice()));
  }

  private entryFor(order: readonly Operation[], fed: Map<Tensor, NDArray>, fetches: Tensor[], fedNames: readonly string[], fedValues: readonly NDArray[]): Entry {
    let byShape = this.cache.get(order);
    if (!byShape) {
      byShape = new Map();
      this.cache.set(order, byShape);
    }
    let fetchKey = this.fetchKeys.get(fetches);
    if (fetchKey === undefined) {
      fetchKey = fetches.map((t) => t.name).join(",");
      this.fetchKeys.set(fetches, fetchKey);
    }
    let key = `${fetchKey}|`;
    for (let i = 0; i < fedNames.length; i++) key += `${i ? "," : ""}${fedNames[i]}:${fedValues[i].shape.join("x")}`;
    let entry = byShape.get(key);
    if (entry && !("interpreter" in entry) && !this.variablesMatch(entry)) {
      key += `|${entry.analysis.variables.map((v) => this.state.variables.get(v.name)?.shape.join("x") ?? "?").join(",")}`;
      entry = byShape.get(key);
    }
    if (!entry) {
      entry = this.compile(order, fed, fetches);
      byShape.set(key, entry);
    }
    return entry;
  }

  /** Whether every variable the state holds has the shape `entry` was planned for. */
  private variablesMatch(entry: Loaded): boolean {
    let planned = this.plannedShapes.get(entry);
    if (!planned) {
      const a = entry.analysis;
      planned = { names: a.variables.map((v) => v.name), shapes: a.variables.map((v) => a.specs.get(v.outputs[0].name)?.shape) };
      this.plannedShapes.set(entry, planned);
    }
    const { names, shapes } = planned;
    for (let k = 0; k < names.length; k++) {
      const current = this.state.variables.get(names[k]);
      if (!current) continue;
      const shape = shapes[k];
      if (!shape || shape.length !== current.shape.length) return false;
      for (let i = 0; i < shape.length; i++) if (shape[i] !== current.shape[i]) return false;
    }
    return true;
  }

  private compile(order: readonly Operation[], fed: Map<Tensor, NDArray>, fetches: Tensor[]): Entry {
    const W = wasmCodegen()!;
    let analysis: Analysis;
    try {
      analysis = analyze(planInput(this.state, order, fed, fetches));
    } catch (e) {
      const reason = interpreterFallback(e);
      if (reason !== null) return { interpreter: true, reason };
      throw e;
    }
    const lowered = lower(W, analysis, this.threads);
    const built = buildProgram(W, lowered, { ...this.options, shared: isParallel(lowered) });
    const js = jsKernelsOf(built.lowered);
    const fallbacks = built.lowered.steps.flatMap((s) => (s.kind === "fallback" && !js.has(s) ? [s.op] : []));
    const jsOps = built.lowered.steps.flatMap((s) => (s.kind === "fallback" && js.has(s) ? [s.op] : []));
    if (process.env.FOLDFLOW_DEBUG) console.error(`[wasm-backend] reference kernels: ${fallbacks.map((o) => o.type).join(" ")}; js kernels: ${jsOps.map((o) => o.type).join(" ")}`);
    const executor = createExecutor(built, js, {
      state: this.state,
      mine: this.mine,
      order,
      uninitializedError: (name, reader, first) => uninitializedError(order, this.state.variables, name, reader, first),
      pool: this.threads > 1 ? threadPool(this.threads - 1) : null,
    });
    return { ...executor, built, analysis, fallbacks, jsOps, fetches };
  }
}

export interface WasmBackendOptions extends ProgramOptions {
  /**
   * Threads for one op (TF's ConfigProto intra_op_parallelism_threads): a GEMM or Conv2D above a
   * size threshold is split into parts that run on worker threads over a shared memory
   * (src/runtime/wasm/split.ts, threads.ts). Default (0 or unset): the number of cores.
   */
  intraOpParallelism?: number;
  /**
   * What a run does before the code generator has loaded: "throw" (the default: a
   * FailedPreconditionError saying to await a run or tf.wasmReady()) or "js" (run on the js
   * backend meanwhile and start loading; for a session that did not ask for wasm by name).
   */
  untilLoaded?: "throw" | "js";
}

/**
 * The values of a compiled run: the fetched and fed arrays, and for every other tensor of the
 * plan a shape-only stand-in (constants keep their data) or DEAD when its branch did not run,
 * for readers that inspect shapes and liveness after a run (run warnings).
 */
class WasmValues extends Map<string, Value> {
  constructor(private readonly entry: Loaded) {
    super();
  }
  override get(name: string): Value | undefined {
    const own = super.get(name);
    if (own !== undefined) return own;
    const a = this.entry.analysis;
    let standIns = STAND_INS.get(this.entry);
    if (!standIns) STAND_INS.set(this.entry, (standIns = new Map()));
    let standIn = standIns.get(name);
    if (standIn === undefined) {
      const spec = a.specs.get(name);
      if (!spec) return undefined;
      const made = Object.create(NDArray.prototype) as { dtype: string; shape: number[]; data: unknown };
      made.dtype = spec.dtype;
      made.shape = [...spec.shape];
      made.data = spec.value?.data ?? new Float32Array(0);
      standIn = made as unknown as NDArray;
      standIns.set(name, standIn);
    }
    const live = a.tensorLive.get(name);
    if (live) for (const f of live) if (this.entry.flags[f] !== 1) return DEAD;
    return standIn;
  }
  override has(name: string): boolean {
    return this.get(name) !== undefined;
  }
}

/**
 * The stand-ins of each program's tensors, made once (their shapes and constant data are fixed
 * for a program; readers do not modify them).
 */
const STAND_INS = new WeakMap<Loaded, Map<string, NDArray>>();
