/**
 * The measuring part of the benchmarks: cases timed with tinybench in rounds, round-robin (every
 * round runs each case of a section in turn, so that load from other processes on a shared
 * machine falls on foldflow and its peers alike). A round gives tinybench's median (p50) of
 * its samples; a case's figure is the median of its rounds, with the range of the rounds.
 */
import os from "node:os";
import { Bench } from "tinybench";

/** `FOLDFLOW_BENCH_QUICK=1`: fewer rounds, shorter rounds, the largest compile graph left out. */
export const QUICK = process.env.FOLDFLOW_BENCH_QUICK === "1";

export interface Case {
  /** The benchmark (a table section), e.g. "(1) MNIST training step, batch 100". */
  bench: string;
  /** The implementation, e.g. "foldflow js", "tfjs-wasm". */
  impl: string;
  /** Peers are what the foldflow rows are divided by; their key names the ratio column. */
  peer?: PeerKey;
  /** One iteration (sync or async). */
  fn: () => unknown;
  /** Run before each round of this case (switching the tfjs backend ...). */
  before?: () => Promise<void> | void;
  /** Milliseconds of samples per round (at least `minIterations` samples are taken). */
  timeMs?: number;
  minIterations?: number;
  /** Floating-point operations per iteration, for GFLOP/s in the notes. */
  flops?: number;
  /** Free text for the notes column. */
  note?: string;
  /** tinybench's warm-up before the first round (default true; off for cases already warmed by the sanity check). */
  warmup?: boolean;
}

export type PeerKey = "tfjs-cpu" | "tfjs-wasm" | "onnxruntime-node";
export const PEERS: readonly PeerKey[] = ["tfjs-cpu", "tfjs-wasm", "onnxruntime-node"];

export interface Measurement {
  bench: string;
  impl: string;
  peer?: PeerKey;
  /** Median over rounds of each round's median; NaN when the case is not available. */
  ms: number;
  min: number;
  max: number;
  rounds: number;
  flops?: number;
  note?: string;
  /** Why there is no figure ("n/a"). */
  unavailable?: string;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? s[mid] : (s[mid - 1] + s[mid]) / 2;
}

/** One round of one case: tinybench's median sample, in milliseconds. */
async function round(c: Case, warmup: boolean): Promise<number> {
  await c.before?.();
  const timeMs = c.timeMs ?? (QUICK ? 150 : 400);
  const bench = new Bench({
    time: timeMs,
    iterations: c.minIterations ?? 1,
    warmup,
    warmupTime: Math.min(timeMs, 200),
    warmupIterations: 1,
    throws: true,
  });
  bench.add(`${c.bench} / ${c.impl}`, c.fn);
  await bench.run();
  const result = bench.tasks[0].result;
  if (result.state !== "completed") throw new Error(`${c.impl}: tinybench ended in state ${result.state}`);
  return result.latency.p50;
}

/** Times `cases` round-robin for `rounds` rounds (the first with tinybench's warm-up). */
export async function measure(cases: Case[], rounds: number, log: (line: string) => void = () => {}): Promise<Measurement[]> {
  const times = cases.map(() => [] as number[]);
  const failed = new Map<number, string>();
  for (let r = 0; r < rounds; r++) {
    for (let i = 0; i < cases.length; i++) {
      if (failed.has(i)) continue;
      try {
        times[i].push(await round(cases[i], r === 0 && cases[i].warmup !== false));
      } catch (e) {
        failed.set(i, e instanceof Error ? e.message.split("\n")[0] : String(e));
      }
    }
    log(`  round ${r + 1}/${rounds} of ${cases[0]?.bench ?? ""} (load ${loadText()})`);
  }
  return cases.map((c, i) => {
    const t = times[i];
    const base = { bench: c.bench, impl: c.impl, peer: c.peer, flops: c.flops, note: c.note };
    if (failed.has(i) || t.length === 0) return { ...base, ms: NaN, min: NaN, max: NaN, rounds: 0, unavailable: failed.get(i) ?? "not run" };
    return { ...base, ms: median(t), min: Math.min(...t), max: Math.max(...t), rounds: t.length };
  });
}

/** A row with no figure: the implementation is not available in this build. */
export function unavailable(bench: string, impl: string, reason: string, peer?: PeerKey): Measurement {
  return { bench, impl, peer, ms: NaN, min: NaN, max: NaN, rounds: 0, unavailable: reason };
}

/** A row whose figure is computed from others (the compile totals): the median of `samples`. */
export function single(bench: string, impl: string, samples: number[], note?: string): Measurement {
  return { bench, impl, ms: median(samples), min: Math.min(...samples), max: Math.max(...samples), rounds: samples.length, note };
}

export function loadText(): string {
  return os
    .loadavg()
    .map((l) => l.toFixed(2))
    .join(" / ");
}

/** Milliseconds with three significant digits or so. */
export function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return "n/a";
  if (ms >= 100) return ms.toFixed(0);
  if (ms >= 10) return ms.toFixed(1);
  if (ms >= 1) return ms.toFixed(2);
  return ms.toFixed(3);
}

export function formatRatio(r: number): string {
  if (!Number.isFinite(r)) return "n/a";
  return r >= 10 ? `${r.toFixed(0)}×` : `${r.toFixed(2)}×`;
}

/** The markdown table: one row per measurement, ratios peer ms / foldflow ms for foldflow rows. */
export function markdownTable(rows: Measurement[]): string {
  const lines = [
    `| benchmark | implementation | ms / iteration, median (range over rounds) | ${PEERS.map((p) => `${p} / foldflow`).join(" | ")} | notes |`,
    `|---|---|---|${PEERS.map(() => "---").join("|")}|---|`,
  ];
  let last = "";
  for (const row of rows) {
    const peers = new Map(rows.filter((r) => r.bench === row.bench && r.peer).map((r) => [r.peer!, r]));
    const ratios = PEERS.map((p) => {
      if (row.peer) return row.peer === p ? "(peer)" : "";
      const peer = peers.get(p);
      if (!peer) return "";
      return formatRatio(peer.ms / row.ms);
    });
    const range = row.rounds > 1 ? ` (${formatMs(row.min)}–${formatMs(row.max)})` : "";
    const figure = row.unavailable ? "n/a" : `${formatMs(row.ms)}${range}`;
    const notes = [row.note, row.flops && Number.isFinite(row.ms) ? `${(row.flops / row.ms / 1e6).toFixed(2)} GFLOP/s` : undefined, row.unavailable]
      .filter((n): n is string => !!n)
      .join("; ");
    lines.push(`| ${row.bench === last ? "" : row.bench} | ${row.impl} | ${figure} | ${ratios.join(" | ")} | ${notes.replace(/\|/g, "\\|")} |`);
    last = row.bench;
  }
  return lines.join("\n");
}
