/**
 * foldflow attribute values <-> TF AttrValue protos, by attribute kind (the OpDef schema's,
 * else recorded at import, else inferred from the JS value). Tensors are written as TF's
 * make_tensor_proto does: tensor_content (little-endian bytes) for several float/int values,
 * `*_val` for one value, bool_val for bools; reading pads a short `*_val` with its last value.
 */
import { allocate, fromTFDataType, isDType, toTFDataType, type DType } from "../dtype";
import { invalidArgument, UnimplementedError } from "../diagnostics";
import type { Graph } from "../graph";
import { NDArray } from "../ndarray";
import type { AttrKind, AttrValue } from "../registry";
import { formatShape, sizeOf, type MaybeShape } from "../shape";
import { attrValueCase, type AttrListValue, type AttrValueProto, type DataTypeName, type TensorProto, type TensorShapeProto } from "./model";

// ---- shapes ----

export function shapeToProto(shape: MaybeShape): TensorShapeProto {
  if (shape === null) return { dim: [], unknownRank: true };
  return { dim: shape.map((d) => ({ size: d ?? -1 })) };
}

/** Unknown rank gives null; dims of -1 give null. */
export function shapeFromProto(p: TensorShapeProto): MaybeShape {
  if (p.unknownRank) return null;
  return p.dim.map((d) => (d.size < 0 ? null : d.size));
}

// ---- tensors ----

function dataTypeName(v: unknown): DataTypeName {
  return isDType(v) ? toTFDataType(v) : String(v);
}

export function tensorToProto(a: NDArray): TensorProto {
  const proto: TensorProto = { dtype: toTFDataType(a.dtype), tensorShape: shapeToProto(a.shape) };
  const n = a.size;
  if (n === 0) return proto;
  if (a.dtype === "bool") proto.boolVal = Array.from(a.data, (v) => v !== 0);
  else if (n === 1) {
    if (a.dtype === "float32") proto.floatVal = [a.data[0]];
    else proto.intVal = [a.data[0]];
  } else {
    const bytes = new Uint8Array(n * 4);
    const view = new DataView(bytes.buffer);
    if (a.dtype === "float32") for (let i = 0; i < n; i++) view.setFloat32(i * 4, a.data[i], true);
    else for (let i = 0; i < n; i++) view.setInt32(i * 4, a.data[i], true);
    proto.tensorContent = bytes;
  }
  return proto;
}

function unsupportedDType(name: string, node: string, what: string): UnimplementedError {
  return new UnimplementedError({
    code: "unsupported-dtype",
    node,
    message: `${what} has dtype ${name}, which foldflow does not compute with`,
    expected: "DT_FLOAT, DT_INT32 or DT_BOOL",
    received: name,
    fix: "cast the value to float32, int32 or bool in TF before exporting the graph",
  });
}

/** The NDArray of a TensorProto; `node` names the node in errors. */
export function tensorFromProto(p: TensorProto, node: string, what = "a tensor attribute"): NDArray {
  const dtype = fromTFDataType(p.dtype);
  if (!dtype) throw unsupportedDType(p.dtype, node, what);
  const shape = shapeFromProto(p.tensorShape);
  if (shape === null || shape.some((d) => d === null))
    throw invalidArgument({
      code: "bad-tensor",
      node,
      message: `${what} has a shape that is not fully defined`,
      expected: "known dimensions",
      received: formatShape(shape),
      fix: "give every dimension of the tensor a size",
    });
  const dims = shape as number[];
  const n = sizeOf(dims);
  const out = allocate(dtype, n);
  const content = p.tensorContent;
  if (content && content.length > 0) {
    const itemSize = dtype === "bool" ? 1 : 4;
    if (content.length !== n * itemSize)
      throw invalidArgument({
        code: "bad-tensor",
        node,
        message: `the tensor_content of ${what} does not fit its shape ${formatShape(dims)}`,
        expected: `${n * itemSize} bytes`,
        received: `${content.length} bytes`,
        fix: "write the tensor again; the file may be truncated",
      });
    const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
    if (dtype === "float32") for (let i = 0; i < n; i++) out[i] = view.getFloat32(i * 4, true);
    else if (dtype === "int32") for (let i = 0; i < n; i++) out[i] = view.getInt32(i * 4, true);
    else for (let i = 0; i < n; i++) out[i] = content[i] ? 1 : 0;
    return new NDArray(dtype, dims, out);
  }
  const values: ArrayLike<number | boolean> =
    dtype === "float32" ? p.floatVal ?? [] : dtype === "int32" ? p.intVal ?? [] : p.boolVal ?? [];
  if (values.length > n)
    throw invalidArgument({
      code: "bad-tensor",
      node,
      message: `${what} lists more values than its shape ${formatShape(dims)} holds`,
      expected: `at most ${n} values`,
      received: `${values.length} values`,
      fix: "make the shape and the values agree",
    });
  for (let i = 0; i < values.length; i++) out[i] = Number(values[i]);
  if (values.length > 0) out.fill(Number(values[values.length - 1]), values.length);
  return new NDArray(dtype, dims, out);
}

// ---- attributes ----

/** The AttrValue proto of a foldflow attribute value of `kind`. */
export function attrToProto(kind: AttrKind, value: AttrValue): AttrValueProto {
  const list = value as unknown[];
  switch (kind) {
    case "int":
      return { i: value as number };
    case "float":
      return { f: value as number };
    case "bool":
      return { b: value as boolean };
    case "string":
      return { s: value as string };
    case "type":
      return { type: dataTypeName(value) };
    case "shape":
      return { shape: shapeToProto(value as MaybeShape) };
    case "tensor":
      return { tensor: tensorToProto(value as NDArray) };
    case "list(int)":
      return { list: { i: [...(list as number[])] } };
    case "list(float)":
      return { list: { f: [...(list as number[])] } };
    case "list(string)":
      return { list: { s: [...(list as string[])] } };
    case "list(type)":
      return { list: { type: list.map(dataTypeName) } };
    case "list(shape)":
      return { list: { shape: (list as MaybeShape[]).map(shapeToProto) } };
  }
}

const isShapeLike = (v: unknown) => v === null || (Array.isArray(v) && v.every((d) => d === null || Number.isInteger(d)));

/** The kind of an attribute no schema describes, from its JS value (integers are `int`, dtype names are `type`). */
export function inferAttrKind(value: AttrValue): AttrKind | undefined {
  if (typeof value === "boolean") return "bool";
  if (typeof value === "number") return Number.isInteger(value) ? "int" : "float";
  if (typeof value === "string") return isDType(value) ? "type" : "string";
  if (value === null) return "shape";
  if (value instanceof NDArray) return "tensor";
  if (!Array.isArray(value)) return undefined;
  const items = value as unknown[];
  if (items.length === 0) return "list(int)";
  if (items.every((x) => typeof x === "number")) return items.every((x) => Number.isInteger(x)) ? "list(int)" : "list(float)";
  if (items.every((x) => x === null || typeof x === "number")) return "shape";
  if (items.every(isDType)) return "list(type)";
  if (items.every((x) => typeof x === "string")) return "list(string)";
  if (items.every(isShapeLike)) return "list(shape)";
  return undefined;
}

const LIST_KINDS: Partial<Record<keyof AttrListValue, AttrKind>> = { i: "list(int)", f: "list(float)", s: "list(string)", type: "list(type)", shape: "list(shape)" };
const CASE_KINDS: Record<string, AttrKind> = { i: "int", f: "float", b: "bool", s: "string", type: "type", shape: "shape", tensor: "tensor" };

/** The kind an AttrValue proto holds; undefined for what foldflow has no attribute kind for (func, list(bool) ...). */
export function protoAttrKind(p: AttrValueProto): AttrKind | undefined {
  const c = attrValueCase(p);
  if (c === undefined) return undefined;
  if (c !== "list") return CASE_KINDS[c];
  const list = (p as { list: AttrListValue }).list;
  const members = (Object.keys(list) as (keyof AttrListValue)[]).filter((k) => (list[k]?.length ?? 0) > 0);
  if (members.length === 0) return "list(int)";
  return members.length === 1 ? LIST_KINDS[members[0]] : undefined;
}

function dtypeOf(name: string, node: string, key: string, strict: boolean): DType | string {
  const d = fromTFDataType(name);
  if (d) return d;
  if (strict) throw unsupportedDType(name, node, `attribute \`${key}\``);
  return name;
}

/**
 * The foldflow value of AttrValue `p`. With a schema `kind` the proto must hold that kind (an
 * int is accepted for a float); without one the kind is the proto's. Returns undefined for
 * attributes foldflow cannot hold (functions, unsupported tensors) outside the schema.
 */
export function attrFromProto(p: AttrValueProto, kind: AttrKind | undefined, node: string, key: string): { value: AttrValue; kind: AttrKind } | undefined {
  const held = protoAttrKind(p);
  const strict = kind !== undefined;
  const target = kind ?? held;
  if (target === undefined) return undefined;
  const compatible = held === target || (target === "float" && held === "int") || (target === "list(float)" && held === "list(int)") ||
    (target.startsWith("list(") && attrValueCase(p) === "list" && held === "list(int)" && Object.values((p as { list: AttrListValue }).list).every((v) => !v?.length));
  if (!compatible)
    throw invalidArgument({
      code: "bad-attr",
      node,
      message: `attribute \`${key}\` has the wrong kind in the GraphDef`,
      expected: target,
      received: held ?? attrValueCase(p) ?? "an empty AttrValue",
      fix: `write \`${key}\` as a ${target}`,
    });
  const r = p as Record<string, unknown>;
  const list = (r.list ?? {}) as AttrListValue;
  let value: AttrValue;
  switch (target) {
    case "int":
    case "float":
      value = (r.i ?? r.f) as number;
      break;
    case "bool":
      value = r.b as boolean;
      break;
    case "string":
      value = r.s as string;
      break;
    case "type":
      value = dtypeOf(r.type as string, node, key, strict);
      break;
    case "shape":
      value = shapeFromProto(r.shape as TensorShapeProto);
      break;
    case "tensor": {
      const t = r.tensor as TensorProto;
      if (!strict && !fromTFDataType(t.dtype)) return undefined;
      value = tensorFromProto(t, node, `attribute \`${key}\``);
      break;
    }
    case "list(int)":
      value = [...(list.i ?? [])];
      break;
    case "list(float)":
      value = [...(list.f ?? list.i ?? [])];
      break;
    case "list(string)":
      value = [...(list.s ?? [])];
      break;
    case "list(type)":
      value = (list.type ?? []).map((t) => dtypeOf(t, node, key, strict)) as DType[];
      break;
    case "list(shape)":
      value = (list.shape ?? []).map(shapeFromProto);
      break;
  }
  return { value, kind: target };
}

// ---- attribute kinds recorded at import (for attributes outside the op's schema) ----

const ATTR_KINDS_KEY = "graphdef.attrKinds";

/** Per-op kinds of the imported attributes the op schema does not describe (`T: type` ...). */
export function recordedAttrKinds(graph: Graph): Map<string, Record<string, AttrKind>> {
  let kinds = graph.extras.get(ATTR_KINDS_KEY) as Map<string, Record<string, AttrKind>> | undefined;
  if (!kinds) {
    kinds = new Map();
    graph.extras.set(ATTR_KINDS_KEY, kinds);
  }
  return kinds;
}
