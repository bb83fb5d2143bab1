/**
 * Message schemas of the GraphDef protos, and the two mappings between the generic text tree
 * and the plain-object model: `encodeMessage` (model -> tree, fields in field-number order,
 * proto3 defaults omitted, map entries sorted by key, as TF writes them) and `decodeMessage`
 * (tree -> model, collecting errors with line and column instead of throwing).
 */
import { closestNames } from "../diagnostics";
import type { ParseError } from "./text-parser";
import { formatDouble, formatFloat32, formatInt, parseBoolLiteral, parseFloatLiteral, parseIntLiteral } from "./text-scalars";
import { isTextMessage, utf8Bytes, utf8String, type Position, type TextField, type TextMessage, type TextValue } from "./text-tree";

export type ScalarType = "string" | "bytes" | "int" | "float" | "double" | "bool" | "enum";

export interface FieldSchema {
  /** The field name in the text format (snake_case). */
  proto: string;
  /** The property of the model object (camelCase). */
  key: string;
  type: ScalarType | "message" | "map" | "opaque";
  /** The message type, or a map's value type. */
  message?: () => MessageSchema;
  repeated?: boolean;
  /** The oneof the field belongs to: written even when it holds the default value. */
  oneof?: string;
  /** Filled with the default ("" / 0 / false / [] / {} / empty message) when absent. */
  required?: boolean;
  /** Enum numbers, for files that write an enum as its number. */
  enumNames?: Record<number, string>;
}

export interface MessageSchema {
  name: string;
  fields: FieldSchema[];
  /** Fields that are accepted and dropped (debug info, handles foldflow has no use for). */
  ignored?: string[];
}

const DATA_TYPES = [
  "DT_INVALID", "DT_FLOAT", "DT_DOUBLE", "DT_INT32", "DT_UINT8", "DT_INT16", "DT_INT8", "DT_STRING", "DT_COMPLEX64", "DT_INT64",
  "DT_BOOL", "DT_QINT8", "DT_QUINT8", "DT_QINT32", "DT_BFLOAT16", "DT_QINT16", "DT_QUINT16", "DT_UINT16", "DT_COMPLEX128",
  "DT_HALF", "DT_RESOURCE", "DT_VARIANT", "DT_UINT32", "DT_UINT64",
];
const DATA_TYPE_NAMES: Record<number, string> = {};
DATA_TYPES.forEach((name, i) => {
  DATA_TYPE_NAMES[i] = name;
  if (i > 0) DATA_TYPE_NAMES[i + 100] = `${name}_REF`;
});

const f = (proto: string, key: string, type: FieldSchema["type"], extra: Partial<FieldSchema> = {}): FieldSchema => ({ proto, key, type, ...extra });
const dtype = (proto: string, key: string, extra: Partial<FieldSchema> = {}) => f(proto, key, "enum", { enumNames: DATA_TYPE_NAMES, ...extra });

export const DimSchema: MessageSchema = { name: "TensorShapeProto.Dim", fields: [f("size", "size", "int", { required: true }), f("name", "name", "string")] };

export const TensorShapeSchema: MessageSchema = {
  name: "TensorShapeProto",
  fields: [f("dim", "dim", "message", { message: () => DimSchema, repeated: true, required: true }), f("unknown_rank", "unknownRank", "bool")],
};

export const TensorSchema: MessageSchema = {
  name: "TensorProto",
  fields: [
    dtype("dtype", "dtype", { required: true }),
    f("tensor_shape", "tensorShape", "message", { message: () => TensorShapeSchema, required: true }),
    f("version_number", "versionNumber", "int"),
    f("tensor_content", "tensorContent", "bytes"),
    f("float_val", "floatVal", "float", { repeated: true }),
    f("double_val", "doubleVal", "double", { repeated: true }),
    f("int_val", "intVal", "int", { repeated: true }),
    f("string_val", "stringVal", "bytes", { repeated: true }),
    f("scomplex_val", "scomplexVal", "float", { repeated: true }),
    f("int64_val", "int64Val", "int", { repeated: true }),
    f("bool_val", "boolVal", "bool", { repeated: true }),
    f("dcomplex_val", "dcomplexVal", "double", { repeated: true }),
    f("half_val", "halfVal", "int", { repeated: true }),
    f("uint32_val", "uint32Val", "int", { repeated: true }),
    f("uint64_val", "uint64Val", "int", { repeated: true }),
  ],
  ignored: ["resource_handle_val", "variant_val"],
};

export const ListValueSchema: MessageSchema = {
  name: "AttrValue.ListValue",
  fields: [
    f("s", "s", "string", { repeated: true }),
    f("i", "i", "int", { repeated: true }),
    f("f", "f", "float", { repeated: true }),
    f("b", "b", "bool", { repeated: true }),
    dtype("type", "type", { repeated: true }),
    f("shape", "shape", "message", { message: () => TensorShapeSchema, repeated: true }),
    f("tensor", "tensor", "message", { message: () => TensorSchema, repeated: true }),
    f("func", "func", "message", { message: () => NameAttrListSchema, repeated: true }),
  ],
};

export const AttrValueSchema: MessageSchema = {
  name: "AttrValue",
  fields: [
    f("list", "list", "message", { message: () => ListValueSchema, oneof: "value" }),
    f("s", "s", "string", { oneof: "value" }),
    f("i", "i", "int", { oneof: "value" }),
    f("f", "f", "float", { oneof: "value" }),
    f("b", "b", "bool", { oneof: "value" }),
    dtype("type", "type", { oneof: "value" }),
    f("shape", "shape", "message", { message: () => TensorShapeSchema, oneof: "value" }),
    f("tensor", "tensor", "message", { message: () => TensorSchema, oneof: "value" }),
    f("placeholder", "placeholder", "string", { oneof: "value" }),
    f("func", "func", "message", { message: () => NameAttrListSchema, oneof: "value" }),
  ],
};

export const NameAttrListSchema: MessageSchema = {
  name: "NameAttrList",
  fields: [f("name", "name", "string", { required: true }), f("attr", "attr", "map", { message: () => AttrValueSchema, required: true })],
};

export const NodeDefSchema: MessageSchema = {
  name: "NodeDef",
  fields: [
    f("name", "name", "string", { required: true }),
    f("op", "op", "string", { required: true }),
    f("input", "input", "string", { repeated: true, required: true }),
    f("device", "device", "string"),
    f("attr", "attr", "map", { message: () => AttrValueSchema, required: true }),
  ],
  ignored: ["experimental_debug_info", "experimental_type"],
};

export const VersionDefSchema: MessageSchema = {
  name: "VersionDef",
  fields: [f("producer", "producer", "int", { required: true }), f("min_consumer", "minConsumer", "int"), f("bad_consumers", "badConsumers", "int", { repeated: true })],
};

export const GraphDefSchema: MessageSchema = {
  name: "GraphDef",
  fields: [
    f("node", "node", "message", { message: () => NodeDefSchema, repeated: true, required: true }),
    f("library", "library", "opaque"),
    f("versions", "versions", "message", { message: () => VersionDefSchema }),
  ],
  ignored: ["version", "debug_info"],
};

// ---- model -> tree ----

function isDefault(type: FieldSchema["type"], v: unknown): boolean {
  if (type === "enum") return v === "DT_INVALID";
  return v === 0 || v === "" || v === false || (v instanceof Uint8Array && v.length === 0);
}

function encodeScalar(type: ScalarType, v: unknown): TextValue {
  switch (type) {
    case "string":
      return { kind: "string", bytes: utf8Bytes(String(v)) };
    case "bytes":
      return { kind: "string", bytes: v as Uint8Array };
    case "int":
      return { kind: "number", text: formatInt(Number(v)) };
    case "float":
    case "double": {
      const text = type === "float" ? formatFloat32(Number(v)) : formatDouble(Number(v));
      return /^-?[a-z]/.test(text) ? { kind: "identifier", text } : { kind: "number", text };
    }
    case "bool":
      return { kind: "identifier", text: v ? "true" : "false" };
    case "enum":
      return { kind: "identifier", text: String(v) };
  }
}

function encodeValue(field: FieldSchema, v: unknown): TextValue {
  if (field.type === "message") return { kind: "message", message: encodeMessage(field.message!(), v as object) };
  if (field.type === "opaque") return { kind: "message", message: v as TextMessage };
  return encodeScalar(field.type as ScalarType, v);
}

/** The text tree of a model object of message type `schema`. */
export function encodeMessage(schema: MessageSchema, obj: object): TextMessage {
  const record = obj as Record<string, unknown>;
  const fields: TextField[] = [];
  for (const field of schema.fields) {
    const v = record[field.key];
    if (v === undefined || v === null) continue;
    if (field.type === "map") {
      const entries = Object.keys(v as object).sort();
      for (const key of entries) {
        const value = encodeMessage(field.message!(), (v as Record<string, object>)[key]);
        const entry: TextMessage = { fields: [{ name: "key", value: encodeScalar("string", key) }, { name: "value", value: { kind: "message", message: value } }] };
        fields.push({ name: field.proto, value: { kind: "message", message: entry } });
      }
    } else if (field.repeated) for (const item of v as unknown[]) fields.push({ name: field.proto, value: encodeValue(field, item) });
    else if (field.type === "opaque" && !isTextMessage(v)) continue;
    else if (field.type === "message" || field.type === "opaque" || field.oneof || !isDefault(field.type, v))
      fields.push({ name: field.proto, value: encodeValue(field, v) });
  }
  return { fields };
}

// ---- tree -> model ----

export interface DecodeContext {
  errors: ParseError[];
}

function fail(ctx: DecodeContext, code: ParseError["code"], message: string, pos: Position | undefined, fix?: string): undefined {
  ctx.errors.push({ code, message, line: pos?.line ?? 0, column: pos?.column ?? 0, fix });
  return undefined;
}

function describeValue(v: TextValue): string {
  if (v.kind === "message") return "a message";
  if (v.kind === "string") return "a string";
  return `\`${v.text}\``;
}

function decodeScalar(field: FieldSchema, owner: string, v: TextValue, ctx: DecodeContext): unknown {
  const bad = (expected: string) =>
    fail(ctx, "bad-value", `field \`${field.proto}\` of ${owner} takes ${expected}, not ${describeValue(v)}`, v.pos, `write ${expected} for \`${field.proto}\``);
  const type = field.type as ScalarType;
  if (type === "string" || type === "bytes") {
    if (v.kind !== "string") return bad("a quoted string");
    return type === "string" ? utf8String(v.bytes) : v.bytes;
  }
  if (v.kind === "message" || v.kind === "string") return bad(type === "enum" ? "an enum name" : `a ${type} value`);
  switch (type) {
    case "int": {
      const n = v.kind === "number" ? parseIntLiteral(v.text) : undefined;
      return n === undefined ? bad("an integer") : n;
    }
    case "float":
    case "double": {
      const n = parseFloatLiteral(v.text);
      return n === undefined ? bad("a number") : n;
    }
    case "bool": {
      const b = parseBoolLiteral(v.text);
      return b === undefined ? bad("true or false") : b;
    }
    case "enum": {
      if (v.kind === "identifier" && !v.text.startsWith("-")) return v.text;
      const n = parseIntLiteral(v.text);
      const name = n === undefined ? undefined : field.enumNames?.[n];
      return name ?? bad("an enum name");
    }
  }
}

function defaultFor(field: FieldSchema): unknown {
  if (field.repeated) return [];
  switch (field.type) {
    case "map":
      return {};
    case "message":
      return decodeMessage(field.message!(), { fields: [] }, { errors: [] });
    case "string":
      return "";
    case "bytes":
      return new Uint8Array(0);
    case "bool":
      return false;
    case "enum":
      return "DT_INVALID";
    case "opaque":
      return undefined;
    default:
      return 0;
  }
}

const fieldIndex = new WeakMap<MessageSchema, Map<string, FieldSchema>>();
function lookup(schema: MessageSchema, name: string): FieldSchema | undefined {
  let index = fieldIndex.get(schema);
  if (!index) {
    index = new Map(schema.fields.map((x) => [x.proto, x]));
    fieldIndex.set(schema, index);
  }
  return index.get(name);
}

/** The model object for `message` read as `schema`; problems go to `ctx.errors`, and the field is skipped. */
export function decodeMessage(schema: MessageSchema, message: TextMessage, ctx: DecodeContext): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const seen = new Map<string, TextField>();
  for (const tf of message.fields) {
    const field = lookup(schema, tf.name);
    const pos = tf.pos ?? tf.value.pos;
    if (!field) {
      if (schema.ignored?.includes(tf.name) || tf.name.startsWith("[")) continue;
      const close = closestNames(tf.name, schema.fields.map((x) => x.proto), 1);
      fail(ctx, "unknown-field", `${schema.name} has no field \`${tf.name}\``, pos, close.length ? `did you mean \`${close[0]}\`?` : `the fields of ${schema.name} are ${schema.fields.map((x) => x.proto).join(", ")}`);
      continue;
    }
    const slot = field.oneof ? `oneof:${field.oneof}` : field.proto;
    if (!field.repeated && field.type !== "map") {
      const prior = seen.get(slot);
      if (prior) {
        const what = prior.name === tf.name ? `field \`${tf.name}\` is set twice` : `field \`${tf.name}\` is set along with \`${prior.name}\`, another member of oneof \`${field.oneof}\``;
        fail(ctx, "bad-value", `${schema.name}: ${what}`, pos, "keep one of them");
        continue;
      }
      seen.set(slot, tf);
    }
    const value = decodeFieldValue(field, schema.name, tf.value, ctx);
    if (value === undefined) continue;
    if (field.type === "map") {
      const [k, val] = value as [string, unknown];
      ((out[field.key] ??= {}) as Record<string, unknown>)[k] = val;
    } else if (field.repeated) ((out[field.key] ??= []) as unknown[]).push(value);
    else out[field.key] = value;
  }
  for (const field of schema.fields) if (field.required && out[field.key] === undefined) out[field.key] = defaultFor(field);
  return out;
}

const entrySchemas = new WeakMap<FieldSchema, MessageSchema>();
/** A map entry: `{ key: "..." value { ... } }`. */
function mapEntrySchema(field: FieldSchema, owner: string): MessageSchema {
  let schema = entrySchemas.get(field);
  if (!schema) {
    schema = {
      name: `${owner}.${field.proto} entry`,
      fields: [f("key", "key", "string", { required: true }), f("value", "value", "message", { message: field.message, required: true })],
    };
    entrySchemas.set(field, schema);
  }
  return schema;
}

function decodeFieldValue(field: FieldSchema, owner: string, v: TextValue, ctx: DecodeContext): unknown {
  const isMessageField = field.type === "message" || field.type === "map" || field.type === "opaque";
  if (isMessageField !== (v.kind === "message")) {
    if (isMessageField)
      return fail(ctx, "bad-value", `field \`${field.proto}\` of ${owner} takes a message, not ${describeValue(v)}`, v.pos, `write \`${field.proto} { ... }\``);
    return fail(ctx, "bad-value", `field \`${field.proto}\` of ${owner} takes a ${field.type} value, not a message`, v.pos, `write \`${field.proto}: value\``);
  }
  if (v.kind !== "message") return decodeScalar(field, owner, v, ctx);
  if (field.type === "opaque") return v.message;
  if (field.type === "message") return decodeMessage(field.message!(), v.message, ctx);
  const entry = decodeMessage(mapEntrySchema(field, owner), v.message, ctx);
  return [entry.key as string, entry.value];
}
