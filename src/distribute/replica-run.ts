/**
 * One `strategy.run`: calls fn once per replica and builds the cross-replica rendezvous.
 *
 * The problem. TF runs the replica functions in threads that pause at a merge call until all
 * replicas reach it. Here fn is an ordinary synchronous function, and a graph is built in
 * creation order (a topological order: ops after their inputs). An AllReduce op that takes
 * every replica's value can only be created once all of them exist, and each replica's ops
 * after the all-reduce only after that op.
 *
 * The design: nested rendezvous. Replicas are launched one after another (replica 1, 2, ...,
 * N-1, then 0). When a replica reaches the rendezvous it leaves its contribution and, still
 * inside its call, launches the remaining replicas; the last one to arrive (replica 0) finds
 * every contribution in the graph, builds the one AllReduce op in cross-replica context, and
 * goes on; when it returns, the replica below it on the stack receives its own output of the
 * same op, and so on down. Every op is created once, after its inputs, with real data edges:
 *
 *   replica 1: pre ──► contribution₁ ─┐                ┌─► output₁ ──► post (built last)
 *   replica 2: pre ──► contribution₂ ─┤                ├─► output₂ ──► post
 *   replica 0: pre ──► contribution₀ ─┴─► AllReduce ───┴─► output₀ ──► post (built first)
 *
 * Switching replicas saves and restores the graph's builder state (name scope, control and
 * cond blocks, variable scopes), so each replica starts from the state run was called in.
 * A stack gives one rendezvous per run: after it the replicas finish in turn, so a second
 * one could not see the others' values; that is reported with a fix (chain runs, passing the
 * PerReplica result on).
 *
 * Variables are shared (./variable-sharing.ts): the first launched replica creates those made
 * before the rendezvous and the last to arrive (replica 0, then first to go on) those made
 * after it; the others follow. Replica i > 0 builds under name scope `replica_<i>`; replica 0
 * in the caller's scope, as TF's MirroredStrategy names them.
 */
import { invalidArgument } from "../../ir/diagnostics";
import type { Graph, Tensor, VariableScopeState } from "../../ir/graph";
import { captureBuilderState, restoreBuilderState, type BuilderState } from "./builder-state";
import { followerScope, VariableSharing, type SharingMode, type SharingReplica } from "./variable-sharing";

interface ReplicaSlot extends SharingReplica {
  mode: SharingMode;
  /** The reusing variable scope a following replica runs in. */
  pushed: VariableScopeState | null;
  done: boolean;
}

interface Rendezvous {
  signature: string;
  arrived: Map<number, Tensor[]>;
  outputs: Tensor[][] | null;
}

/** Builds the per-replica results of a cross-replica step from the contributions (index = replica id). */
export type MergeFn = (contributions: Tensor[][]) => Tensor[][];

function mismatch(message: string, fix: string): Error {
  return invalidArgument({ code: "replica-mismatch", message, fix });
}

export class ReplicaRun {
  readonly numReplicas: number;
  private readonly slots: ReplicaSlot[];
  private readonly order: number[];
  private next = 0;
  private current: ReplicaSlot | null = null;
  private open: Rendezvous | null = null;
  private entry: BuilderState | null = null;
  private readonly segments: { start: number; replica: number | null; mode: SharingMode | null }[] = [];
  private fn: ((...args: unknown[]) => unknown) | null = null;
  private args: unknown[][] = [];
  private results: unknown[] = [];
  private readonly mirroredUpdates = new Map<object, unknown>();

  constructor(
    readonly graph: Graph,
    numReplicas: number,
  ) {
    this.numReplicas = numReplicas;
    this.slots = Array.from({ length: numReplicas }, (_, id) => ({ id, mode: "follow" as SharingMode, cursors: new Map(), pushed: null, done: false }));
    // Replica 0 last: it arrives last at the rendezvous, so it is the one that goes on first.
    this.order = numReplicas === 1 ? [0] : [...Array.from({ length: numReplicas - 1 }, (_, i) => i + 1), 0];
    this.slots[this.order[0]].mode = "create";
  }

  /** The replica being built, or null in cross-replica context. */
  currentReplica(): number | null {
    return this.current?.id ?? null;
  }

  /** Calls fn for every replica with its arguments; returns the results by replica id. */
  execute<R>(fn: (...args: never[]) => R, args: unknown[][]): R[] {
    const graph = this.graph;
    this.fn = fn as (...args: unknown[]) => unknown;
    this.args = args;
    this.entry = captureBuilderState(graph);
    const sharing = new VariableSharing(
      graph,
      () => this.current,
      (v, id) => v.consumers().some((op) => this.builtBy(op.id) === id),
    );
    const opsBefore = graph.operations.length;
    sharing.install();
    try {
      this.launchRemaining();
      this.enter(null);
      this.checkVariablesShared(opsBefore);
      return this.results as R[];
    } finally {
      sharing.uninstall();
      restoreBuilderState(graph, this.entry);
      this.current = null;
    }
  }

  /**
   * The rendezvous of all replicas: `contribution` is this replica's part; `merge` runs once,
   * when the last replica arrives, in cross-replica context, and returns each replica's
   * result. `signature` must be the same on every replica (what is reduced, and how).
   */
  rendezvous(signature: string, contribution: Tensor[], merge: MergeFn): Tensor[] {
    const slot = this.current;
    if (!slot)
      throw invalidArgument({
        code: "cross-replica-context",
        message: "a cross-replica all-reduce was called outside a replica function",
        fix: "call replicaContext.allReduce inside the fn passed to strategy.run",
      });
    if (this.open?.outputs)
      throw mismatch(
        `replica ${slot.id} calls a second cross-replica all-reduce in one strategy.run; foldflow builds the replicas of a run around one rendezvous`,
        "pass all the values to one allReduce call, or split fn in two: const h = strategy.run(f1, [x]); strategy.run(f2, [h]) (a PerReplica argument gives each replica its own value)",
      );
    const open = (this.open ??= { signature, arrived: new Map(), outputs: null });
    if (open.signature !== signature)
      throw mismatch(`replica ${slot.id} all-reduces ${signature} where another replica all-reduces ${open.signature}`, "make every replica all-reduce values of the same shapes with the same ReduceOp");
    const early = this.slots.find((s) => s.done && !open.arrived.has(s.id));
    if (early) throw this.skipped(early.id, slot.id);
    open.arrived.set(slot.id, contribution);
    if (open.arrived.size < this.numReplicas) {
      const saved = captureBuilderState(this.graph);
      try {
        this.launchRemaining();
      } finally {
        restoreBuilderState(this.graph, saved);
        this.enter(slot);
      }
      if (!open.outputs) throw mismatch(`the replicas did not all reach the all-reduce that replica ${slot.id} called`, "call allReduce on every replica");
      if (slot.mode === "create") this.switchMode(slot, "follow");
      return open.outputs[slot.id];
    }
    const saved = captureBuilderState(this.graph);
    this.enter(null);
    let outputs: Tensor[][];
    try {
      restoreBuilderState(this.graph, { ...this.entry!, nameScope: saved.nameScope });
      outputs = merge(this.slots.map((s) => open.arrived.get(s.id)!));
    } finally {
      restoreBuilderState(this.graph, saved);
      this.enter(slot);
    }
    open.outputs = outputs;
    if (slot.mode === "follow") this.switchMode(slot, "create");
    return outputs[slot.id];
  }

  /**
   * The update of a mirrored variable whose new value agrees on every replica: the first
   * replica to ask builds it, the others get the same op, so a step applies it once (TF
   * applies such updates once, through a merge call).
   */
  updateOnce<T>(variable: object, build: () => T): T {
    if (!this.mirroredUpdates.has(variable)) this.mirroredUpdates.set(variable, build());
    return this.mirroredUpdates.get(variable) as T;
  }

  private launchRemaining(): void {
    while (this.next < this.order.length) this.runReplica(this.slots[this.order[this.next++]]);
  }

  private runReplica(slot: ReplicaSlot): void {
    const graph = this.graph;
    const entry = this.entry!;
    restoreBuilderState(graph, entry);
    if (slot.mode === "follow") {
      slot.pushed = followerScope(entry.variableScopes[entry.variableScopes.length - 1]);
      graph.variableScopes.push(slot.pushed);
    }
    this.enter(slot);
    const base = entry.nameScope;
    const scope = slot.id === 0 ? base : base ? `${base}/replica_${slot.id}` : `replica_${slot.id}`;
    try {
      this.results[slot.id] = graph.nameScope(scope ? `${scope}/` : null, () => this.fn!(...this.args[slot.id]));
    } finally {
      this.removePushed(slot);
      slot.done = true;
      this.enter(null);
    }
    if (this.open && !this.open.arrived.has(slot.id)) {
      const other = [...this.open.arrived.keys()][0];
      throw this.skipped(slot.id, other);
    }
  }

  private skipped(finished: number, called: number): Error {
    return mismatch(
      `replica ${finished} returned without the cross-replica all-reduce that replica ${called} calls`,
      "make fn take the same path on every replica: every replica must call allReduce (SyncBatchNormalization in training calls it)",
    );
  }

  /** Which replica creates the variables changes at the rendezvous. */
  private switchMode(slot: ReplicaSlot, mode: SharingMode): void {
    const scopes = this.graph.variableScopes;
    if (mode === "follow") {
      const entryDepth = this.entry!.variableScopes.length;
      slot.pushed = followerScope(this.entry!.variableScopes[entryDepth - 1]);
      scopes.splice(entryDepth, 0, slot.pushed);
    } else this.removePushed(slot);
    slot.mode = mode;
    this.enter(slot);
  }

  private removePushed(slot: ReplicaSlot): void {
    if (!slot.pushed) return;
    const at = this.graph.variableScopes.lastIndexOf(slot.pushed);
    if (at >= 0) this.graph.variableScopes.splice(at, 1);
    slot.pushed = null;
  }

  private enter(slot: ReplicaSlot | null): void {
    this.current = slot;
    this.segments.push({ start: this.graph.operations.length, replica: slot?.id ?? null, mode: slot?.mode ?? null });
  }

  /** The replica that built the op of creation index `index` in this run (null: cross-replica, or before the run). */
  private builtBy(index: number): number | null {
    let lo = 0;
    let hi = this.segments.length - 1;
    if (hi < 0 || index < this.segments[0].start) return null;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.segments[mid].start <= index) lo = mid;
      else hi = mid - 1;
    }
    return this.segments[lo].replica;
  }

  /** A following replica must not make variables of its own (tf.Variable bypasses the sharing). */
  private checkVariablesShared(opsBefore: number): void {
    const ops = this.graph.operations;
    let s = 0;
    for (let i = opsBefore; i < ops.length; i++) {
      while (s + 1 < this.segments.length && this.segments[s + 1].start <= i) s++;
      const segment = this.segments[s];
      if (ops[i].type !== "VariableV2" || segment.mode !== "follow") continue;
      throw invalidArgument({
        code: "replica-variable",
        node: ops[i].name,
        message: `replica ${segment.replica} created its own variable \`${ops[i].name}\`; mirrored replicas share their variables`,
        fix: "inside strategy.run create variables with tf.getVariable or layers (shared by every replica), or create them before strategy.run",
      });
    }
  }
}
