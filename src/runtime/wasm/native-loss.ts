/**
 * SoftmaxCrossEntropyWithLogits and SparseSoftmaxCrossEntropyWithLogits [batch, classes] as one
 * cross-entropy kernel each (codegen/wasm/cross-entropy.ts: the reference kernel's bits), the
 * outputs that nothing reads left unstored. Sparse labels out of range make the kernel trap;
 * `referenceError` turns such a trap into the reference kernel's own error (it re-runs the
 * reference kernel on the memory's views, which throws it).
 */
import { allocate, type DType, type TypedArray } from "../../../ir/dtype";
import { InternalError, OpError } from "../../../ir/diagnostics";
import type { Operation, Tensor } from "../../../ir/graph";
import { NDArray } from "../../../ir/ndarray";
import { getOpDef, type KernelContext } from "../../../ir/registry";
import type { Lowering } from "./lower";
import type { NativeKernel } from "./native";
import type { TrapError } from "./steps";

const same = (a: readonly number[], b: readonly number[]) => a.length === b.length && a.every((d, i) => d === b[i]);

function context(node: string): KernelContext {
  const none = () => {
    throw new InternalError({ code: "no-variables", node, message: "a re-run reference kernel has no variables" });
  };
  return { node, highPrecision: false, alloc: (dtype, size) => allocate(dtype, size), ref: none, variable: none, state: new Map() };
}

/**
 * The error of `op`'s reference kernel on the inputs in the memory (`keys`: each input's region
 * key; dtypes and shapes as planned): what a kernel's trap stands for.
 */
export function referenceError(L: Lowering, op: Operation, keys: readonly string[]): TrapError {
  const specs = op.inputs.map((t) => L.spec(t));
  return (view: (key: string) => TypedArray) => {
    const inputs = specs.map((s, i) => new NDArray(s.dtype as DType, [...s.shape], view(keys[i])));
    try {
      getOpDef(op.type, op.name).kernel(inputs, op.attrs, context(op.name));
    } catch (e) {
      if (e instanceof OpError) return e;
    }
    return new InternalError({
      code: "wasm-trap",
      node: op.name,
      message: `the WebAssembly kernel of ${op.type} trapped where its reference kernel does not fail`,
      fix: "this is a foldflow bug: report it with the op and its inputs; the js backend runs the graph meanwhile",
    });
  };
}

/** The region key of an output that something besides `op` reads, else undefined (not stored). */
function outputKey(L: Lowering, op: Operation, t: Tensor): string | undefined {
  return L.neededOutside(t, new Set([op])) ? L.regionOf(t).key : undefined;
}

/** (Sparse)SoftmaxCrossEntropyWithLogits as one kernel; null when not covered (the host raises TF's shape errors). */
export function crossEntropyKernel(L: Lowering, op: Operation): NativeKernel | null {
  const sparse = op.type === "SparseSoftmaxCrossEntropyWithLogits";
  const [x, labels] = op.inputs;
  const xs = L.spec(x);
  const ls = L.spec(labels);
  if (xs.dtype !== "float32" || xs.shape.length !== 2) return null;
  const [rows, columns] = xs.shape;
  if (sparse ? ls.dtype !== "int32" || !same(ls.shape, [rows]) : ls.dtype !== "float32" || !same(ls.shape, xs.shape)) return null;
  const [xKey, labelsKey] = [L.regionOf(x).key, L.regionOf(labels).key];
  const [loss, backprop] = op.outputs.map((t) => outputKey(L, op, t));
  const writes = [loss, backprop].filter((k): k is string => k !== undefined);
  return {
    reads: [xKey, labelsKey],
    writes,
    requires: [],
    assigns: [],
    onTrap: sparse ? referenceError(L, op, [xKey, labelsKey]) : undefined,
    make: (at) => ({
      kind: "cross-entropy",
      op: op.name,
      rows,
      columns,
      sparse,
      logits: at(xKey),
      labels: at(labelsKey),
      loss: loss === undefined ? undefined : at(loss),
      backprop: backprop === undefined ? undefined : at(backprop),
    }),
  };
}
