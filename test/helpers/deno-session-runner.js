// Under Deno (navigator.gpu on llvmpipe): foldflow's Sessions with { backend: "webgpu" } against
// the interpreter, on the same graphs, variables and feeds. Run by test/runtime/webgpu-session.test.ts:
//   deno run --unstable-sloppy-imports --no-lock --allow-read=ROOT,DIR --allow-write=DIR --allow-env deno-session-runner.js DIR
// (from the repository root, so that Deno resolves "foldflow" and the npm packages through package.json).
// Writes DIR/results.json: { adapter, scenarios: [{ label, error?, fallbacks: (string|null)[],
//   got: { name: value }, want: { name: value } }] } with value = { dtype, shape, base64 }.
import * as tf from "foldflow";
import { buildModel } from "../../examples/mnist-batchnorm.ts";
import { specialize } from "../../passes/specialize.ts";

const dir = Deno.args[0];

function base64(data) {
  const view = data instanceof Float64Array ? Float32Array.from(data) : data;
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  let text = "";
  for (let i = 0; i < bytes.length; i += 0x8000) text += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(text);
}
const enc = (a) => ({ dtype: a.dtype, shape: a.shape, base64: base64(a.data) });
const scalars = (values) => enc(tf.ndarray(Float32Array.from(values), [values.length]));

function seeded(n, seed, lo = -1, hi = 1) {
  let s = seed >>> 0;
  return Float32Array.from({ length: n }, () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return lo + ((s >>> 8) / (1 << 24)) * (hi - lo);
  });
}
function oneHot(n, classes, seed) {
  const out = new Float32Array(n * classes);
  seeded(n, seed, 0, classes).forEach((v, r) => (out[r * classes + Math.min(classes - 1, Math.floor(v))] = 1));
  return tf.ndarray(out, [n, classes]);
}

/** Two sessions on `graph` from the same variables: the device one and the interpreter. */
async function pair(graph, init) {
  const gpu = new tf.Session({ graph, backend: "webgpu" });
  const ref = new tf.Session({ graph, backend: "interpreter" });
  if (init) await gpu.run(init);
  for (const [k, v] of gpu.variableValues) ref.setVariableValue(k, v);
  return { gpu, ref };
}

/** `steps` runs of [loss, train] on both; the losses, the final variables, and why runs fell back. */
async function train(label, graph, init, loss, trainOp, feeds, steps, between) {
  const { gpu, ref } = await pair(graph, init);
  const got = [], want = [], fallbacks = [];
  for (let s = 0; s < steps; s++) {
    if (between) between(s, gpu, ref);
    const [l] = await gpu.run([loss, trainOp], feeds);
    fallbacks.push(gpu.gpu.lastFallback);
    got.push(l.data[0]);
    want.push(ref.runSync([loss, trainOp], feeds)[0].data[0]);
  }
  const out = { label, fallbacks, got: { losses: scalars(got) }, want: { losses: scalars(want) } };
  for (const [k, v] of ref.variableValues) {
    out.want[k] = enc(v);
    out.got[k] = enc(gpu.variableValues.get(k));
  }
  return out;
}

function denseNet(optimizer) {
  const g = new tf.Graph();
  const r = g.asDefault(() => {
    const x = tf.placeholder("float32", [8, 5], "x");
    const y = tf.placeholder("float32", [8, 3], "y");
    const h = tf.layers.dense(x, 6, { activation: tf.nn.tanh, kernelInitializer: tf.initializers.glorotUniform({ seed: 4 }), name: "h" });
    const logits = tf.layers.dense(h, 3, { kernelInitializer: tf.initializers.glorotUniform({ seed: 5 }), name: "out" });
    const loss = tf.reduceMean(tf.nn.softmaxCrossEntropyWithLogitsV2({ labels: y, logits }));
    return { loss, train: optimizer().minimize(loss), init: tf.globalVariablesInitializer() };
  });
  return { g, ...r, feeds: { x: tf.ndarray(seeded(40, 1), [8, 5]), y: oneHot(8, 3, 2) } };
}

function convNet() {
  const g = new tf.Graph();
  const r = g.asDefault(() => {
    const x = tf.placeholder("float32", [2, 6, 6, 2], "x");
    const labels = tf.placeholder("int32", [2], "labels");
    const w = tf.getVariable("w", [3, 3, 2, 4], { initializer: tf.initializers.glorotUniform({ seed: 7 }) });
    const gamma = tf.getVariable("gamma", [4], { initializer: tf.initializers.ones() });
    const beta = tf.getVariable("beta", [4], { initializer: tf.initializers.zeros() });
    let h = tf.nn.conv2d(x, w, 1, "SAME");
    [h] = tf.nn.fusedBatchNorm(h, gamma, beta, { isTraining: true });
    h = tf.nn.maxPool(tf.nn.relu(h), 2, 2, "VALID");
    const logits = tf.layers.dense(tf.layers.flatten(h), 3, { kernelInitializer: tf.initializers.glorotUniform({ seed: 8 }) });
    const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels, logits }));
    return { loss, train: new tf.train.AdamOptimizer(0.01).minimize(loss), init: tf.globalVariablesInitializer() };
  });
  return { g, ...r, feeds: { x: tf.ndarray(seeded(144, 3), [2, 6, 6, 2]), labels: tf.ndarray(Int32Array.from([0, 2]), [2], "int32") } };
}

const adapter = await navigator.gpu.requestAdapter();
const scenarios = [];
async function scenario(label, fn) {
  try {
    scenarios.push(await fn(label));
  } catch (e) {
    scenarios.push({ label, error: String(e?.stack ?? e), fallbacks: [], got: {}, want: {} });
  }
}

if (adapter) {
  await scenario("dense net, momentum, 3 steps", (label) => {
    const n = denseNet(() => new tf.train.MomentumOptimizer(0.1, 0.9, { useNesterov: true }));
    return train(label, n.g, n.init, n.loss, n.train, n.feeds, 3);
  });
  await scenario("dense net, variables set between steps (restore, interpreter runSync)", (label) => {
    const n = denseNet(() => new tf.train.GradientDescentOptimizer(0.5));
    return train(label, n.g, n.init, n.loss, n.train, n.feeds, 4, (s, gpu, ref) => {
      if (s === 1) {
        // A restore: the next device run must upload the new value.
        const v = tf.ndarray(seeded(3, 9), [3]);
        gpu.setVariableValue("out/bias", v);
        ref.setVariableValue("out/bias", v);
      }
      if (s === 2) {
        // runSync on the webgpu session runs the interpreter on the same variables.
        gpu.runSync(n.train, n.feeds);
        ref.runSync(n.train, n.feeds);
      }
    });
  });
  await scenario("conv net, fused batch norm, Adam, 2 steps", (label) => {
    const n = convNet();
    return train(label, n.g, n.init, n.loss, n.train, n.feeds, 2);
  });
  await scenario("MNIST example specialized for training, 3 steps", (label) => {
    const model = buildModel({ seed: 3 });
    const graph = specialize(model.graph, { training: true }).graph;
    const init = new tf.Session({ graph: model.graph, backend: "interpreter" });
    init.runSync(model.init);
    return (async () => {
      const feeds = { "x:0": tf.ndarray(seeded(16 * 784, 5, 0, 1), [16, 784]), "y:0": oneHot(16, 10, 6) };
      const { gpu, ref } = await pair(graph, null);
      for (const [k, v] of init.variableValues) {
        gpu.setVariableValue(k, v);
        ref.setVariableValue(k, v);
      }
      const got = [], want = [], fallbacks = [];
      for (let s = 0; s < 3; s++) {
        got.push((await gpu.run([model.loss.name, model.trainOp.name], feeds))[0].data[0]);
        fallbacks.push(gpu.gpu.lastFallback);
        want.push(ref.runSync([model.loss.name, model.trainOp.name], feeds)[0].data[0]);
      }
      const out = { label, fallbacks, got: { losses: scalars(got) }, want: { losses: scalars(want) } };
      for (const [k, v] of ref.variableValues) {
        out.want[k] = enc(v);
        out.got[k] = enc(gpu.variableValues.get(k));
      }
      const logits = await gpu.run(model.logits.name, feeds);
      out.got.logits = enc(logits);
      out.want.logits = enc(ref.runSync(model.logits.name, feeds));
      return out;
    })();
  });
  await scenario("tf.compile target wgsl: program.run on navigator.gpu, 2 training steps, readVariables", async (label) => {
    const n = denseNet(() => new tf.train.AdamOptimizer(0.05));
    const { gpu, ref } = await pair(n.g, n.init);
    const program = tf.compile(n.g, { outputs: [n.loss.name, n.train.name], target: "wgsl", variables: gpu });
    const got = [], want = [];
    for (let s = 0; s < 2; s++) {
      got.push((await program.run(n.feeds))[n.loss.name].data[0]);
      want.push(ref.runSync([n.loss, n.train], n.feeds)[0].data[0]);
    }
    const out = { label, fallbacks: [], got: { losses: scalars(got) }, want: { losses: scalars(want) } };
    const vars = await program.readVariables();
    for (const [k, v] of ref.variableValues) {
      out.want[k] = enc(v);
      out.got[k] = enc(vars[k]);
    }
    program.dispose();
    return out;
  });
  await scenario("MNIST example with its phase placeholder (tf.cond: interpreter fallback)", async (label) => {
    const model = buildModel({ seed: 3 });
    const feeds = new Map([[model.x, tf.ndarray(seeded(8 * 784, 7, 0, 1), [8, 784])], [model.y, oneHot(8, 10, 8)], [model.phase, true]]);
    return train(label, model.graph, model.init, model.loss, model.trainOp, feeds, 1);
  });
}
await Deno.writeTextFile(dir + "/results.json", JSON.stringify({ adapter: adapter ? adapter.info?.description || "unknown adapter" : null, scenarios }));
