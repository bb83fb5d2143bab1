/**
 * (1) The MNIST seed model's training step, batch 100: 784 → (dense 100 → batch norm in training
 * mode → relu) × 2 → dense 10, softmax cross-entropy, SGD 0.01, the moving averages updated
 * (momentum 0.99, epsilon 1e-3). foldflow runs examples/mnist-batchnorm.ts's buildModel
 * (`sess.runSync([loss, trainOp])`, phase fed true); tfjs runs the same model written by hand:
 * tf.variableGrads (tfjs-core's gradients registered) over a forward pass with tf.moments + tf.batchNorm, sgd.applyGradients, and
 * the moving-average assigns. Every implementation starts from the same initial values; three
 * steps on the same batch must give the same loss and the same variables before timing.
 * Each iteration feeds the batch (tfjs: makes its tensors) and reads the loss back.
 */
import * as tf from "foldflow";
import { buildModel, type Model } from "../examples/mnist-batchnorm";
import { loadMnist } from "../examples/mnist-data";
import { FOLDFLOW_BACKENDS, openSession } from "./foldflow";
import { type Case, type Measurement, unavailable } from "./harness";
import { relativeDifference, tfc, useTfjs, type TfjsBackend } from "./peers";
import { foldflowTrainerOf, tfjsTrainerOf, tfjsVariables, type StepResult, type Trainer } from "./trainer";

export const MNIST_BENCH = "(1) MNIST training step, batch 100";
const BATCH = 100;
const LEARNING_RATE = 0.01;
const MOMENTUM = 0.99;
const EPSILON = 1e-3;
/** Steps of the sanity check: several, so that each run is seen to start from the last one's variables. */
const CHECK_STEPS = 3;

interface Batch {
  x: Float32Array;
  y: Float32Array;
}

async function foldflowTrainer(backend: (typeof FOLDFLOW_BACKENDS)[number], initial: ReadonlyMap<string, tf.NDArray>, batch: Batch): Promise<Trainer | string> {
  const model = buildModel();
  const opened = openSession(model.graph, backend);
  if (typeof opened === "string") return opened;
  const sess = opened;
  const feeds = (m: Model) =>
    new Map<tf.Tensor, tf.NDArray | boolean>([
      [m.x, tf.ndarray(batch.x, [BATCH, 784])],
      [m.y, tf.ndarray(batch.y, [BATCH, 10])],
      [m.phase, true],
    ]);
  const stepOnce = () => sess.runSync([model.loss, model.trainOp], feeds(model))[0].scalar();
  return foldflowTrainerOf(backend, sess, model.init, () => sess.run([model.loss, model.trainOp], feeds(model)), stepOnce, initial, CHECK_STEPS);
}

const LAYERS = ["layer1", "layer2"];

/** The same model in tfjs, its variables made on `backend` from foldflow's initial values. */
function tfjsTrainer(backend: TfjsBackend, initial: ReadonlyMap<string, tf.NDArray>, batch: Batch): Trainer {
  const { vars, v, trainable } = tfjsVariables(initial, backend);
  const optimizer = tfc.train.sgd(LEARNING_RATE);

  const step = (): number => {
    const stats: tfc.Tensor[] = [];
    const loss = tfc.tidy(() => {
      const xs = tfc.tensor2d(batch.x, [BATCH, 784]);
      const ys = tfc.tensor2d(batch.y, [BATCH, 10]);
      const { value, grads } = tfc.variableGrads(() => {
        let h: tfc.Tensor2D = xs;
        for (const layer of LAYERS) {
          const dense = tfc.add(tfc.matMul(h, v(`${layer}/dense/kernel`)), v(`${layer}/dense/bias`)) as tfc.Tensor2D;
          const { mean, variance } = tfc.moments(dense, [0]);
          stats.push(tfc.keep(mean), tfc.keep(variance));
          const normalized = tfc.batchNorm(dense, mean, variance, v(`${layer}/bn/beta`), v(`${layer}/bn/gamma`), EPSILON);
          h = tfc.relu(normalized) as tfc.Tensor2D;
        }
        const logits = tfc.add(tfc.matMul(h, v("logits/kernel")), v("logits/bias"));
        return tfc.mean(tfc.losses.softmaxCrossEntropy(ys, logits, undefined, undefined, tfc.Reduction.NONE)) as tfc.Scalar;
      }, trainable);
      optimizer.applyGradients(grads);
      // The moving averages: moving -= (moving - batch value) * (1 - momentum).
      LAYERS.forEach((layer, i) => {
        for (const [j, stat] of ["moving_mean", "moving_variance"].entries()) {
          const moving = v(`${layer}/bn/${stat}`);
          moving.assign(tfc.sub(moving, tfc.mul(tfc.sub(moving, stats[2 * i + j]), 1 - MOMENTUM)));
        }
      });
      return value;
    });
    tfc.dispose(stats);
    const out = loss.dataSync()[0];
    loss.dispose();
    return out;
  };
  return tfjsTrainerOf(backend, initial, vars, step, CHECK_STEPS);
}

/** The sanity line: every implementation's last loss and variables after CHECK_STEPS steps, against the interpreter's. */
async function sanity(trainers: Trainer[]): Promise<string> {
  const results: StepResult[] = [];
  for (const t of trainers) {
    await t.before?.();
    results.push(t.checkSteps());
  }
  const reference = results[0];
  let worst = 0;
  const parts = trainers.slice(1).map((t, i) => {
    const r = results[i + 1];
    let d = Math.abs(r.loss - reference.loss) / Math.abs(reference.loss);
    let where = "loss";
    for (const [name, value] of reference.variables) {
      const other = r.variables.get(name);
      const dv = other ? relativeDifference(other, value) : Infinity;
      if (dv > d) [d, where] = [dv, name];
    }
    worst = Math.max(worst, d);
    return `${t.impl} ${d.toExponential(1)}${d >= 1e-4 ? ` (at ${where})` : ""}`;
  });
  const ok = worst < 1e-4;
  const line = `sanity ${ok ? "ok" : "FAILED"}: ${MNIST_BENCH}: loss ${reference.loss.toFixed(5)} and all ${reference.variables.size} variables after ${CHECK_STEPS} steps from the same initial values, largest relative difference to ${trainers[0].impl}: ${parts.join(", ")}`;
  if (!ok) throw new Error(line);
  return line;
}

export interface MnistSetup {
  cases: Case[];
  missing: Measurement[];
  sanity: string;
}

export async function mnistTrainingCases(): Promise<MnistSetup> {
  const data = loadMnist({ train: BATCH, test: BATCH });
  const batch = { x: data.train.images.slice(0, BATCH * 784), y: data.train.labels.slice(0, BATCH * 10) };
  const trainers: Trainer[] = [];
  const missing: Measurement[] = [];
  // The initial values, from a fresh interpreter session of the same model.
  const model = buildModel();
  const sess = new tf.Session({ graph: model.graph, backend: "interpreter" });
  sess.runSync(model.init);
  const initial = sess.variableValues;
  for (const backend of FOLDFLOW_BACKENDS) {
    const t = await foldflowTrainer(backend, initial, batch);
    if (typeof t === "string") missing.push(unavailable(MNIST_BENCH, `foldflow ${backend}`, t));
    else trainers.push(t);
  }
  for (const backend of ["cpu", "wasm"] as const) {
    await useTfjs(backend);
    trainers.push(tfjsTrainer(backend, initial, batch));
  }
  const line = await sanity(trainers);
  const cases: Case[] = trainers.map((t) => ({
    bench: MNIST_BENCH,
    impl: t.impl,
    peer: t.impl === "tfjs-cpu" || t.impl === "tfjs-wasm" ? t.impl : undefined,
    fn: t.step,
    before: t.before,
  }));
  return { cases, missing, sanity: line };
}
