/**
 * Conv2DBackpropFilter (NHWC): dw[kh, kw, ci, co] = Σ over output pixels of x[n, ih, iw, ci]·dy[n, oh, ow, co]
 * (ih = oh·sH − padTop + kh·dH), a GEMM dw[K × co] = Xᵀ[K × M]·dy[M × co] whose K = kh·kw·ci rows
 * are filter taps and whose reduction runs over the M = n·outH·outW output pixels — with no
 * im2col buffer: the register tile of the GEMM micro-kernel (micro-kernel.ts) takes mr input
 * channels of one tap as its rows (one pointer, immediates 4 bytes apart) and dy, packed into
 * panels of nr columns, as B; the reduction's loop nest is n, oh, ow, advancing the row pointer
 * over the (zero-padded) input by the strides. The reduction goes in chunks of whole output rows
 * (about CHUNK_PIXELS pixels), each tile adding the chunk's products to dw (zeroed first), so that
 * the chunk's slice of a dy panel stays in L1 while every tap and channel block reads it. Each dw
 * entry sums its products in pixel order, as the reference kernel does.
 *
 *   for each chunk of output rows, for each panel of nr output channels, for each tap (kh, kw),
 *   for each block of mr input channels: load the mr × nr tile of dw, accumulate over the
 *   chunk's pixels, store it
 *
 * A part of a split kernel (`channels`) computes the dw rows of a range of input channels.
 */
import type { Geometry } from "../../ir/ops/pool";
import type { Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";
import { emitPack, packedFloats, tileOf } from "./gemm";
import { Accumulators, accumulate, storeTile } from "./micro-kernel";
import { emitPadCopy, paddedBytes, paddedExtent } from "./window";

export interface ConvBackpropFilterKernel {
  kind: "conv2d-backprop-filter";
  op: string;
  /** The forward Conv2D's NHWC geometry: its input is x, its output dy. */
  geometry: Geometry;
  inC: number;
  outC: number;
  /** Byte offsets of x, dy and dw [kh, kw, in, out]. */
  x: number;
  dy: number;
  dw: number;
  /** Only the dw rows of input channels first .. first + count (a part of a split kernel); default all. */
  channels?: { first: number; count: number };
  scratch?: number;
}

const align16 = (x: number) => Math.ceil(x / 16) * 16;
const pixelsOf = (g: Geometry) => g.batch * g.outH * g.outW;
/** Output pixels per chunk of the reduction: its slice of every dy panel (CHUNK·nr floats) stays in L1. */
const CHUNK_PIXELS = 256;

export function convBackpropFilterScratchBytes(k: ConvBackpropFilterKernel): number {
  return align16(paddedBytes(k.geometry, k.inC)) + 4 * packedFloats(pixelsOf(k.geometry), k.outC, tileOf(undefined).nr);
}

export function emitConvBackpropFilter(fb: FunctionBuilder, k: ConvBackpropFilterKernel): Expr[] {
  const g = k.geometry;
  const [CI, CO] = [k.inC, k.outC];
  const { first, count } = k.channels ?? { first: 0, count: CI };
  const M = pixelsOf(g);
  const { mr: MR, nr: NR } = tileOf(undefined, k.op);
  const m = fb.m;
  if (g.kH * g.kW * count * CO === 0) return [];
  // dw's rows of the part's channels, tap by tap: zeroed, then every chunk adds into them.
  const zero = (): Expr[] => {
    const [d, bytes, stride] = [fb.i32Local(), count * CO * 4, CI * CO * 4];
    if (count === CI) return [m.memory.fill(fb.i32(k.dw), fb.i32(0), fb.i32(g.kH * g.kW * bytes))];
    return [fb.set(d, fb.i32(k.dw + first * CO * 4)), fb.repeat(g.kH * g.kW, [m.memory.fill(fb.get(d), fb.i32(0), fb.i32(bytes)), ...fb.bump(d, stride)])];
  };
  if (M === 0) return zero();
  const s = k.scratch ?? 0;
  const { hp, wp, padded } = paddedExtent(g);
  const padBytes = align16(paddedBytes(g, CI));
  const src = padded ? s : k.x;
  const packed = s + padBytes;
  const code: Expr[] = [...zero()];
  if (padded) code.push(...emitPadCopy(fb, g, CI, k.x, src));
  code.push(...emitPack(fb, { b: k.dy, k: M, n: CO, transposeB: false }, NR, packed));

  const pool = new Accumulators(fb);
  const pix = CI * 4;
  const [xChunk, m0, tapBase, work, kb, panelStart, column, rowElement, element] = Array.from({ length: 9 }, () => fb.i32Local());

  /** The mr × columns tile of dw at (rowElement, column), plus the products of the chunk's `rows` output rows. */
  const tile = (rows: number, mr: number, vectors: number, columns: number): Expr[] => {
    const width = vectors * 4;
    const { code: acc, acc: locals } = accumulate(
      fb,
      pool,
      {
        mr,
        vectors,
        rows: Array.from({ length: mr }, (_, r) => ({ local: work, offset: r * 4 })),
        panel: kb,
        loops: [
          { count: rows, aAdvance: (g.sH * wp - g.outW * g.sW) * pix, bAdvance: 0 },
          { count: g.outW, aAdvance: g.sW * pix, bAdvance: width * 4 },
        ],
        subSteps: [{ a: 0, b: 0 }],
        tail: [],
      },
      (r, v) => fb.loadV({ local: element, offset: k.dw + r * CO * 4 + 16 * v }),
    );
    return [
      fb.set(work, fb.get(tapBase)),
      fb.set(kb, m.i32.add(fb.get(panelStart), m.i32.mul(fb.get(m0), fb.i32(width * 4)))),
      fb.set(element, m.i32.add(fb.get(rowElement), fb.get(column))),
      ...acc,
      ...storeTile(fb, locals, [], { out: { local: element, offset: k.dw }, rowBytes: CO * 4, columns, columnBytes: column, elementBytes: element }),
    ];
  };
  /** Every tap and channel block of the part for the panel at panelStart. */
  const panel = (rows: number, vectors: number, columns: number): Expr[] => {
    const block = (mr: number): Expr[] => [...tile(rows, mr, vectors, columns), ...fb.bump(tapBase, mr * 4), ...fb.bump(rowElement, mr * CO * 4)];
    const channels: Expr[] = [fb.repeat(Math.floor(count / MR), block(MR)), ...(count % MR ? block(count % MR) : [])];
    return [
      fb.set(tapBase, m.i32.add(fb.get(xChunk), fb.i32(first * 4))),
      fb.set(rowElement, fb.i32(first * CO * 4)),
      fb.repeat(g.kH, [
        fb.repeat(g.kW, [...channels, ...fb.bump(tapBase, (CI - count) * 4 + (g.dW - 1) * pix), ...fb.bump(rowElement, (CI - count) * CO * 4)]),
        ...fb.bump(tapBase, (g.dH * wp - g.kW * g.dW) * pix),
      ]),
    ];
  };
  const full = Math.floor(CO / NR);
  const rest = CO % NR;
  /** The chunk of `rows` output rows at xChunk (input) and m0 (pixel index), panel by panel. */
  const chunk = (rows: number): Expr[] => [
    fb.set(column, fb.i32(0)),
    fb.set(panelStart, fb.i32(packed)),
    fb.repeat(full, [...panel(rows, NR / 4, NR), ...fb.bump(column, NR * 4), ...fb.bump(panelStart, M * NR * 4)]),
    ...(rest > 0 ? panel(rows, Math.ceil(rest / 4), rest) : []),
    ...fb.bump(xChunk, rows * g.sH * wp * pix),
    ...fb.bump(m0, rows * g.outW),
  ];
  const R = Math.min(g.outH, Math.max(1, Math.floor(CHUNK_PIXELS / g.outW)));
  code.push(
    fb.set(xChunk, fb.i32(src)),
    fb.set(m0, fb.i32(0)),
    fb.repeat(g.batch, [fb.repeat(Math.floor(g.outH / R), chunk(R)), ...(g.outH % R ? chunk(g.outH % R) : []), ...fb.bump(xChunk, (hp - g.outH * g.sH) * wp * pix)]),
  );
  return code;
}
