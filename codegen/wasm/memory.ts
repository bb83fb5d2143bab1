/**
 * The linear-memory planner of the wasm target: every tensor of a compiled program gets a byte
 * offset in one WebAssembly.Memory, and tensors whose lifetimes do not overlap share bytes.
 * It takes the same lifetimes as the JS planner (codegen/js/memory.ts: key, storage kind,
 * element count, first writing step, last reading step); pinned tensors (constants,
 * variables, fetched outputs) live for the whole program and overlap nothing.
 *
 * Greedy by size (as TFLite's arena planner): the largest tensor first, each at the lowest
 * 16-byte-aligned offset where it overlaps no placed tensor that is alive at the same time.
 * Memory ends with `SLACK` spare bytes so that a kernel may load a whole v128 at the last
 * element of any tensor (it stores only the lanes it owns).
 */
import type { Lifetime, StorageKind } from "../js/memory";

export type { Lifetime, StorageKind } from "../js/memory";

export const BYTES: Record<StorageKind, number> = { f32: 4, i32: 4, u8: 1 };
export const ALIGN = 16;
export const SLACK = 64;
export const PAGE = 65536;

export interface LinearLifetime extends Lifetime {
  /** Alive for the whole program: constants, variables, fetched outputs. */
  pinned?: boolean;
}

export interface LinearPlan {
  /** Byte offset of each tensor. */
  offsets: Map<string, number>;
  /** Bytes used, slack included (the memory is at least this large). */
  bytes: number;
  /** Bytes if every tensor had its own region, and bytes of the planned regions. */
  naiveBytes: number;
  plannedBytes: number;
}

const align = (x: number, a: number) => Math.ceil(x / a) * a;

export function planLinearMemory(lifetimes: readonly LinearLifetime[], base = 0): LinearPlan {
  const items = lifetimes.map((t) => ({
    key: t.key,
    bytes: align(Math.max(t.size * BYTES[t.kind], 1), ALIGN),
    first: t.pinned ? -Infinity : t.first,
    last: t.pinned ? Infinity : Math.max(t.last, t.first),
  }));
  items.sort((a, b) => b.bytes - a.bytes || a.first - b.first || (a.key < b.key ? -1 : 1));
  const placed: { offset: number; end: number; first: number; last: number }[] = [];
  const offsets = new Map<string, number>();
  let naiveBytes = 0;
  let top = align(base, ALIGN);
  for (const it of items) {
    naiveBytes += it.bytes;
    const busy = placed
      .filter((p) => p.first <= it.last && it.first <= p.last)
      .sort((a, b) => a.offset - b.offset);
    let offset = align(base, ALIGN);
    for (const p of busy) {
      if (offset + it.bytes <= p.offset) break;
      offset = Math.max(offset, p.end);
    }
    placed.push({ offset, end: offset + it.bytes, first: it.first, last: it.last });
    offsets.set(it.key, offset);
    top = Math.max(top, offset + it.bytes);
  }
  return { offsets, bytes: top + SLACK, naiveBytes, plannedBytes: top - align(base, ALIGN) };
}

/** WebAssembly pages (64 KiB) for `bytes`. */
export function pagesFor(bytes: number): number {
  return Math.max(1, Math.ceil(bytes / PAGE));
}
