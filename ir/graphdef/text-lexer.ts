/**
 * Tokens of the protobuf text format, for chevrotain, and the unescaping of string literals
 * (C escapes: \n \t \\ \" \' \a \b \f \v \?, octal \ooo, hex \xHH, \uXXXX, \UXXXXXXXX).
 */
import { createToken, Lexer, type TokenType } from "chevrotain";

export const WhiteSpace = createToken({ name: "WhiteSpace", pattern: /[ \t\r\n\f\v\uFEFF]+/, group: Lexer.SKIPPED, line_breaks: true });
export const Comment = createToken({ name: "Comment", pattern: /#[^\n]*/, group: Lexer.SKIPPED });
export const StringLiteral = createToken({ name: "StringLiteral", pattern: /"(?:[^"\\\n]|\\[^\n])*"|'(?:[^'\\\n]|\\[^\n])*'/ });
/** A string that reaches the end of its line without its closing quote; reported as an error. */
export const UnterminatedString = createToken({ name: "UnterminatedString", pattern: /"(?:[^"\\\n]|\\[^\n])*\\?|'(?:[^'\\\n]|\\[^\n])*\\?/ });
export const FloatLiteral = createToken({
  name: "FloatLiteral",
  pattern: /(?:\d+\.\d*|\.\d+)(?:[eE][+-]?\d+)?[fF]?|\d+[eE][+-]?\d+[fF]?|\d+[fF]/,
});
export const IntLiteral = createToken({ name: "IntLiteral", pattern: /0[xX][0-9a-fA-F]+|\d+/ });
export const Identifier = createToken({ name: "Identifier", pattern: /[A-Za-z_][A-Za-z0-9_]*/ });
export const LCurly = createToken({ name: "LCurly", pattern: "{", label: "\"{\"" });
export const RCurly = createToken({ name: "RCurly", pattern: "}", label: "\"}\"" });
export const LAngle = createToken({ name: "LAngle", pattern: "<", label: "\"<\"" });
export const RAngle = createToken({ name: "RAngle", pattern: ">", label: "\">\"" });
export const LBracket = createToken({ name: "LBracket", pattern: "[", label: "\"[\"" });
export const RBracket = createToken({ name: "RBracket", pattern: "]", label: "\"]\"" });
export const Colon = createToken({ name: "Colon", pattern: ":", label: "\":\"" });
export const Semicolon = createToken({ name: "Semicolon", pattern: ";", label: "\";\"" });
export const Comma = createToken({ name: "Comma", pattern: ",", label: "\",\"" });
export const Minus = createToken({ name: "Minus", pattern: "-", label: "\"-\"" });
export const Dot = createToken({ name: "Dot", pattern: ".", label: "\".\"" });
export const Slash = createToken({ name: "Slash", pattern: "/", label: "\"/\"" });

export const allTokens: TokenType[] = [
  WhiteSpace,
  Comment,
  StringLiteral,
  UnterminatedString,
  FloatLiteral,
  IntLiteral,
  Identifier,
  LCurly,
  RCurly,
  LAngle,
  RAngle,
  LBracket,
  RBracket,
  Colon,
  Semicolon,
  Comma,
  Minus,
  Dot,
  Slash,
];

export const textFormatLexer = new Lexer(allTokens, { positionTracking: "full", ensureOptimizations: true });

/** Human names of token types for error messages. */
export function describeTokenType(t: TokenType): string {
  switch (t) {
    case Identifier:
      return "a name";
    case StringLiteral:
      return "a string";
    case FloatLiteral:
    case IntLiteral:
      return "a number";
    default:
      return t.LABEL ?? t.name;
  }
}

/** Byte values of the one-letter escapes, indexed by the letter's char code. */
const SIMPLE_ESCAPES = new Int16Array(128).fill(-1);
for (const [c, v] of Object.entries({ n: 10, t: 9, r: 13, a: 7, b: 8, f: 12, v: 11, "\\": 92, "'": 39, '"': 34, "?": 63 }))
  SIMPLE_ESCAPES[c.charCodeAt(0)] = v;

const isOctal = (c: number) => c >= 48 && c <= 55;
const hexValue = (c: number) => (c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1);

export type UnescapeResult = { bytes: Uint8Array } | { error: string; offset: number };

/** The bytes of a quoted string literal (its image, quotes included); `offset` of an error is within the image. */
export function unescapeString(image: string): UnescapeResult {
  const end = image.length - 1;
  const out = new Uint8Array((end - 1) * 4);
  let n = 0;
  let i = 1;
  while (i < end) {
    const c = image.charCodeAt(i);
    if (c < 0x80 && c !== 92) {
      out[n++] = c;
      i++;
      continue;
    }
    if (c !== 92) {
      const cp = image.codePointAt(i)!;
      n = putCodePoint(out, n, cp);
      i += cp > 0xffff ? 2 : 1;
      continue;
    }
    const e = image.charCodeAt(i + 1);
    if (e < 128 && SIMPLE_ESCAPES[e] >= 0) {
      out[n++] = SIMPLE_ESCAPES[e];
      i += 2;
    } else if (isOctal(e)) {
      let j = i + 1;
      let v = 0;
      while (j < end && j < i + 4 && isOctal(image.charCodeAt(j))) v = v * 8 + (image.charCodeAt(j++) - 48);
      if (v > 255) return { error: `octal escape \`${image.slice(i, j)}\` is above \\377`, offset: i };
      out[n++] = v;
      i = j;
    } else if (e === 120 || e === 88) {
      // \xH or \xHH
      const h1 = i + 2 < end ? hexValue(image.charCodeAt(i + 2)) : -1;
      if (h1 < 0) return { error: "`\\x` must be followed by one or two hex digits", offset: i };
      const h2 = i + 3 < end ? hexValue(image.charCodeAt(i + 3)) : -1;
      out[n++] = h2 < 0 ? h1 : h1 * 16 + h2;
      i += h2 < 0 ? 3 : 4;
    } else if (e === 117 || e === 85) {
      // \uXXXX or \UXXXXXXXX
      const len = e === 117 ? 4 : 8;
      const hex = image.slice(i + 2, i + 2 + len);
      const cp = parseInt(hex, 16);
      if (hex.length !== len || !/^[0-9a-fA-F]+$/.test(hex) || cp > 0x10ffff)
        return { error: `\`\\${image[i + 1]}\` must be followed by ${len} hex digits of a Unicode code point`, offset: i };
      n = putCodePoint(out, n, cp);
      i += 2 + len;
    } else return { error: `invalid escape sequence \`\\${image[i + 1]}\``, offset: i };
  }
  return { bytes: n === out.length ? out : out.slice(0, n) };
}

function putCodePoint(out: Uint8Array, n: number, cp: number): number {
  if (cp < 0x80) out[n++] = cp;
  else if (cp < 0x800) {
    out[n++] = 0xc0 | (cp >> 6);
    out[n++] = 0x80 | (cp & 0x3f);
  } else if (cp < 0x10000) {
    out[n++] = 0xe0 | (cp >> 12);
    out[n++] = 0x80 | ((cp >> 6) & 0x3f);
    out[n++] = 0x80 | (cp & 0x3f);
  } else {
    out[n++] = 0xf0 | (cp >> 18);
    out[n++] = 0x80 | ((cp >> 12) & 0x3f);
    out[n++] = 0x80 | ((cp >> 6) & 0x3f);
    out[n++] = 0x80 | (cp & 0x3f);
  }
  return n;
}
