/**
 * The memory planner: every intermediate tensor of a compiled program gets a slice of one of a
 * few preallocated typed arrays, and tensors whose lifetimes do not overlap share an array.
 * A lifetime runs from the step that writes the tensor to the last step that reads it (both
 * included); an array freed after step s is reused from step s + 1 on, so a step never writes
 * the array of one of its own inputs. Arrays of one storage kind are pooled together; a reused
 * array grows to the largest tensor it holds (sizes are fixed before anything is allocated).
 */

export type StorageKind = "f32" | "i32" | "u8";

export interface Lifetime {
  /** Key of the tensor (its name). */
  key: string;
  kind: StorageKind;
  size: number;
  /** Step that writes the tensor. */
  first: number;
  /** Last step that reads it (at least `first`). */
  last: number;
}

export interface MemoryPlan {
  /** The arrays to allocate: kind and element count. */
  buffers: { kind: StorageKind; size: number }[];
  /** Which buffer holds each tensor (always from offset 0). */
  assignment: Map<string, number>;
  /** Bytes if every tensor had its own array, and bytes actually planned. */
  naiveBytes: number;
  plannedBytes: number;
}

const BYTES: Record<StorageKind, number> = { f32: 4, i32: 4, u8: 1 };

/** Greedy best-fit over lifetimes sorted by first step. */
export function planMemory(lifetimes: readonly Lifetime[]): MemoryPlan {
  const sorted = [...lifetimes].sort((a, b) => a.first - b.first || b.size - a.size);
  const buffers: { kind: StorageKind; size: number; freeAfter: number }[] = [];
  const assignment = new Map<string, number>();
  let naiveBytes = 0;
  for (const t of sorted) {
    naiveBytes += t.size * BYTES[t.kind];
    let best = -1;
    for (let b = 0; b < buffers.length; b++) {
      const buf = buffers[b];
      if (buf.kind !== t.kind || buf.freeAfter >= t.first) continue;
      if (best < 0) best = b;
      else {
        // Prefer the smallest buffer that fits; else the largest one (it grows least).
        const cur = buffers[best];
        const fits = buf.size >= t.size;
        const curFits = cur.size >= t.size;
        if ((fits && (!curFits || buf.size < cur.size)) || (!fits && !curFits && buf.size > cur.size)) best = b;
      }
    }
    if (best < 0) {
      buffers.push({ kind: t.kind, size: t.size, freeAfter: t.last });
      best = buffers.length - 1;
    } else {
      buffers[best].size = Math.max(buffers[best].size, t.size);
      buffers[best].freeAfter = t.last;
    }
    assignment.set(t.key, best);
  }
  const plannedBytes = buffers.reduce((s, b) => s + b.size * BYTES[b.kind], 0);
  return { buffers: buffers.map(({ kind, size }) => ({ kind, size })), assignment, naiveBytes, plannedBytes };
}

export function storageKind(dtype: "float32" | "int32" | "bool"): StorageKind {
  return dtype === "float32" ? "f32" : dtype === "int32" ? "i32" : "u8";
}

export const ARRAY_TYPE: Record<StorageKind, string> = { f32: "Float32Array", i32: "Int32Array", u8: "Uint8Array" };
