/**
 * Specialize for inference: fix placeholders to constants, resolve the `tf.cond`s whose
 * predicate is then constant (the untaken branch is deleted, Merges forward their live
 * input), drop the variable updates, then remove what nothing uses any more.
 *
 *   before:  phase ──► Switch(x) ─:1─► batch stats ──┐                  moving/AssignSub
 *                          └────:0─► moving stats ──Merge "bn/Merge" ──► y        ▲ ctrl
 *   after:   x ──► moving stats ──Identity "bn/Merge" ──► y        (feeds: { phase: false })
 *
 * Placeholders are fixed by `feeds` (a value, or "default" for a PlaceholderWithDefault whose
 * default is a Const), by `useDefaults` (every such PlaceholderWithDefault), or by `training`
 * (every scalar bool placeholder that a cond switches on, e.g. the `phase` of the MNIST
 * example). A Switch whose predicate is a Const forwards its data on the live side; every op
 * downstream of the dead side (data or control) is deleted; a Merge left with one live input
 * becomes an Identity of the same name. With `dropUpdates` (default unless `training: true`),
 * ops that update variables (Assign, AssignSub, ApplyGradientDescent ...) are deleted, and the
 * control edges onto them bypass them; initializers (an Assign of a value that depends on no
 * variable and no placeholder) stay, and an update whose value is read as data is kept, with a
 * warning. Finally DCE to `outputs` when given; else only the ops that lost every consumer
 * to this pass (and are not stateful) are removed.
 */
import { invalidArgument, notFound, suggestion, type Diagnostic } from "../ir/diagnostics";
import type { Graph, Operation, Tensor } from "../ir/graph";
import { NDArray } from "../ir/ndarray";
import { rewriteGraph, type RewriteAction, type RewriteContext } from "../ir/rewrite";
import { toFeedArray, type FeedValue } from "../src/runtime/feeds";
import { dce } from "./dce";
import type { Pass } from "./pass";
import { isInitializer, isStateful, isUpdate, opNameOf, outputNames, protectedNames, type OutputSpec } from "./outputs";

export interface SpecializeOptions {
  /** Placeholders fixed to a value, or to their constant default with `"default"`. */
  feeds?: Readonly<Record<string, FeedValue | "default">>;
  /** The value of every scalar bool placeholder that a cond switches on (the training flag). */
  training?: boolean;
  /** Every PlaceholderWithDefault whose default is a Const takes its default. */
  useDefaults?: boolean;
  /** Delete the ops that update variables, initializers excepted (default: true unless `training` is true). */
  dropUpdates?: boolean;
  /** When given, DCE to these outputs at the end; their names are kept. */
  outputs?: readonly OutputSpec[];
}

export const specialize: Pass<SpecializeOptions> = (graph: Graph, options: SpecializeOptions = {}) => {
  const diagnostics: Diagnostic[] = [];
  const fixed = fixedPlaceholders(graph, options, diagnostics);
  const keep = protectedNames(options.outputs);
  const resolved = resolveConds(graph, fixed, keep, diagnostics);
  let current = resolved.graph;
  let changed = resolved.changed;
  if (options.dropUpdates ?? options.training !== true) {
    const dropped = dropUpdates(current, keep, diagnostics);
    current = dropped.graph;
    changed ||= dropped.changed;
  }
  if (options.outputs) {
    // Outputs inside a deleted branch are gone (with a warning); DCE keeps the others.
    const surviving = current;
    const outputs = outputNames(options.outputs).filter((n) => surviving.hasOperation(opNameOf(n)));
    const cleaned = dce(current, { outputs });
    return { graph: cleaned.graph, changed: changed || cleaned.changed, diagnostics: [...diagnostics, ...cleaned.diagnostics] };
  }
  if (!changed) return { graph, changed: false, diagnostics };
  return { graph: removeOrphans(graph, current), changed: true, diagnostics };
};

/** The placeholders that the options fix, with their values. */
function fixedPlaceholders(graph: Graph, options: SpecializeOptions, diagnostics: Diagnostic[]): Map<string, NDArray> {
  const fixed = new Map<string, NDArray>();
  const note = (op: Operation, why: string) =>
    diagnostics.push({ code: "placeholder-fixed", node: op.name, message: `placeholder \`${op.name}\` was replaced by a constant (${why})` });
  for (const [name, value] of Object.entries(options.feeds ?? {})) {
    const op = placeholderNamed(graph, name);
    if (value === "default") {
      fixed.set(op.name, constantDefault(op, true)!);
      note(op, "its default");
    } else {
      fixed.set(op.name, toFeedArray(op.outputs[0], value));
      note(op, "feeds");
    }
  }
  if (options.training !== undefined) {
    const value = new NDArray("bool", [], new Uint8Array([options.training ? 1 : 0]));
    for (const op of graph.operations) {
      if (op.type !== "Switch") continue;
      const source = predicateSource(op.inputs[1]);
      if (!source || fixed.has(source.name)) continue;
      const shape = source.outputs[0].shape;
      if (shape !== null && shape.length !== 0) continue;
      fixed.set(source.name, value);
      note(source, `training: ${options.training}`);
    }
  }
  if (options.useDefaults)
    for (const op of graph.operations) {
      if (op.type !== "PlaceholderWithDefault" || fixed.has(op.name)) continue;
      const v = constantDefault(op, false);
      if (v) {
        fixed.set(op.name, v);
        note(op, "useDefaults");
      }
    }
  return fixed;
}

function placeholderNamed(graph: Graph, name: string): Operation {
  const opName = name.replace(/:0$/, "");
  if (!graph.hasOperation(opName))
    throw notFound({
      code: "unknown-placeholder",
      node: name,
      message: `feeds names \`${name}\`, which is not in the graph`,
      fix: suggestion(opName, graph.operations.filter((o) => o.type.startsWith("Placeholder")).map((o) => o.name), "placeholder name"),
    });
  const op = graph.getOperationByName(opName);
  if (op.type !== "Placeholder" && op.type !== "PlaceholderWithDefault")
    throw invalidArgument({
      code: "not-a-placeholder",
      node: op.name,
      message: `feeds names \`${op.name}\`, which is a ${op.type}, not a placeholder`,
      expected: "Placeholder or PlaceholderWithDefault",
      received: op.type,
      fix: "fix placeholders only; constant folding takes care of the rest",
    });
  return op;
}

/** The Const default of a PlaceholderWithDefault; throws (when `required`) if there is none. */
function constantDefault(op: Operation, required: boolean): NDArray | undefined {
  const input = op.type === "PlaceholderWithDefault" ? op.inputs[0].op : undefined;
  if (input?.type === "Const") return input.attrs.value as NDArray;
  if (!required) return undefined;
  throw invalidArgument({
    code: "no-constant-default",
    node: op.name,
    message: `placeholder \`${op.name}\` has no constant default`,
    expected: "a PlaceholderWithDefault whose input is a Const",
    received: input ? `a ${op.type} whose default comes from ${input.type} \`${input.name}\`` : `a ${op.type}`,
    fix: `give \`${op.name}\` a value in feeds instead of "default"`,
  });
}

/** The bool placeholder a predicate comes from, through Identity and the Switches of nested conds. */
function predicateSource(pred: Tensor): Operation | undefined {
  let t = pred;
  for (;;) {
    const op = t.op;
    if (op.type === "Identity" || op.type === "Switch") t = op.inputs[0];
    else return (op.type === "Placeholder" || op.type === "PlaceholderWithDefault") && t.dtype === "bool" ? op : undefined;
  }
}

/** Replaces fixed placeholders by Consts and deletes the dead side of every Switch on a Const. */
function resolveConds(graph: Graph, fixed: Map<string, NDArray>, keep: Set<string>, diagnostics: Diagnostic[]): { graph: Graph; changed: boolean } {
  const dead = new Set<Tensor>();
  const deadOps = new Set<Operation>();
  let changed = false;
  const kill = (op: Operation): RewriteAction => {
    deadOps.add(op);
    for (const t of op.outputs) dead.add(t);
    if (keep.has(op.name))
      diagnostics.push({
        code: "dead-output",
        severity: "warning",
        node: op.name,
        message: `requested output \`${op.name}\` lies in a branch that is never taken once the predicate is constant; it was removed`,
        fix: "request the cond's result (its Merge) instead",
      });
    changed = true;
    return "drop";
  };
  const result = rewriteGraph(graph, (op, ctx) => {
    const value = fixed.get(op.name);
    if (value) {
      changed = true;
      return [constant(ctx, op.name, value, ctx.controlInputs(op))];
    }
    const controlDead = op.controlInputs.some((c) => deadOps.has(c));
    if (op.type === "Merge") {
      const live = op.inputs.map((t, i) => (dead.has(t) ? -1 : i)).filter((i) => i >= 0);
      if (controlDead || live.length === 0) return kill(op);
      if (live.length === op.inputs.length) return undefined;
      changed = true;
      return resolveMerge(op, live, ctx, diagnostics);
    }
    if (controlDead || op.inputs.some((t) => dead.has(t))) return kill(op);
    if (op.type === "Switch") {
      const pred = ctx.tensor(op.inputs[1]);
      if (pred.op.type !== "Const") return undefined;
      const taken = (pred.op.attrs.value as NDArray).data[0] !== 0 ? 1 : 0;
      dead.add(op.outputs[1 - taken]);
      changed = true;
      const data = ctx.tensor(op.inputs[0]);
      return taken ? [undefined, data] : [data, undefined];
    }
    return undefined;
  });
  return { graph: result, changed };
}

/** A Merge with dead inputs: an Identity of its one live input, or a Merge of the live ones. */
function resolveMerge(op: Operation, live: number[], ctx: RewriteContext, diagnostics: Diagnostic[]): RewriteAction {
  const indexUsed = op.outputs[1].consumers().length > 0;
  const controlInputs = ctx.controlInputs(op);
  if (live.length > 1) {
    if (indexUsed)
      diagnostics.push({
        code: "merge-index-renumbered",
        severity: "warning",
        node: op.outputs[1].name,
        message: `\`${op.name}\` lost dead inputs, so its value_index now counts the live inputs only`,
      });
    const merged = ctx.graph.addOp({ type: "Merge", name: op.name, absoluteName: true, inputs: live.map((i) => ctx.tensor(op.inputs[i])), controlInputs, noCapture: true });
    return merged.outputs;
  }
  const value = ctx.graph.addOp({ type: "Identity", name: op.name, absoluteName: true, inputs: [ctx.tensor(op.inputs[live[0]])], controlInputs, noCapture: true });
  const index = indexUsed ? constant(ctx, ctx.graph.uniqueName(`${op.name}/value_index`), new NDArray("int32", [], new Int32Array([live[0]])), []) : undefined;
  return [value.outputs[0], index];
}

function constant(ctx: RewriteContext, name: string, value: NDArray, controlInputs: Operation[]): Tensor {
  return ctx.graph.addOp({ type: "Const", name, absoluteName: true, attrs: { value, dtype: value.dtype }, controlInputs, noCapture: true }).outputs[0];
}

/** Deletes the variable updates that nothing reads as data; control edges onto them bypass them. */
function dropUpdates(graph: Graph, keep: Set<string>, diagnostics: Diagnostic[]): { graph: Graph; changed: boolean } {
  const drop = new Set<Operation>();
  for (const op of graph.operations) {
    if (!isUpdate(op) || isInitializer(op) || keep.has(op.name)) continue;
    const readers = op.outputs.flatMap((t) => t.consumers());
    if (readers.length === 0) drop.add(op);
    else
      diagnostics.push({
        code: "update-kept",
        severity: "warning",
        node: op.name,
        message: `update \`${op.name}\` (${op.type}) was kept: \`${readers[0].name}\` reads its value`,
        fix: "fix the training flag (feeds or training: false) so that the cond holding the update is resolved",
      });
  }
  if (drop.size === 0) return { graph, changed: false };
  return { graph: rewriteGraph(graph, (op) => (drop.has(op) ? "drop" : undefined)), changed: true };
}

/** Removes from `current` the ops, not stateful, that had consumers in `original` and have none now (transitively). */
function removeOrphans(original: Graph, current: Graph): Graph {
  const hadConsumers = new Set<string>();
  for (const op of original.operations) {
    for (const t of op.inputs) hadConsumers.add(t.op.name);
    for (const c of op.controlInputs) hadConsumers.add(c.name);
  }
  const uses = new Map<Operation, number>();
  for (const op of current.operations) {
    for (const t of op.inputs) uses.set(t.op, (uses.get(t.op) ?? 0) + 1);
    for (const c of op.controlInputs) uses.set(c, (uses.get(c) ?? 0) + 1);
  }
  const remove = new Set<Operation>();
  const ops = current.operations;
  for (let i = ops.length - 1; i >= 0; i--) {
    const op = ops[i];
    if ((uses.get(op) ?? 0) > 0 || !hadConsumers.has(op.name) || isStateful(op)) continue;
    remove.add(op);
    for (const t of op.inputs) uses.set(t.op, uses.get(t.op)! - 1);
    for (const c of op.controlInputs) uses.set(c, uses.get(c)! - 1);
  }
  return remove.size ? rewriteGraph(current, (op) => (remove.has(op) ? "drop" : undefined)) : current;
}
