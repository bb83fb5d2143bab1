/**
 * MatMul and BatchMatMulV2 (both transposes), blocked into register tiles (see productCode).
 * Each finished element goes through `ctx.store`, so a BiasAdd / Relu after the product is
 * applied as the tile is stored.
 * int32 products wrap like the reference kernel (Math.imul, | 0 after each addition).
 */
import { registerEmitter, type EmitContext } from "../emitter";
import { broadcastIndex } from "../../../ir/broadcast";
import { sizeOf } from "../../../ir/shape";

interface Product {
  m: number;
  k: number;
  n: number;
  ta: boolean;
  tb: boolean;
  isInt: boolean;
  /** Offsets of the current matrices (expressions), for batches. */
  aBase: string;
  bBase: string;
  oBase: string;
}

function plus(base: string, term: string): string {
  return base === "0" ? term : `${base} + ${term}`;
}

/**
 * The statements computing one m×n product into output 0: register tiles of MR×NR
 * accumulators (float64 locals) over the whole k loop, so each loaded element of A and B feeds
 * several multiply-adds. Every element still sums its k products in order, like the reference.
 */
function productCode(ctx: EmitContext, p: Product): string {
  const A = ctx.input(0);
  const B = ctx.input(1);
  const { m, k, n, ta, tb, isInt } = p;
  const MR = ta ? 4 : 2;
  const NR = 4;
  const q = ctx.names.next("q");
  const aAt = (row: string) => (ta ? `${A}[${plus(p.aBase, `${q} * ${m} + ${row}`)}]` : `${A}[${plus(p.aBase, `(${row}) * ${k} + ${q}`)}]`);
  const bAt = (col: string) => (tb ? `${B}[${plus(p.bBase, `(${col}) * ${k} + ${q}`)}]` : `${B}[${plus(p.bBase, `${q} * ${n} + ${col}`)}]`);
  const mac = (c: string, a: string, b: string) => (isInt ? `${c} = (${c} + Math.imul(${a}, ${b})) | 0;` : `${c} += ${a} * ${b};`);
  const tile = (mr: number, nr: number, i0: string, j0: string): string => {
    const acc = (r: number, c: number) => `c${r}_${c}`;
    const lines = [`{`];
    for (let r = 0; r < mr; r++) lines.push(`let ${Array.from({ length: nr }, (_, c) => `${acc(r, c)} = 0`).join(", ")};`);
    lines.push(`for (let ${q} = 0; ${q} < ${k}; ${q}++) {`);
    for (let c = 0; c < nr; c++) lines.push(`const b${c} = ${bAt(`${j0} + ${c}`)};`);
    for (let r = 0; r < mr; r++) {
      lines.push(`const a${r} = ${aAt(`${i0} + ${r}`)};`);
      for (let c = 0; c < nr; c++) lines.push(mac(acc(r, c), `a${r}`, `b${c}`));
    }
    lines.push("}");
    for (let r = 0; r < mr; r++)
      for (let c = 0; c < nr; c++) lines.push(ctx.store(0, plus(p.oBase, `(${i0} + ${r}) * ${n} + ${j0} + ${c}`), acc(r, c)));
    lines.push("}");
    return lines.join("\n");
  };
  const row = (mr: number, i0: string): string => {
    const full = Math.floor(n / NR) * NR;
    const j = ctx.names.next("j");
    const parts: string[] = [];
    if (full > 0) parts.push(`for (let ${j} = 0; ${j} < ${full}; ${j} += ${NR}) ${tile(mr, NR, i0, j)}`);
    if (n > full) parts.push(tile(mr, n - full, i0, String(full)));
    return parts.join("\n");
  };
  const fullM = Math.floor(m / MR) * MR;
  const i = ctx.names.next("i");
  const parts: string[] = [];
  if (fullM > 0) parts.push(`for (let ${i} = 0; ${i} < ${fullM}; ${i} += ${MR}) {\n${row(MR, i)}\n}`);
  if (m > fullM) parts.push(row(m - fullM, String(fullM)));
  return parts.join("\n");
}

function dims(ctx: EmitContext, ta: boolean, tb: boolean): { m: number; k: number; n: number } {
  const a = ctx.inSpec(0).shape;
  const b = ctx.inSpec(1).shape;
  const [m, k] = ta ? [a[a.length - 1], a[a.length - 2]] : [a[a.length - 2], a[a.length - 1]];
  const n = tb ? b[b.length - 2] : b[b.length - 1];
  return { m, k, n };
}

registerEmitter("MatMul", {
  epilogue: true,
  emit: (ctx) => {
    const ta = ctx.op.attrs.transpose_a as boolean;
    const tb = ctx.op.attrs.transpose_b as boolean;
    const { m, k, n } = dims(ctx, ta, tb);
    if (m * n === 0) return "";
    return productCode(ctx, { m, k, n, ta, tb, isInt: ctx.inSpec(0).dtype === "int32", aBase: "0", bBase: "0", oBase: "0" });
  },
});

registerEmitter("BatchMatMulV2", {
  epilogue: true,
  emit: (ctx) => {
    const ta = ctx.op.attrs.adj_x as boolean;
    const tb = ctx.op.attrs.adj_y as boolean;
    const { m, k, n } = dims(ctx, ta, tb);
    const out = ctx.outSpec(0).shape;
    const batch = out.slice(0, -2);
    const batches = sizeOf(batch);
    if (batches * m * n === 0) return "";
    const offsets = (shape: number[], size: number) => {
      const index = broadcastIndex(shape.slice(0, -2), batch);
      return Array.from({ length: batches }, (_, t) => (index ? index[t] : t) * size);
    };
    const aTable = ctx.table("i32", offsets(ctx.inSpec(0).shape, m * k));
    const bTable = ctx.table("i32", offsets(ctx.inSpec(1).shape, k * n));
    const t = ctx.names.next("t");
    const body = productCode(ctx, {
      m, k, n, ta, tb, isInt: ctx.inSpec(0).dtype === "int32",
      aBase: `${aTable}[${t}]`, bBase: `${bTable}[${t}]`, oBase: `${t} * ${m * n}`,
    });
    return `for (let ${t} = 0; ${t} < ${batches}; ${t}++) {\n${body}\n}`;
  },
});
