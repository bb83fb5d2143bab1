/**
 * `npm run bench`: foldflow against its peers, measured in the same run, printed as one markdown
 * table (ms per iteration and peer ms / foldflow ms: above 1 means foldflow is faster).
 *
 *   (1) bench/mnist-train.ts     the MNIST seed model's training step, batch 100
 *   (2) bench/conv-inference.ts  a 6-block conv + batch norm + relu net, unfolded and folded;
 *                                its largest conv layer in GFLOP/s
 *   (3) bench/compile-time.ts    building, planning and compiling 1k / 10k / 100k-node graphs
 *   (4) bench/conv-train.ts      (2)'s conv net with batch norm in training mode, global average
 *                                pooling, dense 10 and sparse cross-entropy: one SGD step, batch 8
 *
 *   npm run bench                           (about 3 minutes on 2 cores)
 *   FOLDFLOW_BENCH_QUICK=1 npm run bench    (fewer, shorter rounds; no 100k graph; about 1.5 minutes)
 *   FOLDFLOW_BENCH_ROUNDS=9 npm run bench   (rounds of (1) and (2))
 *   FOLDFLOW_BENCH_ONLY=conv npm run bench  (only the sections named: mnist, conv, compile, convtrain; comma-separated)
 *
 * Every implementation runs on one thread (foldflow's wasm sessions are opened with
 * intraOpParallelism: 1, onnxruntime with one intra-op thread), except in the section that
 * says otherwise: the folded conv net with two threads on foldflow wasm and onnxruntime.
 *
 * The models are checked to compute the same numbers on every implementation before timing
 * (the "sanity" lines). Benchmarks are not tests: `npm test` never runs them.
 */
import os from "node:os";
import { COMPILE_SIZES, compileCases, compileRounds } from "./compile-time";
import { CONV_BENCH, convInferenceCases, LAYER_BENCH, THREADS_BENCH } from "./conv-inference";
import { CONV_TRAIN_BENCH, convTrainingCases } from "./conv-train";
import { loadText, markdownTable, measure, QUICK, single, type Measurement } from "./harness";
import { MNIST_BENCH, mnistTrainingCases } from "./mnist-train";
import { ort, tfjsDescription } from "./peers";
import { targetLines } from "./targets";

const ROUNDS = Number(process.env.FOLDFLOW_BENCH_ROUNDS ?? (QUICK ? 3 : 7));
/** The conv net's rounds take seconds each on the js backends and tfjs-cpu: fewer of them. */
const CONV_ROUNDS = QUICK ? 2 : Math.max(3, Math.ceil(ROUNDS * 0.7));
const log = (line: string) => process.stderr.write(`${line}\n`);
const SECTIONS = ["mnist", "conv", "compile", "convtrain"] as const;
const ONLY = (process.env.FOLDFLOW_BENCH_ONLY ?? SECTIONS.join(",")).split(",").map((s) => s.trim());
for (const name of ONLY) if (!(SECTIONS as readonly string[]).includes(name)) throw new Error(`FOLDFLOW_BENCH_ONLY: no section \`${name}\` (sections: ${SECTIONS.join(", ")})`);
const run = (section: (typeof SECTIONS)[number]) => ONLY.includes(section);

/** The whole run; the table goes to stdout, progress to stderr. */
async function main(): Promise<void> {
  const cpus = os.cpus();
  const loadBefore = loadText();
  const header = [
    `date: ${new Date().toISOString()}`,
    `machine: ${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB; node ${process.version}; ${os.platform()} ${os.arch()}`,
    `peers: ${await tfjsDescription()}; onnxruntime-node ${ort.env.versions.node ?? ort.env.versions.common ?? ""} (CPU, 1 intra-op thread; 2 in the 2-thread section); foldflow wasm: intraOpParallelism 1 (2 in that section)`,
    `mode: ${QUICK ? "quick (FOLDFLOW_BENCH_QUICK=1)" : "full"}${ONLY.length < SECTIONS.length ? ` (sections: ${ONLY.join(", ")})` : ""}; ${ROUNDS} rounds for (1) and the largest conv layer, ${CONV_ROUNDS} for the conv net and its training step, ` +
      `${COMPILE_SIZES.map((n) => `${compileRounds(n)} for ${n / 1000}k nodes`).join(", ")}; each round tinybench's median of its samples, the figure the median of the rounds`,
  ];
  for (const line of header) log(line);

  const rows: Measurement[] = [];
  const sanity: string[] = [];

  if (run("mnist")) {
    log(`(1) setting up: ${MNIST_BENCH}`);
    const mnist = await mnistTrainingCases();
    sanity.push(mnist.sanity);
    log(mnist.sanity);
    const mnistRows = [...(await measure(mnist.cases, ROUNDS, log)), ...mnist.missing];
    const mnistOrder = ["foldflow interpreter", "foldflow js", "foldflow wasm", "tfjs-cpu", "tfjs-wasm"];
    rows.push(...mnistRows.sort((a, b) => mnistOrder.indexOf(a.impl) - mnistOrder.indexOf(b.impl)));
  }

  if (run("conv")) {
    log(`(2) setting up: ${CONV_BENCH}`);
    const conv = await convInferenceCases();
    sanity.push(...conv.sanity);
    for (const line of conv.sanity) log(line);
    const section = (bench: string) => [...conv.cases.filter((c) => c.bench === bench)];
    const convRows = [...(await measure(section(CONV_BENCH), CONV_ROUNDS, log)), ...conv.missing.filter((m) => m.bench === CONV_BENCH)];
    const convOrder = [
      "foldflow js, unfolded", "foldflow js, folded", "foldflow wasm, unfolded", "foldflow wasm, folded", "tf.compile js program, folded",
      "tfjs-cpu", "tfjs-wasm", "onnxruntime-node",
    ];
    rows.push(...convRows.sort((a, b) => convOrder.indexOf(a.impl) - convOrder.indexOf(b.impl)));
    if (section(THREADS_BENCH).length) rows.push(...(await measure(section(THREADS_BENCH), CONV_ROUNDS, log)), ...conv.missing.filter((m) => m.bench === THREADS_BENCH));
    rows.push(...(await measure(section(LAYER_BENCH), ROUNDS, log)));
  }

  for (const size of run("compile") ? COMPILE_SIZES : []) {
    log(`(3) building a ${size}-node graph`);
    const { nodes, cases } = compileCases(size);
    const measured = await measure(cases, compileRounds(size), log);
    const perNode = (ms: number) => `${((ms * 1000) / nodes).toFixed(1)} µs/node`;
    for (const m of measured) m.note = [perNode(m.ms), m.note].filter(Boolean).join("; ");
    const [build, plan, compiled] = measured;
    const total = build.ms + plan.ms + compiled.ms;
    rows.push(...measured.slice(0, 3), { ...single(build.bench, "build + plan + compile", [total]), note: `${perNode(total)}; ${nodes} nodes` }, measured[3]);
  }

  if (run("convtrain")) {
    log(`(4) setting up: ${CONV_TRAIN_BENCH}`);
    const train = await convTrainingCases(log);
    sanity.push(train.sanity);
    log(train.sanity);
    const trainRows = [...(await measure(train.cases, CONV_ROUNDS, log)), ...train.missing];
    const trainOrder = ["foldflow js", "foldflow wasm", "tfjs-cpu", "tfjs-wasm"];
    rows.push(...trainRows.sort((a, b) => trainOrder.indexOf(a.impl) - trainOrder.indexOf(b.impl)));
  }

  const loadAfter = loadText();
  const table = markdownTable(rows);
  const targets = targetLines(rows);
  console.log([
    ...header,
    `load average (1 / 5 / 15 min): ${loadBefore} before, ${loadAfter} after (${cpus.length} cores; other processes share the machine)`,
    "",
    ...sanity,
    "",
    table,
    "",
    "targets:",
    ...targets.map((t) => `- ${t}`),
  ].join("\n"));
}

// tfjs-backend-wasm's Emscripten module rethrows uncaught errors with its whole source line:
// report a failure (a sanity check that did not hold ...) as one message instead.
main().catch((e: unknown) => {
  process.stderr.write(`bench failed: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exit(1);
});
