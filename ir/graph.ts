import type { DType } from "./dtype";
import { AlreadyExistsError, invalidArgument, notFound, suggestion } from "./diagnostics";
import type { NDArray } from "./ndarray";
import { getOpDef, type Attrs, type AttrValue, type TensorSpec } from "./registry";
import { formatShape, type MaybeShape } from "./shape";
import { checkAttrs } from "./attrs";
import type { GraphDefDocument } from "./graphdef/model";
import { graphDefDocument, toGraphDef } from "./graphdef/write";

/** The output `index` of an operation. Its name is `op:index`, as in TF. */
export class Tensor {
  readonly op: Operation;
  readonly index: number;
  readonly dtype: DType;
  readonly shape: MaybeShape;
  constructor(op: Operation, index: number, spec: TensorSpec) {
    this.op = op;
    this.index = index;
    this.dtype = spec.dtype;
    this.shape = spec.shape;
  }
  get name(): string {
    return `${this.op.name}:${this.index}`;
  }
  get graph(): Graph {
    return this.op.graph;
  }
  get rank(): number | null {
    return this.shape === null ? null : this.shape.length;
  }
  /** The operations that consume this tensor. */
  consumers(): Operation[] {
    return this.graph.consumersOf(this);
  }
  toString(): string {
    return `Tensor("${this.name}", shape=${formatShape(this.shape)}, dtype=${this.dtype})`;
  }
}

/** A node of the graph: an op type applied to inputs, with attributes and control inputs. */
export class Operation {
  readonly graph: Graph;
  readonly name: string;
  readonly type: string;
  readonly inputs: Tensor[];
  readonly controlInputs: Operation[];
  readonly attrs: Attrs;
  outputs: Tensor[] = [];
  /** Creation order within the graph (a topological order for built graphs). */
  readonly id: number;
  constructor(graph: Graph, id: number, name: string, type: string, inputs: Tensor[], controlInputs: Operation[], attrs: Attrs) {
    this.graph = graph;
    this.id = id;
    this.name = name;
    this.type = type;
    this.inputs = inputs;
    this.controlInputs = controlInputs;
    this.attrs = attrs;
  }
  /** The first output, for single-output ops. */
  get output(): Tensor {
    if (this.outputs.length === 0)
      throw invalidArgument({
        code: "no-outputs",
        node: this.name,
        message: `operation \`${this.name}\` (${this.type}) has no outputs`,
        fix: "fetch the operation itself, or use one of its consumers",
      });
    return this.outputs[0];
  }
  attr<T extends AttrValue>(name: string): T {
    return this.attrs[name] as T;
  }
  toString(): string {
    return `Operation("${this.name}", type=${this.type})`;
  }
}

export interface AddOpOptions {
  type: string;
  inputs?: Tensor[];
  attrs?: Attrs;
  /** The base name; scoped and uniquified unless `absoluteName`. Defaults to the op type. */
  name?: string;
  /** Use `name` exactly (variables created through variable scopes). */
  absoluteName?: boolean;
  controlInputs?: Operation[];
  /** Skip the active cond context's capture (used when building the cond machinery itself). */
  noCapture?: boolean;
}

/** Hooks that let builder-level features (cond contexts) rewrite an op's inputs as it is added. */
export interface OpCreationHook {
  /** Called (on the innermost hook only) with the prospective inputs; returns the inputs to use and extra control inputs. */
  capture(graph: Graph, inputs: Tensor[], refInputs: readonly number[]): { inputs: Tensor[]; controlInputs: Operation[] };
  /** Called on every active hook once the op exists. */
  created(op: Operation): void;
}

export interface VariableScopeState {
  name: string;
  reuse: boolean | "auto";
}

/** A TF1 graph: operations in creation order, names, scopes, collections, control edges. */
export class Graph {
  private readonly ops: Operation[] = [];
  private readonly byName = new Map<string, Operation>();
  private readonly namesInUse = new Map<string, number>();
  private readonly consumerIndex = new Map<string, Operation[]>();
  private readonly collections = new Map<string, unknown[]>();
  /** The current name scope ("" at the root, "block1/inner" when nested). */
  nameScopeValue = "";
  /** Active `controlDependencies` blocks, innermost last. */
  readonly controlStack: Operation[][] = [];
  /** Active op-creation hooks (cond branches), innermost last. */
  readonly creationHooks: OpCreationHook[] = [];
  /** Active variable scopes, innermost last. */
  readonly variableScopes: VariableScopeState[] = [];
  /** Free-form per-graph state used by the builder (variable store, layer name counters ...). */
  readonly extras = new Map<string, unknown>();
  /** Bumped on every change, so that sessions can drop cached plans. */
  version = 0;

  get operations(): readonly Operation[] {
    return this.ops;
  }

  /** Creates, checks and adds an operation. */
  addOp(options: AddOpOptions): Operation {
    const def = getOpDef(options.type, options.name ?? options.type);
    let inputs = options.inputs ?? [];
    const controlInputs = [...(options.controlInputs ?? [])];
    const baseName = options.name ?? options.type;
    const name = options.absoluteName ? baseName : this.uniqueName(baseName);
    if (options.absoluteName) {
      if (this.byName.has(name))
        throw new AlreadyExistsError({
          code: "duplicate-name",
          node: name,
          message: `an operation named \`${name}\` already exists`,
          fix: "choose another name or reuse the existing one",
        });
      this.markUsed(name);
    }
    for (const t of inputs) this.checkOwn(t, name);
    for (const c of controlInputs) this.checkOwnOp(c, name);
    if (def.inputs !== "variadic" && inputs.length !== def.inputs)
      throw invalidArgument({
        code: "input-count",
        node: name,
        message: `${options.type} takes ${def.inputs} input(s)`,
        expected: `${def.inputs}`,
        received: `${inputs.length}`,
        fix: "pass the op the inputs its signature lists",
      });
    const innermost = this.creationHooks[this.creationHooks.length - 1];
    if (innermost && !options.noCapture) {
      const captured = innermost.capture(this, inputs, def.refInputs ?? []);
      inputs = captured.inputs;
      controlInputs.push(...captured.controlInputs);
    }
    for (const block of this.controlStack) controlInputs.push(...block);
    const attrs = checkAttrs(def, options.attrs ?? {}, name);
    if (def.inputs === "variadic" && (options.attrs ?? {})["N"] === undefined) attrs["N"] = inputs.length;
    const specs = def.infer(
      inputs.map((t) => ({ dtype: t.dtype, shape: t.shape, value: constantValue(t) })),
      attrs,
      name,
    );
    const uniqueControls = [...new Set(controlInputs)];
    const op = new Operation(this, this.ops.length, name, options.type, inputs, uniqueControls, attrs);
    op.outputs = specs.map((s, i) => new Tensor(op, i, s));
    this.ops.push(op);
    this.byName.set(name, op);
    for (const t of inputs) {
      const list = this.consumerIndex.get(t.name);
      if (list) list.push(op);
      else this.consumerIndex.set(t.name, [op]);
    }
    this.version++;
    for (const hook of this.creationHooks) hook.created(op);
    return op;
  }

  private checkOwn(t: Tensor, node: string): void {
    if (!(t instanceof Tensor))
      throw invalidArgument({
        code: "not-a-tensor",
        node,
        message: `an input of \`${node}\` is not a Tensor`,
        received: String(t),
        fix: "pass tensors built in this graph (numbers and arrays are converted by the tf.* builders)",
      });
    this.checkOwnOp(t.op, node);
  }

  private checkOwnOp(op: Operation, node: string): void {
    if (op.graph !== this)
      throw invalidArgument({
        code: "foreign-graph",
        node,
        message: `\`${op.name}\` belongs to another graph than \`${node}\``,
        fix: "build all the ops of one computation inside the same graph.asDefault(...) block",
      });
  }

  /** TF1 unique naming: `dense`, `dense_1`, ... under the current name scope. */
  uniqueName(base: string, markAsUsed = true): string {
    const full = this.nameScopeValue ? `${this.nameScopeValue}/${base}` : base;
    const key = full.toLowerCase();
    let count = this.namesInUse.get(key) ?? 0;
    let candidate = full;
    if (count > 0) {
      let probe = `${key}_${count}`;
      while (this.namesInUse.has(probe)) {
        count++;
        probe = `${key}_${count}`;
      }
      candidate = `${full}_${count}`;
    }
    if (markAsUsed) {
      this.namesInUse.set(key, count + 1);
      this.namesInUse.set(candidate.toLowerCase(), 1);
    }
    return candidate;
  }

  private markUsed(name: string): void {
    const key = name.toLowerCase();
    if (!this.namesInUse.has(key)) this.namesInUse.set(key, 1);
  }

  /** Runs `fn` inside name scope `name` (uniquified, or absolute when it ends in "/"). */
  nameScope<T>(name: string | null, fn: () => T): T {
    const saved = this.nameScopeValue;
    if (name === null || name === "") this.nameScopeValue = "";
    else if (name.endsWith("/")) this.nameScopeValue = name.slice(0, -1);
    else this.nameScopeValue = this.uniqueName(name);
    try {
      return fn();
    } finally {
      this.nameScopeValue = saved;
    }
  }

  /** Ops built inside `fn` get control inputs on `ops`; `null` clears the enclosing blocks. */
  controlDependencies<T>(ops: Operation[] | null, fn: () => T): T {
    if (ops === null) {
      const saved = this.controlStack.splice(0, this.controlStack.length);
      try {
        return fn();
      } finally {
        this.controlStack.push(...saved);
      }
    }
    this.controlStack.push(ops);
    try {
      return fn();
    } finally {
      this.controlStack.pop();
    }
  }

  /** Runs `fn` with this graph as the default graph; returns its result. */
  asDefault<T>(fn: () => T): T {
    defaultGraphStack.push(this);
    try {
      return fn();
    } finally {
      defaultGraphStack.pop();
    }
  }

  hasOperation(name: string): boolean {
    return this.byName.has(name);
  }

  getOperationByName(name: string): Operation {
    const op = this.byName.get(name);
    if (!op)
      throw notFound({
        code: "unknown-operation",
        node: name,
        message: `the graph has no operation named \`${name}\``,
        fix: suggestion(name, this.byName.keys(), "operation name"),
      });
    return op;
  }

  /** `op:index`, or a bare op name meaning output 0. */
  getTensorByName(name: string): Tensor {
    const m = /^(.*):(\d+)$/.exec(name);
    const opName = m ? m[1] : name;
    const index = m ? Number(m[2]) : 0;
    const op = this.byName.get(opName);
    if (!op)
      throw notFound({
        code: "unknown-tensor",
        node: name,
        message: `the graph has no tensor named \`${name}\``,
        fix: suggestion(opName, this.byName.keys(), "operation name"),
      });
    if (index >= op.outputs.length)
      throw notFound({
        code: "unknown-tensor",
        node: name,
        message: `operation \`${opName}\` (${op.type}) has ${op.outputs.length} output(s), not ${index + 1}`,
        expected: `an index below ${op.outputs.length}`,
        received: String(index),
        fix: op.outputs.length ? `use \`${opName}:0\`` : `fetch the operation \`${opName}\` itself`,
      });
    return op.outputs[index];
  }

  consumersOf(t: Tensor): Operation[] {
    return [...(this.consumerIndex.get(t.name) ?? [])];
  }

  addToCollection(key: string, value: unknown): void {
    const list = this.collections.get(key);
    if (list) list.push(value);
    else this.collections.set(key, [value]);
  }

  /** A copy of collection `key`, optionally filtered to names starting with `scope`. */
  getCollection<T = unknown>(key: string, scope?: string): T[] {
    const list = (this.collections.get(key) ?? []) as T[];
    if (!scope) return [...list];
    return list.filter((v) => {
      const name = (v as { name?: unknown }).name;
      return typeof name === "string" && name.startsWith(scope);
    });
  }

  /** The list object itself, to modify in place (TF's get_collection_ref). */
  getCollectionRef<T = unknown>(key: string): T[] {
    let list = this.collections.get(key);
    if (!list) {
      list = [];
      this.collections.set(key, list);
    }
    return list as T[];
  }

  get collectionKeys(): string[] {
    return [...this.collections.keys()];
  }

  /** This graph as a TF GraphDef (every op in creation order); `.toText()` gives the .pbtxt. */
  asGraphDef(): GraphDefDocument {
    return graphDefDocument(toGraphDef(this));
  }
}

/** The value of a Const op's output, for shape inference. */
function constantValue(t: Tensor): NDArray | undefined {
  return t.op.type === "Const" ? (t.op.attrs.value as NDArray) : undefined;
}

const defaultGraphStack: Graph[] = [];
let globalDefault = new Graph();

export function getDefaultGraph(): Graph {
  return defaultGraphStack.length ? defaultGraphStack[defaultGraphStack.length - 1] : globalDefault;
}

/** Replaces the global default graph with a fresh one (TF's reset_default_graph). */
export function resetDefaultGraph(): void {
  if (defaultGraphStack.length)
    throw invalidArgument({
      code: "reset-inside-graph",
      message: "resetDefaultGraph() was called inside graph.asDefault(...)",
      fix: "call it outside every asDefault block",
    });
  globalDefault = new Graph();
}

export type { NDArray };
