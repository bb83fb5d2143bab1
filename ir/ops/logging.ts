/**
 * TF's logging_ops: Assert, which fails the run with an InvalidArgumentError listing its data
 * when its condition is false, and Print, an identity that writes a message and its data to
 * stderr. Both are stateful, so no pass folds, merges or removes them; an Assert has no
 * outputs and runs through control dependencies:
 *
 *   const check = tf.Assert(tf.reduceAll(tf.greater(x, 0)), ["x must be positive:", x]);
 *   const y = tf.controlDependencies([check], () => tf.log(x));
 *
 * Data values are written as TF's Tensor::SummarizeValue writes them: the first `summarize`
 * values, row by row in brackets, then "..." when some were left out. foldflow has no string
 * tensors: the strings of an Assert's or Print's data are kept in the op's attributes
 * `_string_data` (the strings) and `_string_positions` (where they stand among the data), and
 * TF1 GraphDefs whose string Consts feed only Asserts and Prints are imported that way
 * (ir/graphdef/tf1-ops.ts).
 */
import { invalidArgument } from "../diagnostics";
import { Tensor, type Operation } from "../graph";
import type { NDArray } from "../ndarray";
import { registerOp, type Attrs } from "../registry";
import { formatShape } from "../shape";
import { convertToTensor, graphOf, type TensorLike } from "./build";

/** C's %.{precision}g. */
function formatG(v: number, precision: number): string {
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  // The exponent of v rounded to `precision` digits decides the style, as in C.
  const exponent = Number(v.toExponential(precision - 1).split("e")[1]);
  if (exponent < -4 || exponent >= precision) {
    const [mantissa, e] = v.toExponential(precision - 1).split("e");
    const m = mantissa.includes(".") ? mantissa.replace(/\.?0+$/, "") : mantissa;
    const n = Number(e);
    return `${m}e${n < 0 ? "-" : "+"}${String(Math.abs(n)).padStart(2, "0")}`;
  }
  const fixed = v.toFixed(Math.max(precision - 1 - exponent, 0));
  return fixed.includes(".") ? fixed.replace(/\.?0+$/, "") : fixed;
}

/** One float as TF's StrCat writes it: %.6g, or %.9g when 6 digits do not give the float back. */
function formatFloat(v: number): string {
  if (Number.isNaN(v)) return "nan";
  if (!Number.isFinite(v)) return v > 0 ? "inf" : "-inf";
  const short = formatG(v, 6);
  return Math.fround(Number(short)) === Math.fround(v) ? short : formatG(v, 9);
}

function formatElement(v: number, dtype: NDArray["dtype"]): string {
  if (dtype === "float32") return formatFloat(v);
  if (dtype === "bool") return v ? "1" : "0";
  return String(v);
}

/**
 * TF's Tensor::SummarizeValue(max_entries) (print_v2 false): the first `limit` values (all when
 * negative), each row in brackets ("[1 2][3...]..."), "..." when values were left out.
 */
export function summarizeValue(a: NDArray, maxEntries: number): string {
  const total = a.size;
  const limit = maxEntries < 0 ? total : Math.min(maxEntries, total);
  const values = a.data;
  if (a.rank === 0) return limit > 0 ? formatElement(values[0], a.dtype) : "";
  let out = "";
  let index = 0;
  const dim = (d: number): void => {
    if (index >= limit) return;
    const count = a.shape[d];
    if (d === a.rank - 1) {
      for (let i = 0; i < count; i++) {
        if (index >= limit) {
          if (d !== 0) out += "...";
          return;
        }
        if (i > 0) out += " ";
        out += formatElement(values[index++], a.dtype);
      }
      return;
    }
    for (let i = 0; i < count; i++) {
      const opened = index < limit;
      if (opened) out += "[";
      dim(d + 1);
      if (index < limit || opened) out += "]";
    }
  };
  dim(0);
  if (total > limit) out += "...";
  return out;
}

/** A string as TF's CEscape writes it. */
function cEscape(s: string): string {
  return s.replace(/[\\"'\n\r\t]/g, (c) => ({ "\\": "\\\\", '"': '\\"', "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t" })[c]!);
}

/** The summaries of an op's data: its tensors, with the strings of `_string_data` put back in place. */
function dataSummaries(tensors: readonly NDArray[], attrs: Attrs): string[] {
  const strings = (attrs._string_data as string[] | undefined) ?? [];
  const positions = (attrs._string_positions as number[] | undefined) ?? [];
  const out: string[] = [];
  let next = 0;
  const total = tensors.length + strings.length;
  for (let i = 0; i < total; i++) {
    const k = positions.indexOf(i);
    if (k >= 0 && k < strings.length) out.push(cEscape(strings[k]));
    else if (next < tensors.length) out.push(summarizeValue(tensors[next++], attrs.summarize as number));
  }
  return out;
}

function checkStringAttrs(attrs: Attrs, type: string, node: string): void {
  const strings = attrs._string_data;
  const positions = attrs._string_positions;
  if (strings === undefined && positions === undefined) return;
  const ok = Array.isArray(strings) && Array.isArray(positions) && strings.length === positions.length && strings.every((s) => typeof s === "string") && positions.every((p) => Number.isInteger(p) && (p as number) >= 0);
  if (!ok)
    throw invalidArgument({
      code: "bad-attr",
      node,
      message: `${type}'s _string_data and _string_positions must be a list of strings and a list of as many positions`,
      expected: "two lists of one length",
      received: `${JSON.stringify(strings)} and ${JSON.stringify(positions)}`,
      fix: "set both attributes, or neither",
    });
}

registerOp({
  type: "Assert",
  inputs: "variadic",
  attrs: { T: { kind: "list(type)", default: [] }, summarize: { kind: "int", default: 3 } },
  stateful: true,
  infer: (inputs, attrs, node) => {
    checkStringAttrs(attrs, "Assert", node);
    const condition = inputs[0];
    if (!condition)
      throw invalidArgument({ code: "input-count", node, message: "Assert needs a condition input", expected: ">= 1 inputs", received: "0", fix: "pass the condition (a bool scalar) first" });
    const s = condition.shape;
    if (condition.dtype !== "bool" || (s !== null && !(s.length === 0 || (s.length === 1 && (s[0] === 1 || s[0] === null)))))
      throw invalidArgument({
        code: "bad-condition",
        node,
        message: "Assert's condition must be a bool scalar",
        expected: "bool []",
        received: `${condition.dtype} ${formatShape(s)}`,
        fix: "reduce the condition to one bool, e.g. tf.reduceAll(tf.equal(x, y))",
      });
    return [];
  },
  kernel: ([condition, ...data], attrs, ctx) => {
    if (condition.size !== 1)
      throw invalidArgument({
        code: "bad-condition",
        node: ctx.node,
        message: `In[0] should be a scalar: ${formatShape(condition.shape)}`,
        expected: "a bool scalar",
        received: formatShape(condition.shape),
        fix: "reduce the condition to one bool, e.g. tf.reduceAll(...)",
      });
    if (condition.data[0]) return [];
    const summaries = dataSummaries(data, attrs).map((s) => `[${s}]`);
    throw invalidArgument({
      code: "assertion-failed",
      node: ctx.node,
      message: `assertion failed: ${summaries.join(" ")}`,
      fix: "the data above are the values the assertion saw; fix the inputs that broke it",
    });
  },
});

/** Writes one line to stderr (console.error where there is no process.stderr). */
function writeStderr(line: string): void {
  const stderr = (globalThis as { process?: { stderr?: { write?: (s: string) => unknown } } }).process?.stderr;
  if (stderr?.write) stderr.write(`${line}\n`);
  else console.error(line);
}

registerOp({
  type: "Print",
  inputs: "variadic",
  attrs: {
    U: { kind: "list(type)", default: [] },
    message: { kind: "string", default: "" },
    first_n: { kind: "int", default: -1 },
    summarize: { kind: "int", default: 3 },
  },
  stateful: true,
  infer: (inputs, attrs, node) => {
    checkStringAttrs(attrs, "Print", node);
    if (inputs.length === 0)
      throw invalidArgument({ code: "input-count", node, message: "Print needs an input", expected: ">= 1 inputs", received: "0", fix: "pass the tensor to pass through first" });
    return [{ dtype: inputs[0].dtype, shape: inputs[0].shape }];
  },
  kernel: ([input, ...data], attrs, ctx) => {
    const firstN = attrs.first_n as number;
    if (firstN >= 0) {
      const count = (ctx.state.get(ctx.node) as number | undefined) ?? 0;
      if (count >= firstN) return [input];
      ctx.state.set(ctx.node, count + 1);
    }
    writeStderr(String(attrs.message) + dataSummaries(data, attrs).map((s) => `[${s}]`).join(""));
    return [input];
  },
  // TF's _PrintGrad: the gradient passes to the input; the data get none.
  gradient: (op, [dy]) => [dy, ...op.inputs.slice(1).map(() => null)],
});

/** Data of an Assert or Print: tensors (or values made constants) and strings. */
export type LoggedData = TensorLike | string;

/** The data's tensors, and the attributes that keep its strings. */
function splitData(data: readonly LoggedData[], g: ReturnType<typeof graphOf>): { tensors: Tensor[]; attrs: Attrs } {
  const tensors: Tensor[] = [];
  const strings: string[] = [];
  const positions: number[] = [];
  data.forEach((d, i) => {
    if (typeof d === "string") {
      strings.push(d);
      positions.push(i);
    } else tensors.push(convertToTensor(d, undefined, "Const", g));
  });
  return { tensors, attrs: strings.length ? { _string_data: strings, _string_positions: positions } : {} };
}

const isTensorLike = (d: LoggedData): d is TensorLike => typeof d !== "string";

/**
 * `tf.Assert(condition, data, summarize = 3)`: an op (in scope `Assert`, named `Assert/Assert`
 * as TF1 names it) that fails the run with an InvalidArgumentError listing `data` when
 * `condition` (a bool scalar) is false. Run it, or build what depends on it under
 * `tf.controlDependencies([assertOp], ...)`.
 */
export function Assert(condition: TensorLike, data: LoggedData[], summarize?: number, name = "Assert"): Operation {
  const g = graphOf([condition, ...data.filter(isTensorLike)]);
  return g.nameScope(name, () => {
    const c = convertToTensor(condition, condition instanceof Tensor ? undefined : "bool", "Condition", g);
    const { tensors, attrs } = splitData(data, g);
    return g.addOp({
      type: "Assert",
      name: "Assert",
      inputs: [c, ...tensors],
      attrs: { T: tensors.map((t) => t.dtype), summarize: summarize ?? 3, ...attrs },
    });
  });
}

export interface PrintOptions {
  /** Print only the first `firstN` times the op runs (per session); -1: always. */
  firstN?: number;
  /** How many values of each tensor to print (default 3; -1: all). */
  summarize?: number;
  name?: string;
}

/**
 * `tf.Print(input, data, message?)`: `input` unchanged; each time it runs, writes `message`
 * followed by each of `data` in brackets (TF1's format) to stderr.
 */
export function Print(input: TensorLike, data: LoggedData[], message = "", options: PrintOptions = {}): Tensor {
  const g = graphOf([input, ...data.filter(isTensorLike)]);
  const x = convertToTensor(input, undefined, "Const", g);
  const { tensors, attrs } = splitData(data, g);
  return g.addOp({
    type: "Print",
    name: options.name ?? "Print",
    inputs: [x, ...tensors],
    attrs: { U: tensors.map((t) => t.dtype), message, first_n: options.firstN ?? -1, summarize: options.summarize ?? 3, ...attrs },
  }).outputs[0];
}
