/**
 * The generic protobuf text-format tree: what the parser produces before any schema is
 * applied, and what the printer writes. A message is its field occurrences in order (a
 * repeated field occurs once per value); scalars keep their source text, so the schema layer
 * decides whether `1` is an int, a float or a bool.
 */

/** 1-based line and column in the source text. */
export interface Position {
  line: number;
  column: number;
}

export type TextValue =
  | { kind: "message"; message: TextMessage; pos?: Position }
  /** A quoted string (adjacent literals concatenated), unescaped to bytes. */
  | { kind: "string"; bytes: Uint8Array; pos?: Position }
  /** A number literal, with its sign: "-1", "0x1f", "1e-05", "2.5f". */
  | { kind: "number"; text: string; pos?: Position }
  /** An identifier, with its sign when it has one: "DT_FLOAT", "true", "-inf", "nan". */
  | { kind: "identifier"; text: string; pos?: Position };

export interface TextField {
  /** The field name; extension or Any names keep their brackets: "[type.googleapis.com/x.Y]". */
  name: string;
  value: TextValue;
  pos?: Position;
}

export interface TextMessage {
  fields: TextField[];
  pos?: Position;
}

export function isTextMessage(value: unknown): value is TextMessage {
  return typeof value === "object" && value !== null && Array.isArray((value as TextMessage).fields);
}

/** The values of every occurrence of `name`, in order. */
export function fieldValues(message: TextMessage, name: string): TextValue[] {
  const out: TextValue[] = [];
  for (const f of message.fields) if (f.name === name) out.push(f.value);
  return out;
}

/** The escaped ASCII bytes of each byte value, as protobuf's CEscape writes them. */
const ESCAPES: Uint8Array[] = (() => {
  const table: Uint8Array[] = new Array(256);
  const ascii = (text: string) => Uint8Array.from(text, (c) => c.charCodeAt(0));
  for (let i = 0; i < 256; i++) table[i] = i >= 0x20 && i < 0x7f ? Uint8Array.of(i) : ascii(`\\${i.toString(8).padStart(3, "0")}`);
  table[0x0a] = ascii("\\n");
  table[0x0d] = ascii("\\r");
  table[0x09] = ascii("\\t");
  table[0x22] = ascii('\\"');
  table[0x27] = ascii("\\'");
  table[0x5c] = ascii("\\\\");
  return table;
})();
const asciiDecoder = new TextDecoder("latin1");

/** C-escapes bytes as protobuf's CEscape does: printable ASCII as is, \n \r \t \" \' \\, others as 3-digit octal. */
export function escapeBytes(bytes: Uint8Array): string {
  let length = 0;
  for (let i = 0; i < bytes.length; i++) length += ESCAPES[bytes[i]].length;
  const out = new Uint8Array(length);
  let o = 0;
  for (let i = 0; i < bytes.length; i++) {
    const e = ESCAPES[bytes[i]];
    if (e.length === 1) out[o++] = e[0];
    else for (let k = 0; k < e.length; k++) out[o++] = e[k];
  }
  return asciiDecoder.decode(out);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder("utf-8");

export function utf8Bytes(s: string): Uint8Array {
  return encoder.encode(s);
}

export function utf8String(bytes: Uint8Array): string {
  return decoder.decode(bytes);
}

/**
 * Prints a message in protobuf text format the way TF's Python writer does
 * (text_format.MessageToString): one field per line, two-space indent, `name {` ... `}`.
 */
export function printTextMessage(message: TextMessage): string {
  const lines: string[] = [];
  printInto(message, "", lines);
  return lines.length ? `${lines.join("\n")}\n` : "";
}

function printInto(message: TextMessage, indent: string, lines: string[]): void {
  for (const f of message.fields) {
    const v = f.value;
    if (v.kind === "message") {
      lines.push(`${indent}${f.name} {`);
      printInto(v.message, `${indent}  `, lines);
      lines.push(`${indent}}`);
    } else if (v.kind === "string") lines.push(`${indent}${f.name}: "${escapeBytes(v.bytes)}"`);
    else lines.push(`${indent}${f.name}: ${v.text}`);
  }
}
