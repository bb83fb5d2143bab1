/**
 * The MirroredStrategy / SyncBatchNormalization example of API.md, verbatim, checked against
 * batch normalization over the whole batch computed with plain loops.
 */
import { describe, expect, it } from "vitest";
import * as foldflow from "foldflow";
import * as distribute from "../../src/distribute";
import * as keras from "../../src/keras";
import { expectClose, randomData } from "../helpers/run";

// `tf.distribute` and `tf.keras` as src/index.ts exports them (`export * as distribute`,
// `export * as keras`); spelled out here so the example runs before and after that export.
const tf = { ...foldflow, distribute, keras };

describe("API.md: MirroredStrategy with SyncBatchNormalization", () => {
  it("runs verbatim and normalizes with the statistics of the whole batch", () => {
    const g = new tf.Graph();
    const batch = 12;
    const features = 5;
    const data = Float32Array.from(randomData(batch * features, 77, -3, 3), (v, i) => v + (i < 30 ? 4 : 0));
    const y6 = g.asDefault(() => {
      const xBatch = tf.placeholder("float32", [batch, features], "xBatch");

      const strategy = new tf.distribute.MirroredStrategy({ numReplicas: 4 });
      const y6 = strategy.run((xs) => new tf.keras.layers.experimental.SyncBatchNormalization()
          .apply(xs, { training: true }), [xBatch]);   // statistics all-reduced across replicas

      return y6;
    });
    expect(y6.values.length).toBe(4);
    expect(g.operations.filter((op) => op.type === "AllReduce").length).toBe(1);
    const sess = new tf.Session({ graph: g });
    sess.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    const out = sess.runSync([...y6.values], { xBatch: tf.ndarray(data, [batch, features]) }) as foldflow.NDArray[];
    const y = out.flatMap((o) => Array.from(o.data));
    // Default layer: gamma 1, beta 0, epsilon 1e-3; per-feature statistics of all 12 rows.
    for (let f = 0; f < features; f++) {
      const column = Array.from({ length: batch }, (_, r) => data[r * features + f]);
      const mean = column.reduce((a, b) => a + b, 0) / batch;
      const variance = column.reduce((a, b) => a + (b - mean) ** 2, 0) / batch;
      const expected = column.map((v) => (v - mean) / Math.sqrt(variance + 1e-3));
      expectClose(column.map((_, r) => y[r * features + f]), expected, 1e-4, 1e-4);
    }
  });
});
