/**
 * Recognizing batch normalization in inference form and reducing each form to one constant
 * per-channel affine map y = x·scale + shift (scale and shift broadcast-shaped against x):
 *
 *   FusedBatchNorm / V2 / V3 (is_training false)    scale = γ / sqrt(var + ε), shift = β - mean·scale
 *   BatchNormWithGlobalNormalization                scale = (γ or 1) / sqrt(v + ε), shift = β - m·scale
 *   tf.nn.batchNormalization's subgraph              y = x·inv + (β - mean·inv), inv = rsqrt(var + ε)·γ
 *   any Mul(x, constant) then Add(·, constant)       the general case the others reduce to
 *
 * A form that is recognized but cannot fold (training mode, parameters that are not constant)
 * comes back with the reason, so that the report has one row per batch norm.
 */
import type { Operation, Tensor } from "../ir/graph";
import { NDArray } from "../ir/ndarray";
import { broadcastVector, dependsOn, nonConstantSource, type ConstantValues } from "./fold-batch-norm-values";

export type BatchNormForm =
  | "FusedBatchNorm"
  | "FusedBatchNormV2"
  | "FusedBatchNormV3"
  | "BatchNormWithGlobalNormalization"
  | "batchNormalization"
  | "mul-add";

export interface BatchNormMatch {
  /** The op whose output 0 is the normalized value: the folded BiasAdd takes its name. */
  node: Operation;
  form: BatchNormForm;
  /** The tensor being normalized. */
  x: Tensor;
  /** Ops of the batch norm besides `node` that read x (the Mul of x·inv), removed when folded. */
  inner: Operation[];
  /** y = x·scale + shift, broadcast-shaped (absent when `reason` is set). */
  scale?: NDArray;
  shift?: NDArray;
  /** Why this batch norm cannot fold, whatever produces x. */
  reason?: string;
  /** Outputs past the first (fused ops) that are consumed, with their constant values. */
  extraOutputs?: (NDArray | undefined)[];
}

const FUSED = new Set(["FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"]);

/** "parameter `mean` is not constant: it reads `bn/moving_mean` (VariableV2) ..." */
function notConstant(what: string, t: Tensor, values: ConstantValues): string {
  const source = nonConstantSource(t, values);
  const hint =
    source.type === "VariableV2"
      ? "freeze the graph first (tf.graphUtil.convertVariablesToConstants)"
      : source.type === "Switch" || source.type === "Merge" || source.type.startsWith("Placeholder")
        ? "fix the training flag first (specialize with its default, or { training: false })"
        : "make it a constant";
  return `parameter \`${what}\` is not constant: it reads \`${source.name}\` (${source.type}); ${hint}`;
}

/** The batch norm that `op` is the output of, or `null` when `op` is none. */
export function matchBatchNorm(op: Operation, values: ConstantValues): BatchNormMatch | null {
  if (FUSED.has(op.type)) return matchFused(op, values);
  if (op.type === "BatchNormWithGlobalNormalization") return matchGlobal(op, values);
  if (op.type === "Add" || op.type === "AddV2") return matchMulAdd(op, values);
  return null;
}

function params(op: Operation, indices: number[], names: string[], values: ConstantValues): { arrays: NDArray[]; reason?: string } {
  const arrays: NDArray[] = [];
  for (let k = 0; k < indices.length; k++) {
    const t = op.inputs[indices[k]];
    const v = values.value(t);
    if (!v) return { arrays, reason: notConstant(names[k], t, values) };
    arrays.push(v);
  }
  return { arrays };
}

function matchFused(op: Operation, values: ConstantValues): BatchNormMatch {
  const form = op.type as BatchNormForm;
  const base: BatchNormMatch = { node: op, form, x: op.inputs[0], inner: [] };
  if (op.attrs.is_training !== false)
    return { ...base, reason: "the batch norm is in training mode (is_training: true): it normalizes with the statistics of each batch, not with constants" };
  const { arrays, reason } = params(op, [1, 2, 3, 4], ["scale", "offset", "mean", "variance"], values);
  if (reason) return { ...base, reason };
  const [gamma, beta, mean, variance] = arrays;
  const eps = op.attrs.epsilon as number;
  const C = gamma.size;
  if ([beta, mean, variance].some((a) => a.size !== C))
    return { ...base, reason: `its scale, offset, mean and variance do not all have ${C} entries` };
  const s = new Float64Array(C);
  const t = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    s[c] = gamma.data[c] / Math.sqrt(variance.data[c] + eps);
    t[c] = beta.data[c] - mean.data[c] * s[c];
  }
  const trailing = op.attrs.data_format === "NCHW" ? 2 : 0;
  // In inference, batch_mean and reserve_space_1 are `mean`, batch_variance and reserve_space_2 `variance`.
  const extras = [mean, variance, mean, variance, new NDArray("float32", [], new Float32Array(1))];
  const extraOutputs = op.outputs.slice(1).map((out, i) => (out.consumers().length ? extras[i] : undefined));
  return { ...base, scale: broadcastVector(s, trailing), shift: broadcastVector(t, trailing), extraOutputs };
}

function matchGlobal(op: Operation, values: ConstantValues): BatchNormMatch {
  const base: BatchNormMatch = { node: op, form: "BatchNormWithGlobalNormalization", x: op.inputs[0], inner: [] };
  const scaled = op.attrs.scale_after_normalization === true;
  const indices = scaled ? [1, 2, 3, 4] : [1, 2, 3];
  const { arrays, reason } = params(op, indices, ["mean", "variance", "beta", "gamma"], values);
  if (reason) return { ...base, reason };
  const [m, v, beta, gamma] = arrays;
  const eps = op.attrs.variance_epsilon as number;
  const C = m.size;
  if (v.size !== C || beta.size !== C || (gamma && gamma.size !== C))
    return { ...base, reason: `its mean, variance, beta and gamma do not all have ${C} entries` };
  const s = new Float64Array(C);
  const t = new Float64Array(C);
  for (let c = 0; c < C; c++) {
    s[c] = (gamma ? gamma.data[c] : 1) / Math.sqrt(v.data[c] + eps);
    t[c] = beta.data[c] - m.data[c] * s[c];
  }
  return { ...base, scale: broadcastVector(s, 0), shift: broadcastVector(t, 0) };
}

const isAdd = (op: Operation) => op.type === "Add" || op.type === "AddV2";

/** inv = Rsqrt(...) or Mul(Rsqrt(...), gamma) in either order: tf.nn.batchNormalization's multiplier. */
function isBatchNormMultiplier(inv: Tensor): boolean {
  const op = inv.op;
  if (op.type === "Rsqrt") return true;
  return op.type === "Mul" && op.inputs.some((i) => i.op.type === "Rsqrt");
}

/** shift = Sub(offset, Mul(mean, inv)) or Mul(Neg(mean), inv): the other half of tf.nn.batchNormalization. */
function isBatchNormShift(shift: Tensor, inv: Tensor): boolean {
  const op = shift.op;
  const mulOfInv = (t: Tensor) => t.op.type === "Mul" && t.op.inputs.includes(inv);
  if (op.type === "Sub") return mulOfInv(op.inputs[1]);
  return mulOfInv(shift) && op.inputs.some((i) => i.op.type === "Neg");
}

/**
 * y = Add(Mul(x, inv), shift) (operands in either order). With tf.nn.batchNormalization's
 * structure it is a batch norm whatever its parameters; otherwise it is a candidate only when
 * inv and shift are constants (`mul-add`, the form constant folding leaves).
 */
function matchMulAdd(op: Operation, values: ConstantValues): BatchNormMatch | null {
  for (let i = 0; i < 2; i++) {
    const product = op.inputs[i];
    const shift = op.inputs[1 - i];
    if (product.op.type !== "Mul") continue;
    const mul = product.op;
    for (let k = 0; k < 2; k++) {
      const x = mul.inputs[k];
      const inv = mul.inputs[1 - k];
      if (values.isConstant(x)) continue;
      const structural = isBatchNormMultiplier(inv) && isBatchNormShift(shift, inv);
      const invValue = values.value(inv);
      const shiftValue = values.value(shift);
      if (!structural && (!invValue || !shiftValue)) continue;
      const form: BatchNormForm = structural || /(^|\/)batchnorm\/add_1$/.test(op.name) ? "batchNormalization" : "mul-add";
      const base: BatchNormMatch = { node: op, form, x, inner: [mul] };
      if (!invValue || !shiftValue) {
        const [what, t] = !invValue ? ["variance` / `scale", inv] : ["mean` / `offset", shift];
        if (dependsOn(t, x.op))
          return { ...base, reason: "the batch norm is in training mode: its mean and variance are computed from the batch (tf.nn.moments of its input), not constants" };
        return { ...base, reason: notConstant(what as string, t as Tensor, values) };
      }
      return { ...base, scale: invValue, shift: shiftValue };
    }
  }
  return null;
}
