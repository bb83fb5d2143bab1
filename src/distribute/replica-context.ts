/**
 * `tf.distribute.ReplicaContext`: what fn sees while `strategy.run` builds one replica — its
 * id, the replica count, and `allReduce`, which all-reduces values across the replicas
 * through one AllReduce op (TF's ReplicaContext.all_reduce).
 *
 * Several values in one call are packed, as TF packs small tensors for one collective: each
 * replica flattens and concatenates them, one AllReduce op reduces the packed vectors, and
 * each replica splits its output back into the original shapes. Values of mixed dtypes or of
 * shapes not fully known get one AllReduce op each, all built at the same rendezvous.
 */
import { invalidArgument } from "../../ir/diagnostics";
import { Tensor } from "../../ir/graph";
import { formatShape, isFullyDefined } from "../../ir/shape";
import { concat, reshape, split } from "../../ir/ops/array";
import { allReduce as allReduceOp, type AllReduceReduction } from "../../ir/ops/collective";
import type { Variable } from "../variables";
import type { MirroredStrategy } from "./mirrored-strategy";
import type { ReplicaRun } from "./replica-run";
import { checkReduceOp, type ReduceOp } from "./values";


export class ReplicaContext {
  constructor(
    readonly strategy: MirroredStrategy,
    /** This replica's id, 0 ... numReplicasInSync - 1 (TF's replica_id_in_sync_group). */
    readonly replicaIdInSync: number,
    private readonly run: ReplicaRun,
  ) {}

  get numReplicasInSync(): number {
    return this.run.numReplicas;
  }

  /**
   * The update of a mirrored variable (a moving statistic ...) whose new value is the same on
   * every replica, such as one computed from all-reduced values: built by the first replica
   * that asks, and the same op handed to the others, so that running the replicas' updates
   * applies it once.
   */
  updateMirrored(variable: Variable, build: () => Tensor): Tensor {
    return this.run.updateOnce(variable, build);
  }

  /**
   * `allReduce("SUM" | "MEAN", value)`: the reduction of `value` over all replicas, as this
   * replica's output of one AllReduce op. A list gives a list, reduced at one rendezvous.
   */
  allReduce(reduceOp: ReduceOp, value: Tensor): Tensor;
  allReduce(reduceOp: ReduceOp, value: Tensor[]): Tensor[];
  allReduce(reduceOp: ReduceOp, value: Tensor | Tensor[]): Tensor | Tensor[] {
    const op = checkReduceOp(reduceOp, "ReplicaContext.allReduce");
    const list = Array.isArray(value) ? value : [value];
    const graph = this.run.graph;
    list.forEach((t, i) => {
      if (!(t instanceof Tensor) || t.graph !== graph)
        throw invalidArgument({
          code: "not-a-tensor",
          node: t instanceof Tensor ? t.name : undefined,
          message: `value ${i} of allReduce is not a tensor of the graph strategy.run builds`,
          received: String(t),
          fix: "all-reduce tensors built inside fn",
        });
    });
    if (list.length === 0) return [];
    const reduction: AllReduceReduction = op === "SUM" ? "sum" : "mean";
    const signature = `${op}(${list.map((t) => `${t.dtype}${formatShape(t.shape)}`).join(", ")})`;
    const packed = list.length > 1 && list.every((t) => t.dtype === list[0].dtype && isFullyDefined(t.shape));
    const reduced = graph.nameScope("all_reduce", () => {
      if (!packed) {
        const outs = this.run.rendezvous(signature, list, (byReplica) => {
          const perValue = list.map((_, k) => allReduceOp(byReplica.map((c) => c[k]), { reduction }));
          return byReplica.map((_, r) => perValue.map((outputs) => outputs[r]));
        });
        return outs;
      }
      const sizes = list.map((t) => (t.shape as number[]).reduce((a, b) => a * b, 1));
      const flat = concat(list.map((t) => reshape(t, [-1])), 0, "pack");
      const [out] = this.run.rendezvous(signature, [flat], (byReplica) => allReduceOp(byReplica.map((c) => c[0]), { reduction }).map((o) => [o]));
      const pieces = split(out, sizes, 0, "unpack");
      return pieces.map((p, k) => reshape(p, list[k].shape as number[]));
    });
    return Array.isArray(value) ? reduced : reduced[0];
  }
}
