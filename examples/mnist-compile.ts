/**
 * The compile step of the MNIST example: the frozen, folded graph compiled ahead of time with
 * tf.compile to a WebAssembly module (target "wasm") and to a JS module (target "js"), each
 * written as a standalone ES module (build/mnist-<target>.mjs, through a temporary name and a
 * rename), imported back, and run on the test digits in batches of 100. Its accuracy must equal
 * the folded session's; the report gives the largest logit difference, the files' paths and sizes,
 * and the latency per batch of the unfolded and folded sessions and of the compiled modules.
 */
import * as fs from "node:fs";
import { basename, dirname, join, relative } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import * as tf from "foldflow";
import { CLASSES, IMAGE_SIZE, type Split } from "./mnist-data";
import { accuracy, type InferenceReport } from "./mnist-inference";

export type CompileTarget = "wasm" | "js";

/** Where `npm start` writes the compiled modules (gitignored). */
export const BUILD_DIR = fileURLToPath(new URL("../build", import.meta.url));

export interface CompileStepOptions {
  /** The directory to write the modules to (default BUILD_DIR). */
  outDir?: string;
  /** Rows per batch, the compiled modules' fixed batch size (default 100, the seed's). */
  batchSize?: number;
  /** Timed passes over the test set (default 3); the first also gives the logits. */
  passes?: number;
  targets?: readonly CompileTarget[];
}

export interface CompiledTargetReport {
  target: CompileTarget;
  /** The written module and its size in bytes; for wasm also the WebAssembly module's size. */
  file: string;
  bytes: number;
  wasmBytes?: number;
  /** tf.compile and the generation of the module's source, in seconds. */
  compileSeconds: number;
  accuracy: number;
  /** The largest |compiled − folded session| over all logits of the test set. */
  maxLogitDifference: number;
  /** Median milliseconds per batch. */
  msPerBatch: number;
}

export interface CompileReport {
  batchSize: number;
  /** Timed batches per variant. */
  samples: number;
  /** The sessions' backend. */
  backend: tf.BackendName;
  /** Test accuracy of the folded session, run batch by batch as the modules are. */
  foldedAccuracy: number;
  unfoldedMs: number;
  foldedMs: number;
  targets: CompiledTargetReport[];
}

/** What the written module exports (src/runtime/wasm/module-source.ts, codegen/js/module.ts). */
interface CompiledModule {
  runSync(feeds: Record<string, Float32Array>): Record<string, { shape: number[]; data: ArrayLike<number> }>;
}

/** Writes `text` to `file` through a temporary sibling and a rename: never a partial file. */
export function writeAtomically(file: string, text: string): void {
  fs.mkdirSync(dirname(file), { recursive: true });
  const tmp = join(dirname(file), `.${basename(file)}.tmp-${process.pid}-${Math.random().toString(36).slice(2, 10)}`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, file);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}

let imports = 0;
/** Imports the module written at `file` (a fresh instance each time, even for the same path). */
async function importModule(file: string): Promise<CompiledModule> {
  return (await import(`${pathToFileURL(file).href}?v=${++imports}`)) as CompiledModule;
}

/** The test images in batches of `size` rows; the last one padded with zeros to the full size. */
function imageBatches(split: Split, size: number): Float32Array[] {
  const out: Float32Array[] = [];
  for (let start = 0; start < split.count; start += size) {
    const rows = Math.min(size, split.count - start);
    const view = split.images.subarray(start * IMAGE_SIZE, (start + rows) * IMAGE_SIZE);
    if (rows === size) out.push(view);
    else {
      const padded = new Float32Array(size * IMAGE_SIZE);
      padded.set(view);
      out.push(padded);
    }
  }
  return out;
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

type RunBatch = (images: Float32Array) => ArrayLike<number>;

/**
 * Runs every variant on every batch, `passes` times, round-robin (so that load on the machine
 * falls on all alike), after one warm-up batch each: the logits of the first pass ([count, 10])
 * and the median milliseconds per batch.
 */
function measure(variants: readonly RunBatch[], batches: readonly Float32Array[], count: number, passes: number): { logits: tf.NDArray; ms: number }[] {
  const size = batches[0].length / IMAGE_SIZE;
  const logits = variants.map(() => new Float32Array(count * CLASSES));
  const times: number[][] = variants.map(() => []);
  for (const run of variants) run(batches[0]);
  for (let pass = 0; pass < passes; pass++)
    batches.forEach((images, b) =>
      variants.forEach((run, v) => {
        const start = performance.now();
        const out = run(images);
        times[v].push(performance.now() - start);
        if (pass === 0) {
          const rows = Math.min(size, count - b * size);
          for (let i = 0; i < rows * CLASSES; i++) logits[v][b * size * CLASSES + i] = out[i];
        }
      }),
    );
  return variants.map((_, v) => ({ logits: tf.ndarray(logits[v], [count, CLASSES]), ms: median(times[v]) }));
}

function maxDifference(a: tf.NDArray, b: tf.NDArray): number {
  let diff = 0;
  for (let i = 0; i < a.size; i++) diff = Math.max(diff, Math.abs(a.data[i] - b.data[i]));
  return diff;
}

/** Compiles the folded graph to each target, writes and imports the modules, and compares them on `test`. */
export async function compileFolded(r: InferenceReport, test: Split, options: CompileStepOptions = {}): Promise<CompileReport> {
  const batchSize = options.batchSize ?? 100;
  const outDir = options.outDir ?? BUILD_DIR;
  // The wasm target's code generator (binaryen), and the wasm backend's, must be loaded first.
  await tf.wasmReady();
  const compiled: { target: CompileTarget; file: string; bytes: number; wasmBytes?: number; compileSeconds: number; module: CompiledModule }[] = [];
  for (const target of options.targets ?? ["wasm", "js"]) {
    const start = performance.now();
    const inputs = { x: [batchSize, IMAGE_SIZE] };
    const program = target === "wasm" ? tf.compile(r.foldedGraphDef, { outputs: [r.output], target, inputs }) : tf.compile(r.foldedGraphDef, { outputs: [r.output], target, inputs });
    const source = program.source;
    const compileSeconds = (performance.now() - start) / 1000;
    const file = join(outDir, `mnist-${target}.mjs`);
    writeAtomically(file, source);
    const wasmBytes = program.target === "wasm" ? program.binary.length : undefined;
    compiled.push({ target, file, bytes: fs.statSync(file).size, wasmBytes, compileSeconds, module: await importModule(file) });
  }

  const session = (graphDef: tf.GraphDef) => new tf.Session({ graph: tf.importGraphDef(graphDef), backend: r.backend });
  const sessions = [session(r.frozenGraphDef), session(r.foldedGraphDef)];
  const fetch = `${r.output}:0`;
  const variants: RunBatch[] = [
    ...sessions.map((s): RunBatch => (images) => s.runSync(fetch, { x: tf.ndarray(images, [batchSize, IMAGE_SIZE]) }).data),
    ...compiled.map((c): RunBatch => (images) => c.module.runSync({ x: images })[r.output].data),
  ];
  const batches = imageBatches(test, batchSize);
  const passes = options.passes ?? 3;
  const [unfolded, folded, ...modules] = measure(variants, batches, test.count, passes);
  for (const s of sessions) s.close();
  return {
    batchSize,
    samples: batches.length * passes,
    backend: r.backend,
    foldedAccuracy: accuracy(folded.logits, test),
    unfoldedMs: unfolded.ms,
    foldedMs: folded.ms,
    targets: compiled.map(({ module: _, ...c }, i) => ({
      ...c,
      accuracy: accuracy(modules[i].logits, test),
      maxLogitDifference: maxDifference(modules[i].logits, folded.logits),
      msPerBatch: modules[i].ms,
    })),
  };
}

const kib = (bytes: number) => `${(bytes / 1024).toFixed(1)} KiB`;
const ms = (x: number) => `${x < 10 ? x.toFixed(2) : x.toFixed(1)} ms`;
const seconds = (s: number) => (s < 1 ? `${(s * 1000).toFixed(0)} ms` : `${s.toFixed(2)} s`);
const difference = (d: number) => (d === 0 ? "0" : d.toExponential(1));

/** The report as console lines; paths relative to the working directory. */
export function formatCompileReport(c: CompileReport): string {
  const lines = c.targets.map((t) => {
    const size = t.wasmBytes === undefined ? kib(t.bytes) : `${kib(t.bytes)}, WebAssembly module ${kib(t.wasmBytes)}`;
    return `compile: ${t.target} module ${relative(process.cwd(), t.file) || t.file} (${size}), compiled in ${seconds(t.compileSeconds)}`;
  });
  for (const t of c.targets) {
    const same = t.accuracy === c.foldedAccuracy ? "same accuracy" : "ACCURACY DIFFERS";
    lines.push(
      `compiled ${t.target} vs folded test accuracy: ${t.accuracy.toFixed(4)} vs ${c.foldedAccuracy.toFixed(4)} (${same}; largest logit difference ${difference(t.maxLogitDifference)})`,
    );
  }
  const compiledTimes = c.targets.map((t) => `compiled ${t.target} module ${ms(t.msPerBatch)}`).join(", ");
  lines.push(
    `latency per batch of ${c.batchSize} (median of ${c.samples}): unfolded Session ${ms(c.unfoldedMs)}, folded Session ${ms(c.foldedMs)} (${c.backend} backend), ${compiledTimes}`,
  );
  return lines.join("\n");
}
