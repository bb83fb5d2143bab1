/**
 * Weight regularizers: functions from a weight tensor to a scalar loss (or null), for the
 * `regularizer` options of tf.getVariable and the layers. Two families, as in TF1:
 *
 * - Keras (`tf.keras.regularizers`): `l2(scale)` = scale * sum(w^2), `l1(scale)` = scale * sum(|w|),
 *   `l1L2({ l1, l2 })` their sum. Note: no 1/2 factor.
 * - contrib (`tf.contrib.layers`): `l2Regularizer(scale)` = scale * tf.nn.l2_loss(w)
 *   = scale * sum(w^2) / 2, `l1Regularizer(scale)` = scale * sum(|w|), `l1L2Regularizer`;
 *   a scale of 0 disables the regularizer (it returns null, so no loss is added).
 */
import { invalidArgument } from "../ir/diagnostics";
import type { Tensor } from "../ir/graph";
import { NDArray } from "../ir/ndarray";
import { constantOp } from "../ir/ops/build";
import { abs, add, mul, square } from "../ir/ops/elementwise";
import { reduceSum } from "../ir/ops/reduce";
import type { Regularizer } from "./variables";

function checkScale(scale: unknown, what: string): number {
  if (typeof scale !== "number" || !Number.isFinite(scale) || scale < 0)
    throw invalidArgument({
      code: "bad-regularizer",
      message: `the scale of ${what} must be a finite number >= 0`,
      expected: "a number >= 0",
      received: String(scale),
      fix: "pass a small positive scale such as 1e-4",
    });
  return scale;
}

/** Keras `l2(scale = 0.01)`: scale * sum(w^2). */
export function l2(scale = 0.01): Regularizer {
  return l1L2({ l2: checkScale(scale, "l2") });
}

/** Keras `l1(scale = 0.01)`: scale * sum(|w|). */
export function l1(scale = 0.01): Regularizer {
  return l1L2({ l1: checkScale(scale, "l1") });
}

/** Keras `l1L2({ l1 = 0, l2 = 0 })`: l1 * sum(|w|) + l2 * sum(w^2). */
export function l1L2(options: { l1?: number; l2?: number } = {}): Regularizer {
  const s1 = checkScale(options.l1 ?? 0, "l1L2 (l1)");
  const s2 = checkScale(options.l2 ?? 0, "l1L2 (l2)");
  return (w: Tensor) => {
    const terms: Tensor[] = [];
    if (s1) terms.push(mul(s1, reduceSum(abs(w)), "mul"));
    if (s2) terms.push(mul(s2, reduceSum(square(w)), "mul"));
    if (terms.length === 0) return constantOp(new NDArray("float32", [], Float32Array.of(0)), "Const", w.graph);
    return terms.length === 1 ? terms[0] : add(terms[0], terms[1], "add");
  };
}

/** contrib `l2_regularizer(scale)`: scale * l2_loss(w) = scale * sum(w^2) / 2, in scope "l2_regularizer". */
export function l2Regularizer(scale: number, scope?: string): Regularizer {
  const s = checkScale(scale, "l2Regularizer");
  if (s === 0) return () => null;
  return (w: Tensor) =>
    w.graph.nameScope(scope ?? "l2_regularizer", () => {
      const l2Loss = mul(reduceSum(square(w)), 0.5, "l2_loss");
      return mul(s, l2Loss, "mul");
    });
}

/** contrib `l1_regularizer(scale)`: scale * sum(|w|), in scope "l1_regularizer". */
export function l1Regularizer(scale: number, scope?: string): Regularizer {
  const s = checkScale(scale, "l1Regularizer");
  if (s === 0) return () => null;
  return (w: Tensor) => w.graph.nameScope(scope ?? "l1_regularizer", () => mul(s, reduceSum(abs(w)), "mul"));
}

/** contrib `l1_l2_regularizer(scaleL1 = 1, scaleL2 = 1)`: the sum of the two. */
export function l1L2Regularizer(scaleL1 = 1.0, scaleL2 = 1.0, scope?: string): Regularizer {
  const r1 = l1Regularizer(scaleL1);
  const r2 = l2Regularizer(scaleL2);
  return sumRegularizer([r1, r2], scope ?? "l1_l2_regularizer");
}

/** contrib `sum_regularizer(list)`: the sum of the non-null regularization losses, or null. */
export function sumRegularizer(regularizers: Regularizer[], scope = "sum_regularizer"): Regularizer {
  return (w: Tensor) =>
    w.graph.nameScope(scope, () => {
      const losses = regularizers.map((r) => r(w)).filter((l): l is Tensor => l !== null);
      if (losses.length === 0) return null;
      return losses.reduce((a, b) => add(a, b, "add"));
    });
}
