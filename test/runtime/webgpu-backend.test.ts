/**
 * The webgpu backend and the WebGPU loader on Node, without a GPU:
 *   - no adapter (the `webgpu` package on this machine, or a stand-in GPU): a
 *     FailedPreconditionError naming the webgpu backend and how to get an adapter;
 *   - plans it cannot compile (tf.cond on a fed predicate, random initializers) and runSync run
 *     on the interpreter, needing no device;
 *   - on Dawn's null backend (valid WebGPU, no computation): a training step runs on the device
 *     and the variables it writes are read back into the session; uninitialized reads fail first;
 *   - the loader: outputs and variables by name, feed errors, a shader that fails to compile
 *     (the shader, the op and the generated line), buffers over the device's limits (the op, the
 *     sizes), as loader errors and as foldflow errors.
 * Numbers on a real adapter are checked under Deno (webgpu-session.test.ts, program.test.ts).
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { create } from "webgpu";
import * as tf from "foldflow";
import { compile } from "../../src/compile";
import type { CompiledWgslModel } from "../../src/compile-wgsl";
import { instantiateLoader, isLoaderError, type DeviceLike, type GpuLike } from "../../codegen/wgsl/loader";
import type { ProgramPlan } from "../../codegen/wgsl/program";
import { setGpuSource, toOpError } from "../../src/runtime/webgpu-device";
import { closeValidator, nullDevice } from "../helpers/wgsl-validate";
import { expectClose } from "../helpers/run";

const noAdapter = () => setGpuSource(async () => ({ gpu: { requestAdapter: async () => null }, where: "a test GPU" }));
const dawnNull = () => setGpuSource(async () => ({ gpu: create(["backend=null"]) as unknown as GpuLike, where: "Dawn's null backend" }));
/** A GPU whose device has only `limits` (the loader checks them before creating anything). */
const smallLimits = (limits: Record<string, number>) =>
  setGpuSource(async () => ({ gpu: { requestAdapter: async () => ({ limits, requestDevice: async () => ({ limits }) }) }, where: "a test GPU" }));

afterEach(() => setGpuSource(null));
afterAll(closeValidator);

/** x [4, 3] → relu(x·w + b), a mean-square loss, one gradient-descent train op. */
function denseNet() {
  const g = new tf.Graph();
  const r = g.asDefault(() => {
    const x = tf.placeholder("float32", [4, 3], "x");
    const w = tf.getVariable("w", [3, 2], { initializer: tf.initializers.glorotUniform({ seed: 1 }) });
    const b = tf.getVariable("b", [2], { initializer: tf.initializers.constant([0.1, -0.1]) });
    const y = tf.nn.relu(tf.add(tf.matmul(x, w), b), "y");
    const loss = tf.reduceMean(tf.square(y), undefined, undefined, "loss");
    const train = new tf.train.GradientDescentOptimizer(0.1).minimize(loss);
    return { x, w, b, y, loss, train, init: tf.globalVariablesInitializer() };
  });
  const xs = tf.ndarray(Float32Array.from({ length: 12 }, (_, i) => (i - 5) / 7), [4, 3]);
  return { g, ...r, xs };
}

/** x [4] → reshape [1, 4] → MatMul with a [4, 500] constant (8000 bytes) → [1, 500]. */
function bigConstant() {
  const g = new tf.Graph();
  const y = g.asDefault(() => {
    const x = tf.placeholder("float32", [4], "x");
    const w = tf.constant(Array.from({ length: 2000 }, (_, i) => i / 2000), [4, 500], "float32", "big/w");
    return tf.matmul(tf.reshape(x, [1, 4]), w, { name: "big/MatMul" });
  });
  return { g, y };
}

describe("webgpu backend without an adapter", () => {
  it("the `webgpu` package finding no adapter fails the run with a FailedPreconditionError naming the backend", async (ctx) => {
    const adapter = await create([]).requestAdapter();
    if (adapter) return ctx.skip(); // a machine with a GPU
    const n = denseNet();
    const sess = new tf.Session({ graph: n.g, backend: "webgpu" });
    await sess.run(n.init); // random initializers run on the interpreter
    const error = await sess.run(n.y, { x: n.xs }).then(() => null, (e: unknown) => e);
    expect(error).toBeInstanceOf(tf.errors.FailedPreconditionError);
    const e = error as tf.errors.FailedPreconditionError;
    expect(e.errorCode).toBe("webgpu-no-adapter");
    expect(e.message).toMatch(/the webgpu backend found no WebGPU adapter through the `webgpu` package \(Dawn\)/);
    expect(e.message).toMatch(/install the GPU's driver.*Deno.*mesa-vulkan-drivers/);
    // tf.compile's program.run uses the same device.
    const program = compile(bigConstant().g, { outputs: ["big/MatMul"], target: "wgsl" });
    await expect(program.run({ x: [1, 2, 3, 4] })).rejects.toThrow(/webgpu backend found no WebGPU adapter/);
  });

  it("a GPU without an adapter gives the same error, every time (a failure is not cached)", async () => {
    noAdapter();
    const n = denseNet();
    const sess = new tf.Session({ graph: n.g, backend: "webgpu" });
    await sess.run(n.init);
    for (let k = 0; k < 2; k++)
      await expect(sess.run(n.y, { x: n.xs })).rejects.toThrow(
        expect.objectContaining({ name: "FailedPreconditionError", errorCode: "webgpu-no-adapter", message: expect.stringMatching(/through a test GPU/) }),
      );
  });

  it("runs what it cannot compile on the interpreter: tf.cond on a fed predicate, random initializers, runSync", async () => {
    noAdapter();
    const g = new tf.Graph();
    const r = g.asDefault(() => {
      const x = tf.placeholder("float32", [3], "x");
      const p = tf.placeholder("bool", [], "p");
      const v = tf.getVariable("v", [3], { initializer: tf.initializers.randomUniform({ seed: 2 }) });
      const out = tf.cond(p, () => tf.mul(x, v), () => tf.sub(x, v), "c");
      return { out, init: tf.globalVariablesInitializer() };
    });
    const sess = new tf.Session({ graph: g, backend: "webgpu" });
    const ref = new tf.Session({ graph: g, backend: "interpreter" });
    await sess.run(r.init);
    expect(sess.gpu!.lastFallback).toMatch(/Random/);
    ref.runSync(r.init);
    const x = [1, 2, 3];
    for (const p of [true, false]) {
      const got = (await sess.run(r.out, { x, p })) as tf.NDArray;
      expect(sess.gpu!.lastFallback).toMatch(/control flow/);
      expectClose(got.data, (ref.runSync(r.out, { x, p }) as tf.NDArray).data, 0, 0);
    }
    // runSync on a webgpu session: the interpreter, on the same variables.
    expectClose((sess.runSync(r.out, { x, p: true }) as tf.NDArray).data, (ref.runSync(r.out, { x, p: true }) as tf.NDArray).data, 0, 0);
  });

  it("refuses an uninitialized variable as the interpreter does, before asking for a device", async () => {
    noAdapter();
    const n = denseNet();
    const sess = new tf.Session({ graph: n.g, backend: "webgpu" });
    await expect(sess.run(n.y, { x: n.xs })).rejects.toThrow(
      expect.objectContaining({ name: "FailedPreconditionError", errorCode: "uninitialized-variable", message: expect.stringMatching(/uninitialized variables: `w`, `b`|uninitialized value `w`/) }),
    );
  });
});

describe("webgpu backend on Dawn's null device", () => {
  it("runs a training step on the device and reads the variables it wrote back into the session", async () => {
    dawnNull();
    const n = denseNet();
    const sess = new tf.Session({ graph: n.g, backend: "webgpu" });
    await sess.run(n.init);
    const before = new Map(sess.variableValues);
    const metadata = { executedOps: [] as string[] };
    const [loss] = (await sess.run([n.loss, n.train], { x: n.xs }, { runMetadata: metadata })) as [tf.NDArray, null];
    expect(sess.gpu!.lastFallback).toBeNull();
    expect(loss.shape).toEqual([]);
    expect(metadata.executedOps).toContain(n.train.name);
    for (const name of ["w", "b"]) {
      const now = sess.variableValues.get(name)!;
      expect(now).not.toBe(before.get(name));
      expect(now.shape).toEqual(before.get(name)!.shape);
      expect(now.dtype).toBe("float32");
    }
    // A run that writes nothing leaves the session's arrays alone.
    const kept = new Map(sess.variableValues);
    const y = (await sess.run(n.y, { x: n.xs })) as tf.NDArray;
    expect(y.shape).toEqual([4, 2]);
    for (const [name, v] of kept) expect(sess.variableValues.get(name)).toBe(v);
    sess.close();
  });

  it("reports a buffer over the device's limits as a ResourceExhaustedError naming the op and the sizes", async () => {
    smallLimits({ maxBufferSize: 1 << 20, maxStorageBufferBindingSize: 4096 });
    const { g, y } = bigConstant();
    const sess = new tf.Session({ graph: g, backend: "webgpu" });
    await expect(sess.run(y, { x: [1, 2, 3, 4] })).rejects.toThrow(
      expect.objectContaining({
        name: "ResourceExhaustedError",
        errorCode: "webgpu-buffer-limit",
        nodeName: "big/MatMul",
        message: expect.stringMatching(/cannot hold `big\/w:0`: 8000 bytes is over the device's maxStorageBufferBindingSize \(4096 bytes\)/),
      }),
    );
  });
});

describe("the WebGPU loader", () => {
  let device: DeviceLike;
  let cnn: CompiledWgslModel;
  let dense: CompiledWgslModel;
  const loader = instantiateLoader();
  const rejection = (p: Promise<unknown>) => p.then(() => null, (e: unknown) => e as Error & Record<string, unknown>);

  beforeAll(async () => {
    device = (await nullDevice()) as unknown as DeviceLike;
    const g = new tf.Graph();
    g.asDefault(() => {
      const x = tf.placeholder("float32", [2, 3, 3, 2], "x");
      const w = tf.constant(Array.from({ length: 36 }, (_, i) => Math.sin(i)), [3, 3, 2, 2], "float32", "w");
      const h = tf.nn.relu(tf.nn.conv2d(x, w, 1, "SAME"), "h");
      tf.reduceSum(h, [1, 2], false, "out");
    });
    cnn = compile(g, { outputs: ["h", "out"], target: "wgsl" });
    const n = denseNet();
    const sess = new tf.Session({ graph: n.g, backend: "interpreter" });
    sess.runSync(n.init);
    dense = compile(n.g, { outputs: ["loss", n.train.name], target: "wgsl", variables: sess });
  });

  it("loads a plan on a device: outputs and variables by name, with their dtypes and shapes", async () => {
    const program = await loader.createProgram(device, cnn.plan);
    expect(program.inputs).toEqual([{ name: "x", dtype: "float32", shape: [2, 3, 3, 2] }]);
    const out = await program.run({ x: new Float32Array(36) });
    expect(Object.keys(out)).toEqual(["h", "out"]);
    expect(out.h.shape).toEqual([2, 3, 3, 2]);
    expect(out.out).toEqual(expect.objectContaining({ dtype: "float32", shape: [2, 2] }));
    expect(out.out.data).toHaveLength(4);
    program.destroy();
    const trainer = await loader.createProgram(device, dense.plan);
    const vars = await trainer.readVariables();
    expect(Object.fromEntries(Object.entries(vars).map(([k, v]) => [k, v.shape]))).toEqual({ w: [3, 2], b: [2] });
    const step = await trainer.runAndRead({ x: Array.from({ length: 12 }, () => 0.5) });
    expect(Object.keys(step.variables).sort()).toEqual(["b", "w"]);
    trainer.writeVariable("b", [1, 2]);
    expect(() => trainer.writeVariable("nope", [1])).toThrow(expect.objectContaining({ code: "unknown-variable" }));
    trainer.destroy();
  });

  it("names a missing or mis-sized feed", async () => {
    const program = await loader.createProgram(device, cnn.plan);
    expect(await rejection(program.run({}))).toEqual(expect.objectContaining({ code: "missing-feed", message: 'no value fed for input "x"' }));
    expect(await rejection(program.run({ x: [1, 2, 3] }))).toEqual(
      expect.objectContaining({ code: "bad-feed", message: 'input "x" has 3 elements where 36 were compiled for' }),
    );
    program.destroy();
  });

  it("a shader that fails to compile: the shader, the op, the generated line (Tint's message)", async () => {
    const plan = structuredClone(cnn.plan) as ProgramPlan;
    const shader = plan.shaders.findIndex((s) => s.label.startsWith("Conv2D"));
    const lines = plan.shaders[shader].code.split("\n");
    const k = lines.findIndex((l) => l.includes("let i = "));
    lines[k] = "  let i: i32 = 1.5f;";
    plan.shaders[shader].code = lines.join("\n");
    const e = await rejection(loader.createProgram(device, plan));
    expect(isLoaderError(e)).toBe(true);
    expect(e).toEqual(expect.objectContaining({ code: "shader-compile", op: "Conv2D", line: k + 1, lineText: "  let i: i32 = 1.5f;" }));
    expect(e!.message).toContain(`the WGSL shader "${plan.shaders[shader].label}" (op "Conv2D") failed to compile`);
    expect(e!.message).toContain(`line ${k + 1}:`);
    expect(e!.message).toContain(`${k + 1} |   let i: i32 = 1.5f;`);
    const wrapped = toOpError(e);
    expect(wrapped).toBeInstanceOf(tf.errors.InternalError);
    expect(wrapped).toEqual(expect.objectContaining({ errorCode: "wgsl-compile", nodeName: "Conv2D", message: expect.stringContaining("let i: i32 = 1.5f;") }));
  });

  it("a pipeline that fails (an unknown entry point) is reported the same way", async () => {
    const plan = structuredClone(cnn.plan) as ProgramPlan;
    plan.shaders[0].entryPoint = "no_entry";
    const e = await rejection(loader.createProgram(device, plan));
    expect(e).toEqual(expect.objectContaining({ code: "shader-compile", shader: plan.shaders[0].label }));
    expect(e!.message).toMatch(/no_entry/);
  });

  it("checks every buffer against maxBufferSize and maxStorageBufferBindingSize first", async () => {
    const { g } = bigConstant();
    const plan = compile(g, { outputs: ["big/MatMul"], target: "wgsl" }).plan;
    for (const [limitName, limits] of [
      ["maxStorageBufferBindingSize", { maxBufferSize: 1 << 20, maxStorageBufferBindingSize: 4096 }],
      ["maxBufferSize", { maxBufferSize: 4096, maxStorageBufferBindingSize: 1 << 20 }],
    ] as const) {
      const e = await rejection(loader.createProgram({ limits }, plan));
      expect(e).toEqual(expect.objectContaining({ code: "buffer-too-large", op: "big/MatMul", tensor: "big/w:0", size: 8000, limit: 4096, limitName }));
      expect(e!.message).toBe(`op "big/MatMul" needs a 8000-byte buffer for "big/w:0" (const), over this device's ${limitName} of 4096 bytes`);
    }
    // Within the limits, the same plan passes the check (and fails later on the stand-in, which has no createShaderModule).
    const e = await rejection(loader.createProgram({ limits: { maxBufferSize: 8000, maxStorageBufferBindingSize: 8000 } }, plan));
    expect(e).toBeInstanceOf(TypeError);
  });
});
