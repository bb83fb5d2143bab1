/**
 * Resource limits for untrusted models, checked before anything is allocated: a GraphDef text
 * is scanned (iteratively, so no nesting blows the JS stack) for its nesting depth and node
 * count before it is parsed, and every tensor attribute's declared shape is multiplied out
 * before its tensor_content or *_val is decoded. A refusal is a ResourceExhaustedError that
 * names the node or the line, the limit, and the option that raises it.
 */
import { invalidArgument, ResourceExhaustedError } from "../diagnostics";
import type { GraphDef, NodeDef, TensorProto } from "./model";

export interface Limits {
  /** The most elements one tensor may have (a constant in a GraphDef, a feed). Default 1e8. */
  maxElements: number;
  /** The most bytes all constants of a GraphDef, or all feeds of one run, may take together. Default 2 GiB. */
  maxTotalBytes: number;
  /** The deepest nesting of `{ }` / `< >` in protobuf text. Default 100. */
  maxNestingDepth: number;
  /** The most nodes a GraphDef may have. Default 1e6. */
  maxNodes: number;
}

export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  maxElements: 1e8,
  maxTotalBytes: 2 ** 31,
  maxNestingDepth: 100,
  maxNodes: 1e6,
});

/** The limits with defaults filled in; a limit must be a positive number (Infinity turns it off). */
export function resolveLimits(limits?: Partial<Limits>): Limits {
  const out = { ...DEFAULT_LIMITS };
  for (const [key, value] of Object.entries(limits ?? {}) as [keyof Limits, unknown][]) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_LIMITS))
      throw invalidArgument({
        code: "bad-limit",
        message: `unknown limit \`${key}\``,
        expected: Object.keys(DEFAULT_LIMITS).join(", "),
        received: key,
        fix: "pass only the limits foldflow knows",
      });
    if (typeof value !== "number" || !(value > 0))
      throw invalidArgument({
        code: "bad-limit",
        message: `limit \`${key}\` must be a positive number`,
        expected: "a number above 0 (Infinity for no limit)",
        received: String(value),
        fix: `pass { limits: { ${key}: ${DEFAULT_LIMITS[key]} } } or a larger number`,
      });
    out[key] = value;
  }
  return out;
}

/** The error for `limit` exceeded by `needed`; `where` says how to pass the option. */
export function limitExceeded(d: { code: string; node?: string; message: string; limit: keyof Limits; value: number; needed: number; where: string; note?: string }): ResourceExhaustedError {
  return new ResourceExhaustedError({
    code: d.code,
    node: d.node,
    message: d.message,
    expected: `at most ${d.value} (${d.limit})`,
    received: String(d.needed),
    fix: `if the input is trusted and really this large, raise the limit: ${d.where.replaceAll("LIMIT", `{ limits: { ${d.limit}: ${d.needed} } }`)}${d.note ?? ""}`,
  });
}

const IMPORT_OPTIONS = "tf.importGraphDef(source, LIMIT) (or fromText(text, source, LIMIT))";

/**
 * Scans protobuf text once, without recursion: refuses nesting deeper than maxNestingDepth
 * (at the line and column of the delimiter that goes past it) and more top-level `node`
 * messages than maxNodes, before the recursive parser sees the text.
 */
export function checkTextLimits(text: string, source = "text", limits?: Partial<Limits>): void {
  const { maxNestingDepth, maxNodes } = resolveLimits(limits);
  let depth = 0;
  let line = 1;
  let lineStart = 0;
  let nodes = 0;
  let word = "";
  let wordAt = { line: 1, column: 1 };
  let listName = ""; // the field a top-level `[ ... ]` list belongs to
  let deepest = 0;
  let firstTooDeep: { line: number; column: number } | null = null;
  let extraNode: { line: number; column: number } | null = null;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 10) {
      line++;
      lineStart = i + 1;
    } else if (c === 35) {
      // # comment to the end of the line
      while (i + 1 < text.length && text.charCodeAt(i + 1) !== 10) i++;
    } else if (c === 34 || c === 39) {
      // a quoted string ends at its closing quote or, unterminated, at the end of the line
      for (i++; i < text.length; i++) {
        const s = text.charCodeAt(i);
        if (s === 92 && text.charCodeAt(i + 1) !== 10) i++;
        else if (s === c) break;
        else if (s === 10) {
          i--;
          break;
        }
      }
      word = "";
    } else if (c === 123 || c === 60) {
      // { or <
      if (depth === 0 && (word || listName) === "node" && ++nodes > maxNodes && !extraNode) extraNode = word ? wordAt : { line, column: i - lineStart + 1 };
      depth++;
      if (depth > deepest) deepest = depth;
      if (depth > maxNestingDepth && !firstTooDeep) firstTooDeep = { line, column: i - lineStart + 1 };
      word = "";
    } else if (c === 125 || c === 62) {
      // } or >
      if (depth > 0) depth--;
      word = "";
    } else if (isWordChar(c)) {
      if (i > 0 && isWordChar(text.charCodeAt(i - 1))) word += text[i];
      else {
        word = text[i];
        wordAt = { line, column: i - lineStart + 1 };
      }
    } else if (c === 91 && depth === 0) {
      listName = word;
      word = "";
    } else if (c === 93 && depth === 0) {
      listName = word = "";
    } else if (c !== 58 && c !== 44 && c !== 32 && c !== 9 && c !== 13) word = "";
  }
  if (firstTooDeep)
    throw limitExceeded({
      code: "limit-nesting-depth",
      message: `${source}: line ${firstTooDeep.line}, column ${firstTooDeep.column}: the text nests messages ${deepest} levels deep, more than the limit of ${maxNestingDepth} (level ${maxNestingDepth + 1} opens here)`,
      limit: "maxNestingDepth",
      value: maxNestingDepth,
      needed: deepest,
      where: IMPORT_OPTIONS,
      note: " (the parser itself handles about 300 levels on Node's default stack)",
    });
  if (extraNode)
    throw limitExceeded({
      code: "limit-nodes",
      message: `${source}: line ${extraNode.line}, column ${extraNode.column}: the GraphDef has ${nodes} nodes, more than the limit of ${maxNodes} (node ${maxNodes + 1} starts here)`,
      limit: "maxNodes",
      value: maxNodes,
      needed: nodes,
      where: IMPORT_OPTIONS,
    });
}

function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;
}

/**
 * Runs the (recursive) parser; a JS stack overflow, which nesting within maxNestingDepth can
 * still cause when the limit was raised far, becomes a ResourceExhaustedError.
 */
export function parseWithinStack<T>(parse: () => T, source = "text"): T {
  try {
    return parse();
  } catch (e) {
    if (!(e instanceof RangeError) || !/call stack/i.test(e.message)) throw e;
    throw new ResourceExhaustedError({
      code: "limit-stack",
      message: `${source}: the text nests messages deeper than the parser's JavaScript stack allows`,
      expected: "nesting the JS stack can parse (a few hundred levels)",
      received: "a stack overflow while parsing",
      fix: "lower the nesting of the text, or run Node with a larger stack (node --stack-size=8000)",
    });
  }
}

const ITEM_BYTES: Record<string, number> = { DT_BOOL: 1, DT_INT8: 1, DT_UINT8: 1, DT_HALF: 2, DT_BFLOAT16: 2, DT_INT16: 2, DT_UINT16: 2, DT_INT64: 8, DT_UINT64: 8, DT_DOUBLE: 8, DT_COMPLEX64: 8, DT_COMPLEX128: 16 };

/** Elements a TensorProto's declared shape holds; null when the shape is not fully known. */
function declaredElements(t: TensorProto): number | null {
  if (!t.tensorShape) return 1; // no shape: a scalar
  if (t.tensorShape.unknownRank) return null;
  let n = 1;
  for (const d of t.tensorShape.dim ?? []) {
    if (!(d.size >= 0)) return null;
    n *= d.size;
  }
  return n;
}

function* tensorAttrs(node: NodeDef): Generator<[string, TensorProto]> {
  for (const [key, value] of Object.entries(node.attr ?? {})) {
    const v = value as { tensor?: TensorProto; list?: { tensor?: TensorProto[] } };
    if (v.tensor) yield [key, v.tensor];
    for (const t of v.list?.tensor ?? []) yield [key, t];
  }
}

/**
 * Refuses a GraphDef with more than maxNodes nodes, a tensor attribute (a Const's `value`)
 * whose declared shape holds more than maxElements elements, or constants that take more than
 * maxTotalBytes together; it reads only shapes, so it runs before any tensor is decoded.
 */
export function checkGraphDefLimits(graphDef: GraphDef, limits?: Partial<Limits>): void {
  const { maxNodes, maxElements, maxTotalBytes } = resolveLimits(limits);
  const nodes = graphDef.node ?? [];
  if (nodes.length > maxNodes)
    throw limitExceeded({
      code: "limit-nodes",
      node: nodes[maxNodes]?.name,
      message: `the GraphDef has ${nodes.length} nodes, more than the limit of ${maxNodes}`,
      limit: "maxNodes",
      value: maxNodes,
      needed: nodes.length,
      where: IMPORT_OPTIONS,
    });
  let total = 0;
  let crossing: { node: NodeDef; shape: string } | null = null;
  for (const node of nodes)
    for (const [key, tensor] of tensorAttrs(node)) {
      const n = declaredElements(tensor);
      if (n === null) continue;
      const shape = `[${(tensor.tensorShape?.dim ?? []).map((d) => d.size).join(", ")}]`;
      if (n > maxElements)
        throw limitExceeded({
          code: "limit-elements",
          node: node.name,
          message: `${node.op} \`${node.name}\` declares a tensor \`${key}\` of shape ${shape} (${n} elements), more than the limit of ${maxElements} elements per tensor; it was refused before decoding`,
          limit: "maxElements",
          value: maxElements,
          needed: n,
          where: IMPORT_OPTIONS,
        });
      total += n * (Object.hasOwn(ITEM_BYTES, tensor.dtype) ? ITEM_BYTES[tensor.dtype] : 4);
      if (total > maxTotalBytes && !crossing) crossing = { node, shape };
    }
  if (crossing)
    throw limitExceeded({
      code: "limit-total-bytes",
      node: crossing.node.name,
      message: `the constants of the GraphDef take ${total} bytes together, more than the limit of ${maxTotalBytes} bytes (the limit is passed at ${crossing.node.op} \`${crossing.node.name}\`, shape ${crossing.shape})`,
      limit: "maxTotalBytes",
      value: maxTotalBytes,
      needed: total,
      where: IMPORT_OPTIONS,
    });
}
