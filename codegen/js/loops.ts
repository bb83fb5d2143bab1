/**
 * Index arithmetic for generated loops: strides of an operand broadcast (or otherwise mapped)
 * onto an iteration domain, coalescing of dimensions that stay contiguous for every operand,
 * nested loops that carry one offset per operand, and closed-form index expressions from a
 * flat domain index (used by epilogues, which see one element at a time).
 */
import { stridesOf } from "../../ir/shape";

/** Row-major strides of `shape` seen from a domain of rank `rank`, right-aligned; broadcast dims get 0. */
export function broadcastStrides(shape: readonly number[], domain: readonly number[]): number[] {
  const strides = stridesOf(shape);
  const offset = domain.length - shape.length;
  return domain.map((_, d) => {
    const k = d - offset;
    if (k < 0 || shape[k] === 1) return 0;
    return strides[k];
  });
}

export interface Coalesced {
  /** Sizes of the remaining dimensions, outermost first. */
  sizes: number[];
  /** One stride list per operand, aligned with `sizes`. */
  strides: number[][];
}

/** Drops size-1 dims and merges neighbours that are contiguous for every operand. */
export function coalesce(sizes: readonly number[], strides: readonly (readonly number[])[]): Coalesced {
  const outSizes: number[] = [];
  const outStrides: number[][] = strides.map(() => []);
  for (let d = 0; d < sizes.length; d++) {
    if (sizes[d] === 1) continue;
    const last = outSizes.length - 1;
    // Merge dim d into the previous kept dim when, for every operand, prev stride = stride(d) * size(d).
    if (last >= 0 && strides.every((s, k) => outStrides[k][last] === s[d] * sizes[d])) {
      outSizes[last] *= sizes[d];
      strides.forEach((s, k) => (outStrides[k][last] = s[d]));
      continue;
    }
    outSizes.push(sizes[d]);
    strides.forEach((s, k) => outStrides[k].push(s[d]));
  }
  return { sizes: outSizes, strides: outStrides };
}

/** A unique-name source for generated locals. */
export class Names {
  private n = 0;
  next(prefix: string): string {
    return `${prefix}${this.n++}`;
  }
}

export interface LoopNest {
  /** Code before the loops (hoisted loads of operands constant over the whole nest). */
  code: string;
}

/**
 * Nested loops over `sizes` with one running offset per operand (strides per operand).
 * `level(k)` gives the code placed at the top of loop level k (k = -1: before the loops) with the
 * offset expressions valid there; `body(offsets)` is the innermost statement.
 * Returns the whole statement.
 */
export function nestedLoops(
  names: Names,
  sizes: readonly number[],
  strides: readonly (readonly number[])[],
  body: (offsets: string[]) => string,
  atLevel?: (level: number, offsets: string[]) => string,
): string {
  const depth = sizes.length;
  const offsetsAt: string[][] = [strides.map(() => "0")];
  const lines: string[] = [];
  const pre = atLevel ? atLevel(-1, offsetsAt[0]) : "";
  if (pre) lines.push(pre);
  let close = "";
  for (let k = 0; k < depth; k++) {
    const v = names.next("d");
    lines.push(`for (let ${v} = 0; ${v} < ${sizes[k]}; ${v}++) {`);
    const offsets = strides.map((s, j) => {
      const base = offsetsAt[k][j];
      if (s[k] === 0) return base;
      const term = s[k] === 1 ? v : `${v} * ${s[k]}`;
      const expr = base === "0" ? term : `${base} + ${term}`;
      // Name offsets that inner levels reuse; the innermost ones are cheap enough inline.
      if (k === depth - 1) return expr;
      const name = names.next("o");
      lines.push(`const ${name} = ${expr};`);
      return name;
    });
    offsetsAt.push(offsets);
    const extra = atLevel ? atLevel(k, offsets) : "";
    if (extra) lines.push(extra);
    close += "}";
  }
  lines.push(body(offsetsAt[depth]));
  lines.push(close);
  return lines.join("\n");
}

/**
 * The flat index into an operand of `shape` broadcast to `domain`, as an expression of the flat
 * domain index `flat` (a local name): divisions and remainders only where dimensions broadcast.
 */
export function broadcastIndexExpr(shape: readonly number[], domain: readonly number[], flat: string): string {
  const { sizes, strides } = coalesce(domain, [broadcastStrides(shape, domain), stridesOf(domain)]);
  const [inStrides, outStrides] = strides;
  if (inStrides.every((s, d) => s === outStrides[d])) return flat;
  const terms: string[] = [];
  for (let d = 0; d < sizes.length; d++) {
    if (inStrides[d] === 0) continue;
    const inner = outStrides[d];
    let e = inner === 1 ? flat : `((${flat} / ${inner}) | 0)`;
    if (d > 0) e = `(${e} % ${sizes[d]})`;
    terms.push(inStrides[d] === 1 ? e : `${e} * ${inStrides[d]}`);
  }
  return terms.length ? terms.join(" + ") : "0";
}
