/**
 * Micro-benchmark of the wasm kernel generator against tfjs in the same process:
 *   GEMM 100×784 · 784×100 (the MNIST layer), plain and with bias + relu fused,
 *   Conv2D 3×3 SAME, batch 8, 32×32, 16 → 32 channels, plain and with bias + relu fused,
 * foldflow's codegen/wasm (constant weights packed at compile time) vs @tensorflow/tfjs-core on
 * tfjs-backend-wasm (XNNPACK, SIMD) and tfjs-backend-cpu. Every timing includes reading the
 * output back (tfjs: dataSync; foldflow: a copy out of the linear memory).
 *
 *   npx tsx bench/wasm-kernels.ts            (ROUNDS=30 for steadier numbers on a busy machine)
 *
 * Each figure is the best of ROUNDS rounds of a few runs (the minimum is the least disturbed by
 * other processes), with the median of the rounds beside it; foldflow and tfjs-wasm run
 * round-robin, so that load from other processes falls on both alike.
 */
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as tfc from "@tensorflow/tfjs-core";
import "@tensorflow/tfjs-backend-cpu";
import { getThreadsCount, setWasmPaths } from "@tensorflow/tfjs-backend-wasm";
import { packFilter } from "../codegen/wasm/conv";
import type { EpilogueStep } from "../codegen/wasm/epilogue";
import { packPanels } from "../codegen/wasm/gemm";
import { WasmProgramBuilder, type WasmProgram } from "../codegen/wasm/program";
import { nhwcGeometry } from "../codegen/wasm/window";

const ROUNDS = Number(process.env.ROUNDS ?? 15);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
setWasmPaths(path.join(root, "node_modules/@tensorflow/tfjs-backend-wasm/dist") + path.sep);

function random(n: number, seed: number): Float32Array {
  let s = seed >>> 0 || 1;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    out[i] = (s >>> 0) / 4294967296 - 0.5;
  }
  return out;
}

interface Case {
  bench: string;
  impl: string;
  flops: number;
  fn: () => void;
  /** Calls per timed round. */
  inner: number;
}

interface Row {
  bench: string;
  impl: string;
  ms: number;
  median: number;
  gflops: number;
}
const rows: Row[] = [];

/**
 * Times the cases round-robin (every round runs each case), so that a busy machine slows all
 * of them alike; records the best and the median milliseconds per call.
 */
function measure(cases: Case[], rounds: number): void {
  for (const c of cases) for (let i = 0; i < c.inner * 3; i++) c.fn();
  const times = cases.map(() => [] as number[]);
  for (let r = 0; r < rounds; r++)
    cases.forEach((c, j) => {
      const t0 = performance.now();
      for (let i = 0; i < c.inner; i++) c.fn();
      times[j].push((performance.now() - t0) / c.inner);
    });
  cases.forEach((c, j) => {
    const t = times[j].sort((x, y) => x - y);
    rows.push({ bench: c.bench, impl: c.impl, ms: t[0], median: t[Math.floor(t.length / 2)], gflops: c.flops / t[0] / 1e6 });
  });
}

// ---- the problems ----
const [M, K, N] = [100, 784, 100];
const gemmFlops = 2 * M * N * K;
const a = random(M * K, 1);
const b = random(K * N, 2);
const bias = random(N, 3);

const conv = { batch: 8, h: 32, w: 32, cin: 16, cout: 32, k: 3 };
const x = random(conv.batch * conv.h * conv.w * conv.cin, 4);
const f = random(conv.k * conv.k * conv.cin * conv.cout, 5);
const convBias = random(conv.cout, 6);
const g = nhwcGeometry([conv.batch, conv.h, conv.w, conv.cin], conv.k, conv.k, [1, 1], [1, 1], "SAME");
const convOut = conv.batch * g.outH * g.outW * conv.cout;
const convFlops = 2 * convOut * conv.k * conv.k * conv.cin;

// ---- foldflow wasm ----
function gemmProgram(fused: boolean): WasmProgram {
  const p = new WasmProgramBuilder();
  p.tensor("a", a.length, "input", a);
  const packed = packPanels(b, K, N, false);
  p.tensor("w", packed.length, "constant", packed).tensor("bias", N, "constant", bias).tensor("c", M * N, "output");
  const epilogue = (at: (n: string) => number): EpilogueStep[] => (fused ? [{ type: "BiasAdd", operand: { kind: "channel", offset: at("bias") } }, { type: "Relu" }] : []);
  p.step(["a", "w", "bias"], ["c"], (at) => ({ kind: "gemm", op: "MatMul", m: M, n: N, k: K, transposeA: false, transposeB: false, a: at("a"), b: at("w"), c: at("c"), bPacked: true, epilogue: epilogue(at) }));
  return p.build();
}
function convProgram(fused: boolean): WasmProgram {
  const p = new WasmProgramBuilder();
  const packed = packFilter(f, conv.k, conv.k, conv.cin, conv.cout);
  p.tensor("x", x.length, "input", x).tensor("w", packed.length, "constant", packed).tensor("bias", conv.cout, "constant", convBias).tensor("y", convOut, "output");
  const epilogue = (at: (n: string) => number): EpilogueStep[] => (fused ? [{ type: "BiasAdd", operand: { kind: "channel", offset: at("bias") } }, { type: "Relu" }] : []);
  p.step(["x", "w", "bias"], ["y"], (at) => ({ kind: "conv2d", op: "Conv2D", geometry: g, inC: conv.cin, outC: conv.cout, x: at("x"), w: at("w"), y: at("y"), wPacked: true, epilogue: epilogue(at) }));
  return p.build();
}

const compileStart = performance.now();
const programs = { gemm: gemmProgram(false), gemmFused: gemmProgram(true), conv: convProgram(false), convFused: convProgram(true) };
const compileMs = (performance.now() - compileStart) / 4;
const run = (p: WasmProgram, out: string) => () => {
  p.run();
  p.view(out).slice();
};
const GEMM = "GEMM 100x784 * 784x100";
const GEMM_FUSED = "GEMM + bias + relu";
const CONV = "Conv2D 3x3 b8 32x32 16->32";
const CONV_FUSED = "Conv2D + bias + relu";
const ours: Case[] = [
  { bench: GEMM, impl: "foldflow wasm", flops: gemmFlops, fn: run(programs.gemm, "c"), inner: 20 },
  { bench: GEMM_FUSED, impl: "foldflow wasm", flops: gemmFlops, fn: run(programs.gemmFused, "c"), inner: 20 },
  { bench: CONV, impl: "foldflow wasm", flops: convFlops, fn: run(programs.conv, "y"), inner: 5 },
  { bench: CONV_FUSED, impl: "foldflow wasm", flops: convFlops, fn: run(programs.convFused, "y"), inner: 5 },
];

// ---- tfjs ----
/** The four cases on a tfjs backend (its tensors made on it), and a check that it computes what foldflow does. */
async function tfjs(backend: "wasm" | "cpu"): Promise<Case[]> {
  await tfc.setBackend(backend);
  await tfc.ready();
  const impl = backend === "wasm" ? `tfjs-wasm (${tfc.env().getBool("WASM_HAS_SIMD_SUPPORT") ? "SIMD" : "no SIMD"}, ${getThreadsCount()} thread)` : "tfjs-cpu";
  const ta = tfc.tensor2d(a, [M, K]);
  const tb = tfc.tensor2d(b, [K, N]);
  const tbias = tfc.tensor1d(bias);
  const tx = tfc.tensor4d(x, [conv.batch, conv.h, conv.w, conv.cin]);
  const tf_ = tfc.tensor4d(f, [conv.k, conv.k, conv.cin, conv.cout]);
  const tcb = tfc.tensor1d(convBias);
  const slow = backend === "cpu";
  const sync = (make: () => tfc.Tensor) => () => tfc.tidy(() => void make().dataSync());
  const fusedConv = () => tfc.fused.conv2d({ x: tx, filter: tf_, strides: 1, pad: "same", bias: tcb, activation: "relu" });
  programs.convFused.run();
  const mine = programs.convFused.view("y");
  const theirs = fusedConv().dataSync();
  let diff = 0;
  for (let i = 0; i < mine.length; i++) diff = Math.max(diff, Math.abs(mine[i] - theirs[i]));
  if (diff > 1e-4) throw new Error(`${impl}: conv outputs differ from foldflow's by ${diff}`);
  return [
    { bench: GEMM, impl, flops: gemmFlops, fn: sync(() => tfc.matMul(ta, tb)), inner: slow ? 2 : 20 },
    { bench: GEMM_FUSED, impl, flops: gemmFlops, fn: sync(() => tfc.fused.matMul({ a: ta, b: tb, bias: tbias, activation: "relu" })), inner: slow ? 2 : 20 },
    { bench: CONV, impl, flops: convFlops, fn: sync(() => tfc.conv2d(tx, tf_, 1, "same")), inner: slow ? 1 : 5 },
    { bench: CONV_FUSED, impl, flops: convFlops, fn: sync(fusedConv), inner: slow ? 1 : 5 },
  ];
}
// foldflow and tfjs-wasm round-robin; tfjs-cpu (70x slower) after, with fewer rounds.
measure([...ours, ...(await tfjs("wasm"))], ROUNDS);
measure(await tfjs("cpu"), Math.max(3, Math.ceil(ROUNDS / 5)));

console.log(`foldflow wasm: module build + compile ${compileMs.toFixed(0)} ms per program; ${ROUNDS} rounds; node ${process.version}`);
const width = Math.max(...rows.map((r) => r.impl.length));
for (const bench of [...new Set(rows.map((r) => r.bench))]) {
  console.log(`\n${bench}`);
  const mine = rows.find((r) => r.bench === bench && r.impl === "foldflow wasm")!;
  for (const r of rows.filter((r) => r.bench === bench)) {
    const ratio = r === mine ? "" : `  foldflow is ${(r.ms / mine.ms).toFixed(2)}x faster`;
    console.log(`  ${r.impl.padEnd(width)}  ${r.ms.toFixed(3).padStart(8)} ms (median ${r.median.toFixed(3)})  ${r.gflops.toFixed(2).padStart(6)} GFLOP/s${ratio}`);
  }
}
