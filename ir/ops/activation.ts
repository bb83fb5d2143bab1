/**
 * Activations beyond elementwise.ts's table (TF's nn_ops): LeakyRelu (attr `alpha`), Softplus
 * and Softsign, with their gradient ops as TF builds them (operands (gradients, features)):
 *
 *   LeakyRelu(x)             x > 0 ? x : alpha·x          LeakyReluGrad(g, x)  x > 0 ? g : alpha·g
 *   Softplus(x)              log(1 + e^x)                 SoftplusGrad(g, x)   g / (1 + e^-x)
 *   Softsign(x)              x / (1 + |x|)                SoftsignGrad(g, x)   g / (1 + |x|)²
 *
 * They have no codegen expression yet: compiled backends run these reference kernels.
 */
import type { Operation, Tensor } from "../graph";
import { NDArray } from "../ndarray";
import { registerOp, type GradientRule, type TensorSpec } from "../registry";
import { apply1, convertToTensor, graphOf, type TensorLike } from "./build";
import { add, binary, div, exp, mul, neg, registerBinary, registerUnary, unary } from "./elementwise";
import { cast, zerosLike } from "./array/reshape";
import { fail, mergeDim } from "./array/common";
import { formatShape, type MaybeShape } from "../shape";

/** A rule for a single-output op: `dy` is never null when it runs. */
function rule(math: (dy: Tensor, op: Operation) => (Tensor | null)[]): GradientRule {
  return (op, [dy]) => (dy ? math(dy, op) : op.inputs.map(() => null));
}

/**
 * Softplus as TF computes it: x itself above -log(eps) - 2 (where 1 + e^x rounds to e^x),
 * e^x below log(eps) + 2, log1p(e^x) between (eps: float32's).
 */
const SOFTPLUS_THRESHOLD = Math.log(1.1920928955078125e-7) + 2;
const softplusValue = (x: number) => (x > -SOFTPLUS_THRESHOLD ? x : x < SOFTPLUS_THRESHOLD ? Math.exp(x) : Math.log1p(Math.exp(x)));

registerUnary({ type: "Softplus", fn: softplusValue, gradient: rule((dy, op) => [binary("SoftplusGrad", dy, op.inputs[0])]) });
registerUnary({ type: "Softsign", fn: (x) => x / (1 + Math.abs(x)), gradient: rule((dy, op) => [binary("SoftsignGrad", dy, op.inputs[0])]) });
registerBinary({
  type: "SoftplusGrad",
  fn: (g, x) => g / (1 + Math.exp(-x)),
  dtypes: ["float32"],
  // TF's _SoftplusGradGrad: inputs (dy, x), ddy = SoftplusGrad(ddx, x), d2x = ddx·dy / (e^-x + 2 + e^x).
  gradient: rule((ddx, { inputs: [dy, x] }) => [binary("SoftplusGrad", ddx, x), div(mul(ddx, dy), add(add(exp(neg(x)), 2), exp(x)))]),
});
// As in TF, SoftsignGrad has no gradient of its own.
registerBinary({ type: "SoftsignGrad", fn: (g, x) => { const d = 1 + Math.abs(x); return g / (d * d); }, dtypes: ["float32"] });

// ---- LeakyRelu ----

function requireFloat(spec: TensorSpec, type: string, node: string): void {
  if (spec.dtype !== "float32")
    fail(node, { code: "bad-dtype", message: `${type} does not accept ${spec.dtype} inputs`, expected: "float32", received: spec.dtype, fix: 'cast the input first, e.g. tf.cast(x, "float32")' });
}

/** LeakyReluGrad's two operands have one shape (TF merges them; no broadcasting). */
function mergeShapes(a: MaybeShape, b: MaybeShape, node: string): MaybeShape {
  if (a === null) return b;
  if (b === null) return a;
  if (a.length !== b.length)
    fail(node, {
      code: "incompatible-shapes",
      message: `LeakyReluGrad's gradients and features must have one shape: ${formatShape(a)} vs ${formatShape(b)}`,
      expected: formatShape(a),
      received: formatShape(b),
      fix: "pass the gradient of the LeakyRelu's output and its input",
    });
  return a.map((d, i) => mergeDim(d, b[i], node, `LeakyReluGrad's gradients and features differ in dimension ${i}`));
}

registerOp({
  type: "LeakyRelu",
  inputs: 1,
  attrs: { alpha: { kind: "float", default: 0.2 } },
  infer: ([x], _, node) => {
    requireFloat(x, "LeakyRelu", node);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  kernel: ([x], attrs, ctx) => {
    // A float attribute: float32 in TF.
    const alpha = Math.fround(attrs.alpha as number);
    const out = ctx.alloc(x.dtype, x.size);
    const src = x.data;
    for (let i = 0; i < out.length; i++) out[i] = src[i] > 0 ? src[i] : alpha * src[i];
    return [new NDArray(x.dtype, [...x.shape], out)];
  },
  gradient: rule((dy, op) => [leakyReluGrad(dy, op.inputs[0], op.attrs.alpha as number)]),
});

registerOp({
  type: "LeakyReluGrad",
  inputs: 2,
  attrs: { alpha: { kind: "float", default: 0.2 } },
  infer: ([g, x], _, node) => {
    requireFloat(g, "LeakyReluGrad", node);
    requireFloat(x, "LeakyReluGrad", node);
    return [{ dtype: g.dtype, shape: mergeShapes(g.shape, x.shape, node) }];
  },
  kernel: ([g, x], attrs, ctx) => {
    mergeShapes(g.shape, x.shape, ctx.node);
    const alpha = Math.fround(attrs.alpha as number);
    const out = ctx.alloc(g.dtype, g.size);
    for (let i = 0; i < out.length; i++) out[i] = x.data[i] > 0 ? g.data[i] : alpha * g.data[i];
    return [new NDArray(g.dtype, [...g.shape], out)];
  },
  // TF's _LeakyReluGradGrad: the same mask on the incoming gradient; none for the features.
  gradient: rule((ddx, op) => [leakyReluGrad(ddx, op.inputs[1], op.attrs.alpha as number), zerosLike(op.inputs[1])]),
});

/** `tf.nn.leakyRelu(features, alpha = 0.2)`: integer features are cast to float32 first, as in TF. */
export function leakyRelu(features: TensorLike, alpha = 0.2, name = "LeakyRelu"): Tensor {
  const g = graphOf([features]);
  return g.nameScope(name, () => {
    const scope = g.nameScopeValue;
    let x = convertToTensor(features, undefined, "features", g);
    if (x.dtype === "int32") x = cast(x, "float32");
    return g.addOp({ type: "LeakyRelu", name: scope, absoluteName: true, inputs: [x], attrs: { alpha } }).outputs[0];
  });
}

export function leakyReluGrad(gradients: TensorLike, features: TensorLike, alpha = 0.2, name = "LeakyReluGrad"): Tensor {
  return apply1("LeakyReluGrad", [gradients, features], { alpha }, name);
}

/** `tf.nn.softplus(features)`: log(exp(features) + 1). */
export const softplus = (features: TensorLike, name?: string) => unary("Softplus", features, name ?? "Softplus");
/** `tf.nn.softsign(features)`: features / (abs(features) + 1). */
export const softsign = (features: TensorLike, name?: string) => unary("Softsign", features, name ?? "Softsign");
