/**
 * Intra-op parallelism, the kernel side: a large GEMM is split by rows of C (A not transposed)
 * and a large Conv2D by images of the batch into parts that write disjoint slices of the output;
 * each part is a function of the module, and the parts of one op run at the same time on the
 * worker threads (./threads.ts) over the shared memory. Each part packs its own copy of a
 * non-constant B / filter into its own scratch (the planner keeps the parts' scratch apart).
 */
import type { ConvKernel } from "../../../codegen/wasm/conv";
import type { EpilogueStep } from "../../../codegen/wasm/epilogue";
import type { GemmKernel } from "../../../codegen/wasm/gemm";
import type { Kernel } from "../../../codegen/wasm/kernels";

/** Below this many multiply-adds a kernel runs whole (a part's dispatch costs some 10–50 µs). */
export const PARALLEL_MIN_WORK = 1 << 21;
/** The fewest GEMM rows (or conv output pixels) a part gets. */
export const MIN_ROWS_PER_PART = 16;

/** Into how many parts to split `k` (probed at offset 0) for `threads` threads: 1 = not split. */
export function partsFor(k: Kernel, threads: number): number {
  if (threads <= 1) return 1;
  if (k.kind === "gemm") {
    if (k.transposeA || k.m * k.n * k.k < PARALLEL_MIN_WORK) return 1;
    return Math.max(1, Math.min(threads, Math.floor(k.m / MIN_ROWS_PER_PART)));
  }
  if (k.kind === "conv2d") {
    const g = k.geometry;
    const pixels = g.outH * g.outW;
    if (g.batch * pixels * k.outC * g.kH * g.kW * k.inC < PARALLEL_MIN_WORK) return 1;
    return Math.max(1, Math.min(threads, g.batch, Math.floor((g.batch * pixels) / MIN_ROWS_PER_PART)));
  }
  return 1;
}

/** The range [first, first + count) of `total` items that part `j` of `parts` takes. */
function range(total: number, parts: number, j: number): [number, number] {
  const base = Math.floor(total / parts);
  const extra = total % parts;
  const first = j * base + Math.min(j, extra);
  return [first, base + (j < extra ? 1 : 0)];
}

const shifted = (epilogue: readonly EpilogueStep[] | undefined, bytes: number): EpilogueStep[] | undefined =>
  epilogue?.map((s) => (s.operand?.kind === "tensor" ? { ...s, operand: { kind: "tensor", offset: s.operand.offset + bytes } } : s));

/** Part `j` of `parts` of a GEMM or Conv2D kernel (with its offsets already placed). */
export function partOf(k: Kernel, parts: number, j: number): Kernel {
  if (k.kind === "gemm") {
    const [r0, rows] = range(k.m, parts, j);
    const g: GemmKernel = { ...k, m: rows, a: k.a + r0 * k.k * 4, c: k.c + r0 * k.n * 4, epilogue: shifted(k.epilogue, r0 * k.n * 4) };
    return g;
  }
  if (k.kind === "conv2d") {
    const geometry = k.geometry;
    const [b0, batch] = range(geometry.batch, parts, j);
    const outBytes = b0 * geometry.outH * geometry.outW * k.outC * 4;
    const c: ConvKernel = {
      ...k,
      geometry: { ...geometry, batch },
      x: k.x + b0 * geometry.inH * geometry.inW * k.inC * 4,
      y: k.y + outBytes,
      epilogue: shifted(k.epilogue, outBytes),
    };
    return c;
  }
  return k;
}
