import { invalidArgument } from "./diagnostics";

/** A static shape: one entry per dimension, `null` where the size is unknown. */
export type Shape = (number | null)[];

/** A static shape that may also have an unknown rank (`null`). */
export type MaybeShape = Shape | null;

export function sizeOf(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function isFullyDefined(shape: MaybeShape): shape is number[] {
  return shape !== null && shape.every((d) => d !== null);
}

export function formatShape(shape: MaybeShape): string {
  if (shape === null) return "<unknown>";
  return `[${shape.map((d) => (d === null ? "?" : String(d))).join(",")}]`;
}

/** Row-major strides of a concrete shape. */
export function stridesOf(shape: readonly number[]): number[] {
  const strides = new Array<number>(shape.length);
  let s = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = s;
    s *= shape[i];
  }
  return strides;
}

/** Whether a concrete shape is compatible with a static (partially known) one. */
export function isCompatible(actual: readonly number[], declared: MaybeShape): boolean {
  if (declared === null) return true;
  if (actual.length !== declared.length) return false;
  return declared.every((d, i) => d === null || d === actual[i]);
}

/**
 * The numpy/TF broadcast of two static shapes. Unknown dims broadcast to unknown unless the
 * other side is known and not 1. Throws an InvalidArgumentError naming `node` on mismatch.
 */
export function broadcastShapes(a: MaybeShape, b: MaybeShape, node = ""): MaybeShape {
  if (a === null || b === null) return null;
  const rank = Math.max(a.length, b.length);
  const out: Shape = new Array(rank);
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    if (da === 1) out[i] = db;
    else if (db === 1) out[i] = da;
    else if (da === null) out[i] = db;
    else if (db === null) out[i] = da;
    else if (da === db) out[i] = da;
    else
      throw invalidArgument({
        code: "incompatible-shapes",
        node,
        message: `shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together (dimension ${i}: ${da} vs ${db})`,
        expected: "equal dimensions or a dimension of 1",
        received: `${formatShape(a)} and ${formatShape(b)}`,
        fix: "reshape or tile one operand so that every dimension matches or is 1",
      });
  }
  return out;
}

/** Normalizes a possibly negative axis against `rank`; throws when out of range. */
export function normalizeAxis(axis: number, rank: number, node = ""): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank)
    throw invalidArgument({
      code: "axis-out-of-range",
      node,
      message: `axis ${axis} is out of range for a tensor of rank ${rank}`,
      expected: `an axis in [${-rank}, ${rank})`,
      received: String(axis),
      fix: `use an axis between ${-rank} and ${rank - 1}`,
    });
  return a;
}
