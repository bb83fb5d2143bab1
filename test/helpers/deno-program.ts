/**
 * Running compiled WGSL programs (tf.compile(..., { target: "wgsl" }).source) under Deno on
 * llvmpipe: each program's source is written to a temporary directory as a module, and one Deno
 * process (deno-program-runner.js) imports them all, loads each on navigator.gpu's device, runs it
 * `runs` times and reads back the outputs (and the variables). Availability is deno-gpu.ts's probe.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import type { DType } from "../../ir/dtype";
import { NDArray } from "../../ir/ndarray";
import { denoBinary, gpuRuntime } from "./deno-gpu";

const RUNNER = join(dirname(fileURLToPath(import.meta.url)), "deno-program-runner.js");

export interface ProgramJob {
  label: string;
  source: string;
  runs?: number;
  /** Feeds by input name, sent as plain arrays (the loader converts them; bool as 0/1). */
  feeds: Record<string, NDArray>;
  readVariables?: boolean;
}

export interface ProgramResult {
  label: string;
  error?: string;
  errorCode?: string;
  /** The outputs of each run, by output name. */
  runs: Record<string, NDArray>[];
  variables?: Record<string, NDArray>;
  ms: number;
}

interface Encoded {
  dtype: DType;
  shape: number[];
  base64: string;
}

function decode(v: Encoded): NDArray {
  const bytes = Buffer.from(v.base64, "base64");
  const copy = new Uint8Array(bytes).buffer;
  const data = v.dtype === "float32" ? new Float32Array(copy) : v.dtype === "int32" ? new Int32Array(copy) : new Uint8Array(copy);
  return new NDArray(v.dtype, v.shape, data);
}

const decodeAll = (record: Record<string, Encoded>) => Object.fromEntries(Object.entries(record).map(([k, v]) => [k, decode(v)]));

/**
 * Runs `script` with Deno (`deno run --no-lock --quiet <flags> --allow-write=work script work`)
 * in `cwd`; returns its wall time in milliseconds, or throws with its stderr.
 */
export function spawnDeno(deno: string, work: string, flags: string[], script: string, cwd?: string): number {
  const env = {
    ...process.env,
    XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR && existsSync(process.env.XDG_RUNTIME_DIR) ? process.env.XDG_RUNTIME_DIR : work,
    DENO_DIR: join(work, "deno-dir"),
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
  };
  const args = ["run", "--no-lock", "--quiet", ...flags, `--allow-write=${work}`, script, work];
  const started = performance.now();
  const run = spawnSync(deno, args, { cwd, env, encoding: "utf8", timeout: 300_000, maxBuffer: 64 << 20 });
  if (run.status !== 0) throw new Error(`Deno failed on ${script} (${run.status ?? run.signal}): ${run.stderr || run.error?.message}`);
  return performance.now() - started;
}

/** Runs all jobs in one Deno process. */
export function runDenoPrograms(jobs: ProgramJob[]): { adapter: string; wallMs: number; results: ProgramResult[] } {
  const rt = gpuRuntime();
  const deno = denoBinary();
  if (!rt.available || !deno) throw new Error(`running WGSL programs needs Deno and a WebGPU adapter: ${rt.reason}`);
  const work = mkdtempSync(join(tmpdir(), "foldflow-programs-"));
  try {
    const manifest = jobs.map((job, k) => {
      const module = `program${k}.js`;
      writeFileSync(join(work, module), job.source);
      const feeds = Object.fromEntries(Object.entries(job.feeds).map(([name, v]) => [name, Array.from(v.data)]));
      return { label: job.label, module, runs: job.runs ?? 1, feeds, readVariables: job.readVariables ?? false };
    });
    writeFileSync(join(work, "jobs.json"), JSON.stringify(manifest));
    const wallMs = spawnDeno(deno, work, ["--no-config", `--allow-read=${work},${RUNNER}`], RUNNER);
    const out = JSON.parse(readFileSync(join(work, "results.json"), "utf8")) as {
      adapter: string | null;
      jobs: { label: string; error?: string; errorCode?: string; runs: Record<string, Encoded>[]; variables?: Record<string, Encoded>; ms: number }[];
    };
    if (!out.adapter) throw new Error(gpuRuntime().reason);
    return {
      adapter: out.adapter,
      wallMs,
      results: out.jobs.map((j) => ({
        label: j.label,
        error: j.error,
        errorCode: j.errorCode,
        ms: j.ms,
        runs: j.runs.map(decodeAll),
        variables: j.variables ? decodeAll(j.variables) : undefined,
      })),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
