/**
 * A general protobuf text-format parser (chevrotain lexer + EmbeddedActionsParser) producing
 * the schema-free tree of text-tree.ts. It knows no message types: GraphDef mapping lives in
 * schema.ts / read.ts, so the same parser serves any .pbtxt (GraphDef, MetaGraphDef, ...).
 *
 *   message  := field*
 *   field    := name ( ":" (scalar | message-value | "[" values? "]") | message-value ) (";" | ",")?
 *   name     := identifier | "[" identifier (("." | "/") identifier)* "]"
 *   message-value := "{" message "}" | "<" message ">"
 *   scalar   := string+ | "-"? (number | identifier)
 *
 * Errors are values (`ParseError`, with 1-based line and column); `parseTextProto` throws them
 * as one InvalidArgumentError whose message says "line L, column C".
 */
import { EmbeddedActionsParser, EOF, type IParserErrorMessageProvider, type IToken, type TokenType } from "chevrotain";
import { invalidArgument, type Diagnostic } from "../diagnostics";
import {
  allTokens, Colon, Comma, describeTokenType, Dot, FloatLiteral, Identifier, IntLiteral, LAngle, LBracket, LCurly, Minus,
  RAngle, RBracket, RCurly, Semicolon, Slash, StringLiteral, textFormatLexer, unescapeString, UnterminatedString,
} from "./text-lexer";
import type { Position, TextField, TextMessage, TextValue } from "./text-tree";

export interface ParseError {
  /** Syntax codes come from the parser; `unknown-field`, `bad-value` from mapping a tree onto a message schema. */
  code: "unexpected-character" | "unterminated-string" | "bad-escape" | "syntax" | "unknown-field" | "bad-value";
  message: string;
  line: number;
  column: number;
  fix?: string;
}

export type ParseResult = { ok: true; message: TextMessage } | { ok: false; errors: ParseError[] };

function describeToken(t: IToken): string {
  if (t.tokenType === EOF) return "the end of the text";
  if (t.tokenType === StringLiteral) return "a string";
  return `\`${t.image}\``;
}

function firstTokens(paths: TokenType[][]): string[] {
  return [...new Set(paths.filter((p) => p.length > 0).map((p) => describeTokenType(p[0])))];
}

const errorMessages: IParserErrorMessageProvider = {
  buildMismatchTokenMessage: ({ expected, actual }) => `expected ${describeTokenType(expected)} but found ${describeToken(actual)}`,
  buildNotAllInputParsedMessage: ({ firstRedundant }) => `unexpected ${describeToken(firstRedundant)}: expected a field name`,
  buildNoViableAltMessage: ({ expectedPathsPerAlt, actual, ruleName }) =>
    ruleName === "afterColon"
      ? `expected a value after ":" (a string, a number, a name, a [list] or a { message }) but found ${describeToken(actual[0])}`
      : `expected ${firstTokens(expectedPathsPerAlt.flat()).join(" or ")} but found ${describeToken(actual[0])}`,
  buildEarlyExitMessage: ({ expectedIterationPaths, actual }) =>
    `expected ${firstTokens(expectedIterationPaths).join(" or ")} but found ${describeToken(actual[0])}`,
};

const position = (t: IToken): Position => ({ line: t.startLine ?? 0, column: t.startColumn ?? 0 });

class TextFormatParser extends EmbeddedActionsParser {
  /** Delimiters opened and not yet closed, to say where an unclosed message began. */
  openDelimiters: IToken[] = [];
  /** Errors found inside tokens (bad escapes), which chevrotain does not see. */
  semanticErrors: ParseError[] = [];

  constructor() {
    super(allTokens, { errorMessageProvider: errorMessages, recoveryEnabled: false, maxLookahead: 2 });
    this.performSelfAnalysis();
  }

  clearState(): void {
    this.openDelimiters = [];
    this.semanticErrors = [];
  }

  document = this.RULE("document", (): TextMessage => {
    const fields = this.SUBRULE(this.fieldList);
    return { fields, pos: { line: 1, column: 1 } };
  });

  private fieldList = this.RULE("fieldList", (): TextField[] => {
    const fields: TextField[] = [];
    this.MANY(() => {
      const f = this.SUBRULE(this.field);
      this.ACTION(() => fields.push(...f));
    });
    return fields;
  });

  private field = this.RULE("field", (): TextField[] => {
    const name = this.SUBRULE(this.fieldName);
    let values: TextValue[] = [];
    this.OR([
      {
        ALT: () => {
          this.CONSUME(Colon);
          values = this.SUBRULE(this.afterColon);
        },
      },
      { ALT: () => (values = [this.SUBRULE(this.messageValue)]) },
    ]);
    this.OPTION(() => this.OR2([{ ALT: () => this.CONSUME(Semicolon) }, { ALT: () => this.CONSUME(Comma) }]));
    return this.ACTION(() => values.map((value) => ({ name: name.text, value, pos: name.pos })));
  });

  private fieldName = this.RULE("fieldName", (): { text: string; pos: Position } => {
    return this.OR([
      {
        ALT: () => {
          const t = this.CONSUME(Identifier);
          return { text: t.image, pos: position(t) };
        },
      },
      {
        ALT: () => {
          const open = this.CONSUME(LBracket);
          let text = `[${this.CONSUME2(Identifier).image}`;
          this.MANY(() => {
            const sep = this.OR2([{ ALT: () => this.CONSUME(Dot) }, { ALT: () => this.CONSUME(Slash) }]);
            const part = this.CONSUME3(Identifier);
            this.ACTION(() => (text += sep.image + part.image));
          });
          this.CONSUME(RBracket);
          return { text: `${text}]`, pos: position(open) };
        },
      },
    ]);
  });

  private afterColon = this.RULE("afterColon", (): TextValue[] => {
    return this.OR([
      { ALT: () => [this.SUBRULE(this.scalar)] },
      { ALT: () => [this.SUBRULE(this.messageValue)] },
      { ALT: () => this.SUBRULE(this.list) },
    ]);
  });

  private list = this.RULE("list", (): TextValue[] => {
    const values: TextValue[] = [];
    this.CONSUME(LBracket);
    this.MANY_SEP({
      SEP: Comma,
      DEF: () => {
        const v = this.OR([{ ALT: () => this.SUBRULE(this.scalar) }, { ALT: () => this.SUBRULE(this.messageValue) }]);
        this.ACTION(() => values.push(v));
      },
    });
    this.CONSUME(RBracket);
    return values;
  });

  private messageValue = this.RULE("messageValue", (): TextValue => {
    let open!: IToken;
    let fields: TextField[] = [];
    this.OR([
      {
        ALT: () => {
          open = this.CONSUME(LCurly);
          this.ACTION(() => this.openDelimiters.push(open));
          fields = this.SUBRULE(this.fieldList);
          this.CONSUME(RCurly);
        },
      },
      {
        ALT: () => {
          open = this.CONSUME(LAngle);
          this.ACTION(() => this.openDelimiters.push(open));
          fields = this.SUBRULE2(this.fieldList);
          this.CONSUME(RAngle);
        },
      },
    ]);
    return this.ACTION(() => {
      this.openDelimiters.pop();
      return { kind: "message" as const, message: { fields, pos: position(open) }, pos: position(open) };
    });
  });

  private scalar = this.RULE("scalar", (): TextValue => {
    return this.OR([
      {
        ALT: () => {
          const parts: IToken[] = [];
          this.AT_LEAST_ONE(() => parts.push(this.CONSUME(StringLiteral)));
          return this.ACTION(() => this.stringValue(parts));
        },
      },
      {
        ALT: () => {
          const minus = this.OPTION(() => this.CONSUME(Minus));
          const t = this.OR2([
            { ALT: () => this.CONSUME(FloatLiteral) },
            { ALT: () => this.CONSUME(IntLiteral) },
            { ALT: () => this.CONSUME(Identifier) },
          ]);
          return this.ACTION((): TextValue => {
            const text = (minus ? "-" : "") + t.image;
            const pos = position(minus ?? t);
            return t.tokenType === Identifier ? { kind: "identifier", text, pos } : { kind: "number", text, pos };
          });
        },
      },
    ]);
  });

  private stringValue(parts: IToken[]): TextValue {
    const chunks: Uint8Array[] = [];
    for (const p of parts) {
      const r = unescapeString(p.image);
      if ("error" in r) {
        this.semanticErrors.push({ code: "bad-escape", message: r.error, line: p.startLine ?? 0, column: (p.startColumn ?? 0) + r.offset, fix: "escape a backslash as \\\\" });
        chunks.push(new Uint8Array(0));
      } else chunks.push(r.bytes);
    }
    let bytes = chunks[0];
    if (chunks.length > 1) {
      bytes = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
      let o = 0;
      for (const c of chunks) {
        bytes.set(c, o);
        o += c.length;
      }
    }
    return { kind: "string", bytes, pos: position(parts[0]) };
  }
}

let parserInstance: TextFormatParser | undefined;

/** Line and column just after the last character of `text` (where a truncated file ends). */
function endPosition(text: string): Position {
  let line = 1;
  let lastBreak = -1;
  for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) {
    line++;
    lastBreak = i;
  }
  return { line, column: text.length - lastBreak };
}

/** Parses protobuf text format into the generic tree; errors come back as values. */
export function parseTextFormat(text: string): ParseResult {
  const lexed = textFormatLexer.tokenize(text);
  const errors: ParseError[] = lexed.errors.map((e) => ({
    code: "unexpected-character",
    message: `unexpected character \`${text.substr(e.offset, e.length)}\``,
    line: e.line ?? 0,
    column: e.column ?? 0,
    fix: "remove the character; strings must be quoted",
  }));
  for (const t of lexed.tokens)
    if (t.tokenType === UnterminatedString)
      errors.push({
        code: "unterminated-string",
        message: `unterminated string: no closing ${t.image[0]} before the end of the line`,
        line: t.startLine ?? 0,
        column: t.startColumn ?? 0,
        fix: `close the string with ${t.image[0]} on the same line (write a line break as \\n)`,
      });
  if (errors.length) return { ok: false, errors: errors.sort((a, b) => a.line - b.line || a.column - b.column) };
  const parser = (parserInstance ??= new TextFormatParser());
  parser.clearState();
  parser.input = lexed.tokens;
  const message = parser.document();
  for (const e of parser.errors) {
    const atEnd = e.token.tokenType === EOF;
    const pos = atEnd ? endPosition(text) : position(e.token);
    const open = parser.openDelimiters[parser.openDelimiters.length - 1];
    const unclosed = atEnd && open ? ` (the \`${open.image}\` at line ${open.startLine}, column ${open.startColumn} is not closed)` : "";
    errors.push({
      code: "syntax",
      message: atEnd ? `the text ends too early: ${e.message}${unclosed}` : e.message,
      line: pos.line,
      column: pos.column,
      fix: atEnd ? "the file looks truncated; write it out completely again" : undefined,
    });
  }
  errors.push(...parser.semanticErrors);
  if (errors.length) return { ok: false, errors };
  return { ok: true, message };
}

/** The Diagnostic of a parse error; `source` names the file or text in the message. */
export function parseErrorDiagnostic(e: ParseError, source = "text"): Diagnostic {
  return {
    code: `pbtxt-${e.code}`,
    message: `${source}: line ${e.line}, column ${e.column}: ${e.message}`,
    fix: e.fix,
  };
}

/** Parses protobuf text format; throws the first error as an InvalidArgumentError ("line L, column C"). */
export function parseTextProto(text: string, source = "text"): TextMessage {
  const r = parseTextFormat(text);
  if (!r.ok) throw invalidArgument(parseErrorDiagnostic(r.errors[0], source));
  return r.message;
}
