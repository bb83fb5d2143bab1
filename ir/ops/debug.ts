/**
 * Numeric checks: TF's CheckNumerics op (`tf.debugging.checkNumerics`), which passes its
 * input through unchanged and fails the run when the tensor holds a NaN or an infinity, and
 * `addCheckNumericsOps`, which puts one on every float output of a graph. The scan helpers
 * are shared with the session's `checkNumerics: true` option (src/runtime/check-numerics.ts).
 */
import { invalidArgument } from "../diagnostics";
import { getDefaultGraph, type Graph, type Operation, type Tensor } from "../graph";
import type { NDArray } from "../ndarray";
import { registerOp } from "../registry";
import { formatShape } from "../shape";
import { apply1, type TensorLike } from "./build";

/** What a scan for non-finite values found: counts, and the first bad element. */
export interface NonFinite {
  nan: number;
  inf: number;
  /** Flat index of the first NaN or ±Inf. */
  first: number;
  firstValue: number;
}

/** Counts the NaNs and infinities in `data`; null when every value is finite. */
export function scanNonFinite(data: ArrayLike<number>): NonFinite | null {
  let nan = 0;
  let inf = 0;
  let first = -1;
  for (let i = 0; i < data.length; i++) {
    const v = data[i];
    if (v - v === 0) continue; // finite: x - x is 0 for every finite x, NaN for NaN and ±Inf
    if (v !== v) nan++;
    else inf++;
    if (first < 0) first = i;
  }
  return first < 0 ? null : { nan, inf, first, firstValue: data[first] };
}

/** The multi-index of flat index `flat` in row-major `shape`: "[1, 2]" (a scalar gives "[]"). */
export function formatIndex(flat: number, shape: readonly number[]): string {
  const index = new Array<number>(shape.length);
  for (let d = shape.length - 1; d >= 0; d--) {
    index[d] = shape[d] > 0 ? flat % shape[d] : 0;
    flat = shape[d] > 0 ? Math.floor(flat / shape[d]) : 0;
  }
  return `[${index.join(", ")}]`;
}

/** TF's wording for which kinds were found: "NaN", "Inf", "Inf and NaN". */
export function nonFiniteKinds(found: NonFinite): string {
  return found.nan && found.inf ? "Inf and NaN" : found.nan ? "NaN" : "Inf";
}

/** "NaN values (first at index [0, 2], value NaN; 3 NaN and 0 Inf of 6 values)". */
export function describeNonFinite(found: NonFinite, array: NDArray): string {
  return `${nonFiniteKinds(found)} values (first at index ${formatIndex(found.first, array.shape)} of shape ${formatShape(array.shape)}, value ${found.firstValue}; ${found.nan} NaN and ${found.inf} Inf of ${array.size} values)`;
}

const GRADIENT_MESSAGE = "Not a number (NaN) or infinity (Inf) values detected in gradient. ";

registerOp({
  type: "CheckNumerics",
  inputs: 1,
  attrs: { message: { kind: "string" } },
  // Stateful as in TF: never constant-folded or deduplicated away.
  stateful: true,
  infer: ([x], _, node) => {
    if (x.dtype !== "float32")
      throw invalidArgument({
        code: "bad-dtype",
        node,
        message: `CheckNumerics checks float tensors only; \`${node}\` got a ${x.dtype} tensor`,
        expected: "float32",
        received: x.dtype,
        fix: "check only float tensors (an int or bool tensor cannot hold NaN or Inf)",
      });
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  kernel: ([x], attrs, ctx) => {
    const found = scanNonFinite(x.data);
    if (found)
      throw invalidArgument({
        code: "check-numerics",
        node: ctx.node,
        message: `${String(attrs.message)} : Tensor had ${describeNonFinite(found, x)}`,
        expected: "finite values",
        received: `${found.nan ? "NaN" : "Inf"} at index ${formatIndex(found.first, x.shape)}`,
        fix: "find the first op that produced it: run with new tf.Session({ checkNumerics: true }), which names that op and its inputs",
      });
    return [x];
  },
  // As TF: the gradient passes through, itself checked.
  gradient: (op, [dy]) => [dy ? checkNumerics(dy, GRADIENT_MESSAGE + String(op.attrs.message)) : null],
});

/** `tf.debugging.checkNumerics(tensor, message, name)`: `tensor` unchanged; the run fails when it holds a NaN or an Inf. */
export function checkNumerics(tensor: TensorLike, message: string, name = "CheckNumerics"): Tensor {
  return apply1("CheckNumerics", [tensor], { message }, name);
}

/** Op types whose outputs `addCheckNumericsOps` leaves alone. */
const SKIPPED = new Set([
  "CheckNumerics", // already a check
  "VariableV2", // a ref output in TF, which add_check_numerics_ops skips; its reads are checked
]);

/**
 * TF's `add_check_numerics_ops`: a CheckNumerics (message "op:index") on every float output of
 * every operation in `graph` (the default graph when omitted), grouped into one op to run
 * beside the train op. Unlike TF, ops inside a `tf.cond` branch are allowed: their checks run
 * when the branch does.
 */
export function addCheckNumericsOps(graph: Graph = getDefaultGraph()): Operation {
  const targets = graph.operations.filter((op) => !SKIPPED.has(op.type));
  return graph.controlDependencies(null, () => {
    const checks: Operation[] = [];
    for (const op of targets)
      for (const output of op.outputs)
        if (output.dtype === "float32")
          checks.push(graph.addOp({ type: "CheckNumerics", name: "CheckNumerics", inputs: [output], attrs: { message: output.name }, noCapture: true }));
    return graph.addOp({ type: "NoOp", name: "group_deps", controlInputs: checks });
  });
}
