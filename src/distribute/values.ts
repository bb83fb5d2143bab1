/**
 * Distributed values: `PerReplica` (one value per replica, what `strategy.run` returns) and
 * the splitting of per-batch inputs into per-replica shards along axis 0.
 */
import { invalidArgument } from "../../ir/diagnostics";
import { Tensor, type Graph } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import { split } from "../../ir/ops/array";
import { convertToTensor } from "../../ir/ops/build";

/** TF's `tf.distribute.ReduceOp`: `tf.distribute.ReduceOp.SUM` is the string "SUM". */
export const ReduceOp = { SUM: "SUM", MEAN: "MEAN" } as const;
export type ReduceOp = (typeof ReduceOp)[keyof typeof ReduceOp];

/** One value per replica, in replica-id order (TF's PerReplica). */
export class PerReplica<T = Tensor> {
  readonly values: readonly T[];
  constructor(values: readonly T[]) {
    this.values = [...values];
  }
  get length(): number {
    return this.values.length;
  }
  toString(): string {
    return `PerReplica:{\n${this.values.map((v, i) => `  ${i}: ${String(v)}`).join("\n")}\n}`;
  }
}

export function checkReduceOp(reduceOp: unknown, where: string): ReduceOp {
  if (reduceOp === "SUM" || reduceOp === "MEAN") return reduceOp;
  throw invalidArgument({
    code: "bad-reduce-op",
    message: `${where} takes a ReduceOp, "SUM" or "MEAN"`,
    expected: '"SUM" | "MEAN"',
    received: JSON.stringify(reduceOp),
    fix: 'pass "SUM" or "MEAN"',
  });
}

/** `value`'s shards along axis 0, one per replica; `value` itself when there is one replica. */
export function splitBatch(value: Tensor, numReplicas: number): Tensor[] {
  if (numReplicas === 1) return [value];
  const shape = value.shape;
  if (shape !== null && shape.length === 0)
    throw invalidArgument({
      code: "batch-not-divisible",
      node: value.name,
      message: `strategy.run cannot split the scalar \`${value.name}\` into ${numReplicas} per-replica shards`,
      expected: "a tensor with a batch dimension (axis 0)",
      received: "a scalar",
      fix: "pass a per-batch tensor, or wrap per-replica values in a tf.distribute.PerReplica",
    });
  const batch = shape === null ? null : shape[0];
  if (batch !== null && batch % numReplicas !== 0) {
    const lower = batch - (batch % numReplicas);
    throw invalidArgument({
      code: "batch-not-divisible",
      node: value.name,
      message: `strategy.run cannot split \`${value.name}\` (batch of ${batch}) into ${numReplicas} equal per-replica shards`,
      expected: `a batch size divisible by ${numReplicas}`,
      received: String(batch),
      fix: `use a batch size that is a multiple of ${numReplicas}${lower > 0 ? ` (e.g. ${lower} or ${lower + numReplicas})` : ` (e.g. ${numReplicas})`}, or a numReplicas that divides ${batch}`,
    });
  }
  // A batch known only at run time is checked by the Split kernel, whose node names the input.
  return split(value, numReplicas, 0, `${value.op.name.replace(/\//g, "_")}_split`);
}

/** The per-replica argument lists of `strategy.run`: tensors split, PerReplica unwrapped, the rest shared. */
export function distributeArgs(args: readonly unknown[], numReplicas: number, graph: Graph): unknown[][] {
  const perArg = args.map((arg): unknown[] => {
    if (arg instanceof PerReplica) {
      if (arg.values.length !== numReplicas)
        throw invalidArgument({
          code: "per-replica-count",
          message: `strategy.run got a PerReplica of ${arg.values.length} values for ${numReplicas} replicas`,
          expected: `${numReplicas} values`,
          received: `${arg.values.length}`,
          fix: "pass the PerReplica returned by a run of the same strategy",
        });
      return [...arg.values];
    }
    if (arg instanceof Tensor || arg instanceof NDArray) {
      const tensor = arg instanceof Tensor ? arg : convertToTensor(arg, undefined, "Const", graph);
      return splitBatch(tensor, numReplicas);
    }
    return new Array<unknown>(numReplicas).fill(arg);
  });
  return Array.from({ length: numReplicas }, (_, r) => perArg.map((values) => values[r]));
}
