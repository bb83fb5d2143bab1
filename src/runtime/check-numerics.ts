/**
 * The session's `checkNumerics: true`: after each op of a run, its float outputs are scanned,
 * and the first op to produce a NaN or an Inf fails the run with an InvalidArgumentError that
 * names it (type, output, first bad index) and says which of its inputs were finite, so the
 * error points at the op that broke rather than at the loss many ops later.
 */
import { invalidArgument } from "../../ir/diagnostics";
import type { Operation, Tensor } from "../../ir/graph";
import type { NDArray } from "../../ir/ndarray";
import { describeNonFinite, formatIndex, nonFiniteKinds, scanNonFinite } from "../../ir/ops/debug";
import { DEAD, type RuntimeState, type Value } from "./interpreter";
import { isRefInput } from "./plan";

type OnOp = (op: Operation, outputs: NDArray[]) => void;

interface InputReport {
  text: string;
  finite: boolean;
  /** How a non-finite input got its value when no op of this run made it: fed or a variable. */
  origin?: "fed" | "variable";
  tensor: Tensor;
}

/**
 * An `onOp` hook for `execute` that checks each op's float outputs; `values` is the run's value
 * map (feeds and outputs so far), `fed` the fed tensor names. `next` runs first (run metadata).
 */
export function checkNumericsHook(values: ReadonlyMap<string, Value>, state: RuntimeState, fed: ReadonlySet<string>, next?: OnOp): OnOp {
  return (op, outputs) => {
    next?.(op, outputs);
    outputs.forEach((out, index) => {
      if (out.dtype !== "float32") return;
      const found = scanNonFinite(out.data);
      if (found) throw nonFiniteError(op, index, out, describeNonFinite(found, out), formatIndex(found.first, out.shape), nonFiniteKinds(found), values, state, fed);
    });
  };
}

function nonFiniteError(op: Operation, index: number, out: NDArray, details: string, at: string, kinds: string, values: ReadonlyMap<string, Value>, state: RuntimeState, fed: ReadonlySet<string>) {
  const inputs = op.inputs.map((t, i) => describeInput(op, t, i, values, state, fed));
  const bad = inputs.filter((r) => !r.finite);
  const inputText = inputs.length ? `; its inputs: ${inputs.map((r) => r.text).join("; ")}` : "";
  return invalidArgument({
    code: "check-numerics",
    node: op.name,
    message: `checkNumerics: op \`${op.name}\` (${op.type}) is the first op of this run to produce ${kinds}: output ${index} (\`${op.outputs[index].name}\`) has ${details}${inputText}`,
    expected: "finite values",
    received: `${kinds} in \`${op.outputs[index].name}\` at index ${at}`,
    fix: fixFor(op, out, bad),
  });
}

function describeInput(op: Operation, t: Tensor, i: number, values: ReadonlyMap<string, Value>, state: RuntimeState, fed: ReadonlySet<string>): InputReport {
  if (isRefInput(op, i)) return { text: `input ${i} is variable \`${t.op.name}\` (by reference)`, finite: true, tensor: t };
  const fromVariable = t.op.type === "VariableV2";
  const value = fromVariable ? state.variables.get(t.op.name) ?? values.get(t.name) : values.get(t.name);
  const origin = fed.has(t.name) ? "fed" : fromVariable ? "variable" : undefined;
  const label = `input ${i} \`${t.name}\`${origin === "fed" ? " (fed)" : origin === "variable" ? " (variable)" : ""}`;
  if (value === undefined || value === DEAD) return { text: `${label} has no value`, finite: true, tensor: t };
  if (value.dtype !== "float32") return { text: `${label} is ${value.dtype}`, finite: true, tensor: t };
  const found = scanNonFinite(value.data);
  if (!found) return { text: `${label} is finite`, finite: true, tensor: t };
  return { text: `${label} has ${nonFiniteKinds(found)} (first at index ${formatIndex(found.first, value.shape)})`, finite: false, origin, tensor: t };
}

function fixFor(op: Operation, out: NDArray, bad: InputReport[]): string {
  const fedBad = bad.find((r) => r.origin === "fed");
  if (fedBad) return `the value fed for \`${fedBad.tensor.name}\` already holds NaN or Inf: clean the input data before feeding it`;
  const varBad = bad.find((r) => r.origin === "variable" || r.tensor.op.type === "VariableV2");
  if (varBad || op.type === "VariableV2")
    return `variable \`${varBad ? varBad.tensor.op.name : op.name}\` already holds NaN or Inf (from an earlier run or a restore): re-initialize it or restore a good checkpoint, and run training with checkNumerics on to find the op that wrote it`;
  if (bad.length) return "an input was already non-finite; check where it came from";
  if (op.type === "Const") return `the constant \`${op.name}\` itself holds NaN or Inf: fix its value`;
  return `\`${op.name}\` (${op.type}) turns finite inputs into ${out.dtype} NaN/Inf: guard its inputs (add an epsilon before Log, Div, Rsqrt or Sqrt; clip before Exp), or lower the learning rate if values grow during training`;
}
