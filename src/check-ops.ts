/**
 * TF1's check_ops (`tf.assertEqual`, `tf.assertPositive` ...; also under `tf.debugging`): each
 * builds, in its own name scope, `tf.Assert(tf.reduceAll(<comparison>), data)` and returns the
 * Assert op, to be run or used as a control dependency. The default data are TF1's:
 *
 *   [message, "Condition x == y did not hold element-wise:", "x (x:0) = ", x, "y (y:0) = ", y]
 *
 * When both operands are constants the check runs while building, as TF1 does: a failing one
 * throws an InvalidArgumentError at once.
 */
import { broadcastIndex } from "../ir/broadcast";
import { invalidArgument } from "../ir/diagnostics";
import { Tensor, type Operation } from "../ir/graph";
import type { NDArray } from "../ir/ndarray";
import { broadcastShapes, sizeOf } from "../ir/shape";
import { convertToTensor, graphOf, type TensorLike } from "../ir/ops/build";
import { equal, greater, greaterEqual, less, lessEqual } from "../ir/ops/elementwise";
import { Assert, summarizeValue, type LoggedData } from "../ir/ops/logging";
import { reduceAll } from "../ir/ops/reduce";

export interface AssertOptions {
  /** What the failure lists (default: the message, the condition, and x and y). */
  data?: LoggedData[];
  /** How many values of each tensor the failure lists (default 3). */
  summarize?: number;
  /** Put first in the default data. */
  message?: string;
  name?: string;
}

interface Comparison {
  symbol: string;
  build: (x: TensorLike, y: TensorLike) => Tensor;
  holds: (a: number, b: number) => boolean;
}

const COMPARISONS = {
  assert_equal: { symbol: "==", build: equal, holds: (a, b) => a === b },
  assert_less: { symbol: "<", build: less, holds: (a, b) => a < b },
  assert_less_equal: { symbol: "<=", build: lessEqual, holds: (a, b) => a <= b },
  assert_greater: { symbol: ">", build: greater, holds: (a, b) => a > b },
  assert_greater_equal: { symbol: ">=", build: greaterEqual, holds: (a, b) => a >= b },
} satisfies Record<string, Comparison>;

const constantOf = (t: Tensor): NDArray | undefined => (t.op.type === "Const" ? (t.op.attrs.value as NDArray) : undefined);

/** Whether `holds` is true for every broadcast pair of two constants (false when they do not broadcast: the op then fails). */
function holdsStatically(a: NDArray, b: NDArray, holds: Comparison["holds"]): boolean {
  let shape: number[];
  try {
    shape = broadcastShapes(a.shape, b.shape) as number[];
  } catch {
    return true; // the comparison op reports the shapes
  }
  const ia = broadcastIndex(a.shape, shape);
  const ib = broadcastIndex(b.shape, shape);
  for (let i = 0; i < sizeOf(shape); i++) if (!holds(a.data[ia ? ia[i] : i], b.data[ib ? ib[i] : i])) return false;
  return true;
}

/** TF1's _assert_static: a failing check of constants is an error while building, listing the data. */
function failStatically(data: readonly LoggedData[], node: string): never {
  const lines = data.map((d) => {
    if (typeof d === "string") return d;
    const value = d instanceof Tensor ? constantOf(d) : undefined;
    return value ? `[${summarizeValue(value, -1)}]` : d instanceof Tensor ? d.name : String(d);
  });
  throw invalidArgument({
    code: "assertion-failed",
    node,
    message: lines.join("\n"),
    fix: "the operands are constants, so the assertion fails whenever the graph runs: fix the constants",
  });
}

function binaryAssert(kind: keyof typeof COMPARISONS, x: TensorLike, y: TensorLike, options: AssertOptions): Operation {
  const g = graphOf([x, y]);
  const { symbol, build, holds } = COMPARISONS[kind];
  return g.nameScope(options.name ?? kind, () => {
    const scope = g.nameScopeValue;
    const hint = x instanceof Tensor ? x.dtype : y instanceof Tensor ? y.dtype : undefined;
    const tx = convertToTensor(x, x instanceof Tensor ? undefined : hint, "x", g);
    const ty = convertToTensor(y, y instanceof Tensor ? undefined : tx.dtype, "y", g);
    const data = options.data ?? [options.message ?? "", `Condition x ${symbol} y did not hold element-wise:`, `x (${tx.name}) = `, tx, `y (${ty.name}) = `, ty];
    const condition = reduceAll(build(tx, ty));
    const [cx, cy] = [constantOf(tx), constantOf(ty)];
    if (cx && cy && !holdsStatically(cx, cy, holds)) failStatically(data, scope);
    return Assert(condition, data, options.summarize);
  });
}

/** `tf.assertEqual(x, y, { data, summarize, message, name })`: x == y element-wise. */
export const assertEqual = (x: TensorLike, y: TensorLike, options: AssertOptions = {}) => binaryAssert("assert_equal", x, y, options);
/** `tf.assertLess(x, y, ...)`: x < y element-wise. */
export const assertLess = (x: TensorLike, y: TensorLike, options: AssertOptions = {}) => binaryAssert("assert_less", x, y, options);
export const assertLessEqual = (x: TensorLike, y: TensorLike, options: AssertOptions = {}) => binaryAssert("assert_less_equal", x, y, options);
export const assertGreater = (x: TensorLike, y: TensorLike, options: AssertOptions = {}) => binaryAssert("assert_greater", x, y, options);
export const assertGreaterEqual = (x: TensorLike, y: TensorLike, options: AssertOptions = {}) => binaryAssert("assert_greater_equal", x, y, options);

/** The sign checks: TF1 builds them on assertLess / assertLessEqual against a zero of x's dtype. */
function signAssert(kind: string, condition: string, zeroFirst: boolean, strict: boolean, x: TensorLike, options: AssertOptions): Operation {
  const g = graphOf([x]);
  return g.nameScope(options.name ?? kind, () => {
    const tx = convertToTensor(x, undefined, "x", g);
    const data = options.data ?? [options.message ?? "", `Condition x ${condition} 0 did not hold element-wise:`, `x (${tx.name}) = `, tx];
    const zero = convertToTensor(0, tx.dtype, "Const", g);
    const [a, b] = zeroFirst ? [zero, tx] : [tx, zero];
    const inner = { data, summarize: options.summarize };
    return strict ? assertLess(a, b, inner) : assertLessEqual(a, b, inner);
  });
}

/** `tf.assertPositive(x, ...)`: x > 0 element-wise. */
export const assertPositive = (x: TensorLike, options: AssertOptions = {}) => signAssert("assert_positive", ">", true, true, x, options);
export const assertNegative = (x: TensorLike, options: AssertOptions = {}) => signAssert("assert_negative", "<", false, true, x, options);
export const assertNonNegative = (x: TensorLike, options: AssertOptions = {}) => signAssert("assert_non_negative", ">=", true, false, x, options);
export const assertNonPositive = (x: TensorLike, options: AssertOptions = {}) => signAssert("assert_non_positive", "<=", false, false, x, options);
