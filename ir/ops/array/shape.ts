/**
 * Ops that describe a tensor's shape beside Shape (reshape.ts): Rank, Size and ShapeN. None is
 * differentiable (TF's NotDifferentiable). As TF1's Python wrappers do, `tf.rank` and `tf.size`
 * give a Const when the static shape already answers (so that ops over them keep static shapes);
 * `tf.shapeN` always builds the op.
 */
import type { DType, TypedArray } from "../../dtype";
import { Tensor } from "../../graph";
import { NDArray, ndarray, type NestedArray } from "../../ndarray";
import { registerOp, type Attrs } from "../../registry";
import { isFullyDefined, sizeOf, type MaybeShape } from "../../shape";
import { constantOp, graphOf, type TensorLike } from "../build";
import { buildOp, fail, outputCount, requireSameDType } from "./common";

/** Shape, Size and ShapeN compute in int32 only (foldflow has no int64). */
function checkOutType(type: string, attrs: Attrs, node: string): void {
  if (attrs.out_type !== "int32")
    fail(node, {
      code: "bad-dtype",
      message: `${type}'s out_type must be int32`,
      expected: "int32",
      received: String(attrs.out_type),
      fix: "set out_type to int32 (foldflow computes integers in int32)",
    });
}

function int32Scalar(value: number, alloc: (dtype: DType, size: number) => TypedArray): NDArray {
  const out = alloc("int32", 1);
  out[0] = value;
  return new NDArray("int32", [], out);
}

registerOp({
  type: "Rank",
  inputs: 1,
  nonDifferentiable: true,
  infer: () => [{ dtype: "int32", shape: [] }],
  kernel: ([x], _, ctx) => [int32Scalar(x.rank, ctx.alloc)],
});

registerOp({
  type: "Size",
  inputs: 1,
  attrs: { out_type: { kind: "type", default: "int32" } },
  nonDifferentiable: true,
  infer: (_, attrs, node) => {
    checkOutType("Size", attrs, node);
    return [{ dtype: "int32", shape: [] }];
  },
  kernel: ([x], _, ctx) => [int32Scalar(x.size, ctx.alloc)],
});

registerOp({
  type: "ShapeN",
  inputs: "variadic",
  attrs: { N: { kind: "int" }, out_type: { kind: "type", default: "int32" } },
  nonDifferentiable: true,
  infer: (inputs, attrs, node) => {
    const n = outputCount(attrs.N as number, "ShapeN", "N", node);
    if (n !== inputs.length)
      fail(node, {
        code: "input-count",
        message: `ShapeN's N is ${n} but it has ${inputs.length} input(s)`,
        expected: `${n} inputs`,
        received: `${inputs.length}`,
        fix: "set N to the number of inputs",
      });
    requireSameDType(inputs, "ShapeN", node);
    checkOutType("ShapeN", attrs, node);
    return inputs.map((x) => ({ dtype: "int32" as const, shape: [x.shape === null ? null : x.shape.length] }));
  },
  kernel: (inputs, _, ctx) =>
    inputs.map((x) => {
      const out = ctx.alloc("int32", x.rank);
      x.shape.forEach((d, i) => (out[i] = d));
      return new NDArray("int32", [x.rank], out);
    }),
});

function staticShape(x: TensorLike): MaybeShape {
  if (x instanceof Tensor) return x.shape;
  return (x instanceof NDArray ? x : ndarray(x as NestedArray | TypedArray)).shape;
}

function int32Const(value: number, name: string, x: TensorLike): Tensor {
  return constantOp(new NDArray("int32", [], Int32Array.of(value)), name, graphOf([x]));
}

/** `tf.rank(x)`: an int32 scalar; a Const when x's rank is known statically (TF1's `optimize`). */
export function rank(x: TensorLike, name = "Rank"): Tensor {
  const known = staticShape(x);
  if (known !== null) return int32Const(known.length, name, x);
  return buildOp("Rank", name, [[x, "input"]]).outputs[0];
}

/**
 * `tf.size(x, name?, outType = "int32")` (TF1's argument order): the number of elements, an
 * int32 scalar; a Const when the static shape is fully defined or has a zero dimension (TF1's
 * `optimize`).
 */
export function size(x: TensorLike, name = "Size", outType: DType = "int32"): Tensor {
  const known = staticShape(x);
  if (known !== null && outType === "int32") {
    if (isFullyDefined(known)) return int32Const(sizeOf(known), name, x);
    if (known.some((d) => d === 0)) return int32Const(0, name, x);
  }
  return buildOp("Size", name, [[x, "input"]], { out_type: outType }).outputs[0];
}

/** `tf.shapeN(inputs, outType = "int32")`: the shapes of several tensors (of one dtype) at once. */
export function shapeN(inputs: TensorLike[], outType: DType = "int32", name = "ShapeN"): Tensor[] {
  return buildOp("ShapeN", name, inputs.map((x) => [x, "input"] as [TensorLike, string]), { N: inputs.length, out_type: outType }, graphOf(inputs)).outputs;
}
