/**
 * The WebGPU device of this process, shared by webgpu Sessions and `tf.compile(..., { target:
 * "wgsl" }).run`: `navigator.gpu` where there is one (Deno, browsers), else the `webgpu` npm
 * package (Dawn), imported on first use, `create([])` and its adapter. No adapter is a
 * FailedPreconditionError naming the webgpu backend and saying how to get one. The loader's
 * errors (./codegen/wgsl/loader) become foldflow diagnostics here.
 */
import { FailedPreconditionError, InternalError, InvalidArgumentError, ResourceExhaustedError, type OpError } from "../../ir/diagnostics";
import { instantiateLoader, isLoaderError, type DeviceLike, type GpuLike } from "../../codegen/wgsl/loader";

/** Where the GPU comes from: the default, or a test's stand-in (returning undefined: no WebGPU). */
export type GpuSource = () => Promise<{ gpu: GpuLike | undefined; where: string }>;

const NODE_HOW =
  "on Node the webgpu backend uses the `webgpu` package (Dawn), which needs a GPU and its Vulkan, Metal or D3D12 driver: install the GPU's driver; " +
  "or run under Deno, whose navigator.gpu finds Mesa's Vulkan CPU driver (apt-get install -y mesa-vulkan-drivers; set XDG_RUNTIME_DIR); " +
  'or use { backend: "js" }';

/** The default source: navigator.gpu, else the `webgpu` package's `create([])`. */
const defaultSource: GpuSource = async () => {
  const nav = (globalThis as { navigator?: { gpu?: GpuLike } }).navigator;
  if (nav?.gpu) return { gpu: nav.gpu, where: "navigator.gpu" };
  let create: (flags: string[]) => unknown;
  try {
    ({ create } = (await import("webgpu")) as unknown as { create: (flags: string[]) => unknown });
  } catch (e) {
    throw new FailedPreconditionError({
      code: "webgpu-unavailable",
      message: `the webgpu backend needs WebGPU: this process has no navigator.gpu and the \`webgpu\` package does not load (${e instanceof Error ? e.message.split("\n")[0] : String(e)})`,
      fix: 'npm install webgpu (Dawn for Node), run under Deno, or use { backend: "js" }',
    });
  }
  return { gpu: create([]) as GpuLike, where: "the `webgpu` package (Dawn)" };
};

let source: GpuSource = defaultSource;
/** The GPU object is kept alive with its device (Dawn's instance must outlive it). */
let held: { gpu: GpuLike | undefined; device: Promise<DeviceLike> } | null = null;

/** Replaces where devices come from (tests: no adapter, Dawn's null backend); null restores the default. */
export function setGpuSource(next: GpuSource | null): void {
  releaseDevice();
  source = next ?? defaultSource;
}

/** The shared device, requested once (a failure is not kept: the next call tries again). */
export function acquireDevice(): Promise<DeviceLike> {
  if (held) return held.device;
  const entry: { gpu: GpuLike | undefined; device: Promise<DeviceLike> } = { gpu: undefined, device: Promise.resolve(null as unknown as DeviceLike) };
  entry.device = (async () => {
    const { gpu, where } = await source();
    entry.gpu = gpu;
    try {
      return await instantiateLoader().requestDevice(gpu, NODE_HOW);
    } catch (e) {
      throw toOpError(e, where);
    }
  })();
  entry.device.catch(() => {
    if (held === entry) held = null;
  });
  held = entry;
  return entry.device;
}

/** Destroys the shared device (lets the process exit; the next webgpu run requests a new one). */
export function releaseDevice(): void {
  const h = held;
  held = null;
  h?.device.then((d) => (d as { destroy?: () => void }).destroy?.(), () => {});
}

/** A loader error as a foldflow error (others pass through). */
export function toOpError(e: unknown, where = "WebGPU"): unknown {
  if (!isLoaderError(e)) return e;
  const make = <T extends OpError>(Type: new (d: OpError["diagnostic"]) => T, d: OpError["diagnostic"]): T => {
    const error = new Type(d);
    (error as { cause?: unknown }).cause = e;
    return error;
  };
  switch (e.code) {
    case "no-adapter":
      return make(FailedPreconditionError, {
        code: "webgpu-no-adapter",
        message: `the webgpu backend found no WebGPU adapter through ${where}`,
        expected: "a GPU adapter",
        received: "none",
        fix: NODE_HOW,
      });
    case "buffer-too-large":
      return make(ResourceExhaustedError, {
        code: "webgpu-buffer-limit",
        node: e.op,
        message: `the webgpu backend cannot hold \`${e.tensor}\`: ${e.size} bytes is over the device's ${e.limitName} (${e.limit} bytes)`,
        expected: `at most ${e.limit} bytes`,
        received: `${e.size} bytes`,
        fix: "feed a smaller batch, or use a device with larger limits (or the js backend)",
      });
    case "shader-compile":
      return make(InternalError, {
        code: "wgsl-compile",
        node: e.op,
        message: e.message,
        fix: "this is a bug in foldflow's WGSL generator: report it with the shader; meanwhile use the js backend",
      });
    case "bad-feed":
    case "missing-feed":
    case "unknown-variable":
      return make(InvalidArgumentError, { code: `webgpu-${e.code}`, node: e.input, message: e.message });
    default:
      return make(InternalError, { code: `webgpu-${e.code}`, message: e.message });
  }
}
