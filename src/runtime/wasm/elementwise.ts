/**
 * Builds one elementwise kernel (codegen/wasm/elementwise.ts) symbolically: inputs are regions
 * (by key, broadcast from a view shape) or inline values, ops refer to earlier inputs and ops,
 * and stores name the region each result goes to. `make()` gives the kernel for the offsets the
 * memory planner chose. Fused groups, variable updates and training ops are all built this way.
 */
import type { ElementwiseInput, ElementwiseKernel } from "../../../codegen/wasm/elementwise";

export type Ref = { input: number } | { op: number };

type Input = { key: string; shape: readonly number[] } | { value: number };

/**
 * What the SIMD and the typed (./native-typed.ts) kernel builders share: inputs deduplicated by
 * id, ops over earlier refs, stores by region key, and the regions they read and write.
 */
export abstract class GroupBuilder<I extends object, O extends { args: Ref[] }> {
  protected readonly inputs: I[] = [];
  private readonly byKey = new Map<string, number>();
  protected readonly ops: O[] = [];
  protected readonly stores: { ref: Ref; key: string }[] = [];

  constructor(readonly shape: readonly number[], readonly name: string) {}

  /** The input `x` under `id`, added once. */
  protected input(id: string, x: I): Ref {
    let i = this.byKey.get(id);
    if (i === undefined) {
      i = this.inputs.length;
      this.inputs.push(x);
      this.byKey.set(id, i);
    }
    return { input: i };
  }

  protected push(op: O): Ref {
    this.ops.push(op);
    return { op: this.ops.length - 1 };
  }

  /** A ref's index in the kernel's value list (inputs first, then ops), for the inputs there are now. */
  protected indexer(): (r: Ref) => number {
    const n = this.inputs.length;
    return (r) => ("input" in r ? r.input : n + r.op);
  }

  store(ref: Ref, key: string): void {
    if (!this.stores.some((s) => s.key === key)) this.stores.push({ ref, key });
  }

  get stored(): number {
    return this.stores.length;
  }

  reads(): string[] {
    return this.inputs.flatMap((x) => ("key" in x ? [(x as { key: string }).key] : []));
  }

  writes(): string[] {
    return this.stores.map((s) => s.key);
  }
}

export class ElementwiseBuilder extends GroupBuilder<Input, { type: string; args: Ref[] }> {
  tensor(key: string, view: readonly number[]): Ref {
    return this.input(`${key}|${view.join(",")}`, { key, shape: [...view] });
  }

  value(v: number): Ref {
    return this.input(`=${Object.is(v, -0) ? "-0" : String(v)}`, { value: v });
  }

  op(type: string, args: Ref[]): Ref {
    return this.push({ type, args });
  }

  make(): (at: (key: string) => number) => ElementwiseKernel {
    const index = this.indexer();
    const { shape, name } = this;
    const inputs = [...this.inputs];
    const ops = this.ops.map((o) => ({ type: o.type, args: o.args.map(index) }));
    const stores = [...this.stores];
    return (at) => ({
      kind: "elementwise",
      op: name,
      shape,
      inputs: inputs.map((x): ElementwiseInput => ("key" in x ? { offset: at(x.key), shape: x.shape } : { value: x.value })),
      ops,
      outputs: stores.map((s) => ({ value: index(s.ref), offset: at(s.key) })),
    });
  }
}
