/**
 * Mirrored variables in one graph: the replicas of a `strategy.run` share the same Variable
 * objects. As in TF, where a variable made in replica context goes through a merge call so
 * that every replica gets the one MirroredVariable, the k-th variable a replica asks for
 * (through tf.getVariable, so every layer's addWeight) is the k-th one the building replica
 * got: one replica at a time *creates* (its layers are named as they would be without a
 * strategy), the others *follow* and receive the creator's variables.
 *
 * Requests are matched per key — the variable's name with the uniquifying `_<n>` suffix of
 * every component dropped, since a follower's layers may be numbered differently — and in
 * order within a key, skipping the variables the follower already uses without asking (those
 * of a layer object shared by the replicas, built by the creator). Followers run under a
 * variable scope with AUTO_REUSE (so tf.getVariable hands back an existing variable) and a
 * fresh layer-name count.
 *
 * Mechanism: for the duration of the run the graph's variable store (the Map tf.getVariable
 * looks names up in, `graph.extras.get("variableStore")`) is replaced by a proxy that answers
 * a follower's look-up from the creator's variables and records the creator's.
 */
import { invalidArgument } from "../../ir/diagnostics";
import type { Graph, VariableScopeState } from "../../ir/graph";
import type { Variable } from "../variables";

export type SharingMode = "create" | "follow";

export interface SharingReplica {
  readonly id: number;
  mode: SharingMode;
  /** Per key, how many variables of that key this replica has asked for. */
  readonly cursors: Map<string, number>;
}

const STORE_KEY = "variableStore";

/** The key matching a variable across replicas: `dense_1/kernel` and `dense/kernel` match. */
export function sharingKey(name: string): string {
  return name
    .split("/")
    .map((c) => c.replace(/_\d+$/, ""))
    .join("/");
}

/** The variable scope a following replica runs in: the entry scope, reusing. */
export function followerScope(entry: VariableScopeState | undefined): VariableScopeState {
  if (!entry) return { name: "", reuse: "auto" };
  return { ...entry, reuse: entry.reuse === true ? true : "auto" };
}

export class VariableSharing {
  private readonly queues = new Map<string, Variable[]>();
  private pending: { replica: SharingReplica; key: string } | null = null;
  private real: Map<string, Variable> | null = null;

  constructor(
    private readonly graph: Graph,
    private readonly current: () => SharingReplica | null,
    /** Whether an op built by replica `id` in this run already reads `v`. */
    private readonly usedBy: (v: Variable, id: number) => boolean,
  ) {}

  /** Puts the sharing store in place of the graph's variable store. */
  install(): void {
    let real = this.graph.extras.get(STORE_KEY) as Map<string, Variable> | undefined;
    if (!real) {
      real = new Map();
      this.graph.extras.set(STORE_KEY, real);
    }
    this.real = real;
    const target = real;
    const lookup = (name: string) => this.get(target, name);
    const record = (name: string, v: Variable) => this.set(target, name, v);
    const proxy = new Proxy(target, {
      get: (obj, prop) => {
        if (prop === "get") return lookup;
        if (prop === "set") return record;
        const value = Reflect.get(obj, prop, obj) as unknown;
        return typeof value === "function" ? (value as (...a: unknown[]) => unknown).bind(obj) : value;
      },
    });
    this.graph.extras.set(STORE_KEY, proxy);
  }

  /** Gives the graph its own store back. */
  uninstall(): void {
    if (this.real) this.graph.extras.set(STORE_KEY, this.real);
    this.real = null;
  }

  private get(real: Map<string, Variable>, name: string): Variable | undefined {
    const replica = this.current();
    this.pending = null;
    if (!replica) return real.get(name);
    const key = sharingKey(name);
    const queue = this.queues.get(key) ?? [];
    let cursor = replica.cursors.get(key) ?? 0;
    if (replica.mode === "follow") {
      while (cursor < queue.length && this.usedBy(queue[cursor], replica.id)) cursor++;
      if (cursor >= queue.length)
        throw invalidArgument({
          code: "replica-variable-mismatch",
          node: name,
          message: `replica ${replica.id} asks for variable \`${name}\`, which the replica that creates the variables did not create`,
          expected: queue.length ? `at most ${queue.length} variable(s) like \`${queue[0].op.name}\`` : "the variables the creating replica made",
          received: `request ${cursor + 1} for \`${key}\``,
          fix: "make fn build the same layers and variables, in the same order, on every replica (create shared layers before strategy.run, or all of them inside fn)",
        });
      replica.cursors.set(key, cursor + 1);
      return queue[cursor];
    }
    const existing = real.get(name);
    if (existing) {
      queue.push(existing);
      this.queues.set(key, queue);
      replica.cursors.set(key, queue.length);
    } else this.pending = { replica, key };
    return existing;
  }

  private set(real: Map<string, Variable>, name: string, v: Variable): Map<string, Variable> {
    real.set(name, v);
    const pending = this.pending;
    this.pending = null;
    if (pending) {
      const queue = this.queues.get(pending.key) ?? [];
      queue.push(v);
      this.queues.set(pending.key, queue);
      pending.replica.cursors.set(pending.key, queue.length);
    }
    return real;
  }
}
