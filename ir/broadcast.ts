/** Broadcasting index arithmetic shared by the reference kernels. */
import { stridesOf } from "./shape";

/** The concrete broadcast shape of two concrete shapes (callers have checked compatibility). */
export function broadcastConcrete(a: readonly number[], b: readonly number[]): number[] {
  const rank = Math.max(a.length, b.length);
  const out = new Array<number>(rank);
  for (let i = 0; i < rank; i++) {
    const da = i < rank - a.length ? 1 : a[i - (rank - a.length)];
    const db = i < rank - b.length ? 1 : b[i - (rank - b.length)];
    out[i] = da === 1 ? db : da;
  }
  return out;
}

/**
 * For each element of `outShape`, the flat index into an operand of `inShape` broadcast to it.
 * Returns null when no broadcasting is needed (same shape).
 */
export function broadcastIndex(inShape: readonly number[], outShape: readonly number[]): Int32Array | null {
  if (inShape.length === outShape.length && inShape.every((d, i) => d === outShape[i])) return null;
  const rank = outShape.length;
  const offset = rank - inShape.length;
  const inStrides = stridesOf(inShape);
  const effective = outShape.map((_, i) => (i < offset || inShape[i - offset] === 1 ? 0 : inStrides[i - offset]));
  let total = 1;
  for (const d of outShape) total *= d;
  const index = new Int32Array(total);
  const counter = new Array<number>(rank).fill(0);
  let flat = 0;
  for (let k = 0; k < total; k++) {
    index[k] = flat;
    for (let d = rank - 1; d >= 0; d--) {
      counter[d]++;
      flat += effective[d];
      if (counter[d] < outShape[d]) break;
      flat -= effective[d] * counter[d];
      counter[d] = 0;
    }
  }
  return index;
}
