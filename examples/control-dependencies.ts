/**
 * A TF1-style graph with an update op under controlDependencies: the moving average is updated
 * only by the run that fetches the train step, never by an evaluation run.
 */
import * as tf from "foldflow";

const x = tf.placeholder("float32", [null, 3], "x");
const w = tf.getVariable("w", [3, 1], { initializer: tf.initializers.constant([1, 2, 3]) });
const movingMean = tf.getVariable("moving_mean", [3], { initializer: tf.initializers.zeros(), trainable: false });
const y = tf.matmul(x, w, { name: "y" });
const batchMean = tf.reduceMean(x, [0], false, "batch_mean");
const update = tf.assignSub(movingMean, tf.mul(tf.sub(movingMean, batchMean), 0.1), { name: "update_moving_mean" });
tf.addToCollection(tf.GraphKeys.UPDATE_OPS, update);
const step = tf.controlDependencies(tf.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS), () => tf.identity(y, "train_step"));

const sess = new tf.Session();
await sess.run(tf.globalVariablesInitializer());
const batch = [[1, 2, 3], [3, 4, 5]];
const meta: tf.RunMetadata = { executedOps: [] };

await sess.run(y, { x: batch }, { runMetadata: meta });
console.log(`evaluation ran:  ${meta.executedOps.join(", ")}`);
console.log(`moving_mean:     ${(await sess.run(movingMean)).values().join(", ")}`);

const out = await sess.run(step, { x: batch }, { runMetadata: meta });
console.log(`train step ran:  ${meta.executedOps.join(", ")}`);
console.log(`y:               ${out.values().join(", ")}`);
console.log(`moving_mean:     ${(await sess.run(movingMean)).values().map((v) => v.toFixed(2)).join(", ")}`);
