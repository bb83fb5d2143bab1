/**
 * What batch-norm folding needs to know about values: whether a tensor is a constant (a Const,
 * or ops over Consts only — `w/read` Identities, the `rsqrt(var + eps) * gamma` of a frozen
 * tf.nn.batchNormalization), its value (computed with the reference kernels in float64), and
 * the per-channel vector a broadcast-shaped parameter stands for.
 */
import { allocate, type DType } from "../ir/dtype";
import type { Operation, Tensor } from "../ir/graph";
import { NDArray } from "../ir/ndarray";
import { getOpDef, type KernelContext } from "../ir/registry";
import { isFoldable } from "./constant-fold";

/** Constant values of tensors, memoized for one pass over one graph. */
export class ConstantValues {
  private readonly memo = new Map<Tensor, NDArray | null>();

  /** The value of `t` when it is a constant, else `null`. */
  value(t: Tensor): NDArray | null {
    const known = this.memo.get(t);
    if (known !== undefined) return known;
    // Iterative post-order over the ops `t` depends on, so that deep graphs do not overflow the stack.
    const stack: Operation[] = [t.op];
    while (stack.length) {
      const op = stack[stack.length - 1];
      if (this.memo.has(op.outputs[0])) {
        stack.pop();
        continue;
      }
      if (op.type === "Const") {
        this.memo.set(op.outputs[0], op.attrs.value as NDArray);
        stack.pop();
        continue;
      }
      if (!isFoldable(op)) {
        for (const out of op.outputs) this.memo.set(out, null);
        stack.pop();
        continue;
      }
      const pending = op.inputs.filter((i) => !this.memo.has(i));
      if (pending.length) {
        // A non-constant input already known makes the op non-constant without visiting the rest.
        if (op.inputs.some((i) => this.memo.get(i) === null)) {
          for (const out of op.outputs) this.memo.set(out, null);
          stack.pop();
        } else stack.push(...pending.map((i) => i.op));
        continue;
      }
      stack.pop();
      const inputs = op.inputs.map((i) => this.memo.get(i) ?? null);
      const values = inputs.every((v): v is NDArray => v !== null) ? evaluate(op, inputs) : null;
      op.outputs.forEach((out, i) => this.memo.set(out, values?.[i] ?? null));
    }
    return this.memo.get(t) ?? null;
  }

  isConstant(t: Tensor): boolean {
    return this.value(t) !== null;
  }
}

/** Runs the op's reference kernel in float64; `null` when it fails. */
function evaluate(op: Operation, inputs: NDArray[]): NDArray[] | null {
  const noState = (): never => {
    throw new Error(`${op.type} asked for state while folding batch norms`);
  };
  const ctx: KernelContext = {
    node: op.name,
    highPrecision: true,
    alloc: (dtype: DType, size: number) => allocate(dtype, size, true),
    ref: noState,
    variable: noState,
    state: new Map(),
  };
  try {
    return getOpDef(op.type, op.name).kernel(inputs, op.attrs, ctx);
  } catch {
    return null;
  }
}

/**
 * The first op that keeps `t` from being constant, searching its inputs breadth-first:
 * a variable, a placeholder, a Switch / Merge, a random or stateful op.
 */
export function nonConstantSource(t: Tensor, values: ConstantValues): Operation {
  const queue: Operation[] = [t.op];
  const seen = new Set<Operation>();
  while (queue.length) {
    const op = queue.shift()!;
    if (seen.has(op)) continue;
    seen.add(op);
    const nonConstant = op.inputs.filter((i) => !values.isConstant(i));
    if (!isFoldable(op) || nonConstant.length === 0) return op;
    queue.push(...nonConstant.map((i) => i.op));
  }
  return t.op;
}

/** Whether `t` depends (through data inputs) on `target`. */
export function dependsOn(t: Tensor, target: Operation): boolean {
  const stack: Operation[] = [t.op];
  const seen = new Set<Operation>();
  while (stack.length) {
    const op = stack.pop()!;
    if (op === target) return true;
    if (seen.has(op)) continue;
    seen.add(op);
    for (const i of op.inputs) stack.push(i.op);
  }
  return false;
}

/**
 * The per-channel vector (length `channels`) that `a` stands for when it is broadcast against a
 * tensor of rank `rank` whose channels are dimension `axis`; a string saying why when `a` varies
 * along another dimension (or would enlarge the tensor).
 */
export function channelVector(a: NDArray, rank: number, axis: number, channels: number): Float64Array | string {
  if (a.rank > rank) return `it has rank ${a.rank}, more than the ${rank} of the tensor it scales`;
  const padded = [...new Array<number>(rank - a.rank).fill(1), ...a.shape];
  for (let d = 0; d < rank; d++) {
    if (d === axis) {
      if (padded[d] !== 1 && padded[d] !== channels) return `it has ${padded[d]} entries along the channel dimension ${axis}, not ${channels}`;
    } else if (padded[d] !== 1) return `it varies along dimension ${d} (shape [${a.shape.join(", ")}]), not only along the channel dimension ${axis}`;
  }
  const out = new Float64Array(channels);
  for (let c = 0; c < channels; c++) out[c] = a.size === 1 ? a.data[0] : a.data[c];
  return out;
}

/** A float64 vector as a broadcast-shaped array: `[C]` for the last axis, `[C, 1, 1]` for NCHW. */
export function broadcastVector(values: Float64Array, trailingOnes: number): NDArray {
  return new NDArray("float32", [values.length, ...new Array<number>(trailingOnes).fill(1)], values);
}

/** Values as float32 storage for a Const. */
export function float32Array(values: ArrayLike<number>, shape: number[]): NDArray {
  const out = new Float32Array(values.length);
  for (let i = 0; i < values.length; i++) out[i] = values[i];
  return new NDArray("float32", [...shape], out);
}
