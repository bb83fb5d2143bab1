/**
 * (2) Inference of a 6-block conv net: (conv 3×3 SAME, no bias → batch norm (inference) → relu)
 * × 6, channels 3 → 16 → 16 → 32 → 32 → 64 → 64, a batch of 8 NHWC 32×32×3 images, with
 * trained-looking batch-norm parameters (gamma, beta, moving mean and variance drawn at random).
 * foldflow: the frozen graph (FusedBatchNormV3 nodes), and the graph after
 * tf.tools.foldBatchNorms (Conv2D → BiasAdd → Relu), on its session backends, plus tf.compile's
 * js program of the folded graph. Peers: tfjs conv2d + batchNorm + relu on tfjs-cpu and
 * tfjs-wasm, and onnxruntime-node on the folded graph exported with exportOnnx.
 * foldflow's wasm sessions and onnxruntime get one intra-op thread, as tfjs-wasm has; a second
 * section runs the folded net on both with two (where the machine has two cores).
 * Also the largest layer alone (64 → 64) as codegen/wasm kernels (bias + relu fused): the one the
 * session picks (planConvFilter: Winograd F(2×2, 3×3)) and the direct one, in GFLOP/s of the
 * direct convolution's multiply-adds (so that the rows compare).
 */
import os from "node:os";
import * as tf from "foldflow";
import { exportOnnx } from "../codegen/onnx/export";
import { packFilter, planConvFilter } from "../codegen/wasm/conv";
import { WasmProgramBuilder } from "../codegen/wasm/program";
import { nhwcGeometry } from "../codegen/wasm/window";
import { compile } from "../src/compile";
import { FOLDFLOW_BACKENDS, openSession, reason } from "./foldflow";
import { type Case, type Measurement, unavailable } from "./harness";
import { ort, ortSession, relativeDifference, tfc, uniform, useTfjs } from "./peers";

export const CONV_BENCH = "(2) conv net inference, batch 8, 32×32×3";
export const LAYER_BENCH = "(2) largest conv layer, 3×3 64→64, batch 8, 32×32";
export const THREADS_BENCH = "(2) conv net inference, folded, 2 intra-op threads";
/** Intra-op threads of the second section. */
const THREADS = 2;
const CHANNELS = [3, 16, 16, 32, 32, 64, 64];
const SHAPE = [8, 32, 32, 3];
const EPSILON = 1e-3;
/** Multiply-adds × 2 of the six convolutions (SAME, stride 1: every layer is 32×32). */
export const CONV_FLOPS = CHANNELS.slice(1).reduce((sum, cout, i) => sum + 2 * 8 * 32 * 32 * 9 * CHANNELS[i] * cout, 0);

interface Net {
  frozen: tf.GraphDef;
  folded: tf.GraphDef;
  variables: ReadonlyMap<string, tf.NDArray>;
  foldedCount: number;
}

function buildNet(): Net {
  const g = new tf.Graph();
  const { init } = g.asDefault(() => {
    let h: tf.Tensor = tf.placeholder("float32", SHAPE, "x");
    for (let i = 1; i < CHANNELS.length; i++) {
      const kernelInitializer = tf.initializers.glorotUniform({ seed: i });
      h = tf.layers.conv2d(h, CHANNELS[i], 3, { padding: "same", useBias: false, name: `conv${i}`, kernelInitializer });
      h = tf.layers.batchNormalization(h, { training: false, epsilon: EPSILON, name: `bn${i}` });
      h = tf.nn.relu(h, i === CHANNELS.length - 1 ? "out" : `relu${i}`);
    }
    return { init: tf.globalVariablesInitializer() };
  });
  const sess = new tf.Session({ graph: g, backend: "interpreter" });
  sess.runSync(init);
  const ranges: Record<string, [number, number]> = { gamma: [0.5, 1.5], beta: [-0.2, 0.2], moving_mean: [-0.2, 0.2], moving_variance: [0.5, 1.5] };
  let seed = 100;
  for (const [name, value] of [...sess.variableValues]) {
    const param = name.split("/")[1];
    if (ranges[param]) sess.setVariableValue(name, tf.ndarray(uniform(value.size, seed++, ...ranges[param]), value.shape));
  }
  const frozen = tf.graphUtil.convertVariablesToConstants(sess, g.asGraphDef(), ["out"]);
  const { graphDef: folded, report } = tf.tools.foldBatchNorms(frozen, { outputs: ["out"] });
  return { frozen, folded, variables: new Map(sess.variableValues), foldedCount: report.filter((r) => r.folded).length };
}

interface Runner {
  impl: string;
  /** The section (default CONV_BENCH). */
  bench?: string;
  peer?: Case["peer"];
  run(): Float32Array | Promise<Float32Array>;
  before?: () => Promise<void>;
  note?: string;
}

export interface ConvSetup {
  cases: Case[];
  missing: Measurement[];
  sanity: string[];
}

export async function convInferenceCases(): Promise<ConvSetup> {
  const net = buildNet();
  const x = uniform(SHAPE.reduce((a, b) => a * b), 7, 0, 1);
  const feed = tf.ndarray(x, SHAPE);
  const runners: Runner[] = [];
  const missing: Measurement[] = [];
  const graphs = { unfolded: tf.importGraphDef(net.frozen), folded: tf.importGraphDef(net.folded) };
  const open = async (impl: string, graph: tf.Graph, backend: (typeof FOLDFLOW_BACKENDS)[number], threads = 1, bench = CONV_BENCH): Promise<Runner | null> => {
    const sess = openSession(graph, backend, threads);
    if (typeof sess === "string") {
      missing.push(unavailable(bench, impl, sess));
      return null;
    }
    try {
      await sess.run("out:0", { x: feed }); // the first run awaited: the wasm backend loads its code generator then
      return { impl, bench, run: () => sess.runSync("out:0", { x: feed }).data as Float32Array };
    } catch (e) {
      missing.push(unavailable(bench, impl, `first run failed: ${reason(e)}`));
      return null;
    }
  };
  for (const backend of FOLDFLOW_BACKENDS.filter((b) => b !== "interpreter"))
    for (const [form, graph] of Object.entries(graphs)) {
      const r = await open(`foldflow ${backend}, ${form}`, graph, backend);
      if (r) runners.push(r);
    }
  const program = compile(graphs.folded, { outputs: ["out"], inputs: { x: SHAPE } });
  runners.push({ impl: "tf.compile js program, folded", run: () => program.runSync({ x: feed }).out.data as Float32Array });

  // tfjs: the unfolded model, its weights made on each backend.
  const v = (name: string) => net.variables.get(name)!;
  for (const backend of ["cpu", "wasm"] as const) {
    await useTfjs(backend);
    const layers = CHANNELS.slice(1).map((_, j) => {
      const i = j + 1;
      const t = (name: string) => tfc.tensor(Float32Array.from(v(name).data), v(name).shape);
      return { kernel: t(`conv${i}/kernel`) as tfc.Tensor4D, gamma: t(`bn${i}/gamma`), beta: t(`bn${i}/beta`), mean: t(`bn${i}/moving_mean`), variance: t(`bn${i}/moving_variance`) };
    });
    const run = () => {
      const out = tfc.tidy(() => {
        let h = tfc.tensor4d(x, SHAPE as [number, number, number, number]);
        for (const l of layers) h = tfc.relu(tfc.batchNorm(tfc.conv2d(h, l.kernel, 1, "same"), l.mean, l.variance, l.beta, l.gamma, EPSILON)) as tfc.Tensor4D;
        return h;
      });
      const data = out.dataSync() as Float32Array;
      out.dispose();
      return data;
    };
    runners.push({ impl: `tfjs-${backend}`, peer: `tfjs-${backend}`, run, before: () => useTfjs(backend), note: "conv2d + batchNorm + relu" });
  }

  // onnxruntime: the folded graph exported.
  const onnx = exportOnnx(net.folded, { outputs: ["out"] }).bytes;
  const session = await ortSession(onnx);
  const input = new ort.Tensor("float32", x, SHAPE);
  runners.push({
    impl: "onnxruntime-node",
    peer: "onnxruntime-node",
    run: async () => (await session.run({ x: input })).out.data as Float32Array,
    note: "folded graph via exportOnnx, 1 thread",
  });

  // The folded net with two intra-op threads on both sides.
  if (os.availableParallelism() >= THREADS) {
    const r = await open(`foldflow wasm, folded, ${THREADS} threads`, graphs.folded, "wasm", THREADS, THREADS_BENCH);
    if (r) runners.push({ ...r, note: `intraOpParallelism: ${THREADS}` });
    const session2 = await ortSession(onnx, THREADS);
    runners.push({
      impl: `onnxruntime-node, ${THREADS} threads`,
      bench: THREADS_BENCH,
      peer: "onnxruntime-node",
      run: async () => (await session2.run({ x: input })).out.data as Float32Array,
      note: `folded graph via exportOnnx, intraOpNumThreads: ${THREADS}`,
    });
  }

  // Sanity: every runner against foldflow js on the unfolded graph; the first run's time sets the rounds' length.
  const reference = runners[0];
  const referenceOut = Float32Array.from(await reference.run());
  const diffs: string[] = [];
  const cases: Case[] = [];
  let worst = 0;
  for (const r of runners) {
    await r.before?.();
    const start = performance.now();
    let out: Float32Array;
    try {
      out = await r.run();
    } catch (e) {
      missing.push(unavailable(r.bench ?? CONV_BENCH, r.impl, `run failed: ${reason(e)}`, r.peer));
      continue;
    }
    const ms = performance.now() - start;
    if (r !== reference) {
      const d = relativeDifference(out, referenceOut);
      worst = Math.max(worst, d);
      diffs.push(`${r.impl} ${d.toExponential(1)}`);
    }
    const slow = ms > 400;
    cases.push({ bench: r.bench ?? CONV_BENCH, impl: r.impl, peer: r.peer, fn: r.run, before: r.before, flops: CONV_FLOPS, note: r.note, timeMs: slow ? 1 : undefined, warmup: !slow });
  }
  const ok = worst < 1e-4;
  const sanity = [
    `sanity ${ok ? "ok" : "FAILED"}: ${CONV_BENCH}: ${net.foldedCount} of 6 batch norms folded; output [8, 32, 32, 64] largest difference relative to the largest |value| against ${reference.impl}: ${diffs.join(", ")}`,
  ];
  if (!ok) throw new Error(sanity[0]);
  const layer = await largestLayerCases(net.variables);
  sanity.push(layer.sanity);
  return { cases: [...cases, ...layer.cases], missing, sanity };
}

/**
 * The 64 → 64 layer alone: codegen/wasm conv kernels with bias + relu fused (the algorithm the
 * session picks for it, and the direct one), and tfjs-wasm's fused conv2d.
 */
async function largestLayerCases(variables: ReadonlyMap<string, tf.NDArray>): Promise<{ cases: Case[]; sanity: string }> {
  const [k, cin, cout] = [3, 64, 64];
  const xs = uniform(8 * 32 * 32 * cin, 11, 0, 1);
  const filter = Float32Array.from(variables.get("conv6/kernel")!.data);
  const bias = uniform(cout, 12);
  const g = nhwcGeometry([8, 32, 32, cin], k, k, [1, 1], [1, 1], "SAME");
  const outSize = 8 * g.outH * g.outW * cout;
  const flops = 2 * outSize * k * k * cin;
  const plan = planConvFilter(g, cin, cout);
  const kernel = (winograd: boolean) => {
    const packed = winograd ? plan.pack(filter) : packFilter(filter, k, k, cin, cout);
    const p = new WasmProgramBuilder();
    p.tensor("x", xs.length, "input", xs)
      .tensor("w", packed.length, "constant", packed)
      .tensor("bias", cout, "constant", bias)
      .tensor("y", outSize, "output");
    p.step(["x", "w", "bias"], ["y"], (at) => ({
      kind: "conv2d", op: "Conv2D", geometry: g, inC: cin, outC: cout, x: at("x"), w: at("w"), y: at("y"), wPacked: true,
      winograd: winograd ? plan.winograd : undefined,
      epilogue: [{ type: "BiasAdd", operand: { kind: "channel", offset: at("bias") } }, { type: "Relu" }],
    }));
    const program = p.build();
    return () => {
      program.run();
      return program.view("y").slice();
    };
  };
  const planned = kernel(true);
  const direct = kernel(false);
  await useTfjs("wasm");
  const tx = tfc.tensor4d(xs, [8, 32, 32, cin]);
  const tw = tfc.tensor4d(filter, [k, k, cin, cout]);
  const tb = tfc.tensor1d(bias);
  const tfjsRun = () => {
    const out = tfc.fused.conv2d({ x: tx, filter: tw, strides: 1, pad: "same", bias: tb, activation: "relu" });
    const data = out.dataSync();
    out.dispose();
    return data;
  };
  const expected = tfjsRun();
  const [dPlanned, dDirect] = [relativeDifference(planned(), expected), relativeDifference(direct(), expected)];
  const d = Math.max(dPlanned, dDirect);
  const algorithm = plan.winograd ? `Winograd F(${plan.winograd.m}×${plan.winograd.m}, 3×3)` : "direct";
  const sanity =
    `sanity ${d < 1e-4 ? "ok" : "FAILED"}: ${LAYER_BENCH}: codegen/wasm kernels vs tfjs-wasm fused conv2d, largest relative difference ` +
    `${algorithm} ${dPlanned.toExponential(1)}, direct ${dDirect.toExponential(1)}`;
  if (d >= 1e-4) throw new Error(sanity);
  const effective = "effective (the direct conv's flops)";
  return {
    sanity,
    cases: [
      { bench: LAYER_BENCH, impl: "foldflow codegen/wasm kernel", fn: planned, flops, note: `${algorithm} (the session's choice), bias + relu fused; ${effective}` },
      ...(plan.winograd ? [{ bench: LAYER_BENCH, impl: "foldflow codegen/wasm kernel, direct", fn: direct, flops, note: "direct conv (implicit GEMM), bias + relu fused" }] : []),
      { bench: LAYER_BENCH, impl: "tfjs-wasm", peer: "tfjs-wasm", fn: tfjsRun, before: () => useTfjs("wasm"), flops, note: "fused.conv2d + bias + relu" },
    ],
  };
}
