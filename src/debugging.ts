/**
 * `tf.debugging`: numeric checks. `checkNumerics(t, message)` passes `t` through and fails the
 * run on a NaN or an Inf; `assertAllFinite` is TF's `assert_all_finite` / `verify_tensor_all_finite`.
 * `tf.addCheckNumericsOps(graph)` (top level, as in TF1) checks every float output at once;
 * `new tf.Session({ checkNumerics: true })` names the first op of a run that produces one.
 * Also TF1's `tf.debugging.Assert` / `Print` and the check_ops (`assertEqual` ..., src/check-ops.ts).
 */
import type { Tensor } from "../ir/graph";
import { checkNumerics } from "../ir/ops/debug";

export { checkNumerics, addCheckNumericsOps } from "../ir/ops/debug";
export { Assert, Print } from "../ir/ops/logging";
export {
  assertEqual, assertLess, assertLessEqual, assertGreater, assertGreaterEqual,
  assertPositive, assertNegative, assertNonNegative, assertNonPositive,
} from "./check-ops";

/** TF's `tf.debugging.assert_all_finite(t, msg)`: `t`, checked for NaN and Inf when it is computed. */
export function assertAllFinite(t: Tensor, message: string, name = "VerifyFinite"): Tensor {
  return t.graph.nameScope(name, () => checkNumerics(t, message, "CheckNumerics"));
}
