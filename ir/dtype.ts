/** The element types foldflow computes with, named as in TF's Python API. */
export type DType = "float32" | "int32" | "bool";

export const DTYPES: readonly DType[] = ["float32", "int32", "bool"];

/** Host storage. float64 arrays appear only in reference kernels run at high precision (tests). */
export type FloatArray = Float32Array | Float64Array;
export type TypedArray = Float32Array | Float64Array | Int32Array | Uint8Array;

export function isDType(value: unknown): value is DType {
  return typeof value === "string" && (DTYPES as readonly string[]).includes(value);
}

export function isFloat(dtype: DType): boolean {
  return dtype === "float32";
}

/** Allocates zeroed storage for `size` elements of `dtype`. */
export function allocate(dtype: DType, size: number, highPrecision = false): TypedArray {
  switch (dtype) {
    case "float32":
      return highPrecision ? new Float64Array(size) : new Float32Array(size);
    case "int32":
      return new Int32Array(size);
    case "bool":
      return new Uint8Array(size);
  }
}

/** The TF protobuf enum name of a dtype (GraphDef text uses these). */
export function toTFDataType(dtype: DType): string {
  return { float32: "DT_FLOAT", int32: "DT_INT32", bool: "DT_BOOL" }[dtype];
}

export function fromTFDataType(name: string): DType | undefined {
  const table: Record<string, DType> = {
    DT_FLOAT: "float32",
    DT_INT32: "int32",
    DT_BOOL: "bool",
    DT_FLOAT_REF: "float32",
    DT_INT32_REF: "int32",
    DT_BOOL_REF: "bool",
  };
  // Own entries only: a GraphDef may name any type ("toString" must not find Object.prototype's).
  return Object.hasOwn(table, name) ? table[name] : undefined;
}

/** Converts a JS number to the value stored for `dtype`. */
export function coerce(dtype: DType, value: number | boolean): number {
  const n = typeof value === "boolean" ? (value ? 1 : 0) : value;
  if (dtype === "int32") return n | 0;
  if (dtype === "bool") return n ? 1 : 0;
  return n;
}
