/**
 * Executes WGSL compute shaders without a GPU: a Deno process (the `deno` npm package ships the
 * binary in its platform package, e.g. @deno/linux-x64-glibc) asks navigator.gpu for an adapter,
 * which Mesa's Vulkan CPU driver (llvmpipe, `apt-get install -y mesa-vulkan-drivers`) provides.
 * Many jobs go to one Deno process (startup and shader compilation dominate); data travels
 * through files in a temporary directory (manifest.json + input.bin → result.json + output.bin).
 *
 * Availability: `gpuRuntime()` probes once. Outside CI a missing binary or driver skips the
 * tests that need them (with the reason); in CI (`process.env.CI`) they run and fail loudly.
 * FOLDFLOW_GPU_RUNTIME=off makes the probe report the runtime missing (to check both paths).
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const RUNNER = join(here, "deno-gpu-runner.js");

export type BufferType = "storage" | "read-only-storage";

export interface GpuShader {
  code: string;
  entryPoint: string;
  /** The bind group layout (group 0), one entry per binding the shader declares. */
  layout: { binding: number; type: BufferType }[];
}

export type GpuStep =
  | { shader: number; bindings: { binding: number; buffer: number }[]; workgroupCount: readonly [number, number, number] }
  | { copy: { src: number; srcOffset: number; dst: number; dstOffset: number; size: number } };

export interface GpuJob {
  label: string;
  /** Buffers in bytes, with optional initial contents (zeros otherwise). */
  buffers: { size: number; data?: ArrayBufferView }[];
  steps: GpuStep[];
  /** Buffers to read back after the last step. */
  reads: number[];
  /** Submit the steps this many times (timing); reads happen after the last. */
  repeat?: number;
}

export interface GpuJobResult {
  label: string;
  error?: string;
  /** One entry per `reads` buffer. */
  outputs: Uint8Array[];
  ms: number;
}

export interface GpuBatchResult {
  adapter: string;
  jobs: GpuJobResult[];
  /** Wall time of the Deno process, in milliseconds. */
  wallMs: number;
}

/** The Deno binary: $DENO_BINARY, the npm package's platform binary, or `deno` on the PATH. */
export function denoBinary(): string | null {
  if (process.env.DENO_BINARY && existsSync(process.env.DENO_BINARY)) return process.env.DENO_BINARY;
  const require = createRequire(import.meta.url);
  const exe = process.platform === "win32" ? "deno.exe" : "deno";
  const candidates: string[] = [];
  try {
    candidates.push(join(dirname(require.resolve("deno/package.json")), exe));
  } catch {
    // not installed
  }
  const arch = process.arch;
  const platform = process.platform === "linux" ? `linux-${arch}-glibc` : process.platform === "win32" ? `win32-${arch}` : `darwin-${arch}`;
  try {
    candidates.push(join(dirname(require.resolve(`@deno/${platform}/package.json`)), exe));
  } catch {
    // no platform package
  }
  for (const c of candidates) if (existsSync(c)) return c;
  const which = spawnSync(process.platform === "win32" ? "where" : "which", ["deno"], { encoding: "utf8" });
  const onPath = which.status === 0 ? which.stdout.split("\n")[0].trim() : "";
  return onPath || null;
}

function denoEnv(work: string): NodeJS.ProcessEnv {
  return {
    ...process.env,
    XDG_RUNTIME_DIR: process.env.XDG_RUNTIME_DIR && existsSync(process.env.XDG_RUNTIME_DIR) ? process.env.XDG_RUNTIME_DIR : work,
    DENO_DIR: join(work, "deno-dir"),
    DENO_NO_UPDATE_CHECK: "1",
    NO_COLOR: "1",
  };
}

function denoArgs(work: string, script: string): string[] {
  return ["run", "--no-config", "--no-lock", "--quiet", `--allow-read=${work},${script}`, `--allow-write=${work}`, script, work];
}

export interface GpuRuntime {
  available: boolean;
  /** Why it is not available, or the adapter's name. */
  reason: string;
  /** True when tests must be skipped (unavailable and not in CI). */
  skip: boolean;
}

let probed: GpuRuntime | null = null;

/** Probes once for the Deno binary and a WebGPU adapter (llvmpipe here). */
export function gpuRuntime(): GpuRuntime {
  if (probed) return probed;
  const ci = Boolean(process.env.CI);
  const result = (available: boolean, reason: string): GpuRuntime => (probed = { available, reason, skip: !available && !ci });
  if (process.env.FOLDFLOW_GPU_RUNTIME === "off") return result(false, "FOLDFLOW_GPU_RUNTIME=off");
  const deno = denoBinary();
  if (!deno) return result(false, "the Deno binary is missing: run `npm install` (devDependency `deno`, binary in @deno/<platform>)");
  const work = mkdtempSync(join(tmpdir(), "foldflow-gpu-probe-"));
  try {
    writeFileSync(join(work, "manifest.json"), JSON.stringify({ shaders: [], jobs: [] }));
    writeFileSync(join(work, "input.bin"), new Uint8Array(0));
    const run = spawnSync(deno, denoArgs(work, RUNNER), { env: denoEnv(work), encoding: "utf8", timeout: 60_000 });
    if (run.status !== 0) return result(false, `Deno failed to start (${run.status}): ${run.stderr || run.error?.message}`);
    const { adapter } = JSON.parse(readFileSync(join(work, "result.json"), "utf8")) as { adapter: string | null };
    if (!adapter) return result(false, "Deno found no WebGPU adapter: install Mesa's Vulkan CPU driver (apt-get install -y mesa-vulkan-drivers)");
    return result(true, adapter);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/**
 * The runtime for `describe.skipIf(rt.skip)`: outside CI a missing runtime is skipped with a
 * warning naming what is missing; in CI `skip` is false, so the tests run and fail with the reason.
 */
export function requireGpuRuntime(): GpuRuntime {
  const rt = gpuRuntime();
  if (rt.skip) console.warn(`skipping WGSL execution tests: ${rt.reason}`);
  return rt;
}

/** Runs all `jobs` in one Deno process and returns each job's read-back buffers. */
export function runGpuJobs(shaders: GpuShader[], jobs: GpuJob[]): GpuBatchResult {
  const rt = gpuRuntime();
  const deno = denoBinary();
  if (!rt.available || !deno) throw new Error(`WGSL execution needs Deno and a WebGPU adapter: ${rt.reason}`);
  const work = mkdtempSync(join(tmpdir(), "foldflow-gpu-"));
  try {
    const chunks: Uint8Array[] = [];
    let size = 0;
    const manifestJobs = jobs.map((job) => ({
      label: job.label,
      repeat: job.repeat,
      reads: job.reads,
      steps: job.steps,
      buffers: job.buffers.map((b) => {
        if (!b.data) return { size: b.size };
        const bytes = new Uint8Array(b.data.buffer, b.data.byteOffset, b.data.byteLength);
        const padded = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
        padded.set(bytes);
        chunks.push(padded);
        size += padded.byteLength;
        return { size: b.size, data: [size - padded.byteLength, padded.byteLength] };
      }),
    }));
    const input = new Uint8Array(size);
    let at = 0;
    for (const c of chunks) {
      input.set(c, at);
      at += c.byteLength;
    }
    writeFileSync(join(work, "manifest.json"), JSON.stringify({ shaders, jobs: manifestJobs }));
    writeFileSync(join(work, "input.bin"), input);
    const started = performance.now();
    const run = spawnSync(deno, denoArgs(work, RUNNER), { env: denoEnv(work), encoding: "utf8", timeout: 300_000, maxBuffer: 64 << 20 });
    const wallMs = performance.now() - started;
    if (run.status !== 0) throw new Error(`the Deno GPU runner failed (${run.status ?? run.signal}): ${run.stderr || run.error?.message}`);
    const result = JSON.parse(readFileSync(join(work, "result.json"), "utf8")) as {
      adapter: string | null;
      jobs: { label: string; error?: string; reads: [number, number][]; ms: number }[];
    };
    if (!result.adapter) throw new Error(gpuRuntime().reason);
    const output = readFileSync(join(work, "output.bin"));
    return {
      adapter: result.adapter,
      wallMs,
      jobs: result.jobs.map((j) => ({
        label: j.label,
        error: j.error,
        ms: j.ms,
        outputs: j.reads.map(([offset, length]) => new Uint8Array(output.buffer.slice(output.byteOffset + offset, output.byteOffset + offset + length))),
      })),
    };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
