import * as fs from "node:fs";
import * as os from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { describe, expect, it } from "vitest";
import * as tf from "foldflow";
import { buildModel, evaluate, parseArgs, train, DEFAULT_EPOCHS, FULL_EPOCHS } from "../../examples/mnist-batchnorm";
import { compileFolded, formatCompileReport } from "../../examples/mnist-compile";
import { batches, loadMnist } from "../../examples/mnist-data";
import { freezeAndFold } from "../../examples/mnist-inference";
import { expectClose } from "../helpers/run";


describe("examples/mnist-batchnorm", () => {
  it("splits the package's real digits into disjoint training and test sets", () => {
    const data = loadMnist({ train: 300, test: 100 });
    expect(data.train.images).toHaveLength(300 * 784);
    expect(data.test.labels).toHaveLength(100 * 10);
    // One-hot labels, pixels in [0, 1], several classes present.
    const classes = new Set<number>();
    for (let r = 0; r < 300; r++) {
      const row = data.train.labels.subarray(r * 10, r * 10 + 10);
      expect(row.reduce((a, b) => a + b, 0)).toBe(1);
      classes.add(row.indexOf(1));
    }
    expect(classes.size).toBe(10);
    expect(Math.max(...data.train.images.subarray(0, 784 * 10))).toBeLessThanOrEqual(1);
    // The same seed gives the same split; the sets do not share an image.
    expect(loadMnist({ train: 300, test: 100 }).train.images).toEqual(data.train.images);
    const key = (images: Float32Array, r: number) => images.subarray(r * 784, r * 784 + 784).join(",");
    const trainKeys = new Set(Array.from({ length: 300 }, (_, r) => key(data.train.images, r)));
    for (let r = 0; r < 100; r++) expect(trainKeys.has(key(data.test.images, r))).toBe(false);
    let n = 0;
    for (const b of batches(data.train, 100, () => 0.5)) n += b.images.length / 784;
    expect(n).toBe(300);
  });

  it("builds the seed network: two batch norms whose updates the train op runs; lint is quiet", () => {
    const model = buildModel();
    const updates = model.graph.getCollection<tf.Tensor>(tf.GraphKeys.UPDATE_OPS);
    expect(updates).toHaveLength(4);
    expect(model.graph.getCollection(tf.GraphKeys.MOVING_AVERAGE_VARIABLES)).toHaveLength(4);
    expect(model.logits.shape).toEqual([null, 10]);
    expect(tf.lint(model.graph, { trainOp: model.trainOp })).toEqual([]);
  });

  it("trains on a few hundred digits for one epoch: the loss falls and accuracy beats chance; folds; compiles", async () => {
    const data = loadMnist({ train: 600, test: 200 });
    const model = buildModel({ learningRate: 0.1 });
    const warnings: tf.Diagnostic[] = [];
    const sess = new tf.Session({ graph: model.graph, onWarning: (d) => warnings.push(d) });
    sess.runSync(model.init);
    const before = evaluate(sess, model, data.test, true);
    const losses: number[] = [];
    const history = train(sess, model, data, { epochs: 1, batchSize: 20, stepsPerEpoch: 30, onBatch: (_, loss) => losses.push(loss) });
    expect(losses).toHaveLength(30);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(losses.slice(-5))).toBeLessThan(mean(losses.slice(0, 5)));
    const after = evaluate(sess, model, data.test, true);
    expect(after.loss).toBeLessThan(before.loss);
    expect(after.accuracy).toBeGreaterThan(0.3);
    expect(history[0].test.accuracy).toBeGreaterThan(0.3);
    // The moving statistics moved: the inference-mode evaluation differs from the initial one.
    const moving = model.graph.getCollection<tf.Tensor>(tf.GraphKeys.MOVING_AVERAGE_VARIABLES);
    const mm = sess.runSync(moving[0]).values();
    expect(mm.some((v) => v !== 0)).toBe(true);
    expect(warnings).toEqual([]);

    // Freeze → fold: both batch norms fold, and the folded graph gives the same logits.
    const folded = freezeAndFold(sess, model, data.test);
    expect(folded.diagnostics).toEqual([]);
    expect(folded.folded).toBe(2);
    expect(folded.foldedOps).toBeLessThan(folded.unfoldedOps);
    expect(folded.maxRelativeDifference).toBeLessThan(1e-5);
    expect(folded.foldedAccuracy).toBeCloseTo(folded.unfoldedAccuracy, 2);
    expect(folded.unfoldedAccuracy).toBeCloseTo(evaluate(sess, model, data.test).accuracy, 5);

    // Compile the folded graph to wasm and js: the modules are written, and their predictions on
    // the 200 test digits (batches of 64, the last one padded) are the folded session's.
    const outDir = join(fs.mkdtempSync(join(os.tmpdir(), "foldflow-mnist-")), "build");
    const compiled = await compileFolded(folded, data.test, { outDir, batchSize: 64, passes: 1 });
    expect(compiled.targets.map((t) => t.target)).toEqual(["wasm", "js"]);
    expect(fs.readdirSync(outDir).sort()).toEqual(["mnist-js.mjs", "mnist-wasm.mjs"]);
    expect(compiled.samples).toBe(4);
    expect(compiled.foldedAccuracy).toBe(folded.foldedAccuracy);
    for (const t of compiled.targets) {
      expect(t.file).toBe(join(outDir, `mnist-${t.target}.mjs`));
      expect(t.bytes).toBe(fs.statSync(t.file).size);
      expect(t.accuracy).toBe(compiled.foldedAccuracy);
      expect(t.maxLogitDifference).toBeLessThan(1e-4);
      expect(t.msPerBatch).toBeGreaterThan(0);
    }
    expect(compiled.targets[0].wasmBytes).toBeGreaterThan(8);
    // The written wasm module, against the interpreter on the unfolded frozen graph.
    const mod = (await import(pathToFileURL(compiled.targets[0].file).href)) as {
      runSync(feeds: Record<string, Float32Array>): Record<string, { shape: number[]; data: Float32Array }>;
    };
    const x = data.test.images.subarray(0, 64 * 784);
    const got = mod.runSync({ x })[folded.output];
    const reference = new tf.Session({ graph: tf.importGraphDef(folded.frozenGraphDef), backend: "interpreter" });
    const want = reference.runSync(`${folded.output}:0`, { x: tf.ndarray(x, [64, 784]) });
    expect(got.shape).toEqual([64, 10]);
    expectClose(got.data, want.data, 1e-4, 1e-5);
    const lines = formatCompileReport(compiled).split("\n");
    expect(lines).toHaveLength(5);
    expect(lines[0]).toMatch(/^compile: wasm module .*mnist-wasm\.mjs \(\d+\.\d KiB, WebAssembly module \d+\.\d KiB\), compiled in /);
    expect(lines[1]).toMatch(/^compile: js module .*mnist-js\.mjs \(\d+\.\d KiB\), compiled in /);
    expect(lines[2]).toMatch(/^compiled wasm vs folded test accuracy: (0\.\d{4}) vs \1 \(same accuracy; largest logit difference /);
    expect(lines[4]).toMatch(/^latency per batch of 64 \(median of 4\): unfolded Session [\d.]+ ms, folded Session [\d.]+ ms \(\w+ backend\), compiled wasm module [\d.]+ ms, compiled js module [\d.]+ ms$/);
  });

  it("parses its flags", () => {
    expect(parseArgs([])).toEqual({ epochs: DEFAULT_EPOCHS });
    expect(parseArgs(["--full"]).epochs).toBe(FULL_EPOCHS);
    expect(parseArgs(["--epochs", "3", "--backend", "js"])).toEqual({ epochs: 3, backend: "js" });
    expect(parseArgs(["--epochs=2"]).epochs).toBe(2);
    expect(parseArgs(["--learning-rate", "0.1"]).learningRate).toBe(0.1);
    expect(() => parseArgs(["--learning-rate", "-1"])).toThrow(/positive number/);
    expect(() => parseArgs(["--epochs", "0"])).toThrow(/positive integer/);
    expect(() => parseArgs(["--nope"])).toThrow(/unknown argument/);
  });
});
