/**
 * Common-subexpression elimination: two ops of the same type, over the same inputs (after
 * earlier merges), with deep-equal attributes (Const values compared bit for bit) and the
 * same control inputs compute the same thing; the later one is replaced by the earlier.
 *
 *   before:  x ──Exp "a"──► Add ◄──Exp "b"── x         (two Switches of x on the same
 *   after:   x ──Exp "a"══► Add                          predicate in a tf.cond merge too)
 *
 * Never merged: stateful ops (variables, assigns, random generators: two `assignAdd`s are two
 * updates), Placeholder and PlaceholderWithDefault (each is fed on its own), and requested
 * outputs (their names must stay; they can still absorb later duplicates).
 */
import type { Diagnostic } from "../ir/diagnostics";
import type { Graph, Operation } from "../ir/graph";
import { NDArray } from "../ir/ndarray";
import type { AttrValue, Attrs } from "../ir/registry";
import { rewriteGraph } from "../ir/rewrite";
import type { Pass } from "./pass";
import { isFeedPoint, isRandom, isStateful, protectedNames, type OutputSpec } from "./outputs";

export interface CseOptions {
  /** Outputs whose names must stay: these ops are never replaced by an earlier duplicate. */
  outputs?: readonly OutputSpec[];
}

/** Whether `op` may take part in CSE at all. */
export function isMergeable(op: Operation): boolean {
  return !isStateful(op) && !isRandom(op) && !isFeedPoint(op);
}

export const cse: Pass<CseOptions> = (graph: Graph, options: CseOptions = {}) => {
  const keep = protectedNames(options.outputs);
  const diagnostics: Diagnostic[] = [];
  // Key (type, new input names, new control input names, attribute hash) → representatives.
  const buckets = new Map<string, Operation[]>();
  let changed = false;
  const result = rewriteGraph(graph, (op, ctx) => {
    if (!isMergeable(op)) return undefined;
    const inputs = op.inputs.map((t) => ctx.tensor(t).name);
    const controls = ctx.controlInputs(op).map((c) => c.name).sort();
    const key = `${op.type}|${inputs.join(",")}|${controls.join(",")}|${hashAttrs(op.attrs)}`;
    const bucket = buckets.get(key);
    const representative = bucket?.find((r) => attrsEqual(r.attrs, op.attrs));
    if (representative && !keep.has(op.name)) {
      const copy = ctx.op(representative);
      if (copy) {
        changed = true;
        return copy.outputs;
      }
    }
    if (!representative) {
      if (bucket) bucket.push(op);
      else buckets.set(key, [op]);
    }
    return undefined;
  });
  return changed ? { graph: result, changed, diagnostics } : { graph, changed: false, diagnostics };
};

/** A string summarizing the attributes (NDArrays by dtype, shape and a hash of their bytes). */
function hashAttrs(attrs: Attrs): string {
  return Object.keys(attrs)
    .sort()
    .map((k) => `${k}=${hashValue(attrs[k])}`)
    .join(";");
}

function hashValue(v: AttrValue): string {
  if (v instanceof NDArray) return `nd(${v.dtype};${v.shape.join("x")};${fnv1a(bytesOf(v)).toString(16)})`;
  if (typeof v === "number") return Object.is(v, -0) ? "-0" : String(v);
  return JSON.stringify(v) ?? "undefined";
}

function bytesOf(a: NDArray): Uint8Array {
  return new Uint8Array(a.data.buffer, a.data.byteOffset, a.data.byteLength);
}

function fnv1a(bytes: Uint8Array): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < bytes.length; i++) {
    h ^= bytes[i];
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Deep equality of attributes; NDArrays equal when dtype, shape and every byte are. */
export function attrsEqual(a: Attrs, b: Attrs): boolean {
  const ka = Object.keys(a).sort();
  const kb = Object.keys(b).sort();
  if (ka.length !== kb.length || ka.some((k, i) => k !== kb[i])) return false;
  return ka.every((k) => valueEqual(a[k], b[k]));
}

function valueEqual(a: unknown, b: unknown): boolean {
  if (a instanceof NDArray || b instanceof NDArray) {
    if (!(a instanceof NDArray && b instanceof NDArray)) return false;
    if (a.dtype !== b.dtype || a.shape.length !== b.shape.length || a.shape.some((d, i) => d !== b.shape[i])) return false;
    if (a.data.constructor !== b.data.constructor) return false;
    const x = bytesOf(a);
    const y = bytesOf(b);
    if (x.length !== y.length) return false;
    for (let i = 0; i < x.length; i++) if (x[i] !== y[i]) return false;
    return true;
  }
  if (Array.isArray(a) || Array.isArray(b)) {
    if (!(Array.isArray(a) && Array.isArray(b)) || a.length !== b.length) return false;
    return a.every((x, i) => valueEqual(x, b[i]));
  }
  return Object.is(a, b);
}
