/**
 * SyncBatchNormalization: over N replicas in training it equals plain (non-fused, as TF's
 * SyncBatchNormalization is) BatchNormalization over the whole batch — outputs, gradients of
 * x, gamma and beta, and the moving statistics after one update — with exactly one AllReduce
 * op per layer; in inference and outside a strategy it is plain BN.
 */
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import * as distribute from "../../src/distribute";
import * as keras from "../../src/keras";
import { checkGradients } from "../helpers/gradcheck";
import { expectClose, randomData } from "../helpers/run";

const { SyncBatchNormalization } = keras.layers.experimental;
const { BatchNormalization } = keras.layers;
type BN = InstanceType<typeof BatchNormalization>;

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

interface Case {
  shape: number[];
  axis: number | number[];
  replicas: number;
}

/** Parameter values per feature channel (non-trivial, so gamma and beta gradients differ). */
function layerOptions(shape: number[], axis: number | number[]) {
  const a = (typeof axis === "number" ? [axis] : axis).map((d) => (d < 0 ? d + shape.length : d));
  const size = a.length === 1 ? shape[a[0]] : sizeOf(shape.map((d, i) => (a.includes(i) ? d : 1)));
  const values = (seed: number, lo: number, hi: number) => Array.from(randomData(size, seed, lo, hi));
  return {
    axis,
    momentum: 0.9,
    epsilon: 1e-3,
    gammaInitializer: tf.initializers.constant(values(3, 0.5, 2)),
    betaInitializer: tf.initializers.constant(values(4, -1, 1)),
    movingMeanInitializer: tf.initializers.constant(values(5, -0.5, 0.5)),
    movingVarianceInitializer: tf.initializers.constant(values(6, 0.5, 1.5)),
  };
}

interface Built {
  g: tf.Graph;
  y: tf.Tensor;
  grads: tf.Tensor[];
  layer: BN;
  layers: BN[];
  updates: tf.Operation[];
}

/** y (the whole batch's output, replicas concatenated), a weighted loss and its gradients. */
function finish(g: tf.Graph, y: tf.Tensor, x: tf.Tensor, layer: BN, layers: BN[], updates: tf.Operation[]): Built {
  const w = tf.constant(randomData(sizeOf(y.shape as number[]), 21, -1, 1), y.shape as number[], "float32", "loss_weights");
  const loss = tf.reduceSum(tf.mul(y, w));
  const grads = tf.gradients(loss, [x, layer.gamma!, layer.beta!]) as tf.Tensor[];
  return { g, y, grads, layer, layers, updates };
}

function buildSync(c: Case, training: boolean | "placeholder" = true): Built {
  const g = new tf.Graph();
  return g.asDefault(() => {
    const x = tf.placeholder("float32", c.shape, "x");
    const phase = training === "placeholder" ? tf.placeholderWithDefault(true, [], "phase") : training;
    const strategy = new distribute.MirroredStrategy({ numReplicas: c.replicas });
    const layers: BN[] = [];
    const out = strategy.run((xs) => {
      const layer = new SyncBatchNormalization(layerOptions(c.shape, c.axis));
      layers.push(layer);
      return layer.apply(xs, { training: phase });
    }, [x]);
    const y = c.replicas === 1 ? out.values[0] : tf.concat([...out.values], 0);
    // Every replica's layer's updates: running them all must apply each update once.
    return finish(g, y, x, layers[0], layers, [...new Set(layers.flatMap((l) => l.updates))]);
  });
}

function buildPlain(c: Case, training: boolean | "placeholder" = true): Built {
  const g = new tf.Graph();
  return g.asDefault(() => {
    const x = tf.placeholder("float32", c.shape, "x");
    const phase = training === "placeholder" ? tf.placeholderWithDefault(true, [], "phase") : training;
    const layer = new BatchNormalization({ ...layerOptions(c.shape, c.axis), fused: false });
    const y = layer.apply(x, { training: phase });
    return finish(g, y, x, layer, [layer], layer.updates);
  });
}

/** Runs y and the gradients, then the updates once; returns them with the moving statistics. */
function evaluate(b: Built, xData: Float32Array, shape: number[], feeds: Record<string, tf.FeedValue> = {}) {
  const sess = new tf.Session({ graph: b.g });
  sess.runSync(b.g.asDefault(() => tf.globalVariablesInitializer()));
  const feed = { x: tf.ndarray(xData, shape), ...feeds };
  const [y, ...grads] = sess.runSync([b.y, ...b.grads], feed) as tf.NDArray[];
  sess.runSync(b.updates, feed);
  const [movingMean, movingVariance] = sess.runSync([b.layer.movingMean!, b.layer.movingVariance!]) as tf.NDArray[];
  return { y, grads, movingMean, movingVariance };
}

const cases: Case[] = [
  { shape: [8, 3], axis: -1, replicas: 4 },
  { shape: [8, 3], axis: -1, replicas: 2 },
  { shape: [8, 3], axis: -1, replicas: 1 },
  { shape: [8, 2, 2, 3], axis: -1, replicas: 4 },
  { shape: [8, 3, 2, 2], axis: 1, replicas: 4 },
  { shape: [4, 2, 3], axis: [1, 2], replicas: 4 },
];

describe("SyncBatchNormalization over N replicas equals BatchNormalization over the whole batch", () => {
  for (const c of cases)
    it(`shape [${c.shape}], axis ${JSON.stringify(c.axis)}, ${c.replicas} replica(s)`, () => {
      const xData = Float32Array.from(randomData(sizeOf(c.shape), 17, -2, 3), (v, i) => v + (i % 3));
      const sync = evaluate(buildSync(c), xData, c.shape);
      const plain = evaluate(buildPlain(c), xData, c.shape);
      expect(sync.y.shape).toEqual(c.shape);
      expectClose(sync.y.data, plain.y.data, 1e-4, 1e-4);
      sync.grads.forEach((g, i) => {
        expect(g.shape).toEqual(plain.grads[i].shape);
        expectClose(g.data, plain.grads[i].data, 1e-3, 1e-4);
      });
      expectClose(sync.movingMean.data, plain.movingMean.data, 1e-5, 1e-5);
      expectClose(sync.movingVariance.data, plain.movingVariance.data, 1e-4, 1e-5);
    });

  it("with a batch size known only at run time (the count is all-reduced too)", () => {
    const g = new tf.Graph();
    const y = g.asDefault(() => {
      const x = tf.placeholder("float32", [null, 3], "x");
      const out = new distribute.MirroredStrategy({ numReplicas: 4 }).run((xs) => new SyncBatchNormalization(layerOptions([8, 3], -1)).apply(xs, { training: true }), [x]);
      expect(g.operations.filter((op) => op.type === "AllReduce").length).toBe(1);
      return tf.concat([...out.values], 0);
    });
    const xData = Float32Array.from(randomData(24, 81, -2, 2), (v, i) => v * (1 + (i % 3)));
    const sess = new tf.Session({ graph: g });
    sess.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    const got = sess.runSync(y, { x: tf.ndarray(xData, [8, 3]) }) as tf.NDArray;
    const plain = evaluate(buildPlain({ shape: [8, 3], axis: -1, replicas: 1 }), xData, [8, 3]);
    expectClose(got.data, plain.y.data, 1e-4, 1e-4);
  });

  it("normalizes with the statistics of the whole batch (plain-loop reference)", () => {
    const c: Case = { shape: [8, 2], axis: -1, replicas: 4 };
    // Shards with very different means: per-replica statistics would differ from these.
    const xData = Float32Array.from({ length: 16 }, (_, i) => (i < 8 ? 10 : -3) + ((i * 7) % 5) * 0.5 + (i % 2));
    const sync = evaluate(buildSync(c), xData, c.shape);
    const opts = { gamma: Array.from(randomData(2, 3, 0.5, 2)), beta: Array.from(randomData(2, 4, -1, 1)) };
    for (let ch = 0; ch < 2; ch++) {
      const values = Array.from(xData).filter((_, i) => i % 2 === ch);
      const mean = values.reduce((a, b) => a + b, 0) / values.length;
      const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
      const expected = values.map((v) => ((v - mean) / Math.sqrt(variance + 1e-3)) * opts.gamma[ch] + opts.beta[ch]);
      expectClose(Array.from(sync.y.data).filter((_, i) => i % 2 === ch), expected, 1e-4, 1e-4);
    }
  });

  it("matches finite differences through the AllReduce", () => {
    checkGradients(() => {
      const x = tf.placeholder("float32", [4, 2], "x");
      const strategy = new distribute.MirroredStrategy({ numReplicas: 2 });
      const out = strategy.run((xs) => new SyncBatchNormalization(layerOptions([4, 2], -1)).apply(xs, { training: true }), [x]);
      return { y: tf.concat([...out.values], 0), xs: [x] };
    }, { x: Array.from(randomData(8, 31, -2, 2)) }, { rtol: 1e-3, atol: 1e-5 });
  });
});

describe("the graph SyncBatchNormalization builds", () => {
  const forwardAllReduces = (g: tf.Graph) => g.operations.filter((op) => op.type === "AllReduce" && !op.name.startsWith("gradients"));

  it("one AllReduce op per layer takes every replica's sum, squared sum and count", () => {
    const b = buildSync({ shape: [8, 3], axis: -1, replicas: 4 });
    const ops = forwardAllReduces(b.g);
    expect(ops.length).toBe(1);
    expect(ops[0].inputs.length).toBe(4);
    expect(ops[0].inputs.map((t) => t.shape)).toEqual([[7], [7], [7], [7]]); // 3 sums, 3 squared sums, 1 count
    expect(ops[0].name).toBe("sync_batch_normalization/moments/all_reduce/AllReduce");
    // The gradient flows back through one AllReduce of the output gradients.
    expect(b.g.operations.filter((op) => op.type === "AllReduce").length).toBe(2);
  });

  it("the replicas' layers share the variables and one update per moving statistic", () => {
    const b = buildSync({ shape: [8, 3], axis: -1, replicas: 4 });
    expect(b.layers.length).toBe(4);
    for (const l of b.layers) {
      expect(l.variables).toEqual(b.layer.variables);
      expect(l.updates).toEqual(b.layer.updates);
    }
    expect(b.g.operations.filter((op) => op.type === "VariableV2").map((op) => op.name).sort()).toEqual(
      ["beta", "gamma", "moving_mean", "moving_variance"].map((v) => `sync_batch_normalization/${v}`),
    );
    expect(b.g.operations.filter((op) => op.type === "AssignSub").length).toBe(2);
    expect(tf.getCollection(tf.GraphKeys.UPDATE_OPS).length).toBe(0);
  });

  it("two layers in chained runs give two AllReduce ops, and still equal BN of the whole batch", () => {
    const shape = [8, 3];
    const xData = Float32Array.from(randomData(24, 41, -2, 2));
    const g = new tf.Graph();
    const { y, plainY } = g.asDefault(() => {
      const x = tf.placeholder("float32", shape, "x");
      const strategy = new distribute.MirroredStrategy({ numReplicas: 4 });
      const first = strategy.run((xs) => tf.nn.relu(new SyncBatchNormalization(layerOptions(shape, -1)).apply(xs, { training: true })), [x]);
      const second = strategy.run((hs) => new SyncBatchNormalization(layerOptions(shape, -1)).apply(hs, { training: true }), [first]);
      const a = new BatchNormalization({ ...layerOptions(shape, -1), fused: false, name: "plain" });
      const b = new BatchNormalization({ ...layerOptions(shape, -1), fused: false, name: "plain" });
      return { y: tf.concat([...second.values], 0), plainY: b.apply(tf.nn.relu(a.apply(x, { training: true })), { training: true }) };
    });
    expect(g.operations.filter((op) => op.type === "AllReduce").length).toBe(2);
    const sess = new tf.Session({ graph: g });
    sess.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
    const [ys, yp] = sess.runSync([y, plainY], { x: tf.ndarray(xData, shape) }) as tf.NDArray[];
    expectClose(ys.data, yp.data, 1e-4, 1e-4);
  });

  it("Dense → SyncBN → Dense inside fn: weights made before and after the all-reduce are shared; equals the whole batch", () => {
    const shape = [8, 4];
    const xData = Float32Array.from(randomData(32, 71, -2, 2));
    const model = (x: tf.Tensor, bn: BN) => {
      const h = new tf.layers.Dense(3, { kernelInitializer: tf.initializers.glorotUniform({ seed: 1 }), biasInitializer: tf.initializers.constant(0.2) }).apply(x);
      const n = bn.apply(h, { training: true });
      return new tf.layers.Dense(2, { kernelInitializer: tf.initializers.glorotUniform({ seed: 2 }) }).apply(tf.nn.relu(n));
    };
    const build = (distributed: boolean) => {
      const g = new tf.Graph();
      const { y, grads } = g.asDefault(() => {
        const x = tf.placeholder("float32", shape, "x");
        const y = distributed
          ? tf.concat([...new distribute.MirroredStrategy({ numReplicas: 4 }).run((xs) => model(xs, new SyncBatchNormalization(layerOptions([8, 3], -1))), [x]).values], 0)
          : model(x, new BatchNormalization({ ...layerOptions([8, 3], -1), fused: false, name: "sync_batch_normalization" }));
        const loss = tf.reduceSum(tf.square(y));
        return { y, grads: tf.gradients(loss, tf.trainableVariables(g)) as tf.Tensor[] };
      });
      const names = tf.trainableVariables(g).map((v) => v.op.name);
      const sess = new tf.Session({ graph: g });
      sess.runSync(g.asDefault(() => tf.globalVariablesInitializer()));
      const values = sess.runSync([y, ...grads], { x: tf.ndarray(xData, shape) }) as tf.NDArray[];
      return { names, values };
    };
    const sync = build(true);
    const plain = build(false);
    expect(sync.names).toEqual(["dense/kernel", "dense/bias", "sync_batch_normalization/gamma", "sync_batch_normalization/beta", "dense_1/kernel", "dense_1/bias"]);
    expect(sync.names).toEqual(plain.names);
    sync.values.forEach((v, i) => expectClose(v.data, plain.values[i].data, 1e-3, 1e-4));
  });

  it("with a training placeholder: true trains on the global batch, false is inference and updates nothing", () => {
    const c: Case = { shape: [8, 3], axis: -1, replicas: 4 };
    const xData = Float32Array.from(randomData(24, 51, -2, 2));
    const syncTrain = evaluate(buildSync(c, "placeholder"), xData, c.shape, { phase: true });
    const plainTrain = evaluate(buildPlain(c, "placeholder"), xData, c.shape, { phase: true });
    expectClose(syncTrain.y.data, plainTrain.y.data, 1e-4, 1e-4);
    expectClose(syncTrain.movingVariance.data, plainTrain.movingVariance.data, 1e-4, 1e-5);
    const syncInfer = evaluate(buildSync(c, "placeholder"), xData, c.shape, { phase: false });
    const plainInfer = evaluate(buildPlain(c, "placeholder"), xData, c.shape, { phase: false });
    expectClose(syncInfer.y.data, plainInfer.y.data, 1e-5, 1e-5);
    const initial = layerOptions(c.shape, -1);
    const g = new tf.Graph();
    const [mm, mv] = g.asDefault(() => [initial.movingMeanInitializer([3], "float32"), initial.movingVarianceInitializer([3], "float32")]);
    const [mm0, mv0] = new tf.Session({ graph: g }).runSync([mm, mv]) as tf.NDArray[];
    expectClose(syncInfer.movingMean.data, mm0.data);
    expectClose(syncInfer.movingVariance.data, mv0.data);
  });

  it("in inference it is plain BN: moving statistics, no AllReduce", () => {
    const c: Case = { shape: [8, 3], axis: -1, replicas: 4 };
    const xData = Float32Array.from(randomData(24, 61, -2, 2));
    const sync = buildSync(c, false);
    expect(forwardAllReduces(sync.g).length).toBe(0);
    expect(sync.updates.length).toBe(0);
    const a = evaluate(sync, xData, c.shape);
    const b = evaluate(buildPlain(c, false), xData, c.shape);
    expectClose(a.y.data, b.y.data, 1e-6, 1e-6);
  });

  it("outside a strategy it is plain (non-fused) BN, op for op", () => {
    const shape = [4, 2, 2, 3];
    const build = (make: () => BN) => {
      const g = new tf.Graph();
      const y = g.asDefault(() => make().apply(tf.placeholder("float32", shape, "x"), { training: true }));
      return { g, y };
    };
    const sync = build(() => new SyncBatchNormalization({ name: "bn" }));
    const plain = build(() => new BatchNormalization({ name: "bn", fused: false }));
    expect(sync.g.operations.map((op) => `${op.name}:${op.type}`)).toEqual(plain.g.operations.map((op) => `${op.name}:${op.type}`));
    expect(sync.g.operations.some((op) => op.type === "FusedBatchNormV3")).toBe(false);
  });

  it("rejects options it cannot synchronize when training in a replica", () => {
    const g = new tf.Graph();
    const strategy = new distribute.MirroredStrategy({ numReplicas: 2 });
    expect(() =>
      g.asDefault(() => strategy.run((xs) => new SyncBatchNormalization({ renorm: true }).apply(xs, { training: true }), [tf.placeholder("float32", [4, 3])])),
    ).toThrow(tf.errors.UnimplementedError);
  });
});
