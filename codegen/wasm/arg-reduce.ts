/**
 * ArgMax / ArgMin over the middle axis of [outer, reduce, inner] (float32 or int32 input, int32
 * indices): the index of the first extremum, as the reference kernel — `v > best` (ArgMin:
 * `v < best`) from the first element, so a NaN first element keeps index 0 and later NaNs are
 * never taken. Scalar code; the axis must not be empty (the caller keeps that case on the host).
 */
import { binaryen, type Expr } from "./binaryen";
import type { FunctionBuilder } from "./function-builder";

export interface ArgReduceKernel {
  kind: "arg-reduce";
  op: string;
  type: "ArgMax" | "ArgMin";
  input: "f32" | "i32";
  outer: number;
  reduce: number;
  inner: number;
  /** Byte offsets of x and of the int32 indices y [outer, inner]. */
  x: number;
  y: number;
  scratch?: number;
}

export function emitArgReduce(fb: FunctionBuilder, k: ArgReduceKernel): Expr[] {
  const m = fb.m;
  if (k.outer * k.inner === 0 || k.reduce === 0) return [];
  const f32 = k.input === "f32";
  const type = f32 ? binaryen.f32 : binaryen.i32;
  const [best, v] = [fb.local(type), fb.local(type)];
  const [px, py, pr, at, index] = Array.from({ length: 5 }, () => fb.i32Local());
  const load = () => (f32 ? m.f32.load(0, 4, fb.get(pr)) : m.i32.load(0, 4, fb.get(pr)));
  const better = (a: Expr, b: Expr) => (k.type === "ArgMax" ? (f32 ? m.f32.gt(a, b) : m.i32.gt_s(a, b)) : f32 ? m.f32.lt(a, b) : m.i32.lt_s(a, b));
  const stride = k.inner * 4;
  const column: Expr[] = [
    fb.set(pr, fb.get(px)),
    fb.set(best, load()),
    fb.set(at, fb.i32(0)),
    fb.set(index, fb.i32(0)),
    fb.repeat(k.reduce - 1, [
      ...fb.bump(pr, stride),
      fb.set(index, m.i32.add(fb.get(index), fb.i32(1))),
      fb.set(v, load()),
      m.if(better(fb.get(v, type), fb.get(best, type)), fb.block([fb.set(best, fb.get(v, type)), fb.set(at, fb.get(index))])),
    ]),
    m.i32.store(0, 4, fb.get(py), fb.get(at)),
    ...fb.bump(py, 4),
    ...fb.bump(px, 4),
  ];
  const row = fb.i32Local();
  return [
    fb.set(py, fb.i32(k.y)),
    fb.set(row, fb.i32(k.x)),
    fb.repeat(k.outer, [fb.set(px, fb.get(row)), fb.repeat(k.inner, column), ...fb.bump(row, k.reduce * stride)]),
  ];
}
