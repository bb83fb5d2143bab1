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

function flatten(value: NestedArray, shape: number[], out: number[], depth = 0): void {
  if (Array.isArray(value)) {
    if (shape.length === depth) shape.push(value.length);
    else if (shape[depth] !== value.length)
      throw invalidArgument({
        code: "ragged-array",
        message: `nested array is ragged at depth ${depth}`,
        expected: `${shape[depth]} elements`,
        received: `${value.length}`,
        fix: "give every row the same length",
      });
    for (const v of value) flatten(v, shape, out, depth + 1);
  } else {
    if (depth !== shape.length && out.length > 0)
      throw invalidArgument({
        code: "ragged-array",
        message: `nested array mixes scalars and arrays at depth ${depth}`,
        fix: "give every row the same depth",
      });
    out.push(typeof value === "boolean" ? (value ? 1 : 0) : value);
  }
}

/** The shape and flat values of nested JS arrays. */
export function flattenNested(value: NestedArray): { shape: number[]; values: number[]; isBool: boolean } {
  const shape: number[] = [];
  const values: number[] = [];
  flatten(value, shape, values);
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
    for (let i = 0; i < data.length; i++) store[i] = coerce(dt, data[i]);
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
