/**
 * What the batch-normalization builders share: the settings of one BN application, the
 * `training` flag (a boolean resolved while building, or a bool tensor), renorm clipping,
 * TF's `_compose_transforms`, and the checks on axes and options that raise TF's ValueErrors
 * as InvalidArgumentErrors naming the layer.
 */
import { invalidArgument } from "../../ir/diagnostics";
import type { Tensor } from "../../ir/graph";
import type { NDArray } from "../../ir/ndarray";
import { formatShape, type MaybeShape } from "../../ir/shape";
import { add, mul } from "../../ir/ops/elementwise";
import type { Variable } from "../variables";

/** `training`: a boolean (resolved while building, TF's smart_cond) or a bool scalar tensor. */
export type Training = boolean | Tensor;

/** TF's renorm_clipping: r is clipped to [rmin, rmax] and d to [-dmax, dmax]; missing keys do not clip. */
export interface RenormClipping {
  rmax?: number | Tensor;
  rmin?: number | Tensor;
  dmax?: number | Tensor;
}

/**
 * TF's `adjustment`: given the dynamic shape of the (virtual-batched) input, returns
 * (scale, bias) applied to the normalized values before gamma and beta, in training only.
 */
export type Adjustment = (shape: Tensor) => [Tensor, Tensor];

export interface RenormState {
  mean: Variable;
  stddev: Variable;
  clipping: RenormClipping;
  momentum: number;
}

/** Everything one BN application needs once its variables exist. */
export interface BatchNormSpec {
  /** The normalized axes of the input (non-negative, as given after resolving negatives). */
  axis: number[];
  momentum: number;
  epsilon: number;
  gamma: Tensor | null;
  beta: Tensor | null;
  movingMean: Variable;
  movingVariance: Variable;
  renorm: RenormState | null;
  virtualBatchSize: number | null;
  adjustment: Adjustment | null;
  /** Use FusedBatchNormV3 (4-D input, axis 1 or 3, no renorm / virtual batch / adjustment). */
  fused: boolean;
}

export interface BatchNormResult {
  output: Tensor;
  /** The moving-statistic updates (assigns, or Merges of a cond when training is a tensor). */
  updates: Tensor[];
}

/** TF's constant_value(training): true / false when known while building, null for a live tensor. */
export function trainingValue(training: Training): boolean | null {
  if (typeof training === "boolean") return training;
  if (training.op.type === "Const") return Boolean((training.op.attrs.value as NDArray).data[0]);
  return null;
}

/**
 * TF's _compose_transforms: x·scale + offset followed by ·thenScale + thenOffset, as one
 * (scale·thenScale, offset·thenScale + thenOffset).
 */
export function composeTransforms(scale: Tensor, offset: Tensor, thenScale: Tensor | null, thenOffset: Tensor | null): [Tensor, Tensor] {
  let s = scale;
  let o = offset;
  if (thenScale) {
    s = mul(s, thenScale);
    o = mul(o, thenScale);
  }
  if (thenOffset) o = add(o, thenOffset);
  return [s, o];
}

export function badArgument(node: string, message: string, expected: string, received: string, fix: string): Error {
  return invalidArgument({ code: "bad-layer-argument", node, message, expected, received, fix });
}

export function badInput(node: string, message: string, expected: string, shape: MaybeShape, fix: string): Error {
  return invalidArgument({ code: "bad-layer-input", node, message, expected, received: formatShape(shape), fix });
}

/** Resolves negative axes against `rank` and checks range and duplicates (TF's build). */
export function resolveAxes(axis: number | number[], rank: number, node: string): number[] {
  const list = typeof axis === "number" ? [axis] : [...axis];
  if (list.length === 0) throw badArgument(node, "batch normalization needs at least one axis", "an axis such as -1", "[]", "pass axis: -1 (features last) or axis: 1 (channels first)");
  const resolved = list.map((a) => {
    if (!Number.isInteger(a)) throw badArgument(node, `axis ${a} is not an integer`, "integers", String(a), "pass integer axes");
    const r = a < 0 ? a + rank : a;
    if (r < 0 || r >= rank) throw badArgument(node, `invalid axis ${a} for an input of rank ${rank}`, `an axis in [${-rank}, ${rank - 1}]`, String(a), "pick an axis of the input");
    return r;
  });
  if (new Set(resolved).size !== resolved.length)
    throw badArgument(node, `duplicate axis in ${JSON.stringify(list)}`, "distinct axes", JSON.stringify(list), "list each axis once");
  return resolved;
}

/** Checks the renorm_clipping keys (TF raises for unknown ones). */
export function checkRenormClipping(clipping: RenormClipping | null | undefined, node: string): RenormClipping {
  const c = clipping ?? {};
  const unknown = Object.keys(c).filter((k) => !["rmax", "rmin", "dmax"].includes(k));
  if (unknown.length)
    throw badArgument(node, `renormClipping has keys other than rmax, rmin, dmax: ${unknown.join(", ")}`, "keys rmax, rmin, dmax", unknown.join(", "), "remove the unknown keys");
  return c;
}

/** TF 1.x v1 BatchNormalization: fused when the input is 4-D, the axis 1 or 3, and no renorm / virtual batch / adjustment. */
export function fusedCanBeUsed(axis: number[], rank: number, renorm: boolean, virtualBatchSize: number | null, adjustment: Adjustment | null): boolean {
  return rank === 4 && axis.length === 1 && (axis[0] === 1 || axis[0] === 3) && !renorm && virtualBatchSize === null && adjustment === null;
}
