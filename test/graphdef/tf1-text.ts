/**
 * Writes NodeDefs the way TF 1.15's Python writer (tf.io.write_graph, text_format) prints them:
 * one field per line, two-space indents, attrs sorted by key, `_output_shapes` beside `T`,
 * tensor_content C-escaped with 3-digit octal escapes. The tests build real-style TF1 graphs
 * with it, independently of foldflow's writer.
 */

type Lines = string[];
const indent = (lines: Lines, by = "  "): Lines => lines.map((l) => by + l);
const block = (head: string, body: Lines): Lines => [`${head} {`, ...indent(body), "}"];

/** An AttrValue body, e.g. `type(DT_FLOAT)` -> ["type: DT_FLOAT"]. */
export type AttrBody = Lines;

export const type = (dt: string): AttrBody => [`type: ${dt}`];
export const str = (s: string): AttrBody => [`s: "${s}"`];
export const bool = (b: boolean): AttrBody => [`b: ${b}`];
export const int = (i: number): AttrBody => [`i: ${i}`];
export const float = (f: string): AttrBody => [`f: ${f}`];

function shapeLines(dims: number[] | null): Lines {
  if (dims === null) return ["unknown_rank: true"];
  return dims.flatMap((d) => block("dim", [`size: ${d}`]));
}
export const shape = (dims: number[] | null): AttrBody => block("shape", shapeLines(dims));
export const ints = (values: number[]): AttrBody => block("list", values.map((v) => `i: ${v}`));
export const strs = (values: string[]): AttrBody => block("list", values.map((v) => `s: "${v}"`));
export const outputShapes = (...shapes: (number[] | null)[]): AttrBody => block("list", shapes.flatMap((s) => block("shape", shapeLines(s))));
export const loc = (name: string): AttrBody => strs([`loc:@${name}`]);

/** A tensor AttrValue: `body` holds tensor_content or the `*_val` lines. */
export const tensor = (dtype: string, dims: number[], body: Lines): AttrBody => block("tensor", [`dtype: ${dtype}`, ...block("tensor_shape", shapeLines(dims)), ...body]);

/** protobuf's CEscape: printable ASCII as is, \n \r \t \" \' \\, every other byte as 3-digit octal. */
export function cEscape(bytes: Uint8Array): string {
  let out = "";
  for (const b of bytes) {
    if (b === 0x0a) out += "\\n";
    else if (b === 0x0d) out += "\\r";
    else if (b === 0x09) out += "\\t";
    else if (b === 0x22) out += '\\"';
    else if (b === 0x27) out += "\\'";
    else if (b === 0x5c) out += "\\\\";
    else if (b >= 0x20 && b < 0x7f) out += String.fromCharCode(b);
    else out += `\\${b.toString(8).padStart(3, "0")}`;
  }
  return out;
}

/** A float as Python prints it: 1.0, 0.5, -2.0. */
export const pyFloat = (x: number): string => (Number.isInteger(x) ? x.toFixed(1) : String(x));

/** `tensor_content: "..."` of little-endian float32, int32 or int64 values, as numpy's tobytes(). */
export function content(values: ArrayLike<number>, kind: "float32" | "int32" | "int64"): string {
  const size = kind === "int64" ? 8 : 4;
  const bytes = new Uint8Array(values.length * size);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < values.length; i++) {
    if (kind === "float32") view.setFloat32(i * 4, values[i], true);
    else if (kind === "int32") view.setInt32(i * 4, values[i], true);
    else view.setBigInt64(i * 8, BigInt(values[i]), true);
  }
  return `tensor_content: "${cEscape(bytes)}"`;
}

/** One `node { ... }` block; attrs are printed sorted by key, as protobuf prints map fields. */
export function node(name: string, op: string, inputs: string[], attrs: Record<string, AttrBody> = {}): string {
  const body: Lines = [`name: "${name}"`, `op: "${op}"`, ...inputs.map((i) => `input: "${i}"`)];
  for (const key of Object.keys(attrs).sort()) body.push(...block("attr", [`key: "${key}"`, ...block("value", attrs[key])]));
  return `${block("node", body).join("\n")}\n`;
}

export const versions = (producer = 134): string => `${block("versions", [`producer: ${producer}`]).join("\n")}\n`;

// ---- common TF1 nodes ----

export const placeholder = (name: string, dtype: string, dims: number[] | null): string =>
  node(name, "Placeholder", [], { _output_shapes: outputShapes(dims), dtype: type(dtype), shape: shape(dims) });

/** A float32 Const of `values` with TF's choice of encoding: one value as float_val, several as tensor_content. */
export function floatConst(name: string, dims: number[], values: ArrayLike<number>, inputs: string[] = [], extra: Record<string, AttrBody> = {}): string {
  const body = values.length === 1 ? [`float_val: ${pyFloat(values[0])}`] : [content(values, "float32")];
  return node(name, "Const", inputs, { _output_shapes: outputShapes(dims), dtype: type("DT_FLOAT"), value: tensor("DT_FLOAT", dims, body), ...extra });
}

/** An int32 Const (tensor_content for several values, int_val for one). */
export function intConst(name: string, dims: number[], values: number[], inputs: string[] = []): string {
  const body = values.length === 1 ? [`int_val: ${values[0]}`] : [content(values, "int32")];
  return node(name, "Const", inputs, { _output_shapes: outputShapes(dims), dtype: type("DT_INT32"), value: tensor("DT_INT32", dims, body) });
}

/**
 * A TF1 ref variable as tf.get_variable builds it with a constant initializer:
 * `<name>/Initializer/Const`, `<name>` (VariableV2), `<name>/Assign`, `<name>/read`.
 */
export function refVariable(name: string, dims: number[], values: ArrayLike<number>): string {
  const init = `${name}/Initializer/Const`;
  return (
    floatConst(init, dims, values, [], { _class: loc(name) }) +
    node(name, "VariableV2", [], { _class: loc(name), _output_shapes: outputShapes(dims), container: str(""), dtype: type("DT_FLOAT"), shape: shape(dims), shared_name: str("") }) +
    node(`${name}/Assign`, "Assign", [name, init], { T: type("DT_FLOAT"), _class: loc(name), _output_shapes: outputShapes(dims), use_locking: bool(true), validate_shape: bool(true) }) +
    node(`${name}/read`, "Identity", [name], { T: type("DT_FLOAT"), _class: loc(name), _output_shapes: outputShapes(dims) })
  );
}
