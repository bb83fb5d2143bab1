/**
 * MatMul (transpose_a / transpose_b) and BatchMatMulV2 (adj_x / adj_y, batch dims broadcast):
 * a tiled kernel. Each 16×16 workgroup computes a 16×16 block of one output matrix; per step it
 * stages a 16×16 tile of op(a) and of op(b) in workgroup memory (zeros outside the matrices),
 * then every thread accumulates its element over the tile's 16 inner indices.
 * Workgroups: [ceil(n / 16), ceil(m / 16), batches]. The gradients of MatMul are MatMuls.
 */
import { unsupported, literal, single, sizeOf, storage, stridesOf, u32, wgslType, MAX_WORKGROUPS, type EmitContext, type OpKernels } from "./common";

const TILE = 16;

/** The batch offset expression (in matrices) of an operand with batch dims `own` for output batch `t`. */
function batchOffset(own: readonly number[], batch: readonly number[], matrix: number): string {
  if (sizeOf(own) === 1) return "0u";
  const offset = batch.length - own.length;
  if (offset === 0 && own.every((d, k) => d === batch[k])) return `t * ${u32(matrix)}`;
  const outStrides = stridesOf(batch);
  const ownStrides = stridesOf(own);
  const terms: string[] = [];
  own.forEach((d, k) => {
    if (d === 1) return;
    const b = k + offset;
    const coord = b === 0 ? `(t / ${u32(outStrides[b])})` : `((t / ${u32(outStrides[b])}) % ${u32(batch[b])})`;
    terms.push(`${coord} * ${u32(ownStrides[k] * matrix)}`);
  });
  return terms.join(" + ");
}

export function emitMatMul(ctx: EmitContext): OpKernels {
  const batched = ctx.op.type === "BatchMatMulV2";
  const ta = Boolean(batched ? ctx.op.attrs.adj_x : ctx.op.attrs.transpose_a);
  const tb = Boolean(batched ? ctx.op.attrs.adj_y : ctx.op.attrs.transpose_b);
  const [aShape, bShape] = ctx.inputShapes;
  const out = ctx.outputShapes[0];
  const ra = aShape.length;
  const m = ta ? aShape[ra - 1] : aShape[ra - 2];
  const k = ta ? aShape[ra - 2] : aShape[ra - 1];
  const n = out[out.length - 1];
  const batch = out.slice(0, -2);
  const batches = sizeOf(batch);
  if (m * n * batches === 0) return { kernels: [], scratch: [], aliases: [] };
  if (batches > MAX_WORKGROUPS) throw unsupported(ctx.op, `${batches} matrices exceed one dispatch's ${MAX_WORKGROUPS} workgroups along z`);
  const dtype = ctx.op.outputs[0].dtype;
  const t = wgslType(dtype);
  const zero = literal(0, dtype);
  const aOff = batchOffset(aShape.slice(0, -2), batch, m * k);
  const bOff = batchOffset(bShape.slice(0, -2), batch, k * n);
  const aAt = ta ? `aOff + ka * ${u32(m)} + row` : `aOff + row * ${u32(k)} + ka`;
  const bAt = tb ? `bOff + col * ${u32(k)} + kb` : `bOff + kb * ${u32(n)} + col`;
  const label = `${ctx.op.type} ${ctx.op.name} [${m}x${k}]·[${k}x${n}]${batches > 1 ? ` ×${batches}` : ""}`;
  const code = `// ${label}
${storage(0, "a", ctx.op.inputs[0].dtype, "read")}
${storage(1, "b", ctx.op.inputs[1].dtype, "read")}
${storage(2, "out", dtype, "read_write")}
var<workgroup> tileA: array<array<${t}, ${TILE}>, ${TILE}>;
var<workgroup> tileB: array<array<${t}, ${TILE}>, ${TILE}>;

@compute @workgroup_size(${TILE}, ${TILE})
fn main(@builtin(local_invocation_id) l: vec3u, @builtin(workgroup_id) wid: vec3u) {
  let row = wid.y * ${TILE}u + l.y;
  let col = wid.x * ${TILE}u + l.x;
  let t = wid.z;
  let aOff = ${aOff};
  let bOff = ${bOff};
  var acc: ${t} = ${zero};
  for (var k0 = 0u; k0 < ${u32(k)}; k0 = k0 + ${TILE}u) {
    let ka = k0 + l.x;
    if (row < ${u32(m)} && ka < ${u32(k)}) { tileA[l.y][l.x] = a[${aAt}]; } else { tileA[l.y][l.x] = ${zero}; }
    let kb = k0 + l.y;
    if (kb < ${u32(k)} && col < ${u32(n)}) { tileB[l.y][l.x] = b[${bAt}]; } else { tileB[l.y][l.x] = ${zero}; }
    workgroupBarrier();
    for (var p = 0u; p < ${TILE}u; p = p + 1u) {
      acc = acc + tileA[l.y][p] * tileB[p][l.x];
    }
    workgroupBarrier();
  }
  if (row < ${u32(m)} && col < ${u32(n)}) {
    out[t * ${u32(m * n)} + row * ${u32(n)} + col] = acc;
  }
}
`;
  return single({
    label,
    code,
    entryPoint: "main",
    workgroupCount: [Math.ceil(n / TILE), Math.ceil(m / TILE), batches],
    bindings: [
      { binding: 0, kind: "input", index: 0, access: "read" },
      { binding: 1, kind: "input", index: 1, access: "read" },
      { binding: 2, kind: "output", index: 0, access: "read_write" },
    ],
  });
}
