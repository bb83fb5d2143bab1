/**
 * `tf.train.MomentumOptimizer` (ApplyMomentum): accum = accum * momentum + grad, then
 * var -= lr * accum, or with Nesterov var -= lr * grad + lr * momentum * accum.
 * One slot per variable: "<var>/Momentum" (slot name "momentum").
 */
import type { Graph, Tensor } from "../../ir/graph";
import { applyMomentum } from "../../ir/ops/training";
import type { Variable } from "../variables";
import { Optimizer, type Hyperparameter } from "./optimizer";

export interface MomentumOptions {
  useLocking?: boolean;
  name?: string;
  useNesterov?: boolean;
}

export class MomentumOptimizer extends Optimizer {
  readonly learningRate: Hyperparameter;
  readonly momentum: Hyperparameter;
  readonly useNesterov: boolean;
  private learningRateTensor: Tensor | null = null;
  private momentumTensor: Tensor | null = null;

  constructor(learningRate: Hyperparameter, momentum: Hyperparameter, options: MomentumOptions = {}) {
    super(options.useLocking ?? false, options.name ?? "Momentum");
    this.learningRate = learningRate;
    this.momentum = momentum;
    this.useNesterov = options.useNesterov ?? false;
  }

  protected override createSlots(vars: Variable[]): void {
    for (const v of vars) this.zerosSlot(v, "momentum", this.name);
  }

  protected override prepare(graph: Graph): void {
    this.learningRateTensor = this.hyperTensor(this.learningRate, "learning_rate", graph);
    this.momentumTensor = this.hyperTensor(this.momentum, "momentum", graph);
  }

  protected override applyDense(grad: Tensor, variable: Variable): Tensor {
    const accum = this.getSlot(variable, "momentum")!;
    return applyMomentum(variable, accum, this.learningRateTensor!, grad, this.momentumTensor!, {
      useLocking: this.useLocking,
      useNesterov: this.useNesterov,
    });
  }
}
