/**
 * The inference half of the MNIST example: freeze the trained graph (variables → constants),
 * check that the moving statistics were trained, fold the batch norms into the dense layers
 * before them, and compare the folded graph with the unfolded one on the test set. The compile
 * step (tf.compile of the folded graph to wasm and js) is examples/mnist-compile.ts.
 */
import * as tf from "foldflow";
import { checkMovingStatistics } from "../src/lint";
import { CLASSES, IMAGE_SIZE, labelOf, type Split } from "./mnist-data";
import type { Model } from "./mnist-batchnorm";

export interface InferenceReport {
  /** The output's op name ("logits/BiasAdd") and the two GraphDefs: frozen, and frozen + folded. */
  output: string;
  frozenGraphDef: tf.GraphDef;
  foldedGraphDef: tf.GraphDef;
  /** The Session backend the comparisons ran on. */
  backend: tf.BackendName;
  /** Freeze-time diagnostics (moving statistics still at their initial values ...). */
  diagnostics: tf.Diagnostic[];
  report: tf.tools.FoldReportRow[];
  folded: number;
  /** Test accuracy of the frozen graph before and after folding. */
  unfoldedAccuracy: number;
  foldedAccuracy: number;
  /** The largest difference between the two graphs' logits, relative to the largest logit. */
  maxRelativeDifference: number;
  /** Op counts of the frozen graph before and after folding. */
  unfoldedOps: number;
  foldedOps: number;
}

function logitsOf(graph: tf.Graph, output: string, split: Split, backend: tf.BackendName): tf.NDArray {
  const sess = new tf.Session({ graph, backend });
  const logits = sess.runSync(`${output}:0`, { x: tf.ndarray(split.images, [split.count, IMAGE_SIZE]) });
  sess.close();
  return logits;
}

/** The fraction of rows of `logits` ([split.count, 10]) whose largest logit is the label. */
export function accuracy(logits: tf.NDArray, split: Split): number {
  let right = 0;
  for (let r = 0; r < split.count; r++) {
    const row = logits.data.subarray(r * CLASSES, (r + 1) * CLASSES);
    let best = 0;
    for (let c = 1; c < CLASSES; c++) if (row[c] > row[best]) best = c;
    if (best === labelOf(split, r)) right++;
  }
  return right / split.count;
}

/**
 * Freeze → check → fold → compare, on `test`, with sessions on `backend` (default: the trained
 * session's; the wasm backend needs `await tf.wasmReady()` first).
 */
export function freezeAndFold(sess: tf.Session, model: Model, test: Split, backend: tf.BackendName = sess.backend): InferenceReport {
  const output = model.logits.op.name;
  const diagnostics = checkMovingStatistics(sess, model.graph);
  const frozen = tf.graphUtil.convertVariablesToConstants(sess, model.graph.asGraphDef(), [output]);
  const { graphDef: folded, report, diagnostics: foldNotes } = tf.tools.foldBatchNorms(frozen, { outputs: [output], training: false });
  diagnostics.push(...foldNotes.filter((d) => d.severity === "warning" || d.severity === "error"));
  const unfoldedGraph = tf.importGraphDef(frozen);
  const foldedGraph = tf.importGraphDef(folded);
  const before = logitsOf(unfoldedGraph, output, test, backend);
  const after = logitsOf(foldedGraph, output, test, backend);
  let scale = 0;
  let diff = 0;
  for (let i = 0; i < before.size; i++) {
    scale = Math.max(scale, Math.abs(before.data[i]));
    diff = Math.max(diff, Math.abs(before.data[i] - after.data[i]));
  }
  return {
    output,
    frozenGraphDef: frozen,
    foldedGraphDef: folded,
    backend,
    diagnostics,
    report,
    folded: report.filter((r) => r.folded).length,
    unfoldedAccuracy: accuracy(before, test),
    foldedAccuracy: accuracy(after, test),
    maxRelativeDifference: diff / Math.max(scale, 1e-30),
    unfoldedOps: unfoldedGraph.operations.length,
    foldedOps: foldedGraph.operations.length,
  };
}

/** The report as console lines. */
export function formatInferenceReport(r: InferenceReport): string {
  const lines = [
    `freeze: ${r.diagnostics.length ? r.diagnostics.map((d) => `[${d.code}] ${d.message}`).join("; ") : "moving statistics trained"}`,
    `fold: ${r.folded} of ${r.report.length} batch norms folded (${r.unfoldedOps} → ${r.foldedOps} ops)`,
    ...tf.tools.formatFoldReport(r.report).split("\n").map((l) => `  ${l}`),
    `folded vs unfolded test accuracy: ${r.foldedAccuracy.toFixed(4)} vs ${r.unfoldedAccuracy.toFixed(4)} (logits differ by ${r.maxRelativeDifference.toExponential(1)} relative)`,
  ];
  return lines.join("\n");
}
