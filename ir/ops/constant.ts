/** Const, Placeholder, PlaceholderWithDefault: where values enter the graph. */
import type { DType } from "../dtype";
import { invalidArgument } from "../diagnostics";
import type { Tensor } from "../graph";
import { NDArray, ndarray, type NestedArray } from "../ndarray";
import { registerOp } from "../registry";
import { formatShape, isCompatible, isFullyDefined, sizeOf, type MaybeShape, type Shape } from "../shape";
import { castArray, constantOp, convertToTensor, graphOf, requireDType, type TensorLike } from "./build";
import { getDefaultGraph } from "../graph";

registerOp({
  type: "Const",
  inputs: 0,
  attrs: { value: { kind: "tensor" }, dtype: { kind: "type" } },
  infer: (_, attrs) => {
    const v = attrs.value as NDArray;
    return [{ dtype: v.dtype, shape: [...v.shape] }];
  },
  kernel: (_, attrs) => [attrs.value as NDArray],
});

registerOp({
  type: "Placeholder",
  inputs: 0,
  attrs: { dtype: { kind: "type" }, shape: { kind: "shape", default: null } },
  infer: (_, attrs) => [{ dtype: attrs.dtype as DType, shape: attrs.shape as MaybeShape }],
  kernel: (_, attrs, ctx) => {
    throw invalidArgument({
      code: "missing-feed",
      node: ctx.node,
      message: `you must feed a value for placeholder \`${ctx.node}\``,
      expected: `a ${attrs.dtype as string} value of shape ${formatShape(attrs.shape as MaybeShape)}`,
      received: "no feed",
      fix: `pass { "${ctx.node}": value } in the feeds of sess.run`,
    });
  },
});

registerOp({
  type: "PlaceholderWithDefault",
  inputs: 1,
  attrs: { dtype: { kind: "type" }, shape: { kind: "shape", default: null } },
  infer: (inputs, attrs, node) => {
    const shape = attrs.shape as MaybeShape;
    const input = inputs[0];
    if (isFullyDefined(input.shape) && !isCompatible(input.shape, shape))
      throw invalidArgument({
        code: "bad-default",
        node,
        message: "the default value's shape does not fit the placeholder's shape",
        expected: formatShape(shape),
        received: formatShape(input.shape),
        fix: "give a default of the declared shape",
      });
    return [{ dtype: input.dtype, shape: shape ?? input.shape }];
  },
  kernel: (inputs) => [inputs[0]],
  gradient: (_, [dy]) => [dy],
});

/** `tf.constant(value, shape?, dtype?, name?)`. A scalar value fills the shape. */
export function constant(value: NestedArray | NDArray | Float32Array | Int32Array | Uint8Array, shape?: number[], dtype?: DType, name = "Const"): Tensor {
  if (dtype !== undefined) requireDType(dtype, name);
  let array: NDArray;
  if (value instanceof NDArray) array = dtype && dtype !== value.dtype ? castArray(value, dtype) : value;
  else if ((typeof value === "number" || typeof value === "boolean") && shape !== undefined) {
    const dt = dtype ?? (typeof value === "boolean" ? "bool" : "float32");
    array = ndarray(new Array(sizeOf(shape)).fill(value), shape, dt);
  } else array = ndarray(value, shape, dtype);
  return constantOp(array, name, getDefaultGraph());
}

/** `tf.placeholder(dtype, shape?, name?)`; `null` dims are fed freely. */
export function placeholder(dtype: DType, shape: Shape | null = null, name = "Placeholder"): Tensor {
  requireDType(dtype, name);
  return getDefaultGraph().addOp({ type: "Placeholder", name, attrs: { dtype, shape } }).outputs[0];
}

/** `tf.placeholderWithDefault(input, shape, name?)`: the default runs when nothing is fed. */
export function placeholderWithDefault(input: TensorLike, shape: Shape | null, name = "PlaceholderWithDefault"): Tensor {
  const g = graphOf([input]);
  const t = convertToTensor(input, undefined, `${name}/input`, g);
  return g.addOp({ type: "PlaceholderWithDefault", name, inputs: [t], attrs: { dtype: t.dtype, shape } }).outputs[0];
}
