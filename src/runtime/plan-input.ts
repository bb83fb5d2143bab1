/**
 * What every compiled backend (js, wasm, webgpu) hands its code generator for one run, and how
 * it decides that a plan belongs on the interpreter instead.
 */
import type { Operation, Tensor } from "../../ir/graph";
import { InternalError, OpError } from "../../ir/diagnostics";
import { uninitialized } from "../../ir/ops/state";
import { isRefInput } from "./plan";
import type { NDArray } from "../../ir/ndarray";
import { isFullyDefined } from "../../ir/shape";
import type { PlanInput } from "../../codegen/js/analysis";
import { Unresolved } from "../../codegen/js/specs";
import type { RuntimeState } from "./interpreter";

/** The plan input for `order` with concrete feed shapes and the variables' current (or declared) shapes. */
export function planInput(state: RuntimeState, order: readonly Operation[], fed: Map<Tensor, NDArray>, fetches: Tensor[]): PlanInput {
  return {
    order,
    fed: new Map([...fed].map(([t, v]) => [t.name, { tensor: t, dtype: t.dtype, shape: [...v.shape] }])),
    fetches,
    variableShape: (op) => {
      const current = state.variables.get(op.name);
      if (current) return [...current.shape];
      const declared = op.attrs.shape as (number | null)[] | null;
      return isFullyDefined(declared) ? [...declared] : undefined;
    },
  };
}

/**
 * Why a plan that failed to compile runs on the interpreter: shapes that depend on values, or a
 * user error the interpreter reports the same way. `null` for a foldflow bug, to be rethrown.
 */
export function interpreterFallback(e: unknown): string | null {
  return e instanceof Unresolved || (e instanceof OpError && !(e instanceof InternalError)) ? e.message : null;
}

/**
 * The interpreter's uninitialized-variable error for a compiled run of `order`: every variable
 * the run would read while `variables` lacks it (one: `first`, or the error for `name` read by
 * `reader`; several: one error listing them all).
 */
export function uninitializedError(order: readonly Operation[], variables: RuntimeState["variables"], name: string, reader: string, first?: OpError): OpError {
  const assigned = new Set<string>();
  const used = new Set<string>();
  for (const op of order) {
    if (op.type === "VariableV2") used.add(op.name);
    op.inputs.forEach((t, i) => {
      if (!isRefInput(op, i)) return;
      if (op.type === "Assign") assigned.add(t.op.name);
      else used.add(t.op.name);
    });
  }
  const missing = [...used].filter((v) => !variables.has(v) && !assigned.has(v));
  const single = first ?? (uninitialized(name, reader) as OpError);
  if (missing.length <= 1) return single;
  const e = uninitialized(missing[0], reader) as OpError;
  return new (e.constructor as new (d: OpError["diagnostic"]) => OpError)({
    ...e.diagnostic,
    message: `attempting to use ${missing.length} uninitialized variables: ${missing.map((m) => `\`${m}\``).join(", ")}`,
  });
}
