/**
 * (4) A training step of section (2)'s 6-block conv net: (conv 3×3 SAME, no bias → batch norm in
 * training mode → relu) × 6, channels 3 → 16 → 16 → 32 → 32 → 64 → 64, then global average
 * pooling, dense 10 and sparse softmax cross-entropy, SGD 0.01 run under UPDATE_OPS (the moving
 * averages updated, momentum 0.99, epsilon 1e-3), a batch of 8 NHWC 32×32×3 images.
 * foldflow: tf.layers (FusedBatchNormV3) on its js and wasm session backends
 * (`sess.runSync([loss, trainOp])`); the wasm backend runs the 3×3 convolutions of the variable
 * filters by Winograd F(2×2, 3×3) with the filter transformed each step where its cost rule
 * picks it. tfjs (cpu and wasm): the same model by hand, tf.variableGrads over conv2d +
 * moments + batchNorm + relu, sgd.applyGradients, and the moving-average assigns (the variance
 * Bessel-corrected, as TF's fused batch norm does).
 * Every implementation starts from the same initial values; one step on the same batch must give
 * foldflow js's loss and variables (the sanity line) before timing. tfjs-cpu takes minutes per
 * step (its conv backprops are scalar loops): its figure is that one sanity step, not repeated.
 * tfjs-wasm 4.22 registers no Conv2DBackpropFilter kernel: its row reads n/a with the error.
 * Each iteration feeds the batch (tfjs: makes its tensors) and reads the loss back.
 */
import * as tf from "foldflow";
import { openSession, reason } from "./foldflow";
import { type Case, type Measurement, single, unavailable } from "./harness";
import { relativeDifference, tfc, uniform, useTfjs, type TfjsBackend } from "./peers";
import { foldflowTrainerOf, tfjsTrainerOf, tfjsVariables, type StepResult, type Trainer } from "./trainer";

export const CONV_TRAIN_BENCH = "(4) conv net training step, batch 8, 32×32×3";
const CHANNELS = [3, 16, 16, 32, 32, 64, 64];
export const SHAPE = [8, 32, 32, 3];
const CLASSES = 10;
const LEARNING_RATE = 0.01;
const MOMENTUM = 0.99;
const EPSILON = 1e-3;
/** One step: a tfjs-cpu step takes minutes (its conv backprops are scalar JS loops). */
const CHECK_STEPS = 1;
/** Largest relative difference the sanity check accepts (six batch norms in float32, summed in different orders). */
const TOLERANCE = 1e-4;
/** Multiply-adds × 2 of the convolutions in a training step: forward, input gradient (not for the first layer) and filter gradient. */
export const CONV_TRAIN_FLOPS = CHANNELS.slice(1).reduce((sum, cout, i) => sum + (i === 0 ? 2 : 3) * 2 * 8 * 32 * 32 * 9 * CHANNELS[i] * cout, 0);

interface Batch {
  x: Float32Array;
  y: Int32Array;
}

interface Model {
  graph: tf.Graph;
  x: tf.Tensor;
  y: tf.Tensor;
  loss: tf.Tensor;
  train: tf.Operation;
  init: tf.Operation;
}

export function buildModel(): Model {
  const graph = new tf.Graph();
  return graph.asDefault(() => {
    const x = tf.placeholder("float32", SHAPE, "x");
    const y = tf.placeholder("int32", [SHAPE[0]], "y");
    let h: tf.Tensor = x;
    for (let i = 1; i < CHANNELS.length; i++) {
      h = tf.layers.conv2d(h, CHANNELS[i], 3, { padding: "same", useBias: false, name: `conv${i}`, kernelInitializer: tf.initializers.glorotUniform({ seed: i }) });
      h = tf.nn.relu(tf.layers.batchNormalization(h, { training: true, momentum: MOMENTUM, epsilon: EPSILON, name: `bn${i}` }));
    }
    const pooled = tf.reduceMean(h, [1, 2]);
    const logits = tf.layers.dense(pooled, CLASSES, { name: "logits", kernelInitializer: tf.initializers.glorotUniform({ seed: 10 }) });
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels: y, logits }));
    const train = tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () => new tf.train.GradientDescentOptimizer(LEARNING_RATE).minimize(loss));
    return { graph, x, y, loss, train, init: tf.globalVariablesInitializer() };
  });
}

async function foldflowTrainer(backend: "js" | "wasm", initial: ReadonlyMap<string, tf.NDArray>, batch: Batch): Promise<Trainer | string> {
  const model = buildModel();
  const opened = openSession(model.graph, backend);
  if (typeof opened === "string") return opened;
  const sess = opened;
  const feeds = () => new Map<tf.Tensor, tf.NDArray>([[model.x, tf.ndarray(batch.x, SHAPE)], [model.y, tf.ndarray(batch.y, [SHAPE[0]], "int32")]]);
  const stepOnce = () => sess.runSync([model.loss, model.train], feeds())[0].scalar();
  return foldflowTrainerOf(backend, sess, model.init, () => sess.run([model.loss, model.train], feeds()), stepOnce, initial, CHECK_STEPS);
}

function tfjsTrainer(backend: TfjsBackend, initial: ReadonlyMap<string, tf.NDArray>, batch: Batch): Trainer {
  const { vars, v, trainable } = tfjsVariables(initial, `conv-train/${backend}`);
  const optimizer = tfc.train.sgd(LEARNING_RATE);
  const count = SHAPE[0] * SHAPE[1] * SHAPE[2];
  const bessel = count / (count - 1);

  const step = (): number => {
    const stats: tfc.Tensor[] = [];
    const loss = tfc.tidy(() => {
      const xs = tfc.tensor4d(batch.x, SHAPE as [number, number, number, number]);
      const ys = tfc.oneHot(tfc.tensor1d(batch.y, "int32"), CLASSES);
      const { value, grads } = tfc.variableGrads(() => {
        let h: tfc.Tensor4D = xs;
        for (let i = 1; i < CHANNELS.length; i++) {
          const conv = tfc.conv2d(h, v(`conv${i}/kernel`) as tfc.Tensor4D, 1, "same");
          const { mean, variance } = tfc.moments(conv, [0, 1, 2]);
          stats.push(tfc.keep(mean), tfc.keep(variance));
          h = tfc.relu(tfc.batchNorm(conv, mean, variance, v(`bn${i}/beta`), v(`bn${i}/gamma`), EPSILON)) as tfc.Tensor4D;
        }
        const logits = tfc.add(tfc.matMul(tfc.mean(h, [1, 2]) as tfc.Tensor2D, v("logits/kernel") as tfc.Tensor2D), v("logits/bias"));
        return tfc.mean(tfc.losses.softmaxCrossEntropy(ys, logits, undefined, undefined, tfc.Reduction.NONE)) as tfc.Scalar;
      }, trainable);
      optimizer.applyGradients(grads);
      for (let i = 1; i < CHANNELS.length; i++) {
        const [mean, variance] = [stats[2 * (i - 1)], tfc.mul(stats[2 * (i - 1) + 1], bessel)];
        for (const [stat, batchValue] of [["moving_mean", mean], ["moving_variance", variance]] as const) {
          const moving = v(`bn${i}/${stat}`);
          moving.assign(tfc.sub(moving, tfc.mul(tfc.sub(moving, batchValue), 1 - MOMENTUM)));
        }
      }
      return value;
    });
    tfc.dispose(stats);
    const out = loss.dataSync()[0];
    loss.dispose();
    return out;
  };
  return tfjsTrainerOf(backend, initial, vars, step, CHECK_STEPS);
}

/**
 * The sanity line: each implementation's loss and variables after CHECK_STEPS steps from the
 * initial values against the first's; also each one's seconds for them, and the ones that failed.
 */
async function sanity(trainers: Trainer[]): Promise<{ line: string; failed: Map<string, string>; seconds: number[] }> {
  const results: (StepResult | null)[] = [];
  const failed = new Map<string, string>();
  const seconds: number[] = [];
  for (const t of trainers) {
    await t.before?.();
    const started = performance.now();
    try {
      results.push(t.checkSteps());
    } catch (e) {
      // tfjs-wasm 4.x registers no Conv2DBackpropFilter kernel.
      failed.set(t.impl, reason(e));
      results.push(null);
    }
    seconds.push((performance.now() - started) / 1000 / CHECK_STEPS);
  }
  const reference = results[0];
  if (!reference) throw new Error(`${CONV_TRAIN_BENCH}: ${trainers[0].impl} failed: ${failed.get(trainers[0].impl)}`);
  let worst = 0;
  const parts = trainers.slice(1).flatMap((t, i) => {
    const r = results[i + 1];
    if (!r) return [`${t.impl} n/a (a step failed)`];
    let d = Math.abs(r.loss - reference.loss) / Math.abs(reference.loss);
    let where = "loss";
    for (const [name, value] of reference.variables) {
      const other = r.variables.get(name);
      const dv = other ? relativeDifference(other, value) : Infinity;
      if (dv > d) [d, where] = [dv, name];
    }
    worst = Math.max(worst, d);
    return [`${t.impl} ${d.toExponential(1)} (largest at ${where})`];
  });
  const ok = worst < TOLERANCE;
  const line =
    `sanity ${ok ? "ok" : "FAILED"}: ${CONV_TRAIN_BENCH}: loss ${reference.loss.toFixed(5)} and all ${reference.variables.size} variables after ` +
    `${CHECK_STEPS} step(s) from the same initial values, largest relative difference to ${trainers[0].impl}: ${parts.join(", ")}`;
  if (!ok) throw new Error(line);
  return { line, failed, seconds };
}

export interface ConvTrainSetup {
  cases: Case[];
  missing: Measurement[];
  sanity: string;
}

export async function convTrainingCases(log: (line: string) => void = () => {}): Promise<ConvTrainSetup> {
  const batch: Batch = { x: uniform(SHAPE.reduce((a, b) => a * b), 17, 0, 1), y: Int32Array.from({ length: SHAPE[0] }, (_, i) => (i * 7) % CLASSES) };
  const model = buildModel();
  const sess = new tf.Session({ graph: model.graph, backend: "interpreter" });
  sess.runSync(model.init);
  const initial = sess.variableValues;
  const trainers: Trainer[] = [];
  const missing: Measurement[] = [];
  for (const backend of ["js", "wasm"] as const) {
    const started = Date.now();
    const t = await foldflowTrainer(backend, initial, batch);
    if (typeof t === "string") missing.push(unavailable(CONV_TRAIN_BENCH, `foldflow ${backend}`, t));
    else trainers.push(t);
    log(`  foldflow ${backend}: opened and first step in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  }
  for (const backend of ["cpu", "wasm"] as const) {
    await useTfjs(backend);
    trainers.push(tfjsTrainer(backend, initial, batch));
  }
  const started = Date.now();
  const { line, failed, seconds } = await sanity(trainers);
  log(`  (sanity steps: ${((Date.now() - started) / 1000).toFixed(1)} s)`);
  const cases: Case[] = [];
  trainers.forEach((t, i) => {
    const peer = t.impl === "tfjs-cpu" || t.impl === "tfjs-wasm" ? t.impl : undefined;
    if (failed.has(t.impl)) missing.push(unavailable(CONV_TRAIN_BENCH, t.impl, `a step failed: ${failed.get(t.impl)}`, peer));
    else if (t.impl === "tfjs-cpu")
      // Minutes per step: its one sanity step (from the initial values, timed) is its figure.
      missing.push({ ...single(CONV_TRAIN_BENCH, t.impl, [seconds[i] * 1000], "one step (the sanity step), not repeated: minutes per step"), peer, flops: CONV_TRAIN_FLOPS });
    else
      cases.push({
        bench: CONV_TRAIN_BENCH, impl: t.impl, peer, fn: t.step, before: t.before, flops: CONV_TRAIN_FLOPS,
        note: t.impl === "foldflow wasm" ? "3×3 convs (not the first) by Winograd F(2×2, 3×3), variable filters transformed each step" : undefined,
      });
  });
  return { cases, missing, sanity: line };
}
