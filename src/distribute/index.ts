/**
 * `tf.distribute`: MirroredStrategy (data parallelism built into one graph), PerReplica
 * values, replica contexts and their cross-replica all-reduce (the AllReduce op).
 */
export { MirroredStrategy } from "./mirrored-strategy";
export type { MirroredStrategyOptions, RunArgument, ReduceOptions } from "./mirrored-strategy";
export { PerReplica, ReduceOp } from "./values";
export { ReplicaContext } from "./replica-context";
export { getReplicaContext, inCrossReplicaContext, getStrategy, hasStrategy } from "./current";
export { allReduce } from "../../ir/ops/collective";
export type { AllReduceOptions, AllReduceReduction } from "../../ir/ops/collective";
