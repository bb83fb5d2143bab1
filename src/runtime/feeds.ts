/** Turning user feeds (names or tensors to values of many forms) into checked NDArrays. */
import { allocate, coerce, type DType, type TypedArray } from "../../ir/dtype";
import { InvalidArgumentError, invalidArgument, notFound, suggestion } from "../../ir/diagnostics";
import { Operation, Tensor, type Graph } from "../../ir/graph";
import { NDArray, flattenNested, type NestedArray } from "../../ir/ndarray";
import { formatShape, isCompatible, sizeOf, type MaybeShape } from "../../ir/shape";

export type FeedValue = NDArray | TypedArray | NestedArray;
export type FeedDict = Record<string, FeedValue> | Map<Tensor | string, FeedValue>;

/** Resolves a name ("x", "x:0") to a tensor of `graph`, with a suggestion when unknown. */
export function resolveTensorName(graph: Graph, name: string, what: string): Tensor {
  const m = /^(.*):(\d+)$/.exec(name);
  const opName = m ? m[1] : name;
  if (!graph.hasOperation(opName))
    throw notFound({
      code: "unknown-name",
      node: name,
      message: `${what} \`${name}\` is not in the graph`,
      fix: suggestion(opName, graph.operations.map((o) => o.name), "name"),
    });
  return graph.getTensorByName(name);
}

/**
 * The feeds as checked NDArrays by tensor. `names` (optional) memoizes name → tensor lookups
 * across calls on one graph: a name, once resolved, always means the same tensor (operations are
 * never removed or renamed); unknown names are not memoized and fail each time.
 */
export function normalizeFeeds(graph: Graph, feeds: FeedDict | undefined, highPrecision = false, names?: Map<string, Tensor>): Map<Tensor, NDArray> {
  const out = new Map<Tensor, NDArray>();
  if (!feeds) return out;
  if (feeds instanceof Map)
    for (const [key, value] of feeds) {
      const tensor = feedTensor(graph, key, names);
      out.set(tensor, toFeedArray(tensor, value, highPrecision));
    }
  else
    for (const key in feeds) {
      if (!Object.prototype.hasOwnProperty.call(feeds, key)) continue;
      const tensor = feedTensor(graph, key, names);
      out.set(tensor, toFeedArray(tensor, feeds[key], highPrecision));
    }
  return out;
}

/** The tensor a feed key names, checked to belong to `graph`. */
function feedTensor(graph: Graph, key: Tensor | string, names: Map<string, Tensor> | undefined): Tensor {
  let tensor: Tensor;
  if (key instanceof Tensor) tensor = key;
  else if ((key as unknown) instanceof Operation) tensor = (key as unknown as Operation).output;
  else {
    const known = names?.get(key);
    if (known) return known;
    tensor = resolveTensorName(graph, key, "feed key");
    names?.set(key, tensor);
  }
  if (tensor.graph !== graph)
    throw invalidArgument({
      code: "foreign-feed",
      node: tensor.name,
      message: `feed key \`${tensor.name}\` belongs to another graph than the session's`,
      fix: "create the session with { graph } for the graph the tensor was built in",
    });
  return tensor;
}

/** The error for a value that cannot be fed for `tensor`. */
function badFeed(tensor: Tensor, received: string, expected: string, fix: string): InvalidArgumentError {
  return invalidArgument({
    code: "bad-feed",
    node: tensor.name,
    message: `cannot feed this value for tensor \`${tensor.name}\``,
    expected,
    received,
    fix,
  });
}

/** Converts and checks one feed value against the tensor's dtype and static shape. */
export function toFeedArray(tensor: Tensor, value: FeedValue, highPrecision = false): NDArray {
  const declared = tensor.shape;
  let array: NDArray;
  if (value instanceof NDArray) {
    if (value.dtype !== tensor.dtype)
      throw badFeed(tensor, `dtype ${value.dtype}`, `dtype ${tensor.dtype}`, `convert the value to ${tensor.dtype} before feeding it`);
    array = value;
  } else if (ArrayBuffer.isView(value)) {
    if (value instanceof DataView || value instanceof BigInt64Array || value instanceof BigUint64Array)
      throw badFeed(tensor, `a ${value.constructor.name}`, `${tensor.dtype} data`, `pass a ${tensor.dtype === "int32" ? "Int32Array" : tensor.dtype === "bool" ? "Uint8Array" : "Float32Array"} of numbers`);
    const typed = value as TypedArray;
    const kind: DType = typed instanceof Int32Array ? "int32" : typed instanceof Uint8Array ? "bool" : "float32";
    // Float64Array feeds are float32 values given at high precision (finite-difference checks).
    if (kind !== tensor.dtype)
      throw badFeed(tensor, `a ${typed.constructor.name}`, `${tensor.dtype} data`, `pass a ${tensor.dtype === "int32" ? "Int32Array" : tensor.dtype === "bool" ? "Uint8Array" : "Float32Array"}`);
    const shape = inferFeedShape(declared, typed.length, tensor);
    const store = allocate(tensor.dtype, typed.length, highPrecision);
    // A bool is 0 or 1: a Uint8Array may hold other bytes, which mean true.
    if (tensor.dtype === "bool") for (let i = 0; i < typed.length; i++) store[i] = typed[i] ? 1 : 0;
    else store.set(typed);
    array = new NDArray(tensor.dtype, shape, store);
  } else {
    const { shape, values, isBool } = flattenFeed(value, tensor);
    if (isBool !== (tensor.dtype === "bool") && values.length > 0)
      throw badFeed(tensor, isBool ? "booleans" : "numbers", tensor.dtype, tensor.dtype === "bool" ? "feed true/false" : "feed numbers");
    if (tensor.dtype === "int32" && values.some((v) => !Number.isInteger(v)))
      throw badFeed(tensor, "non-integer numbers", "int32", "round the values or feed a float32 tensor");
    const outside = tensor.dtype === "int32" ? values.find((v) => v < -2147483648 || v > 2147483647) : undefined;
    if (outside !== undefined) throw badFeed(tensor, `${outside}, outside int32's range`, "int32 values in [-2147483648, 2147483647]", "feed values that fit in int32, or a float32 tensor");
    const store = allocate(tensor.dtype, values.length, highPrecision);
    for (let i = 0; i < values.length; i++) store[i] = coerce(tensor.dtype, values[i]);
    array = new NDArray(tensor.dtype, shape, store);
  }
  if (!isCompatible(array.shape, declared))
    throw badFeed(tensor, `shape ${formatShape(array.shape)}`, `shape ${formatShape(declared)}`, `feed a value of shape ${formatShape(declared)}`);
  return array;
}

/** flattenNested, with its errors (ragged rows, holes, odd elements, too deep) naming the feed. */
function flattenFeed(value: unknown, tensor: Tensor): ReturnType<typeof flattenNested> {
  try {
    return flattenNested(value as NestedArray);
  } catch (e) {
    if (!(e instanceof InvalidArgumentError)) throw e;
    throw invalidArgument({ ...e.diagnostic, node: tensor.name, message: `cannot feed this value for tensor \`${tensor.name}\`: ${e.diagnostic.message}` });
  }
}

function inferFeedShape(declared: MaybeShape, length: number, tensor: Tensor): number[] {
  if (declared === null) return [length];
  const unknown = declared.filter((d) => d === null).length;
  const known = sizeOf(declared.filter((d): d is number => d !== null));
  if (unknown > 1) throw flatMismatch(declared, length, tensor);
  if (unknown === 0) {
    if (known !== length) throw flatMismatch(declared, length, tensor);
    return declared as number[];
  }
  if (known === 0 || length % known !== 0) throw flatMismatch(declared, length, tensor);
  return declared.map((d) => (d === null ? length / known : d));
}

function flatMismatch(declared: MaybeShape, length: number, tensor: Tensor): InvalidArgumentError {
  return invalidArgument({
    code: "bad-feed",
    node: tensor.name,
    message: `a flat array of ${length} elements does not fit tensor \`${tensor.name}\``,
    expected: `shape ${formatShape(declared)}`,
    received: `${length} elements`,
    fix: "feed an NDArray with an explicit shape, or data whose length fits the declared shape",
  });
}
