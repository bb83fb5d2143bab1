/** `tf.train.GradientDescentOptimizer`: var -= learning_rate * grad (ApplyGradientDescent). */
import type { Graph, Tensor } from "../../ir/graph";
import { applyGradientDescent } from "../../ir/ops/training";
import type { Variable } from "../variables";
import { Optimizer, type Hyperparameter } from "./optimizer";

export interface GradientDescentOptions {
  useLocking?: boolean;
  name?: string;
}

export class GradientDescentOptimizer extends Optimizer {
  readonly learningRate: Hyperparameter;
  private learningRateTensor: Tensor | null = null;

  constructor(learningRate: Hyperparameter, options: GradientDescentOptions = {}) {
    super(options.useLocking ?? false, options.name ?? "GradientDescent");
    this.learningRate = learningRate;
  }

  protected override prepare(graph: Graph): void {
    this.learningRateTensor = this.hyperTensor(this.learningRate, "learning_rate", graph);
  }

  protected override applyDense(grad: Tensor, variable: Variable): Tensor {
    return applyGradientDescent(variable, this.learningRateTensor!, grad, { useLocking: this.useLocking });
  }
}
