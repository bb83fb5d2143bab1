/**
 * What passes share: naming the outputs a pass must keep (by name, tensor or operation, so
 * that the same list works on every graph of a pipeline), and the op predicates that decide
 * what a pass may touch.
 */
import { notFound, suggestion } from "../ir/diagnostics";
import { Operation, Tensor, type Graph } from "../ir/graph";
import { getOpDef } from "../ir/registry";

/** An output to keep: `"logits"`, `"logits:0"`, a tensor, or an operation (a train op ...). */
export type OutputSpec = string | Tensor | Operation;

/** The names of `outputs`: `op:index` for tensors, the op name for operations and bare names. */
export function outputNames(outputs: readonly OutputSpec[]): string[] {
  return outputs.map((o) => (o instanceof Tensor ? o.name : o instanceof Operation ? o.name : o));
}

/** The op name of one output name (`"dense/BiasAdd:0"` → `"dense/BiasAdd"`). */
export function opNameOf(name: string): string {
  const m = /^(.*):(\d+)$/.exec(name);
  return m ? m[1] : name;
}

/** The names of the operations that produce `outputs`: passes keep these names. */
export function protectedNames(outputs: readonly OutputSpec[] | undefined): Set<string> {
  return new Set(outputNames(outputs ?? []).map(opNameOf));
}

/**
 * The operations of `graph` that `outputs` name; throws NotFoundError (with a "did you
 * mean") for a name the graph does not have, or an output index the op does not have.
 */
export function resolveOutputs(graph: Graph, outputs: readonly OutputSpec[]): Operation[] {
  return outputNames(outputs).map((name) => {
    const opName = opNameOf(name);
    if (!graph.hasOperation(opName))
      throw notFound({
        code: "unknown-output",
        node: name,
        message: `output \`${name}\` is not in the graph`,
        expected: "the name of an operation or tensor of the graph",
        received: name,
        fix: suggestion(opName, graph.operations.map((o) => o.name), "operation name"),
      });
    return opName === name ? graph.getOperationByName(name) : graph.getTensorByName(name).op;
  });
}

/** Ops with state or side effects (variables, assigns, random generators). */
export function isStateful(op: Operation): boolean {
  const def = getOpDef(op.type, op.name);
  return def.stateful === true || (def.refInputs?.length ?? 0) > 0;
}

/** Whether input `index` of `op` takes a variable by reference (an assign's target). */
export function isRefInput(op: Operation, index: number): boolean {
  return getOpDef(op.type, op.name).refInputs?.includes(index) ?? false;
}

/**
 * An initializer: an Assign whose value depends (through data and control inputs) on no
 * variable and no placeholder, like the `<variable>/Assign` that `tf.getVariable` builds.
 */
export function isInitializer(op: Operation): boolean {
  if (op.type !== "Assign") return false;
  for (const dep of neededOps([op.inputs[1].op, ...op.controlInputs]))
    if (dep.type === "VariableV2" || isFeedPoint(dep)) return false;
  return true;
}

/** Ops that update a variable through a ref input (Assign, AssignAdd, ApplyGradientDescent ...). */
export function isUpdate(op: Operation): boolean {
  const def = getOpDef(op.type, op.name);
  return def.stateful === true && (def.refInputs?.length ?? 0) > 0;
}

const RANDOM = /^(Random|TruncatedNormal|Multinomial|ParameterizedTruncatedNormal|StatelessRandom)/;

/** Random number generators: a new sample on every run, never a constant. */
export function isRandom(op: Operation): boolean {
  return RANDOM.test(op.type);
}

/** Where values enter the graph at run time: never folded, never merged. */
export function isFeedPoint(op: Operation): boolean {
  return op.type === "Placeholder" || op.type === "PlaceholderWithDefault";
}

/** Every operation that `roots` need, through data inputs (ref inputs included) and control inputs. */
export function neededOps(roots: readonly Operation[]): Set<Operation> {
  const needed = new Set<Operation>();
  const stack = [...roots];
  while (stack.length) {
    const op = stack.pop()!;
    if (needed.has(op)) continue;
    needed.add(op);
    for (const t of op.inputs) stack.push(t.op);
    for (const c of op.controlInputs) stack.push(c);
  }
  return needed;
}

/** For each op, the ops that take it as a control input. */
export function controlConsumers(graph: Graph): Map<Operation, Operation[]> {
  const map = new Map<Operation, Operation[]>();
  for (const op of graph.operations)
    for (const c of op.controlInputs) {
      const list = map.get(c);
      if (list) list.push(op);
      else map.set(c, [op]);
    }
  return map;
}
