/**
 * A plain-object model of TensorFlow's GraphDef protobuf (graph.proto, node_def.proto,
 * attr_value.proto, tensor.proto, tensor_shape.proto, versions.proto). Field names are the
 * proto fields in camelCase; enums (DataType) are kept as their TF names ("DT_FLOAT"), so a
 * model can describe every GraphDef, including dtypes foldflow does not compute with.
 */

/** A TF `DataType` enum name: "DT_FLOAT", "DT_INT32", "DT_BOOL", "DT_INT64" ... */
export type DataTypeName = string;

export interface TensorShapeDim {
  /** -1 for an unknown dimension. */
  size: number;
  name?: string;
}

export interface TensorShapeProto {
  dim: TensorShapeDim[];
  unknownRank?: boolean;
}

/** TF's TensorProto: the values are in `tensorContent` (raw little-endian bytes) or in one `*Val` list. */
export interface TensorProto {
  dtype: DataTypeName;
  tensorShape: TensorShapeProto;
  versionNumber?: number;
  tensorContent?: Uint8Array;
  halfVal?: number[];
  floatVal?: number[];
  doubleVal?: number[];
  intVal?: number[];
  stringVal?: Uint8Array[];
  scomplexVal?: number[];
  int64Val?: number[];
  boolVal?: boolean[];
  dcomplexVal?: number[];
  uint32Val?: number[];
  uint64Val?: number[];
}

/** TF's NameAttrList: a function name and its attributes. */
export interface NameAttrList {
  name: string;
  attr: Record<string, AttrValueProto>;
}

/** AttrValue.ListValue. */
export interface AttrListValue {
  s?: string[];
  i?: number[];
  f?: number[];
  b?: boolean[];
  type?: DataTypeName[];
  shape?: TensorShapeProto[];
  tensor?: TensorProto[];
  func?: NameAttrList[];
}

/** TF's AttrValue: exactly one of these members is set (a protobuf oneof). */
export type AttrValueProto =
  | { s: string }
  | { i: number }
  | { f: number }
  | { b: boolean }
  | { type: DataTypeName }
  | { shape: TensorShapeProto }
  | { tensor: TensorProto }
  | { list: AttrListValue }
  | { func: NameAttrList }
  | { placeholder: string };

export interface NodeDef {
  name: string;
  op: string;
  /** TF form: "x" (output 0), "x:1", "^ctrl" (control input); data inputs first. */
  input: string[];
  device?: string;
  attr: Record<string, AttrValueProto>;
}

export interface VersionDef {
  producer: number;
  minConsumer?: number;
  badConsumers?: number[];
}

export interface GraphDef {
  node: NodeDef[];
  versions?: VersionDef;
  /**
   * The FunctionDefLibrary, kept as the generic text-format tree (a `TextMessage` from
   * text-tree.ts) so that it is written back unchanged; foldflow does not run functions.
   */
  library?: unknown;
}

/** A GraphDef that prints itself in protobuf text format (`graph.asGraphDef().toText()`). */
export type GraphDefDocument = GraphDef & { toText(): string };

/** The producer version foldflow writes: TF 1.15's TF_GRAPH_DEF_VERSION. */
export const GRAPH_DEF_PRODUCER = 134;

/** The member of an AttrValue oneof that is set. */
export type AttrValueCase = "s" | "i" | "f" | "b" | "type" | "shape" | "tensor" | "list" | "func" | "placeholder";

const ATTR_CASES: readonly AttrValueCase[] = ["s", "i", "f", "b", "type", "shape", "tensor", "list", "func", "placeholder"];

export function attrValueCase(v: AttrValueProto): AttrValueCase | undefined {
  const record = v as Record<string, unknown>;
  return ATTR_CASES.find((c) => record[c] !== undefined);
}

/** Parses a NodeDef input: "^x" is a control input, "x:2" output 2, "x" output 0. */
export function parseInputName(input: string): { control: boolean; node: string; index: number } {
  if (input.startsWith("^")) return { control: true, node: input.slice(1), index: -1 };
  const m = /^(.*):(\d+)$/.exec(input);
  return m ? { control: false, node: m[1], index: Number(m[2]) } : { control: false, node: input, index: 0 };
}
