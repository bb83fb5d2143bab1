/**
 * The issues' targets, checked against the measured rows (the best foldflow implementation of
 * each benchmark against each peer's median):
 *   (1) MNIST training step: ≥ 3× tfjs-cpu and ≥ 1.0× tfjs-wasm;
 *   (2) conv net, folded: ≥ 2× tfjs-cpu, ≥ 1.0× tfjs-wasm, ≥ 0.5× onnxruntime-node, and folding
 *       itself ≥ 1.25× (unfolded / folded on the same backend); the same ratio to onnxruntime
 *       with two intra-op threads on both sides, where the bench ran that section;
 *   (3) compile time linear in the node count, 10k nodes < 2 s (build + plan + compile).
 */
import { CONV_BENCH, THREADS_BENCH } from "./conv-inference";
import { formatMs, formatRatio, type Measurement, type PeerKey } from "./harness";
import { MNIST_BENCH } from "./mnist-train";

const mark = (ok: boolean) => (ok ? "met" : "NOT met");

/** The fastest measured foldflow row among `impls`. */
function best(rows: Measurement[], bench: string, impls: (impl: string) => boolean): Measurement | undefined {
  return rows
    .filter((r) => r.bench === bench && !r.peer && impls(r.impl) && Number.isFinite(r.ms))
    .sort((a, b) => a.ms - b.ms)[0];
}

function peer(rows: Measurement[], bench: string, key: PeerKey): Measurement | undefined {
  return rows.find((r) => r.bench === bench && r.peer === key && Number.isFinite(r.ms));
}

function against(rows: Measurement[], bench: string, mine: Measurement | undefined, key: PeerKey, target: number): string {
  const p = peer(rows, bench, key);
  if (!mine || !p) return `${key}: n/a`;
  const ratio = p.ms / mine.ms;
  return `${formatRatio(ratio)} ${key} (target ≥ ${target}×: ${mark(ratio >= target)})`;
}

export function targetLines(rows: Measurement[]): string[] {
  // Sections left out (FOLDFLOW_BENCH_ONLY) have no rows and no target lines.
  return [...mnistLines(rows), ...convLines(rows), ...compileLines(rows)];
}

function mnistLines(rows: Measurement[]): string[] {
  if (!rows.some((r) => r.bench === MNIST_BENCH)) return [];
  const lines: string[] = [];
  const train = best(rows, MNIST_BENCH, (impl) => impl !== "foldflow interpreter");
  lines.push(
    `(1) training step, fastest foldflow backend (${train?.impl ?? "none"}, ${formatMs(train?.ms ?? NaN)} ms): ` +
      [against(rows, MNIST_BENCH, train, "tfjs-cpu", 3), against(rows, MNIST_BENCH, train, "tfjs-wasm", 1)].join(", "),
  );
  return lines;
}

function convLines(rows: Measurement[]): string[] {
  if (!rows.some((r) => r.bench === CONV_BENCH)) return [];
  const lines: string[] = [];
  const folded = best(rows, CONV_BENCH, (impl) => impl.includes("folded") && !impl.includes("unfolded"));
  lines.push(
    `(2) folded conv net, fastest foldflow (${folded?.impl ?? "none"}, ${formatMs(folded?.ms ?? NaN)} ms): ` +
      [against(rows, CONV_BENCH, folded, "tfjs-cpu", 2), against(rows, CONV_BENCH, folded, "tfjs-wasm", 1), against(rows, CONV_BENCH, folded, "onnxruntime-node", 0.5)].join(", "),
  );
  const threaded = best(rows, THREADS_BENCH, (impl) => impl.startsWith("foldflow"));
  if (threaded) lines.push(`(2) folded conv net, 2 intra-op threads each (${formatMs(threaded.ms)} ms): ${against(rows, THREADS_BENCH, threaded, "onnxruntime-node", 0.5)}`);
  for (const backend of ["js", "wasm"]) {
    const find = (form: string) => rows.find((r) => r.bench === CONV_BENCH && r.impl === `foldflow ${backend}, ${form}` && Number.isFinite(r.ms));
    const [u, f] = [find("unfolded"), find("folded")];
    if (u && f) lines.push(`(2) folding itself on ${backend}: unfolded / folded = ${formatRatio(u.ms / f.ms)} (target ≥ 1.25×: ${mark(u.ms / f.ms >= 1.25)})`);
    else lines.push(`(2) folding itself on ${backend}: n/a`);
  }
  return lines;
}

function compileLines(rows: Measurement[]): string[] {
  const totals = rows.filter((r) => r.impl === "build + plan + compile");
  if (totals.length === 0) return [];
  const lines: string[] = [];
  const perNode = totals.map((r) => ({ nodes: Number(/(\d+) nodes/.exec(r.note ?? "")?.[1] ?? NaN), ms: r.ms }));
  const tenK = perNode.find((t) => t.nodes >= 10000 && t.nodes < 100000);
  const us = perNode.map((t) => `${t.nodes} nodes ${((t.ms * 1000) / t.nodes).toFixed(1)} µs/node`);
  const first = perNode[0];
  const last = perNode[perNode.length - 1];
  const growth = first && last ? (last.ms / last.nodes) / (first.ms / first.nodes) : NaN;
  lines.push(
    `(3) compile: ${us.join(", ")} (per-node cost ×${growth.toFixed(2)} from the smallest to the largest graph: ${mark(growth < 2)} for linear, taken as < 2×); ` +
      `10k nodes ${tenK ? `${formatMs(tenK.ms)} ms (target < 2000 ms: ${mark(tenK.ms < 2000)})` : "n/a"}`,
  );
  return lines;
}
