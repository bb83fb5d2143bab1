/**
 * Warnings a Session gives while it runs, each once per session:
 *   update-ops-not-run        a fetched train op (one whose subgraph updates trainable
 *                             variables) runs without ops that UPDATE_OPS holds — once per train op;
 *   batch-norm-batch-of-one   a batch norm normalized a training batch of one value per channel.
 * The analysis of a plan is cached by the plan array, which the session's plan cache reuses.
 */
import { formatDiagnostic, type Diagnostic } from "../../ir/diagnostics";
import type { Graph, Operation, Tensor } from "../../ir/graph";
import {
  ancestors,
  batchOfOneDiagnostic,
  isBatchStatistic,
  isTrainingUpdate,
  missingUpdates,
  statisticCount,
  trainableVariableOps,
  updateOpsDiagnostic,
} from "../lint";
import { DEAD, type Value } from "./interpreter";

export type WarningHandler = (d: Diagnostic) => void;

/** The default handler: one line on stderr. */
export const writeWarning: WarningHandler = (d) => {
  process.stderr.write(`foldflow warning [${d.code}]: ${formatDiagnostic(d)}\n`);
};

interface PlanFacts {
  version: number;
  /** Train ops among the targets whose runs leave update ops out, with the diagnostic for each. */
  unsafeTrainOps: { name: string; diagnostic: Diagnostic }[];
  /** Training-mode batch statistics the plan computes. */
  statistics: Operation[];
}

/** Tensors a batch statistic may pass through before it is used (or dropped by a Switch). */
const PASS_THROUGH = new Set(["Squeeze", "Identity", "Reshape", "ExpandDims", "Switch", "StopGradient"]);

export class RunWarnings {
  private readonly facts = new WeakMap<readonly Operation[], PlanFacts>();
  private readonly warnedTrainOps = new Set<string>();
  private warnedBatchOfOne = false;

  constructor(
    private readonly graph: Graph,
    private readonly handler: WarningHandler = writeWarning,
  ) {}

  /** Called after a run with its targets, its plan and the values it computed. */
  afterRun(targets: readonly Operation[], order: readonly Operation[], values: ReadonlyMap<string, Value>): void {
    const facts = this.analyze(targets, order);
    for (const { name, diagnostic } of facts.unsafeTrainOps) {
      if (this.warnedTrainOps.has(name)) continue;
      this.warnedTrainOps.add(name);
      this.handler(diagnostic);
    }
    if (!this.warnedBatchOfOne && facts.statistics.length) {
      const single = facts.statistics.filter((op) => this.normalizedOne(op, order, values));
      if (single.length) {
        this.warnedBatchOfOne = true;
        this.handler(batchOfOneDiagnostic(single.map((op) => op.name), true));
      }
    }
  }

  private analyze(targets: readonly Operation[], order: readonly Operation[]): PlanFacts {
    const cached = this.facts.get(order);
    if (cached && cached.version === this.graph.version) return cached;
    const trainable = trainableVariableOps(this.graph);
    const planned = new Set(order);
    const unsafeTrainOps: PlanFacts["unsafeTrainOps"] = [];
    if (order.some((op) => isTrainingUpdate(op, trainable))) {
      const { missing, total } = missingUpdates(this.graph, planned);
      if (missing.length)
        for (const target of new Set(targets))
          if ([...ancestors([target])].some((op) => planned.has(op) && isTrainingUpdate(op, trainable)))
            unsafeTrainOps.push({ name: target.name, diagnostic: updateOpsDiagnostic(target.name, missing, total) });
    }
    const facts = { version: this.graph.version, unsafeTrainOps, statistics: order.filter(isBatchStatistic) };
    this.facts.set(order, facts);
    return facts;
  }

  /** Whether statistic `op` ran over one value per channel and the batch norm used it (training mode). */
  private normalizedOne(op: Operation, order: readonly Operation[], values: ReadonlyMap<string, Value>): boolean {
    const input = values.get(op.inputs[0].name);
    if (input === undefined || input === DEAD) return false;
    let axes: ArrayLike<number> | undefined;
    if (op.inputs[1]) {
      const a = values.get(op.inputs[1].name);
      axes = a && a !== DEAD ? a.data : undefined;
    }
    // The count first: it is cheap, and rarely 1 (then liveness does not matter).
    if (statisticCount(op, input.shape, axes) !== 1 || !isLive(values, op.outputs[0])) return false;
    // A fused batch norm in training mode uses its batch statistics; the moments of the
    // non-fused forms are computed outside the training cond, so follow them to a live use.
    return op.type !== "Mean" || usedLive(op.outputs[0], new Set(order), values);
  }
}

function isLive(values: ReadonlyMap<string, Value>, t: Tensor): boolean {
  const v = values.get(t.name);
  return v !== undefined && v !== DEAD;
}

/** Whether `t` reaches, through live values, an op other than a pass-through one (a Switch's untaken side is dead). */
function usedLive(t: Tensor, planned: ReadonlySet<Operation>, values: ReadonlyMap<string, Value>): boolean {
  const stack = [t];
  const seen = new Set<string>();
  while (stack.length) {
    const tensor = stack.pop()!;
    if (seen.has(tensor.name)) continue;
    seen.add(tensor.name);
    for (const consumer of tensor.consumers()) {
      if (!planned.has(consumer)) continue;
      const live = consumer.outputs.filter((o) => isLive(values, o));
      if (!PASS_THROUGH.has(consumer.type) && live.length) return true;
      if (PASS_THROUGH.has(consumer.type)) stack.push(...live);
    }
  }
  return false;
}
