/**
 * Collective ops: `AllReduce`, foldflow's single-graph form of TF's NcclAllReduce /
 * CollectiveReduce. TF builds one NCCL op per device, tied together at run time by a shared
 * name; foldflow builds the whole computation in one graph, so one op takes the N replicas'
 * values as its N inputs and gives every replica the reduced value as its own output:
 *
 *   x_0 ─┐              ┌─► y_0 = reduce(x_0 ... x_{N-1})
 *   x_1 ─┼─ AllReduce ──┼─► y_1 = the same value
 *   ...  ┘ (reduction)  └─► ...
 *
 * Attributes: `N` (the replica count, set from the inputs) and `reduction`: "sum" (default),
 * "mean" or "max". Inputs are float32 or int32 and of one shape (no broadcasting).
 *
 * Gradients (NcclAllReduce's `_all_sum_grad` generalized): for "sum", each input receives the
 * all-reduce (sum) of the output gradients; for "mean", the all-reduce (mean) of them; for
 * "max", that sum split equally among the inputs holding the maximum (as reduce_max's
 * gradient splits ties). A missing output gradient counts as zeros.
 */
import { invalidArgument } from "../diagnostics";
import type { Operation, Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp, type TensorSpec } from "../registry";
import { formatShape, type MaybeShape } from "../shape";
import { apply, convertAll, graphOf, type TensorLike } from "./build";
import { cast, zerosLike } from "./array";
import { div, equal, mul } from "./elementwise";

export type AllReduceReduction = "sum" | "mean" | "max";
const REDUCTIONS: readonly AllReduceReduction[] = ["sum", "mean", "max"];

/** The shape every input agrees with: known dims merged, a clear error on a conflict. */
function mergedShape(inputs: TensorSpec[], node: string): MaybeShape {
  let merged: MaybeShape = null;
  inputs.forEach((t, i) => {
    if (t.shape === null) return;
    if (merged === null) {
      merged = [...t.shape];
      return;
    }
    const m: (number | null)[] = merged;
    const compatible = m.length === t.shape.length && t.shape.every((d, k) => d === null || m[k] === null || d === m[k]);
    if (!compatible)
      throw invalidArgument({
        code: "shape-mismatch",
        node,
        message: `AllReduce needs every replica's value to have one shape; input ${i} differs`,
        expected: formatShape(m),
        received: formatShape(t.shape),
        fix: "all-reduce values of the same shape on every replica (reshape or pad them first)",
      });
    merged = m.map((d, k) => d ?? t.shape![k]);
  });
  return merged;
}

function inferAllReduce(inputs: TensorSpec[], node: string): TensorSpec[] {
  if (inputs.length === 0)
    throw invalidArgument({
      code: "input-count",
      node,
      message: "AllReduce needs one input per replica",
      expected: "at least 1 input",
      received: "0",
      fix: "pass the value of every replica",
    });
  const dtype = inputs[0].dtype;
  if (dtype !== "float32" && dtype !== "int32")
    throw invalidArgument({
      code: "bad-dtype",
      node,
      message: `AllReduce does not accept ${dtype} inputs`,
      expected: "float32 or int32",
      received: dtype,
      fix: `cast the values first, e.g. tf.cast(x, "float32")`,
    });
  inputs.forEach((t, i) => {
    if (t.dtype !== dtype)
      throw invalidArgument({
        code: "dtype-mismatch",
        node,
        message: `AllReduce needs inputs of one dtype; input ${i} is ${t.dtype}`,
        expected: dtype,
        received: t.dtype,
        fix: `cast every replica's value to ${dtype}`,
      });
  });
  const shape = mergedShape(inputs, node);
  return inputs.map(() => ({ dtype, shape }));
}

registerOp({
  type: "AllReduce",
  inputs: "variadic",
  attrs: {
    N: { kind: "int", default: 0 },
    reduction: { kind: "string", default: "sum", oneOf: REDUCTIONS },
  },
  infer: (inputs, _, node) => inferAllReduce(inputs, node),
  kernel: (inputs, attrs, ctx) => {
    const first = inputs[0];
    inputs.forEach((a, i) => {
      if (a.shape.length !== first.shape.length || a.shape.some((d, k) => d !== first.shape[k]))
        throw invalidArgument({
          code: "shape-mismatch",
          node: ctx.node,
          message: `AllReduce got values of different shapes: input ${i} differs from input 0`,
          expected: formatShape(first.shape),
          received: formatShape(a.shape),
          fix: "feed every replica a value of the same shape",
        });
    });
    const reduction = attrs.reduction as AllReduceReduction;
    const n = inputs.length;
    const reduced = new Array<number>(first.size);
    for (let k = 0; k < first.size; k++) {
      let acc = first.data[k];
      for (let i = 1; i < n; i++) acc = reduction === "max" ? Math.max(acc, inputs[i].data[k]) : acc + inputs[i].data[k];
      reduced[k] = reduction === "mean" ? acc / n : acc;
    }
    const isInt = first.dtype === "int32";
    return inputs.map(() => {
      const out = ctx.alloc(first.dtype, first.size);
      for (let k = 0; k < out.length; k++) out[k] = isInt ? Math.trunc(reduced[k]) | 0 : reduced[k];
      return new NDArray(first.dtype, [...first.shape], out);
    });
  },
  gradient: allReduceGradient,
});

function allReduceGradient(op: Operation, grads: (Tensor | null)[]): (Tensor | null)[] {
  if (grads.every((g) => g === null)) return op.inputs.map(() => null);
  const dys = grads.map((g, i) => g ?? zerosLike(op.outputs[i]));
  const reduction = op.attrs.reduction as AllReduceReduction;
  if (reduction === "mean") return allReduce(dys, { reduction: "mean" });
  const summed = allReduce(dys, { reduction: "sum" });
  if (reduction === "sum") return summed;
  // max: the summed gradient goes to the inputs equal to the maximum, split among ties.
  const selected = op.inputs.map((x, i) => cast(equal(x, op.outputs[i]), x.dtype));
  const counts = allReduce(selected, { reduction: "sum" });
  return summed.map((g, i) => mul(g, div(selected[i], counts[i])));
}

export interface AllReduceOptions {
  /** "sum" (default), "mean" or "max". */
  reduction?: AllReduceReduction;
  name?: string;
}

/**
 * One AllReduce op over the replicas' values (one tensor per replica): returns one output per
 * replica, each holding the reduction of all of them.
 */
export function allReduce(values: TensorLike[], options: AllReduceOptions = {}): Tensor[] {
  const graph = graphOf(values);
  const inputs = convertAll(values, graph);
  return apply("AllReduce", inputs, { N: inputs.length, reduction: options.reduction ?? "sum" }, options.name ?? "AllReduce").outputs;
}
