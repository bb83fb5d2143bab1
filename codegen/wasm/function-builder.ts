/**
 * A small layer over binaryen's builder for kernel bodies: typed locals, counted loops with
 * compile-time trip counts (every shape is a constant of the module), and memory access at a
 * pointer local plus a constant byte offset (wasm's `offset` immediate, so that a kernel walks
 * a few pointers and every other displacement is folded into the instructions).
 */
import { binaryen, type Expr, type Module, type Type } from "./binaryen";

/** A pointer local and a constant byte displacement. */
export interface Address {
  local: number;
  offset: number;
}

export class FunctionBuilder {
  readonly vars: Type[] = [];
  private labels = 0;

  constructor(readonly m: Module, readonly params: readonly Type[] = []) {}

  local(type: Type): number {
    this.vars.push(type);
    return this.params.length + this.vars.length - 1;
  }
  i32Local(): number {
    return this.local(binaryen.i32);
  }
  f32Local(): number {
    return this.local(binaryen.f32);
  }
  v128Local(): number {
    return this.local(binaryen.v128);
  }
  label(prefix: string): string {
    return `${prefix}${this.labels++}`;
  }

  // ---- scalars ----
  i32(v: number): Expr {
    return this.m.i32.const(v | 0);
  }
  f32(v: number): Expr {
    return this.m.f32.const(v);
  }
  get(local: number, type: Type = binaryen.i32): Expr {
    return this.m.local.get(local, type);
  }
  set(local: number, value: Expr): Expr {
    return this.m.local.set(local, value);
  }
  getV(local: number): Expr {
    return this.m.local.get(local, binaryen.v128);
  }
  getF(local: number): Expr {
    return this.m.local.get(local, binaryen.f32);
  }
  /** local += bytes (nothing when 0). */
  bump(local: number, bytes: number): Expr[] {
    return bytes === 0 ? [] : [this.set(local, this.m.i32.add(this.get(local), this.i32(bytes)))];
  }
  /** An address expression: the local plus a dynamic (non-immediate) byte offset. */
  addr(local: number, plus: Expr | null): Expr {
    return plus === null ? this.get(local) : this.m.i32.add(this.get(local), plus);
  }

  // ---- memory at (pointer local + immediate) ----
  loadV(a: Address): Expr {
    return this.m.v128.load(a.offset, 4, this.get(a.local));
  }
  storeV(a: Address, v: Expr): Expr {
    return this.m.v128.store(a.offset, 4, this.get(a.local), v);
  }
  splatF(a: Address): Expr {
    return this.m.v128.load32_splat(a.offset, 4, this.get(a.local));
  }
  loadF(a: Address): Expr {
    return this.m.f32.load(a.offset, 4, this.get(a.local));
  }
  storeF(a: Address, v: Expr): Expr {
    return this.m.f32.store(a.offset, 4, this.get(a.local), v);
  }
  /** Loads the first `lanes` (1..4) floats at `a`, the other lanes zero: never reads past them. */
  loadLanes(a: Address, lanes: number): Expr {
    const p = this.get(a.local);
    switch (lanes) {
      case 4:
        return this.loadV(a);
      case 2:
        return this.m.v128.load64_zero(a.offset, 4, p);
      case 1:
        return this.m.v128.load32_zero(a.offset, 4, p);
      default:
        return this.m.v128.load32_lane(a.offset + 8, 4, 2, this.get(a.local), this.m.v128.load64_zero(a.offset, 4, p));
    }
  }
  /** Stores the first `lanes` (1..4) lanes of `v` (a local) at `a`. */
  storeLanes(a: Address, vLocal: number, lanes: number): Expr[] {
    const p = () => this.get(a.local);
    const v = () => this.getV(vLocal);
    switch (lanes) {
      case 4:
        return [this.m.v128.store(a.offset, 4, p(), v())];
      case 2:
        return [this.m.v128.store64_lane(a.offset, 4, 0, p(), v())];
      case 1:
        return [this.m.v128.store32_lane(a.offset, 4, 0, p(), v())];
      default:
        return [this.m.v128.store64_lane(a.offset, 4, 0, p(), v()), this.m.v128.store32_lane(a.offset + 8, 4, 2, p(), v())];
    }
  }

  // ---- control ----
  block(children: readonly Expr[]): Expr {
    if (children.length === 1) return children[0];
    return this.m.block(null, children as Expr[], binaryen.none);
  }
  /**
   * `body` run `count` times (a compile-time constant): nothing for 0, inline for 1, else a
   * do-while loop over a hidden down-counter. The body advances its own pointers.
   */
  repeat(count: number, body: readonly Expr[]): Expr {
    if (count <= 0) return this.m.nop();
    if (count === 1) return this.block(body);
    const n = this.i32Local();
    const label = this.label("L");
    const m = this.m;
    return this.block([
      this.set(n, this.i32(count)),
      m.loop(
        label,
        this.block([
          ...body,
          m.br_if(label, m.local.tee(n, m.i32.sub(this.get(n), this.i32(1)), binaryen.i32)),
        ]),
      ),
    ]);
  }
  /** for (i = 0; i < count; i++) body(i) with `i` an i32 local the body may read. */
  forRange(count: number, body: (i: number) => readonly Expr[]): Expr {
    if (count <= 0) return this.m.nop();
    const i = this.i32Local();
    const label = this.label("F");
    const m = this.m;
    const inner = body(i);
    if (count === 1) return this.block([this.set(i, this.i32(0)), ...inner]);
    return this.block([
      this.set(i, this.i32(0)),
      m.loop(
        label,
        this.block([
          ...inner,
          m.br_if(label, m.i32.lt_u(m.local.tee(i, m.i32.add(this.get(i), this.i32(1)), binaryen.i32), this.i32(count))),
        ]),
      ),
    ]);
  }
  /** A loop over a run-time trip count `count` (an i32 expression, may be 0), counter `i` from 0. */
  forDynamic(count: Expr, body: (i: number) => readonly Expr[]): Expr {
    const i = this.i32Local();
    const n = this.i32Local();
    const m = this.m;
    const label = this.label("D");
    const exit = this.label("X");
    return this.block([
      this.set(i, this.i32(0)),
      this.set(n, count),
      m.block(exit, [
        m.br_if(exit, m.i32.ge_s(this.get(i), this.get(n))),
        m.loop(
          label,
          this.block([
            ...body(i),
            m.br_if(label, m.i32.lt_s(m.local.tee(i, m.i32.add(this.get(i), this.i32(1)), binaryen.i32), this.get(n))),
          ]),
        ),
      ]),
    ]);
  }

  /** Adds the function to the module (no parameters, no results). */
  finish(name: string, body: readonly Expr[]): void {
    this.m.addFunction(name, binaryen.createType([...this.params]), binaryen.none, this.vars, this.block(body.length ? body : [this.m.nop()]));
  }
}
