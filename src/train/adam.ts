/**
 * `tf.train.AdamOptimizer` (ApplyAdam), TF1's form: slots "<var>/Adam" (m) and "<var>/Adam_1"
 * (v); non-slot variables beta1_power and beta2_power (start at beta1 and beta2), multiplied
 * by beta1 and beta2 after every step, under control dependencies on the updates.
 * lr_t = lr * sqrt(1 - beta2^t) / (1 - beta1^t); var -= lr_t * m / (sqrt(v) + epsilon).
 */
import { invalidArgument } from "../../ir/diagnostics";
import type { Graph, Operation, Tensor } from "../../ir/graph";
import { mul } from "../../ir/ops/elementwise";
import { assign } from "../../ir/ops/state";
import { applyAdam } from "../../ir/ops/training";
import type { Variable } from "../variables";
import { namedGroup, Optimizer, type Hyperparameter } from "./optimizer";

export interface AdamOptions {
  learningRate?: Hyperparameter;
  beta1?: number;
  beta2?: number;
  epsilon?: Hyperparameter;
  useLocking?: boolean;
  name?: string;
}

interface AdamTensors {
  lr: Tensor;
  beta1: Tensor;
  beta2: Tensor;
  epsilon: Tensor;
}

export class AdamOptimizer extends Optimizer {
  readonly learningRate: Hyperparameter;
  readonly beta1: number;
  readonly beta2: number;
  readonly epsilon: Hyperparameter;
  private tensors: AdamTensors | null = null;

  /** `new AdamOptimizer(0.01)` or `new AdamOptimizer({ learningRate, beta1, beta2, epsilon })`. */
  constructor(learningRateOrOptions: Hyperparameter | AdamOptions = {}, options: AdamOptions = {}) {
    const o: AdamOptions =
      typeof learningRateOrOptions === "object" && !("op" in learningRateOrOptions)
        ? (learningRateOrOptions as AdamOptions)
        : { ...options, learningRate: learningRateOrOptions as Hyperparameter };
    super(o.useLocking ?? false, o.name ?? "Adam");
    this.learningRate = o.learningRate ?? 0.001;
    this.beta1 = o.beta1 ?? 0.9;
    this.beta2 = o.beta2 ?? 0.999;
    this.epsilon = o.epsilon ?? 1e-8;
    for (const [key, value] of [["beta1", this.beta1], ["beta2", this.beta2]] as const)
      if (typeof value !== "number" || !(value >= 0 && value < 1))
        throw invalidArgument({
          code: "bad-hyperparameter",
          message: `${this.name}: ${key} must be a number in [0, 1)`,
          expected: "0 <= beta < 1",
          received: String(value),
          fix: `use e.g. ${key}: ${key === "beta1" ? 0.9 : 0.999}`,
        });
  }

  protected override createSlots(vars: Variable[]): void {
    // The beta powers sit with the first variable by name, as in TF.
    const graph = vars[0].graph;
    this.nonSlotVariable(graph, "beta1_power", this.beta1);
    this.nonSlotVariable(graph, "beta2_power", this.beta2);
    for (const v of vars) {
      this.zerosSlot(v, "m", this.name);
      this.zerosSlot(v, "v", `${this.name}_1`);
    }
  }

  protected override prepare(graph: Graph): void {
    this.tensors = {
      lr: this.hyperTensor(this.learningRate, "learning_rate", graph),
      beta1: this.hyperTensor(this.beta1, "beta1", graph),
      beta2: this.hyperTensor(this.beta2, "beta2", graph),
      epsilon: this.hyperTensor(this.epsilon, "epsilon", graph),
    };
  }

  /** beta1_power and beta2_power of `graph`, once applyGradients has created them. */
  getBetaAccumulators(graph: Graph): [Variable, Variable] | null {
    const b1 = this.getNonSlotVariable(graph, "beta1_power");
    const b2 = this.getNonSlotVariable(graph, "beta2_power");
    return b1 && b2 ? [b1, b2] : null;
  }

  protected override applyDense(grad: Tensor, variable: Variable): Tensor {
    const t = this.tensors!;
    const [beta1Power, beta2Power] = this.getBetaAccumulators(variable.graph)!;
    return applyAdam(
      variable,
      this.getSlot(variable, "m")!,
      this.getSlot(variable, "v")!,
      beta1Power,
      beta2Power,
      t.lr,
      t.beta1,
      t.beta2,
      t.epsilon,
      grad,
      { useLocking: this.useLocking },
    );
  }

  protected override finish(updateOps: Operation[], name: string): Operation {
    const graph = updateOps[0].graph;
    const t = this.tensors!;
    const [beta1Power, beta2Power] = this.getBetaAccumulators(graph)!;
    const [update1, update2] = graph.controlDependencies(updateOps, () => [
      assign(beta1Power, mul(beta1Power, t.beta1), { useLocking: this.useLocking }),
      assign(beta2Power, mul(beta2Power, t.beta2), { useLocking: this.useLocking }),
    ]);
    return namedGroup([...updateOps, update1.op, update2.op], name);
  }
}
