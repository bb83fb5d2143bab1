/**
 * Which strategy and which replica are current: TF's distribution_strategy_context.
 * `getReplicaContext()` is the ReplicaContext while `strategy.run` builds a replica, and null
 * otherwise (in cross-replica context, or with no strategy at all).
 */
import type { MirroredStrategy } from "./mirrored-strategy";
import type { ReplicaContext } from "./replica-context";
import type { ReplicaRun } from "./replica-run";

type CurrentStrategy = MirroredStrategy;

interface ActiveRun {
  strategy: CurrentStrategy;
  run: ReplicaRun;
  contexts: ReplicaContext[];
}

const activeRuns: ActiveRun[] = [];
const strategyScopes: CurrentStrategy[] = [];

/** Runs `fn` with `active` as the run being built. */
export function withActiveRun<T>(active: ActiveRun, fn: () => T): T {
  activeRuns.push(active);
  try {
    return fn();
  } finally {
    activeRuns.pop();
  }
}

/** Runs `fn` inside `strategy.scope()`. */
export function withStrategyScope<T>(strategy: CurrentStrategy, fn: () => T): T {
  strategyScopes.push(strategy);
  try {
    return fn();
  } finally {
    strategyScopes.pop();
  }
}

/** `tf.distribute.getReplicaContext()`: the current replica's context, or null. */
export function getReplicaContext(): ReplicaContext | null {
  const active = activeRuns[activeRuns.length - 1];
  if (!active) return null;
  const id = active.run.currentReplica();
  return id === null ? null : active.contexts[id];
}

/** Whether a run is being built (in any context). */
export function isBuildingRun(): boolean {
  return activeRuns.length > 0;
}

/** `tf.distribute.inCrossReplicaContext()`: inside a strategy's scope or run, but not in a replica. */
export function inCrossReplicaContext(): boolean {
  return (activeRuns.length > 0 || strategyScopes.length > 0) && getReplicaContext() === null;
}

/** `tf.distribute.getStrategy()`: the strategy of the current run or scope, or null. */
export function getStrategy(): CurrentStrategy | null {
  const run = activeRuns[activeRuns.length - 1];
  return run?.strategy ?? strategyScopes[strategyScopes.length - 1] ?? null;
}

/** `tf.distribute.hasStrategy()`. */
export function hasStrategy(): boolean {
  return getStrategy() !== null;
}
