/**
 * `tf.distribute.MirroredStrategy`: synchronous data parallelism over `numReplicas` replicas
 * built into one graph. `run(fn, args)` splits each per-batch tensor along axis 0 into equal
 * shards, calls fn once per replica (its variables shared: the same Variable objects, TF's
 * MirroredVariables), and returns a PerReplica of the results; `reduce` combines a PerReplica
 * in cross-replica context. How the replicas meet at an all-reduce: ./replica-run.ts.
 */
import { invalidArgument } from "../../ir/diagnostics";
import { getDefaultGraph, Tensor, type Graph } from "../../ir/graph";
import { NDArray } from "../../ir/ndarray";
import { cast, gather, shape as shapeOf } from "../../ir/ops/array";
import { addN } from "../../ir/ops/gradient-support";
import { convertToTensor } from "../../ir/ops/build";
import { div } from "../../ir/ops/elementwise";
import { reduceSum } from "../../ir/ops/reduce";
import { isBuildingRun, withActiveRun, withStrategyScope } from "./current";
import { ReplicaContext } from "./replica-context";
import { ReplicaRun } from "./replica-run";
import { checkReduceOp, distributeArgs, PerReplica, type ReduceOp } from "./values";

export interface MirroredStrategyOptions {
  /** How many replicas (default: one per listed device, else 1). */
  numReplicas?: number;
  /** TF's device list; only its length matters here (one replica per device). */
  devices?: string[];
}

/** What `strategy.run` accepts per argument: a per-batch tensor (split) or a PerReplica (one value each). */
export type RunArgument = Tensor | NDArray | PerReplica<Tensor>;

export interface ReduceOptions {
  /** Also reduce along this axis of each value (the mean then counts its elements too). */
  axis?: number | null;
}

export class MirroredStrategy {
  readonly numReplicasInSync: number;

  constructor(options: MirroredStrategyOptions = {}) {
    const n = options.numReplicas ?? (options.devices?.length || 1);
    if (!Number.isInteger(n) || n < 1)
      throw invalidArgument({
        code: "bad-replica-count",
        message: "MirroredStrategy needs a positive whole number of replicas",
        expected: "numReplicas >= 1",
        received: String(n),
        fix: "pass { numReplicas: 4 }, for instance",
      });
    if (options.numReplicas !== undefined && options.devices && options.devices.length !== options.numReplicas)
      throw invalidArgument({
        code: "bad-replica-count",
        message: "MirroredStrategy got numReplicas and a device list of another length",
        expected: `${options.numReplicas} devices`,
        received: `${options.devices.length}`,
        fix: "pass one of numReplicas and devices",
      });
    this.numReplicasInSync = n;
  }

  /** The replica count (an alias of numReplicasInSync). */
  get numReplicas(): number {
    return this.numReplicasInSync;
  }

  /** `with strategy.scope():` — `fn` runs with this strategy current (tf.distribute.getStrategy()). */
  scope<T>(fn: () => T): T {
    return withStrategyScope(this, fn);
  }

  /**
   * Calls `fn` once per replica, in a replica context (tf.distribute.getReplicaContext()),
   * with each tensor argument's shard (axis 0 split into numReplicasInSync equal parts) and
   * each PerReplica argument's own value; returns the results, one per replica.
   */
  run<R>(fn: (...args: Tensor[]) => R, args: readonly RunArgument[] = []): PerReplica<R> {
    if (isBuildingRun())
      throw invalidArgument({
        code: "nested-run",
        message: "strategy.run was called while another strategy.run is building its replicas",
        fix: "call strategy.run in cross-replica context (outside the fn of another run)",
      });
    const graph = graphOfArgs(args);
    return graph.asDefault(() =>
      withStrategyScope(this, () => {
        const perReplica = distributeArgs(args, this.numReplicasInSync, graph);
        const run = new ReplicaRun(graph, this.numReplicasInSync);
        const contexts = Array.from({ length: this.numReplicasInSync }, (_, id) => new ReplicaContext(this, id, run));
        const results = withActiveRun({ strategy: this, run, contexts }, () => run.execute(fn as (...args: never[]) => R, perReplica));
        return new PerReplica(results);
      }),
    );
  }

  /**
   * `strategy.reduce("SUM" | "MEAN", value, { axis })`: the values of a PerReplica summed or
   * averaged across replicas (and along `axis` of each value when given).
   */
  reduce(reduceOp: ReduceOp, value: PerReplica<Tensor> | Tensor, options: ReduceOptions = {}): Tensor {
    const op = checkReduceOp(reduceOp, "strategy.reduce");
    const axis = options.axis ?? null;
    if (!(value instanceof PerReplica)) {
      if (op === "SUM" && this.numReplicasInSync > 1)
        throw invalidArgument({
          code: "non-distributed-value",
          node: value instanceof Tensor ? value.name : undefined,
          message: 'a tensor that is not a PerReplica cannot be reduced with "SUM" over several replicas',
          fix: 'pass the PerReplica that strategy.run returned, or use "MEAN"',
        });
      if (axis === null) return value;
      return this.reduce(op, new PerReplica([value]), options);
    }
    const values = value.values;
    values.forEach((v, i) => {
      if (!(v instanceof Tensor))
        throw invalidArgument({
          code: "not-a-tensor",
          message: `strategy.reduce needs tensors; the value of replica ${i} is not one`,
          received: String(v),
          fix: "reduce a PerReplica of tensors (return a tensor from fn)",
        });
    });
    const graph = values[0].graph;
    return graph.asDefault(() =>
      graph.nameScope("reduce", () => {
        const sums = axis === null ? [...values] : values.map((v) => reduceSum(v, axis));
        const total = addN(sums);
        if (op === "SUM") return total;
        if (axis === null) return div(total, values.length);
        return div(total, elementCount(values, axis));
      }),
    );
  }

  /** The per-replica values of `value` (TF's experimental_local_results). */
  experimentalLocalResults<T>(value: PerReplica<T> | T): T[] {
    return value instanceof PerReplica ? [...value.values] : [value];
  }
}

/** Σ over the replicas of each value's size along `axis`, as a float32 scalar. */
function elementCount(values: readonly Tensor[], axis: number): Tensor | number {
  const sizes = values.map((v) => {
    const rank = v.rank;
    const a = rank !== null && axis < 0 ? axis + rank : axis;
    const d = v.shape === null ? null : v.shape[a];
    return d ?? cast(gather(shapeOf(v), a), "float32");
  });
  if (sizes.every((s): s is number => typeof s === "number")) return sizes.reduce((a, b) => a + b, 0);
  return addN(sizes.map((s) => (typeof s === "number" ? convertToTensor(s, "float32", "Const", values[0].graph) : s)));
}

function graphOfArgs(args: readonly unknown[]): Graph {
  for (const a of args) {
    if (a instanceof Tensor) return a.graph;
    if (a instanceof PerReplica) for (const v of a.values) if (v instanceof Tensor) return v.graph;
  }
  return getDefaultGraph();
}
