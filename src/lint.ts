/**
 * `tf.lint(graph, { trainOp })`: the mistakes TF1 lets a batch-norm model make silently, as
 * warning diagnostics.
 *
 *   update-ops-not-run          UPDATE_OPS holds moving-statistic updates that the train op does
 *                               not depend on (through data or control inputs, transitively): the
 *                               moving mean and variance never move, and inference normalizes
 *                               with their initial values.
 *   batch-norm-batch-of-one     a batch norm in training mode whose statistics cover one value
 *                               (statically known): the batch variance is 0.
 *   moving-statistics-initial   (freeze time, `checkMovingStatistics`) MOVING_AVERAGE_VARIABLES
 *                               still hold their initial values in the session.
 *
 * The session reports the first two at run time too (src/runtime/warnings.ts).
 */
import type { Diagnostic } from "../ir/diagnostics";
import { getDefaultGraph, Graph, Operation, Tensor } from "../ir/graph";
import type { NDArray } from "../ir/ndarray";
import { GraphKeys } from "./collections";
import type { Session } from "./session";
import type { Variable } from "./variables";

/** The op types TF1's optimizers build to update a variable. */
export const APPLY_OP_TYPES: ReadonlySet<string> = new Set([
  "ApplyGradientDescent", "ApplyMomentum", "ApplyAdam", "ApplyAdagrad", "ApplyAdagradDA", "ApplyAdadelta",
  "ApplyRMSProp", "ApplyCenteredRMSProp", "ApplyFtrl", "ApplyFtrlV2", "ApplyAdaMax", "ApplyPowerSign",
  "ApplyAddSign", "ApplyProximalGradientDescent", "ApplyProximalAdagrad",
  "ResourceApplyGradientDescent", "ResourceApplyMomentum", "ResourceApplyAdam",
]);

const FUSED_BATCH_NORM = new Set(["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"]);

const UPDATE_OPS_FIX =
  "build the train op under the update ops: tf.controlDependencies(tf.getCollection(tf.GraphKeys.UPDATE_OPS), () => optimizer.minimize(loss))";

export interface LintOptions {
  /** The train op (an operation, a tensor, or a name); default: TRAIN_OP, else every sink that updates trainable variables. */
  trainOp?: Operation | Tensor | string | readonly (Operation | Tensor | string)[];
}

/** Every operation `roots` depend on, through data and control inputs, transitively (roots included). */
export function ancestors(roots: Iterable<Operation>): Set<Operation> {
  const seen = new Set<Operation>();
  const stack = [...roots];
  while (stack.length) {
    const op = stack.pop()!;
    if (seen.has(op)) continue;
    seen.add(op);
    for (const t of op.inputs) stack.push(t.op);
    for (const c of op.controlInputs) stack.push(c);
  }
  return seen;
}

/** Whether `op` updates a trainable variable: an optimizer's Apply* op, or an assign to a trainable variable. */
export function isTrainingUpdate(op: Operation, trainable: ReadonlySet<Operation>): boolean {
  if (APPLY_OP_TYPES.has(op.type)) return true;
  if (op.type === "AssignSub" || op.type === "AssignAdd") return trainable.has(op.inputs[0]?.op);
  return false;
}

/** The VariableV2 ops of the graph's trainable variables. */
export function trainableVariableOps(graph: Graph): Set<Operation> {
  return new Set(graph.getCollection<Tensor>(GraphKeys.TRAINABLE_VARIABLES).filter((v) => v instanceof Tensor).map((v) => v.op));
}

/** The operations of UPDATE_OPS (its items are tensors or operations). */
export function updateOperations(graph: Graph): Operation[] {
  const ops: Operation[] = [];
  for (const item of graph.getCollection<unknown>(GraphKeys.UPDATE_OPS)) {
    const op = item instanceof Tensor ? item.op : item instanceof Operation ? item : null;
    if (op && op.graph === graph && !ops.includes(op)) ops.push(op);
  }
  return ops;
}

/** The warning for a train op that leaves `missing` update ops out. */
export function updateOpsDiagnostic(trainOp: string, missing: readonly Operation[], total: number): Diagnostic {
  const names = missing.map((op) => `\`${op.name}\``).join(", ");
  return {
    code: "update-ops-not-run",
    severity: "warning",
    node: trainOp,
    message:
      `the train op does not run ${missing.length} of the ${total} op(s) in UPDATE_OPS (${names}): ` +
      "the batch-norm moving mean and variance never change, so inference (training false) normalizes with their initial values",
    expected: "a train op that depends on every op in tf.GraphKeys.UPDATE_OPS",
    received: `a train op independent of ${names}`,
    fix: UPDATE_OPS_FIX,
  };
}

/** The update ops that `dependencies` (a train op's ancestors, or a run's plan) leave out. */
export function missingUpdates(graph: Graph, dependencies: ReadonlySet<Operation>): { missing: Operation[]; total: number } {
  const updates = updateOperations(graph);
  return { missing: updates.filter((op) => !dependencies.has(op)), total: updates.length };
}

/**
 * The batch-statistic ops of training-mode batch norms: the `moments/variance` Mean of the
 * non-fused forms (nn.moments, as tf.layers / contrib batch norm build it) and FusedBatchNorm
 * ops with is_training.
 */
export function isBatchStatistic(op: Operation): boolean {
  if (FUSED_BATCH_NORM.has(op.type)) return op.attrs.is_training === true;
  return op.type === "Mean" && /(^|\/)moments\/variance$/.test(op.name);
}

/** How many values one batch statistic of `op` averages over, given its input's shape and (for Mean) its axes. */
export function statisticCount(op: Operation, shape: readonly (number | null)[], axes?: ArrayLike<number>): number | null {
  if (FUSED_BATCH_NORM.has(op.type)) {
    const channel = op.attrs.data_format === "NCHW" ? 1 : shape.length - 1;
    return product(shape.filter((_, i) => i !== channel));
  }
  if (!axes) return null;
  const dims = Array.from(axes, (a) => shape[a < 0 ? a + shape.length : a]);
  return product(dims);
}

function product(dims: readonly (number | null | undefined)[]): number | null {
  let n = 1;
  for (const d of dims) {
    if (d === null || d === undefined) return null;
    n *= d;
  }
  return n;
}

/** The warning for a training-mode batch norm whose batch has one value per channel. */
export function batchOfOneDiagnostic(nodes: readonly string[], atRunTime: boolean): Diagnostic {
  return {
    code: "batch-norm-batch-of-one",
    severity: "warning",
    node: nodes[0],
    message:
      `batch norm in training mode ${atRunTime ? "was fed" : "gets"} a batch of 1 (${nodes.map((n) => `\`${n}\``).join(", ")}): ` +
      "the batch variance is 0, the normalized output is beta, and the moving statistics learn nothing useful",
    expected: "a training batch of 2 or more values per channel",
    received: "1 value per channel",
    fix: "train with batches of several examples, or run the batch norm in inference mode (training: false) for single examples",
  };
}

function resolveTrainOps(graph: Graph, trainOp: LintOptions["trainOp"]): Operation[] {
  if (trainOp !== undefined) {
    const list = Array.isArray(trainOp) ? trainOp : [trainOp];
    return list.map((t) => (typeof t === "string" ? resolveName(graph, t) : t instanceof Tensor ? t.op : (t as Operation)));
  }
  const collected = graph.getCollection<unknown>(GraphKeys.TRAIN_OP).map((t) => (t instanceof Tensor ? t.op : t)).filter((t): t is Operation => t instanceof Operation);
  if (collected.length) return collected;
  // Every sink (no data consumer, no control dependent) that updates trainable variables.
  const used = new Set<Operation>();
  for (const op of graph.operations) {
    for (const t of op.inputs) used.add(t.op);
    for (const c of op.controlInputs) used.add(c);
  }
  const trainable = trainableVariableOps(graph);
  return graph.operations.filter((op) => !used.has(op) && [...ancestors([op])].some((a) => isTrainingUpdate(a, trainable)));
}

function resolveName(graph: Graph, name: string): Operation {
  if (name.includes(":")) return graph.getTensorByName(name).op;
  return graph.getOperationByName(name);
}

/** `tf.lint(graph?, { trainOp })`: warning diagnostics; an empty list when the graph is fine. */
export function lint(graphOrOptions?: Graph | LintOptions, maybeOptions: LintOptions = {}): Diagnostic[] {
  const graph = graphOrOptions instanceof Graph ? graphOrOptions : getDefaultGraph();
  const options = graphOrOptions instanceof Graph || graphOrOptions === undefined ? maybeOptions : graphOrOptions;
  const diagnostics: Diagnostic[] = [];
  const trainOps = resolveTrainOps(graph, options.trainOp);
  for (const trainOp of trainOps) {
    const { missing, total } = missingUpdates(graph, ancestors([trainOp]));
    if (missing.length) diagnostics.push(updateOpsDiagnostic(trainOp.name, missing, total));
  }
  const scope = trainOps.length ? ancestors(trainOps) : new Set(graph.operations);
  const single = graph.operations.filter((op) => scope.has(op) && isBatchStatistic(op) && staticCount(op) === 1);
  if (single.length) diagnostics.push(batchOfOneDiagnostic(single.map((op) => op.name), false));
  return diagnostics;
}

function staticCount(op: Operation): number | null {
  const shape = op.inputs[0]?.shape;
  if (!shape) return null;
  const axesInput = op.inputs[1];
  const axes = axesInput && axesInput.op.type === "Const" ? (axesInput.op.attrs.value as NDArray).data : undefined;
  return statisticCount(op, shape, axes);
}

/** The conventional initial value of a moving statistic, from its name, when its initializer cannot be evaluated. */
function conventionalInitial(name: string): number | null {
  if (/moving_mean$|renorm_mean$/.test(name)) return 0;
  if (/moving_variance$|renorm_stddev$/.test(name)) return 1;
  return null;
}

/**
 * Freeze-time check: MOVING_AVERAGE_VARIABLES whose value in `sess` still equals their
 * initial value (zeros for moving_mean, ones for moving_variance): the update ops never ran,
 * and a frozen inference graph would normalize with them.
 */
export function checkMovingStatistics(sess: Session, graph: Graph = sess.graph): Diagnostic[] {
  const stale: string[] = [];
  for (const v of graph.getCollection<Variable>(GraphKeys.MOVING_AVERAGE_VARIABLES)) {
    if (!(v instanceof Tensor)) continue;
    const current = sess.variableValues.get(v.op.name);
    if (!current) continue; // uninitialized: freezing reports it
    const initial = initialValue(sess, v);
    if (initial !== null && sameValues(current, initial)) stale.push(v.op.name);
  }
  if (!stale.length) return [];
  return [
    {
      code: "moving-statistics-initial",
      severity: "warning",
      node: stale[0],
      message:
        `the moving statistics ${stale.map((n) => `\`${n}\``).join(", ")} still hold their initial values: ` +
        "the batch-norm update ops never ran, and the frozen graph will normalize with mean 0 and variance 1",
      expected: "moving statistics updated by training",
      received: "their initial values",
      fix: `train with the update ops: ${UPDATE_OPS_FIX}`,
    },
  ];
}

function initialValue(sess: Session, v: Variable): NDArray | number | null {
  const init = v.initialValue;
  if (init instanceof Tensor) {
    if (init.op.type === "Const") return init.op.attrs.value as NDArray;
    const stateless = [...ancestors([init.op])].every((op) => !op.type.startsWith("Random") && op.type !== "TruncatedNormal" && !op.type.startsWith("Placeholder") && op.type !== "VariableV2");
    if (stateless) {
      try {
        return sess.runSync(init);
      } catch {
        // fall back to the conventional value below
      }
    }
  }
  return conventionalInitial(v.op.name);
}

function sameValues(current: NDArray, initial: NDArray | number): boolean {
  if (typeof initial === "number") return current.data.every((x) => x === initial);
  if (initial.size !== current.size) return false;
  for (let i = 0; i < current.size; i++) if (current.data[i] !== initial.data[i]) return false;
  return true;
}
