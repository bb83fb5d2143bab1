/**
 * `tf.train.Optimizer`, TF1's base class: computeGradients / applyGradients / minimize, slot
 * variables and the graph TF1 builds for them:
 *
 *   <name>/learning_rate ...                 hyper-parameters (prepare)
 *   <name>/update_<var>/Apply...             one update per variable with a gradient
 *   <name>/update  (NoOp)                    the group of updates (finish), when there is a global step
 *   <name>         (AssignAdd global_step)   the returned op; without a global step, the group itself
 *
 * Slot variables ("<var>/Momentum", "<var>/Adam" ...) are created non-trainable in
 * GLOBAL_VARIABLES, outside any control-dependency block. A variable's constraint is applied
 * after its update: assign(var, constraint(var)) under controlDependencies([update]).
 */
import { isFloat } from "../../ir/dtype";
import { invalidArgument } from "../../ir/diagnostics";
import { Operation, Tensor, type Graph } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import { isFullyDefined } from "../../ir/shape";
import { constantOp } from "../../ir/ops/build";
import { group } from "../../ir/ops/control";
import { assign } from "../../ir/ops/state";
import { gradients } from "../../passes/gradients";
import { GraphKeys } from "../collections";
import { Variable } from "../variables";

/** A hyper-parameter: a number, a float32 scalar tensor, or a function returning either. */
export type Hyperparameter = number | Tensor | (() => number | Tensor);

/** One (gradient, variable) pair; the gradient is `null` where the loss does not depend on the variable. */
export type GradAndVar = [Tensor | null, Variable];

export interface ComputeGradientsOptions {
  /** The variables to differentiate; default: the graph's TRAINABLE_VARIABLES. */
  varList?: Variable[];
  /** The gradient of the loss itself (TF's grad_loss). */
  gradLoss?: Tensor;
}

export interface ApplyGradientsOptions {
  /** Incremented by one after the updates have run. */
  globalStep?: Variable | null;
  /** The name of the returned op (and of the name scope its parts are built in); default: the optimizer's name. */
  name?: string;
}

export type MinimizeOptions = ComputeGradientsOptions & ApplyGradientsOptions;

function describe(v: unknown): string {
  if (v instanceof Tensor) return `${v.op.type} \`${v.name}\``;
  return v === null ? "null" : typeof v;
}

export abstract class Optimizer {
  readonly name: string;
  readonly useLocking: boolean;
  private readonly slots = new Map<string, Map<Variable, Variable>>();
  private readonly nonSlot = new WeakMap<Graph, Map<string, Variable>>();
  private readonly created: Variable[] = [];

  constructor(useLocking: boolean, name: string) {
    if (!name)
      throw invalidArgument({ code: "optimizer-name", message: "an optimizer needs a non-empty name", fix: "pass { name: \"...\" } or leave it out" });
    this.useLocking = useLocking;
    this.name = name;
  }

  /** Builds the hyper-parameter tensors inside the optimizer's name scope (TF's _prepare). */
  protected prepare(_graph: Graph): void {}
  /** Creates the slot variables of `vars` (TF's _create_slots). */
  protected createSlots(_vars: Variable[]): void {}
  /** The update of one variable (TF's _apply_dense). */
  protected abstract applyDense(grad: Tensor, variable: Variable): Tensor | Operation;

  /** Groups the updates (TF's _finish); `name` ending in "/" is the exact op name. */
  protected finish(updateOps: Operation[], name: string): Operation {
    return namedGroup(updateOps, name);
  }

  /** `[grad, var]` pairs; grads are `null` for variables the loss does not depend on. */
  computeGradients(loss: Tensor, options: ComputeGradientsOptions = {}): GradAndVar[] {
    if (!(loss instanceof Tensor))
      throw invalidArgument({
        code: "bad-loss",
        message: `${this.name}: the loss must be a tensor`,
        received: describe(loss),
        fix: "pass the scalar loss tensor",
      });
    if (!isFloat(loss.dtype))
      throw invalidArgument({
        code: "bad-loss",
        node: loss.name,
        message: `invalid type ${loss.dtype} for loss \`${loss.name}\``,
        expected: "float32",
        received: loss.dtype,
        fix: `compute the loss in float32 (tf.cast(${loss.op.name}, "float32") is not differentiable: cast its inputs)`,
      });
    const graph = loss.graph;
    const varList = options.varList ?? graph.getCollection<Variable>(GraphKeys.TRAINABLE_VARIABLES);
    if (varList.length === 0)
      throw invalidArgument({
        code: "no-variables",
        node: loss.name,
        message: "no variables to optimize",
        expected: "at least one trainable variable",
        received: options.varList ? "an empty varList" : "an empty TRAINABLE_VARIABLES collection",
        fix: "create trainable variables that the loss depends on, or pass them in { varList }",
      });
    varList.forEach((v) => this.checkVariable(v, graph, "varList"));
    if (options.gradLoss && !isFloat(options.gradLoss.dtype))
      throw invalidArgument({ code: "bad-dtype", node: options.gradLoss.name, message: "gradLoss must be float32", expected: "float32", received: options.gradLoss.dtype });
    const grads = graph.asDefault(() => gradients(loss, varList, options.gradLoss ?? null));
    return varList.map((v, i) => [grads[i], v]);
  }

  /** Applies the gradients; returns the train op. `null` gradients are skipped. */
  applyGradients(gradsAndVars: readonly GradAndVar[], options: ApplyGradientsOptions = {}): Operation {
    const pairs = [...gradsAndVars];
    if (pairs.length === 0)
      throw invalidArgument({ code: "no-variables", message: "applyGradients: no variables provided", expected: "[grad, var] pairs", received: "an empty list", fix: "pass the result of computeGradients" });
    const graph = pairs[0][1] instanceof Tensor ? pairs[0][1].graph : null;
    for (const [g, v] of pairs) {
      this.checkVariable(v, graph, "gradsAndVars");
      if (g === null || g === undefined) continue;
      if (!(g instanceof Tensor) || g.graph !== graph || !isFloat(g.dtype))
        throw invalidArgument({
          code: "bad-gradient",
          node: v.op.name,
          message: `the gradient for \`${v.op.name}\` is not a float32 tensor of its graph`,
          expected: "a float32 tensor or null",
          received: describe(g),
          fix: "pass the gradients computeGradients returned (or tensors of the variable's shape built in its graph)",
        });
    }
    const withGrad = pairs.filter(([g]) => g !== null && g !== undefined) as [Tensor, Variable][];
    if (withGrad.length === 0)
      throw invalidArgument({
        code: "no-gradients",
        message: `no gradients provided for any variable: ${pairs.map(([, v]) => `\`${v.op.name}\``).join(", ")}`,
        expected: "at least one non-null gradient",
        received: "only null gradients",
        fix: "check that the loss depends on the variables through differentiable ops",
      });
    const globalStep = options.globalStep ?? null;
    if (globalStep !== null) this.checkGlobalStep(globalStep, graph!);
    const g = graph!;
    return g.asDefault(() => {
      this.createSlots(withGrad.map(([, v]) => v));
      return g.nameScope(options.name ?? this.name, () => {
        const scope = g.nameScopeValue;
        this.prepare(g);
        const updates = withGrad.map(([grad, v]) => g.nameScope(`update_${v.op.name}`, () => this.updateOp(grad, v)));
        let train: Operation;
        if (globalStep === null) train = this.finish(updates, `${scope}/`);
        else {
          const finished = this.finish(updates, "update");
          train = g.controlDependencies([finished], () => {
            const one = constantOp(new NDArray(globalStep.dtype, [], globalStep.dtype === "int32" ? Int32Array.of(1) : Float32Array.of(1)), "value", g);
            return g.addOp({ type: "AssignAdd", inputs: [globalStep, one], name: scope, absoluteName: true });
          });
        }
        const trainOps = g.getCollectionRef<Operation>(GraphKeys.TRAIN_OP);
        if (!trainOps.includes(train)) trainOps.push(train);
        return train;
      });
    });
  }

  /** computeGradients + applyGradients; fails when no variable gets a gradient. */
  minimize(loss: Tensor, options: MinimizeOptions = {}): Operation {
    const pairs = this.computeGradients(loss, options);
    if (pairs.every(([g]) => g === null))
      throw invalidArgument({
        code: "no-gradients",
        node: loss.name,
        message: `no gradients provided for any variable between variables ${pairs.map(([, v]) => `\`${v.op.name}\``).join(", ")} and loss \`${loss.name}\``,
        expected: "a loss that depends on at least one of the variables",
        received: "no path from any variable to the loss",
        fix: "check the varList, and that the loss is built from the variables through differentiable ops",
      });
    return this.applyGradients(pairs, { globalStep: options.globalStep, name: options.name });
  }

  /** The update op of one variable, followed by its constraint when it has one. */
  private updateOp(grad: Tensor, variable: Variable): Operation {
    const update = this.applyDense(grad, variable);
    const op = update instanceof Tensor ? update.op : update;
    const constraint = variable.constraint;
    if (!constraint) return op;
    return variable.graph.controlDependencies([op], () => assign(variable, constraint(variable)).op);
  }

  /** The slot `name` ("momentum", "m", "v" ...) of `variable`, or null. */
  getSlot(variable: Variable, name: string): Variable | null {
    return this.slots.get(name)?.get(variable) ?? null;
  }

  getSlotNames(): string[] {
    return [...this.slots.keys()].sort();
  }

  /** The optimizer's own variables (slots, and non-slot ones such as Adam's beta1_power), in creation order. */
  variables(): Variable[] {
    return [...this.created];
  }

  /** A zero-initialized slot named `<var>/<opName>` (uniquified), non-trainable, in GLOBAL_VARIABLES. */
  protected zerosSlot(variable: Variable, slotName: string, opName: string): Variable {
    let bySlot = this.slots.get(slotName);
    if (!bySlot) {
      bySlot = new Map();
      this.slots.set(slotName, bySlot);
    }
    const existing = bySlot.get(variable);
    if (existing) return existing;
    const graph = variable.graph;
    const shape = variable.shape;
    const slot = graph.nameScope("", () =>
      new Variable(
        () =>
          isFullyDefined(shape)
            ? constantOp(new NDArray("float32", shape, new Float32Array(shape.reduce((a, b) => a * b, 1))), "zeros", graph)
            : graph.addOp({ type: "ZerosLike", name: "zeros", inputs: [variable.initialValue] }).outputs[0],
        { name: `${variable.op.name}/${opName}`, trainable: false, dtype: variable.dtype, validateShape: isFullyDefined(shape) },
      ),
    );
    bySlot.set(variable, slot);
    this.created.push(slot);
    return slot;
  }

  /** A per-graph variable of the optimizer that is not a slot (Adam's beta1_power ...). */
  protected nonSlotVariable(graph: Graph, name: string, initial: number): Variable {
    let byName = this.nonSlot.get(graph);
    if (!byName) {
      byName = new Map();
      this.nonSlot.set(graph, byName);
    }
    let v = byName.get(name);
    if (!v) {
      v = graph.asDefault(() => new Variable(() => constantOp(new NDArray("float32", [], Float32Array.of(initial)), "initial_value", graph), { name, trainable: false }));
      byName.set(name, v);
      this.created.push(v);
    }
    return v;
  }

  protected getNonSlotVariable(graph: Graph, name: string): Variable | undefined {
    return this.nonSlot.get(graph)?.get(name);
  }

  /** A hyper-parameter as a float32 scalar tensor named `name` (TF's convert_to_tensor in _prepare). */
  protected hyperTensor(value: Hyperparameter, name: string, graph: Graph): Tensor {
    const v = typeof value === "function" ? value() : value;
    if (v instanceof Tensor) {
      if (!isFloat(v.dtype) || (v.shape !== null && v.shape.length !== 0) || v.graph !== graph)
        throw invalidArgument({
          code: "bad-hyperparameter",
          node: v.name,
          message: `${this.name}: hyper-parameter ${name} must be a float32 scalar of the variables' graph`,
          expected: "a float32 scalar tensor",
          received: `${v.dtype} ${JSON.stringify(v.shape)}`,
          fix: `pass a number or a float32 scalar for ${name}`,
        });
      return v;
    }
    if (typeof v !== "number" || !Number.isFinite(v))
      throw invalidArgument({ code: "bad-hyperparameter", message: `${this.name}: hyper-parameter ${name} must be a finite number`, received: String(v), fix: `pass a number for ${name}` });
    return constantOp(new NDArray("float32", [], Float32Array.of(v)), name, graph);
  }

  private checkVariable(v: unknown, graph: Graph | null, where: string): asserts v is Variable {
    if (!(v instanceof Variable) || v.op.type !== "VariableV2")
      throw invalidArgument({
        code: "not-a-variable",
        node: v instanceof Tensor ? v.name : undefined,
        message: `${this.name}: every entry of ${where} must be a variable; ${describe(v)} is not`,
        expected: "a tf.Variable (VariableV2)",
        received: describe(v),
        fix: "optimize variables created with tf.getVariable or new tf.Variable",
      });
    if (graph && v.graph !== graph)
      throw invalidArgument({
        code: "foreign-graph",
        node: v.op.name,
        message: `variable \`${v.op.name}\` is not in the graph of the loss`,
        expected: "variables of the loss's graph",
        received: `a variable of another graph`,
        fix: "build the loss and the variables inside the same graph.asDefault(...) block",
      });
    if (!isFloat(v.dtype))
      throw invalidArgument({
        code: "bad-dtype",
        node: v.op.name,
        message: `variable \`${v.op.name}\` has dtype ${v.dtype}; optimizers update float32 variables`,
        expected: "float32",
        received: v.dtype,
        fix: "leave it out of varList (or create it with trainable: false)",
      });
  }

  private checkGlobalStep(step: Variable, graph: Graph): void {
    if (!(step instanceof Variable) || step.graph !== graph || step.dtype === "bool" || (step.shape !== null && step.shape.length !== 0))
      throw invalidArgument({
        code: "bad-global-step",
        node: step instanceof Tensor ? step.name : undefined,
        message: "globalStep must be a scalar int32 (or float32) variable of the variables' graph",
        expected: "tf.train.getOrCreateGlobalStep()",
        received: describe(step),
        fix: "pass tf.train.getOrCreateGlobalStep()",
      });
  }
}

/** A NoOp over `ops`: `name` ending in "/" is used exactly, anything else uniquified in the current scope. */
export function namedGroup(ops: Operation[], name: string): Operation {
  if (!name.endsWith("/")) return group(ops, name);
  const graph = ops.length ? ops[0].graph : null;
  if (!graph) throw invalidArgument({ code: "empty-group", message: "nothing to group", fix: "pass at least one update" });
  return graph.addOp({ type: "NoOp", name: name.slice(0, -1), absoluteName: true, controlInputs: ops });
}
