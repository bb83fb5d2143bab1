/**
 * Builds one elementwise kernel (codegen/wasm/elementwise.ts) symbolically: inputs are regions
 * (by key, broadcast from a view shape) or inline values, ops refer to earlier inputs and ops,
 * and stores name the region each result goes to. `make()` gives the kernel for the offsets the
 * memory planner chose. Fused groups, variable updates and training ops are all built this way.
 */
import type { ElementwiseInput, ElementwiseKernel } from "../../../codegen/wasm/elementwise";

export type Ref = { input: number } | { op: number };

type Input = { key: string; shape: readonly number[] } | { value: number };

export class ElementwiseBuilder {
  private readonly inputs: Input[] = [];
  private readonly byKey = new Map<string, number>();
  private readonly ops: { type: string; args: Ref[] }[] = [];
  private readonly stores: { ref: Ref; key: string }[] = [];

  constructor(readonly shape: readonly number[], readonly name: string) {}

  tensor(key: string, view: readonly number[]): Ref {
    const id = `${key}|${view.join(",")}`;
    let i = this.byKey.get(id);
    if (i === undefined) {
      i = this.inputs.length;
      this.inputs.push({ key, shape: [...view] });
      this.byKey.set(id, i);
    }
    return { input: i };
  }

  value(v: number): Ref {
    const id = `=${Object.is(v, -0) ? "-0" : String(v)}`;
    let i = this.byKey.get(id);
    if (i === undefined) {
      i = this.inputs.length;
      this.inputs.push({ value: v });
      this.byKey.set(id, i);
    }
    return { input: i };
  }

  op(type: string, args: Ref[]): Ref {
    this.ops.push({ type, args });
    return { op: this.ops.length - 1 };
  }

  store(ref: Ref, key: string): void {
    if (!this.stores.some((s) => s.key === key)) this.stores.push({ ref, key });
  }

  get stored(): number {
    return this.stores.length;
  }

  reads(): string[] {
    return this.inputs.flatMap((x) => ("key" in x ? [x.key] : []));
  }

  writes(): string[] {
    return this.stores.map((s) => s.key);
  }

  make(): (at: (key: string) => number) => ElementwiseKernel {
    const n = this.inputs.length;
    const index = (r: Ref) => ("input" in r ? r.input : n + r.op);
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
