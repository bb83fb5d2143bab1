/**
 * SoftmaxCrossEntropyWithLogits and SparseSoftmaxCrossEntropyWithLogits over [rows, columns]:
 * per row, the loss and the backprop, computed as the reference kernel does (ir/ops/cross-entropy.ts)
 * — in float64 over the float32 logits, with Math.exp's own algorithm (./exp64.ts) and the
 * host's Math.log, in the same order — so that both outputs are the interpreter's bits:
 *
 *   max = the row's maximum (NaN skipped); e_c = exp(x_c − max) (kept in the scratch); Σ = Σ_c e_c
 *   loss = Σ_c p_c·(log Σ − (x_c − max)) over p_c ≠ 0   (sparse: p = one-hot of the label)
 *   backprop_c = e_c / Σ − p_c
 *
 * Sparse labels are int32 class indices [rows]; one outside [0, columns) traps (`unreachable`)
 * before anything is written: the runtime turns the trap into the reference kernel's error.
 */
import { binaryen, type Expr } from "./binaryen";
import { emitExp64, expLocals } from "./exp64";
import type { FunctionBuilder } from "./function-builder";

export interface CrossEntropyKernel {
  kind: "cross-entropy";
  op: string;
  rows: number;
  columns: number;
  /** Byte offsets: f32 logits [rows, columns]; labels: int32 [rows] when sparse, else f32 [rows, columns]. */
  logits: number;
  labels: number;
  sparse: boolean;
  /** f32 [rows] and [rows, columns]; either may be left out (not stored). */
  loss?: number;
  backprop?: number;
  /** f64 [columns]: the row's exponentials. */
  scratch?: number;
}

export function crossEntropyScratchBytes(k: CrossEntropyKernel): number {
  return k.columns * 8;
}

export function emitCrossEntropy(fb: FunctionBuilder, k: CrossEntropyKernel): Expr[] {
  const m = fb.m;
  const f = m.f64;
  const C = k.columns;
  if (k.rows === 0) return [];
  const D = () => fb.local(binaryen.f64);
  const [max, sum, logSum, total, v, p] = [D(), D(), D(), D(), D(), D()];
  const [px, pl, pe, pb, label, col] = Array.from({ length: 6 }, () => fb.i32Local());
  // Row pointers: logits, labels, backprop, loss.
  const [rowX, rowL, rowB, rowLoss] = Array.from({ length: 4 }, () => fb.i32Local());
  const E = expLocals(fb);
  const d = (l: number) => fb.get(l, binaryen.f64);
  const logit = (offset = 0) => f.promote(fb.loadF({ local: px, offset }));
  const code: Expr[] = [];

  if (k.sparse)
    code.push(
      fb.set(pl, fb.i32(k.labels)),
      fb.repeat(k.rows, [m.if(m.i32.ge_u(m.i32.load(0, 4, fb.get(pl)), fb.i32(C)), m.unreachable()), ...fb.bump(pl, 4)]),
    );

  /** The label weight p of column `col` in the current row (dense: at `pl`). */
  const weight = (): Expr => (k.sparse ? m.select(m.i32.eq(fb.get(col), fb.get(label)), f.const(1), f.const(0)) : f.promote(fb.loadF({ local: pl, offset: 0 })));
  /** A pass over the row's columns: `px`, `pe` (and with `withCol`, `col` and dense `pl`; with `pb` listed, `pb`) advance. */
  const columns = (body: Expr[], pointers: number[], withCol = false): Expr =>
    fb.block([
      fb.set(px, fb.get(rowX)),
      fb.set(pe, fb.i32(k.scratch ?? 0)),
      ...(withCol ? [fb.set(col, fb.i32(0))] : []),
      ...(withCol && !k.sparse ? [fb.set(pl, fb.get(rowL))] : []),
      ...(pointers.includes(pb) ? [fb.set(pb, fb.get(rowB))] : []),
      fb.repeat(C, [
        ...body,
        ...fb.bump(px, 4),
        ...fb.bump(pe, 8),
        ...(withCol ? [fb.set(col, m.i32.add(fb.get(col), fb.i32(1)))] : []),
        ...(withCol && !k.sparse ? fb.bump(pl, 4) : []),
        ...(pointers.includes(pb) ? fb.bump(pb, 4) : []),
      ]),
    ]);

  const row: Expr[] = [
    fb.set(max, f.const(-Infinity)),
    columns([fb.set(v, logit()), fb.set(max, m.select(f.gt(d(v), d(max)), d(v), d(max)))], []),
    fb.set(sum, f.const(0)),
    columns([...emitExp64(fb, E, f.sub(logit(), d(max))), m.f64.store(0, 8, fb.get(pe), d(E.y)), fb.set(sum, f.add(d(sum), d(E.y)))], []),
    fb.set(logSum, m.call("math.log", [d(sum)], binaryen.f64)),
  ];
  if (k.sparse) row.push(fb.set(label, m.i32.load(0, 4, fb.get(rowL))));
  if (k.loss !== undefined) {
    if (k.sparse) {
      const shifted = f.sub(f.promote(m.f32.load(0, 4, m.i32.add(fb.get(rowX), m.i32.shl(fb.get(label), fb.i32(2))))), d(max));
      row.push(fb.set(total, f.add(f.const(0), f.sub(d(logSum), shifted))));
    } else {
      row.push(
        fb.set(total, f.const(0)),
        columns(
          [fb.set(p, weight()), fb.set(total, m.select(f.ne(d(p), f.const(0)), f.add(d(total), f.mul(d(p), f.sub(d(logSum), f.sub(logit(), d(max))))), d(total)))],
          [],
          true,
        ),
      );
    }
    row.push(m.f32.store(0, 4, fb.get(rowLoss), m.f32.demote(d(total))));
  }
  if (k.backprop !== undefined)
    row.push(columns([m.f32.store(0, 4, fb.get(pb), m.f32.demote(f.sub(f.div(m.f64.load(0, 8, fb.get(pe)), d(sum)), weight())))], [pb], true));

  code.push(
    fb.set(rowX, fb.i32(k.logits)),
    fb.set(rowL, fb.i32(k.labels)),
    fb.set(rowB, fb.i32(k.backprop ?? 0)),
    fb.set(rowLoss, fb.i32(k.loss ?? 0)),
    fb.repeat(k.rows, [...row, ...fb.bump(rowX, C * 4), ...fb.bump(rowL, k.sparse ? 4 : C * 4), ...fb.bump(rowB, C * 4), ...fb.bump(rowLoss, 4)]),
  );
  return code;
}
