import { allocate, coerce, isDType, type DType, type TypedArray } from "./dtype";
import { invalidArgument } from "./diagnostics";
import { formatShape, sizeOf } from "./shape";

/** Nested JS arrays of numbers or booleans, as `toArray()` returns and feeds accept. */
export type NestedArray = number | boolean | NestedArray[];

/** A host value: dtype, concrete shape and row-major storage. */
export class NDArray {
  readonly dtype: DType;
  readonly shape: number[];
  readonly data: TypedArray;
  constructor(dtype: DType, shape: number[], data: TypedArray) {
    if (data.length !== sizeOf(shape))
      throw invalidArgument({
        code: "ndarray-size",
        message: `an NDArray of shape ${formatShape(shape)} needs ${sizeOf(shape)} elements`,
        expected: `${sizeOf(shape)} elements`,
        received: `${data.length}`,
        fix: "pass data whose length is the product of the shape",
      });
    this.dtype = dtype;
    this.shape = shape;
    this.data = data;
  }
  get size(): number {
    return this.data.length;
  }
  get rank(): number {
    return this.shape.length;
  }
  /** Nested JS arrays (booleans for bool tensors); a scalar gives a plain value. */
  toArray(): NestedArray {
    const toValue = (v: number): number | boolean => (this.dtype === "bool" ? v !== 0 : v);
    const build = (dim: number, offset: number): NestedArray => {
      if (dim === this.shape.length) return toValue(this.data[offset]);
      const stride = sizeOf(this.shape.slice(dim + 1));
      const out: NestedArray[] = [];
      for (let i = 0; i < this.shape[dim]; i++) out.push(build(dim + 1, offset + i * stride));
      return out;
    };
    return build(0, 0);
  }
  /** A flat JS array copy of the data. */
  values(): number[] {
    return Array.from(this.data, (v) => v);
  }
  /** The single value of a one-element array. */
  scalar(): number {
    return this.data[0];
  }
  toString(): string {
    return `NDArray(${this.dtype}, ${formatShape(this.shape)}, ${JSON.stringify(this.toArray())})`;
  }
}

/** The most levels nested arrays may have: TF's most dimensions (TensorShape::MaxDimensions). */
const MAX_NESTING = 254;

/** How an element that is neither a number nor a boolean reads in messages. */
function describeElement(v: unknown): string {
  if (v === null) return "null";
  if (typeof v === "string") return `the string ${JSON.stringify(v.length > 20 ? `${v.slice(0, 20)}...` : v)}`;
  if (typeof v === "object") return `an object (${Object.prototype.toString.call(v).slice(8, -1)})`;
  return typeof v === "undefined" ? "undefined" : `a ${typeof v}`;
}

/** Appends the leaves of `value` (at `depth`) to `out`, checking them against `shape` (read from the first elements). */
function flatten(value: unknown, shape: readonly number[], out: number[], depth: number): void {
  if (Array.isArray(value)) {
    if (depth === shape.length || shape[depth] !== value.length)
      throw invalidArgument({
        code: "ragged-array",
        message: depth === shape.length ? `nested array mixes scalars and arrays at depth ${depth}` : `nested array is ragged at depth ${depth}`,
        expected: depth === shape.length ? "a number or a boolean" : `${shape[depth]} elements`,
        received: depth === shape.length ? "an array" : `${value.length}`,
        fix: "give every row the same length and depth",
      });
    for (let i = 0; i < value.length; i++) {
      // A hole ([1, , 3]) is not an element: `for ... of` would read it as undefined.
      if (!(i in value))
        throw invalidArgument({ code: "bad-element", message: `nested array has a hole at index ${i} (depth ${depth})`, expected: "a number or a boolean", received: "nothing", fix: "give every element a value" });
      flatten(value[i], shape, out, depth + 1);
    }
    return;
  }
  if (depth !== shape.length)
    throw invalidArgument({
      code: "ragged-array",
      message: `nested array mixes scalars and arrays at depth ${depth}`,
      expected: `an array of ${shape[depth]} elements`,
      received: "a scalar",
      fix: "give every row the same length and depth",
    });
  if (typeof value === "number") out.push(value);
  else if (typeof value === "boolean") out.push(value ? 1 : 0);
  else
    throw invalidArgument({
      code: "bad-element",
      message: `nested array holds ${describeElement(value)}, not a number or a boolean`,
      expected: "numbers or booleans",
      received: describeElement(value),
      fix: "convert the elements to numbers (or booleans) first",
    });
}

/**
 * The shape and flat values of nested JS arrays: the shape is read from the first elements,
 * then every row must match it (no ragged rows, no holes, no scalar beside an array), every
 * leaf must be a number or a boolean, and there are at most 254 levels.
 */
export function flattenNested(value: NestedArray): { shape: number[]; values: number[]; isBool: boolean } {
  const shape: number[] = [];
  for (let v: unknown = value; Array.isArray(v); v = v[0]) {
    if (shape.length === MAX_NESTING)
      throw invalidArgument({
        code: "too-deep",
        message: `nested array is more than ${MAX_NESTING} levels deep`,
        expected: `at most ${MAX_NESTING} levels (a tensor has at most ${MAX_NESTING} dimensions)`,
        received: "more",
        fix: "pass an array with one level per dimension",
      });
    shape.push(v.length);
    if (v.length === 0) break;
  }
  const values: number[] = [];
  flatten(value, shape, values, 0);
  const isBool = firstLeaf(value) !== undefined && typeof firstLeaf(value) === "boolean";
  return { shape, values, isBool };
}

function firstLeaf(value: NestedArray): number | boolean | undefined {
  let v: NestedArray = value;
  while (Array.isArray(v)) {
    if (v.length === 0) return undefined;
    v = v[0];
  }
  return v;
}

/**
 * Makes an NDArray from a typed array, a flat or nested JS array, or a scalar.
 * `tf.ndarray([1, 2, 3, 4], [2, 2])`, `tf.ndarray([[1, 2], [3, 4]])`, `tf.ndarray(3)`.
 */
export function ndarray(data: TypedArray | NestedArray, shape?: number[], dtype?: DType): NDArray {
  if (dtype !== undefined && !isDType(dtype))
    throw invalidArgument({
      code: "bad-dtype",
      message: `unknown dtype ${String(dtype)}`,
      expected: "float32, int32 or bool",
      received: String(dtype),
    });
  if (ArrayBuffer.isView(data)) {
    const dt: DType = dtype ?? (data instanceof Int32Array ? "int32" : data instanceof Uint8Array ? "bool" : "float32");
    const s = shape ?? [data.length];
    const store = allocate(dt, data.length);
    // The same element type needs no coercion: one block copy (a training step's feeds).
    if ((dt === "float32" && data instanceof Float32Array) || (dt === "int32" && data instanceof Int32Array)) store.set(data);
    else for (let i = 0; i < data.length; i++) store[i] = coerce(dt, data[i]);
    return new NDArray(dt, s, store);
  }
  const { shape: inferred, values, isBool } = flattenNested(data);
  const dt: DType = dtype ?? (isBool ? "bool" : "float32");
  const s = shape ?? inferred;
  const store = allocate(dt, values.length);
  for (let i = 0; i < values.length; i++) store[i] = coerce(dt, values[i]);
  return new NDArray(dt, s, store);
}

/** A copy of `a` with a new shape (same element count). */
export function reshaped(a: NDArray, shape: number[]): NDArray {
  return new NDArray(a.dtype, shape, a.data);
}
