/**
 * `tf.layers.Layer`, TF1's base layer, small: a layer resolves its scope on its first `apply`
 * and keeps it. Variables are `<scope>/<weight>` in a variable scope named after the layer
 * ("dense", "dense_1" ... uniquified per enclosing variable scope, exact when `reuse` is set),
 * ops go under the name scope opened then (re-entered by later calls, as TF's
 * original_name_scope). Weight regularizer losses go to REGULARIZATION_LOSSES and `losses`;
 * updates (`addUpdate`) go to `updates` and, after each call, to UPDATE_OPS (`updatesCollection`).
 */
import type { DType } from "../../ir/dtype";
import { invalidArgument } from "../../ir/diagnostics";
import { Operation, Tensor, type Graph, type VariableScopeState } from "../../ir/graph";
import type { MaybeShape } from "../../ir/shape";
import { convertToTensor, graphOf, type TensorLike } from "../../ir/ops/build";
import { cast, gather, shape as shapeOp } from "../../ir/ops/array";
import { div } from "../../ir/ops/elementwise";
import { GraphKeys } from "../collections";
import type { Initializer } from "../initializers";
import { currentVariableScope, getVariable, type Constraint, type Regularizer, type Reuse, type Variable } from "../variables";

export type Activation = (x: Tensor) => Tensor;

export interface LayerOptions {
  /** The layer's (base) name; default: its class name in snake case ("dense", "conv2d" ...). */
  name?: string;
  /** false: its variables are created non-trainable (outside TRAINABLE_VARIABLES). */
  trainable?: boolean;
  dtype?: DType;
  /** Reuse the variables of an earlier layer with the same name (true or tf.AUTO_REUSE). */
  reuse?: Reuse;
  /** Applied to the output; its value divided by the batch size goes to the losses (TF 1.15 Keras). */
  activityRegularizer?: Regularizer;
}

export interface ApplyOptions {
  /** Training mode: a boolean (resolved while building) or a bool tensor (a tf.cond). */
  training?: boolean | Tensor;
}

export interface AddWeightOptions {
  dtype?: DType;
  initializer?: Initializer | TensorLike;
  regularizer?: Regularizer;
  constraint?: Constraint;
  /** Combined with the layer's own `trainable`. */
  trainable?: boolean;
  collections?: string[];
}

interface ScopeInfo {
  graph: Graph;
  /** The variable-scope state re-entered on every call. */
  variableScope: VariableScopeState & { initializer?: Initializer; regularizer?: Regularizer };
  /** The name scope opened on the first call, re-entered as is. */
  nameScope: string;
}

/** "BatchNormalization" -> "batch_normalization", "Conv2D" -> "conv2d" (Keras's to_snake_case). */
export function toSnakeCase(name: string): string {
  const intermediate = name.replace(/(.)([A-Z][a-z0-9]+)/g, "$1_$2");
  return intermediate.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
}

const scopeCounts = new WeakMap<object, Map<string, number>>();

/**
 * TF's default-name uniquification of variable scopes: counted within the enclosing variable
 * scope entry (TF resets sub-scope counts when a scope is exited), per graph at the root, where
 * variables already named `<name>/...` also count.
 */
function uniqueScopeName(graph: Graph, prefix: string, base: string): string {
  const enclosing: object = graph.variableScopes[graph.variableScopes.length - 1] ?? graph;
  let counts = scopeCounts.get(enclosing);
  if (!counts) {
    counts = new Map();
    scopeCounts.set(enclosing, counts);
  }
  const taken = (name: string) => (counts!.get(name) ?? 0) > 0 || (enclosing === graph && hasVariablesUnder(graph, `${prefix}${name}/`));
  let name = base;
  for (let i = 1; taken(name); i++) name = `${base}_${i}`;
  counts.set(name, (counts.get(name) ?? 0) + 1);
  return name;
}

function hasVariablesUnder(graph: Graph, prefix: string): boolean {
  return graph.getCollection<Tensor>(GraphKeys.GLOBAL_VARIABLES).some((v) => v.op.name.startsWith(prefix));
}

export abstract class Layer {
  name: string;
  readonly trainable: boolean;
  readonly dtype: DType;
  readonly reuse: Reuse | undefined;
  readonly activityRegularizer: Regularizer | undefined;
  built = false;
  /** The collection new updates are added to after each call; null: none (Keras style). */
  protected updatesCollection: string | null = GraphKeys.UPDATE_OPS;
  private readonly weightList: Variable[] = [];
  private readonly updateList: Operation[] = [];
  private readonly lossList: Tensor[] = [];
  private scope: ScopeInfo | null = null;

  constructor(options: LayerOptions = {}) {
    this.name = options.name ?? toSnakeCase(new.target.name);
    this.trainable = options.trainable ?? true;
    this.dtype = options.dtype ?? "float32";
    this.reuse = options.reuse;
    this.activityRegularizer = options.activityRegularizer;
  }

  /** Creates the weights from the input's static shape; called once, inside the layer's scopes. */
  protected build(_inputShape: MaybeShape): void {}

  /** The layer's computation, inside its scopes. */
  protected abstract call(inputs: Tensor, options: ApplyOptions): Tensor;

  /** All the layer's variables, in creation order (TF's `weights` / `variables`). */
  get variables(): Variable[] {
    return [...this.weightList];
  }
  get weights(): Variable[] {
    return this.variables;
  }
  get trainableVariables(): Variable[] {
    return this.trainable ? this.weightList.filter((v) => v.trainable) : [];
  }
  get nonTrainableVariables(): Variable[] {
    return this.trainable ? this.weightList.filter((v) => !v.trainable) : [...this.weightList];
  }
  get updates(): Operation[] {
    return [...this.updateList];
  }
  get losses(): Tensor[] {
    return [...this.lossList];
  }
  /** The variable scope name ("dense_1"), once the layer has been applied. */
  get scopeName(): string | null {
    return this.scope?.variableScope.name ?? null;
  }

  /** Runs the layer on `inputs`: builds it on the first call, then calls it, inside its scopes. */
  apply(inputs: TensorLike, options: ApplyOptions = {}): Tensor {
    const graph = graphOf([inputs]);
    return graph.asDefault(() => {
      const x = convertToTensor(inputs, undefined, "inputs", graph);
      this.resolveScope(graph);
      return this.inScope(() => {
        if (!this.built) {
          this.build(x.shape);
          this.built = true;
        }
        const firstUpdate = this.updateList.length;
        const out = this.call(x, options);
        if (this.activityRegularizer) this.addActivityLoss(out, graph);
        if (this.updatesCollection) {
          const list = graph.getCollectionRef<Operation>(this.updatesCollection);
          for (const u of this.updateList.slice(firstUpdate)) if (!list.includes(u)) list.push(u);
        }
        return out;
      });
    });
  }

  /** A variable `<scope>/<name>` through tf.getVariable (reused when the scope reuses). */
  protected addWeight(name: string, shape: number[], options: AddWeightOptions = {}): Variable {
    const graph = this.scope!.graph;
    const before = graph.getCollection(GraphKeys.REGULARIZATION_LOSSES).length;
    const v = getVariable(name, shape, {
      dtype: options.dtype ?? this.dtype,
      initializer: options.initializer,
      regularizer: options.regularizer,
      constraint: options.constraint,
      trainable: (options.trainable ?? true) && this.trainable,
      collections: options.collections,
    });
    // getVariable adds the regularizer's loss only for a new variable, as TF's layers do.
    this.lossList.push(...graph.getCollection<Tensor>(GraphKeys.REGULARIZATION_LOSSES).slice(before));
    if (!this.weightList.includes(v)) this.weightList.push(v);
    return v;
  }

  /** Records update ops (assigns of moving statistics ...). */
  addUpdate(updates: Tensor | Operation | (Tensor | Operation)[]): void {
    for (const u of Array.isArray(updates) ? updates : [updates]) {
      const op = u instanceof Tensor ? u.op : u;
      if (!this.updateList.includes(op)) this.updateList.push(op);
    }
  }

  /** Records losses; they also go to REGULARIZATION_LOSSES, as TF1 layers' add_loss does. */
  addLoss(losses: Tensor | Tensor[]): void {
    for (const loss of Array.isArray(losses) ? losses : [losses]) {
      if (this.lossList.includes(loss)) continue;
      this.lossList.push(loss);
      const list = loss.graph.getCollectionRef<Tensor>(GraphKeys.REGULARIZATION_LOSSES);
      if (!list.includes(loss)) list.push(loss);
    }
  }

  /** Fixes the layer's variable scope and name scope on its first call. */
  private resolveScope(graph: Graph): void {
    if (this.scope) {
      if (this.scope.graph !== graph)
        throw invalidArgument({
          code: "foreign-graph",
          node: this.scope.variableScope.name,
          message: `layer \`${this.name}\` was built in another graph`,
          fix: "create a new layer object for each graph",
        });
      return;
    }
    const parent = currentVariableScope(graph);
    const prefix = parent.name ? `${parent.name}/` : "";
    const base = this.reuse ? this.name : uniqueScopeName(graph, prefix, this.name);
    const reuse: Reuse = parent.reuse === true ? true : this.reuse ?? parent.reuse;
    const nameScope = graph.nameScope(base, () => graph.nameScopeValue);
    this.name = base;
    this.scope = {
      graph,
      variableScope: { name: `${prefix}${base}`, reuse, initializer: parent.initializer, regularizer: parent.regularizer },
      nameScope,
    };
  }

  private inScope<T>(fn: () => T): T {
    const { graph, variableScope, nameScope } = this.scope!;
    graph.variableScopes.push({ ...variableScope, reuse: this.built ? true : variableScope.reuse } as VariableScopeState);
    try {
      return graph.nameScope(`${nameScope}/`, fn);
    } finally {
      graph.variableScopes.pop();
    }
  }

  /** TF 1.15 Keras: activity_regularizer(output) / batch size, under `ActivityRegularizer/`. */
  private addActivityLoss(out: Tensor, graph: Graph): void {
    const loss = graph.nameScope("ActivityRegularizer", () => {
      const raw = this.activityRegularizer!(out);
      if (!raw) return null;
      const batch = out.shape !== null && out.shape.length > 0 && out.shape[0] !== null
        ? out.shape[0]
        : cast(gather(shapeOp(out), 0, 0, "strided_slice"), "float32");
      return div(raw, batch, "truediv");
    });
    if (loss) this.addLoss(loss);
  }
}
