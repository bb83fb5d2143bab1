/**
 * What every compiled backend (js, wasm, webgpu) hands its code generator for one run, and how
 * it decides that a plan belongs on the interpreter instead.
 */
import type { Operation, Tensor } from "../../ir/graph";
import { InternalError, OpError } from "../../ir/diagnostics";
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
