/**
 * `tf.Session`: runs the part of a graph that the fetches need, each op at most once, every
 * control dependency first. Variables live in the session. Fetch structures keep their shape.
 */
import { FailedPreconditionError, invalidArgument, type Diagnostic } from "../ir/diagnostics";
import { getDefaultGraph, Graph, Operation, Tensor } from "../ir/graph";
import type { NDArray } from "../ir/ndarray";
import { DEAD, execute, type RuntimeState, type Value } from "./runtime/interpreter";
import { JsBackend } from "./runtime/js-backend";
import { WasmBackend } from "./runtime/wasm-backend";
import { wasmCodegen, wasmReady } from "./runtime/wasm/loader";
import { WebGpuBackend } from "./runtime/webgpu-backend";
import { normalizeFeeds, resolveTensorName, type FeedDict } from "./runtime/feeds";
import { planRun } from "./runtime/plan";
import { RunWarnings } from "./runtime/warnings";
import { checkNumericsHook } from "./runtime/check-numerics";
import { RunQueue } from "./runtime/run-queue";
import { checkFeedLimits, resolveLimits, type Limits } from "./limits";

export type BackendName = "interpreter" | "js" | "webgpu" | "wasm";

export interface SessionOptions {
  graph?: Graph;
  /**
   * Where the graph runs: "wasm" (the default: WebAssembly SIMD kernels built per graph),
   * "js" (generated JavaScript), "interpreter" (the reference kernels; the default with
   * highPrecision) or "webgpu".
   */
  backend?: BackendName;
  /** Interpreter only (the default backend then): compute float32 ops in float64 (finite-difference oracles in tests). */
  highPrecision?: boolean;
  /** Receives run-time warnings (a train op that skips UPDATE_OPS, a training batch of 1), each once; default: one line on stderr. */
  onWarning?: (d: Diagnostic) => void;
  /** Fail a run at the first op that produces a NaN or an Inf, naming it (runs on the interpreter). */
  checkNumerics?: boolean;
  /** Refuse feeds over these limits (maxElements per feed, maxTotalBytes per run); see tf.DEFAULT_LIMITS. */
  limits?: Partial<Limits>;
  /**
   * wasm backend: threads one op may use (TF's ConfigProto intra_op_parallelism_threads): large
   * GEMM / Conv2D kernels are split across worker threads over a shared memory. Default: the core count.
   */
  intraOpParallelism?: number;
}

/** Filled by `run` when passed in its options: the ops that ran, in order (TF's RunMetadata). */
export interface RunMetadata {
  executedOps: string[];
}

export interface RunOptions {
  runMetadata?: RunMetadata;
}

/** A fetch: a tensor, an operation, a name, or arrays / objects of them. */
export type Fetch = Tensor | Operation | string | readonly Fetch[] | { readonly [key: string]: Fetch };

type Depth = [never, 0, 1, 2, 3, 4, 5];

/** The result of a fetch: NDArrays where tensors were, `null` where operations were. */
export type FetchResult<F, D extends number = 5> = [D] extends [never]
  ? unknown
  : F extends Tensor
    ? NDArray
    : F extends Operation
      ? null
      : F extends string
        ? NDArray
        : F extends readonly unknown[]
          ? { -readonly [K in keyof F]: FetchResult<F[K], Depth[D]> }
          : F extends object
            ? { -readonly [K in keyof F]: FetchResult<F[K], Depth[D]> }
            : never;

export class Session {
  readonly graph: Graph;
  readonly backend: BackendName;
  private readonly highPrecision: boolean;
  private readonly state: RuntimeState = { variables: new Map(), opState: new Map() };
  private closed = false;
  private readonly planCache = new Map<string, { version: number; order: Operation[] }>();
  /** Run plans by the run's signature (its targets and fed tensors, in the order given); see runPlan. */
  private readonly runPlans = new Map<string, RunPlan>();
  /** Feed and fetch names resolved before (a name, once resolved, always means the same tensor or op). */
  private readonly feedNames = new Map<string, Tensor>();
  private readonly fetchNames = new Map<string, Tensor | Operation>();
  /** The compiled backend, for `backend: "js"`. */
  readonly js: JsBackend | null;
  /** The WebAssembly backend, for `backend: "wasm"` (its code generator loads on the first `await sess.run`). */
  readonly wasm: WasmBackend | null;
  /**
   * The device backend, for `backend: "webgpu"`: `run` executes there (asynchronously), while
   * `runSync` runs the interpreter on the same variables (WebGPU cannot be waited on synchronously).
   */
  readonly gpu: WebGpuBackend | null;
  private readonly warnings: RunWarnings;
  private readonly checkNumerics: boolean;
  private readonly limits: Limits;
  private readonly queue = new RunQueue();

  constructor(options: SessionOptions = {}) {
    this.graph = options.graph ?? getDefaultGraph();
    this.checkNumerics = options.checkNumerics ?? false;
    this.limits = resolveLimits(options.limits);
    this.highPrecision = options.highPrecision ?? false;
    // The wasm backend by default (js where binaryen cannot load synchronously, until it has
    // loaded); float64 kernels are the interpreter's.
    this.backend = options.backend ?? (this.highPrecision ? "interpreter" : "wasm");
    this.warnings = new RunWarnings(this.graph, options.onWarning);
    if (this.backend !== "interpreter" && this.backend !== "js" && this.backend !== "webgpu" && this.backend !== "wasm")
      throw invalidArgument({
        code: "unknown-backend",
        message: `backend "${this.backend}" is not available in this build`,
        expected: '"interpreter", "js", "wasm" or "webgpu"',
        received: JSON.stringify(this.backend),
        fix: 'use { backend: "interpreter" }, { backend: "js" }, { backend: "wasm" } or { backend: "webgpu" }',
      });
    if ((this.backend === "js" || this.backend === "wasm") && this.highPrecision)
      throw invalidArgument({
        code: "high-precision-backend",
        message: "highPrecision (float64 kernels) is available on the interpreter only",
        expected: '{ backend: "interpreter", highPrecision: true }',
        received: `{ backend: "${this.backend}", highPrecision: true }`,
        fix: 'drop highPrecision, or use { backend: "interpreter" }',
      });
    this.js = this.backend === "js" ? new JsBackend(this.state) : null;
    const untilLoaded = options.backend === undefined ? "js" : "throw";
    this.wasm = this.backend === "wasm" ? new WasmBackend(this.state, { intraOpParallelism: options.intraOpParallelism, untilLoaded }) : null;
    this.gpu = this.backend === "webgpu" ? new WebGpuBackend(this.state) : null;
  }

  /** Runs the fetches; feeds by name ("x", "x:0") or a Map keyed by tensor. */
  async run<const F extends Fetch>(fetches: F, feeds?: FeedDict, options?: RunOptions): Promise<FetchResult<F>> {
    if (this.gpu && !this.checkNumerics) return this.queue.run(() => this.runOnDevice(fetches, feeds, options));
    // Where binaryen cannot load synchronously, the first run awaits its import.
    if (this.wasm && !wasmCodegen()) return this.queue.run(async () => (await wasmReady(), this.runSync(fetches, feeds, options)));
    return this.queue.run(() => this.runSync(fetches, feeds, options));
  }

  /** `run` on the webgpu backend (plans it cannot compile run on the interpreter). */
  private async runOnDevice<const F extends Fetch>(fetches: F, feeds?: FeedDict, options: RunOptions = {}): Promise<FetchResult<F>> {
    if (this.closed)
      throw new FailedPreconditionError({ code: "session-closed", message: "attempted to use a closed Session", fix: "create a new tf.Session" });
    const targets: (Tensor | Operation)[] = [];
    const structure = this.resolveFetches(fetches, targets);
    checkFeedLimits(feeds, this.limits);
    const fed = normalizeFeeds(this.graph, feeds, false, this.feedNames);
    const { targetOps, order, fetched } = this.runPlan(targets, fed);
    if (options.runMetadata) options.runMetadata.executedOps = [];
    const out = await this.gpu!.run(order, fed, fetched, { executed: options.runMetadata?.executedOps });
    this.warnings.afterRun(targetOps, order, out);
    return this.rebuild(structure, out) as FetchResult<F>;
  }

  /** `run` without the promise, for scripts and tests that do not await. */
  runSync<const F extends Fetch>(fetches: F, feeds?: FeedDict, options: RunOptions = {}): FetchResult<F> {
    if (this.closed)
      throw new FailedPreconditionError({
        code: "session-closed",
        message: "attempted to use a closed Session",
        fix: "create a new tf.Session",
      });
    const targets: (Tensor | Operation)[] = [];
    const structure = this.resolveFetches(fetches, targets);
    checkFeedLimits(feeds, this.limits);
    const fed = normalizeFeeds(this.graph, feeds, this.highPrecision, this.feedNames);
    const values = this.execute(targets, fed, options.runMetadata);
    return this.rebuild(structure, values) as FetchResult<F>;
  }

  close(): void {
    this.closed = true;
    this.state.variables.clear();
    this.gpu?.destroy();
    this.wasm?.close();
    this.js?.invalidate();
    this.wasm?.invalidate();
  }

  /** The session's variable values, by variable op name (for savers and freezing). */
  get variableValues(): ReadonlyMap<string, NDArray> {
    // The js backend updates variables in place: hand out copies.
    const compiled = this.js ?? this.wasm;
    return compiled ? compiled.snapshot() : this.state.variables;
  }

  /** Sets a variable's value directly (Saver.restore). */
  setVariableValue(name: string, value: NDArray): void {
    this.state.variables.set(name, value);
    this.js?.invalidate();
    this.wasm?.invalidate();
  }

  private execute(targets: (Tensor | Operation)[], fed: Map<Tensor, NDArray>, metadata?: RunMetadata): Map<string, Value> {
    const { fedNames, targetOps, order, fetched } = this.runPlan(targets, fed);
    const compiled = this.js ?? this.wasm;
    if (compiled && !this.checkNumerics) {
      if (metadata) metadata.executedOps = [];
      const out = compiled.run(order, fed, fetched, { executed: metadata?.executedOps });
      this.warnings.afterRun(targetOps, order, out);
      return out;
    }
    const values = new Map<string, Value>();
    for (const [t, v] of fed) values.set(t.name, v);
    if (metadata) metadata.executedOps = [];
    const record = metadata ? (op: Operation) => void metadata.executedOps.push(op.name) : undefined;
    const onOp = this.checkNumerics ? checkNumericsHook(values, this.state, fedNames, record) : record;
    this.js?.invalidate();
    this.wasm?.invalidate();
    const out = execute(order, values, this.state, { highPrecision: this.highPrecision, onOp });
    this.warnings.afterRun(targetOps, order, out);
    return out;
  }

  /**
   * What a run with these targets and fed tensors executes, cached by its signature (the ids of
   * the targets and of the fed tensors, in the order given) until the graph changes: adding an op
   * bumps graph.version, and the next run plans again. Runs whose signatures differ only in order
   * share their `order` array (the backends' and warnings' caches are keyed by it) through `plan`.
   */
  private runPlan(targets: readonly (Tensor | Operation)[], fed: ReadonlyMap<Tensor, NDArray>): RunPlan {
    let key = "";
    for (const t of targets) key += t instanceof Tensor ? `${t.op.id}:${t.index},` : `${t.id},`;
    key += "|";
    for (const t of fed.keys()) key += `${t.op.id}:${t.index},`;
    const version = this.graph.version;
    const hit = this.runPlans.get(key);
    if (hit && hit.version === version) return hit;
    const fedNames = new Set([...fed.keys()].map((t) => t.name));
    const targetOps = targets.filter((t) => !(t instanceof Tensor && fedNames.has(t.name))).map((t) => (t instanceof Tensor ? t.op : t));
    const order = this.plan(targetOps, fedNames);
    const fetched = [...new Set(targets.filter((t): t is Tensor => t instanceof Tensor && !fedNames.has(t.name)))];
    const plan: RunPlan = { version, fedNames, targetOps, order, fetched };
    this.runPlans.set(key, plan);
    return plan;
  }

  private plan(targets: Operation[], fed: Set<string>): Operation[] {
    const key = `${[...new Set(targets.map((t) => t.name))].sort().join(",")}|${[...fed].sort().join(",")}`;
    const hit = this.planCache.get(key);
    if (hit && hit.version === this.graph.version) return hit.order;
    const order = planRun(targets, fed);
    this.planCache.set(key, { version: this.graph.version, order });
    return order;
  }

  private resolveFetches(f: Fetch, targets: (Tensor | Operation)[]): FetchNode {
    if (f instanceof Tensor || f instanceof Operation) {
      this.checkGraph(f instanceof Tensor ? f.op : f);
      targets.push(f);
      return { kind: "leaf", target: f };
    }
    if (typeof f === "string") {
      let target = this.fetchNames.get(f);
      if (!target) {
        target = f.includes(":") ? resolveTensorName(this.graph, f, "fetch") : this.opOrTensor(f);
        this.fetchNames.set(f, target);
      }
      targets.push(target);
      return { kind: "leaf", target };
    }
    if (Array.isArray(f)) return { kind: "array", items: f.map((x) => this.resolveFetches(x, targets)) };
    if (f && typeof f === "object")
      return {
        kind: "object",
        entries: Object.entries(f as Record<string, Fetch>).map(([k, v]) => [k, this.resolveFetches(v, targets)] as [string, FetchNode]),
      };
    throw invalidArgument({
      code: "bad-fetch",
      message: "a fetch must be a tensor, an operation, a name, or an array or object of them",
      received: String(f),
      fix: "pass tensors, operations or their names to sess.run",
    });
  }

  /** A bare name fetches the op's first output when it has one, else the op itself. */
  private opOrTensor(name: string): Tensor | Operation {
    if (this.graph.hasOperation(name)) {
      const op = this.graph.getOperationByName(name);
      return op.outputs.length ? op.outputs[0] : op;
    }
    return resolveTensorName(this.graph, name, "fetch");
  }

  private checkGraph(op: Operation): void {
    if (op.graph !== this.graph)
      throw invalidArgument({
        code: "foreign-fetch",
        node: op.name,
        message: `fetch \`${op.name}\` belongs to another graph than the session's`,
        fix: "create the session with { graph } for the graph the fetch was built in",
      });
  }

  private rebuild(node: FetchNode, values: Map<string, Value>): unknown {
    switch (node.kind) {
      case "leaf": {
        if (node.target instanceof Operation) return null;
        const v = values.get(node.target.name);
        if (v === DEAD || v === undefined)
          throw invalidArgument({
            code: "dead-fetch",
            node: node.target.name,
            message: `fetched tensor \`${node.target.name}\` was not computed: it lies in the untaken branch of a conditional`,
            fix: "fetch the conditional's output (the tf.cond result) instead of a tensor inside one branch",
          });
        return v;
      }
      case "array":
        return node.items.map((n) => this.rebuild(n, values));
      case "object":
        return Object.fromEntries(node.entries.map(([k, n]) => [k, this.rebuild(n, values)]));
    }
  }
}

/** A planned run (Session.runPlan). */
interface RunPlan {
  /** graph.version when planned. */
  version: number;
  fedNames: ReadonlySet<string>;
  /** The ops of the targets that are not fed. */
  targetOps: Operation[];
  /** The ops to run, in order. */
  order: Operation[];
  /** The tensors to fetch (not fed), each once. */
  fetched: Tensor[];
}

type FetchNode =
  | { kind: "leaf"; target: Tensor | Operation }
  | { kind: "array"; items: FetchNode[] }
  | { kind: "object"; entries: [string, FetchNode][] };
