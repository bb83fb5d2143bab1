/**
 * TF1 GraphDefs -> foldflow ops, for importGraphDef. Most TF op types are foldflow's own (Conv2D,
 * FusedBatchNormV3, Switch, Merge ...); this module holds the differences, as two tables:
 *
 *   RENAMES   NodeDef -> NodeDef, before building: another op type, attribute keys renamed or
 *             dropped, inputs reordered. Resource variables become ref variables:
 *               VarHandleOp "v"          -> VariableV2 "v"   (the session keeps v's value by name)
 *               ReadVariableOp(v)        -> Identity(v)      (read when it runs, as a ref read)
 *               AssignVariableOp(v, x)   -> Assign(v, x)     (and AssignAdd/AssignSub...VariableOp)
 *               VarIsInitializedOp(v)    -> IsVariableInitialized(v)
 *             Concat(dim, x...)          -> ConcatV2(x..., dim)
 *   STRINGS   string Consts that only feed Assert / Print data become attributes of those ops.
 *   BUILDERS  ops whose lowering needs the inputs' static shapes, built into the graph:
 *             Select(c, x, y) -> SelectV2, with TF1's rule that a vector `c` picks rows of x:
 *               Reshape(c, [-1, 1, ..., 1]) first.
 *
 * Before either, `narrowInt64` turns DT_INT64 (shape constants, global_step, ArgMax's
 * output_type ...) into DT_INT32, as foldflow computes integers in int32: type attributes map
 * over, and int64 tensors are converted with a range check (an error naming the node and the
 * value when a value does not fit).
 */
import { invalidArgument } from "../diagnostics";
import type { Graph, Operation, Tensor } from "../graph";
import { NDArray } from "../ndarray";
import type { Attrs } from "../registry";
import { formatShape } from "../shape";
import "../ops/array/strided-slice";
import "../ops/is-initialized";
import { attrValueCase, parseInputName, type AttrListValue, type AttrValueProto, type NodeDef, type TensorProto } from "./model";

// ---- DT_INT64 -> DT_INT32 ----

const INT32_MIN = -2147483648;
const INT32_MAX = 2147483647;
const NARROWED_TYPES: Record<string, string> = { DT_INT64: "DT_INT32", DT_INT64_REF: "DT_INT32_REF" };

function outOfRange(node: string, key: string, value: number | bigint): Error {
  return invalidArgument({
    code: "int64-out-of-range",
    node,
    message: `attribute \`${key}\` holds the int64 value ${value}, which does not fit in int32 (foldflow computes integers in int32)`,
    expected: `values in [${INT32_MIN}, ${INT32_MAX}]`,
    received: String(value),
    fix: "keep the integers of the graph within int32's range, or cast the tensor to float in TF before exporting",
  });
}

function int64Values(t: TensorProto, node: string, key: string): number[] {
  const content = t.tensorContent;
  if (content && content.length > 0) {
    if (content.length % 8 !== 0)
      throw invalidArgument({
        code: "bad-tensor",
        node,
        message: `the tensor_content of attribute \`${key}\` (DT_INT64) is not a whole number of 8-byte values`,
        expected: "a multiple of 8 bytes",
        received: `${content.length} bytes`,
        fix: "write the tensor again; the file may be truncated",
      });
    const view = new DataView(content.buffer, content.byteOffset, content.byteLength);
    const out: number[] = [];
    for (let i = 0; i < content.length; i += 8) {
      const v = view.getBigInt64(i, true);
      if (v < BigInt(INT32_MIN) || v > BigInt(INT32_MAX)) throw outOfRange(node, key, v);
      out.push(Number(v));
    }
    return out;
  }
  const values = t.int64Val ?? [];
  for (const v of values) if (!Number.isInteger(v) || v < INT32_MIN || v > INT32_MAX) throw outOfRange(node, key, v);
  return [...values];
}

function narrowTensor(t: TensorProto, node: string, key: string): TensorProto {
  if (!Object.hasOwn(NARROWED_TYPES, t.dtype)) return t;
  return { dtype: NARROWED_TYPES[t.dtype], tensorShape: t.tensorShape, intVal: int64Values(t, node, key) };
}

const narrowType = (type: string) => (Object.hasOwn(NARROWED_TYPES, type) ? NARROWED_TYPES[type] : type);

function narrowList(list: AttrListValue, node: string, key: string): AttrListValue {
  const out: AttrListValue = { ...list };
  if (list.type) out.type = list.type.map(narrowType);
  if (list.tensor) out.tensor = list.tensor.map((t) => narrowTensor(t, node, key));
  return out;
}

function narrowAttr(value: AttrValueProto, node: string, key: string): AttrValueProto {
  switch (attrValueCase(value)) {
    case "type":
      return { type: narrowType((value as { type: string }).type) };
    case "tensor":
      return { tensor: narrowTensor((value as { tensor: TensorProto }).tensor, node, key) };
    case "list":
      return { list: narrowList((value as { list: AttrListValue }).list, node, key) };
    default:
      return value;
  }
}

/** `node` with DT_INT64 types and tensors narrowed to DT_INT32 (range-checked). */
export function narrowInt64(node: NodeDef): NodeDef {
  const attr: Record<string, AttrValueProto> = {};
  for (const [key, value] of Object.entries(node.attr)) attr[key] = narrowAttr(value, node.name, key);
  return { ...node, attr };
}

// ---- NodeDef renames ----

interface Rename {
  /** The foldflow op type. */
  type: string;
  /** TF attribute key -> foldflow key; `null` drops the attribute. */
  attrs?: Record<string, string | null>;
  /** The data inputs in foldflow's order, from TF's (control inputs stay after them). */
  inputs?: (data: string[]) => string[];
}

/** Resource handles have a scalar `_output_shapes`; the variable op that replaces them does not. */
const HANDLE_ATTRS = { _output_shapes: null, allowed_devices: null, _handle_dtypes: null, _handle_shapes: null };

export const RENAMES: Readonly<Record<string, Rename>> = {
  Variable: { type: "VariableV2" },
  VarHandleOp: { type: "VariableV2", attrs: HANDLE_ATTRS },
  ReadVariableOp: { type: "Identity", attrs: { dtype: "T" } },
  AssignVariableOp: { type: "Assign", attrs: { dtype: "T" } },
  AssignAddVariableOp: { type: "AssignAdd", attrs: { dtype: "T" } },
  AssignSubVariableOp: { type: "AssignSub", attrs: { dtype: "T" } },
  VarIsInitializedOp: { type: "IsVariableInitialized", attrs: { _output_shapes: null } },
  ResourceApplyGradientDescent: { type: "ApplyGradientDescent" },
  ResourceApplyMomentum: { type: "ApplyMomentum" },
  ResourceApplyAdam: { type: "ApplyAdam" },
  Snapshot: { type: "Identity" },
  BatchMatMul: { type: "BatchMatMulV2" },
  Concat: { type: "ConcatV2", inputs: ([dim, ...values]) => [...values, dim] },
};

/**
 * The entry of `table` for op type `op`, own properties only: a NodeDef's op is any string, and
 * "constructor" or "toString" must not find Object.prototype's members.
 */
function own<T>(table: Readonly<Record<string, T>>, op: string): T | undefined {
  return Object.hasOwn(table, op) ? table[op] : undefined;
}

/** The rename of TF op type `op`, if it has one. */
const renameOf = (op: string): Rename | undefined => own(RENAMES, op);

/** Applies RENAMES to one NodeDef (unchanged when its op is not renamed). */
export function renameNode(node: NodeDef): NodeDef {
  const rename = renameOf(node.op);
  if (!rename) return node;
  const attr: Record<string, AttrValueProto> = {};
  for (const [key, value] of Object.entries(node.attr)) {
    const target = rename.attrs && Object.hasOwn(rename.attrs, key) ? rename.attrs[key] : key;
    if (target !== null) attr[target] = value;
  }
  let input = node.input;
  if (rename.inputs) {
    const data = node.input.filter((i) => !i.startsWith("^"));
    input = [...(data.length ? rename.inputs(data) : data), ...node.input.filter((i) => i.startsWith("^"))];
  }
  return { ...node, op: rename.type, attr, input };
}

/** Every NodeDef of a TF1 GraphDef in foldflow's terms: int64 narrowed, renamed, string data folded. */
export function lowerNodeDefs(nodes: readonly NodeDef[]): NodeDef[] {
  return foldStringData(nodes.map((n) => renameNode(narrowInt64(n))));
}

// ---- string data of Assert and Print ----

/** The list(type) attribute that types each op's data. */
const DATA_TYPES: Readonly<Record<string, string>> = { Assert: "T", Print: "U" };

/** The text of a DT_STRING Const (its strings joined by spaces), else undefined. */
function stringConst(node: NodeDef): string | undefined {
  if (node.op !== "Const") return undefined;
  const value = node.attr.value;
  if (!value || attrValueCase(value) !== "tensor") return undefined;
  const tensor = (value as { tensor: TensorProto }).tensor;
  if (tensor.dtype !== "DT_STRING") return undefined;
  const decoder = new TextDecoder();
  return (tensor.stringVal ?? []).map((b) => decoder.decode(b)).join(" ");
}

/**
 * foldflow has no string tensors. The string Consts of a TF1 graph that only feed the data of
 * Asserts and Prints (tf.Assert's messages, tf.assert_equal's "Condition x == y ...") are
 * dropped, and their text goes into the consumers' `_string_data` / `_string_positions`
 * attributes (ir/ops/logging.ts), their DT_STRING entries out of the T / U lists. A string
 * Const with any other use stays (and importing it fails, naming it).
 */
export function foldStringData(nodes: NodeDef[]): NodeDef[] {
  const texts = new Map<string, string>();
  for (const n of nodes) {
    const text = stringConst(n);
    if (text !== undefined) texts.set(n.name, text);
  }
  if (texts.size === 0) return nodes;
  const foldable = new Set(texts.keys());
  for (const n of nodes) {
    const logging = own(DATA_TYPES, n.op) !== undefined && !n.attr._string_data && !n.attr._string_positions;
    n.input.forEach((input, i) => {
      const p = parseInputName(input);
      if (foldable.has(p.node) && !(logging && !p.control && p.index === 0 && i >= 1)) foldable.delete(p.node);
    });
  }
  if (foldable.size === 0) return nodes;
  return nodes.filter((n) => !foldable.has(n.name)).map((n) => {
    const typesKey = own(DATA_TYPES, n.op);
    if (typesKey === undefined) return n;
    const data = n.input.filter((i) => !i.startsWith("^"));
    const strings: string[] = [];
    const positions: number[] = [];
    const kept: string[] = [];
    data.slice(1).forEach((input, k) => {
      const source = parseInputName(input).node;
      if (foldable.has(source)) {
        strings.push(texts.get(source)!);
        positions.push(k);
      } else kept.push(input);
    });
    if (strings.length === 0) return n;
    const attr: Record<string, AttrValueProto> = { ...n.attr, _string_data: { list: { s: strings } }, _string_positions: { list: { i: positions } } };
    const types = n.attr[typesKey];
    if (types && attrValueCase(types) === "list") {
      const list = (types as { list: AttrListValue }).list;
      if (list.type) attr[typesKey] = { list: { ...list, type: list.type.filter((_, k) => !positions.includes(k)) } };
    }
    return { ...n, attr, input: [...data.slice(0, 1), ...kept, ...n.input.filter((i) => i.startsWith("^"))] };
  });
}

// ---- builders ----

/** What a builder gets: the node, its inputs built, and ways to add ops. */
export interface LoweringContext {
  graph: Graph;
  node: NodeDef;
  /** The node's name in the graph (with the import prefix). */
  name: string;
  inputs: Tensor[];
  controls: Operation[];
  /** The node's attributes converted by the schema of op `type`, TF's extra attributes kept. */
  attrs(type: string): Attrs;
  /** Adds an op named `name` (or a free helper name under it, for `suffix`), with the node's control inputs. */
  addOp(type: string, inputs: Tensor[], attrs: Attrs, suffix?: string): Operation;
}

/** A lowered node: the op that stands for it (for `^node`) and the tensors for `node:i`. */
export interface Lowered {
  op: Operation;
  outputs: Tensor[];
}

export type Builder = (ctx: LoweringContext) => Lowered;

function int32Const(ctx: LoweringContext, values: number[], suffix: string): Tensor {
  const value = new NDArray("int32", [values.length], Int32Array.from(values));
  return ctx.addOp("Const", [], { value, dtype: "int32" }, suffix).outputs[0];
}

/** TF1 Select: a scalar or same-shaped condition selects elementwise; a vector one selects rows of x. */
function select(ctx: LoweringContext): Lowered {
  if (ctx.inputs.length !== 3)
    throw invalidArgument({
      code: "input-count",
      node: ctx.name,
      message: "Select takes 3 input(s): condition, x and y",
      expected: "3",
      received: `${ctx.inputs.length}`,
      fix: "pass the op the inputs its signature lists",
    });
  const [c, x, y] = ctx.inputs;
  const xRank = x.rank ?? y.rank;
  let condition = c;
  if (c.rank === 1 && xRank !== null && xRank > 1) {
    const shape = int32Const(ctx, [-1, ...new Array<number>(xRank - 1).fill(1)], "condition_shape");
    condition = ctx.addOp("Reshape", [c, shape], {}, "condition_reshape").outputs[0];
  } else if (c.rank === null || (c.rank === 1 && xRank === null))
    throw invalidArgument({
      code: "select-rank",
      node: ctx.name,
      message: "cannot import Select: the rank of its condition or of its values is unknown, and TF1's Select treats a vector condition as picking rows",
      expected: "known ranks",
      received: `condition ${formatShape(c.shape)}, values ${formatShape(x.shape)}`,
      fix: "give the placeholders feeding the Select a shape of known rank",
    });
  const op = ctx.addOp("SelectV2", [condition, x, y], ctx.attrs("SelectV2"));
  return { op, outputs: op.outputs };
}

export const BUILDERS: Readonly<Record<string, Builder>> = {
  Select: select,
};

/** The builder of TF op type `op`, if it has one. */
export const builderOf = (op: string): Builder | undefined => own(BUILDERS, op);

/** TF op types the importer knows beyond the registered ones (for suggestions). */
export function tf1OpTypes(): string[] {
  return [...Object.keys(RENAMES), ...Object.keys(BUILDERS)];
}
