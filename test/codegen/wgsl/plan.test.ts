/**
 * Dispatch plans of whole graphs: the MNIST batch-norm example (a training step and inference,
 * specialized for the phase) and small conv nets (fused batch norm, pooling, training), planned
 * to WGSL, validated with Dawn, and executed under Deno against the interpreter.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as tf from "foldflow";
import type { Graph, Operation, Tensor } from "../../../ir/graph";
import { NDArray } from "../../../ir/ndarray";
import { planDispatches, type DispatchPlan } from "../../../codegen/wgsl/plan";
import { specialize } from "../../../passes/specialize";
import { buildModel } from "../../../examples/mnist-batchnorm";
import { requireGpuRuntime, runGpuJobs, type GpuJob, type GpuShader } from "../../helpers/deno-gpu";
import { closeValidator, validateWgsl } from "../../helpers/wgsl-validate";
import { cloneArray, planInput, planJob, planResults } from "../../helpers/wgsl-plan";
import { random, randomInts } from "../../helpers/wgsl-cases";
import { expectClose } from "../../helpers/run";

interface Scenario {
  label: string;
  graph: Graph;
  /** Fetches by name in `graph` (tensors) and ops to run. */
  fetches: string[];
  targets: string[];
  feeds: Record<string, NDArray>;
  variables: Map<string, NDArray>;
  /** Interpreter results: fetch values, variables after `runs` runs. */
  expected: { fetches: NDArray[]; variables: Map<string, NDArray> };
  runs: number;
  plan: DispatchPlan;
  rtol: number;
}

/** Runs `runs` steps on the interpreter from the given variable values. */
function reference(graph: Graph, fetches: string[], targets: string[], feeds: Record<string, NDArray>, variables: Map<string, NDArray>, runs: number) {
  const sess = new tf.Session({ graph });
  for (const [name, v] of variables) sess.setVariableValue(name, cloneArray(v));
  let values: NDArray[] = [];
  for (let r = 0; r < runs; r++) values = (sess.runSync([...fetches, ...targets], feeds) as (NDArray | null)[]).slice(0, fetches.length) as NDArray[];
  return { fetches: values, variables: new Map([...sess.variableValues].map(([k, v]) => [k, cloneArray(v)])) };
}

function scenario(label: string, graph: Graph, fetches: string[], targets: string[], feeds: Record<string, NDArray>, variables: Map<string, NDArray>, runs = 1, rtol = 1e-4): Scenario {
  const expected = reference(graph, fetches, targets, feeds, variables, runs);
  const fed = new Map<Tensor, NDArray>(Object.entries(feeds).map(([name, v]) => [graph.getTensorByName(name), v]));
  const items: (Tensor | Operation)[] = [...fetches.map((n) => graph.getTensorByName(n)), ...targets.map((n) => graph.getOperationByName(n))];
  const plan = planDispatches(planInput(items, fed, variables));
  return { label, graph, fetches, targets, feeds, variables, expected, runs, plan, rtol };
}

/** Initial variable values of a graph (its initializers run on the interpreter). */
function initialVariables(graph: Graph, init: Operation): Map<string, NDArray> {
  const sess = new tf.Session({ graph });
  sess.runSync(init);
  return new Map([...sess.variableValues].map(([k, v]) => [k, cloneArray(v)]));
}

function oneHot(labels: NDArray, classes: number): NDArray {
  const out = new Float32Array(labels.size * classes);
  labels.data.forEach((c, r) => (out[r * classes + c] = 1));
  return new NDArray("float32", [labels.size, classes], out);
}

function mnistScenarios(): Scenario[] {
  const model = buildModel({ seed: 3 });
  const variables = initialVariables(model.graph, model.init);
  const batch = 32;
  const x = random([batch, 784], 1, 0, 1);
  const y = oneHot(randomInts([batch], 2, 0, 9), 10);
  const training = specialize(model.graph, { training: true }).graph;
  const inference = specialize(model.graph, { training: false }).graph;
  const feeds = { "x:0": x, "y:0": y };
  return [
    scenario("MNIST training step", training, [model.loss.name], [model.trainOp.name], feeds, variables),
    scenario("MNIST three training steps", training, [model.loss.name], [model.trainOp.name], feeds, variables, 3),
    scenario("MNIST inference", inference, [model.logits.name, model.accuracy.name, model.loss.name], [], feeds, variables),
  ];
}

/** conv → fused batch norm → relu → max pool → conv → relu → dense, trained with sparse cross entropy. */
function convScenarios(): Scenario[] {
  const out: Scenario[] = [];
  for (const format of ["NHWC", "NCHW"] as const) {
    const g = new tf.Graph();
    const built = g.asDefault(() => {
      const shape = format === "NHWC" ? [4, 12, 12, 2] : [4, 2, 12, 12];
      const x = tf.placeholder("float32", shape, "x");
      const labels = tf.placeholder("int32", [4], "labels");
      const w1 = tf.getVariable("w1", [3, 3, 2, 6], { initializer: tf.initializers.glorotUniform({ seed: 1 }) });
      const w2 = tf.getVariable("w2", [3, 3, 6, 4], { initializer: tf.initializers.glorotUniform({ seed: 2 }) });
      const gamma = tf.getVariable("gamma", [6], { initializer: tf.initializers.ones() });
      const beta = tf.getVariable("beta", [6], { initializer: tf.initializers.zeros() });
      let h = tf.nn.conv2d(x, w1, 1, "SAME", { dataFormat: format });
      [h] = tf.nn.fusedBatchNorm(h, gamma, beta, { isTraining: true, dataFormat: format });
      h = tf.nn.relu(h);
      h = tf.nn.maxPool(h, 2, 2, "VALID", { dataFormat: format });
      h = tf.nn.relu(tf.nn.conv2d(h, w2, 2, "SAME", { dataFormat: format }));
      const logits = tf.layers.dense(tf.layers.flatten(h), 5, { kernelInitializer: tf.initializers.glorotUniform({ seed: 3 }) });
      const loss = tf.reduceMean(tf.nn.sparseSoftmaxCrossEntropyWithLogits({ labels, logits }));
      const trainOp = new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
      return { x, labels, loss, logits, trainOp, init: tf.globalVariablesInitializer() };
    });
    const variables = initialVariables(g, built.init);
    const xShape = built.x.shape as number[];
    const feeds = { "x:0": random(xShape, 5, -1, 1), "labels:0": randomInts([4], 6, 0, 4) };
    out.push(scenario(`conv net ${format} training step`, g, [built.loss.name, built.logits.name], [built.trainOp.name], feeds, variables, 1, 2e-4));
  }
  return out;
}

/** An elementwise chain with broadcasts, a comparison, a cast and two fetched outputs: one fused dispatch. */
function fusedScenario(): Scenario {
  const g = new tf.Graph();
  const built = g.asDefault(() => {
    const x = tf.placeholder("float32", [6, 5], "x");
    const mean = tf.placeholder("float32", [5], "mean");
    const variance = tf.placeholder("float32", [5], "variance");
    const normalized = tf.mul(tf.sub(x, mean), tf.rsqrt(tf.add(variance, 1e-3)));
    const activated = tf.nn.relu(tf.add(normalized, 0.5));
    const positive = tf.cast(tf.greater(activated, 0.25), "float32");
    return { normalized, out: tf.add(tf.mul(positive, activated), tf.square(normalized)) };
  });
  const feeds = { "x:0": random([6, 5], 1, -2, 2), "mean:0": random([5], 2), "variance:0": random([5], 3, 0.5, 2) };
  return scenario("fused elementwise chain", g, [built.normalized.name, built.out.name], [], feeds, new Map());
}

afterAll(closeValidator);

describe("WGSL dispatch plans", () => {
  let scenarios: Scenario[] = [];
  beforeAll(() => {
    scenarios = [...mnistScenarios(), ...convScenarios(), fusedScenario()];
  }, 60_000);

  it("plans the MNIST training step with fused elementwise groups and shared buffers", () => {
    const plan = scenarios[0].plan;
    expect(plan.steps.length).toBeGreaterThan(10);
    expect(plan.shaders.some((s) => s.label.includes("+"))).toBe(true);
    const intermediate = plan.buffers.filter((b) => b.usage === "intermediate");
    const held = intermediate.reduce((n, b) => n + b.tensors.length, 0);
    expect(held).toBeGreaterThan(intermediate.length);
    expect(plan.variables.map((v) => v.name).sort()).toEqual([...scenarios[0].variables.keys()].sort());
  });

  it("fuses an elementwise chain into one dispatch with one output per fetched tensor", () => {
    const plan = scenarios[5].plan;
    expect(plan.steps.length).toBe(1);
    expect(plan.shaders[0].layout.filter((b) => b.type === "storage").length).toBe(2);
    expect(plan.shaders[0].label).toMatch(/^Sub\+.*Rsqrt.*Cast.*AddV2/);
  });

  it("validates every planned shader with Dawn", async () => {
    const problems: string[] = [];
    for (const s of scenarios)
      for (const shader of s.plan.shaders) {
        const errors = await validateWgsl(shader.code, { entryPoint: shader.entryPoint, layout: shader.layout });
        for (const e of errors) problems.push(`${s.label} / ${shader.label}: ${e}`);
      }
    expect(problems, problems.join("\n")).toEqual([]);
  });

  it("refuses control flow with a diagnostic naming the node", () => {
    const model = buildModel({ seed: 1 });
    const variables = initialVariables(model.graph, model.init);
    const fed = new Map<Tensor, NDArray>([[model.x, random([2, 784], 1)], [model.y, random([2, 10], 2)]]);
    expect(() => planDispatches(planInput([model.loss], fed, variables))).toThrow(/WGSL backend cannot compile (Switch|Merge).*control flow/);
  });

  const rt = requireGpuRuntime();
  describe.skipIf(rt.skip)("executed under Deno on llvmpipe", () => {
    let results: { fetches: NDArray[]; variables: Map<string, NDArray> }[] = [];
    let timings = "";
    beforeAll(() => {
      const shaders: GpuShader[] = [];
      const jobs: GpuJob[] = scenarios.map((s) =>
        planJob(s.label, s.plan, new Map(Object.entries(s.feeds).map(([k, v]) => [k, v])), s.variables, shaders, s.runs),
      );
      // Timing: ten MNIST training steps in one submission.
      jobs.push(planJob("MNIST 10 training steps (timing)", scenarios[0].plan, new Map(Object.entries(scenarios[0].feeds)), scenarios[0].variables, shaders, 10));
      const batch = runGpuJobs(shaders, jobs);
      const errors = batch.jobs.filter((j) => j.error).map((j) => `${j.label}: ${j.error}`);
      if (errors.length) throw new Error(errors.join("\n"));
      results = scenarios.map((s, k) => planResults(s.plan, batch.jobs[k].outputs));
      timings = batch.jobs.map((j) => `${j.label} ${Math.round(j.ms)} ms`).join(", ");
      console.info(`plans on ${batch.adapter}: ${Math.round(batch.wallMs)} ms in Deno (${timings})`);
    }, 180_000);

    it.each([0, 1, 2, 3, 4, 5].map((k) => [k] as const))("scenario %i matches the interpreter (fetches and variables)", (k) => {
      const s = scenarios[k];
      const got = results[k];
      s.expected.fetches.forEach((e, i) => {
        let scale = 1;
        for (const v of e.data) scale = Math.max(scale, Math.abs(v));
        expectClose(got.fetches[i].data, e.data, s.rtol, 1e-5 * scale);
      });
      for (const [name, e] of s.expected.variables) {
        const g = got.variables.get(name);
        expect(g, `${s.label}: variable ${name}`).toBeDefined();
        let scale = 1;
        for (const v of e.data) scale = Math.max(scale, Math.abs(v));
        expectClose(g!.data, e.data, s.rtol, 1e-5 * scale);
      }
    });
  });
});
