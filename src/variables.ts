/**
 * Variables, `tf.getVariable`, variable scopes and initialization. A Variable is the output
 * of its VariableV2 op, so it can be used wherever a tensor can; `initializer` is its Assign.
 */
import { type DType } from "../ir/dtype";
import { AlreadyExistsError, invalidArgument, notFound, suggestion } from "../ir/diagnostics";
import { getDefaultGraph, Operation, Tensor, type Graph } from "../ir/graph";
import { formatShape, isFullyDefined, type Shape } from "../ir/shape";
import { convertToTensor, type TensorLike } from "../ir/ops/build";
import { group } from "../ir/ops/control";
import { assign, assignAdd, assignSub } from "../ir/ops/state";
import { GraphKeys } from "./collections";
import { glorotUniform, zeros, type Initializer } from "./initializers";

export const AUTO_REUSE = "auto" as const;
export type Reuse = boolean | typeof AUTO_REUSE;
export type Regularizer = (weights: Tensor) => Tensor | null;
export type Constraint = (weights: Tensor) => Tensor;

export interface VariableOptions {
  name?: string;
  dtype?: DType;
  trainable?: boolean;
  collections?: string[];
  validateShape?: boolean;
  constraint?: Constraint;
}

/**
 * Builds the initial value under `<name>/Initializer/`, then the VariableV2 op, outside any
 * control-dependency or cond block (TF's init_scope), so a variable made inside a branch works.
 */
function createVariableOp(graph: Graph, name: string, absolute: boolean, dtype: DType | undefined, shape: Shape | null | undefined, initial: () => TensorLike): { op: Operation; init: Tensor } {
  const hooks = graph.creationHooks.splice(0, graph.creationHooks.length);
  try {
    return graph.controlDependencies(null, () => {
      const opName = absolute ? name : graph.uniqueName(name);
      const init = graph.nameScope(`${opName}/`, () => graph.nameScope("Initializer", () => convertToTensor(initial(), dtype, "initial_value", graph)));
      const op = graph.addOp({
        type: "VariableV2",
        name: opName,
        absoluteName: true,
        attrs: { shape: shape === undefined ? init.shape : shape, dtype: init.dtype },
      });
      return { op, init };
    });
  } finally {
    graph.creationHooks.push(...hooks);
  }
}

export class Variable extends Tensor {
  readonly initializer: Operation;
  readonly initialValue: Tensor;
  readonly trainable: boolean;
  readonly constraint: Constraint | undefined;

  /** `new tf.Variable(initialValue, { name, trainable, dtype })`, as TF1's tf.Variable. */
  constructor(initialValue: TensorLike | (() => TensorLike), options: VariableOptions & { absoluteName?: boolean; shape?: Shape } = {}) {
    const graph = initialValue instanceof Tensor ? initialValue.graph : getDefaultGraph();
    const make = typeof initialValue === "function" ? initialValue : () => initialValue;
    const shape = options.validateShape === false ? null : options.shape;
    const built = createVariableOp(graph, options.name ?? "Variable", options.absoluteName ?? false, options.dtype, shape, make);
    super(built.op, 0, built.op.outputs[0]);
    built.op.outputs = [this];
    this.initialValue = built.init;
    this.trainable = options.trainable ?? true;
    this.constraint = options.constraint;
    // Like the variable op, its initializer is built outside any cond branch or control block.
    const hooks = graph.creationHooks.splice(0, graph.creationHooks.length);
    try {
      this.initializer = graph.nameScope(`${built.op.name}/`, () =>
        graph.controlDependencies(null, () => assign(this, built.init, { validateShape: options.validateShape ?? true, name: "Assign" }).op),
      );
    } finally {
      graph.creationHooks.push(...hooks);
    }
    const collections = options.collections ?? [GraphKeys.GLOBAL_VARIABLES];
    for (const key of collections) graph.addToCollection(key, this);
    if (this.trainable && !collections.includes(GraphKeys.TRAINABLE_VARIABLES)) graph.addToCollection(GraphKeys.TRAINABLE_VARIABLES, this);
  }

  /** The variable's current value as a tensor (its op's output). */
  value(): Tensor {
    return this;
  }
  readValue(): Tensor {
    return this;
  }
  assign(value: TensorLike, name?: string): Tensor {
    return assign(this, value, { name });
  }
  assignAdd(value: TensorLike, name?: string): Tensor {
    return assignAdd(this, value, { name });
  }
  assignSub(value: TensorLike, name?: string): Tensor {
    return assignSub(this, value, { name });
  }
  /** The variable's full name without `:0`. */
  get opName(): string {
    return this.op.name;
  }
}

export interface GetVariableOptions {
  dtype?: DType;
  initializer?: Initializer | TensorLike;
  regularizer?: Regularizer;
  trainable?: boolean;
  collections?: string[];
  constraint?: Constraint;
  reuse?: Reuse;
}

function store(graph: Graph): Map<string, Variable> {
  let s = graph.extras.get("variableStore") as Map<string, Variable> | undefined;
  if (!s) {
    s = new Map();
    graph.extras.set("variableStore", s);
  }
  return s;
}

export function currentVariableScope(graph: Graph = getDefaultGraph()): { name: string; reuse: Reuse; initializer?: Initializer; regularizer?: Regularizer } {
  const top = graph.variableScopes[graph.variableScopes.length - 1] as ScopeState | undefined;
  return top ?? { name: "", reuse: false };
}

interface ScopeState {
  name: string;
  reuse: Reuse;
  initializer?: Initializer;
  regularizer?: Regularizer;
}

/** `tf.getVariable(name, shape, options)`, honouring the variable scope's reuse. */
export function getVariable(name: string, shape?: Shape, options: GetVariableOptions = {}): Variable {
  const graph = getDefaultGraph();
  const scope = currentVariableScope(graph);
  const fullName = scope.name ? `${scope.name}/${name}` : name;
  const reuse = options.reuse ?? scope.reuse;
  const vars = store(graph);
  const existing = vars.get(fullName);
  if (existing) {
    if (reuse === false)
      throw new AlreadyExistsError({
        code: "variable-exists",
        node: fullName,
        message: `variable \`${fullName}\` already exists, and reuse is off`,
        expected: "a new variable name, or reuse",
        received: fullName,
        fix: "set { reuse: true } or { reuse: tf.AUTO_REUSE } on the variable scope, or choose another name",
      });
    if (shape && existing.shape && (shape.length !== existing.shape.length || shape.some((d, i) => d !== existing.shape![i])))
      throw invalidArgument({
        code: "variable-shape",
        node: fullName,
        message: `reused variable \`${fullName}\` has another shape`,
        expected: formatShape(existing.shape),
        received: formatShape(shape),
        fix: "ask for the shape it was created with",
      });
    return existing;
  }
  if (reuse === true)
    throw notFound({
      code: "variable-missing",
      node: fullName,
      message: `variable \`${fullName}\` does not exist, and reuse is on`,
      fix: `create it first or use reuse: tf.AUTO_REUSE${vars.size ? `; ${suggestion(fullName, vars.keys(), "variable")}` : ""}`,
    });
  const dtype = options.dtype ?? "float32";
  const init = options.initializer ?? scope.initializer ?? (dtype === "float32" ? glorotUniform() : zeros());
  if (typeof init === "function" && (!shape || !isFullyDefined(shape)))
    throw invalidArgument({
      code: "variable-shape",
      node: fullName,
      message: `variable \`${fullName}\` needs a fully defined shape for its initializer`,
      received: shape ? formatShape(shape) : "no shape",
      fix: "pass the shape, or an initial value tensor as the initializer",
    });
  const initial = typeof init === "function" ? () => (init as Initializer)(shape as number[], dtype) : () => init as TensorLike;
  const v = new Variable(initial, {
    name: fullName,
    absoluteName: true,
    dtype,
    shape,
    trainable: options.trainable ?? true,
    collections: options.collections,
    constraint: options.constraint,
  });
  vars.set(fullName, v);
  const regularizer = options.regularizer ?? scope.regularizer;
  if (regularizer) {
    const loss = graph.nameScope(`${v.op.name}/Regularizer/`, () => regularizer(v));
    if (loss) graph.addToCollection(GraphKeys.REGULARIZATION_LOSSES, loss);
  }
  return v;
}

export interface VariableScopeOptions {
  reuse?: Reuse;
  initializer?: Initializer;
  regularizer?: Regularizer;
}

/** `tf.variableScope(name, options?, fn)`: names variables `name/...` and opens a name scope. */
export function variableScope<T>(name: string, optionsOrFn: VariableScopeOptions | (() => T), maybeFn?: () => T): T {
  const options = typeof optionsOrFn === "function" ? {} : optionsOrFn;
  const fn = (typeof optionsOrFn === "function" ? optionsOrFn : maybeFn) as () => T;
  const graph = getDefaultGraph();
  const parent = currentVariableScope(graph);
  const state: ScopeState = {
    name: parent.name ? `${parent.name}/${name}` : name,
    // Reuse is inherited: a scope inside a reusing scope reuses.
    reuse: parent.reuse === true ? true : options.reuse ?? parent.reuse,
    initializer: options.initializer ?? parent.initializer,
    regularizer: options.regularizer ?? parent.regularizer,
  };
  graph.variableScopes.push(state as unknown as { name: string; reuse: boolean | "auto" });
  try {
    return graph.nameScope(name, fn);
  } finally {
    graph.variableScopes.pop();
  }
}

export function globalVariables(graph: Graph = getDefaultGraph()): Variable[] {
  return graph.getCollection<Variable>(GraphKeys.GLOBAL_VARIABLES);
}

export function trainableVariables(graph: Graph = getDefaultGraph()): Variable[] {
  return graph.getCollection<Variable>(GraphKeys.TRAINABLE_VARIABLES);
}

export function movingAverageVariables(graph: Graph = getDefaultGraph()): Variable[] {
  return graph.getCollection<Variable>(GraphKeys.MOVING_AVERAGE_VARIABLES);
}

/** An op that runs the initializers of `vars`. */
export function variablesInitializer(vars: Variable[], name = "init"): Operation {
  return group(vars.map((v) => v.initializer), name);
}

export function globalVariablesInitializer(): Operation {
  return variablesInitializer(globalVariables(), "init");
}
