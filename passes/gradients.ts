/**
 * Reverse-mode autodiff as a graph pass, TF1-style: adds gradient ops to the graph.
 *
 *   before:  x ──MatMul──► y ──Sum──► loss
 *   after:   ... plus  gradients/Sum_grad/...  gradients/MatMul_grad/MatMul ──► dL/dx
 *
 * The driver owns the bookkeeping; gradient rules (OpDef.gradient, beside each op) only state
 * the math. Here: ops between xs and ys, reverse topological order, summing fan-out with
 * AddN, reducing broadcast gradients to each input's shape, StopGradient and `stopGradients`,
 * `null` (or zeros) for unconnected xs, a clear error for assigns and ops with no rule, and a
 * Switch/Merge rule pair so gradients flow through `tf.cond`.
 */
import { isFloat } from "../ir/dtype";
import { invalidArgument } from "../ir/diagnostics";
import { Operation, Tensor, type Graph } from "../ir/graph";
import { NDArray } from "../ir/ndarray";
import { getOpDef } from "../ir/registry";
import { formatShape, isFullyDefined, type MaybeShape } from "../ir/shape";
import { apply, apply1, constantOp } from "../ir/ops/build";
import { addN } from "../ir/ops/gradient-support";

export interface GradientsOptions {
  name?: string;
  /** Tensors treated as constants (TF's stop_gradients). */
  stopGradients?: Tensor[];
  /** What an x that does not influence ys gets: `null` (TF's default) or zeros. */
  unconnectedGradients?: "none" | "zero";
}

function requireFloat(t: Tensor, role: string): void {
  if (!isFloat(t.dtype))
    throw invalidArgument({
      code: "non-float-gradient",
      node: t.name,
      message: `cannot differentiate ${role} \`${t.name}\`: it is not a float tensor`,
      expected: "a float32 tensor",
      received: t.dtype,
      fix: `differentiate a float32 tensor (tf.cast(${t.op.name}, "float32") is not differentiable either: cast earlier)`,
    });
}

function shapesCompatible(a: MaybeShape, b: MaybeShape): boolean {
  if (a === null || b === null) return true;
  return a.length === b.length && a.every((d, i) => d === null || b[i] === null || d === b[i]);
}

/** Whether a gradient of static shape `g` may need summing down to input shape `x`. */
function mayBroadcast(g: MaybeShape, x: MaybeShape): boolean {
  if (g === null || x === null || g.length !== x.length) return true;
  return g.some((d, i) => (d === null) !== (x[i] === null) || (d !== null && d !== x[i]));
}

function zerosFor(t: Tensor): Tensor {
  return apply1("ZerosLike", [t], {}, "zeros_like");
}

/** Gradient summed down to `x`'s shape (a no-op when the static shapes show it already fits). */
function reduceToInput(g: Tensor, x: Tensor): Tensor {
  if (!mayBroadcast(g.shape, x.shape)) return g;
  const target = isFullyDefined(x.shape)
    ? constantOp(new NDArray("int32", [x.shape.length], Int32Array.from(x.shape)), "shape", g.graph)
    : apply1("Shape", [x], {}, "Shape");
  return apply1("SumToShape", [g, target], {}, "SumToShape");
}

/** The ops on some path from an x to a y (data edges only). */
function opsBetween(ys: Tensor[], xs: Tensor[], stops: Set<string>): Set<Operation> {
  const forward = new Set<Operation>();
  const stack = xs.map((x) => x.op);
  while (stack.length) {
    const op = stack.pop()!;
    if (forward.has(op)) continue;
    forward.add(op);
    for (const out of op.outputs) if (!stops.has(out.name)) for (const c of out.consumers()) stack.push(c);
  }
  const between = new Set<Operation>();
  const back = ys.map((y) => y.op);
  while (back.length) {
    const op = back.pop()!;
    if (between.has(op) || !forward.has(op)) continue;
    between.add(op);
    for (const t of op.inputs) if (!stops.has(t.name)) back.push(t.op);
  }
  return between;
}

/** `tf.gradients(ys, xs, gradYs?)`: d(sum of ys)/d(x) for each x, `null` where unconnected. */
export function gradients(
  ys: Tensor | Tensor[],
  xs: Tensor | Tensor[],
  gradYs?: Tensor | (Tensor | null)[] | null,
  options: GradientsOptions = {},
): (Tensor | null)[] {
  const yList = Array.isArray(ys) ? ys : [ys];
  const xList = Array.isArray(xs) ? xs : [xs];
  if (yList.length === 0) throw invalidArgument({ code: "no-ys", message: "tf.gradients needs at least one y", fix: "pass the loss tensor" });
  const graph = yList[0].graph;
  for (const t of [...yList, ...xList]) {
    if (!(t instanceof Tensor))
      throw invalidArgument({ code: "not-a-tensor", message: "tf.gradients takes tensors and variables", received: String(t), fix: "pass tensors or tf.Variable objects" });
    if (t.graph !== graph)
      throw invalidArgument({
        code: "foreign-graph",
        node: t.name,
        message: `\`${t.name}\` is not in the graph of \`${yList[0].name}\``,
        fix: "differentiate with respect to variables and tensors of the same graph",
      });
  }
  yList.forEach((y) => requireFloat(y, "y"));
  xList.forEach((x) => requireFloat(x, "x"));
  const gyList = gradYs === undefined || gradYs === null ? [] : Array.isArray(gradYs) ? gradYs : [gradYs];
  if (gyList.length && gyList.length !== yList.length)
    throw invalidArgument({
      code: "grad-ys-count",
      message: "gradYs must have one entry per y",
      expected: `${yList.length}`,
      received: `${gyList.length}`,
      fix: "pass one gradient (or null) for each y",
    });
  gyList.forEach((gy, i) => {
    if (!gy) return;
    const y = yList[i];
    if (gy.dtype !== y.dtype || !shapesCompatible(gy.shape, y.shape))
      throw invalidArgument({
        code: "grad-ys-shape",
        node: gy.name,
        message: `gradYs[${i}] does not match y \`${y.name}\``,
        expected: `${y.dtype} ${formatShape(y.shape)}`,
        received: `${gy.dtype} ${formatShape(gy.shape)}`,
        fix: "give each gradYs entry the dtype and shape of its y",
      });
  });
  const stops = new Set((options.stopGradients ?? []).map((t) => t.name));
  return graph.nameScope(options.name ?? "gradients", () => backprop(graph, yList, xList, gyList, stops, options));
}

function backprop(graph: Graph, ys: Tensor[], xs: Tensor[], gradYs: (Tensor | null)[], stops: Set<string>, options: GradientsOptions): (Tensor | null)[] {
  const between = opsBetween(ys, xs, stops);
  const pending = new Map<string, Tensor[]>();
  const push = (t: Tensor, g: Tensor) => {
    const list = pending.get(t.name);
    if (list) list.push(g);
    else pending.set(t.name, [g]);
  };
  ys.forEach((y, i) => push(y, gradYs[i] ?? apply1("OnesLike", [y], {}, `grad_ys_${i}`)));
  const xNames = new Set(xs.map((x) => x.name));
  const summed = new Map<string, Tensor | null>();
  const total = (t: Tensor): Tensor | null => {
    if (summed.has(t.name)) return summed.get(t.name)!;
    const list = pending.get(t.name);
    const g = list && list.length ? graph.nameScope(`${t.op.name}_grad_sum`, () => addN(list)) : null;
    summed.set(t.name, g);
    return g;
  };
  const order = [...between].sort((a, b) => b.id - a.id);
  for (const op of order) {
    const outGrads = op.outputs.map((t) => (stops.has(t.name) ? null : total(t)));
    if (outGrads.every((g) => g === null)) continue;
    // An x's own op is where differentiation stops unless another x lies further back.
    if (op.outputs.every((t) => xNames.has(t.name)) && !op.inputs.some((t) => between.has(t.op))) continue;
    const inputGrads = graph.nameScope(`${op.name}_grad`, () => applyRule(op, outGrads));
    op.inputs.forEach((input, i) => {
      const g = inputGrads[i];
      if (!g || !between.has(input.op) || stops.has(input.name)) return;
      push(input, graph.nameScope(`${op.name}_grad`, () => reduceToInput(g, input)));
    });
  }
  return xs.map((x) => {
    const g = total(x);
    if (g) return g;
    return options.unconnectedGradients === "zero" ? zerosFor(x) : null;
  });
}

function applyRule(op: Operation, outGrads: (Tensor | null)[]): (Tensor | null)[] {
  if (op.type === "Switch") return switchGrad(op, outGrads);
  if (op.type === "Merge") return mergeGrad(op, outGrads);
  const def = getOpDef(op.type, op.name);
  if (def.gradient) {
    const grads = def.gradient(op, outGrads);
    if (grads.length !== op.inputs.length)
      throw invalidArgument({
        code: "gradient-arity",
        node: op.name,
        message: `the gradient rule of ${op.type} returned ${grads.length} gradients for ${op.inputs.length} inputs`,
        fix: "this is a foldflow bug in the op's gradient rule; please report it",
      });
    return grads;
  }
  if (def.nonDifferentiable) return op.inputs.map(() => null);
  if (def.refInputs?.length)
    throw invalidArgument({
      code: "gradient-through-assign",
      node: op.name,
      message: `cannot differentiate through \`${op.name}\` (${op.type}): assigns are not differentiable`,
      expected: "a path from y to x through differentiable ops",
      received: `a path through ${op.type}`,
      fix: "differentiate with respect to the variable itself, or read it after the assign with tf.identity under tf.controlDependencies",
    });
  throw invalidArgument({
    code: "no-gradient",
    node: op.name,
    message: `no gradient is defined for op type ${op.type} (\`${op.name}\`)`,
    expected: "a differentiable op between ys and xs",
    received: op.type,
    fix: "wrap the input in tf.stopGradient if no gradient should flow here",
  });
}

/** Switch forwards data to one live output; its data gradient is the Merge of both outputs' gradients. */
function switchGrad(op: Operation, [gFalse, gTrue]: (Tensor | null)[]): (Tensor | null)[] {
  const f = gFalse ?? zerosFor(op.outputs[0]);
  const t = gTrue ?? zerosFor(op.outputs[1]);
  return [apply("Merge", [f, t], {}, "cond_grad").outputs[0], null];
}

/** Merge's gradient routes dy back into the branch that was taken, by a Switch on the same predicate. */
function mergeGrad(op: Operation, [dy]: (Tensor | null)[]): (Tensor | null)[] {
  if (!dy) return op.inputs.map(() => null);
  const pred = predicateOf(op);
  const sw = apply("Switch", [dy, pred], {}, "cond_grad");
  // Merge inputs are [false result, true result], as TF builds them.
  return op.inputs.map((_, i) => sw.outputs[i === 0 ? 0 : 1]);
}

function predicateOf(merge: Operation): Tensor {
  const recorded = (merge.graph.extras.get("condPredicates") as Map<string, Tensor> | undefined)?.get(merge.name);
  if (recorded) return recorded;
  // Imported graphs: the conditional whose false side reaches input 0 and whose true side reaches
  // input 1. Nested conds make the nearest Switch the wrong one: an inner cond's Switches reach
  // both inputs of its own Merge, but only one input of the outer Merge.
  const falseSide = switchesAbove(merge.inputs[0]);
  const trueSide = switchesAbove(merge.inputs[1] ?? merge.inputs[0]);
  for (const [key, found] of falseSide) if (found.sides.has(0) && trueSide.get(key)?.sides.has(1)) return found.pred;
  const nearest = [...falseSide.values()][0];
  if (nearest) return nearest.pred;
  throw invalidArgument({
    code: "merge-without-switch",
    node: merge.name,
    message: `cannot find the predicate of Merge \`${merge.name}\``,
    fix: "build conditionals with tf.cond",
  });
}

/** The tensor a predicate is an Identity of (cond/pred_id is Identity(pred)): one key for one predicate. */
function predicateKey(pred: Tensor): string {
  let t = pred;
  while (t.op.type === "Identity") t = t.op.inputs[0];
  return t.name;
}

/**
 * The Switches upstream of `start` (through data and control inputs), nearest first, by
 * predicate: which of their outputs (0: false, 1: true) the walk came through.
 */
function switchesAbove(start: Tensor): Map<string, { pred: Tensor; sides: Set<number> }> {
  const found = new Map<string, { pred: Tensor; sides: Set<number> }>();
  const seen = new Set<Operation>();
  const queue: Operation[] = [];
  const reach = (t: Tensor) => {
    if (t.op.type === "Switch") {
      const key = predicateKey(t.op.inputs[1]);
      const entry = found.get(key) ?? { pred: t.op.inputs[1], sides: new Set<number>() };
      entry.sides.add(t.index);
      found.set(key, entry);
    }
    queue.push(t.op);
  };
  reach(start);
  for (let i = 0; i < queue.length; i++) {
    const op = queue[i];
    if (seen.has(op)) continue;
    seen.add(op);
    op.inputs.forEach(reach);
    queue.push(...op.controlInputs);
  }
  return found;
}
