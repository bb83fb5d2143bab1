/**
 * fast-check arbitraries for the importer fuzzer: mutations of GraphDef text (characters and
 * tokens deleted, inserted, duplicated, swapped; truncation; huge numbers; bad escapes; deep
 * nesting), mutations of the GraphDef model (unknown ops, attributes of the wrong kind,
 * tensors of odd dtypes and shapes, duplicated names, cycles, missing inputs), and random text.
 * A mutation is a plain value with a description, so fast-check can shrink and print it.
 */
import fc from "fast-check";
import { getOpDef, hasOp, registeredOps } from "../../ir/registry";
import type { AttrValueProto, GraphDef, NodeDef, TensorProto, TensorShapeProto } from "../../ir/graphdef/model";

export interface Mutation<T> {
  describe: string;
  apply(target: T): T;
}

const mutation = <T>(describe: string, apply: (target: T) => T): Mutation<T> => ({ describe, apply, toString: () => describe } as Mutation<T>);

// ---- text ----

/** Fragments that mean something to the lexer, the parser, the schema or the importer. */
const TOKENS = [
  "{", "}", "<", ">", "[", "]", ":", ";", ",", "-", ".", "/", "#", "\n", " ", "\"", "'", "\\",
  "node", "name", "op", "input", "attr", "key", "value", "tensor", "tensor_shape", "dim", "size", "dtype", "type",
  "shape", "list", "i", "f", "b", "s", "func", "placeholder", "unknown_rank", "tensor_content", "float_val", "int_val",
  "int64_val", "bool_val", "half_val", "string_val", "versions", "producer", "library", "[type.googleapis.com/x.Y]",
  "DT_FLOAT", "DT_INT32", "DT_BOOL", "DT_INT64", "DT_STRING", "DT_HALF", "DT_FLOAT_REF", "DT_RESOURCE", "DT_INVALID",
  "true", "false", "inf", "-inf", "nan", "0", "1", "-1", "2", "007", "0x7fffffff", "99999999999999999999", "1e308", "1e-45",
  "2.5f", "-0", "3.", ".5",
  '"x"', '"^x"', '"x:1"', '"x:99"', '""', '"\\x"', '"\\400"', '"\\u12"', '"\\U0011FFFF"', '"\\q"', '"\\377\\000"', '"\\xZZ"',
  '"unterminated', "'single'", '"Const"', '"Placeholder"', '"MatMul"', '"NoSuchOp"', '"Switch"', '"Merge"', '"VariableV2"',
  '"__proto__"', '"constructor"', '"toString"', "__proto__", "constructor",
];

const textEdit = fc.oneof(
  fc.record({ at: fc.nat(), length: fc.integer({ min: 1, max: 40 }) }).map(({ at, length }) =>
    mutation<string>(`delete ${length} chars at ${at}`, (t) => {
      const i = t.length ? at % t.length : 0;
      return t.slice(0, i) + t.slice(i + length);
    })),
  fc.record({ at: fc.nat(), insert: fc.oneof(fc.constantFrom(...TOKENS), fc.string({ maxLength: 6 }), fc.string({ unit: "binary", maxLength: 4 })) }).map(({ at, insert }) =>
    mutation<string>(`insert ${JSON.stringify(insert)} at ${at}`, (t) => {
      const i = t.length ? at % (t.length + 1) : 0;
      return t.slice(0, i) + insert + t.slice(i);
    })),
  fc.record({ at: fc.nat(), length: fc.integer({ min: 1, max: 400 }), times: fc.integer({ min: 1, max: 3 }) }).map(({ at, length, times }) =>
    mutation<string>(`duplicate ${length} chars at ${at} ${times}x`, (t) => {
      const i = t.length ? at % t.length : 0;
      const piece = t.slice(i, i + length);
      return t.slice(0, i) + piece.repeat(times + 1) + t.slice(i + length);
    })),
  fc.record({ a: fc.nat(), b: fc.nat(), length: fc.integer({ min: 1, max: 60 }) }).map(({ a, b, length }) =>
    mutation<string>(`swap ${length} chars at ${a} and ${b}`, (t) => {
      if (t.length < 2) return t;
      let [i, j] = [a % t.length, b % t.length].sort((x, y) => x - y);
      const n = Math.min(length, j - i);
      if (n <= 0) return t;
      if (j + n > t.length) j = t.length - n;
      if (j < i + n) return t;
      return t.slice(0, i) + t.slice(j, j + n) + t.slice(i + n, j) + t.slice(i, i + n) + t.slice(j + n);
    })),
  fc.nat().map((at) => mutation<string>(`truncate at ${at}`, (t) => t.slice(0, t.length ? at % t.length : 0))),
  fc.record({ which: fc.nat(), op: fc.constantFrom("delete", "duplicate", "swap"), other: fc.nat() }).map(({ which, op, other }) =>
    mutation<string>(`${op} token ${which}${op === "swap" ? ` with ${other}` : ""}`, (t) => {
      const tokens = tokenize(t);
      if (tokens.length === 0) return t;
      const i = which % tokens.length;
      const j = other % tokens.length;
      if (op === "delete") tokens.splice(i, 1);
      else if (op === "duplicate") tokens.splice(i, 0, tokens[i]);
      else [tokens[i], tokens[j]] = [tokens[j], tokens[i]];
      return tokens.join("");
    })),
  fc.record({ which: fc.nat(), replacement: fc.constantFrom(...TOKENS) }).map(({ which, replacement }) =>
    mutation<string>(`replace token ${which} by ${JSON.stringify(replacement)}`, (t) => {
      const tokens = tokenize(t);
      const solid = tokens.map((x, k) => (/^\s+$/.test(x) ? -1 : k)).filter((k) => k >= 0);
      if (solid.length === 0) return t;
      tokens[solid[which % solid.length]] = replacement;
      return tokens.join("");
    })),
  fc.record({ which: fc.nat(), n: fc.constantFrom("-1", "0", "2147483648", "-2147483649", "4294967296", "9007199254740993", "1e400", "0x", "0xffffffffffffffffffff", "1.5", "-0.0", "nan", "08", "99999999") }).map(({ which, n }) =>
    mutation<string>(`number ${which} becomes ${n}`, (t) => {
      const tokens = tokenize(t);
      const numbers = tokens.map((x, k) => (/^-?\d/.test(x) ? k : -1)).filter((k) => k >= 0);
      if (numbers.length === 0) return t;
      tokens[numbers[which % numbers.length]] = n;
      return tokens.join("");
    })),
  fc.record({ depth: fc.oneof(fc.integer({ min: 90, max: 110 }), fc.integer({ min: 200, max: 5000 })), open: fc.constantFrom("{", "<"), closed: fc.boolean(), at: fc.nat() }).map(
    ({ depth, open, closed, at }) =>
      mutation<string>(`nest ${depth} levels of ${open}${closed ? "" : " unclosed"} at ${at}`, (t) => {
        const close = open === "{" ? "}" : ">";
        const inner = `${"a ".concat(open).repeat(depth)}${closed ? close.repeat(depth) : ""}`;
        const i = t.length ? at % (t.length + 1) : 0;
        return `${t.slice(0, i)}\n${inner}\n${t.slice(i)}`;
      }),
  ),
);

/** Tokens of protobuf text, whitespace and comments included, so that joining gives the text back. */
export function tokenize(text: string): string[] {
  return text.match(/"(?:[^"\\\n]|\\.)*"?|'(?:[^'\\\n]|\\.)*'?|#[^\n]*|[A-Za-z_][A-Za-z0-9_]*|-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[fF]?|0[xX][0-9a-fA-F]+|\s+|[^]/g) ?? [];
}

/** A sequence of text mutations applied to a corpus text. */
export const textMutations = fc.array(textEdit, { minLength: 1, maxLength: 3 });

/** Random text: protobuf-ish tokens, or arbitrary characters. */
export const randomText = fc.oneof(
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }).map((t) => t.join(" ")),
  fc.array(fc.constantFrom(...TOKENS), { maxLength: 80 }).map((t) => t.join("")),
  fc.string({ maxLength: 200 }),
  fc.string({ unit: "binary", maxLength: 100 }),
  fc.string({ unit: fc.constantFrom(..."{}<>[]:;,\"'\\#-./ \n0123456789abcdefxXnodeinputattr_DT"), maxLength: 200 }),
);

// ---- GraphDef model ----

/** Registered op types by their number of inputs ("variadic" ones under every count). */
function opsTaking(count: number): string[] {
  return registeredOps().filter((t) => {
    const n = getOpDef(t).inputs;
    return n === "variadic" || n === count;
  });
}

/** The attribute names of the op's schema (none for an unknown op). */
function schemaKeys(op: string): string[] {
  return hasOp(op) ? Object.keys(getOpDef(op).attrs ?? {}) : [];
}

const OP_TYPES = [...registeredOps(), "Variable", "VarHandleOp", "ReadVariableOp", "AssignVariableOp", "VarIsInitializedOp", "Snapshot", "Concat", "Select", "BatchMatMul", "NoSuchOp", "", "__proto__", "constructor", "toString"];
const DTYPE_NAMES = ["DT_FLOAT", "DT_INT32", "DT_BOOL", "DT_INT64", "DT_STRING", "DT_HALF", "DT_DOUBLE", "DT_UINT8", "DT_FLOAT_REF", "DT_INT32_REF", "DT_INT64_REF", "DT_RESOURCE", "DT_INVALID", "DT_VARIANT", "DT_COMPLEX64", "toString", "__proto__", "constructor", "hasOwnProperty", "float32", "DT_WHATEVER"];
const ATTR_KEYS = ["T", "dtype", "value", "shape", "N", "axis", "num", "num_split", "keep_dims", "transpose_a", "transpose_b", "strides", "ksize", "padding", "data_format", "dilations", "epsilon", "is_training", "perm", "out_type", "output_type", "DstT", "SrcT", "squeeze_dims", "begin_mask", "end_mask", "ellipsis_mask", "new_axis_mask", "shrink_axis_mask", "batch_dims", "seed", "seed2", "reduction", "message", "use_locking", "validate_shape", "adj_x", "adj_y", "exponential_avg_factor", "variance_epsilon", "scale_after_normalization", "Tshape", "Tidx", "_output_shapes", "_class", "container", "shared_name", "Truncate", "__proto__", "constructor", "toString", ""];

const dim = fc.oneof(
  { weight: 6, arbitrary: fc.integer({ min: -1, max: 6 }) },
  { weight: 1, arbitrary: fc.constantFrom(-2, 1e8, 2 ** 31, 2 ** 53, 1e300, 10001) },
);
const tensorShape: fc.Arbitrary<TensorShapeProto> = fc.oneof(
  { weight: 8, arbitrary: fc.array(dim, { maxLength: 5 }).map((dims) => ({ dim: dims.map((size) => ({ size })) })) },
  { weight: 1, arbitrary: fc.constant<TensorShapeProto>({ dim: [], unknownRank: true }) },
  { weight: 1, arbitrary: fc.array(dim, { minLength: 1, maxLength: 3 }).map((dims) => ({ dim: dims.map((size) => ({ size })), unknownRank: true })) },
);
const number = fc.oneof(fc.integer({ min: -10, max: 10 }), fc.double(), fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1e300, NaN, Infinity, -Infinity, -0));
const int = fc.oneof({ weight: 6, arbitrary: fc.integer({ min: -3, max: 8 }) }, { weight: 1, arbitrary: fc.constantFrom(2 ** 31, -(2 ** 31) - 1, 2 ** 53, 1e300, 255, 65536) });
const bytes = fc.uint8Array({ maxLength: 64 });

const tensorProto: fc.Arbitrary<TensorProto> = fc
  .record(
    {
      dtype: fc.constantFrom(...DTYPE_NAMES),
      tensorShape,
      tensorContent: bytes,
      floatVal: fc.array(number, { maxLength: 8 }),
      intVal: fc.array(int, { maxLength: 8 }),
      int64Val: fc.array(int, { maxLength: 8 }),
      boolVal: fc.array(fc.boolean(), { maxLength: 8 }),
      halfVal: fc.array(int, { maxLength: 4 }),
      stringVal: fc.array(bytes, { maxLength: 3 }),
    },
    { requiredKeys: ["dtype", "tensorShape"] },
  );

const attrValue: fc.Arbitrary<AttrValueProto> = fc.oneof(
  int.map((i) => ({ i })),
  number.map((f) => ({ f })),
  fc.boolean().map((b) => ({ b })),
  fc.oneof(fc.constantFrom("NHWC", "NCHW", "SAME", "VALID", "EXPLICIT", "sum", "", "loc:@x"), fc.string({ maxLength: 8 })).map((s) => ({ s })),
  fc.constantFrom(...DTYPE_NAMES).map((type) => ({ type })),
  tensorShape.map((shape) => ({ shape })),
  tensorProto.map((tensor) => ({ tensor })),
  fc.array(int, { maxLength: 6 }).map((i) => ({ list: { i } })),
  fc.array(number, { maxLength: 4 }).map((f) => ({ list: { f } })),
  fc.array(fc.boolean(), { maxLength: 4 }).map((b) => ({ list: { b } })),
  fc.array(fc.string({ maxLength: 4 }), { maxLength: 3 }).map((s) => ({ list: { s } })),
  fc.array(fc.constantFrom(...DTYPE_NAMES), { maxLength: 3 }).map((type) => ({ list: { type } })),
  fc.array(tensorShape, { maxLength: 3 }).map((shape) => ({ list: { shape } })),
  fc.array(tensorProto, { maxLength: 2 }).map((tensor) => ({ list: { tensor } })),
  fc.constant<AttrValueProto>({ list: {} }),
  fc.constant<AttrValueProto>({ list: { i: [1], f: [2.5] } }),
  fc.constant<AttrValueProto>({ func: { name: "f", attr: {} } }),
  fc.constant<AttrValueProto>({ placeholder: "T" }),
);

const inputName = (names: string[], pick: number, kind: number, index: number): string => {
  const name = names.length ? names[pick % names.length] : "x";
  switch (kind % 8) {
    case 0:
      return `${name}:${index}`;
    case 1:
      return `^${name}`;
    case 2:
      return `${name}_missing`;
    case 3:
      return ["", ":", "^", ":0", "^^x", `${name}:`, `${name}:-1`, `${name}:99999999999999999999`][index % 8];
    default:
      return name;
  }
};

const at = <T>(list: readonly T[], i: number): T | undefined => (list.length ? list[i % list.length] : undefined);

const modelEdit: fc.Arbitrary<Mutation<GraphDef>> = fc.oneof(
  fc.record({ n: fc.nat(), op: fc.constantFrom(...OP_TYPES) }).map(({ n, op }) =>
    mutation<GraphDef>(`node ${n} becomes op ${JSON.stringify(op)}`, (g) => {
      const node = at(g.node, n);
      if (node) node.op = op;
      return g;
    })),
  fc.record({ n: fc.nat(), pick: fc.nat() }).map(({ n, pick }) =>
    mutation<GraphDef>(`node ${n} becomes an op of the same arity (#${pick})`, (g) => {
      const node = at(g.node, n);
      if (node) node.op = at(opsTaking(node.input.filter((i) => !i.startsWith("^")).length), pick) ?? node.op;
      return g;
    })),
  fc.nat().map((n) => mutation<GraphDef>(`duplicate node ${n}`, (g) => {
    const node = at(g.node, n);
    if (node) g.node.splice(n % g.node.length, 0, structuredClone(node));
    return g;
  })),
  fc.nat().map((n) => mutation<GraphDef>(`delete node ${n}`, (g) => {
    if (g.node.length) g.node.splice(n % g.node.length, 1);
    return g;
  })),
  fc.record({ n: fc.nat(), pick: fc.nat(), kind: fc.nat(), index: fc.nat({ max: 6 }), position: fc.nat() }).map(({ n, pick, kind, index, position }) =>
    mutation<GraphDef>(`node ${n} gets input (${pick}, ${kind}, ${index}) at ${position}`, (g) => {
      const node = at(g.node, n);
      if (node) node.input.splice(position % (node.input.length + 1), 0, inputName(g.node.map((x) => x.name), pick, kind, index));
      return g;
    })),
  fc.record({ n: fc.nat(), i: fc.nat() }).map(({ n, i }) =>
    mutation<GraphDef>(`node ${n} loses input ${i}`, (g) => {
      const node = at(g.node, n);
      if (node?.input.length) node.input.splice(i % node.input.length, 1);
      return g;
    })),
  fc.record({ n: fc.nat(), i: fc.nat(), j: fc.nat() }).map(({ n, i, j }) =>
    mutation<GraphDef>(`node ${n} swaps inputs ${i} and ${j}`, (g) => {
      const node = at(g.node, n);
      if (node && node.input.length > 1) {
        const a = i % node.input.length;
        const b = j % node.input.length;
        [node.input[a], node.input[b]] = [node.input[b], node.input[a]];
      }
      return g;
    })),
  fc.record({ n: fc.nat(), m: fc.nat() }).map(({ n, m }) =>
    mutation<GraphDef>(`cycle: node ${n} feeds back into node ${m}`, (g) => {
      // m's consumers' chain: make node n (after m) an input of m; n === m is a self-loop.
      const a = at(g.node, n);
      const b = at(g.node, m);
      if (a && b) b.input.unshift(a.name);
      return g;
    })),
  fc.record({ n: fc.nat(), name: fc.oneof(fc.constantFrom("", "^x", "x:1", "a/b", "__proto__", "constructor", "x y", "é", "Const"), fc.string({ maxLength: 6 })) }).map(({ n, name }) =>
    mutation<GraphDef>(`node ${n} is renamed ${JSON.stringify(name)}`, (g) => {
      const node = at(g.node, n);
      if (node) node.name = name;
      return g;
    })),
  fc.record({ n: fc.nat(), m: fc.nat(), length: fc.integer({ min: 200, max: 60000 }), what: fc.constantFrom("input", "near-miss input", "op") }).map(({ n, m, length, what }) =>
    mutation<GraphDef>(`node ${n} gets a ${length}-character name, node ${m} a ${what} of that length`, (g) => {
      // Long names must not make "did you mean" suggestions (edit distances) take quadratic time.
      const a = at(g.node, n);
      const b = at(g.node, m);
      if (!a || !b) return g;
      const name = `${a.name}_${"x".repeat(length)}`;
      a.name = name;
      if (what === "op") b.op = "Op".repeat(length / 2);
      else b.input.push(what === "input" ? name : `${name.slice(0, -1)}y`);
      return g;
    })),
  fc.record({ n: fc.nat(), key: fc.nat(), known: fc.constantFrom(...ATTR_KEYS), which: fc.constantFrom("existing", "schema", "named"), value: attrValue }).map(({ n, key, known, which, value }) =>
    mutation<GraphDef>(`node ${n} attr ${which === "named" ? JSON.stringify(known) : `${which} #${key}`} = ${JSON.stringify(value, replacer)}`, (g) => {
      const node = at(g.node, n);
      if (!node) return g;
      const name = which === "existing" ? at(Object.keys(node.attr), key) ?? known : which === "schema" ? at(schemaKeys(node.op), key) ?? known : known;
      setAttr(node, name, value);
      return g;
    })),
  fc.record({ n: fc.nat(), key: fc.nat() }).map(({ n, key }) =>
    mutation<GraphDef>(`node ${n} loses attr #${key}`, (g) => {
      const node = at(g.node, n);
      const name = node && at(Object.keys(node.attr), key);
      if (node && name !== undefined) delete node.attr[name];
      return g;
    })),
  fc.record({ n: fc.nat(), shape: tensorShape, dtype: fc.option(fc.constantFrom(...DTYPE_NAMES)), content: fc.option(fc.oneof(bytes, fc.constant("truncate"))) }).map(({ n, shape, dtype, content }) =>
    mutation<GraphDef>(`tensor #${n}: shape ${JSON.stringify(shape)}${dtype ? `, dtype ${dtype}` : ""}${content ? `, content ${content === "truncate" ? "truncated" : `${content.length} bytes`}` : ""}`, (g) => {
      const tensors = g.node.flatMap((node) => Object.values(node.attr).flatMap((v) => ("tensor" in v ? [v.tensor] : [])));
      const t = at(tensors, n);
      if (!t) return g;
      t.tensorShape = shape;
      if (dtype) t.dtype = dtype;
      if (content === "truncate") t.tensorContent = t.tensorContent?.slice(0, Math.max(0, t.tensorContent.length - 3));
      else if (content) t.tensorContent = content;
      return g;
    })),
);

function setAttr(node: NodeDef, key: string, value: AttrValueProto): void {
  // A plain assignment of "__proto__" would set the prototype; the parser builds maps the same way, so mirror it.
  Object.defineProperty(node.attr, key, { value, enumerable: true, configurable: true, writable: true });
}

function replacer(_key: string, v: unknown): unknown {
  if (v instanceof Uint8Array) return `bytes(${v.length})`;
  if (typeof v === "number" && !Number.isFinite(v)) return String(v);
  return v;
}

/** A sequence of GraphDef model mutations. */
export const modelMutations = fc.array(modelEdit, { minLength: 1, maxLength: 3 });

/** Import options: none, a prefix, limits (some invalid, some off), sometimes into a graph that already has nodes. */
export const importOptions = fc.record(
  {
    prefix: fc.constantFrom("scope", "a/b/", "/", ""),
    // maxElements stays small: a declared shape of 1e8 elements is within the default limit and takes 400 MB.
    limits: fc.oneof(
      { weight: 24, arbitrary: fc.constant({ maxElements: 1e6 }) },
      { weight: 2, arbitrary: fc.constant({ maxElements: 1e6, maxNestingDepth: Infinity }) },
      { weight: 1, arbitrary: fc.constant({ maxElements: 1e6, maxNodes: 3 }) },
      { weight: 1, arbitrary: fc.constant({ maxElements: 1e6, maxTotalBytes: 64 }) },
      { weight: 1, arbitrary: fc.constant({ maxElements: 4 }) },
      { weight: 1, arbitrary: fc.constantFrom<Record<string, number>>({ maxElements: 0 }, { maxElements: NaN }, { maxElement: 5 }) },
    ),
    intoExisting: fc.nat({ max: 7 }).map((n) => n === 0),
  },
  { requiredKeys: ["limits", "intoExisting"] },
);
