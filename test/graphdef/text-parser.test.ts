import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { parseTextFormat, parseTextProto, type ParseError } from "../../ir/graphdef/text-parser";
import { fieldValues, utf8String, type TextMessage, type TextValue } from "../../ir/graphdef/text-tree";
import { fromText, parseGraphDef } from "../../ir/graphdef/read";

function parseOk(text: string): TextMessage {
  const r = parseTextFormat(text);
  if (!r.ok) throw new Error(`unexpected errors: ${JSON.stringify(r.errors)}`);
  return r.message;
}

function parseErrors(text: string): ParseError[] {
  const r = parseTextFormat(text);
  if (r.ok) throw new Error("expected a parse error");
  return r.errors;
}

function only(message: TextMessage, name: string): TextValue {
  const values = fieldValues(message, name);
  expect(values, `field ${name}`).toHaveLength(1);
  return values[0];
}

function sub(message: TextMessage, name: string): TextMessage {
  const v = only(message, name);
  if (v.kind !== "message") throw new Error(`${name} is not a message`);
  return v.message;
}

const str = (v: TextValue) => (v.kind === "string" ? utf8String(v.bytes) : `<${v.kind}>`);
const bytesOf = (v: TextValue) => (v.kind === "string" ? Array.from(v.bytes) : []);
const textOf = (v: TextValue) => (v.kind === "number" || v.kind === "identifier" ? v.text : `<${v.kind}>`);

/** 1-based line and column of the first occurrence of `needle` in `text`. */
function positionOf(text: string, needle: string): { line: number; column: number } {
  const offset = text.indexOf(needle);
  const before = text.slice(0, offset).split("\n");
  return { line: before.length, column: before[before.length - 1].length + 1 };
}

describe("protobuf text format parser: the generic tree", () => {
  it("skips # comments, including at the ends of lines and of the text", () => {
    const m = parseOk('# header\nname: "a" # trailing\n# another\nop: "B"\n# end');
    expect(str(only(m, "name"))).toBe("a");
    expect(str(only(m, "op"))).toBe("B");
    expect(m.fields.map((f) => f.name)).toEqual(["name", "op"]);
  });

  it("accepts an optional colon before a message, and <...> as message delimiters", () => {
    const m = parseOk("a { x: 1 } b: { x: 2 } c < x: 3 > d: < e { x: 4 } >");
    expect(textOf(only(sub(m, "a"), "x"))).toBe("1");
    expect(textOf(only(sub(m, "b"), "x"))).toBe("2");
    expect(textOf(only(sub(m, "c"), "x"))).toBe("3");
    expect(textOf(only(sub(sub(m, "d"), "e"), "x"))).toBe("4");
  });

  it("keeps repeated fields in order, from repeated occurrences and from [list] syntax", () => {
    const m = parseOk('input: "a" input: "b:1"; input: ["^c", "d"], n: [] v: [{ x: 1 }, < x: 2 >]');
    expect(fieldValues(m, "input").map(str)).toEqual(["a", "b:1", "^c", "d"]);
    expect(fieldValues(m, "n")).toHaveLength(0);
    const vs = fieldValues(m, "v");
    expect(vs.map((v) => (v.kind === "message" ? textOf(only(v.message, "x")) : "?"))).toEqual(["1", "2"]);
  });

  it("nests messages and records 1-based positions", () => {
    const text = "node {\n  attr {\n    key: \"k\"\n    value { i: 7 }\n  }\n}\n";
    const m = parseOk(text);
    const attr = sub(sub(m, "node"), "attr");
    const value = only(sub(attr, "value"), "i");
    expect(textOf(value)).toBe("7");
    expect(value.pos).toEqual(positionOf(text, "7"));
    expect(attr.fields[0].pos).toEqual(positionOf(text, "key"));
  });

  it("reads numbers with signs, exponents, hex, float suffixes, inf and nan", () => {
    const m = parseOk("a: 1e-05 a: -inf a: nan a: -1.5 a: .5 a: 2.5f a: 0x1F a: -7 a: 1E+3 a: -Infinity");
    expect(fieldValues(m, "a").map(textOf)).toEqual(["1e-05", "-inf", "nan", "-1.5", ".5", "2.5f", "0x1F", "-7", "1E+3", "-Infinity"]);
    expect(fieldValues(m, "a").map((v) => v.kind)).toEqual(["number", "identifier", "identifier", "number", "number", "number", "number", "number", "number", "identifier"]);
  });

  it("unescapes C escapes: octal \\ooo, hex \\xHH, simple escapes, \\u; concatenates adjacent strings", () => {
    const m = parseOk(String.raw`a: "\000\001\200?\377" b: "\x41\x4a\x7" c: "q\"s\'b\\n\nt\tr\r" d: 'sin"gle' e: "ab" 'cd' "ef" f: "\u00e9" g: "\1\12x"`);
    expect(bytesOf(only(m, "a"))).toEqual([0, 1, 0o200, 63, 0o377]);
    expect(bytesOf(only(m, "b"))).toEqual([0x41, 0x4a, 7]);
    expect(str(only(m, "c"))).toBe("q\"s'b\\n\nt\tr\r");
    expect(str(only(m, "d"))).toBe('sin"gle');
    expect(str(only(m, "e"))).toBe("abcdef");
    expect(bytesOf(only(m, "f"))).toEqual([0xc3, 0xa9]);
    expect(bytesOf(only(m, "g"))).toEqual([1, 10, 120]);
  });

  it("keeps the bytes of non-ASCII source text as UTF-8", () => {
    expect(bytesOf(only(parseOk('s: "é中"'), "s"))).toEqual([0xc3, 0xa9, 0xe4, 0xb8, 0xad]);
  });

  it("accepts extension and Any names in brackets", () => {
    const m = parseOk("[type.googleapis.com/tensorflow.GraphDef] { node { name: \"a\" } } [ext.field]: 3");
    expect(m.fields.map((f) => f.name)).toEqual(["[type.googleapis.com/tensorflow.GraphDef]", "[ext.field]"]);
  });

  it("parses an empty text and a text of only comments as an empty message", () => {
    expect(parseOk("").fields).toEqual([]);
    expect(parseOk("# nothing\n\n").fields).toEqual([]);
  });
});

describe("protobuf text format parser: errors with line and column", () => {
  it("reports a truncated file at its end, naming the unclosed brace", () => {
    const text = 'node {\n  name: "a"\n  attr {\n    key: "k"\n';
    const [e] = parseErrors(text);
    const lines = text.split("\n");
    expect(e.code).toBe("syntax");
    expect(e.line).toBe(lines.length);
    expect(e.column).toBe(lines[lines.length - 1].length + 1);
    const attrOpen = positionOf(text, "attr {");
    expect(e.message).toContain(`line ${attrOpen.line}, column ${attrOpen.column + 5}`);
    expect(e.message).toContain('"}"');
  });

  it("reports a truncation in the middle of a field", () => {
    const text = 'node {\n  name:';
    const [e] = parseErrors(text);
    expect(e.line).toBe(2);
    expect(e.column).toBe(8);
    expect(e.message).toMatch(/ends too early/);
  });

  it("reports an unterminated string where it starts", () => {
    const text = 'node {\n  name: "abc\n  op: "Const"\n}\n';
    const [e] = parseErrors(text);
    expect(e.code).toBe("unterminated-string");
    expect({ line: e.line, column: e.column }).toEqual(positionOf(text, '"abc'));
    expect(e.fix).toContain("\\n");
  });

  it("reports a bad escape at the backslash", () => {
    const text = 'a: 1\nb: "ok\\q"';
    const [e] = parseErrors(text);
    expect(e.code).toBe("bad-escape");
    expect({ line: e.line, column: e.column }).toEqual(positionOf(text, "\\q"));
    expect(parseErrors('a: "\\400"')[0].message).toMatch(/above \\377/);
    expect(parseErrors('a: "\\xg"')[0].message).toMatch(/hex digits/);
  });

  it("reports an unexpected character, a missing colon before a scalar, and a stray brace", () => {
    const bad = parseErrors("a: 1\n  @b: 2");
    expect(bad[0]).toMatchObject({ code: "unexpected-character", line: 2, column: 3 });
    const noColon = parseErrors('name "x"');
    expect(noColon[0]).toMatchObject({ code: "syntax", line: 1, column: 6 });
    const stray = parseErrors("a { }\n}");
    expect(stray[0]).toMatchObject({ line: 2, column: 1 });
    expect(stray[0].message).toMatch(/unexpected `}`/);
  });

  it("throws InvalidArgumentError with 'line L, column C' from the public entry", () => {
    expect(() => parseTextProto('a {\n  b: "x\n}', "model.pbtxt")).toThrowError(tf.errors.InvalidArgumentError);
    expect(() => parseTextProto('a {\n  b: "x\n}', "model.pbtxt")).toThrowError(/model\.pbtxt: line 2, column 6: unterminated string/);
    expect(() => fromText("node {\n")).toThrowError(/line 2, column 1/);
    expect(() => tf.importGraphDef("node { name: 'a' op: 'Const' \n attr {")).toThrowError(tf.errors.InvalidArgumentError);
  });
});

describe("GraphDef mapping errors with line and column", () => {
  it("names an unknown field with a suggestion", () => {
    const text = 'node {\n  name: "a"\n  opp: "Const"\n}';
    const r = parseGraphDef(text);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.errors[0]).toMatchObject({ code: "unknown-field", ...positionOf(text, "opp") });
    expect(r.errors[0].message).toContain("NodeDef has no field `opp`");
    expect(r.errors[0].fix).toContain("`op`");
    expect(() => fromText(text)).toThrowError(/line 3, column 3: NodeDef has no field `opp`.*did you mean `op`/);
  });

  it("rejects values of the wrong kind and repeated singular fields", () => {
    expect(() => fromText('node { name: 3 }')).toThrowError(/line 1, column 14: field `name` of NodeDef takes a quoted string/);
    expect(() => fromText('node { name: "a" name: "b" }')).toThrowError(/line 1, column 18: .*`name` is set twice/);
    expect(() => fromText('node { attr { key: "k" value { i: 1 f: 2.0 } } }')).toThrowError(/`f` is set along with `i`/);
    expect(() => fromText('node { attr { key: "k" value { i: 1.5 } } }')).toThrowError(/takes an integer/);
    expect(() => fromText("node: 3")).toThrowError(/takes a message/);
  });

  it("ignores the fields foldflow has no use for", () => {
    const g = fromText('node { name: "a" op: "NoOp" experimental_debug_info { original_node_names: "x" } }\nversion: 3\nversions { producer: 27 }');
    expect(g.node).toHaveLength(1);
    expect(g.versions).toEqual({ producer: 27 });
  });
});
