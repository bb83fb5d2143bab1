/**
 * Helpers every op family uses to build its ops: tensor conversion and `apply`.
 * Builders (`add`, `matmul` ...) live beside their op's definition and are re-exported by src/.
 */
import { allocate, coerce, isDType, type DType, type TypedArray } from "../dtype";
import { invalidArgument } from "../diagnostics";
import { getDefaultGraph, Graph, Operation, Tensor } from "../graph";
import { NDArray, ndarray, type NestedArray } from "../ndarray";
import type { Attrs } from "../registry";

/** Anything a builder accepts where a tensor is expected. */
export type TensorLike = Tensor | NDArray | NestedArray | TypedArray;

/** The graph that ops over `values` belong to: the first tensor's, else the default graph. */
export function graphOf(values: readonly unknown[]): Graph {
  for (const v of values) if (v instanceof Tensor) return v.graph;
  return getDefaultGraph();
}

/** TF's convert_to_tensor: tensors pass through, everything else becomes a Const. */
export function convertToTensor(value: TensorLike, dtype?: DType, name = "Const", graph?: Graph): Tensor {
  if (value instanceof Tensor) {
    if (dtype !== undefined && value.dtype !== dtype)
      throw invalidArgument({
        code: "dtype-mismatch",
        node: value.name,
        message: `tensor \`${value.name}\` has dtype ${value.dtype}`,
        expected: dtype,
        received: value.dtype,
        fix: `cast it first: tf.cast(${value.op.name}, "${dtype}")`,
      });
    return value;
  }
  const array = value instanceof NDArray ? value : ndarray(value as TypedArray | NestedArray, undefined, dtype ?? inferDType(value));
  const converted = dtype !== undefined && array.dtype !== dtype ? castArray(array, dtype) : array;
  return constantOp(converted, name, graph ?? getDefaultGraph());
}

function inferDType(value: TensorLike): DType | undefined {
  if (value instanceof Int32Array) return "int32";
  if (value instanceof Uint8Array) return "bool";
  return undefined;
}

export function castArray(a: NDArray, dtype: DType): NDArray {
  const out = allocate(dtype, a.size);
  for (let i = 0; i < a.size; i++) out[i] = coerce(dtype, a.data[i]);
  return new NDArray(dtype, [...a.shape], out);
}

export function constantOp(value: NDArray, name: string, graph: Graph): Tensor {
  return graph.addOp({ type: "Const", name, attrs: { value, dtype: value.dtype } }).outputs[0];
}

/** Converts several values, giving untyped literals the dtype of the first tensor among them. */
export function convertAll(values: TensorLike[], graph?: Graph): Tensor[] {
  const g = graph ?? graphOf(values);
  const firstTensor = values.find((v): v is Tensor => v instanceof Tensor);
  const hint = firstTensor?.dtype;
  return values.map((v) => (v instanceof Tensor ? v : convertToTensor(v, hint, "Const", g)));
}

/** Adds op `type` over `inputs` to their graph and returns the operation. */
export function apply(type: string, inputs: TensorLike[], attrs: Attrs = {}, name?: string): Operation {
  const graph = graphOf(inputs);
  const tensors = convertAll(inputs, graph);
  return graph.addOp({ type, inputs: tensors, attrs, name });
}

/** `apply` for single-output ops. */
export function apply1(type: string, inputs: TensorLike[], attrs: Attrs = {}, name?: string): Tensor {
  return apply(type, inputs, attrs, name).outputs[0];
}

export function requireDType(value: unknown, node: string): DType {
  if (!isDType(value))
    throw invalidArgument({
      code: "bad-dtype",
      node,
      message: `unknown dtype ${JSON.stringify(value)}`,
      expected: "float32, int32 or bool",
      received: String(value),
      fix: 'use "float32", "int32" or "bool"',
    });
  return value;
}
