/**
 * Feed values for the feed fuzzer, and the oracle that says what Session.run must do with
 * each: the placeholder's value (shape and data) when the feed is valid, an error when it is
 * not, or either (mixed booleans and numbers, which foldflow may read as numbers). Values are
 * built from a target shape that fits the placeholder or not, in every form a user may pass:
 * NDArrays (of any dtype), typed arrays of every kind, nested arrays (ragged or not, with odd
 * elements: NaN, infinities, -0, out-of-range or fractional numbers, booleans, strings,
 * objects, null, undefined, holes), scalars, and arrays nested thousands of levels deep.
 */
import fc from "fast-check";
import * as tf from "foldflow";

export type DType = "float32" | "int32" | "bool";

export interface PlaceholderSpec {
  dtype: DType;
  /** The declared shape: null for unknown rank, null entries for unknown dims. */
  declared: (number | null)[] | null;
}

const dim = fc.integer({ min: 0, max: 3 });
export const placeholderSpec: fc.Arbitrary<PlaceholderSpec> = fc.record({
  dtype: fc.constantFrom<DType>("float32", "int32", "bool"),
  declared: fc.oneof(
    { weight: 8, arbitrary: fc.array(fc.oneof({ weight: 3, arbitrary: dim }, { weight: 1, arbitrary: fc.constant(null) }), { maxLength: 3 }) },
    { weight: 1, arbitrary: fc.constant(null) },
  ),
});

/** A leaf value of the right kind for `dtype`, from a seed. */
function goodLeaf(dtype: DType, k: number): number | boolean {
  if (dtype === "bool") return k % 2 === 0;
  if (dtype === "int32") return (k % 11) - 5;
  return ((k % 97) - 48) / 8;
}

/** Odd leaves; made afresh each time (ragged edits push into arrays, which must not be shared). */
const ODD_LEAVES: readonly (() => unknown)[] = [
  () => NaN, () => Infinity, () => -Infinity, () => -0, () => 1.5, () => 2 ** 31, () => -(2 ** 31) - 1, () => 2 ** 53, () => 1e300, () => 1e-45,
  () => true, () => false, () => 0, () => 1, () => "1", () => "", () => null, () => undefined, () => ({}), () => [], () => [1],
  () => ({ length: 1, 0: 1 }), () => new Date(0), () => () => 1, () => 1n, () => Symbol("s"), () => new Float32Array(1),
];

/** `arb` once in `n` cases, else null. */
const sometimes = <T>(arb: fc.Arbitrary<T>, n: number): fc.Arbitrary<T | null> => fc.oneof({ weight: n - 1, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });

export type FeedForm =
  | { form: "nested"; shape: number[]; odd: { at: number; leaf: number } | null; ragged: { at: number; by: number } | null; hole: number | null; wrap: number }
  | { form: "typed"; kind: number; length: number; values: number }
  | { form: "ndarray"; dtype: DType; shape: number[] }
  | { form: "scalar"; leaf: number }
  | { form: "deep"; depth: number };

const TYPED = [Float32Array, Float64Array, Int32Array, Uint8Array, Int8Array, Int16Array, Uint16Array, Uint32Array, Uint8ClampedArray, BigInt64Array, BigUint64Array, DataView] as const;

/** A shape that fits `declared` (unknown dims 0..3), or (when `fit` is false) one that likely does not. */
export function shapeFor(declared: PlaceholderSpec["declared"], fit: boolean, k: number): number[] {
  if (declared === null) return Array.from({ length: k % 4 }, (_, i) => (k >> (2 * i)) % 4);
  const shape = declared.map((d, i) => d ?? (k >> (2 * i)) % 4);
  if (fit) return shape;
  switch (k % 3) {
    case 0:
      return [...shape, 1 + (k % 2)];
    case 1:
      return shape.slice(1);
    default:
      return shape.length ? shape.map((d, i) => (i === 0 ? d + 1 : d)) : [2];
  }
}

export const feedForm = (spec: PlaceholderSpec): fc.Arbitrary<FeedForm> =>
  fc.oneof(
    {
      weight: 6,
      arbitrary: fc.record({
        form: fc.constant("nested" as const),
        shape: fc.tuple(fc.boolean(), fc.nat()).map(([fit, k]) => shapeFor(spec.declared, fit || k % 3 === 0, k)),
        odd: sometimes(fc.record({ at: fc.nat(), leaf: fc.nat({ max: ODD_LEAVES.length - 1 }) }), 3),
        ragged: sometimes(fc.record({ at: fc.nat(), by: fc.integer({ min: -1, max: 1 }) }), 5),
        hole: sometimes(fc.nat(), 8),
        wrap: fc.oneof({ weight: 8, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 3 }) }),
      }),
    },
    {
      weight: 3,
      arbitrary: fc.record({
        form: fc.constant("typed" as const),
        kind: fc.nat({ max: TYPED.length - 1 }),
        // The length of a shape that fits, or any length.
        length: fc.oneof(fc.nat().map((k) => shapeFor(spec.declared, true, k).reduce((a, b) => a * b, 1)), fc.integer({ min: 0, max: 30 })),
        values: fc.nat(),
      }),
    },
    { weight: 2, arbitrary: fc.record({ form: fc.constant("ndarray" as const), dtype: fc.constantFrom<DType>("float32", "int32", "bool", spec.dtype, spec.dtype), shape: fc.tuple(fc.boolean(), fc.nat()).map(([fit, k]) => shapeFor(spec.declared, fit, k)) }) },
    { weight: 2, arbitrary: fc.record({ form: fc.constant("scalar" as const), leaf: fc.nat({ max: ODD_LEAVES.length + 2 }) }) },
    { weight: 1, arbitrary: fc.record({ form: fc.constant("deep" as const), depth: fc.oneof(fc.integer({ min: 250, max: 260 }), fc.integer({ min: 1000, max: 50000 })) }) },
  );

/** Nested arrays of `shape` with leaves from `leaf(k)` (k the flat index). */
function nested(shape: readonly number[], leaf: (k: number) => unknown, offset = 0): unknown {
  if (shape.length === 0) return leaf(offset);
  const inner = shape.slice(1).reduce((a, b) => a * b, 1);
  return Array.from({ length: shape[0] }, (_, i) => nested(shape.slice(1), leaf, offset + i * inner));
}

/** The first array (depth-first) with at least one element, for ragged and hole edits. */
function arrays(v: unknown, out: unknown[][] = []): unknown[][] {
  if (Array.isArray(v)) {
    out.push(v);
    for (const x of v) arrays(x, out);
  }
  return out;
}

/** The value a form describes, for a placeholder of `dtype`. */
export function feedValue(f: FeedForm, dtype: DType): unknown {
  switch (f.form) {
    case "nested": {
      let v = nested(f.shape, (k) => (f.odd && k === f.odd.at % Math.max(1, f.shape.reduce((a, b) => a * b, 1)) ? ODD_LEAVES[f.odd.leaf]() : goodLeaf(dtype, k)));
      const all = arrays(v).filter((a) => a.length > 0);
      if (f.ragged && all.length) {
        const a = all[f.ragged.at % all.length];
        if (f.ragged.by > 0) a.push(a[0]);
        else if (f.ragged.by < 0) a.pop();
        else a.push([a[0]]);
      }
      if (f.hole !== null && all.length) {
        const a = all[f.hole % all.length];
        delete a[f.hole % a.length];
      }
      for (let i = 0; i < f.wrap; i++) v = [v];
      return v;
    }
    case "typed": {
      const Kind = TYPED[f.kind];
      if (Kind === DataView) return new DataView(new ArrayBuffer(f.length * 4));
      if (Kind === BigInt64Array || Kind === BigUint64Array) return Kind.from(Array.from({ length: f.length }, (_, i) => BigInt(i)));
      return (Kind as Float32ArrayConstructor).from({ length: f.length }, (_: unknown, i: number) => (Kind === Uint8Array && dtype === "bool" ? (f.values >> i) % 3 : (((f.values + i) % 13) - 6) / (Kind === Float32Array || Kind === Float64Array ? 4 : 1)));
    }
    case "ndarray": {
      const n = f.shape.reduce((a, b) => a * b, 1);
      return tf.ndarray(Array.from({ length: n }, (_, k) => Number(goodLeaf(f.dtype, k))), f.shape, f.dtype);
    }
    case "scalar":
      return f.leaf < ODD_LEAVES.length ? ODD_LEAVES[f.leaf]() : goodLeaf(dtype, f.leaf);
    case "deep": {
      let v: unknown = goodLeaf(dtype, 1);
      for (let i = 0; i < f.depth; i++) v = [v];
      return v;
    }
  }
}

/** What the session must do: feed exactly `shape` and `data`, refuse, or either. */
export type Verdict = { verdict: "valid" | "either"; shape: number[]; data: number[] } | { verdict: "invalid"; why: string };

const isCompatible = (shape: readonly number[], declared: PlaceholderSpec["declared"]) =>
  declared === null || (declared.length === shape.length && declared.every((d, i) => d === null || d === shape[i]));

/** The oracle, written independently of foldflow's conversion. */
export function verdict(value: unknown, spec: PlaceholderSpec): Verdict {
  const invalid = (why: string): Verdict => ({ verdict: "invalid", why });
  const done = (shape: number[], data: number[], mixed = false): Verdict =>
    !isCompatible(shape, spec.declared) ? invalid(`shape [${shape}] does not fit`) : { verdict: mixed ? "either" : "valid", shape, data };
  if (value instanceof tf.NDArray) return value.dtype === spec.dtype ? done(value.shape, Array.from(value.data)) : invalid("dtype");
  if (ArrayBuffer.isView(value)) {
    if (value instanceof DataView || value instanceof BigInt64Array || value instanceof BigUint64Array) return invalid("not numbers");
    const typed = value as unknown as ArrayLike<number>;
    const kind = value instanceof Int32Array ? "int32" : value instanceof Uint8Array ? "bool" : "float32";
    if (kind !== spec.dtype) return invalid(`a ${value.constructor.name}`);
    const shape = typedShape(spec.declared, typed.length);
    if (!shape) return invalid("length");
    const data = Array.from(typed, (v) => (spec.dtype === "bool" ? (v ? 1 : 0) : spec.dtype === "float32" ? Math.fround(v) : v));
    return done(shape, data);
  }
  // Nested arrays: rectangular, at most 254 levels, leaves numbers or booleans.
  const shape: number[] = [];
  for (let v = value; Array.isArray(v); v = v[0]) {
    shape.push(v.length);
    if (shape.length > 254) return invalid("too deep");
    if (v.length === 0) break;
  }
  const leaves: unknown[] = [];
  const walk = (v: unknown, depth: number): boolean => {
    if (!Array.isArray(v)) {
      leaves.push(v);
      return depth === shape.length;
    }
    if (depth >= shape.length || v.length !== shape[depth]) return false;
    for (let i = 0; i < v.length; i++) if (!(i in v) || !walk(v[i], depth + 1)) return false;
    return true;
  };
  if (!walk(value, 0)) return invalid("ragged, or a hole");
  if (leaves.some((l) => typeof l !== "number" && typeof l !== "boolean")) return invalid("a leaf that is not a number or a boolean");
  const bools = leaves.filter((l) => typeof l === "boolean").length;
  if (leaves.length && bools === leaves.length) return spec.dtype === "bool" ? done(shape, leaves.map((l) => (l ? 1 : 0))) : invalid("booleans");
  const numbers = leaves.map((l) => Number(l));
  const mixed = bools > 0;
  if (spec.dtype === "bool") return leaves.length === 0 ? done(shape, []) : mixed && typeof leaves[0] === "boolean" ? done(shape, numbers.map((n) => (n ? 1 : 0)), true) : invalid("numbers");
  if (mixed && typeof leaves[0] === "boolean") return invalid("booleans first");
  if (spec.dtype === "int32") {
    if (numbers.some((n) => !Number.isInteger(n) || n < -(2 ** 31) || n > 2 ** 31 - 1)) return invalid("not int32");
    return done(shape, numbers.map((n) => n | 0), mixed);
  }
  return done(shape, numbers.map((n) => Math.fround(n)), mixed);
}

/** The shape a flat typed array of `length` takes for `declared` (one unknown dim inferred), or null. */
function typedShape(declared: PlaceholderSpec["declared"], length: number): number[] | null {
  if (declared === null) return [length];
  const unknown = declared.filter((d) => d === null).length;
  const known = declared.reduce<number>((a, d) => a * (d ?? 1), 1);
  if (unknown > 1) return null;
  if (unknown === 0) return known === length ? (declared as number[]) : null;
  if (known === 0 || length % known !== 0) return null;
  return declared.map((d) => d ?? length / known);
}
